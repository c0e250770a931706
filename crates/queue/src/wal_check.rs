//! Checking the embedded database's write-ahead log before SQLite opens it.
//!
//! When SQLite recovers a WAL it keeps the frames up to the first one whose checksum fails and
//! silently ignores the rest: a damaged frame in the middle of the log would drop every
//! transaction committed after it, acknowledged messages included, without a word. So before
//! the database is opened, [`check`] walks the log the way SQLite's recovery does and refuses a
//! log with committed frames of the current generation after a damaged one (or a damaged
//! header in front of frames), naming the file and where the damage starts. A log that merely
//! ends in a torn, uncommitted write (a crash during a write nobody was answered for) passes.
//!
//! The format: <https://www.sqlite.org/fileformat2.html#walformat>.

use std::path::{Path, PathBuf};

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// A log SQLite would cut short, losing committed transactions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: the write-ahead log is damaged at byte {offset} (frame {frame}); {committed_after} committed transaction(s) after it would be silently dropped by SQLite. Restore a backup; or, to start with what precedes the damage only, keep a copy of the file and cut it to {offset} bytes (`truncate -s {offset} {path}`)")]
pub struct DamagedWal {
    pub path: PathBuf,
    /// Frame index (from 0) of the first damaged frame; 0 when the header is damaged.
    pub frame: u64,
    /// Where the log stops being valid: keeping the bytes before it keeps every transaction
    /// committed before the damage.
    pub offset: u64,
    /// Commit frames of the current generation after the damage.
    pub committed_after: u64,
}

/// Check the WAL of database `db` (`<db>-wal`), if there is one.
pub fn check(db: &Path) -> Result<(), DamagedWal> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let path = PathBuf::from(wal);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(()); // no log (or unreadable: SQLite will say)
    };
    check_bytes(&path, &bytes)
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn checksum(big_endian: bool, data: &[u8], mut s: (u32, u32)) -> (u32, u32) {
    let word = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    for pair in data.chunks_exact(8) {
        s.0 = s.0.wrapping_add(word(&pair[0..4])).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(&pair[4..8])).wrapping_add(s.0);
    }
    s
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn check_bytes(path: &Path, b: &[u8]) -> Result<(), DamagedWal> {
    if b.len() < HEADER {
        return Ok(()); // empty or torn at creation: nothing committed in it
    }
    let magic = be32(b, 0);
    let page = be32(b, 8) as usize;
    let header_ok = (magic & !1) == 0x377f_0682
        && page.is_power_of_two()
        && (512..=65536).contains(&page)
        && checksum(magic & 1 == 1, &b[..24], (0, 0)) == (be32(b, 24), be32(b, 28));
    if !header_ok {
        // SQLite ignores a log whose header does not check: every frame in it is dropped.
        let page = if page.is_power_of_two() && (512..=65536).contains(&page) {
            page
        } else {
            4096
        };
        let commits = b[HEADER..]
            .chunks_exact(FRAME_HEADER + page)
            .filter(|f| be32(f, 4) != 0)
            .count() as u64;
        if commits == 0 {
            return Ok(());
        }
        return Err(DamagedWal {
            path: path.to_path_buf(),
            frame: 0,
            offset: 0,
            committed_after: commits,
        });
    }
    let big = magic & 1 == 1;
    let salt = (be32(b, 16), be32(b, 20));
    let frame_len = FRAME_HEADER + page;
    let mut sum = (be32(b, 24), be32(b, 28));
    let mut at = HEADER;
    let mut frame = 0u64;
    // The end of the last commit frame recovery keeps.
    let mut valid_end = HEADER as u64;
    let mut damaged: Option<u64> = None;
    let mut committed_after = 0u64;
    while at + frame_len <= b.len() {
        let h = &b[at..at + FRAME_HEADER];
        let same_generation = (be32(h, 8), be32(h, 12)) == salt;
        let commit = be32(h, 4) != 0;
        if damaged.is_none() {
            let s = checksum(big, &h[..8], sum);
            let s = checksum(big, &b[at + FRAME_HEADER..at + frame_len], s);
            if same_generation && s == (be32(h, 16), be32(h, 20)) {
                sum = s;
                if commit {
                    valid_end = (at + frame_len) as u64;
                }
            } else if same_generation {
                damaged = Some(frame);
            } else {
                // An older generation's frame: the log ends here, as SQLite reads it.
                break;
            }
        } else if same_generation && commit {
            committed_after += 1;
        }
        at += frame_len;
        frame += 1;
    }
    match damaged {
        Some(frame) if committed_after > 0 => Err(DamagedWal {
            path: path.to_path_buf(),
            frame,
            offset: valid_end,
            committed_after,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `commits` one-frame transactions (page size 512), as SQLite writes it.
    fn wal(commits: u32, big_endian: bool) -> Vec<u8> {
        let magic: u32 = if big_endian { 0x377f_0683 } else { 0x377f_0682 };
        let mut b = vec![];
        for v in [magic, 3_007_000, 512, 0, 0x1234_5678, 0x9abc_def0] {
            b.extend(v.to_be_bytes());
        }
        let s = checksum(big_endian, &b, (0, 0));
        b.extend(s.0.to_be_bytes());
        b.extend(s.1.to_be_bytes());
        let mut sum = s;
        for i in 0..commits {
            let mut h = vec![];
            for v in [i + 1, i + 1, 0x1234_5678, 0x9abc_def0] {
                h.extend(v.to_be_bytes());
            }
            let page: Vec<u8> = (0..512u32).map(|j| (i * 7 + j) as u8).collect();
            sum = checksum(big_endian, &h[..8], sum);
            sum = checksum(big_endian, &page, sum);
            h.extend(sum.0.to_be_bytes());
            h.extend(sum.1.to_be_bytes());
            b.extend(h);
            b.extend(page);
        }
        b
    }

    const FRAME: usize = FRAME_HEADER + 512;

    #[test]
    fn a_sound_log_and_a_torn_tail_pass() {
        let p = Path::new("x-wal");
        for big in [false, true] {
            let w = wal(5, big);
            assert_eq!(check_bytes(p, &w), Ok(()));
            // the last frame half written: an unanswered write, dropped as it should be
            assert_eq!(check_bytes(p, &w[..w.len() - 100]), Ok(()));
            let mut torn = w.clone();
            let n = torn.len();
            torn[n - 3] ^= 0xff;
            assert_eq!(check_bytes(p, &torn), Ok(()));
        }
        assert_eq!(check_bytes(p, &[]), Ok(()));
        assert_eq!(check_bytes(p, &wal(0, false)), Ok(()));
    }

    #[test]
    fn a_damaged_frame_before_committed_ones_is_refused_with_where_to_cut() {
        let p = Path::new("/data/smsgate.db-wal");
        let mut w = wal(5, false);
        w[HEADER + FRAME + FRAME_HEADER + 10] ^= 0x01; // page data of frame 1
        let e = check_bytes(p, &w).expect_err("damaged");
        assert_eq!(e.frame, 1);
        assert_eq!(e.offset, (HEADER + FRAME) as u64, "frame 0 is kept");
        assert_eq!(e.committed_after, 3);
        let text = e.to_string();
        assert!(text.contains("/data/smsgate.db-wal"), "{text}");
        assert!(text.contains("truncate -s 568"), "{text}");
    }

    #[test]
    fn a_damaged_header_in_front_of_frames_is_refused() {
        let mut w = wal(3, false);
        w[12] ^= 0x01; // checkpoint sequence: the header checksum fails
        let e = check_bytes(Path::new("w"), &w).expect_err("damaged");
        assert_eq!((e.frame, e.offset), (0, 0));
    }

    #[test]
    fn frames_of_an_older_generation_after_the_end_are_not_counted() {
        // After a restart, the log is rewritten from its start with new salts: what follows
        // the new frames is the previous generation's, already in the database.
        let mut w = wal(2, false);
        let mut old = wal(6, false);
        for f in 0..6 {
            let at = HEADER + f * FRAME + 8;
            old[at..at + 4].copy_from_slice(&0x1111_1111u32.to_be_bytes());
        }
        w.extend_from_slice(&old[HEADER + 2 * FRAME..]);
        assert_eq!(check_bytes(Path::new("w"), &w), Ok(()));
    }
}
