//! SMPP server API end to end: ESMEs bind over real sockets (the project's own session layer as
//! the ESME), submit through the gateway to the simulator, get `deliver_sm` from their queue.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rusmpp::pdus::{CancelSm, QuerySm};
use rusmpp::{CommandStatus, Pdu};
use smsgate::app::Gateway;
use smsgate::broker::smpps_queue;
use smsgate::model::message::now_ms;
use smsgate::model::{Address, Channel, Direction, Message, Part};
use smsgate::smpp::c_octet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn setup() -> (
    tempfile::TempDir,
    smsgate::simulator::Simulator,
    Arc<Gateway>,
    SocketAddr,
) {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = load(&config_toml(dir.path(), 0, sim.addr.port()), dir.path());
    let gw = gateway(cfg).await;
    let addr = gw.smpp_addr().expect("smpp server enabled");
    (dir, sim, gw, addr)
}

#[tokio::test]
async fn bind_outcomes() {
    let (_d, _sim, gw, addr) = setup().await;
    let (s, _rx, st) = esme_bind(addr, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    // A second bind on a bound session.
    let again = s
        .request(
            rusmpp::pdus::BindTransmitter::builder()
                .system_id(c_octet("foo"))
                .password(c_octet("bar"))
                .build(),
        )
        .await
        .expect("resp");
    assert_eq!(again.status(), CommandStatus::EsmeRalybnd);

    for (user, pw, want) in [
        ("foo", "wrong", CommandStatus::EsmeRinvpaswd),
        ("nobody", "x", CommandStatus::EsmeRinvsysid),
        ("nobind", "pw", CommandStatus::EsmeRbindfail),
        ("eve", "evepwd", CommandStatus::EsmeRbindfail),
    ] {
        let (s, _rx, st) = esme_bind(addr, "tx", user, pw).await;
        assert_eq!(st, want, "{user}/{pw}");
        tokio::time::timeout(Duration::from_secs(5), s.closed())
            .await
            .expect("connection closed after a refused bind");
    }
    // max_bindings = 1
    let (_s1, _r1, st) = esme_bind(addr, "rx", "single", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let (_s2, _r2, st) = esme_bind(addr, "tx", "single", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRbindfail);

    let m = gw.stats.render_prometheus();
    assert!(m.contains("smppsapi_bound_trx_count 1"), "{m}");
    assert!(m.contains("smppsapi_bound_rx_count 1"), "{m}");
}

#[tokio::test]
async fn requests_before_bind_and_wrong_mode() {
    let (_d, _sim, _gw, addr) = setup().await;
    let sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (s, _rx) = smsgate::smpp::session::start(
        sock,
        smsgate::smpp::session::SessionConfig {
            enquire_link_interval: None,
            ..Default::default()
        },
    );
    let r = s
        .request(submit_sm("33600000001", b"hi", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRinvbndsts);
    // enquire_link works unbound
    let r = s.request(Pdu::EnquireLink).await.expect("elink");
    assert_eq!(r.status(), CommandStatus::EsmeRok);

    let (rx_s, _rx, st) = esme_bind(addr, "rx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = rx_s
        .request(submit_sm("33600000001", b"hi", 0))
        .await
        .expect("resp");
    assert_eq!(
        r.status(),
        CommandStatus::EsmeRinvbndsts,
        "receivers cannot submit"
    );
}

#[tokio::test]
async fn submit_reaches_the_smsc_with_a_gateway_id() {
    let (_d, sim, gw, addr) = setup().await;
    let (s, _rx, st) = esme_bind(addr, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("33600000001", b"hello smpp", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let id = resp_id(&r);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "uuid id: {id:?}");
    wait_for(10, "simulator got it", || sim.submit_count() == 1).await;
    let got = &sim.received()[0];
    assert_eq!(got.destination_addr, "33600000001");
    assert_eq!(got.source_addr, "1234");
    assert_eq!(got.short_message, b"hello smpp");
    // Empty destination: ESME_RINVDSTADR, as Jasmin.
    let r = s.request(submit_sm("", b"x", 0)).await.expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRinvdstadr);
    // query_sm once the SMSC accepted it.
    wait_for(10, "record", || {
        futures::executor::block_on(gw.store.record_get(&id))
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    let q = s
        .request(
            QuerySm::builder()
                .message_id(c_octet(&id))
                .source_addr(c_octet("1234"))
                .build(),
        )
        .await
        .expect("query resp");
    assert_eq!(q.status(), CommandStatus::EsmeRok);
    match q.pdu() {
        Some(Pdu::QuerySmResp(r)) => {
            assert_eq!(r.message_state, rusmpp::values::MessageState::Enroute)
        }
        other => panic!("{other:?}"),
    }
    // Already sent: cannot be cancelled.
    let c = s
        .request(CancelSm::builder().message_id(c_octet(&id)).build())
        .await
        .expect("cancel resp");
    assert_eq!(c.status(), CommandStatus::EsmeRcancelfail);
    let m = gw.stats.render_prometheus();
    assert!(m.contains("smppsapi_submit_sm_count 1"), "{m}");
}

#[tokio::test]
async fn windowed_submits_are_all_answered_and_delivered() {
    let (_d, sim, _gw, addr) = setup().await;
    let (s, _rx, st) = esme_bind(addr, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let window = Arc::new(tokio::sync::Semaphore::new(50));
    let mut tasks = vec![];
    for i in 0..500 {
        let s = s.clone();
        let p = window.clone().acquire_owned().await.expect("permit");
        tasks.push(tokio::spawn(async move {
            let r = s
                .request(submit_sm(&format!("3360{i:07}"), b"windowed", 0))
                .await
                .expect("resp");
            drop(p);
            (r.status(), resp_id(&r))
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (st, id) = t.await.expect("task");
        assert_eq!(st, CommandStatus::EsmeRok);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 500, "distinct ids");
    wait_for(20, "500 at the SMSC", || sim.submit_count() == 500).await;
}

#[tokio::test]
async fn smpps_throughput_throttles() {
    let (_d, _sim, gw, addr) = setup().await;
    let (s, _rx, st) = esme_bind(addr, "trx", "slow", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let mut ok = 0;
    let mut throttled = 0;
    for _ in 0..10 {
        let r = s
            .request(submit_sm("33600000001", b"x", 0))
            .await
            .expect("resp");
        match r.status() {
            CommandStatus::EsmeRok => ok += 1,
            CommandStatus::EsmeRthrottled => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!((2..=4).contains(&ok), "about 2/s accepted, got {ok}");
    assert_eq!(ok + throttled, 10);
    assert!(gw
        .stats
        .render_prometheus()
        .contains(&format!("smppsapi_throttling_error_count {throttled}")));
}

fn mo(to_user_dest: &str, text: &[u8]) -> Message {
    let now = now_ms();
    Message {
        connector: "sim".into(),
        source: Address {
            addr: "33612345678".into(),
            ton: 1,
            npi: 1,
        },
        destination: Address {
            addr: to_user_dest.into(),
            ton: 0,
            npi: 0,
        },
        parts: vec![Part {
            short_message: text.to_vec(),
            esm_class: 0,
            tlvs: vec![],
        }],
        expires_at: now + 60_000,
        ..Message::new(Direction::Mo, Channel::Smppc, now)
    }
}

#[tokio::test]
async fn queued_deliveries_wait_for_a_receiver_and_are_spread() {
    let (_d, _sim, gw, addr) = setup().await;
    let q = smpps_queue("foo");
    for i in 0..6 {
        gw.broker
            .publish(&q, &mo("1234", format!("mo {i}").as_bytes()))
            .await
            .expect("publish");
    }
    // A transmitter cannot receive: nothing moves.
    let (_tx, _txrx, st) = esme_bind(addr, "tx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gw.broker.stats(&q).await.expect("stats").ready, 6);

    // Two receivers: every message arrives once, on either.
    let (_a, mut ra, _) = esme_bind(addr, "rx", "foo", "bar").await;
    let (_b, mut rb, _) = esme_bind(addr, "trx", "foo", "bar").await;
    let (sa, sb) = (_a.clone(), _b.clone());
    let mut got = vec![];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 6 && tokio::time::Instant::now() < deadline {
        let (cmd, s) = tokio::select! {
            Some(c) = ra.recv() => (c, &sa),
            Some(c) = rb.recv() => (c, &sb),
            _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
        };
        if let Some(Pdu::DeliverSm(d)) = cmd.pdu() {
            got.push(String::from_utf8_lossy(d.short_message().as_ref()).to_string());
            s.respond(
                cmd.sequence_number,
                CommandStatus::EsmeRok,
                rusmpp::pdus::DeliverSmResp::builder().build(),
            )
            .await
            .expect("resp");
        }
    }
    got.sort();
    assert_eq!(got, (0..6).map(|i| format!("mo {i}")).collect::<Vec<_>>());
    wait_for(5, "queue drained", || {
        let st = futures::executor::block_on(gw.broker.stats(&q)).expect("stats");
        st.ready == 0 && st.unacked == 0
    })
    .await;
}

#[tokio::test]
async fn refused_deliver_sm_is_retried() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text = text.replace(
        "[smpp-server]\nbind = \"127.0.0.1\"\nport = 0\n",
        "[smpp-server]\nbind = \"127.0.0.1\"\nport = 0\ndeliver_retry_delay = 1\n",
    );
    let gw = gateway(load(&text, dir.path())).await;
    let addr = gw.smpp_addr().expect("smpp");
    let q = smpps_queue("foo");
    gw.broker
        .publish(&q, &mo("1234", b"retry me"))
        .await
        .expect("publish");
    let (s, mut rx, _) = esme_bind(addr, "rx", "foo", "bar").await;
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("first deliver_sm")
        .expect("cmd");
    s.respond(
        first.sequence_number,
        CommandStatus::EsmeRsyserr,
        rusmpp::pdus::DeliverSmResp::builder().build(),
    )
    .await
    .expect("refuse");
    let again = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("second deliver_sm")
        .expect("cmd");
    assert!(matches!(again.pdu(), Some(Pdu::DeliverSm(_))));
    s.respond(
        again.sequence_number,
        CommandStatus::EsmeRok,
        rusmpp::pdus::DeliverSmResp::builder().build(),
    )
    .await
    .expect("ack");
    wait_for(5, "acked", || {
        let st = futures::executor::block_on(gw.broker.stats(&q)).expect("stats");
        st.ready == 0 && st.unacked == 0 && st.delayed == 0
    })
    .await;
}

#[tokio::test]
async fn cancel_sm_drops_a_queued_message() {
    // The connector's SMSC is down: messages stay queued.
    let dead = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let gw = gateway(load(&config_toml(dir.path(), 0, dead), dir.path())).await;
    let addr = gw.smpp_addr().expect("smpp");
    let (s, _rx, _) = esme_bind(addr, "trx", "foo", "bar").await;
    let keep = resp_id(&s.request(submit_sm("331", b"keep", 0)).await.expect("r"));
    let drop_id = resp_id(&s.request(submit_sm("332", b"drop", 0)).await.expect("r"));
    let c = s
        .request(CancelSm::builder().message_id(c_octet(&drop_id)).build())
        .await
        .expect("cancel");
    assert_eq!(c.status(), CommandStatus::EsmeRok);
    let q = s
        .request(QuerySm::builder().message_id(c_octet(&drop_id)).build())
        .await
        .expect("query");
    match q.pdu() {
        Some(Pdu::QuerySmResp(r)) => {
            assert_eq!(r.message_state, rusmpp::values::MessageState::Deleted)
        }
        other => panic!("{other:?}"),
    }
    let bad = s
        .request(CancelSm::builder().message_id(c_octet("nope")).build())
        .await
        .expect("cancel");
    assert_eq!(bad.status(), CommandStatus::EsmeRinvmsgid);
    // The SMSC comes up: only the kept message is sent.
    let sim = simulator_on(format!("127.0.0.1:{dead}").parse().expect("addr")).await;
    wait_for(15, "kept message sent", || sim.submit_count() >= 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.submit_count(), 1);
    assert_eq!(sim.received()[0].short_message, b"keep");
    let _ = keep;
}

async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    c.write_all(bytes).await.expect("write");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn malformed_input_is_refused_and_others_keep_working() {
    let (_d, sim, _gw, addr) = setup().await;
    let (good, _rx, st) = esme_bind(addr, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);

    // command_length below 16: generic_nack ESME_RINVCMDLEN, then closed.
    let out = raw(addr, &[0, 0, 0, 8, 0, 0, 0, 4]).await;
    assert_eq!(&out[4..8], &[0x80, 0, 0, 0], "generic_nack: {out:?}");
    assert_eq!(&out[8..12], &[0, 0, 0, 2], "ESME_RINVCMDLEN");
    // command_length above 64 KiB.
    let out = raw(addr, &[0, 2, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    assert_eq!(&out[4..8], &[0x80, 0, 0, 0]);
    // Garbage.
    let _ = raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // Unknown command id: generic_nack ESME_RINVCMDID, session stays open.
    let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    c.write_all(&[0, 0, 0, 16, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 7])
        .await
        .expect("write");
    let mut hdr = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut hdr))
        .await
        .expect("answer")
        .expect("read");
    assert_eq!(&hdr[4..8], &[0x80, 0, 0, 0]);
    assert_eq!(&hdr[8..12], &[0, 0, 0, 3], "ESME_RINVCMDID");
    assert_eq!(&hdr[12..16], &[0, 0, 0, 7], "same sequence number");
    // enquire_link on that same connection still answered.
    c.write_all(&[0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 8])
        .await
        .expect("write");
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut hdr))
        .await
        .expect("answer")
        .expect("read");
    assert_eq!(&hdr[4..8], &[0x80, 0, 0, 0x15]);
    // A submit_sm whose body is truncated inside the frame: generic_nack, session lives.
    c.write_all(&[
        0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0x31, 0x32, 0x33, 0x34,
    ])
    .await
    .expect("write");
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut hdr))
        .await
        .expect("answer")
        .expect("read");
    assert_eq!(&hdr[4..8], &[0x80, 0, 0, 0]);
    assert_eq!(&hdr[12..16], &[0, 0, 0, 9]);

    // The well-behaved session is unaffected.
    let r = good
        .request(submit_sm("33600000009", b"still here", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    wait_for(10, "delivered", || sim.submit_count() == 1).await;
}

#[tokio::test]
async fn many_idle_connections_and_a_client_that_never_reads() {
    let (_d, sim, _gw, addr) = setup().await;
    let mut idle = vec![];
    for _ in 0..1000 {
        idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    // A client that floods enquire_links and never reads its answers.
    let mut flood = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let pdu = [0u8, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1];
    let writer = tokio::spawn(async move {
        let buf: Vec<u8> = pdu.iter().copied().cycle().take(16 * 4096).collect();
        for _ in 0..200 {
            if tokio::time::timeout(Duration::from_millis(200), flood.write_all(&buf))
                .await
                .is_err()
            {
                break;
            }
        }
        flood
    });
    let (good, _rx, st) = esme_bind(addr, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    for i in 0..20 {
        let r = good
            .request(submit_sm(&format!("3361{i:07}"), b"busy server", 0))
            .await
            .expect("resp");
        assert_eq!(r.status(), CommandStatus::EsmeRok);
    }
    wait_for(10, "delivered", || sim.submit_count() == 20).await;
    let _ = writer.await;
    drop(idle);
}

#[tokio::test]
async fn disconnect_mid_window_loses_nothing_accepted() {
    let (_d, sim, _gw, addr) = setup().await;
    let (s, _rx, _) = esme_bind(addr, "trx", "foo", "bar").await;
    let accepted = Arc::new(parking_lot::Mutex::new(vec![]));
    let mut tasks = vec![];
    for i in 0..200 {
        let s = s.clone();
        let acc = accepted.clone();
        tasks.push(tokio::spawn(async move {
            if let Ok(r) = s.request(submit_sm(&format!("3362{i:07}"), b"w", 0)).await {
                if r.status() == CommandStatus::EsmeRok {
                    acc.lock().push(resp_id(&r));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.close(smsgate::smpp::session::CloseReason::Local);
    for t in tasks {
        let _ = t.await;
    }
    let n = accepted.lock().len() as u64;
    // Everything the ESME was told is accepted reaches the SMSC (more may: answers lost
    // with the connection are still queued messages).
    wait_for(15, "accepted ones delivered", || sim.submit_count() >= n).await;
}

#[tokio::test]
async fn shutdown_unbinds_esmes() {
    let (_d, _sim, gw, addr) = setup().await;
    let (s, mut rx, _) = esme_bind(addr, "trx", "foo", "bar").await;
    let gw2 = gw.clone();
    let stop = tokio::spawn(async move { gw2.shutdown().await });
    let cmd = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("unbind in time");
    // The session layer answers unbind itself and closes; the channel then ends.
    assert!(cmd.is_none() || matches!(cmd.and_then(|c| c.pdu().cloned()), Some(Pdu::Unbind)));
    tokio::time::timeout(Duration::from_secs(10), s.closed())
        .await
        .expect("closed");
    stop.await.expect("shutdown");
}

#[tokio::test]
async fn tls_listener_binds_and_submits() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = test_cert(dir.path());
    let tls_port = free_port();
    let text = config_toml(dir.path(), 0, sim.addr.port()).replace(
        "[smpp-server]\nbind = \"127.0.0.1\"\nport = 0\n",
        &format!(
            "[smpp-server]\nbind = \"127.0.0.1\"\nport = 0\ntls_port = {tls_port}\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let gw = gateway(load(&text, dir.path())).await;
    let tls_addr = gw
        .smpp_server
        .as_ref()
        .and_then(|s| s.tls_addr)
        .expect("tls listener");
    let tcp = tokio::net::TcpStream::connect(tls_addr)
        .await
        .expect("connect");
    let stream = smsgate::smpp::tls::connect(tcp, "localhost", false)
        .await
        .expect("TLS handshake");
    let (s, _rx) = smsgate::smpp::session::start(
        stream,
        smsgate::smpp::session::SessionConfig {
            enquire_link_interval: None,
            ..Default::default()
        },
    );
    let r = s
        .request(
            rusmpp::pdus::BindTransceiver::builder()
                .system_id(c_octet("foo"))
                .password(c_octet("bar"))
                .build(),
        )
        .await
        .expect("bind");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("33600000077", b"over tls", 0))
        .await
        .expect("submit");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    wait_for(10, "delivered", || sim.submit_count() == 1).await;
    // A plain-text client on the TLS port gets nowhere, and the server keeps serving.
    let _ = raw(
        tls_addr,
        &[0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1],
    )
    .await;
    let r = s.request(Pdu::EnquireLink).await.expect("elink");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
}
