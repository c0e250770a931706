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
async fn bodies_beyond_the_cache_come_from_disk_and_requeued_hand_outs_stay_flagged() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("q.db");
    let texts: Vec<String> = (0..20).map(|i| format!("message {i}")).collect();
    {
        let db = Db::open(&path, true, 1024).expect("db");
        // Room for about three bodies: the rest are read from the file when handed out.
        let one = bc::sample("u", 0, "x").to_bytes().len();
        let b = EmbeddedBroker::open_with_cache(db, one * 3 + 10)
            .await
            .expect("broker");
        for t in &texts {
            b.publish("q", &bc::sample("u", 0, t))
                .await
                .expect("publish");
        }
        let got = b.receive("q", 20).await.expect("receive");
        let read: Vec<String> = got
            .iter()
            .map(|d| String::from_utf8_lossy(&d.message.parts[0].short_message).into_owned())
            .collect();
        assert_eq!(read, texts, "every body, cached or not, as published");
        // #0 goes back (its link went down), #1 stays in flight, the rest are acked.
        b.requeue("q", got[0].tag, &got[0].message, Duration::ZERO)
            .await
            .expect("requeue");
        for d in &got[2..] {
            b.ack("q", d.tag).await.expect("ack");
        }
        let again = b.receive("q", 5).await.expect("receive");
        assert_eq!(again.len(), 1);
        assert!(
            !again[0].redelivered,
            "a requeue in the same process is no redelivery"
        );
        assert_eq!(
            String::from_utf8_lossy(&again[0].message.parts[0].short_message),
            texts[0]
        );
        // The process "dies" with #0 and #1 handed out.
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for round in 0..2 {
        let db = Db::open(&path, true, 1024).expect("db");
        let b = EmbeddedBroker::open(db).await.expect("broker");
        let got = b.receive("q", 10).await.expect("receive");
        assert_eq!(got.len(), 2, "round {round}: the two not acked survive");
        assert!(
            got.iter().all(|d| d.redelivered),
            "round {round}: both were handed out before the stop"
        );
        // Never acked: both come back flagged again after the next start.
    }
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
