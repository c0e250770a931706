//! Delivery receipts and MO end to end: simulator → gateway → local HTTP receiver (or an ESME
//! bound to the SMPP server), over real sockets.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rusmpp::pdus::DeliverSm;
use rusmpp::values::{DataCoding, EsmClass};
use rusmpp::{CommandStatus, Pdu};
use smsgate::app::Gateway;
use smsgate::simulator::{ReceiptKnobs, Simulator};
use smsgate::smpp::{c_octet, octets};

const THROWERS: &str = "
[dlr-thrower]
retry_delay = 1
max_retries = 3
http_timeout = 2
[deliversm-thrower]
retry_delay = 1
max_retries = 3
http_timeout = 2
";

struct Env {
    _dir: tempfile::TempDir,
    sim: Simulator,
    gw: Arc<Gateway>,
    rx: Receiver,
}

fn mo_config(rx: &Receiver, method: &str) -> String {
    format!(
        "
[[httpccs]]
cid = \"web\"
url = \"{}\"
method = \"{method}\"
[[moroutes]]
type = \"DefaultRoute\"
order = 0
connector = \"http(web)\"
[[filters]]
fid = \"to_foo\"
type = \"DestinationAddrFilter\"
destination_addr = \"^7777\"
[[moroutes]]
type = \"StaticMORoute\"
order = 10
connector = \"smpps(foo)\"
filters = [\"to_foo\"]
",
        rx.url("/mo")
    )
}

async fn env_with(extra: &str, edit: impl Fn(String) -> String) -> Env {
    let sim = simulator().await;
    let rx = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text = edit(text);
    text.push_str(THROWERS);
    text.push_str(&mo_config(&rx, "GET"));
    text.push_str(extra);
    let gw = gateway(load(&text, dir.path())).await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    Env {
        _dir: dir,
        sim,
        gw,
        rx,
    }
}

async fn env() -> Env {
    env_with("", |t| t).await
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn send_dlr(e: &Env, level: u8, method: &str, path: &str) -> String {
    let addr = e.gw.http_addr.expect("http");
    let (st, body) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=33600000001&content=hello&dlr=yes&dlr-url={}&dlr-level={level}&dlr-method={method}",
            enc(&e.rx.url(path))
        ),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    body.trim()
        .trim_start_matches("Success \"")
        .trim_end_matches('"')
        .to_string()
}

const LEVEL1: [&str; 4] = ["id", "level", "message_status", "connector"];
const LEVEL2: [&str; 11] = [
    "id",
    "level",
    "message_status",
    "connector",
    "id_smsc",
    "sub",
    "dlvrd",
    "subdate",
    "donedate",
    "err",
    "text",
];

#[tokio::test]
async fn each_level_with_get_and_post() {
    let e = env().await;
    for method in ["GET", "POST"] {
        for level in [1u8, 2, 3] {
            let before = e.rx.count();
            let id = send_dlr(&e, level, method, &format!("/dlr/{level}/{method}")).await;
            let want = if level == 3 { 2 } else { 1 };
            wait_for(10, "DLR calls", || e.rx.count() >= before + want).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let calls: Vec<Call> = e.rx.calls()[before..].to_vec();
            assert_eq!(calls.len(), want, "level {level} {method}: {calls:?}");
            for c in &calls {
                assert_eq!(c.method, method);
                assert_eq!(c.path, format!("/dlr/{level}/{method}"));
                assert_eq!(c.get("id"), Some(id.as_str()));
                assert_eq!(c.get("connector"), Some("sim"));
            }
            let l1 = calls.iter().find(|c| c.get("level") == Some("1"));
            let l2 = calls.iter().find(|c| c.get("level") == Some("2"));
            if level != 2 {
                let l1 = l1.expect("level 1 DLR");
                assert_eq!(l1.keys(), LEVEL1);
                assert_eq!(l1.get("message_status"), Some("ESME_ROK"));
            }
            if level >= 2 {
                let l2 = l2.expect("level 2 DLR");
                assert_eq!(l2.keys(), LEVEL2);
                assert_eq!(l2.get("message_status"), Some("DELIVRD"));
                assert_eq!(l2.get("sub"), Some("001"));
                assert_eq!(l2.get("dlvrd"), Some("001"));
                assert_eq!(l2.get("err"), Some("000"));
                let smsc = e
                    .sim
                    .received()
                    .last()
                    .map(|r| r.message_id.clone())
                    .expect("sim got it");
                assert_eq!(l2.get("id_smsc"), Some(smsc.as_str()));
                assert_eq!(l2.get("subdate").map(str::len), Some(10));
            }
        }
    }
    wait_for(5, "8 DLRs acknowledged", || {
        e.gw.stats
            .render_prometheus()
            .contains("dlr_thrower_ok_count{cid=\"sim\"} 8")
    })
    .await;
}

#[tokio::test]
async fn failing_receiver_gets_exactly_one_call_per_retry() {
    let e = env().await;
    e.rx.fail_first.store(2, Ordering::SeqCst);
    send_dlr(&e, 1, "GET", "/dlr").await;
    wait_for(15, "three calls", || e.rx.count() >= 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(e.rx.count(), 3, "two failures + one success, no more");
    let m = e.gw.stats.render_prometheus();
    assert!(m.contains("dlr_thrower_ok_count{cid=\"sim\"} 1"), "{m}");
    assert!(
        m.contains("dlr_thrower_retried_count{cid=\"sim\"} 2"),
        "{m}"
    );

    // A wrong body is a failure too; max_retries = 3 attempts, then given up.
    e.rx.wrong_body.store(true, Ordering::SeqCst);
    let before = e.rx.count();
    send_dlr(&e, 1, "POST", "/dlr").await;
    wait_for(15, "three attempts", || e.rx.count() >= before + 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(e.rx.count(), before + 3);
    assert!(e
        .gw
        .stats
        .render_prometheus()
        .contains("dlr_thrower_given_up_count{cid=\"sim\"} 1"));
}

#[tokio::test]
async fn hanging_and_refusing_receivers_are_retried() {
    let e = env().await;
    e.rx.hang.store(true, Ordering::SeqCst);
    send_dlr(&e, 1, "GET", "/slow").await;
    wait_for(10, "first call", || e.rx.count() >= 1).await;
    e.rx.hang.store(false, Ordering::SeqCst);
    // http_timeout 2 s, retry_delay 1 s: the second attempt comes and succeeds.
    wait_for(15, "retry after timeout", || e.rx.count() >= 2).await;
    wait_for(5, "ok", || {
        e.gw.stats
            .render_prometheus()
            .contains("dlr_thrower_ok_count{cid=\"sim\"} 1")
    })
    .await;

    // A URL that refuses connections: retried, then given up; nothing crashes.
    let dead = free_port();
    let addr = e.gw.http_addr.expect("http");
    let (st, _) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=336&content=x&dlr=yes&dlr-url={}&dlr-level=1&dlr-method=GET",
            enc(&format!("http://127.0.0.1:{dead}/x"))
        ),
    )
    .await;
    assert_eq!(st, 200);
    wait_for(20, "given up", || {
        e.gw.stats
            .render_prometheus()
            .contains("dlr_thrower_given_up_count{cid=\"sim\"} 1")
    })
    .await;
}

#[tokio::test]
async fn dlr_msgid_modes() {
    for (mode, knobs) in [
        (0u8, ReceiptKnobs::default()),
        (
            1,
            ReceiptKnobs {
                decimal_in_receipt: true,
                ..Default::default()
            },
        ),
        (
            2,
            ReceiptKnobs {
                decimal_in_resp: true,
                ..Default::default()
            },
        ),
    ] {
        let e = env_with("", |t| {
            t.replace(
                "requeue_delay = 1\n",
                &format!("requeue_delay = 1\ndlr_msgid = {mode}\n"),
            )
        })
        .await;
        // Enough messages that hex and decimal ids differ (ids 1..=12 include 10, 11, 12).
        e.sim.set_receipts(ReceiptKnobs {
            delay: Some(Duration::from_millis(20)),
            ..knobs
        });
        for _ in 0..12 {
            send_dlr(&e, 2, "GET", "/dlr").await;
        }
        wait_for(15, "12 receipts resolved", || e.rx.count() >= 12).await;
        let m = e.gw.stats.render_prometheus();
        assert!(
            m.contains("inbound_receipt_unknown_count{cid=\"sim\"} 0"),
            "mode {mode}: {m}"
        );
    }
}

#[tokio::test]
async fn receipt_before_submit_sm_resp_is_still_resolved() {
    let e = env().await;
    e.sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::ZERO),
        before_resp: true,
        tlvs: true,
        ..Default::default()
    });
    let id = send_dlr(&e, 2, "GET", "/dlr").await;
    wait_for(15, "DLR", || e.rx.count() >= 1).await;
    assert_eq!(e.rx.calls()[0].get("id"), Some(id.as_str()));
}

#[tokio::test]
async fn bad_receipts_are_counted_not_fatal() {
    let e = env().await;
    let bad = |text: &str| {
        DeliverSm::builder()
            .source_addr(c_octet("336"))
            .destination_addr(c_octet("1234"))
            .esm_class(EsmClass::from(0x04))
            .short_message(octets(text.as_bytes()))
            .build()
    };
    wait_for(10, "connector bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(e.sim.inject(bad("garbage without id")).await, 1);
    // An unknown id is answered at once (kept durably, looked up again in the background).
    let t = std::time::Instant::now();
    assert_eq!(e.sim.inject(bad("id:doesnotexist stat:DELIVRD")).await, 1);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "deliver_sm_resp held {:?}",
        t.elapsed()
    );
    let m = e.gw.stats.render_prometheus();
    assert!(
        m.contains("inbound_receipt_malformed_count{cid=\"sim\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("inbound_receipt_retried_count{cid=\"sim\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("inbound_receipt_unknown_count{cid=\"sim\"} 0"),
        "{m}"
    );
    // Counted unknown once every retry found nothing.
    wait_for(30, "receipt counted unknown", || {
        e.gw.stats
            .render_prometheus()
            .contains("inbound_receipt_unknown_count{cid=\"sim\"} 1")
    })
    .await;
    // Still working.
    send_dlr(&e, 2, "GET", "/dlr").await;
    wait_for(10, "DLR", || e.rx.count() >= 1).await;
}

/// `[migration] jasmin_redis` pointing at a Redis that is down: the gateway starts, answers
/// an unknown receipt at once (Jasmin's maps are not waited for), counts it unknown after its
/// retries, and its own receipts keep flowing. A URL that is not Redis's is refused at start.
#[cfg(feature = "cluster")]
#[tokio::test]
async fn a_dead_jasmin_redis_never_stops_receipts() {
    let dead = format!(
        "[migration]\njasmin_redis = \"redis://127.0.0.1:{}/0\"\n",
        free_port()
    );
    let e = env_with(&dead, |t| t).await;
    wait_for(10, "connector bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let receipt = DeliverSm::builder()
        .source_addr(c_octet("336"))
        .destination_addr(c_octet("1234"))
        .esm_class(EsmClass::from(0x04))
        .short_message(octets(b"id:notjasmins stat:DELIVRD"))
        .build();
    let t = std::time::Instant::now();
    assert_eq!(e.sim.inject(receipt).await, 1);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "deliver_sm_resp held {:?}",
        t.elapsed()
    );
    wait_for(30, "receipt counted unknown", || {
        e.gw.stats
            .render_prometheus()
            .contains("inbound_receipt_unknown_count{cid=\"sim\"} 1")
    })
    .await;
    send_dlr(&e, 2, "GET", "/dlr").await;
    wait_for(10, "own DLR", || e.rx.count() >= 1).await;

    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, 9);
    text.push_str("[migration]\njasmin_redis = \"http://127.0.0.1:6379\"\n");
    let cfg = load(&text, dir.path());
    let err = match smsgate::app::Gateway::start(cfg).await {
        Ok(_) => panic!("started with a jasmin_redis that is not a Redis URL"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("migration.jasmin_redis"), "{err}");
}

#[tokio::test]
async fn mo_to_http_with_table_12_parameters() {
    let e = env().await;
    wait_for(10, "connector bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let pdu = DeliverSm::builder()
        .source_addr(c_octet("33699999999"))
        .destination_addr(c_octet("1234"))
        .data_coding(DataCoding::from(0))
        .short_message(octets(b"hello MO"))
        .build();
    assert_eq!(e.sim.inject(pdu).await, 1, "acknowledged once queued");
    wait_for(10, "MO call", || e.rx.count() >= 1).await;
    let c = &e.rx.calls()[0];
    assert_eq!(c.method, "GET");
    assert_eq!(c.path, "/mo");
    assert_eq!(
        c.keys(),
        [
            "id",
            "from",
            "to",
            "origin-connector",
            "priority",
            "coding",
            "content",
            "binary"
        ]
    );
    assert_eq!(c.get("from"), Some("33699999999"));
    assert_eq!(c.get("to"), Some("1234"));
    assert_eq!(c.get("origin-connector"), Some("sim"));
    assert_eq!(c.get("content"), Some("hello MO"));
    assert_eq!(c.get("binary"), Some("68656c6c6f204d4f"));
    assert_eq!(c.get("coding"), Some("0"));
    assert!(uuid::Uuid::parse_str(c.get("id").unwrap_or("")).is_ok());
}

#[tokio::test]
async fn mo_to_an_smpp_user_waits_for_the_bind() {
    let e = env().await;
    wait_for(10, "connector bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let pdu = DeliverSm::builder()
        .source_addr(c_octet("33611111111"))
        .destination_addr(c_octet("7777"))
        .short_message(octets(b"for foo"))
        .build();
    assert_eq!(e.sim.inject(pdu).await, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, mut rx, st) = esme_bind(e.gw.smpp_addr().expect("smpp"), "rx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let cmd = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("deliver_sm")
        .expect("cmd");
    match cmd.pdu() {
        Some(Pdu::DeliverSm(d)) => {
            assert_eq!(d.short_message().as_ref(), b"for foo");
            assert_eq!(
                smsgate::smpp::cstring(d.source_addr.as_ref()),
                "33611111111"
            );
        }
        other => panic!("{other:?}"),
    }
    s.respond(
        cmd.sequence_number,
        CommandStatus::EsmeRok,
        rusmpp::pdus::DeliverSmResp::builder().build(),
    )
    .await
    .expect("ack");
    assert_eq!(e.rx.count(), 0, "not thrown to HTTP");
}

#[tokio::test]
async fn esme_gets_its_receipt_as_deliver_sm() {
    let e = env().await;
    let (s, mut rx, st) = esme_bind(e.gw.smpp_addr().expect("smpp"), "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("33600000002", b"hello receipt", 1))
        .await
        .expect("resp");
    let id = resp_id(&r);
    let cmd = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("receipt")
        .expect("cmd");
    match cmd.pdu() {
        Some(Pdu::DeliverSm(d)) => {
            let esm: u8 = d.esm_class.into();
            assert_eq!(esm, 0x04);
            let text = String::from_utf8_lossy(d.short_message().as_ref()).to_string();
            assert!(text.starts_with(&format!("id:{id} ")), "{text}");
            assert!(text.contains("stat:DELIVRD"), "{text}");
            assert_eq!(
                smsgate::smpp::cstring(d.source_addr.as_ref()),
                "33600000002"
            );
            assert_eq!(smsgate::smpp::cstring(d.destination_addr.as_ref()), "1234");
            let tlvs: Vec<_> = d.tlvs().iter().map(smsgate::smpp::tlv_to_model).collect();
            let rid = tlvs
                .iter()
                .find(|t| t.tag == 0x001E)
                .expect("receipted_message_id");
            assert_eq!(rid.value, format!("{id}\0").into_bytes());
            let st = tlvs
                .iter()
                .find(|t| t.tag == 0x0427)
                .expect("message_state");
            assert_eq!(st.value, vec![2]);
        }
        other => panic!("{other:?}"),
    }
    s.respond(
        cmd.sequence_number,
        CommandStatus::EsmeRok,
        rusmpp::pdus::DeliverSmResp::builder().build(),
    )
    .await
    .expect("ack");
}

#[tokio::test]
async fn pending_throws_survive_a_restart() {
    let sim = simulator().await;
    let port = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("http://127.0.0.1:{port}/dlr");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text.push_str(
        THROWERS
            .replace("max_retries = 3", "max_retries = 100")
            .as_str(),
    );
    let gw = gateway(load(&text, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    let (st, _) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=336&content=x&dlr=yes&dlr-url={}&dlr-level=1&dlr-method=GET",
            enc(&url)
        ),
    )
    .await;
    assert_eq!(st, 200);
    // The receiver is down: the throw fails and waits for its retry.
    wait_for(10, "first attempt failed", || {
        gw.stats
            .render_prometheus()
            .contains("dlr_thrower_retried_count{cid=\"sim\"} 1")
    })
    .await;
    gw.shutdown().await;
    drop(gw);
    let rx = receiver_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    let gw2 = gateway(load(&text, dir.path())).await;
    wait_for(15, "thrown after restart", || rx.count() >= 1).await;
    assert_eq!(rx.calls()[0].get("level"), Some("1"));
    gw2.shutdown().await;
}

#[tokio::test]
async fn long_message_gets_one_dlr_per_level() {
    let e = env().await;
    let addr = e.gw.http_addr.expect("http");
    let text = "a".repeat(400);
    let (st, body) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=33600000001&content={text}&dlr=yes&dlr-url={}&dlr-level=3&dlr-method=GET",
            enc(&e.rx.url("/long"))
        ),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    wait_for(10, "3 parts at the SMSC", || e.sim.submit_count() == 3).await;
    wait_for(10, "two DLRs", || e.rx.count() >= 2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let calls = e.rx.calls();
    assert_eq!(calls.len(), 2, "one level 1 and one level 2: {calls:?}");
    let l2 = calls
        .iter()
        .find(|c| c.get("level") == Some("2"))
        .expect("level 2");
    let first = e.sim.received()[0].message_id.clone();
    assert_eq!(l2.get("id_smsc"), Some(first.as_str()));
    assert_eq!(l2.get("message_status"), Some("DELIVRD"));
}

#[tokio::test]
async fn unrouted_mo_is_refused_to_the_smsc() {
    // No MO routes at all: the SMSC is told to try again later, nothing is lost silently.
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let text = config_toml(dir.path(), 0, sim.addr.port());
    let gw = gateway(load(&text, dir.path())).await;
    wait_for(10, "bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let pdu = DeliverSm::builder()
        .source_addr(c_octet("336"))
        .destination_addr(c_octet("1234"))
        .short_message(octets(b"nobody"))
        .build();
    assert_eq!(sim.inject(pdu).await, 0, "not acknowledged with ESME_ROK");
    assert!(gw
        .stats
        .render_prometheus()
        .contains("inbound_mo_unrouted_count{cid=\"sim\"} 1"));
}

fn udh_part(reference: u8, total: u8, seq: u8, text: &str) -> DeliverSm {
    let mut sm = vec![0x05, 0x00, 0x03, reference, total, seq];
    sm.extend_from_slice(text.as_bytes());
    DeliverSm::builder()
        .source_addr(c_octet("33655555555"))
        .destination_addr(c_octet("1234"))
        .esm_class(EsmClass::from(0x40))
        .short_message(octets(&sm))
        .build()
}

fn sar_part(reference: u16, total: u8, seq: u8, text: &str) -> DeliverSm {
    use smsgate::model::Tlv;
    let mut d = DeliverSm::builder()
        .source_addr(c_octet("33655555556"))
        .destination_addr(c_octet("1234"))
        .short_message(octets(text.as_bytes()))
        .build();
    for t in [
        Tlv {
            tag: 0x020C,
            value: reference.to_be_bytes().to_vec(),
        },
        Tlv {
            tag: 0x020E,
            value: vec![total],
        },
        Tlv {
            tag: 0x020F,
            value: vec![seq],
        },
    ] {
        d.push_tlv(smsgate::smpp::delivery_tlv(&t));
    }
    d
}

#[tokio::test]
async fn long_mo_udh_and_sar_are_reassembled() {
    let e = env().await;
    wait_for(10, "bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    // UDH parts out of order, with a duplicate.
    for (seq, t) in [(2, "two "), (1, "one "), (2, "two "), (3, "three")] {
        assert_eq!(e.sim.inject(udh_part(42, 3, seq, t)).await, 1);
    }
    wait_for(10, "UDH MO thrown", || e.rx.count() >= 1).await;
    // SAR parts.
    for (seq, t) in [(1, "alpha "), (3, "gamma"), (2, "beta ")] {
        assert_eq!(e.sim.inject(sar_part(300, 3, seq, t)).await, 1);
    }
    wait_for(10, "SAR MO thrown", || e.rx.count() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = e.rx.calls();
    assert_eq!(calls.len(), 2, "one call per long message: {calls:?}");
    assert_eq!(calls[0].get("content"), Some("one two three"));
    assert_eq!(calls[0].get("from"), Some("33655555555"));
    assert_eq!(
        calls[0].get("binary"),
        Some(hex::encode("one two three").as_str())
    );
    assert_eq!(calls[1].get("content"), Some("alpha beta gamma"));
}

#[tokio::test]
async fn incomplete_long_mo_is_delivered_after_the_timeout_and_bad_udh_as_is() {
    let e = env_with("[mo]\nreassembly_timeout = 1\n", |t| t).await;
    wait_for(10, "bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(e.sim.inject(udh_part(7, 3, 1, "first ")).await, 1);
    assert_eq!(e.sim.inject(udh_part(7, 3, 3, "third")).await, 1);
    wait_for(10, "incomplete MO thrown", || e.rx.count() >= 1).await;
    assert_eq!(e.rx.calls()[0].get("content"), Some("first third"));
    // A UDH whose length runs past the message: delivered with its raw octets.
    let bad = DeliverSm::builder()
        .source_addr(c_octet("336"))
        .destination_addr(c_octet("1234"))
        .esm_class(EsmClass::from(0x40))
        .short_message(octets(&[0x20, 0x00, 0x03, 1]))
        .build();
    assert_eq!(e.sim.inject(bad).await, 1);
    wait_for(10, "bad UDH MO thrown", || e.rx.count() >= 2).await;
    assert_eq!(e.rx.calls()[1].get("binary"), Some("20000301"));
    let m = e.gw.stats.render_prometheus();
    assert!(
        m.contains("inbound_mo_incomplete_count{cid=\"sim\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("inbound_mo_malformed_count{cid=\"sim\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn long_mo_parts_survive_a_restart() {
    let sim = simulator().await;
    let rx = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text.push_str(THROWERS);
    text.push_str(&mo_config(&rx, "POST"));
    let gw = gateway(load(&text, dir.path())).await;
    wait_for(10, "bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(sim.inject(udh_part(9, 3, 1, "before ")).await, 1);
    assert_eq!(sim.inject(udh_part(9, 3, 2, "and ")).await, 1);
    gw.shutdown().await;
    drop(gw);
    let gw2 = gateway(load(&text, dir.path())).await;
    wait_for(10, "bound again", || {
        sim.stats().binds.load(Ordering::Relaxed) > 1
    })
    .await;
    assert_eq!(sim.inject(udh_part(9, 3, 3, "after")).await, 1);
    wait_for(10, "MO thrown", || rx.count() >= 1).await;
    let c = &rx.calls()[0];
    assert_eq!(c.method, "POST");
    assert_eq!(c.get("content"), Some("before and after"));
    gw2.shutdown().await;
}

#[tokio::test]
async fn mo_failover_skips_a_failing_http_connector() {
    let sim = simulator().await;
    let (bad, good) = (receiver().await, receiver().await);
    bad.fail_first.store(1_000, Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text.push_str(THROWERS);
    text.push_str(&format!(
        "
[[httpccs]]
cid = \"bad\"
url = \"{}\"
[[httpccs]]
cid = \"good\"
url = \"{}\"
[[filters]]
fid = \"all\"
type = \"TransparentFilter\"
[[moroutes]]
type = \"FailoverMORoute\"
order = 10
connectors = [\"http(bad)\", \"http(good)\"]
filters = [\"all\"]
",
        bad.url("/mo"),
        good.url("/mo")
    ));
    let gw = gateway(load(&text, dir.path())).await;
    wait_for(10, "bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let mo = |t: &str| {
        DeliverSm::builder()
            .source_addr(c_octet("336"))
            .destination_addr(c_octet("1234"))
            .short_message(octets(t.as_bytes()))
            .build()
    };
    assert_eq!(sim.inject(mo("first")).await, 1);
    wait_for(10, "first tried on bad", || bad.count() >= 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sim.inject(mo("second")).await, 1);
    wait_for(10, "second goes to good", || good.count() >= 1).await;
    assert_eq!(good.calls()[0].get("content"), Some("second"));
    gw.shutdown().await;
}

/// Jasmin's DLR defaults (send.py): `dlr-url` or `dlr-level` implies `dlr=yes` (even over
/// `dlr=no`), the level defaults to 1 and the method to POST, the method is upper-cased, and
/// the SMSC is asked for a receipt whenever a DLR is requested.
#[tokio::test]
async fn dlr_request_defaults_as_jasmin() {
    let e = env().await;
    let addr = e.gw.http_addr.expect("http");
    let send = |query: String| async move {
        let (st, body) = get(
            addr,
            &format!("/send?username=foo&password=bar&to=33600000001&content=hi{query}"),
        )
        .await;
        assert_eq!(st, 200, "{query}: {body}");
        body.trim()
            .trim_start_matches("Success \"")
            .trim_end_matches('"')
            .to_string()
    };
    // dlr-url alone: level 1, POST.
    let id = send(format!("&dlr-url={}", enc(&e.rx.url("/a")))).await;
    wait_for(10, "level 1 DLR", || e.rx.count() >= 1).await;
    let c = e.rx.calls()[0].clone();
    assert_eq!((c.method.as_str(), c.path.as_str()), ("POST", "/a"));
    assert_eq!(c.get("id"), Some(id.as_str()));
    assert_eq!(c.get("level"), Some("1"));
    assert_eq!(
        e.sim.received().last().map(|r| r.registered_delivery),
        Some(1),
        "the SMSC is asked for a receipt at level 1 too"
    );
    // dlr=no is overridden by dlr-url; a lower-case method is upper-cased.
    let id = send(format!(
        "&dlr=no&dlr-url={}&dlr-level=2&dlr-method=get",
        enc(&e.rx.url("/b"))
    ))
    .await;
    wait_for(10, "level 2 DLR", || {
        e.rx.calls().iter().any(|c| c.path == "/b")
    })
    .await;
    let c =
        e.rx.calls()
            .into_iter()
            .find(|c| c.path == "/b")
            .expect("call");
    assert_eq!(c.method, "GET");
    assert_eq!(c.get("id"), Some(id.as_str()));
    assert_eq!(c.get("level"), Some("2"));
    // dlr=yes without dlr-url: accepted (nobody to call), the SMSC still asked.
    send("&dlr=yes".into()).await;
    wait_for(5, "submitted", || e.sim.received().len() >= 3).await;
    assert_eq!(e.sim.received()[2].registered_delivery, 1);
    // Without any DLR argument: no receipt asked.
    send(String::new()).await;
    wait_for(5, "submitted", || e.sim.received().len() >= 4).await;
    assert_eq!(e.sim.received()[3].registered_delivery, 0);
}

/// A `transmitter` connector for MT and a `receiver` connector for receipts to the same SMSC
/// (the receipts come on the receiver session): every receipt finds its message.
#[tokio::test]
async fn split_transmitter_and_receiver_get_every_receipt() {
    const N: usize = 10_000;
    let sim = simulator().await;
    let rx = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text = text
        .replace(
            "cid = \"sim\"\n",
            "cid = \"sim\"\nbind = \"transmitter\"\nwindow = 64\n",
        )
        .replace(
            "[[filters]]\nfid = \"bobf\"",
            &format!(
                "[[smppccs]]\ncid = \"simrx\"\nbind = \"receiver\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n\n[[filters]]\nfid = \"bobf\"",
                sim.addr.port()
            ),
        );
    text.push_str(THROWERS);
    let gw = gateway(load(&text, dir.path())).await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(20)),
        ..Default::default()
    });
    wait_for(10, "both connectors bound", || {
        sim.stats().binds.load(Ordering::Relaxed) >= 2
    })
    .await;
    let addr = gw.http_addr.expect("http");
    let url = enc(&rx.url("/dlr"));
    let started = std::time::Instant::now();
    let mut tasks = vec![];
    for w in 0..16 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..N).step_by(16) {
                let (st, body) = get(
                    addr,
                    &format!("/send?username=foo&password=bar&to=336{i:08}&content=m{i}&dlr-url={url}&dlr-level=2"),
                )
                .await;
                assert_eq!(st, 200, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    wait_for(180, "every receipt thrown", || rx.count() >= N).await;
    let took = started.elapsed();
    let m = gw.stats.render_prometheus();
    assert!(
        m.contains(&format!("inbound_receipt_count{{cid=\"simrx\"}} {N}")),
        "{m}"
    );
    assert!(
        m.contains("inbound_receipt_unknown_count{cid=\"simrx\"} 0"),
        "{m}"
    );
    let calls = rx.calls();
    let mut ids: Vec<&str> = calls.iter().filter_map(|c| c.get("id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "one level 2 DLR per message");
    assert!(calls
        .iter()
        .all(|c| c.get("connector") == Some("sim") && c.get("message_status") == Some("DELIVRD")));
    eprintln!("{N} messages, {N} receipts via the receiver connector in {took:?}");
}

/// Two SMSCs that number their ids the same way: grouped connectors keep the receipts apart;
/// in one (global) group the reuse is counted as a collision.
#[tokio::test]
async fn grouped_connectors_keep_reused_smsc_ids_apart() {
    for grouped in [true, false] {
        let (sim_a, sim_b) = (simulator().await, simulator().await);
        let rx = receiver().await;
        let dir = tempfile::tempdir().expect("tmp");
        let mut text = config_toml(dir.path(), 0, sim_a.addr.port());
        let group = |g: &str| {
            if grouped {
                format!("dlr_group = \"{g}\"\n")
            } else {
                String::new()
            }
        };
        text = text.replace("cid = \"sim\"\n", &format!("cid = \"sim\"\n{}", group("A")));
        text.push_str(THROWERS);
        text.push_str(&format!(
            "[[smppccs]]\ncid = \"simb\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n{}\
             [[filters]]\nfid = \"to_b\"\ntype = \"DestinationAddrFilter\"\ndestination_addr = \"^44\"\n\
             [[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 20\nconnector = \"smppc(simb)\"\nfilters = [\"to_b\"]\n",
            sim_b.addr.port(),
            group("B")
        ));
        let gw = gateway(load(&text, dir.path())).await;
        // Receipts held until both messages were submitted: both SMSCs answer id "1".
        for s in [&sim_a, &sim_b] {
            s.set_receipts(ReceiptKnobs {
                delay: Some(Duration::from_millis(1)),
                hold: true,
                ..Default::default()
            });
        }
        let addr = gw.http_addr.expect("http");
        let url = enc(&rx.url("/dlr"));
        let mut ids = vec![];
        for to in ["33600000001", "44600000001"] {
            let (st, body) = get(
                addr,
                &format!(
                    "/send?username=foo&password=bar&to={to}&content=x&dlr-url={url}&dlr-level=2"
                ),
            )
            .await;
            assert_eq!(st, 200, "{body}");
            ids.push(
                body.trim()
                    .trim_start_matches("Success \"")
                    .trim_end_matches('"')
                    .to_string(),
            );
        }
        wait_for(10, "both submitted", || {
            sim_a.received().len() == 1 && sim_b.received().len() == 1
        })
        .await;
        assert_eq!(
            sim_a.received()[0].message_id,
            sim_b.received()[0].message_id
        );
        let m = gw.stats.render_prometheus();
        let collisions: u64 = m
            .lines()
            .filter(|l| l.starts_with("inbound_receipt_collision_count{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(collisions, u64::from(!grouped), "grouped {grouped}: {m}");
        if grouped {
            sim_a.release_receipts(16).await;
            sim_b.release_receipts(16).await;
            wait_for(10, "two DLRs", || rx.count() >= 2).await;
            let calls = rx.calls();
            for (id, cid) in ids.iter().zip(["sim", "simb"]) {
                let c = calls
                    .iter()
                    .find(|c| c.get("id") == Some(id.as_str()))
                    .expect("each message its own receipt");
                assert_eq!(c.get("connector"), Some(cid));
            }
        }
    }
}
