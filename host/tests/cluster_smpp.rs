//! The SMPP server in a cluster (two gateways in-process on RabbitMQ and Redis): `max_bindings`
//! counts the binds of every node, and a receipt for an ESME bound on the other node reaches it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rusmpp::{CommandStatus, Pdu};
use smsgate::app::Gateway;
use smsgate::simulator::ReceiptKnobs;

fn unique(tag: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("s{}{}-{tag}.", std::process::id(), n % 1_000_000_000)
}

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
