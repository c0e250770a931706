//! The SMPP server in a cluster (two gateways in-process on RabbitMQ and Redis): `max_bindings`
//! counts the binds of every node, and a receipt for an ESME bound on the other node reaches it.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rusmpp::{CommandStatus, Pdu};
use smsgate::app::Gateway;
use smsgate::simulator::ReceiptKnobs;

async fn node(dir: &std::path::Path, name: &str, prefix: &str, smsc_port: u16) -> Arc<Gateway> {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("dir");
    let mut text = config_toml(&d, 0, smsc_port);
    text.push_str(&format!(
        r#"
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{prefix}"
[store]
url = "redis://127.0.0.1:6379/"
prefix = "{prefix}"
[cluster]
node_id = "{name}"
lease_ttl_ms = 1500
"#
    ));
    gateway(load(&text, &d)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_bindings_counts_every_node() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let p = unique("bind");
    let a = node(dir.path(), "A", &p, sim.addr.port()).await;
    let b = node(dir.path(), "B", &p, sim.addr.port()).await;
    let (aa, ba) = (a.smpp_addr().expect("smpp"), b.smpp_addr().expect("smpp"));
    // `single` has max_bindings = 1.
    let (s1, _r1, st) = esme_bind(aa, "trx", "single", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let (_s2, _r2, st) = esme_bind(ba, "trx", "single", "pw").await;
    assert_eq!(
        st,
        CommandStatus::EsmeRbindfail,
        "the bind on node A counts on node B"
    );
    s1.unbind().await;
    let mut ok = false;
    for _ in 0..50 {
        let (_s3, _r3, st) = esme_bind(ba, "trx", "single", "pw").await;
        if st == CommandStatus::EsmeRok {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "after the unbind on node A, node B accepts the bind");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_reaches_an_esme_bound_on_the_other_node() {
    let sim = simulator().await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let p = unique("rcpt");
    let a = node(dir.path(), "A", &p, sim.addr.port()).await;
    let b = node(dir.path(), "B", &p, sim.addr.port()).await;
    let (aa, ba) = (a.smpp_addr().expect("smpp"), b.smpp_addr().expect("smpp"));
    // The receiver is on node B only; the submission comes through node A.
    let (rx_s, mut rx, st) = esme_bind(ba, "rx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let (tx_s, _tx_in, st) = esme_bind(aa, "tx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let resp = tx_s
        .request(submit_sm("33600000042", b"cross-node", 1))
        .await
        .expect("submit_sm_resp");
    assert_eq!(resp.status(), CommandStatus::EsmeRok);
    let id = resp_id(&resp);
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(cmd) = rx.recv().await {
            if let Some(Pdu::DeliverSm(d)) = cmd.pdu() {
                let text = String::from_utf8_lossy(d.short_message().as_ref()).to_string();
                rx_s.respond(
                    cmd.sequence_number,
                    CommandStatus::EsmeRok,
                    rusmpp::pdus::DeliverSmResp::builder().build(),
                )
                .await
                .expect("resp");
                return Some(text);
            }
        }
        None
    })
    .await
    .expect("a receipt within 20 s")
    .expect("deliver_sm");
    assert!(
        got.starts_with(&format!("id:{id} ")) && got.contains("stat:DELIVRD"),
        "receipt for {id}: {got}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// `http_throughput` counts the requests of every node: 30 requests in 0.9 s spread over two
/// nodes (each node's own bucket would let about 19 through) pass at most twice the rate
/// (the 0.9 s span at most two calendar seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_throughput_counts_every_node() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let p = unique("tput");
    let extra = "\n[[users]]\nusername = \"tp\"\npassword = \"tppwd\"\ngid = \"g1\"\nmt_messaging_cred.quota.http_throughput = 5\n";
    let mk = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        let mut text = config_toml(&d, 0, sim.addr.port());
        text.push_str(extra);
        text.push_str(&format!(
            "[broker]\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nprefix = \"{p}\"\n[store]\nurl = \"redis://127.0.0.1:6379/\"\nprefix = \"{p}\"\n[cluster]\nnode_id = \"{name}\"\n"
        ));
        load(&text, &d)
    };
    let a = gateway(mk("A")).await;
    let b = gateway(mk("B")).await;
    let addrs = [a.http_addr.expect("http"), b.http_addr.expect("http")];
    let mut ok = 0;
    let mut throttled = 0;
    for i in 0..30 {
        let (st, body) = get(
            addrs[i % 2],
            &format!("/send?username=tp&password=tppwd&to=3360000{i:04}&content=t"),
        )
        .await;
        match st {
            200 => ok += 1,
            403 => throttled += 1,
            _ => panic!("unexpected answer {st} {body}"),
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    eprintln!("http_throughput 5/s over two nodes: {ok} accepted, {throttled} throttled");
    assert!(
        (5..=10).contains(&ok),
        "{ok} accepted in 0.9 s at 5/s over the cluster"
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// Third-party consumers of Jasmin's internal routing keys (spec 3.15.1) find them:
/// `submit.sm.resp.<cid>`, `dlr.submit_sm_resp`, `deliver.sm.<cid>`, `dlr.deliver_sm` on
/// `messaging` and `bill_request.submit_sm_resp.<uid>` on `billing`, as versioned JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_consumers_see_jasmins_routing_keys() {
    use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let p = unique("events");
    let d = dir.path().join("A");
    std::fs::create_dir_all(&d).expect("dir");
    // bob: rate 0.4 with 50% charged at submission, the rest when the SMSC accepts.
    let text = config_toml(&d, 0, sim.addr.port()).replace(
        "mt_messaging_cred.quota = { balance = 1.0, sms_count = 5 }",
        "mt_messaging_cred.quota = { balance = 1.0, early_percent = 50 }",
    ) + &format!(
        r#"
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{p}"
events = true
[store]
url = "redis://127.0.0.1:6379/"
prefix = "{p}"
[cluster]
node_id = "A"
"#
    );
    let gw = gateway(load(&text, &d)).await;
    // The operator's consumer: an exclusive queue bound to the five keys.
    let conn = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ");
    let ch = conn.create_channel().await.expect("channel");
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    for (exchange, key) in [
        ("messaging", "submit.sm.resp.*"),
        ("messaging", "deliver.sm.*"),
        ("messaging", "dlr.*"),
        ("billing", "bill_request.submit_sm_resp.*"),
    ] {
        ch.queue_bind(
            q.name().as_str().into(),
            format!("{p}{exchange}").as_str().into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    }
    let mut consumer = ch
        .basic_consume(
            q.name().as_str().into(),
            "events".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    wait_for(15, "connector bound", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let rcv = receiver().await;
    let (st, body) = get(
        gw.http_addr.expect("http"),
        &format!(
            "/send?username=bob&password=bobpwd&to=33600000001&content=hi&dlr=yes&dlr-level=2&dlr-url={}",
            rcv.url("/dlr")
        ),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let id = body
        .strip_prefix("Success \"")
        .and_then(|b| b.strip_suffix('"'))
        .expect("message id")
        .to_string();
    wait_for(15, "the DLR callback", || rcv.count() >= 1).await;
    assert!(sim.inject_mo("33611111111", "1234", b"hello").await >= 1);

    let mut seen = std::collections::HashMap::<String, serde_json::Value>::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut mo_seen = false;
    while !(seen.len() >= 5 && mo_seen) {
        let d = tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut consumer))
            .await
            .unwrap_or_else(|_| panic!("events seen: {seen:#?}"))
            .expect("stream")
            .expect("delivery");
        let key = d.routing_key.to_string();
        let v: serde_json::Value = serde_json::from_slice(&d.data).expect("JSON body");
        assert_eq!(v["v"], 1, "{key}: {v}");
        if key == "deliver.sm.sim" && v["receipt"] == false {
            assert_eq!(v["source_addr"], "33611111111");
            assert_eq!(v["short_message_hex"], hex::encode("hello"));
            mo_seen = true;
            continue;
        }
        seen.insert(key, v);
    }
    let resp = &seen["submit.sm.resp.sim"];
    assert_eq!(resp["id"], id.as_str());
    assert_eq!(resp["command_status"], 0);
    assert_eq!(resp["user"], "bob");
    let smsc_id = resp["smsc_message_id"]
        .as_str()
        .expect("smsc id")
        .to_string();
    let track = &seen["dlr.submit_sm_resp"];
    assert_eq!(track["id"], id.as_str());
    assert_eq!(track["smsc_message_ids"][0], smsc_id.as_str());
    let bill = &seen["bill_request.submit_sm_resp.bob"];
    assert_eq!(bill["id"], id.as_str());
    assert!(
        (bill["amount"].as_f64().expect("amount") - 0.2).abs() < 1e-9,
        "{bill}"
    );
    assert_eq!(seen["deliver.sm.sim"]["receipt"], true);
    let dlr = &seen["dlr.deliver_sm"];
    assert_eq!(dlr["smsc_message_id"], smsc_id.as_str());
    assert_eq!(dlr["stat"], "DELIVRD");
    assert_eq!(dlr["id"], id.as_str());
    gw.shutdown().await;
    let _ = conn.close(0, "done".into()).await;
}
