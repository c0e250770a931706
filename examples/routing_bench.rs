//! Routing decision latency on a realistic 1,000-route carrier MT table.
//!
//! ```sh
//! cargo run --release -p smsgate --example routing_bench
//! ```
//!
//! The table: 1,000 `StaticMTRoute`s whose destination filters are distinct country/network
//! prefixes (`^336`, `^\+?4477`, `^\+?3912\d+`, ...), a group filter on every 10th, a time
//! filter on every 25th and a user filter on every 50th, plus a few routes without a
//! destination filter (group-only, short-message) that every message must try, and no
//! DefaultRoute (so "no match" walks everything). Each decision is timed on its own; the
//! timer's own cost is printed and not subtracted.

use std::hint::black_box;
use std::time::Instant;

use smsgate::config::{FilterConfig, RouteConfig};
use smsgate::model::{Address, Channel, Direction, Message};
use smsgate::routing::table::{RoutingTable, TableKind};
use smsgate::routing::Routable;

const CCS: [&str; 40] = [
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64",
    "65", "66", "81", "82", "84", "86", "90", "91",
];

fn message(dst: &str) -> Message {
    Message {
        v: 1,
        id: uuid::Uuid::nil(),
        direction: Direction::Mt,
        channel: Channel::Http,
        user: None,
        group: None,
        connector: String::new(),
        source: Address {
            addr: "Brand".into(),
            ton: 5,
            npi: 0,
        },
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
        created_at: 1_583_143_200_000, // 2020-03-02 10:00 UTC
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

/// Route i's prefix: country code and a two-digit network.
fn prefix(i: usize) -> String {
    format!("{}{:02}", CCS[i % CCS.len()], 10 + i / CCS.len())
}

fn carrier_table() -> RoutingTable {
    let mut filters = vec![];
    let mut add = |fid: &str, kind: &str, set: &dyn Fn(&mut FilterConfig)| {
        let mut f = FilterConfig::new(fid, kind);
        set(&mut f);
        filters.push(f);
    };
    add("g2", "GroupFilter", &|f| f.gid = Some("G2".into()));
    add("g3", "GroupFilter", &|f| f.gid = Some("G3".into()));
    add("vip", "UserFilter", &|f| f.uid = Some("vip".into()));
    add("day", "TimeIntervalFilter", &|f| {
        f.time_interval = Some("08:00:00;20:00:00".into())
    });
    add("promo", "ShortMessageFilter", &|f| {
        f.short_message = Some("(?i)promo".into())
    });
    let mut routes = vec![];
    for i in 0..1000 {
        let p = prefix(i);
        let pat = match i % 3 {
            0 => format!("^{p}"),
            1 => format!(r"^\+?{p}"),
            _ => format!(r"^\+?{p}\d+"),
        };
        let fid = format!("p{i}");
        add(&fid, "DestinationAddrFilter", &|f| {
            f.destination_addr = Some(pat.clone())
        });
        let mut fs = vec![fid];
        if i % 10 == 5 {
            fs.push("g2".into());
        }
        if i % 25 == 7 {
            fs.push("day".into());
        }
        if i % 50 == 9 {
            fs.push("vip".into());
        }
        let mut r = RouteConfig::new("StaticMTRoute", 10 * (1000 - i as u32) + 10);
        r.connector = Some(format!("smppc(carrier_{})", i % 12));
        r.filters = fs;
        r.rate = 0.01 * (i % 5) as f64;
        routes.push(r);
    }
    // Routes every message must try (no destination filter), spread through the table.
    for (k, order) in [25005u32, 15005, 12005, 5005, 505].into_iter().enumerate() {
        let mut r = RouteConfig::new("StaticMTRoute", order);
        r.connector = Some(format!("smppc(special_{k})"));
        r.filters = vec![if k % 2 == 0 { "g3" } else { "promo" }.into()];
        routes.push(r);
    }
    RoutingTable::build(TableKind::Mt, &routes, &filters).expect("carrier table")
}

/// What every destination of a case must route to.
#[derive(Clone, Copy)]
enum Expect {
    Order(u32),
    AnyRoute,
    NoRoute,
}

struct Case {
    name: &'static str,
    dsts: Vec<String>,
    expect: Expect,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn measure(t: &RoutingTable, case: &Case, iters: usize, linear: bool) -> (u64, u64, u64) {
    let msgs: Vec<Message> = case.dsts.iter().map(|d| message(d)).collect();
    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters {
        let m = &msgs[i % msgs.len()];
        let r = Routable {
            message: m,
            text: "hello",
            uid: "alice",
            gid: "G1",
        };
        let start = Instant::now();
        let d = if linear {
            t.route_linear(black_box(&r))
        } else {
            t.route(black_box(&r))
        };
        let ns = start.elapsed().as_nanos() as u64;
        if i < msgs.len() {
            let got = d.as_ref().map(|d| d.order);
            let ok = match case.expect {
                Expect::Order(o) => got == Some(o),
                Expect::AnyRoute => got.is_some(),
                Expect::NoRoute => got.is_none(),
            };
            assert!(
                ok,
                "{}: {} routed to {got:?}",
                case.name, m.destination.addr
            );
        }
        black_box(d);
        samples.push(ns);
    }
    samples.sort_unstable();
    (
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.iter().sum::<u64>() / samples.len() as u64,
    )
}

fn main() {
    let t0 = Instant::now();
    let t = carrier_table();
    println!(
        "table: {} routes ({} through the prefix index), built in {:.1} ms",
        t.len(),
        t.indexed_routes(),
        t0.elapsed().as_secs_f64() * 1000.0
    );
    let mut overhead: Vec<u64> = (0..100_000)
        .map(|_| {
            let s = Instant::now();
            black_box(());
            s.elapsed().as_nanos() as u64
        })
        .collect();
    overhead.sort_unstable();
    println!(
        "timer overhead: p50 {} ns (included in the figures below)",
        percentile(&overhead, 0.5)
    );

    // Route 0 is the highest prefix route (order 10010); route 999 the last of the table (20).
    let first = Case {
        name: "first route matching",
        dsts: vec![format!("{}1234567", prefix(0))],
        expect: Expect::Order(10010),
    };
    let last = Case {
        name: "last route matching",
        dsts: vec![format!("{}1234567", prefix(999))],
        expect: Expect::Order(20),
    };
    let none = Case {
        name: "no match",
        dsts: vec!["+999123456789".into(), "0000".into(), "+".into()],
        expect: Expect::NoRoute,
    };
    let spread = Case {
        name: "random route (~900 destinations)",
        dsts: (0..1000)
            .filter(|i| i % 10 != 5 && i % 25 != 7 && i % 50 != 9)
            .map(|i| {
                format!(
                    "{}{}7654321",
                    if i % 3 != 0 && i % 2 == 1 { "+" } else { "" },
                    prefix(i)
                )
            })
            .collect(),
        expect: Expect::AnyRoute,
    };
    let iters = 200_000;
    println!(
        "{:<38} {:>9} {:>9} {:>9}",
        "case (1,000 routes, indexed)", "p50 ns", "p99 ns", "mean ns"
    );
    for case in [&first, &last, &none, &spread] {
        let (p50, p99, mean) = measure(&t, case, iters, false);
        println!("{:<38} {p50:>9} {p99:>9} {mean:>9}", case.name);
    }
    println!(
        "{:<38} {:>9} {:>9} {:>9}",
        "reference: linear scan", "p50 ns", "p99 ns", "mean ns"
    );
    for case in [&first, &last, &none] {
        let (p50, p99, mean) = measure(&t, case, iters / 10, true);
        println!("{:<38} {p50:>9} {p99:>9} {mean:>9}", case.name);
    }
}
