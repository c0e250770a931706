//! The last good version of each plugin, kept in the cache directory so that a broken file
//! replacing a working plugin does not take it down, not even across a restart.
//!
//! One file per plugin, `cache_dir/lastgood/<name>.lastgood`, written atomically (temporary
//! file, then rename) each time the plugin's file loads: the `.wasm` bytes and the text of its
//! `.toml` (if any) as they loaded. Its compiled form is in the component cache under the same
//! content hash, so loading it at startup compiles nothing.
//!
//! Layout: `SMSGATE-LASTGOOD-1\n`, the manifest's length as a little-endian `u32`
//! (`u32::MAX`: no manifest), the manifest's text, then the component's bytes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"SMSGATE-LASTGOOD-1\n";
const NO_MANIFEST: u32 = u32::MAX;

/// Why a last good version could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LastGoodError {
    #[error("{path}: {err}")]
    Io {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("{0}: not a last good version record")]
    Corrupt(PathBuf),
}

/// A plugin's last good version: its component and its manifest's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub wasm: Vec<u8>,
    pub manifest: Option<String>,
}

/// The store of last good versions (a directory).
#[derive(Debug, Clone)]
pub struct LastGood {
    dir: PathBuf,
}

impl LastGood {
    /// The store in `dir` (created at the first save).
    pub fn new(dir: PathBuf) -> LastGood {
        LastGood { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lastgood"))
    }

    /// Record `v` as plugin `name`'s last good version (unchanged records are not rewritten).
    pub fn save(&self, name: &str, v: &Version) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + v.wasm.len() + 256);
        out.extend_from_slice(MAGIC);
        match &v.manifest {
            Some(m) => {
                let len = u32::try_from(m.len()).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "manifest too large")
                })?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(m.as_bytes());
            }
            None => out.extend_from_slice(&NO_MANIFEST.to_le_bytes()),
        }
        out.extend_from_slice(&v.wasm);
        let path = self.path(name);
        if std::fs::read(&path).is_ok_and(|old| old == out) {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &out)?;
        std::fs::rename(&tmp, &path)
    }

    /// Plugin `name`'s last good version, if one was recorded.
    pub fn load(&self, name: &str) -> Result<Option<Version>, LastGoodError> {
        let path = self.path(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(LastGoodError::Io { path, err }),
        };
        parse(&bytes).map(Some).ok_or(LastGoodError::Corrupt(path))
    }

    /// Forget plugin `name`'s last good version (its file was removed).
    pub fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.path(name));
    }

    /// Forget the last good versions of every plugin not in `keep` (plugins removed while
    /// the gateway was down).
    pub fn prune(&self, keep: &HashSet<String>) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("lastgood") {
                continue;
            }
            if stem(&p).is_some_and(|n| !keep.contains(n)) {
                tracing::info!(record = %p.display(), "forgetting the last good version of a removed plugin");
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

fn stem(p: &Path) -> Option<&str> {
    p.file_stem().and_then(|s| s.to_str())
}

fn parse(b: &[u8]) -> Option<Version> {
    let rest = b.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len);
    if len == NO_MANIFEST {
        return Some(Version {
            wasm: rest.to_vec(),
            manifest: None,
        });
    }
    let len = usize::try_from(len).ok()?;
    if rest.len() < len {
        return None;
    }
    let (m, wasm) = rest.split_at(len);
    Some(Version {
        wasm: wasm.to_vec(),
        manifest: Some(String::from_utf8(m.to_vec()).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_removes_and_prunes() {
        let dir = tempfile::tempdir().expect("tmp");
        let lg = LastGood::new(dir.path().join("lastgood"));
        assert!(lg.load("a").expect("none").is_none());
        let a = Version {
            wasm: b"\0asm a".to_vec(),
            manifest: Some("[config]\nx = \"1\"\n".into()),
        };
        let b = Version {
            wasm: b"\0asm b".to_vec(),
            manifest: None,
        };
        lg.save("a", &a).expect("save a");
        lg.save("b", &b).expect("save b");
        assert_eq!(lg.load("a").expect("a"), Some(a.clone()));
        assert_eq!(lg.load("b").expect("b"), Some(b));
        lg.remove("b");
        assert!(lg.load("b").expect("gone").is_none());
        std::fs::write(dir.path().join("lastgood/c.lastgood"), b"junk").expect("junk");
        assert!(matches!(lg.load("c"), Err(LastGoodError::Corrupt(_))));
        lg.prune(&HashSet::from(["a".to_string()]));
        assert_eq!(lg.load("a").expect("kept"), Some(a));
        assert!(lg.load("c").expect("pruned").is_none());
    }
}
