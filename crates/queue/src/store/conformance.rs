//! The conformance suite every [`Store`] implementation must pass.

use std::sync::Arc;
use std::time::Duration;

use super::{Balance, Charge, MessageRecord, Store};

/// Run every check with keys under `prefix`.
pub async fn run_all(s: Arc<dyn Store>, prefix: &str) {
    ttl_keys(&*s, prefix).await;
    counters(s.clone(), prefix).await;
    leases(&*s, prefix).await;
    balances(s.clone(), prefix).await;
    records(&*s, prefix).await;
}

/// Keys expire after their TTL; delete and notifications work.
pub async fn ttl_keys(s: &dyn Store, p: &str) {
    let mut rx = s.subscribe();
    let k = format!("{p}:k");
    s.set(&k, b"v", Some(Duration::from_millis(200)))
        .await
        .expect("set");
    assert_eq!(s.get(&k).await.expect("get").as_deref(), Some(&b"v"[..]));
    assert_eq!(rx.recv().await.expect("notification"), k);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.get(&k).await.expect("get"), None, "expired");
    s.set(&k, b"w", None).await.expect("set");
    assert!(s.delete(&k).await.expect("delete"));
    assert!(!s.delete(&k).await.expect("delete"));
    // replace: the previous unexpired value, atomically.
    let r = format!("{p}:replace");
    let ttl = Some(Duration::from_millis(200));
    assert_eq!(s.replace(&r, b"a", ttl).await.expect("replace"), None);
    assert_eq!(
        s.replace(&r, b"b", ttl).await.expect("replace").as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(s.get(&r).await.expect("get").as_deref(), Some(&b"b"[..]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.replace(&r, b"c", None).await.expect("replace"),
        None,
        "an expired value is no previous value"
    );
    assert!(s.delete(&r).await.expect("delete"));
}

/// Concurrent increments all count.
pub async fn counters(s: Arc<dyn Store>, p: &str) {
    let k = format!("{p}:ctr");
    let mut tasks = vec![];
    for _ in 0..50 {
        let s = s.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(
            async move { s.incr(&k, 2).await.expect("incr") },
        ));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(s.incr(&k, 0).await.expect("incr"), 100);
    // Expiring counters: concurrent increments count, and the key goes away with its TTL.
    let e = format!("{p}:ectr");
    let mut tasks = vec![];
    for _ in 0..20 {
        let s = s.clone();
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            s.incr_ttl(&e, 1, Duration::from_millis(300))
                .await
                .expect("incr_ttl")
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(
        s.incr_ttl(&e, 0, Duration::from_millis(300))
            .await
            .expect("incr_ttl"),
        20
    );
    assert_eq!(s.get(&e).await.expect("get"), Some(b"20".to_vec()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.get(&e).await.expect("get"), None);
    assert_eq!(
        s.incr_ttl(&e, 1, Duration::from_secs(5))
            .await
            .expect("incr_ttl"),
        1
    );
}

/// One holder at a time; a lease expires.
pub async fn leases(s: &dyn Store, p: &str) {
    let l = format!("{p}:lease");
    assert!(s
        .try_lease(&l, "a", Duration::from_millis(200))
        .await
        .expect("lease"));
    assert!(!s
        .try_lease(&l, "b", Duration::from_millis(200))
        .await
        .expect("lease"));
    assert!(s
        .try_lease(&l, "a", Duration::from_millis(200))
        .await
        .expect("renew"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s
        .try_lease(&l, "b", Duration::from_secs(5))
        .await
        .expect("after expiry"));
    s.release_lease(&l, "b").await.expect("release");
    assert!(s
        .try_lease(&l, "a", Duration::from_secs(5))
        .await
        .expect("after release"));
}

/// Concurrent charges never overdraw; seeding never overwrites.
pub async fn balances(s: Arc<dyn Store>, p: &str) {
    let u = format!("{p}-user");
    let init = Balance {
        balance: Some(10.0),
        sms_count: Some(25),
    };
    assert!(s.balance_seed(&u, init).await.expect("seed"));
    assert!(!s
        .balance_seed(&u, Balance::default())
        .await
        .expect("seed again"));
    let mut tasks = vec![];
    for _ in 0..40 {
        let s = s.clone();
        let u = u.clone();
        tasks.push(tokio::spawn(async move {
            s.balance_charge(&u, 0.5, 1).await.expect("charge")
        }));
    }
    let mut done = 0;
    for t in tasks {
        if let Charge::Done(_) = t.await.expect("task") {
            done += 1;
        }
    }
    assert_eq!(done, 20, "exactly balance/rate charges succeed");
    let b = s.balance_get(&u).await.expect("get");
    assert_eq!(b.balance, Some(0.0));
    assert_eq!(b.sms_count, Some(5));
    s.balance_credit(&u, 1.5, 1).await.expect("credit");
    let b = s.balance_get(&u).await.expect("get");
    assert_eq!((b.balance, b.sms_count), (Some(1.5), Some(6)));
    let free = format!("{p}-free");
    s.balance_seed(&free, Balance::default())
        .await
        .expect("seed");
    assert!(matches!(
        s.balance_charge(&free, 99.0, 99).await.expect("charge"),
        Charge::Done(_)
    ));
    assert!(s.balance_get(&free).await.expect("get").unlimited());
}

/// Message records round trip.
pub async fn records(s: &dyn Store, p: &str) {
    let rec = MessageRecord {
        id: format!("{p}-msg"),
        status: "ESME_ROK".into(),
        connector: "c".into(),
        smsc_id: Some("abc".into()),
        detail: None,
        updated_at: 1,
    };
    s.record(rec.clone()).await.expect("record");
    assert_eq!(s.record_get(&rec.id).await.expect("get"), Some(rec));
    assert_eq!(s.record_get("nope").await.expect("get"), None);
}
