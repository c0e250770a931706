//! `smsgate plugin new` and `smsgate plugin check`: the plugin author's tools.
//!
//! `new` writes a ready-to-build Rust plugin project for one world: the first-party plugin of
//! that world as a starting point (with its native test), and the SDK and WIT this binary was
//! built with, vendored into the project, so it builds with nothing but crates.io
//! (`wit-bindgen`) and no hand edits. `check` says which world a component implements, or
//! why the gateway would refuse it.

use std::path::{Path, PathBuf};

use crate::plugins::{Manifest, PluginHost};

/// A world a new plugin can implement: its name, the template's source, what the template
/// does, and the template's dependencies besides the SDK.
struct WorldTemplate {
    world: &'static str,
    source: &'static str,
    what: &'static str,
    deps: &'static str,
}

const WORLDS: &[WorldTemplate] = &[
    WorldTemplate {
        world: "filter",
        source: include_str!("../plugins/blacklist/src/lib.rs"),
        what: "a filter matching numbers listed in config `numbers`",
        deps: "",
    },
    WorldTemplate {
        world: "route",
        source: include_str!("../plugins/preferred-route/src/lib.rs"),
        what: "a route preferring the connector in config `prefer`",
        deps: "",
    },
    WorldTemplate {
        world: "interceptor",
        source: include_str!("../plugins/sender-override/src/lib.rs"),
        what: "an interceptor replacing the sender with config `sender`",
        deps: "",
    },
    WorldTemplate {
        world: "hlr-lookup",
        source: include_str!("../plugins/hlr-http/src/lib.rs"),
        what: "an HLR lookup over HTTP",
        deps: "serde_json = \"1\"\n",
    },
    WorldTemplate {
        world: "charging",
        source: include_str!("../plugins/charging-http/src/lib.rs"),
        what: "charging against an HTTP service",
        deps: "serde_json = \"1\"\n",
    },
];

/// The SDK's sources, shipped with the binary.
const SDK: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../sdk/src/lib.rs")),
    ("src/http.rs", include_str!("../sdk/src/http.rs")),
    ("src/routable.rs", include_str!("../sdk/src/routable.rs")),
    ("src/testing.rs", include_str!("../sdk/src/testing.rs")),
];

/// The plugin contract the SDK is built against.
const WIT: &str = include_str!("../wit/since_v0.1.0/plugin.wit");

/// The worlds `plugin new --world` takes.
pub fn worlds() -> Vec<&'static str> {
    WORLDS.iter().map(|t| t.world).collect()
}

/// Write a plugin project `name` of `world` in `parent/name`; returns its directory.
///
/// # Errors
/// An unknown world, a name that is not a crate name, an existing directory, or I/O.
pub fn new_project(parent: &Path, name: &str, world: &str) -> Result<PathBuf, String> {
    let Some(t) = WORLDS.iter().find(|t| t.world == world) else {
        return Err(format!(
            "unknown world {world:?}: one of {}",
            worlds().join(", ")
        ));
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "{name:?} is not a crate name (letters, digits, - and _, starting with a letter)"
        ));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let version = env!("CARGO_PKG_VERSION");
    let files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
# The SDK and the WIT of the gateway that wrote this project (smsgate {version}).
smsgate-sdk = {{ path = "vendor/smsgate-sdk" }}
{deps}
# Its own workspace: the project builds on its own.
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#,
                deps = t.deps
            ),
        ),
        ("src/lib.rs".into(), t.source.to_string()),
        (
            "vendor/smsgate-sdk/Cargo.toml".into(),
            format!(
                r#"[package]
name = "smsgate-sdk"
version = "{version}"
edition = "2021"
license = "Apache-2.0"
description = "Write smsgate WebAssembly plugins (shipped with smsgate {version})"

[dependencies]
wit-bindgen = "0.63"

[target.'cfg(target_arch = "wasm32")'.dependencies]
wasi = "0.14"
"#
            ),
        ),
        ("vendor/wit/since_v0.1.0/plugin.wit".into(), WIT.to_string()),
        (
            "README.md".into(),
            format!(
                r#"# {name}

A smsgate plugin of the `{world}` world ({what}), written by `smsgate plugin new`.

    cargo test                                    # the native tests
    rustup target add wasm32-wasip2               # once
    cargo build --release --target wasm32-wasip2  # the component
    smsgate plugin check target/wasm32-wasip2/release/{lib}.wasm

Copy the `.wasm` (and a `{lib}.toml` manifest with its budgets, grants and `[config]`) into
the gateway's `[plugins] dir`. The contract is `vendor/wit/since_v0.1.0/plugin.wit`.
"#,
                lib = name.replace('-', "_"),
                what = t.what
            ),
        ),
    ]
    .into_iter()
    .chain(
        SDK.iter()
            .map(|(p, t)| (format!("vendor/smsgate-sdk/{p}"), t.to_string())),
    )
    .collect();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// Which world the component in `file` implements (`Ok`: a line saying so), or why the
/// gateway would refuse it.
///
/// # Errors
/// The refusal, as the gateway would log it.
pub fn check(file: &Path) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let tmp = std::env::temp_dir().join(format!("smsgate-plugin-check-{}", std::process::id()));
    let cfg = crate::config::PluginsConfig {
        enabled: true,
        cache_dir: Some(tmp.join("cache")),
        ..Default::default()
    };
    let result = PluginHost::new(&cfg, &tmp).and_then(|host| load(&host, file, &bytes));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn load(host: &PluginHost, file: &Path, bytes: &[u8]) -> Result<String, String> {
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_string();
    let manifest = match std::fs::read_to_string(file.with_extension("toml")) {
        Ok(t) => Manifest::parse(&t).map_err(|e| format!("{name}.toml: {e}"))?,
        Err(_) => Manifest::default(),
    };
    let world = host
        .load_bytes(&name, bytes, manifest)
        .map_err(|e| format!("{}: refused: {e}", file.display()))?;
    Ok(format!(
        "{}: world {} (smsgate:plugin@0.1): the gateway loads it as plugin {name:?}",
        file.display(),
        world.name()
    ))
}
