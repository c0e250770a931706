//! Online backup and restore of the embedded database (`smsgate backup`, `smsgate restore`).
//!
//! A backup is `VACUUM INTO` from a read-only connection: one read transaction, so the copy is
//! a consistent snapshot of every table (queued messages, records, balances, profiles, batches)
//! at one instant, taken while the gateway keeps writing (WAL readers never block the
//! writer). It is written to a temporary name and renamed once complete and synced, so a file
//! with the final name is always a whole backup.
//!
//! A restore replaces the database of a stopped gateway with a verified backup; the database it
//! replaces is kept beside it (`smsgate.db.before-restore-<unix time>`, with its WAL).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::db::DbError;

/// What a backup or a restore holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of the backup file.
    pub bytes: u64,
    /// Queued messages in it (they are delivered after a restore).
    pub queued: u64,
}

fn busy(_: i32) -> bool {
    std::thread::sleep(std::time::Duration::from_millis(1));
    true
}

fn summary(file: &Path) -> Result<Summary, DbError> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(DbError::Io(std::io::Error::other(format!(
            "{}: integrity check failed: {check}",
            file.display()
        ))));
    }
    let found = crate::db::schema_version(&conn)?;
    if found > crate::db::SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            found,
            known: crate::db::SCHEMA_VERSION,
        });
    }
    let queued: i64 = conn.query_row("SELECT count(*) FROM queue", [], |r| r.get(0))?;
    Ok(Summary {
        bytes: std::fs::metadata(file)?.len(),
        queued: queued.max(0) as u64,
    })
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Copy the live database `db` to `out` (which must not exist), consistently, while the
/// gateway runs.
pub fn backup(db: &Path, out: &Path) -> Result<Summary, DbError> {
    if out.exists() {
        return Err(DbError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists: choose a new name", out.display()),
        )));
    }
    if !db.exists() {
        return Err(DbError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no database (is data_dir right?)", db.display()),
        )));
    }
    let tmp = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&tmp);
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_handler(Some(busy))?;
    let written = conn
        .execute("VACUUM INTO ?1", [tmp.to_string_lossy().as_ref()])
        .map(|_| ());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    std::fs::File::open(&tmp)?.sync_all()?;
    let s = summary(&tmp)?;
    std::fs::rename(&tmp, out)?;
    sync_dir(out);
    Ok(s)
}

/// Replace the database `db` of a stopped gateway by the backup `from` (checked first). The
/// replaced database, if any, is renamed beside it; its path is returned with the summary.
pub fn restore(from: &Path, db: &Path) -> Result<(Summary, Option<PathBuf>), DbError> {
    let s = summary(from)?;
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = PathBuf::from(format!("{}.restoring", db.display()));
    std::fs::copy(from, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    let mut kept = None;
    if db.exists() {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let old = PathBuf::from(format!("{}.before-restore-{secs}", db.display()));
        // The WAL and its index go with their database: together they are what it held.
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", db.display()));
            if f.exists() {
                std::fs::rename(&f, format!("{}{suffix}", old.display()))?;
            }
        }
        kept = Some(old);
    }
    std::fs::rename(&tmp, db)?;
    sync_dir(db);
    Ok((s, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_then_restore_keeps_the_rows_and_the_replaced_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("smsgate.db");
        let c = Connection::open(&db).expect("open");
        c.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE queue (id INTEGER PRIMARY KEY, body BLOB);
             INSERT INTO queue (body) VALUES (x'01'), (x'02');",
        )
        .expect("schema");
        let out = dir.path().join("b.db");
        let s = backup(&db, &out).expect("backup");
        assert_eq!(s.queued, 2);
        assert!(
            backup(&db, &out).is_err(),
            "an existing file is never overwritten"
        );
        c.execute("INSERT INTO queue (body) VALUES (x'03')", [])
            .expect("insert");
        drop(c);
        let (s, kept) = restore(&out, &db).expect("restore");
        assert_eq!(s.queued, 2);
        let kept = kept.expect("old database kept");
        let n: i64 = Connection::open(&kept)
            .expect("open old")
            .query_row("SELECT count(*) FROM queue", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 3);
        let n: i64 = Connection::open(&db)
            .expect("open restored")
            .query_row("SELECT count(*) FROM queue", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
        std::fs::write(dir.path().join("junk.db"), b"not a database").expect("junk");
        assert!(restore(&dir.path().join("junk.db"), &db).is_err());
        // A backup from a newer release is refused, and so is opening its database.
        Connection::open(&out)
            .expect("open backup")
            .pragma_update(None, "user_version", 99)
            .expect("version");
        let e = restore(&out, &db).expect_err("newer schema");
        assert!(e.to_string().contains("newer smsgate"), "{e}");
        std::fs::copy(&out, &db).expect("copy");
        let _ = std::fs::remove_file(dir.path().join("smsgate.db-wal"));
        let e = crate::db::Db::open(&db, false, 8).err().expect("refused");
        assert!(e.to_string().contains("schema 99"), "{e}");
    }

    #[test]
    fn a_file_from_before_versioning_is_stamped_when_opened() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("smsgate.db");
        drop(crate::db::Db::open(&db, false, 8).expect("created"));
        // As release 0.1.0 left it: the same tables, no version.
        Connection::open(&db)
            .expect("open")
            .pragma_update(None, "user_version", 0)
            .expect("unversioned");
        drop(crate::db::Db::open(&db, false, 8).expect("opened"));
        let c = Connection::open(&db).expect("reopen");
        assert_eq!(
            crate::db::schema_version(&c).expect("version"),
            crate::db::SCHEMA_VERSION
        );
    }
}
