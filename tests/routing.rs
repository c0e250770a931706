//! The spec's routing examples (3.7.1) through `RoutingTable::build` from configuration, plus
//! round-robin spreading, failover over live connector state, least-cost selection, and the
//! configuration-time refusals.

use std::collections::HashMap;
use std::sync::Arc;

use smsgate::config::{Config, FilterConfig, RouteConfig};
use smsgate::model::{Address, Channel, Direction, Message};
use smsgate::routing::table::{BuildOptions, RoutingTable, TableKind};
use smsgate::routing::{ConnectorRef, LiveAvailability, Routable};
use smsgate::smpp::client::ConnectorState;
use tokio::sync::watch;

fn message(dst: &str, at: &str) -> Message {
    Message {
        v: 1,
        id: uuid::Uuid::nil(),
        direction: Direction::Mt,
        channel: Channel::Http,
        user: None,
        group: None,
        connector: "smsc".into(),
        source: Address::default(),
        destination: Address {
            addr: dst.into(),
            ton: 1,
            npi: 1,
        },
        data_coding: 0,
        protocol_id: 0,
        priority: 0,
        registered_delivery: 0,
        replace_if_present: 0,
        sm_default_msg_id: 0,
        service_type: String::new(),
        validity_period: String::new(),
        schedule_delivery_time: String::new(),
        parts: vec![],
        tlvs: vec![],
        tags: vec![],
        locked_params: vec![],
        dlr: None,
        rate: 0.0,
        created_at: epoch_ms(at),
        expires_at: 0,
        not_before: None,
        batch_id: None,
        tries: 0,
        sent_parts: vec![],
        bill_rest: 0.0,
        callback: None,
        republished: false,
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) to milliseconds since the epoch.
fn epoch_ms(s: &str) -> i64 {
    let (d, t) = s.split_once(' ').unwrap();
    let d: Vec<i32> = d.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
    let date = time::Date::from_calendar_date(
        d[0],
        time::Month::try_from(d[1] as u8).unwrap(),
        d[2] as u8,
    )
    .unwrap();
    let days = date.to_julian_day() as i64 - 2_440_588;
    (days * 86400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000
}

fn filter(fid: &str, kind: &str, set: impl FnOnce(&mut FilterConfig)) -> FilterConfig {
    let mut f = FilterConfig::new(fid, kind);
    set(&mut f);
    f
}

fn route(kind: &str, order: u32, connectors: &[&str], filters: &[&str]) -> RouteConfig {
    let mut r = RouteConfig::new(kind, order);
    if connectors.len() == 1 && (kind.starts_with("Static") || kind == "DefaultRoute") {
        r.connector = Some(connectors[0].into());
    } else {
        r.connectors = connectors.iter().map(|c| c.to_string()).collect();
    }
    r.filters = filters.iter().map(|f| f.to_string()).collect();
    r
}

/// Route and return the connector id (None: no route).
fn to(t: &RoutingTable, m: &Message, uid: &str, gid: &str) -> Option<String> {
    t.route(&Routable {
        message: m,
        text: "",
        uid,
        gid,
    })
    .map(|d| d.connector.id().to_string())
}

/// Spec 3.7.1, MO routing: #30 StaticMORoute http_3 on `^\+33\d+`, #20
/// RandomRoundrobinMORoute http_1, http_2 in summer 2015 working hours, #0 DefaultRoute
/// http_def.
#[test]
fn spec_mo_routing_example() {
    let filters = vec![
        filter("fr", "DestinationAddrFilter", |f| {
            f.destination_addr = Some(r"^\+33\d+".into())
        }),
        filter("summer2015", "DateIntervalFilter", |f| {
            f.date_interval = Some("2015-06-01;2015-08-31".into())
        }),
        filter("working_hours", "TimeIntervalFilter", |f| {
            f.time_interval = Some("08:00:00;18:00:00".into())
        }),
    ];
    let routes = vec![
        route("StaticMORoute", 30, &["http(http_3)"], &["fr"]),
        route(
            "RandomRoundrobinMORoute",
            20,
            &["http(http_1)", "http(http_2)"],
            &["summer2015", "working_hours"],
        ),
        route("DefaultRoute", 0, &["http(http_def)"], &[]),
    ];
    let t = RoutingTable::build(TableKind::Mo, &routes, &filters).expect("table");
    let orders: Vec<u32> = t.routes().map(|(o, _)| o).collect();
    assert_eq!(orders, vec![30, 20, 0]);
    assert_eq!(
        t.get(20).unwrap().filters()[0].describe(),
        "<DI (2015-06-01,2015-08-31)>"
    );

    // To +33...: http_3, whatever the date.
    for at in ["2015-07-01 10:00:00", "2020-01-01 03:00:00"] {
        assert_eq!(
            to(&t, &message("+33600000001", at), "", "").as_deref(),
            Some("http_3")
        );
    }
    // In summer 2015 working hours: http_1 or http_2, both used.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for i in 0..400 {
        let at = format!("2015-{:02}-15 {:02}:30:00", 6 + i % 3, 8 + i % 10);
        let c = to(&t, &message("4477000", &at), "", "").unwrap();
        *seen.entry(c).or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen["http_1"] > 120 && seen["http_2"] > 120, "{seen:?}");
    // Borders included.
    for at in ["2015-06-01 08:00:00", "2015-08-31 18:00:00"] {
        let c = to(&t, &message("4477000", at), "", "").unwrap();
        assert!(c == "http_1" || c == "http_2", "{at}: {c}");
    }
    // Outside: the default route.
    for at in [
        "2015-07-01 07:59:59",
        "2015-07-01 18:00:01",
        "2015-05-31 12:00:00",
        "2015-09-01 12:00:00",
        "2016-07-01 12:00:00",
    ] {
        assert_eq!(
            to(&t, &message("4477000", at), "", "").as_deref(),
            Some("http_def"),
            "{at}"
        );
    }
    // `^\+33\d+` needs a digit after 33 and the +.
    assert_eq!(
        to(&t, &message("+33", "2020-01-01 12:00:00"), "", "").as_deref(),
        Some("http_def")
    );
    assert_eq!(
        to(&t, &message("33600000001", "2020-01-01 12:00:00"), "", "").as_deref(),
        Some("http_def")
    );
}

fn spec_mt_filters() -> Vec<FilterConfig> {
    vec![
        filter("fr", "DestinationAddrFilter", |f| {
            f.destination_addr = Some(r"^\+33\d+".into())
        }),
        filter("g2", "GroupFilter", |f| f.gid = Some("G2".into())),
        filter("working_hours", "TimeIntervalFilter", |f| {
            f.time_interval = Some("08:00:00;18:00:00".into())
        }),
    ]
}

/// Spec 3.7.1, MT routing: #100 RandomRoundrobinMTRoute smpp_1, smpp_2 on `^\+33\d+`; #91
/// StaticMTRoute smpp_4 for group G2 in working hours; #90 StaticMTRoute smpp_3 for G2; no
/// DefaultRoute.
#[test]
fn spec_mt_routing_example() {
    let routes = vec![
        route(
            "RandomRoundrobinMTRoute",
            100,
            &["smppc(smpp_1)", "smppc(smpp_2)"],
            &["fr"],
        ),
        route(
            "StaticMTRoute",
            91,
            &["smppc(smpp_4)"],
            &["g2", "working_hours"],
        ),
        route("StaticMTRoute", 90, &["smppc(smpp_3)"], &["g2"]),
    ];
    let t = RoutingTable::build(TableKind::Mt, &routes, &spec_mt_filters()).expect("table");
    let day = "2020-03-02 10:00:00";
    let night = "2020-03-02 22:00:00";

    let mut seen: HashMap<String, u32> = HashMap::new();
    for _ in 0..400 {
        let c = to(&t, &message("+33612345678", day), "u", "G2").unwrap();
        *seen.entry(c).or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen["smpp_1"] > 120 && seen["smpp_2"] > 120, "{seen:?}");

    assert_eq!(
        to(&t, &message("4477", day), "u", "G2").as_deref(),
        Some("smpp_4")
    );
    assert_eq!(
        to(&t, &message("4477", night), "u", "G2").as_deref(),
        Some("smpp_3")
    );
    // No DefaultRoute: anything else is rejected.
    assert_eq!(to(&t, &message("4477", day), "u", "G1"), None);

    let d = t
        .route(&Routable {
            message: &message("4477", day),
            text: "",
            uid: "u",
            gid: "G2",
        })
        .unwrap();
    assert_eq!((d.order, d.rate), (91, 0.0));
}

/// The spec's note: swapping #90 and #91 shadows the working-hours route.
#[test]
fn spec_mt_shadowing_note() {
    let routes = vec![
        route(
            "StaticMTRoute",
            90,
            &["smppc(smpp_4)"],
            &["g2", "working_hours"],
        ),
        route("StaticMTRoute", 91, &["smppc(smpp_3)"], &["g2"]),
    ];
    let t = RoutingTable::build(TableKind::Mt, &routes, &spec_mt_filters()).expect("table");
    for at in ["2020-03-02 10:00:00", "2020-03-02 22:00:00"] {
        assert_eq!(
            to(&t, &message("4477", at), "u", "G2").as_deref(),
            Some("smpp_3"),
            "{at}: G2 always goes to smpp_3"
        );
    }
}

/// Failover follows the connectors' live state through `LiveAvailability`.
#[test]
fn failover_skips_unavailable_connectors() {
    let filters = spec_mt_filters();
    let routes = vec![
        route(
            "FailoverMTRoute",
            10,
            &["smppc(primary)", "smppc(backup)"],
            &["fr"],
        ),
        route("DefaultRoute", 0, &["smppc(def)"], &[]),
    ];
    let live = Arc::new(LiveAvailability::new());
    let opts = BuildOptions {
        availability: live.clone(),
        ..Default::default()
    };
    let t = RoutingTable::build_with(TableKind::Mt, &routes, &filters, &opts).expect("table");
    let (p_tx, p_rx) = watch::channel(ConnectorState::Bound);
    let (b_tx, b_rx) = watch::channel(ConnectorState::Bound);
    live.watch_smppc("primary", p_rx);
    live.watch_smppc("backup", b_rx);
    let m = message("+33612345678", "2020-03-02 10:00:00");

    assert_eq!(to(&t, &m, "u", "G1").as_deref(), Some("primary"));
    p_tx.send(ConnectorState::Disconnected).unwrap();
    assert_eq!(to(&t, &m, "u", "G1").as_deref(), Some("backup"));
    b_tx.send(ConnectorState::Connecting).unwrap();
    assert_eq!(
        to(&t, &m, "u", "G1").as_deref(),
        Some("def"),
        "nothing bound: the next route"
    );
    p_tx.send(ConnectorState::Bound).unwrap();
    assert_eq!(to(&t, &m, "u", "G1").as_deref(), Some("primary"));
    live.set_failing(&ConnectorRef::Smppc("primary".into()), true);
    b_tx.send(ConnectorState::Bound).unwrap();
    assert_eq!(to(&t, &m, "u", "G1").as_deref(), Some("backup"));
}

/// MO failover over HTTP connectors: "not failing" as the application marks them.
#[test]
fn mo_failover_over_http_connectors() {
    let filters = vec![filter("t", "TransparentFilter", |_| {})];
    let routes = vec![route(
        "FailoverMORoute",
        10,
        &["http(http_4)", "http(http_5)"],
        &["t"],
    )];
    let live = Arc::new(LiveAvailability::new());
    let opts = BuildOptions {
        availability: live.clone(),
        ..Default::default()
    };
    let t = RoutingTable::build_with(TableKind::Mo, &routes, &filters, &opts).expect("table");
    let m = message("1234", "2020-03-02 10:00:00");
    assert_eq!(to(&t, &m, "", "").as_deref(), Some("http_4"));
    live.set_failing(&ConnectorRef::Http("http_4".into()), true);
    assert_eq!(to(&t, &m, "", "").as_deref(), Some("http_5"));
    live.set_failing(&ConnectorRef::Http("http_5".into()), true);
    assert_eq!(to(&t, &m, "", "").as_deref(), None);
}

/// Least-cost: the cheapest bound connector, billed at the route's rate.
#[test]
fn least_cost_route_picks_the_cheapest_available() {
    let filters = spec_mt_filters();
    let mut lc = route(
        "LeastCostMTRoute",
        10,
        &["smppc(a)", "smppc(b)", "smppc(c)"],
        &["fr"],
    );
    lc.costs = [("a", 0.03), ("b", 0.01), ("smppc(c)", 0.02)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    lc.rate = 0.05;
    let live = Arc::new(LiveAvailability::new());
    let opts = BuildOptions {
        availability: live.clone(),
        ..Default::default()
    };
    let t = RoutingTable::build_with(TableKind::Mt, &[lc], &filters, &opts).expect("table");
    let mut senders = vec![];
    for c in ["a", "b", "c"] {
        let (tx, rx) = watch::channel(ConnectorState::Bound);
        live.watch_smppc(c, rx);
        senders.push(tx);
    }
    let m = message("+33612345678", "2020-03-02 10:00:00");
    let r = Routable {
        message: &m,
        text: "",
        uid: "u",
        gid: "G1",
    };
    let d = t.route(&r).unwrap();
    assert_eq!((d.connector.id(), d.rate), ("b", 0.05));
    senders[1].send(ConnectorState::Disconnected).unwrap();
    assert_eq!(t.route(&r).unwrap().connector.id(), "c");
    senders[2].send(ConnectorState::Stopped).unwrap();
    assert_eq!(t.route(&r).unwrap().connector.id(), "a");
}

fn load(toml: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("smsgate.toml");
    std::fs::write(&path, toml).expect("write");
    smsgate::load_config(Some(&path)).map_err(|e| e.to_string())
}

const BASE: &str = r#"
[[smppccs]]
cid = "smpp_1"
[[smppccs]]
cid = "smpp_2"
[[httpccs]]
cid = "http_1"
url = "http://example.com/mo"
[[groups]]
gid = "G2"
[[users]]
username = "bob"
password = "x"
gid = "G2"
"#;

/// jCli spellings in the file: `;`-separated lists, camelCase parameters, numeric tags,
/// case-insensitive types.
#[test]
fn configuration_in_jcli_spelling_loads() {
    let cfg = load(&format!(
        r#"{BASE}
[[filters]]
fid = "summer"
type = "dateintervalfilter"
dateInterval = "2015-06-01;2015-08-31"
[[filters]]
fid = "hours"
type = "TimeIntervalFilter"
timeInterval = "08:00:00;18:00:00"
[[filters]]
fid = "tagged"
type = "TagFilter"
tag = 21401
[[filters]]
fid = "from_smpp_1"
type = "ConnectorFilter"
cid = "smpp_1"
[[mtroutes]]
type = "RandomRoundrobinMTRoute"
order = 20
connectors = "smppc(smpp_1);smppc(smpp_2)"
filters = "summer;hours"
rate = 0.5
[[mtroutes]]
type = "LeastCostMTRoute"
order = 10
connectors = ["smppc(smpp_1)", "smppc(smpp_2)"]
filters = ["tagged"]
costs = {{ smpp_1 = 0.02, smpp_2 = 0.01 }}
[[moroutes]]
type = "StaticMORoute"
order = 5
connector = "smpps(bob)"
filters = ["from_smpp_1"]
[[moroutes]]
type = "DefaultRoute"
connector = "http(http_1)"
"#
    ))
    .expect("config");
    assert_eq!(cfg.mtroutes[0].connectors.len(), 2);
    assert_eq!(cfg.mtroutes[0].filters, vec!["summer", "hours"]);
    assert_eq!(cfg.filters[2].tag.as_deref(), Some("21401"));
    let mt = RoutingTable::build(TableKind::Mt, &cfg.mtroutes, &cfg.filters).expect("mt");
    let mo = RoutingTable::build(TableKind::Mo, &cfg.moroutes, &cfg.filters).expect("mo");
    let mut m = message("1", "2015-07-01 09:00:00");
    assert_eq!(
        mt.route(&Routable {
            message: &m,
            text: "",
            uid: "bob",
            gid: "G2"
        })
        .unwrap()
        .order,
        20
    );
    m.created_at = epoch_ms("2016-07-01 09:00:00");
    m.tags = vec!["21401".into()];
    let d = mt
        .route(&Routable {
            message: &m,
            text: "",
            uid: "bob",
            gid: "G2",
        })
        .unwrap();
    assert_eq!((d.order, d.connector.id()), (10, "smpp_2"));
    m.connector = "smpp_1".into();
    assert_eq!(to(&mo, &m, "", "").as_deref(), Some("bob"));
    m.connector = "smpp_2".into();
    assert_eq!(to(&mo, &m, "", "").as_deref(), Some("http_1"));
}

/// Bad routing input is refused when the configuration is loaded, naming what is wrong.
#[test]
fn bad_routing_configuration_is_refused_at_load() {
    let cases: &[(&str, &str)] = &[
        (
            "[[filters]]\nfid = \"f\"\ntype = \"DestinationAddrFilter\"\ndestination_addr = \"^(33\"\n",
            "key `filters[0]` (fid \"f\", DestinationAddrFilter): destination_addr: invalid regex",
        ),
        (
            "[[filters]]\nfid = \"f\"\ntype = \"DateIntervalFilter\"\ndate_interval = \"2015-08-31;2015-06-01\"\n",
            "dates out of order",
        ),
        (
            "[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 5\nconnector = \"smppc(nope)\"\nfilters = [\"t\"]\n[[filters]]\nfid = \"t\"\ntype = \"TransparentFilter\"\n",
            "key `mtroutes[0]` (StaticMTRoute at order 5): unknown connector smppc(nope)",
        ),
        (
            "[[moroutes]]\ntype = \"DefaultRoute\"\nconnector = \"http(nope)\"\n",
            "unknown connector http(nope)",
        ),
        (
            "[[moroutes]]\ntype = \"StaticMORoute\"\norder = 3\nconnector = \"http(http_1)\"\nfilters = [\"u\"]\n[[filters]]\nfid = \"u\"\ntype = \"UserFilter\"\nuid = \"bob\"\n",
            "is for MT routes only and cannot be used in an MO route",
        ),
        (
            "[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 3\nconnector = \"smppc(smpp_1)\"\nfilters = [\"ghost\"]\n",
            "unknown filter id \"ghost\"",
        ),
        (
            "[[filters]]\nfid = \"py\"\ntype = \"EvalPyFilter\"\npyCode = \"/opt/x.py\"\n",
            "cannot read /opt/x.py",
        ),
        (
            "[[mtroutes]]\ntype = \"DefaultRoute\"\norder = 3\nconnector = \"smppc(smpp_1)\"\n",
            "DefaultRoute must be at order 0",
        ),
        (
            "[[moroutes]]\ntype = \"FailoverMORoute\"\norder = 3\nconnectors = \"http(http_1);smpps(bob)\"\nfilters = [\"t\"]\n[[filters]]\nfid = \"t\"\ntype = \"TransparentFilter\"\n",
            "FailoverMORoute cannot mix connector types",
        ),
    ];
    for (snippet, want) in cases {
        let e = load(&format!("{BASE}{snippet}")).unwrap_err();
        assert!(e.contains(want), "{snippet}\n=> {e}");
    }
    // A readable script passes the configuration check (the plugin host compiles it when the
    // gateway starts), with or without Wasm plugins.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("f.py");
    std::fs::write(&script, "result = True\n").expect("script");
    load(&format!(
        "{BASE}[[filters]]\nfid = \"py\"\ntype = \"EvalPyFilter\"\npyCode = \"{}\"\n",
        script.display()
    ))
    .expect("EvalPyFilter with a readable script");
}

/// A 1,000-route carrier table decides like the linear scan for destinations all over it.
#[test]
fn carrier_table_index_agrees_with_linear_scan() {
    let ccs = [
        "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44",
        "45", "46", "47", "48", "49",
    ];
    let mut filters = vec![filter("g2", "GroupFilter", |f| f.gid = Some("G2".into()))];
    let mut routes = vec![];
    for i in 0..1000usize {
        let prefix = format!("{}{:02}", ccs[i % ccs.len()], i / ccs.len());
        let pat = match i % 3 {
            0 => format!("^{prefix}"),
            1 => format!(r"^\+?{prefix}"),
            _ => format!(r"^\+?{prefix}\d+"),
        };
        let fid = format!("p{i}");
        filters.push(filter(&fid, "DestinationAddrFilter", |f| {
            f.destination_addr = Some(pat)
        }));
        let mut fs = vec![fid];
        if i % 10 == 3 {
            fs.push("g2".into());
        }
        let mut r = RouteConfig::new("StaticMTRoute", 2000 - i as u32);
        r.connector = Some(format!("smppc(c{})", i % 7));
        r.filters = fs;
        routes.push(r);
    }
    routes.push(route("StaticMTRoute", 5, &["smppc(g2only)"], &["g2"]));
    routes.push(route("DefaultRoute", 0, &["smppc(def)"], &[]));
    let t = RoutingTable::build(TableKind::Mt, &routes, &filters).expect("table");
    assert_eq!(t.indexed_routes(), 1000);
    let mut n = 0;
    for i in 0..3000usize {
        let cc = ccs[(i * 7) % ccs.len()];
        let plus = if i % 2 == 0 { "+" } else { "" };
        let dst = format!("{plus}{cc}{:02}{}", (i * 13) % 60, i % 1000);
        let m = message(&dst, "2020-03-02 10:00:00");
        for gid in ["G1", "G2"] {
            let r = Routable {
                message: &m,
                text: "",
                uid: "u",
                gid,
            };
            let a = t.route(&r).map(|d| (d.order, d.connector));
            let b = t.route_linear(&r).map(|d| (d.order, d.connector));
            assert_eq!(a, b, "{dst} {gid}");
            n += (a.unwrap().0 > 5) as u32;
        }
    }
    assert!(n > 3000, "most destinations hit a prefix route: {n}");
}
