//! Log files of Python scripts: a script's `logging.FileHandler('/var/log/jasmin/x.log')` or
//! `open(path, 'a')` appends under a granted path prefix, which maps to a size-capped,
//! append-only area under the gateway's data directory. Nothing else of the filesystem is
//! reachable: other paths, `..`, and symbolic links are refused.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The script log area.
#[derive(Debug)]
pub struct LogFiles {
    prefixes: Vec<String>,
    dir: PathBuf,
    max_bytes: u64,
    /// Appends refused because the file reached its cap.
    pub dropped: AtomicU64,
}

impl LogFiles {
    /// Paths under `prefixes` go to `dir`, each file capped at `max_bytes`.
    pub fn new(prefixes: Vec<String>, dir: PathBuf, max_bytes: u64) -> LogFiles {
        LogFiles {
            prefixes,
            dir,
            max_bytes,
            dropped: AtomicU64::new(0),
        }
    }

    /// The root of the area.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `path` (as the script names it) lands, or why it may not be written.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        let rel = self
            .prefixes
            .iter()
            .find_map(|p| {
                let p = p.trim_end_matches('/');
                path.strip_prefix(p)
                    .filter(|r| r.starts_with('/'))
                    .map(|r| (p, r))
            })
            .map(|(p, r)| Path::new(p.trim_start_matches('/')).join(r.trim_start_matches('/')))
            .ok_or_else(|| {
                format!(
                    "[Errno 13] Permission denied: '{path}' (scripts may only append to files under {})",
                    self.prefixes.join(", ")
                )
            })?;
        if rel.components().any(|c| !matches!(c, Component::Normal(_)))
            || rel.as_os_str().is_empty()
        {
            return Err(format!("[Errno 13] Permission denied: '{path}'"));
        }
        Ok(self.dir.join(rel))
    }

    /// Append `data` to the file the script calls `path`.
    pub fn append(&self, path: &str, data: &[u8]) -> Result<(), String> {
        let target = self.resolve(path)?;
        // No symbolic link anywhere under the area: a link could lead out of it.
        let mut at = self.dir.clone();
        if let Ok(rel) = target.strip_prefix(&self.dir) {
            for c in rel.components() {
                at.push(c);
                if let Ok(m) = std::fs::symlink_metadata(&at) {
                    if m.file_type().is_symlink() {
                        return Err(format!(
                            "[Errno 13] Permission denied: '{path}' (symbolic link)"
                        ));
                    }
                }
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
        }
        let len = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        if len + data.len() as u64 > self.max_bytes {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(format!(
                "[Errno 27] File too large: '{path}' (script log files are capped at {} bytes)",
                self.max_bytes
            ));
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .map_err(|e| format!("{path}: {e}"))?;
        f.write_all(data).map_err(|e| format!("{path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_paths_inside_the_area() {
        let d = tempfile::tempdir().unwrap();
        let f = LogFiles::new(vec!["/var/log/jasmin/".into()], d.path().to_path_buf(), 20);
        f.append("/var/log/jasmin/a.log", b"hello\n").unwrap();
        f.append("/var/log/jasmin/a.log", b"again\n").unwrap();
        let got = std::fs::read(d.path().join("var/log/jasmin/a.log")).unwrap();
        assert_eq!(got, b"hello\nagain\n");
        assert!(f
            .append("/etc/passwd", b"x")
            .unwrap_err()
            .contains("Permission denied"));
        assert!(f.append("/var/log/jasmin/../../x", b"x").is_err());
        assert!(f.append("/var/log/jasminx/a.log", b"x").is_err());
        // The cap: what does not fit is refused and counted.
        assert!(f
            .append("/var/log/jasmin/a.log", b"0123456789")
            .unwrap_err()
            .contains("capped"));
        assert_eq!(f.dropped.load(Ordering::Relaxed), 1);
        // A symbolic link planted in the area is not followed.
        std::os::unix::fs::symlink("/tmp", d.path().join("var/log/jasmin/l")).unwrap();
        assert!(f
            .append("/var/log/jasmin/l/x.log", b"x")
            .unwrap_err()
            .contains("symbolic"));
    }
}
