//! Secrets apart from the configuration: `smsgate export-config` writes them to their own
//! file, and the loader puts them back (`secrets = "secrets.toml"` in the configuration, a path
//! relative to the configuration file, or `SMSGATE_SECRETS`), so the configuration itself can
//! go into version control.
//!
//! The secrets file mirrors the configuration's layout; list entries are keyed by their name:
//!
//! ```toml
//! [jcli]
//! admin_password = "$argon2id$..."
//! [broker]
//! url = "amqp://smsgate:pw@mq:5672/%2f"
//! [users.alice]
//! password = "$argon2id$..."
//! [smppccs.smsc1]
//! password = "secret"
//! ```
//!
//! Secrets are: user password hashes, SMPP client connector passwords, the console's admin
//! password, the management API's account passwords (`[admin.accounts.<name>]`), and the URLs (broker, store, history, Jasmin's Redis, HTTP client connectors)
//! that carry credentials (`user:password@`).

use toml::{Table, Value};

use super::Config;

/// A configuration written for keeping: the file, and its secrets apart.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The configuration file's text.
    pub config: String,
    /// The secrets file's text.
    pub secrets: String,
    /// What was moved out (`users.alice.password`).
    pub moved: Vec<String>,
}

/// `cfg` as a configuration file with its secrets apart. `secrets_at` is the path the file
/// names them at (relative to the file); `None` leaves them out: the file then loads only
/// once they are given back.
pub fn export(cfg: &Config, secrets_at: Option<&str>) -> Result<Exported, String> {
    let mut table = Table::try_from(cfg).map_err(|e| e.to_string())?;
    table.remove("secrets");
    let (secrets, moved) = split(&mut table);
    let mut head = String::from(
        "# smsgate configuration written by `smsgate export-config`: the live configuration,\n\
         # console (jCli) changes included.\n",
    );
    match secrets_at {
        Some(at) => {
            head.push_str(&format!(
                "# Its secrets ({}) are in {at}.\n",
                moved.len()
            ));
            table.insert("secrets".into(), Value::String(at.into()));
        }
        None if moved.is_empty() => {}
        None => head.push_str(&format!(
            "# Secrets left out ({}): it loads only once they are given back, e.g. in a file named by\n\
             # `secrets = \"FILE\"`: {}.\n",
            moved.len(),
            moved.join(", ")
        )),
    }
    let config = format!(
        "{head}\n{}",
        toml::to_string(&table).map_err(|e| e.to_string())?
    );
    let secrets = format!(
        "# smsgate secrets: keep this file out of version control, readable by smsgate only.\n\n{}",
        toml::to_string(&secrets).map_err(|e| e.to_string())?
    );
    Ok(Exported {
        config,
        secrets,
        moved,
    })
}

/// Sections whose listed keys are secret.
const SECTIONS: &[(&str, &[&str])] = &[
    ("jcli", &["admin_password"]),
    ("store", &["url", "history_url"]),
    ("broker", &["url"]),
    ("migration", &["jasmin_redis"]),
];

/// Lists whose entries hold secrets: the list, the key naming an entry, the secret keys.
const LISTS: &[(&str, &str, &[&str])] = &[
    ("users", "username", &["password"]),
    ("smppccs", "cid", &["password"]),
    ("httpccs", "cid", &["url"]),
];

/// Lists inside a section whose entries hold secrets: the section, the list, the key naming
/// an entry, the secret keys (`[admin.accounts.ops] password = ...` in the secrets file).
const NESTED_LISTS: &[(&str, &str, &str, &[&str])] =
    &[("admin", "accounts", "name", &["password"])];

/// Always secret (the others only when they carry credentials).
fn always_secret(key: &str) -> bool {
    matches!(key, "password" | "admin_password")
}

fn has_credentials(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'))
            .unwrap_or(false)
    })
}

fn is_secret(key: &str, v: &Value) -> bool {
    always_secret(key) || has_credentials(v)
}

/// Move the secrets out of `cfg` (a serialized configuration) into a table of their own;
/// returns the secrets and what was moved (`users.alice.password`).
pub fn split(cfg: &mut Table) -> (Table, Vec<String>) {
    let mut out = Table::new();
    let mut moved = vec![];
    for (section, keys) in SECTIONS {
        let Some(Value::Table(t)) = cfg.get_mut(*section) else {
            continue;
        };
        for key in *keys {
            if t.get(*key).is_some_and(|v| is_secret(key, v)) {
                if let Some(v) = t.remove(*key) {
                    moved.push(format!("{section}.{key}"));
                    table_at(&mut out, section).insert(key.to_string(), v);
                }
            }
        }
    }
    for (list, name_key, keys) in LISTS {
        if let Some(Value::Array(items)) = cfg.get_mut(*list) {
            split_list(
                items,
                list,
                name_key,
                keys,
                table_at(&mut out, list),
                &mut moved,
            );
        }
    }
    for (section, list, name_key, keys) in NESTED_LISTS {
        if let Some(Value::Table(t)) = cfg.get_mut(*section) {
            if let Some(Value::Array(items)) = t.get_mut(*list) {
                let path = format!("{section}.{list}");
                let to = table_at(table_at(&mut out, section), list);
                split_list(items, &path, name_key, keys, to, &mut moved);
            }
        }
    }
    // Sections or lists nothing was moved from are not written.
    if let Some(Value::Table(t)) = out.get_mut("admin") {
        t.retain(|_, v| !v.as_table().is_some_and(Table::is_empty));
    }
    out.retain(|_, v| !v.as_table().is_some_and(Table::is_empty));
    (out, moved)
}

/// Move the secret `keys` of each entry of `items` (a list at `path`, entries named by
/// `name_key`) into `to`, keyed by the entry's name.
fn split_list(
    items: &mut [Value],
    path: &str,
    name_key: &str,
    keys: &[&str],
    to: &mut Table,
    moved: &mut Vec<String>,
) {
    for item in items.iter_mut() {
        let Value::Table(t) = item else { continue };
        let Some(name) = t.get(name_key).and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        for key in keys {
            if t.get(*key).is_some_and(|v| is_secret(key, v)) {
                if let Some(v) = t.remove(*key) {
                    moved.push(format!("{path}.{name}.{key}"));
                    table_at(to, &name).insert(key.to_string(), v);
                }
            }
        }
    }
}

/// Put `values` (entry name → its secrets) back into the entries of the list `items` at
/// `path`, named by `name_key`.
fn merge_list(
    items: &mut [Value],
    values: Table,
    path: &str,
    name_key: &str,
) -> Result<(), String> {
    for (name, fields) in values {
        let Value::Table(fields) = fields else {
            return Err(format!("`{path}.{name}` must be a table"));
        };
        let entry = items.iter_mut().find_map(|i| match i {
            Value::Table(t) if t.get(name_key).and_then(Value::as_str) == Some(name.as_str()) => {
                Some(t)
            }
            _ => None,
        });
        let Some(entry) = entry else {
            return Err(format!(
                "`{path}.{name}`: the configuration has no {path} entry with {name_key} {name:?}"
            ));
        };
        entry.extend(fields);
    }
    Ok(())
}

fn table_at<'a>(t: &'a mut Table, key: &str) -> &'a mut Table {
    let v = t
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !v.is_table() {
        *v = Value::Table(Table::new());
    }
    match v {
        Value::Table(t) => t,
        _ => unreachable!("replaced by a table above"),
    }
}

/// Put `secrets` back into `cfg` (a configuration file's table). A secret for an entry or a
/// section the configuration does not have is an error (a typo would otherwise be ignored).
pub fn merge(cfg: &mut Table, secrets: Table) -> Result<(), String> {
    for (section, value) in secrets {
        let Value::Table(values) = value else {
            return Err(format!("`{section}` must be a table"));
        };
        if let Some((_, name_key, _)) = LISTS.iter().find(|(l, _, _)| *l == section) {
            let items = match cfg.get_mut(&section) {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(format!(
                        "`{section}`: the configuration has no [[{section}]] entries"
                    ))
                }
            };
            merge_list(items, values, &section, name_key)?;
        } else if let Some((_, list, name_key, _)) =
            NESTED_LISTS.iter().find(|(s, _, _, _)| *s == section)
        {
            let t = match cfg.get_mut(&section) {
                Some(Value::Table(t)) => t,
                _ => return Err(format!("`{section}`: the configuration has no [{section}]")),
            };
            for (k, v) in values {
                if k != *list {
                    t.insert(k, v);
                    continue;
                }
                let (Value::Table(entries), Some(Value::Array(items))) = (v, t.get_mut(*list))
                else {
                    return Err(format!(
                        "`{section}.{list}`: the configuration has no [[{section}.{list}]] entries"
                    ));
                };
                merge_list(items, entries, &format!("{section}.{list}"), name_key)?;
            }
        } else {
            match cfg.get(&section) {
                None | Some(Value::Table(_)) => table_at(cfg, &section).extend(values),
                Some(_) => {
                    return Err(format!("`{section}` is not a section of the configuration"))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[jcli]
port = 8990
admin_password = "$argon2id$x"
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
[store]
url = "redis://127.0.0.1:6379/0"
[[users]]
username = "alice"
password = "$argon2id$a"
gid = "g"
[[smppccs]]
cid = "smsc1"
password = "pw"
[[httpccs]]
cid = "h1"
url = "http://mo.example/in"
[admin]
enabled = true
[[admin.accounts]]
name = "ops"
password = "plain-admin-pw"
role = "admin"
"#;

    #[test]
    fn split_then_merge_gives_the_configuration_back() {
        let original: Table = CFG.parse().expect("toml");
        let mut cfg = original.clone();
        let (secrets, moved) = split(&mut cfg);
        assert_eq!(
            moved,
            [
                "jcli.admin_password",
                "broker.url",
                "users.alice.password",
                "smppccs.smsc1.password",
                "admin.accounts.ops.password"
            ]
        );
        let public = toml::to_string(&cfg).expect("toml");
        for s in ["argon2", "guest:guest", "\"pw\"", "plain-admin-pw"] {
            assert!(!public.contains(s), "{s} left in:\n{public}");
        }
        // A URL without credentials stays.
        assert!(public.contains("redis://127.0.0.1:6379/0"));
        assert!(public.contains("http://mo.example/in"));
        let text = toml::to_string(&secrets).expect("toml");
        merge(&mut cfg, text.parse().expect("toml")).expect("merge");
        assert_eq!(cfg, original);
    }

    #[test]
    fn a_secret_for_nothing_is_refused() {
        let mut cfg: Table = CFG.parse().expect("toml");
        let e = merge(
            &mut cfg,
            "[users.bob]\npassword = \"x\"\n".parse().expect("toml"),
        )
        .unwrap_err();
        assert!(e.contains("users.bob"), "{e}");
        cfg.insert("mtroutes".into(), Value::Array(vec![]));
        let e = merge(
            &mut cfg,
            "[mtroutes.x]\npassword = \"x\"\n".parse().expect("toml"),
        )
        .unwrap_err();
        assert!(e.contains("mtroutes"), "{e}");
    }
}
