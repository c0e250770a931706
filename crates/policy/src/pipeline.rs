//! The MT pipeline behind every front door (HTTP now; REST and the SMPP server later):
//! authenticate → check credentials → intercept → route → encode/split → bill → enqueue.
//! Each phase is a function here; front doors only translate their protocol to an
//! [`MtRequest`] and [`MtError`] back to their protocol's answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::auth::{Auth, AuthError};
use crate::billing;
use crate::interception::Outcome;
use smsgate_core::config::SmppClientConfig;
use smsgate_core::model::message::now_ms;
use smsgate_core::model::{Address, Channel, Direction, DlrRequest, Message, Part, Tlv, User};
use smsgate_core::stats::Stats;
use smsgate_core::{privacy, trace};
use smsgate_queue::broker::{submit_queue, Broker};
use smsgate_queue::store::{Charge, Store};
use smsgate_routing::table::{Decision, TableKind};
use smsgate_routing::{ConnectorRef, Routable, RoutingTable};
use smsgate_sms::content::{self, ContentError, Payload, SplitMethod};

/// Content as the client gave it.
#[derive(Debug, Clone)]
pub enum Content {
    /// `content`: bytes read per the user's `content_encoding`.
    Text(Vec<u8>),
    /// Text in UTF-8 whatever the user's `content_encoding` (the management API's test
    /// messages, typed in a form): the gateway picks the coding, as for a `utf8` user.
    Utf8(String),
    /// `hex-content`: the octets exactly.
    Binary(Vec<u8>),
    /// A `submit_sm`/`data_sm` from an ESME: octets already in `coding`, passed through.
    Smpp(Box<SmppContent>),
}

/// What an ESME's `submit_sm` carries besides the addresses: passed to the SMSC as given.
#[derive(Debug, Clone, Default)]
pub struct SmppContent {
    /// `short_message` (or `message_payload` when `short_message` is empty).
    pub short_message: Vec<u8>,
    /// True when the octets came in `message_payload`: they may need splitting.
    pub from_payload: bool,
    pub esm_class: u8,
    /// TLVs to pass on (SAR options stay with the part).
    pub tlvs: Vec<Tlv>,
    pub source_ton: u8,
    pub source_npi: u8,
    pub dest_ton: u8,
    pub dest_npi: u8,
    pub protocol_id: u8,
    pub registered_delivery: u8,
    pub replace_if_present: u8,
    pub service_type: String,
    /// SMPP time string as submitted (absolute or relative), empty = default.
    pub validity_period: String,
    /// Absolute expiry computed from `validity_period` (ms since the epoch).
    pub expires_at: Option<i64>,
    /// Absolute not-before computed from `schedule_delivery_time`.
    pub not_before: Option<i64>,
}

/// An MT submission, protocol-independent.
#[derive(Debug, Clone)]
pub struct MtRequest {
    pub channel: Channel,
    pub username: String,
    pub password: Vec<u8>,
    pub source_ip: IpAddr,
    pub to: String,
    pub from: Option<String>,
    pub coding: Option<u8>,
    pub priority: Option<u8>,
    /// SMPP schedule_delivery_time string.
    pub sdt: Option<String>,
    /// Validity in minutes.
    pub validity_minutes: Option<u64>,
    pub dlr: Option<DlrRequest>,
    pub tags: Vec<String>,
    pub content: Content,
    /// What to do with characters the coding cannot carry, when the request says (HTTP
    /// `transliterate=yes`, a smsgate extension; retarus' `invalidCharacters`); `None`: the
    /// user's `unrepresentable` setting.
    pub unrepresentable: Option<smsgate_core::config::Unrepresentable>,
}

/// Why a submission was refused. Front doors map these to their own answers.
#[derive(Debug, thiserror::Error)]
pub enum MtError {
    #[error("Authentication failure for username:{0}")]
    Authentication(String),
    #[error("Argument [{0}] has an invalid value: [{1}].")]
    InvalidArgument(&'static str, String),
    /// A callback URL (argument, URL) refused by the `[callbacks]` policy: Jasmin's invalid
    /// value text, then why.
    #[error("Argument [{0}] has an invalid value: [{1}]. Callback target refused: {2}.")]
    CallbackRefused(&'static str, String, &'static str),
    #[error("{0}")]
    Content(#[from] ContentError),
    #[error("No route found")]
    NoRoute,
    #[error("Cannot charge submit_sm, check RouterPB log file for details")]
    Charging,
    #[error("Cannot send submit_sm, check SMPPClientManagerPB log file for details")]
    Server(String),
    /// A `mt_messaging_cred authorization` refused (Jasmin's `HttpAPICredentialValidator`
    /// wording: user, then why).
    #[error("Authorization failed for user [{0}] ({1}).")]
    Unauthorized(String, &'static str),
    /// A `mt_messaging_cred valuefilter` did not match: user, then the filter
    /// (`destination_address`, `source_address`, `priority`, `validity_period`, `content`).
    #[error("Value filter failed for user [{0}] ({1} filter mismatch).")]
    ValueFilter(String, &'static str),
    /// `quota.http_throughput` exceeded.
    #[error("User throughput exceeded")]
    Throughput,
    /// An interceptor or the charging plugin answered: SMPP status `smpp` for SMPP clients,
    /// HTTP status `http` for HTTP ones (see [`crate::interception`]).
    #[error("Interception specific error code {http}")]
    Intercepted { smpp: u32, http: u16 },
    /// A Python interceptor script raised (HTTP 400, SMPP ESME_RSYSERR).
    #[error("Failed running interception script, check log for details")]
    InterceptorFailed,
}

/// Which optional parameters a submission sets explicitly (each needs its authorization).
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked {
    pub from: bool,
    pub priority: bool,
    pub validity: bool,
    pub hex: bool,
    pub sdt: bool,
    pub dlr_level: bool,
    pub dlr_method: bool,
}

impl Asked {
    /// What a request sets, as far as the request tells (HTTP front doors add `dlr_level` and
    /// `dlr_method`, which only their arguments show).
    pub fn of(req: &MtRequest) -> Asked {
        match &req.content {
            // Jasmin's SmppsCredentialValidator: no validity or schedule authorizations.
            Content::Smpp(c) => Asked {
                from: req.from.is_some(),
                priority: req.priority.unwrap_or(0) != 0,
                validity: false,
                hex: false,
                sdt: false,
                dlr_level: c.registered_delivery != 0,
                dlr_method: false,
            },
            content => Asked {
                from: req.from.is_some(),
                priority: req.priority.is_some(),
                validity: req.validity_minutes.is_some(),
                hex: matches!(content, Content::Binary(_)),
                sdt: req.sdt.is_some(),
                dlr_level: false,
                dlr_method: false,
            },
        }
    }
}

/// A routed, encoded message not yet billed or queued (what `/rate` looks at).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message: Message,
    pub decision: Decision,
    pub user: Arc<User>,
    /// An interceptor answered ESME_ROK: accepted without routing, billing or sending.
    pub intercepted: bool,
    /// The id to answer with instead of the message's (a Python interceptor's
    /// `extra['message_id']` with `smpp_status = 0`).
    pub answer_id: Option<String>,
}

/// Shared state of the pipeline.
pub struct Pipeline {
    pub auth: Arc<Auth>,
    pub mt_table: RwLock<Arc<RoutingTable>>,
    pub connectors: RwLock<HashMap<String, Arc<SmppClientConfig>>>,
    pub broker: Arc<dyn Broker>,
    pub store: Arc<dyn Store>,
    pub stats: Arc<Stats>,
    pub split: SplitMethod,
    pub max_parts: usize,
    pub max_age_ms: i64,
    /// The throughput quotas (`http_throughput`, `smpps_throughput`) every door applies.
    pub admission: crate::admission::Admission,
    /// MT interception table, HLR lookup and charging plugins.
    pub interception: Arc<crate::interception::Interception>,
    /// Which client-supplied callback URLs are accepted (`[callbacks]`).
    pub callbacks: Arc<crate::callbacks::CallbackGuard>,
}

impl Pipeline {
    /// Install a new MT routing table and SMPP client connector configurations (the live
    /// configuration changed).
    pub fn install(&self, mt: RoutingTable, smppccs: &[SmppClientConfig]) {
        *self.mt_table.write() = Arc::new(mt);
        *self.connectors.write() = smppccs
            .iter()
            .map(|c| (c.cid.clone(), Arc::new(c.clone())))
            .collect();
    }

    /// Phase 1: authenticate.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &[u8],
        ip: IpAddr,
    ) -> Result<Arc<User>, MtError> {
        match self.auth.authenticate(username, password, ip).await {
            Ok(u) => Ok(u),
            Err(AuthError::Failed) | Err(AuthError::RateLimited) => {
                Err(MtError::Authentication(username.to_string()))
            }
        }
    }

    /// Phase 2: an enabled user in an enabled group. Jasmin's router does not authenticate a
    /// disabled one (`router.py`, `authenticateUser`): the same answer as a wrong password.
    pub fn check_credentials(&self, user: &User) -> Result<(), MtError> {
        let group_ok = self
            .auth
            .group(&user.gid)
            .map(|g| g.enabled)
            .unwrap_or(false);
        if !user.enabled || !group_ok {
            return Err(MtError::Authentication(user.username.clone()));
        }
        Ok(())
    }

    /// The send authorizations and value filters of `mt_messaging_cred` (spec tables 24-25),
    /// in Jasmin's order. The long content authorization needs the parts: see `prepare_with`.
    pub fn check_send(&self, user: &User, req: &MtRequest, asked: &Asked) -> Result<(), MtError> {
        let a = &user.mt_cred.authorization;
        let deny = |why: &'static str| Err(MtError::Unauthorized(user.username.clone(), why));
        let send_ok = match req.channel {
            Channel::Smpps => a.smpps_send,
            _ => a.http_send,
        };
        if !send_ok {
            return deny("Cannot send MT messages");
        }
        if asked.dlr_level && !a.dlr_level {
            return deny("Setting dlr level not authorized");
        }
        if asked.dlr_method && !a.http_dlr_method {
            return deny("Setting dlr method not authorized");
        }
        if asked.from && !a.src_addr {
            return deny("Setting source address not authorized");
        }
        if asked.priority && !a.priority {
            return deny("Setting priority not authorized");
        }
        if asked.validity && !a.validity_period {
            return deny("Setting validity period not authorized");
        }
        if asked.hex && !a.hex_content {
            return deny("Setting hex content not authorized");
        }
        if asked.sdt && !a.schedule_delivery_time {
            return deny("Setting schedule delivery time not authorized");
        }
        self.check_callback("dlr-url", req.dlr.as_ref().map(|d| d.url.as_str()), user)?;
        let f = &user.mt_cred.value_filter;
        let mismatch =
            |which: &'static str| Err(MtError::ValueFilter(user.username.clone(), which));
        if !f.dst_addr.matches(&req.to) {
            return mismatch("destination_address");
        }
        // SMPP: the source is always filtered (an empty one too), before the default value.
        let from = match (&req.from, req.channel) {
            (Some(f), _) => Some(f.as_str()),
            (None, Channel::Smpps) => Some(""),
            (None, _) => None,
        };
        if from.is_some_and(|v| !f.src_addr.matches(v)) {
            return mismatch("source_address");
        }

        if let Some(p) = req.priority {
            if (asked.priority || req.channel == Channel::Smpps)
                && !f.priority.matches(&p.to_string())
            {
                return mismatch("priority");
            }
        }
        if let Some(v) = req.validity_minutes {
            if !f.validity_period.matches(&v.to_string()) {
                return mismatch("validity_period");
            }
        }
        Ok(())
    }

    /// A client-supplied callback URL (`arg`) against the `[callbacks]` policy (the user's own
    /// if set): refused at submission with a 400, never accepted and then dropped.
    pub fn check_callback(
        &self,
        arg: &'static str,
        url: Option<&str>,
        user: &User,
    ) -> Result<(), MtError> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        self.callbacks
            .check_submit(url, user.callback_policy)
            .map(|_| ())
            .map_err(|e| {
                let why = e
                    .reason()
                    .map(|r| r.describe())
                    .unwrap_or("host does not resolve");
                MtError::CallbackRefused(arg, url.to_string(), why)
            })
    }

    /// `http_rate` (checking a rate) after the enabled checks.
    pub fn check_rate(&self, user: &User) -> Result<(), MtError> {
        self.check_credentials(user)?;
        if !user.mt_cred.authorization.http_rate {
            return Err(MtError::Unauthorized(
                user.username.clone(),
                "Cannot check rate",
            ));
        }
        Ok(())
    }

    /// `http_balance` (checking the balance) after the enabled checks.
    pub fn check_balance(&self, user: &User) -> Result<(), MtError> {
        self.check_credentials(user)?;
        if !user.mt_cred.authorization.http_balance {
            return Err(MtError::Unauthorized(
                user.username.clone(),
                "Cannot check balance",
            ));
        }
        Ok(())
    }

    /// Phases 1-5: authenticate, check, intercept, route, encode. Nothing is charged or queued.
    pub async fn prepare(&self, req: &MtRequest) -> Result<Prepared, MtError> {
        let user = self
            .authenticate(&req.username, &req.password, req.source_ip)
            .await?;
        self.prepare_as(user, req).await
    }

    /// Phases 2-5 for an already authenticated user (an SMPP session authenticated at bind),
    /// with the send authorizations and value filters.
    pub async fn prepare_as(&self, user: Arc<User>, req: &MtRequest) -> Result<Prepared, MtError> {
        self.prepare_with(user, req, Some(&Asked::of(req))).await
    }

    /// Phases 2-5; `send` = `Some` checks the send authorizations and value filters for what
    /// the request sets (`None` for `/rate`, which only needs `http_rate`).
    pub async fn prepare_with(
        &self,
        user: Arc<User>,
        req: &MtRequest,
        send: Option<&Asked>,
    ) -> Result<Prepared, MtError> {
        self.check_credentials(&user)?;
        if let Some(asked) = send {
            self.check_send(&user, req, asked)?;
        }
        let now = now_ms();
        let to = req.to.strip_prefix('+').unwrap_or(&req.to).to_string();
        let policy = req.unrepresentable.unwrap_or(user.unrepresentable);
        // Read the content (text for filters; coding 0's alphabet is known after routing).
        let read = match &req.content {
            Content::Binary(b) => content::read_binary(b.clone(), req.coding)?,
            // An ESME's octets are passed through (see `smpp_parts`): only their text is read.
            Content::Smpp(c) => {
                let coding = req.coding.unwrap_or(0);
                content::Read {
                    coding,
                    body: content::Body::Octets {
                        bytes: vec![],
                        text: smpp_text(&c.short_message, c.esm_class, coding),
                    },
                }
            }
            Content::Text(bytes) => {
                content::read_text(bytes, user.content_encoding, req.coding, policy)?
            }
            Content::Utf8(text) => content::read_text(
                text.as_bytes(),
                smsgate_core::config::ContentEncoding::Utf8,
                req.coding,
                policy,
            )?,
        };
        let coding = read.coding;
        if send.is_some() {
            // Jasmin filters the `content` argument only (not `hex-content`).
            let text = match &req.content {
                Content::Binary(_) => None,
                _ => read.text(),
            };
            if let Some(t) = text {
                if !user.mt_cred.value_filter.content.matches(t) {
                    return Err(MtError::ValueFilter(user.username.clone(), "content"));
                }
            }
        }
        let mut message = Message {
            user: Some(user.username.clone()),
            group: Some(user.gid.clone()),
            destination: Address {
                addr: to,
                ton: 1,
                npi: 1,
            },
            data_coding: coding,
            priority: req.priority.unwrap_or(0),
            schedule_delivery_time: req.sdt.clone().unwrap_or_default(),
            tags: req.tags.clone(),
            // Jasmin asks the SMSC for a receipt whenever a DLR is requested, whatever its
            // level (send.py: "DLR setting is clearly described in #107"), before
            // interception: connector defaults do not reset it, so a script may.
            registered_delivery: u8::from(req.dlr.is_some()),
            dlr: req.dlr.clone(),
            expires_at: now + self.max_age_ms,
            ..Message::new(Direction::Mt, req.channel, now)
        };
        match &req.from {
            Some(f) => message.source.addr = f.clone(),
            // `defaultvalue src_addr` when the request has none (before routing, as Jasmin).
            None => {
                if let Some(d) = &user.mt_cred.default_value.src_addr {
                    message.source.addr = d.clone();
                }
            }
        }
        let mut read = read;
        let parts = self.script_parts(&mut message, &req.content, &read);
        // The interceptor gave new content: encoded anew, also for an ESME's submission.
        let mut rewritten = false;
        match self
            .intercept(&mut message, &user, read.text(), parts)
            .await
        {
            Outcome::Continue { text: Some(text) } => {
                read = content::read_text(
                    text.as_bytes(),
                    smsgate_core::config::ContentEncoding::Utf8,
                    req.coding,
                    policy,
                )?;
                message.data_coding = read.coding;
                rewritten = true;
            }
            Outcome::Continue { text: None } => {}
            Outcome::Accept { message_id } => {
                return Ok(Prepared {
                    message,
                    decision: Decision {
                        order: 0,
                        connector: ConnectorRef::Smppc(String::new()),
                        rate: 0.0,
                    },
                    user,
                    intercepted: true,
                    answer_id: message_id,
                })
            }
            Outcome::Answer { smpp, http } => return Err(MtError::Intercepted { smpp, http }),
            Outcome::ScriptFailed => return Err(MtError::InterceptorFailed),
        }
        let text_ref = read.text().unwrap_or("");
        let decision = {
            let table = self.mt_table.read().clone();
            let routable = Routable {
                message: &message,
                text: text_ref,
                uid: &user.uid,
                gid: &user.gid,
            };
            table.route(&routable).ok_or(MtError::NoRoute)?
        };
        let cid = match &decision.connector {
            ConnectorRef::Smppc(c) => c.clone(),
            other => return Err(MtError::Server(format!("MT route to {other}"))),
        };
        let conn = self
            .connectors
            .read()
            .get(&cid)
            .cloned()
            .ok_or_else(|| MtError::Server(format!("unknown connector {cid}")))?;
        crate::interception::keep_locked(&mut message, |m| {
            self.apply_connector_defaults(m, &conn, req)
        });
        if let Content::Smpp(c) = &req.content {
            crate::interception::keep_locked(&mut message, |m| apply_smpp_fields(m, c));
        }
        if let (Content::Smpp(c), false) = (&req.content, rewritten) {
            message.parts = smpp_parts(c, coding, self.split, self.max_parts)?;
            self.check_long(&user, req, &message, send)?;
            message.connector = cid;
            message.rate = decision.rate;
            return Ok(Prepared {
                message,
                decision,
                user,
                intercepted: false,
                answer_id: None,
            });
        }
        let payload = content::encode(read, conn.default_alphabet, policy)?;
        let reference = content::next_reference(&message.destination.addr);
        message.parts =
            content::split_with_reference(&payload, self.split, self.max_parts, reference)?;
        // Jasmin's submit_sm default (`SMPPClientConfig.esm_class`): store-and-forward mode
        // (0x03), except UDH parts (UDHI 0x40, default mode).
        for part in &mut message.parts {
            if part.esm_class & 0x40 == 0 {
                part.esm_class |= 0x03;
            }
        }
        self.check_long(&user, req, &message, send)?;
        message.connector = cid;
        message.rate = decision.rate;
        Ok(Prepared {
            message,
            decision,
            user,
            intercepted: false,
            answer_id: None,
        })
    }

    /// The PDUs a Python interceptor sees, as Jasmin builds them before interception: the
    /// ESME's own for the SMPP server (whose fields `m` takes, as the script reads them); for
    /// HTTP content longer than one part, the parts it splits into (chained by
    /// `pdu.nextPdu`). Nothing when no Python interceptor could run.
    fn script_parts(&self, m: &mut Message, c: &Content, read: &content::Read) -> Vec<Part> {
        if !self.interception.mt.read().has_python() {
            return vec![];
        }
        if let Content::Smpp(c) = c {
            apply_smpp_fields(m, c);
            return vec![Part {
                short_message: c.short_message.clone(),
                esm_class: c.esm_class,
                tlvs: c
                    .tlvs
                    .iter()
                    .filter(|t| matches!(t.tag, 0x020C | 0x020E | 0x020F))
                    .cloned()
                    .collect(),
            }];
        }
        let payload = match (&read.body, read.coding) {
            (content::Body::Text(t), 8) => {
                Payload::Ucs2(t.encode_utf16().flat_map(u16::to_be_bytes).collect())
            }
            (content::Body::Text(t), _) => Payload::Octets(t.as_bytes().to_vec()),
            (content::Body::Octets { bytes, .. }, _) => Payload::Octets(bytes.clone()),
        };
        match content::split_with_reference(&payload, self.split, self.max_parts, 0) {
            Ok(parts) if parts.len() > 1 => parts,
            _ => vec![],
        }
    }

    /// `http_long_content`: content needing more than one `submit_sm` (HTTP channels).
    fn check_long(
        &self,
        user: &User,
        req: &MtRequest,
        m: &Message,
        send: Option<&Asked>,
    ) -> Result<(), MtError> {
        if send.is_some()
            && req.channel != Channel::Smpps
            && m.parts.len() > 1
            && !user.mt_cred.authorization.http_long_content
        {
            return Err(MtError::Unauthorized(
                user.username.clone(),
                "Long content not authorized",
            ));
        }
        Ok(())
    }

    /// Phase 3: the HLR tag and the MT interception table, counted in the statistics of the
    /// front door the message came through.
    async fn intercept(
        &self,
        m: &mut Message,
        user: &User,
        text: Option<&str>,
        parts: Vec<Part>,
    ) -> Outcome {
        self.interception.hlr_tag(m).await;
        let (outcome, ran) = self
            .interception
            .intercept(TableKind::Mt, m, text, Some(user), parts)
            .await;
        let (ok, failed) = match m.channel {
            Channel::Smpps => (
                &self.stats.smppsapi.interceptor_count,
                &self.stats.smppsapi.interceptor_error_count,
            ),
            _ => (
                &self.stats.httpapi.interceptor_count,
                &self.stats.httpapi.interceptor_error_count,
            ),
        };
        match ran {
            crate::interception::Ran::No => {}
            crate::interception::Ran::Ok => ok.inc(),
            crate::interception::Ran::Failed => failed.inc(),
        }
        outcome
    }

    fn apply_connector_defaults(&self, m: &mut Message, c: &SmppClientConfig, req: &MtRequest) {
        if m.source.addr.is_empty() {
            if let Some(s) = &c.src_addr {
                m.source.addr = s.clone();
            }
        }
        // Alphanumeric senders need TON 5 / NPI 0 or most SMSCs reject them.
        if !m.source.addr.is_empty()
            && m.source
                .addr
                .chars()
                .any(|ch| !ch.is_ascii_digit() && ch != '+')
        {
            m.source.ton = 5;
            m.source.npi = 0;
        } else {
            m.source.ton = c.src_ton;
            m.source.npi = c.src_npi;
            if let Some(s) = m.source.addr.strip_prefix('+') {
                m.source.addr = s.to_string();
            }
        }
        m.destination.ton = c.dst_ton;
        m.destination.npi = c.dst_npi;
        if req.priority.is_none() {
            m.priority = c.priority.min(3);
        }
        m.protocol_id = c.proto_id.unwrap_or(0);
        m.replace_if_present = c.replace_if_present;
        m.sm_default_msg_id = c.default_msg_id;
        m.service_type = c.systype.clone().unwrap_or_default();
        // Clamp absurd validities (at most ~10 years) so the arithmetic cannot overflow.
        let validity_secs = req
            .validity_minutes
            .map(|m| m.saturating_mul(60))
            .or(c.validity)
            .map(|s| s.min(315_360_000));
        if let Some(secs) = validity_secs {
            m.validity_period = smsgate_sms::time::relative(secs);
            m.expires_at = m.created_at + (secs as i64) * 1000;
        }
    }

    /// Phases 6-7: bill and enqueue. Returns the message id once the message is durable.
    pub async fn submit(self: &Arc<Self>, req: &MtRequest) -> Result<Uuid, MtError> {
        let p = self.prepare(req).await?;
        self.commit(p).await
    }

    /// Bill and enqueue a prepared message. Runs as its own task: a client that hangs up
    /// mid-request cannot cancel it between the charge and the publish (or between the durable
    /// insert and the queue index update).
    pub async fn commit(self: &Arc<Self>, p: Prepared) -> Result<Uuid, MtError> {
        if p.intercepted {
            return Ok(p.message.id);
        }
        let this = self.clone();
        // Boxed: moved through the spawn path as a pointer instead of a copy of the future.
        match tokio::spawn(Box::pin(async move { this.commit_inner(p).await })).await {
            Ok(r) => r,
            Err(e) => Err(MtError::Server(format!("commit task failed: {e}"))),
        }
    }

    async fn commit_inner(&self, mut p: Prepared) -> Result<Uuid, MtError> {
        let bill = billing::bill(
            p.decision.rate,
            p.message.parts.len(),
            p.user.mt_cred.quota.early_percent,
        );
        let (amount, parts) = (bill.now, bill.parts);
        // The charging plugin, if any, authorizes before the gateway bills.
        if let Err(smpp) = self
            .interception
            .authorize(&p.message, p.message.parts.len() as u32)
            .await
        {
            return Err(MtError::Intercepted { smpp, http: 520 });
        }
        p.message.bill_rest = bill.rest_per_part;
        let user = p.user.username.clone();
        match billing::charge_submit(self.store.as_ref(), &user, &bill).await {
            Ok(Charge::Done(_)) => {}
            Ok(Charge::Insufficient(b)) => {
                tracing::info!(user = %user, amount, parts, balance = ?b, "charging refused: insufficient balance");
                return Err(MtError::Charging);
            }
            Err(e) => return Err(MtError::Server(e.to_string())),
        }
        let q = submit_queue(&p.message.connector);
        if let Err(e) = self.broker.publish(&q, &p.message).await {
            // Every request fails alike while the queue cannot take messages: one line per
            // 5 s (each failure is counted by the API's server error metric).
            static LOG: smsgate_core::log_limit::LogLimit =
                smsgate_core::log_limit::LogLimit::new(5_000);
            if let Some(held) = LOG.pass() {
                tracing::error!(error = %e, failures_not_logged = held, "enqueue failed, the message is refused and refunded (repeats are logged once per 5 s)");
            }
            let _ = self.store.balance_credit(&user, amount, parts).await;
            return Err(MtError::Server(e.to_string()));
        }
        self.stats.queue.accepted_count.inc();
        let m = &p.message;
        trace::root(
            &m.id,
            "smsgate.accept",
            trace::Kind::Server,
            trace::from_ms(m.created_at),
            std::time::SystemTime::now(),
            |a| {
                let masked = privacy::masked(&m.connector);
                a.str("smsgate.channel", m.channel.as_str())
                    .str("smsgate.user", user.as_str())
                    .str("smsgate.connector", m.connector.as_str())
                    .int("smsgate.parts", m.parts.len() as i64)
                    .fmt("smsgate.source", privacy::Number(&m.source.addr, masked))
                    .fmt(
                        "smsgate.destination",
                        privacy::Number(&m.destination.addr, masked),
                    );
            },
        );
        Ok(p.message.id)
    }
}

/// Text of an ESME's octets for filters (best effort: filters match text, the octets are
/// passed through unchanged).
fn smpp_text(octets: &[u8], esm_class: u8, coding: u8) -> Option<String> {
    smsgate_sms::reassembly::decode_short_message(
        coding,
        esm_class,
        octets,
        smsgate_core::config::DefaultAlphabet::Gsm0338,
    )
    .ok()
    .flatten()
}

/// The ESME's own PDU fields win over the connector's defaults (Jasmin passes them through).
fn apply_smpp_fields(m: &mut Message, c: &SmppContent) {
    m.source.ton = c.source_ton;
    m.source.npi = c.source_npi;
    m.destination.ton = c.dest_ton;
    m.destination.npi = c.dest_npi;
    m.protocol_id = c.protocol_id;
    m.registered_delivery = c.registered_delivery;
    m.replace_if_present = c.replace_if_present;
    if !c.service_type.is_empty() {
        m.service_type = c.service_type.clone();
    }
    if !c.validity_period.is_empty() {
        m.validity_period = c.validity_period.clone();
    }
    if let Some(e) = c.expires_at {
        m.expires_at = e;
    }
    m.not_before = c.not_before;
    m.tlvs = c
        .tlvs
        .iter()
        .filter(|t| !matches!(t.tag, 0x020C | 0x020E | 0x020F | 0x0424))
        .cloned()
        .collect();
}

/// Parts of an ESME submission: one part as submitted (UDH or SAR of an already
/// concatenated message kept), or the gateway's own split of a long `message_payload`.
fn smpp_parts(
    c: &SmppContent,
    coding: u8,
    method: SplitMethod,
    max_parts: usize,
) -> Result<Vec<Part>, MtError> {
    let single_limit = if coding == 0 { 160 } else { 140 };
    if !c.from_payload || c.short_message.len() <= single_limit || c.esm_class & 0x40 != 0 {
        if c.short_message.len() > 255 {
            // Too long for short_message and already carrying a UDH: keep it in the payload TLV.
            return Ok(vec![Part {
                short_message: vec![],
                esm_class: c.esm_class,
                tlvs: vec![Tlv {
                    tag: 0x0424,
                    value: c.short_message.clone(),
                }],
            }]);
        }
        return Ok(vec![Part {
            short_message: c.short_message.clone(),
            esm_class: c.esm_class,
            tlvs: c
                .tlvs
                .iter()
                .filter(|t| matches!(t.tag, 0x020C | 0x020E | 0x020F))
                .cloned()
                .collect(),
        }]);
    }
    let payload = match coding {
        0 => Payload::Septets {
            septets: c.short_message.clone(),
            packed: false,
        },
        8 => Payload::Ucs2(c.short_message.clone()),
        _ => Payload::Octets(c.short_message.clone()),
    };
    let mut parts = content::split(&payload, method, max_parts)?;
    for p in &mut parts {
        p.esm_class |= c.esm_class & !0x40;
    }
    Ok(parts)
}

/// Keep `Part` in the public surface of this module for front doors building messages.
pub type MessagePart = Part;
