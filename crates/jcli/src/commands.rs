//! The console's modules: parse a command line and act on the live configuration.

use std::sync::Arc;

use super::forms::{
    FilterForm, Form, GroupForm, HttpccForm, InterceptorForm, RouteForm, SmppccForm, UserForm,
};
use super::options::{self, Parsed};
use super::views;
use smsgate_core::config::{InterceptorConfig, RouteConfig};
use smsgate_gateway::manage::{uid_of, Manager, Profile, DEFAULT_PROFILE};
use smsgate_routing::table::TableKind;

/// What the session does next.
pub enum Reply {
    /// Print this (lines end with `\n`), then the prompt.
    Text(String),
    /// Print the intro and enter an interactive session.
    Form(String, Box<dyn Form>),
    /// Disconnect.
    Quit,
}

fn text(s: impl Into<String>) -> Reply {
    let mut s = s.into();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    Reply::Text(s)
}

/// Run one command line.
pub async fn run(line: &str, m: &Arc<Manager>) -> Reply {
    let words = options::split(line);
    let Some(name) = words.first() else {
        return Reply::Text(String::new());
    };
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    match name.as_str() {
        "quit" | "exit" => return Reply::Quit,
        "help" | "?" => {
            return text(match args.first() {
                None => options::help_all(),
                Some(c) => match options::command(c) {
                    Some(cmd) => cmd.help(),
                    None if *c == "quit" => "Disconnect from console\n".into(),
                    None => format!("*** No help on {c}\n"),
                },
            })
        }
        _ => {}
    }
    let Some(cmd) = options::command(name) else {
        return text(format!(
            "Incorrect command: {name}, type help for a list of commands"
        ));
    };
    let p = match cmd.parse(&args) {
        Ok(p) => p,
        Err(e) => return text(format!("{e}\n{}", cmd.usage())),
    };
    if p.opts.is_empty() && !matches!(cmd.name, "persist" | "load" | "export") {
        return text("Missing required option");
    }
    match cmd.name {
        "persist" => persist(&p, m).await,
        "load" => load(&p, m).await,
        "user" => user(&p, m).await,
        "group" => group(&p, m).await,
        "filter" => filter(&p, m).await,
        "mtrouter" => router(TableKind::Mt, &p, m).await,
        "morouter" => router(TableKind::Mo, &p, m).await,
        "mtinterceptor" => interceptor(TableKind::Mt, &p, m).await,
        "mointerceptor" => interceptor(TableKind::Mo, &p, m).await,
        "smppccm" => smppcc(&p, m).await,
        "httpccm" => httpcc(&p, m).await,
        "stats" => text(views::stats(&p, m).await),
        "plugin" => text(views::plugins(&p, m)),
        "queue" => text(views::queue(&p, m).await),
        "export" => export(&p, m),
        _ => text(format!(
            "Incorrect command: {name}, type help for a list of commands"
        )),
    }
}

/// The live configuration: TOML without its secrets, or (`--json`) all of it on one line.
fn export(p: &Parsed, m: &Manager) -> Reply {
    let cfg = m.config();
    if p.has("json") {
        return match serde_json::to_string(&cfg) {
            Ok(json) => text(json),
            Err(e) => text(format!("Cannot export the configuration: {e}")),
        };
    }
    match smsgate_core::config::secrets::export(&cfg, None) {
        Ok(e) => text(e.config),
        Err(e) => text(format!("Cannot export the configuration: {e}")),
    }
}

const SECTIONS: &[&str] = &[
    "group",
    "user",
    "mointerceptor",
    "mtinterceptor",
    "morouter",
    "mtrouter",
    "smppcc",
    "filter",
    "httpcc",
];

async fn persist(p: &Parsed, m: &Manager) -> Reply {
    let profile = p.get("profile").unwrap_or(DEFAULT_PROFILE);
    match m.persist(profile).await {
        Ok(()) => text(
            SECTIONS
                .iter()
                .map(|s| format!("{s} configuration persisted (profile:{profile})\n"))
                .collect::<String>(),
        ),
        Err(e) => text(
            SECTIONS
                .iter()
                .map(|s| format!("Failed to persist {s} configuration (profile:{profile}): {e}\n"))
                .collect::<String>(),
        ),
    }
}

async fn load(p: &Parsed, m: &Manager) -> Reply {
    let profile = p.get("profile").unwrap_or(DEFAULT_PROFILE);
    let order = [
        "group",
        "user",
        "mointerceptor",
        "mtinterceptor",
        "morouter",
        "mtrouter",
        "filter",
        "httpcc",
        "smppcc",
    ];
    match m.load(profile).await {
        Ok(true) => text(
            order
                .iter()
                .map(|s| format!("{s} configuration loaded (profile:{profile})\n"))
                .collect::<String>(),
        ),
        Ok(false) => text(
            SECTIONS
                .iter()
                .map(|s| format!("Failed to load {s} configuration (profile:{profile})\n"))
                .collect::<String>(),
        ),
        Err(e) => text(format!(
            "Failed to load configuration (profile:{profile}): {e}"
        )),
    }
}

async fn user(p: &Parsed, m: &Arc<Manager>) -> Reply {
    if p.has("list") {
        return text(views::users(m, p.positional.first().map(String::as_str)).await);
    }
    if p.has("add") {
        return Reply::Form(
            "Adding a new User: (ok: save, ko: exit)".into(),
            Box::new(UserForm::add()),
        );
    }
    let prof = m.profile();
    for key in [
        "update",
        "show",
        "remove",
        "enable",
        "disable",
        "smpp-unbind",
        "smpp-ban",
    ] {
        let Some(uid) = p.get(key) else { continue };
        let Some(u) = prof.user(uid).cloned() else {
            return text(format!("Unknown User: {uid}"));
        };
        let uid = uid.to_string();
        return match key {
            "update" => Reply::Form(
                format!("Updating User id [{uid}]: (ok: save, ko: exit)"),
                Box::new(UserForm::update(&u)),
            ),
            "show" => text(views::user(m, &u).await),
            "remove" => {
                let r = m
                    .apply(|p| {
                        p.users.retain(|x| uid_of(x) != uid);
                        Ok(())
                    })
                    .await;
                unbind(m, &u.username).await;
                done(r, format!("Successfully removed User id:{uid}"))
            }
            "enable" | "disable" => {
                let on = key == "enable";
                let r = m
                    .apply(|p| {
                        for x in p.users.iter_mut().filter(|x| uid_of(x) == uid) {
                            x.enabled = on;
                        }
                        Ok(())
                    })
                    .await;
                if !on {
                    unbind(m, &u.username).await;
                }
                done(r, format!("Successfully {key}d User id:{uid}"))
            }
            "smpp-unbind" => {
                unbind(m, &u.username).await;
                text(format!("Successfully unbound User id:{uid}"))
            }
            _ => {
                let r = m
                    .apply(|p| {
                        for x in p.users.iter_mut().filter(|x| uid_of(x) == uid) {
                            x.smpps_cred.authorization.bind = false;
                        }
                        Ok(())
                    })
                    .await;
                unbind(m, &u.username).await;
                done(r, format!("Successfully unbound and banned User id:{uid}"))
            }
        };
    }
    text("Missing required option")
}

/// Close every SMPP server session of `username`.
async fn unbind(m: &Manager, username: &str) {
    let Some(gw) = m.runtime() else { return };
    let Some(server) = &gw.smpp_server else {
        return;
    };
    for b in server.bindings().sessions(username) {
        b.session.unbind().await;
    }
}

fn done(r: Result<(), String>, ok: String) -> Reply {
    match r {
        Ok(()) => text(ok),
        Err(e) if e.starts_with("Error") => text(e),
        Err(e) => text(format!("Error: {e}")),
    }
}

async fn group(p: &Parsed, m: &Arc<Manager>) -> Reply {
    if p.has("list") {
        return text(views::groups(m));
    }
    if p.has("add") {
        return Reply::Form(
            "Adding a new Group: (ok: save, ko: exit)".into(),
            Box::<GroupForm>::default(),
        );
    }
    for key in ["remove", "enable", "disable"] {
        let Some(gid) = p.get(key) else { continue };
        if !m.profile().groups.iter().any(|g| g.gid == gid) {
            return text(format!("Unknown Group: {gid}"));
        }
        let gid = gid.to_string();
        let removed_users: Vec<String> = m
            .profile()
            .users
            .iter()
            .filter(|u| u.gid == gid)
            .map(|u| u.username.clone())
            .collect();
        let r = m
            .apply(|p| {
                match key {
                    // Jasmin removes a group's users with it.
                    "remove" => {
                        p.groups.retain(|g| g.gid != gid);
                        p.users.retain(|u| u.gid != gid);
                    }
                    _ => {
                        for g in p.groups.iter_mut().filter(|g| g.gid == gid) {
                            g.enabled = key == "enable";
                        }
                    }
                }
                Ok(())
            })
            .await;
        if r.is_ok() && key != "enable" {
            for u in &removed_users {
                unbind(m, u).await;
            }
        }
        return done(
            r,
            match key {
                "remove" => format!("Successfully removed Group id:{gid}"),
                k => format!("Successfully {k}d Group id:{gid}"),
            },
        );
    }
    text("Missing required option")
}

async fn filter(p: &Parsed, m: &Arc<Manager>) -> Reply {
    if p.has("list") {
        return text(views::filters(m));
    }
    if p.has("add") {
        return Reply::Form(
            "Adding a new Filter: (ok: save, ko: exit)".into(),
            Box::<FilterForm>::default(),
        );
    }
    if let Some(fid) = p.get("show") {
        return text(views::filter(m, fid));
    }
    if let Some(fid) = p.get("remove") {
        let prof = m.profile();
        if !prof.filters.iter().any(|f| f.fid == fid) {
            return text(format!("Unknown Filter: {fid}"));
        }
        let users: Vec<String> = prof
            .mtroutes
            .iter()
            .filter(|r| r.filters.iter().any(|f| f == fid))
            .map(|r| format!("MT route {}", r.order))
            .chain(
                prof.moroutes
                    .iter()
                    .filter(|r| r.filters.iter().any(|f| f == fid))
                    .map(|r| format!("MO route {}", r.order)),
            )
            .chain(
                prof.mtinterceptors
                    .iter()
                    .chain(&prof.mointerceptors)
                    .filter(|r| r.filters.iter().any(|f| f == fid))
                    .map(|r| format!("{} {}", r.kind, r.order)),
            )
            .collect();
        if !users.is_empty() {
            return text(format!(
                "Error: Filter {fid} is used by {}: remove them first",
                users.join(", ")
            ));
        }
        let fid = fid.to_string();
        let r = m
            .apply(|p| {
                p.filters.retain(|f| f.fid != fid);
                Ok(())
            })
            .await;
        return done(r, format!("Successfully removed Filter id:{fid}"));
    }
    text("Missing required option")
}

/// A table of entries with unique orders (routes, interceptors).
trait Ordered: Clone + Send + Sync + 'static {
    fn order(&self) -> u32;
}
impl Ordered for RouteConfig {
    fn order(&self) -> u32 {
        self.order
    }
}
impl Ordered for InterceptorConfig {
    fn order(&self) -> u32 {
        self.order
    }
}

/// What differs between `mtrouter`/`morouter` and `mtinterceptor`/`mointerceptor`.
struct OrderedTable<T> {
    /// `Route` or `Interceptor`.
    noun: &'static str,
    /// `routing` or `interception`.
    table: &'static str,
    entries: fn(&mut Profile, TableKind) -> &mut Vec<T>,
    list: fn(&Manager, TableKind) -> String,
    show: fn(&Manager, TableKind, &T) -> String,
    form: fn(TableKind) -> Box<dyn Form>,
}

fn routes_of(p: &mut Profile, kind: TableKind) -> &mut Vec<RouteConfig> {
    match kind {
        TableKind::Mt => &mut p.mtroutes,
        TableKind::Mo => &mut p.moroutes,
    }
}

fn interceptors_of(p: &mut Profile, kind: TableKind) -> &mut Vec<InterceptorConfig> {
    match kind {
        TableKind::Mt => &mut p.mtinterceptors,
        TableKind::Mo => &mut p.mointerceptors,
    }
}

const ROUTES: OrderedTable<RouteConfig> = OrderedTable {
    noun: "Route",
    table: "routing",
    entries: routes_of,
    list: |m, kind| views::routes(m, kind),
    show: |m, kind, r| views::route(m, kind, r.order),
    form: |kind| Box::new(RouteForm::new(kind)),
};

const INTERCEPTORS: OrderedTable<InterceptorConfig> = OrderedTable {
    noun: "Interceptor",
    table: "interception",
    entries: interceptors_of,
    list: |m, kind| views::interceptors(m, kind),
    show: |_, kind, ic| format!("{}/{}", ic.kind, views::script(kind, ic)),
    form: |kind| Box::new(InterceptorForm::new(kind)),
};

async fn router(kind: TableKind, p: &Parsed, m: &Arc<Manager>) -> Reply {
    ordered(&ROUTES, kind, p, m).await
}

async fn interceptor(kind: TableKind, p: &Parsed, m: &Arc<Manager>) -> Reply {
    ordered(&INTERCEPTORS, kind, p, m).await
}

/// `-l`, `-a`, `-f`, `-s ORDER`, `-r ORDER` of an ordered table.
async fn ordered<T: Ordered>(
    t: &OrderedTable<T>,
    kind: TableKind,
    p: &Parsed,
    m: &Arc<Manager>,
) -> Reply {
    let (label, noun) = (kind.label(), t.noun);
    if p.has("list") {
        return text((t.list)(m, kind));
    }
    if p.has("add") {
        return Reply::Form(
            format!("Adding a new {label} {noun}: (ok: save, ko: exit)"),
            (t.form)(kind),
        );
    }
    let entries = t.entries;
    if p.has("flush") {
        let r = m
            .apply(|p| {
                entries(p, kind).clear();
                Ok(())
            })
            .await;
        return done(r, format!("Successfully flushed {label} {} table", t.table));
    }
    for key in ["show", "remove"] {
        let Some(raw) = p.get(key) else { continue };
        let mut prof = (*m.profile()).clone();
        let Some(entry) = raw
            .parse::<u32>()
            .ok()
            .and_then(|o| entries(&mut prof, kind).iter().find(|e| e.order() == o))
            .cloned()
        else {
            return text(format!("Unknown {label} {noun}: {raw}"));
        };
        if key == "show" {
            return text((t.show)(m, kind, &entry));
        }
        let order = entry.order();
        let r = m
            .apply(|p| {
                entries(p, kind).retain(|e| e.order() != order);
                Ok(())
            })
            .await;
        return done(
            r,
            format!("Successfully removed {label} {noun} with order:{order}"),
        );
    }
    text("Missing required option")
}

async fn smppcc(p: &Parsed, m: &Arc<Manager>) -> Reply {
    if p.has("list") {
        return text(views::smppccs(m));
    }
    if p.has("add") {
        return Reply::Form(
            "Adding a new connector: (ok: save, ko: exit)".into(),
            Box::new(SmppccForm::add()),
        );
    }
    let prof = m.profile();
    for key in ["update", "show", "remove", "start", "stop"] {
        let Some(cid) = p.get(key) else { continue };
        let Some(c) = prof.smppccs.iter().find(|c| c.cid == cid).cloned() else {
            return text(format!("Unknown connector: {cid}"));
        };
        let cid = cid.to_string();
        return match key {
            "update" => Reply::Form(
                format!("Updating connector id [{cid}]: (ok: save, ko: exit)"),
                Box::new(SmppccForm::update(&c)),
            ),
            "show" => text(views::smppcc(&c)),
            "remove" => {
                let used: Vec<String> = prof
                    .mtroutes
                    .iter()
                    .filter(|r| {
                        r.connector.iter().chain(&r.connectors).any(|x| {
                            smsgate_routing::ConnectorRef::parse(x)
                                .map(|c| c.id() == cid && c.kind() == "smppc")
                                .unwrap_or(false)
                        })
                    })
                    .map(|r| format!("MT route {}", r.order))
                    .collect();
                if !used.is_empty() {
                    return text(format!(
                        "Error: connector {cid} is used by {}: remove them first",
                        used.join(", ")
                    ));
                }
                let r = m
                    .apply(|p| {
                        p.smppccs.retain(|c| c.cid != cid);
                        p.started.remove(&cid);
                        Ok(())
                    })
                    .await;
                done(r, format!("Successfully removed connector id:{cid}"))
            }
            "start" => {
                if prof.started.contains(&cid) && m.connector_state(&cid).is_some() {
                    return text("Failed starting connector, check log for details");
                }
                let r = m
                    .apply(|p| {
                        p.started.insert(cid.clone());
                        Ok(())
                    })
                    .await;
                done(r, format!("Successfully started connector id:{cid}"))
            }
            _ => {
                if !prof.started.contains(&cid) {
                    return text("Failed stopping connector, check log for details");
                }
                let r = m
                    .apply(|p| {
                        p.started.remove(&cid);
                        Ok(())
                    })
                    .await;
                done(r, format!("Successfully stopped connector id:{cid}"))
            }
        };
    }
    text("Missing required option")
}

async fn httpcc(p: &Parsed, m: &Arc<Manager>) -> Reply {
    if p.has("list") {
        return text(views::httpccs(m));
    }
    if p.has("add") {
        return Reply::Form(
            "Adding a new Httpcc: (ok: save, ko: exit)".into(),
            Box::<HttpccForm>::default(),
        );
    }
    let prof = m.profile();
    for key in ["show", "remove"] {
        let Some(cid) = p.get(key) else { continue };
        let Some(c) = prof.httpccs.iter().find(|c| c.cid == cid).cloned() else {
            return text(format!("Unknown Httpcc: {cid}"));
        };
        if key == "show" {
            return text(format!(
                "HttpConnector:\ncid = {}\nbaseurl = {}\nmethod = {}",
                c.cid, c.url, c.method
            ));
        }
        let used: Vec<String> = prof
            .moroutes
            .iter()
            .filter(|r| {
                r.connector.iter().chain(&r.connectors).any(|x| {
                    smsgate_routing::ConnectorRef::parse(x)
                        .map(|c| c.id() == cid && c.kind() == "http")
                        .unwrap_or(false)
                })
            })
            .map(|r| format!("MO route {}", r.order))
            .collect();
        if !used.is_empty() {
            return text(format!(
                "Error: Httpcc {cid} is used by {}: remove them first",
                used.join(", ")
            ));
        }
        let cid = cid.to_string();
        let r = m
            .apply(|p| {
                p.httpccs.retain(|c| c.cid != cid);
                Ok(())
            })
            .await;
        return done(r, format!("Successfully removed Httpcc id:{cid}"));
    }
    text("Missing required option")
}
