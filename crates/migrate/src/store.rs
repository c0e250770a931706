//! Jasmin's persisted store: the files jCli's `persist -p PROFILE` writes, read into pickle
//! [`Value`]s, and the few library classes those files use turned into plain data.
//!
//! Each file is one ASCII line `Persisted on <date> [Jasmin <version>]` then a pickle. Only an
//! allow-list of classes is accepted anywhere in a file ([`ALLOWED_MODULES`]); a file naming
//! any other class is refused as a whole (nothing in it is guessed at), and no class is ever
//! resolved or called: the pickle reader only records names.

use std::path::{Path, PathBuf};

use crate::pickle::{self, Object, Value};

/// The files of a profile, in the order they are read, with what each holds.
pub const FILES: [(&str, &str); 9] = [
    ("router-groups", "groups"),
    ("router-users", "users"),
    ("smppccs", "SMPP client connectors"),
    ("httpccs", "HTTP client connectors"),
    ("filters", "filters"),
    ("router-mtroutes", "MT routes"),
    ("router-moroutes", "MO routes"),
    ("router-mtinterceptors", "MT interceptors"),
    ("router-mointerceptors", "MO interceptors"),
];

/// Module prefixes whose classes may appear in a store: Jasmin's own, `smpp.pdu`'s enums, and
/// the standard library's data types (compiled regexes, dates, sets, bytes, old-style
/// reconstruction).
pub const ALLOWED_MODULES: [&str; 11] = [
    "jasmin.",
    "smpp.pdu.pdu_types",
    "re",
    "sre_compile",
    "datetime",
    "_codecs",
    "__builtin__",
    "builtins",
    "copy_reg",
    "copyreg",
    "collections",
];

/// Why a store could not be read. Any of these stops the import before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no Jasmin store profile {profile:?} in {dir}: none of its files ({dir}/{profile}.router-users, ...) exists")]
    NoProfile { dir: PathBuf, profile: String },
    #[error("{file}: {why}")]
    File { file: PathBuf, why: String },
}

/// One file of the store, decoded.
#[derive(Debug)]
pub struct StoreFile {
    pub path: PathBuf,
    /// `Fri Dec  4 17:13:58 2026` from the header.
    pub persisted_on: String,
    /// `0.11.1`; none for stores written before Jasmin put its version in the header.
    pub version: Option<String>,
    pub value: Value,
}

/// A profile's files; a file jCli did not write (nothing of that kind was ever persisted) is
/// `None`.
#[derive(Debug)]
pub struct JasminStore {
    pub dir: PathBuf,
    pub profile: String,
    pub files: Vec<(&'static str, Option<StoreFile>)>,
}

impl JasminStore {
    /// Read every file of `profile` in `dir`.
    pub fn read(dir: &Path, profile: &str) -> Result<JasminStore, StoreError> {
        let mut files = Vec::new();
        for (suffix, _) in FILES {
            let path = dir.join(format!("{profile}.{suffix}"));
            let file = match std::fs::read(&path) {
                Ok(raw) => Some(read_file(&path, &raw)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(StoreError::File {
                        file: path,
                        why: e.to_string(),
                    })
                }
            };
            files.push((suffix, file));
        }
        if files.iter().all(|(_, f)| f.is_none()) {
            return Err(StoreError::NoProfile {
                dir: dir.to_path_buf(),
                profile: profile.to_string(),
            });
        }
        Ok(JasminStore {
            dir: dir.to_path_buf(),
            profile: profile.to_string(),
            files,
        })
    }

    /// The decoded file `suffix` (`router-users`, ...), if it exists.
    pub fn file(&self, suffix: &str) -> Option<&StoreFile> {
        self.files
            .iter()
            .find(|(s, _)| *s == suffix)
            .and_then(|(_, f)| f.as_ref())
    }

    /// The Jasmin versions named in the headers.
    pub fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .files
            .iter()
            .filter_map(|(_, f)| f.as_ref()?.version.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Decode one file: the header line, the pickle, the class allow-list.
pub fn read_file(path: &Path, raw: &[u8]) -> Result<StoreFile, StoreError> {
    let fail = |why: String| StoreError::File {
        file: path.to_path_buf(),
        why,
    };
    let nl = raw
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| fail("no header line: not a file Jasmin's jCli persisted".into()))?;
    let header = std::str::from_utf8(&raw[..nl])
        .map_err(|_| fail("the header line is not text".into()))?
        .trim_end_matches('\r');
    let rest = header.strip_prefix("Persisted on ").ok_or_else(|| {
        fail(format!(
            "header {header:?} is not Jasmin's `Persisted on <date> [Jasmin <version>]`"
        ))
    })?;
    let (persisted_on, version) = match rest.rsplit_once(" [Jasmin ") {
        Some((date, v)) => (date.to_string(), Some(v.trim_end_matches(']').to_string())),
        None => (rest.to_string(), None),
    };
    let value =
        pickle::load(&raw[nl + 1..]).map_err(|e| fail(format!("unreadable pickle: {e}")))?;
    check_classes(&value).map_err(fail)?;
    Ok(StoreFile {
        path: path.to_path_buf(),
        persisted_on,
        version,
        value,
    })
}

/// Refuse any class outside [`ALLOWED_MODULES`], wherever it appears.
fn check_classes(v: &Value) -> Result<(), String> {
    let allowed = |module: &str, name: &str| {
        ALLOWED_MODULES.iter().any(|m| {
            module == m.trim_end_matches('.') || (m.ends_with('.') && module.starts_with(m))
        }) || (module == "__main__" && name.is_empty())
    };
    let mut stack = vec![v.clone()];
    let mut seen = std::collections::HashSet::new();
    while let Some(v) = stack.pop() {
        match &v {
            Value::Global(g) if !allowed(&g.0, &g.1) => {
                return Err(format!(
                    "refers to class {}.{}, which is not one of Jasmin's: not imported (nothing is executed or guessed)",
                    g.0, g.1
                ));
            }
            Value::Object(o) => {
                if !seen.insert(std::rc::Rc::as_ptr(o) as usize) {
                    continue;
                }
                let o = o.borrow();
                if !allowed(&o.module, &o.name) {
                    return Err(format!(
                        "holds an instance of {}.{}, which is not one of Jasmin's classes: not imported",
                        o.module, o.name
                    ));
                }
                stack.extend(o.args.iter().cloned());
                stack.extend(o.state.iter().cloned());
            }
            Value::List(l) | Value::Set(l) if seen.insert(std::rc::Rc::as_ptr(l) as usize) => {
                stack.extend(l.borrow().iter().cloned());
            }
            Value::Tuple(t) => stack.extend(t.iter().cloned()),
            Value::Dict(d) if seen.insert(std::rc::Rc::as_ptr(d) as usize) => {
                for (k, v) in d.borrow().iter() {
                    stack.push(k.clone());
                    stack.push(v.clone());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An object's class name (the last part: `User`, `StaticMTRoute`) and its state, seeing
/// through `copy_reg._reconstructor` (how Python 2's protocol 0 and 1 pickle instances).
pub fn instance(v: &Value) -> Option<(String, Value)> {
    let Value::Object(o) = v else { return None };
    let o = o.borrow();
    let state = o.state.clone().unwrap_or(Value::None);
    if matches!(o.module.as_str(), "copy_reg" | "copyreg") && o.name == "_reconstructor" {
        if let Some(Value::Global(g)) = o.args.first() {
            return Some((g.1.clone(), state));
        }
    }
    Some((o.name.clone(), state))
}

/// The module of an object's class.
pub fn module_of(v: &Value) -> Option<String> {
    let Value::Object(o) = v else { return None };
    let o = o.borrow();
    if matches!(o.module.as_str(), "copy_reg" | "copyreg") && o.name == "_reconstructor" {
        if let Some(Value::Global(g)) = o.args.first() {
            return Some(g.0.clone());
        }
    }
    Some(o.module.clone())
}

fn with_object<T>(v: &Value, f: impl FnOnce(&Object) -> Option<T>) -> Option<T> {
    match v {
        Value::Object(o) => f(&o.borrow()),
        _ => None,
    }
}

/// Bytes or text: a Python 3 `str`, Python 2 `str` (bytes, read as Latin-1, which is what
/// Jasmin wrote them as), or `_codecs.encode(text, 'latin1')` (how protocol 2 pickles bytes).
pub fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Bytes(b) => Some(b.clone()),
        Value::Str(s) => Some(s.as_bytes().to_vec()),
        Value::Object(_) => with_object(v, |o| {
            if o.module != "_codecs" || o.name != "encode" {
                return None;
            }
            let text = o.args.first()?.as_str()?;
            let enc = o.args.get(1).and_then(|e| e.as_str()).unwrap_or("latin1");
            match enc {
                "latin1" | "latin-1" | "iso-8859-1" => {
                    text.chars().map(|c| u8::try_from(c as u32).ok()).collect()
                }
                "utf8" | "utf-8" => Some(text.as_bytes().to_vec()),
                _ => None,
            }
        }),
        _ => None,
    }
}

/// Text: a `str`, or bytes read as UTF-8 (else Latin-1).
pub fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        _ => {
            let b = bytes_of(v)?;
            Some(match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => e.into_bytes().iter().map(|b| *b as char).collect(),
            })
        }
    }
}

/// A compiled regex (`re._compile(pattern, flags)`) as a pattern string; Python's flags
/// become inline flags. `Err` says what cannot be carried.
pub fn regex_of(v: &Value) -> Result<String, String> {
    if let Some(t) = v.as_str() {
        return Ok(t.to_string());
    }
    with_object(v, |o| {
        if !matches!(o.module.as_str(), "re" | "sre_compile") || o.name != "_compile" {
            return None;
        }
        let pattern = text_of(o.args.first()?)?;
        let flags = o.args.get(1).and_then(|f| f.as_int()).unwrap_or(0);
        Some((pattern, flags))
    })
    .ok_or_else(|| format!("{} is not a compiled regex", v.describe()))
    .and_then(|(pattern, flags)| {
        // re.I 2, re.L 4, re.M 8, re.S 16, re.U 32, re.X 64, re.A 256.
        let mut inline = String::new();
        for (bit, c) in [(2, 'i'), (8, 'm'), (16, 's'), (64, 'x')] {
            if flags & bit != 0 {
                inline.push(c);
            }
        }
        if flags & !(2 | 8 | 16 | 32 | 64 | 256) != 0 {
            return Err(format!(
                "regex {pattern:?} has flags {flags} with no equivalent"
            ));
        }
        Ok(if inline.is_empty() {
            pattern
        } else {
            format!("(?{inline}){pattern}")
        })
    })
}

/// `datetime.date` as `YYYY-MM-DD`.
pub fn date_of(v: &Value) -> Option<String> {
    with_object(v, |o| {
        if o.module != "datetime" || o.name != "date" {
            return None;
        }
        let b = bytes_of(o.args.first()?)?;
        (b.len() == 4).then(|| {
            format!(
                "{:04}-{:02}-{:02}",
                (b[0] as u32) * 256 + b[1] as u32,
                b[2],
                b[3]
            )
        })
    })
}

/// `datetime.time` as `HH:MM:SS` (microseconds dropped; Jasmin's filters take whole seconds).
pub fn time_of(v: &Value) -> Option<String> {
    with_object(v, |o| {
        if o.module != "datetime" || o.name != "time" {
            return None;
        }
        let b = bytes_of(o.args.first()?)?;
        (b.len() == 6).then(|| format!("{:02}:{:02}:{:02}", b[0] & 0x7f, b[1], b[2]))
    })
}

/// An `smpp.pdu.pdu_types` enum member as (class, 1-based member number).
pub fn pdu_enum(v: &Value) -> Option<(String, i64)> {
    with_object(v, |o| {
        if o.module != "smpp.pdu.pdu_types" {
            return None;
        }
        Some((o.name.clone(), o.args.first()?.as_int()?))
    })
}

/// An `smpp.pdu` enum's arguments (`EsmClass`, `RegisteredDelivery` are built from several).
pub fn pdu_args(v: &Value) -> Option<(String, Vec<Value>)> {
    with_object(v, |o| {
        (o.module == "smpp.pdu.pdu_types").then(|| (o.name.clone(), o.args.clone()))
    })
}
