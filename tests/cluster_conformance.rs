//! The broker and store conformance suites against the cluster implementations: RabbitMQ
//! (classic and quorum queues) and Redis (+ PostgreSQL history), on the local services that
//! `scripts/test.sh` starts. Every test uses its own name prefix, so tests run concurrently.

use std::sync::Arc;
use std::time::Duration;

use crate::common::unique;
use smsgate::broker::amqp::{AmqpBroker, AmqpConfig};
use smsgate::broker::{conformance as bc, Broker};
use smsgate::store::redis::{RedisConfig, RedisStore};
use smsgate::store::{conformance as sc, Balance, Charge, Store};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS: &str = "redis://127.0.0.1:6379/";
const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

async fn amqp(prefix: &str, quorum: bool) -> Arc<AmqpBroker> {
    AmqpBroker::connect(AmqpConfig {
        url: AMQP.into(),
        prefix: prefix.into(),
        prefetch: 64,
        quorum,
        publish_channels: 2,
        events: false,
    })
    .await
    .expect("RabbitMQ at 127.0.0.1:5672 (scripts/test.sh starts it)")
}

async fn redis(prefix: &str, history: bool) -> Arc<RedisStore> {
    RedisStore::connect(RedisConfig {
        url: REDIS.into(),
        prefix: prefix.into(),
        history_url: history.then(|| PG.to_string()),
        record_ttl: Duration::from_secs(60),
    })
    .await
    .expect("Redis at 127.0.0.1:6379 and PostgreSQL (scripts/test.sh starts them)")
}

async fn cleanup(b: &AmqpBroker) {
    let qs = [
        "q.fifo",
        "q.prio",
        "q.delay",
        "q.release",
        "q.purge",
        "q.moved",
    ];
    assert_eq!(
        b.delete_queues(&qs, &[300]).await.expect("delete"),
        0,
        "the suite leaves its queues empty"
    );
}

#[tokio::test]
async fn amqp_broker_conformance_classic() {
    let p = unique("classic");
    let b = amqp(&p, false).await;
    bc::run_all(&*b, "q").await;
    cleanup(&b).await;
}

#[tokio::test]
async fn amqp_broker_conformance_quorum() {
    let p = unique("quorum");
    let b = amqp(&p, true).await;
    bc::run_all(&*b, "q").await;
    cleanup(&b).await;
}

#[tokio::test]
async fn amqp_redelivery_after_consumer_dies() {
    let p = unique("death");
    let first = amqp(&p, false).await;
    let killer = first.clone();
    let p2 = p.clone();
    bc::redelivery_after_death(
        first,
        |b| async move {
            drop(b);
            killer.disconnect().await;
        },
        || async move { amqp(&p2, false).await as Arc<dyn Broker> },
        "q.death",
    )
    .await;
    let b = amqp(&p, false).await;
    b.delete_queues(&["q.death"], &[]).await.expect("cleanup");
}

#[tokio::test]
async fn redis_store_conformance_with_postgres_history() {
    let p = unique("store");
    let s: Arc<dyn Store> = redis(&p, true).await;
    sc::run_all(s, &p).await;
}

#[tokio::test]
async fn redis_store_conformance_records_in_redis() {
    let p = unique("store-rec");
    let s: Arc<dyn Store> = redis(&p, false).await;
    sc::run_all(s, &p).await;
}

/// Two nodes: a change on one is heard on the other within a second; charges from both never
/// overspend; a lease is held by one node at a time.
#[tokio::test]
async fn redis_two_nodes_share_state() {
    let p = unique("nodes");
    let a = redis(&p, false).await;
    let b = redis(&p, false).await;
    let mut rx = b.subscribe();
    a.set("config:mtroute:10", b"{}", None).await.expect("set");
    let k = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("notification within a second")
        .expect("notification");
    assert_eq!(k, "config:mtroute:10");
    assert_eq!(
        b.get("config:mtroute:10").await.expect("get"),
        Some(b"{}".to_vec())
    );

    let u = "alice";
    assert!(a
        .balance_seed(
            u,
            Balance {
                balance: Some(30.0),
                sms_count: None
            }
        )
        .await
        .expect("seed"));
    let mut tasks = vec![];
    for i in 0..100 {
        let s: Arc<dyn Store> = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.balance_charge("alice", 0.7, 1).await.expect("charge")
        }));
    }
    let mut done = 0;
    for t in tasks {
        if matches!(t.await.expect("task"), Charge::Done(_)) {
            done += 1;
        }
    }
    assert_eq!(done, 42, "30 / 0.7 = 42 charges fit, across both nodes");
    let left = b
        .balance_get(u)
        .await
        .expect("get")
        .balance
        .expect("limited");
    assert!((left - (30.0 - 42.0 * 0.7)).abs() < 1e-6, "left {left}");

    // An unlimited user's charges are answered locally; a limit set on another node applies
    // within a second.
    b.balance_seed("vic", Balance::default())
        .await
        .expect("seed");
    assert!(matches!(
        b.balance_charge("vic", 5.0, 1).await.expect("charge"),
        Charge::Done(_)
    ));
    a.balance_set(
        "vic",
        Balance {
            balance: Some(1.0),
            sms_count: None,
        },
    )
    .await
    .expect("set");
    let t0 = std::time::Instant::now();
    loop {
        match b.balance_charge("vic", 5.0, 1).await.expect("charge") {
            Charge::Insufficient(bal) => {
                assert_eq!(bal.balance, Some(1.0));
                break;
            }
            Charge::Done(_) => assert!(
                t0.elapsed() < Duration::from_secs(1),
                "the new limit never reached node B"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    assert!(a
        .try_lease("smppc:x", "node-a", Duration::from_secs(5))
        .await
        .expect("lease"));
    assert!(!b
        .try_lease("smppc:x", "node-b", Duration::from_secs(5))
        .await
        .expect("lease"));
    let t1 = a.fencing_token("smppc:x").await.expect("token");
    a.release_lease("smppc:x", "node-a").await.expect("release");
    assert!(b
        .try_lease("smppc:x", "node-b", Duration::from_secs(5))
        .await
        .expect("lease"));
    assert_eq!(
        b.fencing_token("smppc:x").await.expect("token"),
        t1 + 1,
        "a new holder gets a higher fencing token"
    );
}

/// Records written concurrently land in one batch: two records of one message in the same
/// batch become one row (the later status wins, the SMSC id already known is kept), and
/// every caller's own row is written when its call returns.
#[tokio::test]
async fn postgres_history_group_commits_records_of_one_message() {
    use smsgate::store::pg_records::PgRecords;
    use smsgate::store::MessageRecord;
    let h = PgRecords::open(PG, Duration::from_secs(3600))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (scripts/test.sh starts it)");
    let id = unique("pgbatch");
    let rec = |status: &str, smsc_id: Option<&str>, at: i64| MessageRecord {
        id: id.clone(),
        status: status.into(),
        connector: "sim".into(),
        smsc_id: smsc_id.map(str::to_string),
        detail: None,
        updated_at: at,
    };
    let other = MessageRecord {
        id: format!("{id}-other"),
        ..rec("ESME_ROK", Some("x1"), 1)
    };
    let (first, second) = (rec("ESME_ROK", Some("abc"), 1), rec("DELIVRD", None, 2));
    let (a, b, c) = tokio::join!(h.record(&first), h.record(&second), h.record(&other));
    a.expect("first");
    b.expect("second");
    c.expect("other");
    let r = h.get(&id).await.expect("get").expect("row");
    assert_eq!(
        (r.status.as_str(), r.smsc_id.as_deref(), r.updated_at),
        ("DELIVRD", Some("abc"), 2)
    );
    let o = h.get(&other.id).await.expect("get").expect("row");
    assert_eq!(o.smsc_id.as_deref(), Some("x1"));
}
