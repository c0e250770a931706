//! HTTP callback throwers: DLRs to `dlr-url` and MO to HTTP client connectors.
//!
//! Jobs are durable queue messages (`dlr_thrower.http`, `deliver_sm_thrower.http`) carrying a
//! [`Callback`](smsgate_core::model::Callback). A call succeeds only on status 200 with the body
//! `ACK/Jasmin`; otherwise it is tried again after `retry_delay`, `max_retries` attempts in
//! all. Connections are pooled (keep-alive) and each target host has its own concurrency
//! limit (`per_host_concurrency`), so one slow receiver cannot hold up the others: at most as
//! many calls again wait for a busy host, and further ones are put back in the queue for
//! `retry_delay` without a try spent (a dead receiver with thousands pending holds a bounded
//! share of `max_in_flight`, and its pending calls stay in the durable queue, not in memory). DLR targets (client-supplied
//! `dlr-url`) are checked against the `[callbacks]` policy before each call and again on the
//! addresses the connection is made to; MO targets (operator-configured HTTP client
//! connectors) are trusted and never checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use smsgate_core::config::{CallbacksConfig, ThrowerConfig};
use smsgate_core::model::{Callback, CallbackKind};
use smsgate_core::stats::Stats;
use smsgate_policy::callbacks;
use smsgate_queue::broker::{Broker, Delivery};

use crate::consume::Consumer;

/// The pooled HTTP(S) client of callbacks.
pub type HttpClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The client of client-supplied callbacks: every connection is checked by the
/// [`CallbackGuard`](callbacks::CallbackGuard) and pinned to the checked address.
pub type PinnedClient =
    Client<hyper_rustls::HttpsConnector<callbacks::PinnedConnector>, Full<Bytes>>;

/// The TLS settings of callback clients: the system's roots, or none if they cannot load.
fn tls_config() -> tokio_rustls::rustls::ClientConfig {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(roots.clone())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            tokio_rustls::rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        })
}

/// A pooled HTTP(S) client that connects only to addresses `guard` allows under `rules`,
/// checked on the addresses it resolves at connect time. Redirects are never followed (a 3xx
/// is a failed attempt like any other answer).
pub fn pinned_client(
    guard: Arc<callbacks::CallbackGuard>,
    rules: callbacks::Rules,
) -> PinnedClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(callbacks::PinnedConnector::new(guard, rules));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(https)
}

/// One pinned client per set of rules (the global policy and the users' own policies).
pub struct PinnedClients {
    guard: Arc<callbacks::CallbackGuard>,
    clients: Mutex<HashMap<callbacks::Rules, PinnedClient>>,
}

impl PinnedClients {
    /// Clients checked by `guard`.
    pub fn new(guard: Arc<callbacks::CallbackGuard>) -> Self {
        PinnedClients {
            guard,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The guard.
    pub fn guard(&self) -> &Arc<callbacks::CallbackGuard> {
        &self.guard
    }

    /// The client for `rules`.
    pub fn get(&self, rules: callbacks::Rules) -> PinnedClient {
        self.clients
            .lock()
            .entry(rules)
            .or_insert_with(|| pinned_client(self.guard.clone(), rules))
            .clone()
    }
}

/// Build a pooled HTTP(S) client (no address policy: for callers that check targets
/// themselves).
pub fn http_client() -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map(|b| b.https_or_http().enable_http1().build())
        .unwrap_or_else(|_| {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(
                    tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                        tokio_rustls::rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .map(|b| {
                        b.with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
                            .with_no_client_auth()
                    })
                    .unwrap_or_else(|_| {
                        tokio_rustls::rustls::ClientConfig::builder()
                            .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
                            .with_no_client_auth()
                    }),
                )
                .https_or_http()
                .enable_http1()
                .build()
        });
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(https)
}

/// One thrower: consumes one queue.
pub struct Thrower {
    pub queue: &'static str,
    pub kind: CallbackKind,
    pub broker: Arc<dyn Broker>,
    pub cfg: ThrowerConfig,
    pub stats: Arc<Stats>,
    /// Metric prefix (`dlr_thrower`, `deliversm_thrower`).
    pub prefix: &'static str,
    /// DLRs (client-supplied `dlr-url`): clients checked by the callback guard.
    pub clients: PinnedClients,
    /// MO to HTTP client connectors: operator-configured, trusted, never checked.
    pub trusted: HttpClient,
    /// Where a DLR given up by the policy is noted on the message's record.
    pub store: Option<Arc<dyn smsgate_queue::store::Store>>,
    /// Where HTTP client connectors are marked failing / healthy (failover MO routes).
    pub availability: Option<Arc<smsgate_routing::LiveAvailability>>,
    hosts: Mutex<HashMap<String, Arc<HostLimit>>>,
}

/// One target host's share: `open` calls at a time, and as many waiting for one.
struct HostLimit {
    open: Semaphore,
    waiting: Semaphore,
}

/// How one call went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// Not tried: its host has as many calls waiting as open. Put back, no try spent.
    Busy,
    Retry(String),
    GiveUp(String),
    /// Refused by the callback policy: given up at once.
    Refused(String),
}

impl Thrower {
    /// A thrower for `queue`.
    pub fn new(
        queue: &'static str,
        kind: CallbackKind,
        broker: Arc<dyn Broker>,
        cfg: ThrowerConfig,
        guard: Arc<callbacks::CallbackGuard>,
        stats: Arc<Stats>,
    ) -> Arc<Thrower> {
        let prefix = match kind {
            CallbackKind::Dlr => "dlr_thrower",
            CallbackKind::Mo => "deliversm_thrower",
        };
        Arc::new(Thrower {
            queue,
            kind,
            broker,
            cfg,
            stats,
            prefix,
            clients: PinnedClients::new(guard),
            trusted: http_client(),
            store: None,
            availability: None,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Note DLRs refused by the callback policy on the message's record in `store`.
    pub fn with_store(
        mut self: Arc<Self>,
        store: Arc<dyn smsgate_queue::store::Store>,
    ) -> Arc<Self> {
        if let Some(me) = Arc::get_mut(&mut self) {
            me.store = Some(store);
        }
        self
    }

    fn policy(&self) -> &CallbacksConfig {
        self.clients.guard().config()
    }

    /// Report HTTP client connectors' health to `a` (the routing tables' availability).
    pub fn with_availability(
        mut self: Arc<Self>,
        a: Arc<smsgate_routing::LiveAvailability>,
    ) -> Arc<Self> {
        if let Some(me) = Arc::get_mut(&mut self) {
            me.availability = Some(a);
        }
        self
    }

    /// Consume the queue until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let consumer = Consumer::new(
            self.broker.clone(),
            self.queue,
            self.policy().max_in_flight.max(1),
        );
        loop {
            let first = tokio::select! {
                p = consumer.permit() => p,
                _ = stop.cancelled() => break,
            };
            let Some(first) = first else { break };
            tokio::select! {
                _ = consumer.ready() => {}
                _ = stop.cancelled() => break,
            }
            let ds = consumer.take((consumer.room() + 1).min(256)).await;
            let mut first = Some(first);
            for d in ds {
                let permit = match first.take() {
                    Some(p) => p,
                    None => match consumer.permit().await {
                        Some(p) => p,
                        None => break,
                    },
                };
                let me = self.clone();
                consumer.spawn(async move {
                    me.handle(d).await;
                    drop(permit);
                });
            }
        }
        // Calls in flight finish (each is bounded by the call timeout) before the queue gets
        // back what this consumer holds.
        consumer.finish(Some(Duration::from_secs(30))).await;
        let _ = self.broker.release_all(self.queue).await;
    }

    async fn handle(&self, d: Delivery) {
        let mut m = d.message;
        let Some(cb) = m.callback.clone() else {
            tracing::warn!(queue = self.queue, id = %m.id, "thrower: job without callback dropped");
            let _ = self.broker.ack(self.queue, d.tag).await;
            return;
        };
        let started = std::time::SystemTime::now();
        let outcome = self.call(&cb, m.user.as_deref()).await;
        let stats = self.stats.thrower(self.prefix, &m.connector);
        if outcome == Outcome::Busy {
            stats.deferred_count.inc();
            let delay = Duration::from_secs(self.cfg.retry_delay.max(1));
            if let Err(e) = self.broker.requeue(self.queue, d.tag, &m, delay).await {
                tracing::warn!(error = %e, "thrower: requeue failed");
            }
            return;
        }
        self.trace(&cb, started, &outcome, m.tries + 1);
        m.tries += 1;
        let max = self.cfg.max_retries.max(1);
        // Jobs queued by an older version name the connector in a tag `http:<cid>`.
        let http_connector = cb
            .http_connector
            .as_deref()
            .or_else(|| m.tags.iter().find_map(|t| t.strip_prefix("http:")));
        if let (Some(a), Some(cid)) = (&self.availability, http_connector) {
            a.set_failing(
                &smsgate_routing::ConnectorRef::Http(cid.to_string()),
                outcome != Outcome::Ok,
            );
        }
        let outcome = match outcome {
            Outcome::Retry(why) if m.tries >= max => {
                Outcome::GiveUp(format!("{why} (after {} attempts)", m.tries))
            }
            o => o,
        };
        match outcome {
            // Handled above.
            Outcome::Busy => {}
            Outcome::Ok => {
                stats.ok_count.inc();
                if let Err(e) = self.broker.ack(self.queue, d.tag).await {
                    tracing::warn!(error = %e, "thrower: ack failed");
                }
            }
            Outcome::Retry(why) => {
                stats.retried_count.inc();
                tracing::info!(kind = ?self.kind, url = %cb.url, tries = m.tries, reason = %why, "callback failed: will retry");
                let delay = Duration::from_secs(self.cfg.retry_delay);
                if let Err(e) = self.broker.requeue(self.queue, d.tag, &m, delay).await {
                    tracing::warn!(error = %e, "thrower: requeue failed");
                }
            }
            Outcome::GiveUp(why) => {
                stats.given_up_count.inc();
                tracing::warn!(kind = ?self.kind, url = %cb.url, reason = %why, "callback given up");
                let _ = self.broker.ack(self.queue, d.tag).await;
            }
            Outcome::Refused(why) => {
                stats.given_up_count.inc();
                tracing::warn!(kind = ?self.kind, url = %cb.url, reason = %why, "callback refused by the [callbacks] policy: given up");
                self.note_refusal(&cb, &why).await;
                let _ = self.broker.ack(self.queue, d.tag).await;
            }
        }
    }

    fn host_limit(&self, authority: &str) -> Arc<HostLimit> {
        let mut h = self.hosts.lock();
        if h.len() > 10_000 {
            h.retain(|_, s| Arc::strong_count(s) > 1);
        }
        h.entry(authority.to_string())
            .or_insert_with(|| {
                let n = self.policy().per_host_concurrency.max(1);
                Arc::new(HostLimit {
                    open: Semaphore::new(n),
                    waiting: Semaphore::new(n),
                })
            })
            .clone()
    }

    /// Note a DLR refused by the policy on its message's record (`detail`).
    async fn note_refusal(&self, cb: &Callback, why: &str) {
        let (Some(store), CallbackKind::Dlr) = (&self.store, self.kind) else {
            return;
        };
        let Some(id) = cb.params.iter().find(|(k, _)| k == "id").map(|(_, v)| v) else {
            return;
        };
        if let Ok(Some(mut rec)) = store.record_get(id).await {
            rec.detail = Some(format!("DLR callback refused: {why}"));
            if let Err(e) = store.record(rec).await {
                tracing::warn!(error = %e, "thrower: cannot note the refusal on the record");
            }
        }
    }

    /// The `smsgate.callback` span of one attempt at `cb`, in the trace of the message it
    /// is about (its `id` parameter: the MT of a receipt, the MO itself).
    fn trace(&self, cb: &Callback, started: std::time::SystemTime, outcome: &Outcome, try_no: u32) {
        if !smsgate_core::trace::enabled() {
            return;
        }
        let Some(id) = cb
            .params
            .iter()
            .find(|(k, _)| k == "id")
            .and_then(|(_, v)| uuid::Uuid::parse_str(v).ok())
        else {
            return;
        };
        use smsgate_core::trace;
        let now = std::time::SystemTime::now();
        trace::phase(
            &id,
            "smsgate.callback",
            trace::Kind::Client,
            started,
            now,
            |a| {
                let host = cb
                    .url
                    .parse::<hyper::Uri>()
                    .ok()
                    .and_then(|u| u.host().map(str::to_string))
                    .unwrap_or_default();
                let outcome = match outcome {
                    Outcome::Ok => "ok".to_string(),
                    Outcome::Busy => "busy".to_string(),
                    Outcome::Retry(why) => format!("retry: {why}"),
                    Outcome::GiveUp(why) => format!("given up: {why}"),
                    Outcome::Refused(why) => format!("refused: {why}"),
                };
                a.str(
                    "smsgate.kind",
                    match self.kind {
                        CallbackKind::Dlr => "dlr",
                        CallbackKind::Mo => "mo",
                    },
                )
                .str("server.address", host)
                .str("smsgate.outcome", outcome)
                .int("smsgate.try", i64::from(try_no));
            },
        );
    }

    async fn call(&self, cb: &Callback, user: Option<&str>) -> Outcome {
        // MO goes to operator-configured HTTP client connectors: trusted, never checked.
        let (target, client) = match self.kind {
            CallbackKind::Mo => match callbacks::normalise(&cb.url) {
                Ok(t) => (t, None),
                Err(e) => return Outcome::GiveUp(e.to_string()),
            },
            CallbackKind::Dlr => {
                let guard = self.clients.guard();
                let rules = guard.rules_for(user);
                match guard.check_url(&cb.url, rules) {
                    Ok(t) => (t, Some(self.clients.get(rules))),
                    Err(e) => {
                        if let Some(r) = e.reason() {
                            guard.count("send", r);
                        }
                        return Outcome::Refused(e.to_string());
                    }
                }
            }
        };
        let limit = self.host_limit(&target.authority);
        // A call of its own, or a place in the line for one; a host with a full line gets
        // no more of this thrower's `max_in_flight`.
        let _permit = match limit.open.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                let Ok(_in_line) = limit.waiting.try_acquire() else {
                    return Outcome::Busy;
                };
                let Ok(p) = limit.open.acquire().await else {
                    return Outcome::Retry("host limiter closed".into());
                };
                p
            }
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(cb.params.iter())
            .finish();
        let post = cb.method.eq_ignore_ascii_case("POST");
        let url = &target.url;
        let uri = if post {
            url.clone()
        } else if url.contains('?') {
            format!("{url}&{form}")
        } else {
            format!("{url}?{form}")
        };
        let agent = match self.kind {
            CallbackKind::Dlr => "smsgate DLRThrower",
            CallbackKind::Mo => "smsgate deliverSmHttpThrower",
        };
        let req = hyper::Request::builder()
            .method(if post { "POST" } else { "GET" })
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/plain")
            .header("user-agent", agent)
            .body(Full::new(if post {
                Bytes::from(form)
            } else {
                Bytes::new()
            }));
        let req = match req {
            Ok(r) => r,
            Err(e) => return Outcome::GiveUp(format!("cannot build request: {e}")),
        };
        let timeout = Duration::from_secs(self.cfg.http_timeout.max(1));
        let sent = std::time::Instant::now();
        let resp = tokio::time::timeout(timeout, async {
            let resp = match &client {
                Some(c) => c.request(req).await,
                None => self.trusted.request(req).await,
            };
            let resp = resp.map_err(|e| match callbacks::connect_refusal(&e) {
                Some(r) => Err(r.to_string()),
                None => Ok(e.to_string()),
            })?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
                .collect()
                .await
                .map_err(|e| Ok(e.to_string()))?
                .to_bytes();
            Ok::<_, Result<String, String>>((status, body))
        })
        .await;
        if matches!(resp, Ok(Ok(_))) {
            self.stats.latency.callback.observe(sent.elapsed());
        }
        match resp {
            Err(_) => Outcome::Retry(format!("no answer within {}s", timeout.as_secs())),
            Ok(Err(Ok(e))) => Outcome::Retry(e),
            Ok(Err(Err(refused))) => Outcome::Refused(refused),
            Ok(Ok((status, body))) => {
                let text = String::from_utf8_lossy(&body);
                if status == hyper::StatusCode::OK && text.trim().starts_with("ACK/Jasmin") {
                    Outcome::Ok
                } else {
                    Outcome::Retry(format!(
                        "status {status}, body {:?}",
                        text.chars().take(64).collect::<String>()
                    ))
                }
            }
        }
    }
}
