//! The broker and store conformance suites against the embedded implementation, plus the
//! embedded queue's crash recovery.

use std::sync::Arc;
use std::time::Duration;

use smsgate::broker::embedded::EmbeddedBroker;
use smsgate::broker::{conformance as bc, Broker};
use smsgate::db::Db;
use smsgate::store::embedded::EmbeddedStore;
use smsgate::store::{conformance as sc, Store};

#[tokio::test]
async fn embedded_broker_conformance() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Db::open(&dir.path().join("q.db"), true, 1024).expect("db");
    let b = EmbeddedBroker::open(db).await.expect("broker");
    bc::run_all(&*b, "t").await;
}

#[tokio::test]
async fn embedded_store_conformance() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Db::open(&dir.path().join("s.db"), false, 1024).expect("db");
    let s: Arc<dyn Store> = EmbeddedStore::open(db, Duration::from_secs(60))
        .await
        .expect("store");
    sc::run_all(s, "t").await;
}

#[tokio::test]
async fn unacked_deliveries_come_back_redelivered_after_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("q.db");
    {
        let db = Db::open(&path, true, 1024).expect("db");
        let b = EmbeddedBroker::open(db).await.expect("broker");
        for i in 0..5 {
            b.publish("q", &bc::sample("u", 0, &format!("m{i}")))
                .await
                .expect("publish");
        }
        let got = b.receive("q", 2).await.expect("receive");
        b.ack("q", got[0].tag).await.expect("ack");
        // got[1] handed out, never acked: the process "dies" here.
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let db = Db::open(&path, true, 1024).expect("db");
    let b = EmbeddedBroker::open(db).await.expect("broker");
    let got = b.receive("q", 10).await.expect("receive");
    assert_eq!(got.len(), 4, "acked one is gone, the rest survive");
    assert!(
        got[0].redelivered,
        "the one in flight is flagged as a possible duplicate"
    );
    assert!(got[1..].iter().all(|d| !d.redelivered));
}

#[tokio::test]
async fn embedded_redelivery_after_consumer_dies() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("q.db");
    let db = Db::open(&path, true, 1024).expect("db");
    let first: Arc<dyn Broker> = EmbeddedBroker::open(db).await.expect("broker");
    let p2 = path.clone();
    bc::redelivery_after_death(
        first,
        |b| async move {
            drop(b);
            tokio::time::sleep(Duration::from_millis(100)).await;
        },
        || async move {
            let db = Db::open(&p2, true, 1024).expect("db");
            EmbeddedBroker::open(db).await.expect("broker") as Arc<dyn Broker>
        },
        "q",
    )
    .await;
}
