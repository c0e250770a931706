//! The conformance suite every [`Broker`] implementation must pass (embedded today, AMQP in
//! cluster mode). Each check panics with a message on failure; tests call [`run_all`] with a
//! fresh broker and a unique queue prefix.

use std::time::Duration;

use super::Broker;
use smsgate_core::model::message::{now_ms, SCHEMA_VERSION};
use smsgate_core::model::{Address, Channel, Direction, Message, Part};

/// A minimal MT message for the suite.
pub fn sample(user: &str, priority: u8, text: &str) -> Message {
    Message {
        v: SCHEMA_VERSION,
        id: uuid::Uuid::new_v4(),
        direction: Direction::Mt,
        channel: Channel::Http,
        user: Some(user.into()),
        group: Some("g".into()),
        connector: "c".into(),
        source: Address::default(),
        destination: Address {
            addr: "33600000000".into(),
            ton: 1,
            npi: 1,
        },
        data_coding: 0,
        protocol_id: 0,
        priority,
        registered_delivery: 0,
        replace_if_present: 0,
        sm_default_msg_id: 0,
        service_type: String::new(),
        validity_period: String::new(),
        schedule_delivery_time: String::new(),
        parts: vec![Part {
            short_message: text.as_bytes().to_vec(),
            esm_class: 0,
            tlvs: vec![],
        }],
        tlvs: vec![],
        tags: vec![],
        locked_params: vec![],
        dlr: None,
        rate: 0.0,
        created_at: now_ms(),
        expires_at: now_ms() + 3_600_000,
        not_before: None,
        batch_id: None,
        callback: None,
        republished: false,
        tries: 0,
        sent_parts: vec![],
        bill_rest: 0.0,
    }
}

fn text(m: &Message) -> String {
    String::from_utf8_lossy(&m.parts[0].short_message).into_owned()
}

/// Wait (up to 10 s) until `n` messages of `q` are ready to be received: a broker may hand
/// out only what already reached this consumer (`receive` returns "up to `max`", possibly
/// none), so checks that expect a whole batch wait for it first.
pub async fn settle(b: &dyn Broker, q: &str, n: u64) {
    let t0 = std::time::Instant::now();
    if n > 0 {
        tokio::time::timeout(Duration::from_secs(10), b.wait_ready(q))
            .await
            .expect("something becomes ready");
    }
    loop {
        let s = b.stats(q).await.expect("stats");
        if s.ready >= n {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{q}: {n} messages never became ready ({s:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Run every check.
pub async fn run_all(b: &dyn Broker, prefix: &str) {
    fifo_and_ack(b, &format!("{prefix}.fifo")).await;
    priority_and_fairness(b, &format!("{prefix}.prio")).await;
    requeue_delay(b, &format!("{prefix}.delay")).await;
    release_redelivers(b, &format!("{prefix}.release")).await;
    purge_and_move(b, &format!("{prefix}.purge"), &format!("{prefix}.moved")).await;
}

/// Messages of one owner and priority come out in publish order; acked ones are gone.
pub async fn fifo_and_ack(b: &dyn Broker, q: &str) {
    for i in 0..20 {
        b.publish(q, &sample("u", 0, &format!("m{i}")))
            .await
            .expect("publish");
    }
    settle(b, q, 20).await;
    let got = b.receive(q, 100).await.expect("receive");
    let texts: Vec<String> = got.iter().map(|d| text(&d.message)).collect();
    let want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, want, "FIFO order within one owner and priority");
    assert!(
        got.iter().all(|d| !d.redelivered),
        "first delivery is not redelivered"
    );
    assert_eq!(b.stats(q).await.expect("stats").unacked, 20);
    for d in &got {
        b.ack(q, d.tag).await.expect("ack");
    }
    assert!(
        b.ack(q, got[0].tag).await.is_err(),
        "double ack is an error"
    );
    let s = b.stats(q).await.expect("stats");
    assert_eq!(
        (s.ready, s.delayed, s.unacked),
        (0, 0, 0),
        "empty after acks"
    );
    assert!(b.receive(q, 10).await.expect("receive").is_empty());
}

/// Priority 3 before 0; within a priority, owners alternate.
pub async fn priority_and_fairness(b: &dyn Broker, q: &str) {
    for i in 0..6 {
        b.publish(q, &sample("bulk", 0, &format!("bulk{i}")))
            .await
            .expect("publish");
    }
    b.publish(q, &sample("otp", 0, "otp0"))
        .await
        .expect("publish");
    b.publish(q, &sample("otp", 0, "otp1"))
        .await
        .expect("publish");
    b.publish(q, &sample("vip", 3, "vip0"))
        .await
        .expect("publish");
    settle(b, q, 9).await;
    let got = b.receive(q, 100).await.expect("receive");
    let texts: Vec<String> = got.iter().map(|d| text(&d.message)).collect();
    assert_eq!(texts[0], "vip0", "highest priority first: {texts:?}");
    let pos = |t: &str| texts.iter().position(|x| x == t).unwrap_or(usize::MAX);
    assert!(
        pos("otp0") <= 3 && pos("otp1") <= 5,
        "the small sender is not starved: {texts:?}"
    );
    for d in got {
        b.ack(q, d.tag).await.expect("ack");
    }
}

/// A requeued message with a delay comes back only after the delay, with its new body.
pub async fn requeue_delay(b: &dyn Broker, q: &str) {
    b.publish(q, &sample("u", 1, "x")).await.expect("publish");
    settle(b, q, 1).await;
    let d = b
        .receive(q, 1)
        .await
        .expect("receive")
        .pop()
        .expect("one delivery");
    let mut m = d.message.clone();
    m.tries += 1;
    b.requeue(q, d.tag, &m, Duration::from_millis(300))
        .await
        .expect("requeue");
    assert!(
        b.receive(q, 1).await.expect("receive").is_empty(),
        "not before the delay"
    );
    assert_eq!(b.stats(q).await.expect("stats").delayed, 1);
    let t0 = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), b.wait_ready(q))
        .await
        .expect("ready after delay");
    assert!(t0.elapsed() >= Duration::from_millis(200), "delay honoured");
    let d2 = b
        .receive(q, 1)
        .await
        .expect("receive")
        .pop()
        .expect("redelivered");
    assert_eq!(d2.message.tries, 1, "new body kept");
    assert_eq!(d2.message.id, m.id);
    b.ack(q, d2.tag).await.expect("ack");
}

/// Deliveries released by a consumer (it stopped) are delivered again.
pub async fn release_redelivers(b: &dyn Broker, q: &str) {
    for i in 0..3 {
        b.publish(q, &sample("u", 0, &format!("r{i}")))
            .await
            .expect("publish");
    }
    settle(b, q, 3).await;
    let got = b.receive(q, 10).await.expect("receive");
    assert_eq!(got.len(), 3);
    assert_eq!(b.release_all(q).await.expect("release"), 3);
    settle(b, q, 3).await;
    let again = b.receive(q, 10).await.expect("receive");
    assert_eq!(again.len(), 3, "released deliveries come back");

    for d in again {
        b.ack(q, d.tag).await.expect("ack");
    }
}

/// Purge drops waiting messages; move_all moves them to another queue.
pub async fn purge_and_move(b: &dyn Broker, q: &str, other: &str) {
    for i in 0..5 {
        b.publish(q, &sample("u", 0, &format!("p{i}")))
            .await
            .expect("publish");
    }
    assert_eq!(b.peek(q, 2).await.expect("peek").len(), 2);
    assert_eq!(b.move_all(q, other).await.expect("move"), 5);
    assert_eq!(b.stats(q).await.expect("stats").ready, 0);
    assert_eq!(b.stats(other).await.expect("stats").ready, 5);
    assert_eq!(b.purge(other).await.expect("purge"), 5);
    assert!(b.receive(other, 10).await.expect("receive").is_empty());
}

/// A consumer dies holding deliveries (process killed, connection lost): another consumer
/// (`next`, opened after `kill`) gets them again, flagged `redelivered`; acked ones are gone.
pub async fn redelivery_after_death<K, KF, O, OF>(
    first: std::sync::Arc<dyn Broker>,
    kill: K,
    open: O,
    q: &str,
) where
    K: FnOnce(std::sync::Arc<dyn Broker>) -> KF,
    KF: std::future::Future<Output = ()>,
    O: FnOnce() -> OF,
    OF: std::future::Future<Output = std::sync::Arc<dyn Broker>>,
{
    for i in 0..5 {
        first
            .publish(q, &sample("u", 0, &format!("d{i}")))
            .await
            .expect("publish");
    }
    settle(&*first, q, 5).await;
    let got = first.receive(q, 2).await.expect("receive");
    assert_eq!(got.len(), 2);
    first.ack(q, got[0].tag).await.expect("ack");
    let in_flight = got[1].message.id;
    kill(first).await;
    let next = open().await;
    settle(&*next, q, 4).await;
    let again = next.receive(q, 10).await.expect("receive");
    assert_eq!(again.len(), 4, "the acked one is gone, the rest survive");
    let d = again
        .iter()
        .find(|d| d.message.id == in_flight)
        .expect("the delivery in flight comes back");
    assert!(
        d.redelivered,
        "the one in flight is flagged as a possible duplicate"
    );
    for d in again {
        next.ack(q, d.tag).await.expect("ack");
    }
}
