//! One stats registry: the counters that jCli `stats` and `/metrics` both read.
//! Names and help texts follow Jasmin's `/metrics` output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// A monotonically increasing counter (or a gauge when `set`).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
    }
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! counters {
    ($(#[$m:meta])* $name:ident { $($field:ident : $help:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name { $(pub $field: Counter),* }
        impl $name {
            /// (name, help, value) of every counter, in declaration order.
            pub fn items(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($field), $help, self.$field.get())),*]
            }
        }
    };
}

counters!(
    /// HTTP API counters (`stats --httpapi`, `httpapi_*` metrics).
    HttpApiStats {
        request_count: "Http request count.",
        interceptor_count: "Successful http request count.",
        auth_error_count: "Authentication error count.",
        route_error_count: "Routing error count.",
        interceptor_error_count: "Interceptor error count.",
        throughput_error_count: "Throughput exceeded error count.",
        charging_error_count: "Charging error count.",
        server_error_count: "Server error count.",
        success_count: "Successful http request count.",
    }
);

counters!(
    /// Per SMPP client connector counters (`stats --smppc`, `smppc_*` metrics).
    SmppcStats {
        connected_count: "Cumulated number of successful connections.",
        disconnected_count: "Cumulated number of disconnections.",
        bound_count: "Number of bound sessions.",
        submit_sm_request_count: "SubmitSm pdu requests count.",
        submit_sm_count: "Complete SubmitSm transactions count.",
        deliver_sm_count: "DeliverSm pdu requests count.",
        data_sm_count: "Complete DataSm transactions count.",
        interceptor_count: "Interceptor calls count.",
        elink_count: "EnquireLinks count.",
        throttling_error_count: "Throttling errors count.",
        interceptor_error_count: "Interception errors count.",
        other_submit_error_count: "Other errors count.",
    }
);

counters!(
    /// What a connector's link to its SMSC went through (smsgate additions, `smppc_link_*`
    /// metrics; `stats --smppc` keeps Jasmin's keys).
    LinkStats {
        connect_failed_count: "TCP or TLS connections to the SMSC that failed.",
        bind_failed_count: "Binds the SMSC refused or left unanswered.",
        response_timeout_count: "submit_sm left unanswered past response_timeout.",
        stalled_count: "Sessions closed because the SMSC stopped answering submit_sm.",
        throttled_pause_count: "Pauses of sending after an ESME_RTHROTTLED answer.",
    }
);

counters!(
    /// SMPP server API counters (`stats --smppsapi`, `smppsapi_*` metrics).
    SmppsStats {
        connected_count: "Number of connected sessions.",
        connect_count: "Cumulated number of connect requests.",
        disconnect_count: "Cumulated number of disconnect requests.",
        interceptor_count: "Interceptor calls count.",
        bound_trx_count: "Number of bound sessions in transceiver mode.",
        bound_rx_count: "Number of bound sessions in receiver mode.",
        bound_tx_count: "Number of bound sessions in transmitter mode.",
        bind_trx_count: "Number of bind requests in transceiver mode.",
        bind_rx_count: "Number of bind requests in receiver mode.",
        bind_tx_count: "Number of bind requests in transmitter mode.",
        unbind_count: "Cumulated number of unbind requests.",
        submit_sm_request_count: "SubmitSm pdu requests count.",
        submit_sm_count: "Complete SubmitSm transactions count.",
        deliver_sm_count: "DeliverSm pdu requests count.",
        data_sm_count: "Complete DataSm transactions count.",
        elink_count: "EnquireLinks count.",
        throttling_error_count: "Throttling errors count.",
        interceptor_error_count: "Interception errors count.",
        other_submit_error_count: "Other errors count.",
    }
);

counters!(
    /// Per user SMPP server counters (`stats --user`): smpps side.
    UserSmppsStats {
        bind_count: "Bind requests.",
        unbind_count: "Unbind requests.",
        bound_rx_count: "Sessions bound as receiver.",
        bound_tx_count: "Sessions bound as transmitter.",
        bound_trx_count: "Sessions bound as transceiver.",
        submit_sm_request_count: "SubmitSm pdu requests count.",
        submit_sm_count: "Complete SubmitSm transactions count.",
        deliver_sm_count: "DeliverSm pdus acknowledged by the ESME.",
        data_sm_count: "DataSm pdu requests count.",
        elink_count: "EnquireLinks count.",
        throttling_error_count: "Throttling errors count.",
        other_submit_error_count: "Other errors count.",
        last_activity_at: "Last activity (seconds since the epoch).",
        qos_last_submit_sm_at: "Last submit_sm accepted under a throughput quota (seconds since the epoch).",
    }
);

counters!(
    /// Per user HTTP API counters (`stats --user`): http side.
    UserHttpStats {
        connects_count: "Authenticated requests.",
        submit_sm_request_count: "Send requests.",
        balance_request_count: "Balance requests.",
        rate_request_count: "Rate requests.",
        last_activity_at: "Last activity (seconds since the epoch).",
        qos_last_submit_sm_at: "Last send under a throughput quota (seconds since the epoch).",
    }
);

/// Which HTTP API request a user made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpRequest {
    Send,
    Balance,
    Rate,
}

/// When a session last received and sent a PDU, and the last sequence number it sent
/// (`stats --smppc`, `stats --smppsapi`). Shared by every session of a connector or API.
#[derive(Debug, Default)]
pub struct PduClock {
    pub last_received: Stamp,
    pub last_sent: Stamp,
    pub last_received_elink: Stamp,
    pub last_sent_elink: Stamp,
    pub last_seq: AtomicU64,
}

/// A point in time (ms since the epoch; 0 = never).
#[derive(Debug, Default)]
pub struct Stamp(std::sync::atomic::AtomicI64);

impl Stamp {
    /// Set to now.
    pub fn touch(&self) {
        self.0
            .store(crate::model::message::now_ms(), Ordering::Relaxed);
    }
    /// The time, if ever set.
    pub fn get(&self) -> Option<i64> {
        let v = self.0.load(Ordering::Relaxed);
        (v > 0).then_some(v)
    }
}

counters!(
    /// HTTP callback throwers (`dlr_thrower_*` and `deliversm_thrower_*` metrics).
    ThrowerStats {
        ok_count: "Callbacks acknowledged with ACK/Jasmin.",
        retried_count: "Callbacks to be tried again after a failure.",
        given_up_count: "Callbacks given up (retries exhausted or target refused by policy).",
        deferred_count: "Callbacks put back for retry_delay, no try spent, because their receiver already had per_host_concurrency calls open and as many waiting.",
    }
);

counters!(
    /// Receipt and MO handling (`dlr_*` / `mo_*` metrics).
    InboundStats {
        receipt_count: "Delivery receipts received from connectors.",
        receipt_unknown_count: "Receipts whose message id is not tracked (unknown or expired).",
        receipt_malformed_count: "Receipts without a readable message id.",
        receipt_retried_count: "Receipts whose id was not tracked yet, looked up again in the background.",
        receipt_collision_count: "SMSC message ids tracked again for another message before their receipt came (ids reused within one receipt group).",
        mo_count: "MO messages received from connectors.",
        mo_unrouted_count: "MO messages without a route.",
        mo_parts_count: "Parts of long MO messages received.",
        mo_malformed_count: "MO messages with a malformed UDH (delivered as they came).",
        mo_incomplete_count: "Long MO messages delivered incomplete after the reassembly timeout.",
    }
);

counters!(
    /// Message lifecycle counters (smsgate additions, `queue_*` metrics).
    QueueStats {
        accepted_count: "MT messages accepted and queued for a connector, whatever the front door.",
        requeued_count: "Messages put back in their queue after a temporary error.",
        throttled_requeued_count: "Messages put back after ESME_RTHROTTLED, no retry spent.",
        expired_count: "Messages that expired before they could be sent.",
        retries_exhausted_count: "Messages given up after their retry budget.",
        rejected_count: "Messages refused by the SMSC with a permanent error.",
        redelivered_count: "Messages sent again after a restart (possible duplicates).",
        duplicate_dropped_count: "Copies of finished messages (redelivered after a lost ack, or republished after a lost publish confirmation) dropped instead of sent again.",
        moved_count: "Messages an operator moved from one connector's queue to another's.",
        purged_count: "Messages an operator purged from a connector's queue (ended with status PURGED).",
    }
);

/// The registry.
#[derive(Debug, Default)]
pub struct Stats {
    pub httpapi: HttpApiStats,
    /// Latency histograms (`smsgate_*_seconds`).
    pub latency: crate::latency::Latencies,
    pub queue: QueueStats,
    pub smppsapi: SmppsStats,
    throwers: RwLock<BTreeMap<(&'static str, String), Arc<ThrowerStats>>>,
    inbound: RwLock<BTreeMap<String, Arc<InboundStats>>>,
    smppc: RwLock<BTreeMap<String, Arc<SmppcStats>>>,
    links: RwLock<BTreeMap<String, Arc<LinkStats>>>,
    users: RwLock<BTreeMap<String, Arc<UserSmppsStats>>>,
    users_http: RwLock<BTreeMap<String, Arc<UserHttpStats>>>,
    clocks: RwLock<BTreeMap<String, Arc<PduClock>>>,
    /// Refused callback URLs by (stage, reason).
    callback_refused: RwLock<BTreeMap<(&'static str, &'static str), u64>>,
    /// PDU times of the SMPP server API.
    pub smppsapi_clock: Arc<PduClock>,
    /// Last HTTP API request and last successful send.
    pub httpapi_last_request_at: Stamp,
    pub httpapi_last_success_at: Stamp,
}

impl Stats {
    /// Counters of connector `cid` (created on first use).
    pub fn smppc(&self, cid: &str) -> Arc<SmppcStats> {
        if let Some(s) = self.smppc.read().get(cid) {
            return s.clone();
        }
        self.smppc
            .write()
            .entry(cid.to_string())
            .or_default()
            .clone()
    }

    /// Link counters of connector `cid` (created on first use).
    pub fn link(&self, cid: &str) -> Arc<LinkStats> {
        if let Some(s) = self.links.read().get(cid) {
            return s.clone();
        }
        self.links
            .write()
            .entry(cid.to_string())
            .or_default()
            .clone()
    }

    /// SMPP server counters of user `username` (created on first use).
    pub fn user_smpps(&self, username: &str) -> Arc<UserSmppsStats> {
        if let Some(s) = self.users.read().get(username) {
            return s.clone();
        }
        self.users
            .write()
            .entry(username.to_string())
            .or_default()
            .clone()
    }

    /// PDU times of connector `cid` (created on first use).
    pub fn smppc_clock(&self, cid: &str) -> Arc<PduClock> {
        if let Some(s) = self.clocks.read().get(cid) {
            return s.clone();
        }
        self.clocks
            .write()
            .entry(cid.to_string())
            .or_default()
            .clone()
    }

    /// HTTP API counters of user `username` (created on first use).
    pub fn user_http(&self, username: &str) -> Arc<UserHttpStats> {
        if let Some(s) = self.users_http.read().get(username) {
            return s.clone();
        }
        self.users_http
            .write()
            .entry(username.to_string())
            .or_default()
            .clone()
    }

    /// Count an authenticated HTTP API request of `username`.
    pub fn http_request(&self, username: &str, what: HttpRequest) {
        let s = self.user_http(username);
        s.connects_count.inc();
        s.last_activity_at
            .set((crate::model::message::now_ms() / 1000) as u64);
        match what {
            HttpRequest::Send => s.submit_sm_request_count.inc(),
            HttpRequest::Balance => s.balance_request_count.inc(),
            HttpRequest::Rate => s.rate_request_count.inc(),
        }
    }

    /// Receipt and MO counters of connector `cid` (created on first use).
    pub fn inbound(&self, cid: &str) -> Arc<InboundStats> {
        if let Some(s) = self.inbound.read().get(cid) {
            return s.clone();
        }
        self.inbound
            .write()
            .entry(cid.to_string())
            .or_default()
            .clone()
    }

    /// Counters of thrower `prefix` (`dlr_thrower`, `deliversm_thrower`) for connector `cid`.
    pub fn thrower(&self, prefix: &'static str, cid: &str) -> Arc<ThrowerStats> {
        let key = (prefix, cid.to_string());
        if let Some(s) = self.throwers.read().get(&key) {
            return s.clone();
        }
        self.throwers.write().entry(key).or_default().clone()
    }

    /// Count a callback URL refused by the `[callbacks]` policy at `stage` (`submit`: the
    /// request was answered 400; `send`: the job was given up) for `reason`.
    pub fn callback_refused(&self, stage: &'static str, reason: &'static str) {
        *self
            .callback_refused
            .write()
            .entry((stage, reason))
            .or_default() += 1;
    }

    /// Refused callback URLs so far at `stage` for `reason`.
    pub fn callback_refused_get(&self, stage: &str, reason: &str) -> u64 {
        self.callback_refused
            .read()
            .iter()
            .filter(|((s, r), _)| *s == stage && *r == reason)
            .map(|(_, v)| *v)
            .sum()
    }

    /// Every connector's counters.
    /// Keep the counters of exactly these connectors: configured ones have their series from
    /// the start (zero until used), removed ones disappear.
    pub fn retain_smppcs<'a>(&self, cids: impl IntoIterator<Item = &'a str>) {
        let cids: std::collections::BTreeSet<&str> = cids.into_iter().collect();
        let mut map = self.smppc.write();
        let mut links = self.links.write();
        map.retain(|cid, _| cids.contains(cid.as_str()));
        links.retain(|cid, _| cids.contains(cid.as_str()));
        for cid in cids {
            map.entry(cid.to_string()).or_default();
            links.entry(cid.to_string()).or_default();
        }
    }

    pub fn smppcs(&self) -> Vec<(String, Arc<SmppcStats>)> {
        self.smppc
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Prometheus text exposition, as Jasmin's `/metrics`.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::with_capacity(8192);
        for (name, help, v) in self.httpapi.items() {
            let _ = write!(
                out,
                "# TYPE httpapi_{name} counter\n# HELP httpapi_{name} {help}\nhttpapi_{name} {v}\n"
            );
        }
        let conns = self.smppcs();
        labelled(&mut out, "smppc", &conns, |s| s.items());
        let links: Vec<(String, Arc<LinkStats>)> = self
            .links
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labelled(&mut out, "smppc_link", &links, |s| s.items());
        let inbound: Vec<(String, Arc<InboundStats>)> = self
            .inbound
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labelled(&mut out, "inbound", &inbound, |s| s.items());
        for (name, help, v) in self.smppsapi.items() {
            let _ = write!(
                out,
                "# TYPE smppsapi_{name} counter\n# HELP smppsapi_{name} {help}\nsmppsapi_{name} {v}\n"
            );
        }
        for prefix in ["dlr_thrower", "deliversm_thrower"] {
            let rows: Vec<(String, Arc<ThrowerStats>)> = self
                .throwers
                .read()
                .iter()
                .filter(|((p, _), _)| *p == prefix)
                .map(|((_, c), v)| (c.clone(), v.clone()))
                .collect();
            labelled(&mut out, prefix, &rows, |s| s.items());
        }
        for (name, help, v) in self.queue.items() {
            let _ = write!(
                out,
                "# TYPE queue_{name} counter\n# HELP queue_{name} {help}\nqueue_{name} {v}\n"
            );
        }
        out.push_str(
            "# TYPE callback_refused_count counter\n# HELP callback_refused_count Client-supplied callback URLs refused by the [callbacks] policy, at submission (answered 400) or when sending (job given up).\n",
        );
        for ((stage, reason), v) in self.callback_refused.read().iter() {
            let _ = writeln!(
                out,
                "callback_refused_count{{stage=\"{stage}\",reason=\"{reason}\"}} {v}"
            );
        }
        self.latency.render(&mut out);
        out
    }
}

/// Render one counter family per item with a `cid` label per connector.
fn labelled<T>(
    out: &mut String,
    prefix: &str,
    rows: &[(String, Arc<T>)],
    items: impl Fn(&T) -> Vec<(&'static str, &'static str, u64)>,
) {
    let Some((_, first)) = rows.first() else {
        return;
    };
    let all: Vec<Vec<(&'static str, &'static str, u64)>> =
        rows.iter().map(|(_, s)| items(s)).collect();
    for (i, (name, help, _)) in items(first).into_iter().enumerate() {
        let _ = write!(
            out,
            "# TYPE {prefix}_{name} counter\n# HELP {prefix}_{name} {help}\n"
        );
        for ((cid, _), values) in rows.iter().zip(&all) {
            let _ = writeln!(out, "{prefix}_{name}{{cid=\"{cid}\"}} {}", values[i].2);
        }
    }
}
