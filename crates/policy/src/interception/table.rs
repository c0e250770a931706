//! An interception table: interceptors by order, highest first; the first whose filters all
//! match runs its plugin. Built from configuration with every check done at build time.

use std::collections::HashMap;
use std::sync::Arc;

use smsgate_core::config::{FilterConfig, InterceptorConfig};
use smsgate_plugins::python::{Script, ScriptKind};
use smsgate_plugins::{PluginHost, Slot};
use smsgate_routing::{filter, BuildOptions, Filter, Routable, TableKind};

/// One interceptor.
#[derive(Debug)]
pub struct Interceptor {
    pub order: u32,
    /// `DefaultInterceptor`, `StaticMTInterceptor` or `StaticMOInterceptor`.
    pub kind: &'static str,
    pub filters: Vec<Arc<dyn Filter>>,
    /// What it runs.
    pub run: Run,
    /// The script as configured.
    pub script: String,
}

/// What an interceptor runs.
#[derive(Debug, Clone)]
pub enum Run {
    /// A Wasm plugin of the `interceptor` world: `plugin(name)`, with the world's semantics.
    Plugin(Arc<Slot>),
    /// A Jasmin Python script: `python3(/path.py)`, with Jasmin's semantics.
    Python(Arc<Script>),
}

/// An interceptor's `script`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptRef<'a> {
    Plugin(&'a str),
    Python(&'a str),
}

/// The table.
#[derive(Debug)]
pub struct InterceptionTable {
    kind: TableKind,
    /// Highest order first.
    entries: Vec<Interceptor>,
}

const TYPES_MT: [&str; 2] = ["DefaultInterceptor", "StaticMTInterceptor"];
const TYPES_MO: [&str; 2] = ["DefaultInterceptor", "StaticMOInterceptor"];

/// `plugin(name)` or `python3(/path.py)`.
pub fn parse_script(script: &str) -> Result<ScriptRef<'_>, String> {
    let s = script.trim();
    if let Some(p) = s.strip_prefix("python3(").and_then(|r| r.strip_suffix(')')) {
        return match p.trim() {
            "" => Err(format!(
                "script {s:?}: python3() needs the path of a script"
            )),
            p => Ok(ScriptRef::Python(p)),
        };
    }
    match s.strip_prefix("plugin(").and_then(|r| r.strip_suffix(')')) {
        Some(n) if !n.trim().is_empty() && !n.contains(['(', ')', '/']) => {
            Ok(ScriptRef::Plugin(n.trim()))
        }
        _ => Err(format!(
            "script {s:?}: expected plugin(name) (a Wasm interceptor plugin) or python3(/path.py)"
        )),
    }
}

/// The source of interceptor `c`'s Python script at `path`: the one persisted with the rule,
/// else the file's.
pub fn python_source(c: &InterceptorConfig, path: &str) -> Result<String, String> {
    match &c.source {
        Some(s) => Ok(s.clone()),
        None => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
    }
}

impl InterceptionTable {
    /// An empty table.
    pub fn new(kind: TableKind) -> Self {
        InterceptionTable {
            kind,
            entries: vec![],
        }
    }

    /// MT or MO.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// The interceptors, highest order first.
    pub fn entries(&self) -> &[Interceptor] {
        &self.entries
    }

    /// Some interceptor runs a Python script.
    pub fn has_python(&self) -> bool {
        self.entries.iter().any(|e| matches!(e.run, Run::Python(_)))
    }

    /// The interceptor to run for `r`, if any.
    pub fn find(&self, r: &Routable<'_>) -> Option<&Interceptor> {
        self.entries
            .iter()
            .find(|i| i.filters.iter().all(|f| f.matches(r)))
    }

    /// Build from configuration; errors name the key (`mtinterceptors[2]`) and what is wrong.
    pub fn build(
        kind: TableKind,
        interceptors: &[InterceptorConfig],
        filters: &[FilterConfig],
        opts: &BuildOptions,
        plugins: Option<&PluginHost>,
    ) -> Result<InterceptionTable, String> {
        let section = match kind {
            TableKind::Mt => "mtinterceptors",
            TableKind::Mo => "mointerceptors",
        };
        let types: &[&str] = match kind {
            TableKind::Mt => &TYPES_MT,
            TableKind::Mo => &TYPES_MO,
        };
        let by_id: HashMap<&str, &FilterConfig> =
            filters.iter().map(|f| (f.fid.trim(), f)).collect();
        let mut entries: Vec<Interceptor> = vec![];
        for (i, c) in interceptors.iter().enumerate() {
            let at = format!(
                "key `{section}[{i}]` ({} at order {})",
                c.kind.trim(),
                c.order
            );
            let ty = types
                .iter()
                .copied()
                .find(|t| t.eq_ignore_ascii_case(c.kind.trim()))
                .ok_or_else(|| {
                    format!(
                        "{at}: unknown {} interceptor type {:?} (expected one of {})",
                        kind.label(),
                        c.kind,
                        types.join(", ")
                    )
                })?;
            match (
                ty == "DefaultInterceptor",
                c.order == 0,
                c.filters.is_empty(),
            ) {
                (true, false, _) => return Err(format!("{at}: DefaultInterceptor is at order 0")),
                (true, _, false) => {
                    return Err(format!("{at}: DefaultInterceptor takes no filters"))
                }
                (false, true, _) => {
                    return Err(format!("{at}: order 0 is for the DefaultInterceptor"))
                }
                (false, _, true) => return Err(format!("{at}: {ty} needs at least one filter")),
                _ => {}
            }
            if entries.iter().any(|e| e.order == c.order) {
                return Err(format!("{at}: order {} is already used", c.order));
            }
            let script = parse_script(&c.script).map_err(|e| format!("{at}: {e}"))?;
            let mut fs = vec![];
            for fid in &c.filters {
                let fc = by_id.get(fid.trim()).ok_or_else(|| {
                    format!("{at}: unknown filter id {fid:?} (no [[filters]] with that fid)")
                })?;
                let f = filter::build_with(fc, opts.scripts.as_deref())
                    .map_err(|e| format!("{at}: filter {fid:?}: {e}"))?;
                let ok = match kind {
                    TableKind::Mt => f.for_mt(),
                    TableKind::Mo => f.for_mo(),
                };
                if !ok {
                    return Err(format!(
                        "{at}: filter {fid:?} ({}) cannot be used in an {} interceptor",
                        f.kind(),
                        kind.label()
                    ));
                }
                fs.push(f);
            }
            let run = match (script, plugins) {
                (ScriptRef::Plugin(name), Some(host)) if host.enabled() => {
                    Run::Plugin(host.slot(name))
                }
                (ScriptRef::Plugin(_), _) => {
                    return Err(format!(
                        "{at}: interceptors run Wasm plugins: enable [plugins]"
                    ))
                }
                (ScriptRef::Python(path), Some(host)) => {
                    let source = python_source(c, path).map_err(|e| format!("{at}: {e}"))?;
                    Run::Python(
                        host.python_script(Some(path), &source, ScriptKind::Interceptor)
                            .map_err(|e| format!("{at}: python3({path}): {e}"))?,
                    )
                }
                (ScriptRef::Python(path), None) => {
                    return Err(format!(
                        "{at}: python3({path}): Python scripts need the plugin host"
                    ))
                }
            };
            entries.push(Interceptor {
                order: c.order,
                kind: ty,
                filters: fs,
                run,
                script: c.script.trim().to_string(),
            });
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.order));
        Ok(InterceptionTable { kind, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse() {
        assert_eq!(
            parse_script(" plugin(sender) "),
            Ok(ScriptRef::Plugin("sender"))
        );
        assert_eq!(
            parse_script("python3(/x.py)"),
            Ok(ScriptRef::Python("/x.py"))
        );
        assert!(parse_script("python3()").is_err());
        assert!(parse_script("plugin()").is_err());
        assert!(parse_script("bash(x)").is_err());
    }

    #[test]
    fn tables_check_types_orders_and_filters() {
        let opts = BuildOptions::default();
        let f = vec![FilterConfig {
            fid: "u".into(),
            kind: "UserFilter".into(),
            uid: Some("foo".into()),
            ..Default::default()
        }];
        let bad = |c: InterceptorConfig, kind: TableKind| {
            InterceptionTable::build(kind, &[c], &f, &opts, None).unwrap_err()
        };
        assert!(bad(
            InterceptorConfig::new("StaticMOInterceptor", 1, "plugin(x)"),
            TableKind::Mt
        )
        .contains("unknown MT interceptor type"));
        assert!(bad(
            InterceptorConfig::new("DefaultInterceptor", 3, "plugin(x)"),
            TableKind::Mt
        )
        .contains("order 0"));
        assert!(bad(
            InterceptorConfig::new("StaticMTInterceptor", 3, "plugin(x)"),
            TableKind::Mt
        )
        .contains("at least one filter"));
        let mut c = InterceptorConfig::new("StaticMOInterceptor", 3, "plugin(x)");
        c.filters = vec!["u".into()];
        assert!(bad(c, TableKind::Mo).contains("cannot be used in an MO"));
        assert!(bad(
            InterceptorConfig::new("DefaultInterceptor", 0, "plugin(x)"),
            TableKind::Mt
        )
        .contains("enable [plugins]"));
    }
}
