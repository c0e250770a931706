//! Which client-supplied callback URLs the gateway calls (`dlr-url`, batch `callback_url` /
//! `errback_url`): the SSRF guard.
//!
//! Operator-configured targets (HTTP client connectors for MO) are trusted and never come here.
//! The `default` policy allows public, private and loopback addresses (Jasmin's own examples
//! call `http://192.168.202.54/...` and `http://127.0.0.1:7877/...`); `public-only` (global or per
//! user) allows public addresses only. Whatever the policy, these are refused: link-local and
//! cloud metadata addresses, unspecified, multicast, broadcast and reserved addresses, the
//! gateway's own listeners (registered live as they start) and the host:ports of its RabbitMQ,
//! Redis and PostgreSQL.
//!
//! Every spelling of an address is normalised first (the WHATWG URL parser: decimal, octal, hex
//! and short IPv4 forms, trailing dots, percent-encoding; then IPv4-mapped, IPv4-compatible
//! and NAT64 IPv6 to IPv4). URLs are checked when a message is submitted (literal addresses and
//! well-known names) and again when the connection is made: the [`PinnedConnector`] resolves the
//! name, checks every address and connects only to a checked one (no DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::RwLock;

use smsgate_core::config::{CallbackPolicy, CallbacksConfig};
use smsgate_core::stats::Stats;

/// Why a callback target is refused (the `reason` label of `callback_refused_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Not an absolute `http`/`https` URL with a host.
    Invalid,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// A cloud metadata service (169.254.169.254, fd00:ec2::254, metadata.google.internal, ...).
    Metadata,
    /// 0.0.0.0/8, `::`.
    Unspecified,
    /// Multicast or broadcast.
    Multicast,
    /// 240.0.0.0/4 and other addresses that are no host.
    Reserved,
    /// One of the gateway's own listeners (HTTP API, REST, SMPP server, jCli, ...).
    GatewayListener,
    /// The gateway's RabbitMQ, Redis or PostgreSQL.
    BackendService,
    /// Loopback under `public-only`.
    Loopback,
    /// A private network under `public-only`.
    Private,
}

impl Reason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Invalid => "invalid",
            Reason::LinkLocal => "link_local",
            Reason::Metadata => "metadata",
            Reason::Unspecified => "unspecified",
            Reason::Multicast => "multicast",
            Reason::Reserved => "reserved",
            Reason::GatewayListener => "gateway_listener",
            Reason::BackendService => "backend_service",
            Reason::Loopback => "loopback",
            Reason::Private => "private",
        }
    }

    /// What a client is told.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Invalid => "not an http or https URL with a host",
            Reason::LinkLocal => "link-local address",
            Reason::Metadata => "cloud metadata address",
            Reason::Unspecified => "unspecified address",
            Reason::Multicast => "multicast or broadcast address",
            Reason::Reserved => "reserved address",
            Reason::GatewayListener => "one of the gateway's own listeners",
            Reason::BackendService => "one of the gateway's broker, store or history services",
            Reason::Loopback => "loopback address (callback policy public-only)",
            Reason::Private => "private network address (callback policy public-only)",
        }
    }
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid callback URL: {0}")]
    InvalidUrl(String),
    #[error("callback target {target} refused: {}", reason.describe())]
    Refused { target: String, reason: Reason },
    #[error("callback host {0} does not resolve: {1}")]
    Unresolvable(String, String),
}

impl PolicyError {
    /// The refusal's reason (none when the host merely does not resolve).
    pub fn reason(&self) -> Option<Reason> {
        match self {
            PolicyError::InvalidUrl(_) => Some(Reason::Invalid),
            PolicyError::Refused { reason, .. } => Some(*reason),
            PolicyError::Unresolvable(..) => None,
        }
    }
}

/// The host of a normalised URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A literal address, canonical (see [`canonical`]).
    Ip(IpAddr),
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
}

/// A parsed, normalised target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as the gateway calls it (normalised host, no fragment).
    pub url: String,
    pub host: Host,
    pub port: u16,
    /// `host:port`, the key of the per-host concurrency limit.
    pub authority: String,
}

/// Parse and normalise `url` (WHATWG rules: every IPv4 spelling becomes dotted decimal, IPv6
/// literals are canonical, names lower case without a trailing dot).
pub fn normalise(url: &str) -> Result<Target, PolicyError> {
    let invalid = || PolicyError::InvalidUrl(url.to_string());
    let mut u = url::Url::parse(url.trim()).map_err(|_| invalid())?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(invalid());
    }
    u.set_fragment(None);
    let host = match u.host() {
        Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Host::Ip(canonical(IpAddr::V6(a))),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d.is_empty() {
                return Err(invalid());
            }
            match d.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(canonical(ip)),
                Err(_) => Host::Name(d),
            }
        }
        None => return Err(invalid()),
    };
    let port = u.port_or_known_default().ok_or_else(invalid)?;
    let authority = match &host {
        Host::Ip(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        Host::Ip(a) => format!("{a}:{port}"),
        Host::Name(n) => format!("{n}:{port}"),
    };
    Ok(Target {
        url: u.to_string(),
        host,
        port,
        authority,
    })
}

/// The address a connection to `ip` really reaches: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) IPv6 become IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = || IpAddr::V4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return embedded();
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return embedded();
    }
    ip
}

/// What kind of address `ip` is (canonical): `Err` for the ones always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Public,
    Loopback,
    Private,
}

fn kind(ip: IpAddr) -> Result<Kind, Reason> {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let o = a.octets();
            if matches!(
                o,
                [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200]
            ) {
                Err(Reason::Metadata)
            } else if o[0] == 0 {
                Err(Reason::Unspecified)
            } else if a.is_link_local() {
                Err(Reason::LinkLocal)
            } else if a.is_multicast() || a.is_broadcast() {
                Err(Reason::Multicast)
            } else if o[0] >= 240 {
                Err(Reason::Reserved)
            } else if a.is_loopback() {
                Ok(Kind::Loopback)
            } else if a.is_private()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
            {
                Ok(Kind::Private)
            } else {
                Ok(Kind::Public)
            }
        }
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Err(Reason::Metadata)
            } else if a.is_unspecified() {
                Err(Reason::Unspecified)
            } else if (s0 & 0xffc0) == 0xfe80 {
                Err(Reason::LinkLocal)
            } else if a.is_multicast() {
                Err(Reason::Multicast)
            } else if a.is_loopback() {
                Ok(Kind::Loopback)
            } else if (s0 & 0xfe00) == 0xfc00 || (s0 & 0xffc0) == 0xfec0 {
                Ok(Kind::Private)
            } else {
                Ok(Kind::Public)
            }
        }
    }
}

/// Names of cloud metadata services (they resolve to link-local addresses anyway).
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// What the effective policy allows besides public addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rules {
    pub loopback: bool,
    pub private: bool,
}

impl Rules {
    /// The rules of `policy`.
    pub fn of_policy(policy: CallbackPolicy) -> Rules {
        let open = policy == CallbackPolicy::Default;
        Rules {
            loopback: open,
            private: open,
        }
    }

    /// The rules for a user whose own policy is `user` (unset: the global one, refined by the
    /// deprecated `allow_loopback` / `allow_private`).
    pub fn of(cfg: &CallbacksConfig, user: Option<CallbackPolicy>) -> Rules {
        match user {
            Some(p) => Rules::of_policy(p),
            None => {
                let base = Rules::of_policy(cfg.policy);
                Rules {
                    loopback: cfg.allow_loopback.unwrap_or(base.loopback),
                    private: cfg.allow_private.unwrap_or(base.private),
                }
            }
        }
    }
}

/// An address the gateway itself serves or uses.
#[derive(Debug, Clone)]
struct Protected {
    what: String,
    reason: Reason,
    ip: IpAddr,
    port: u16,
}

/// Is `ip` an address of this machine? (Binding a socket to it succeeds only if it is.)
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The callback guard: the global policy, the users' policies, the addresses the gateway
/// protects (live: listeners register as they start), and the refusal counters.
pub struct CallbackGuard {
    cfg: CallbacksConfig,
    protected: RwLock<Vec<Protected>>,
    /// Backend services given by name: (name, port, what).
    names: RwLock<Vec<(String, u16, String)>>,
    users: RwLock<Option<Arc<crate::auth::Auth>>>,
    stats: Option<Arc<Stats>>,
}

impl std::fmt::Debug for CallbackGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackGuard")
            .field("cfg", &self.cfg)
            .field("protected", &*self.protected.read())
            .finish_non_exhaustive()
    }
}

impl CallbackGuard {
    /// A guard for `cfg`, counting refusals in `stats`.
    pub fn new(cfg: CallbacksConfig, stats: Option<Arc<Stats>>) -> Arc<CallbackGuard> {
        Arc::new(CallbackGuard {
            cfg,
            protected: RwLock::new(vec![]),
            names: RwLock::new(vec![]),
            users: RwLock::new(None),
            stats,
        })
    }

    /// The `[callbacks]` section.
    pub fn config(&self) -> &CallbacksConfig {
        &self.cfg
    }

    /// Where users' own policies are looked up (for callback jobs, which name their user).
    pub fn set_users(&self, auth: Arc<crate::auth::Auth>) {
        *self.users.write() = Some(auth);
    }

    /// Protect a listener of the gateway (`what`: `http-api`, `rest-api`, `smpp-server`,
    /// `jcli`, ...), replacing an earlier one of the same name. A listener bound to a loopback
    /// or unspecified address protects its port on every local address.
    pub fn protect_listener(&self, what: &str, addr: SocketAddr) {
        let mut p = self.protected.write();
        p.retain(|x| x.what != what);
        p.push(Protected {
            what: what.to_string(),
            reason: Reason::GatewayListener,
            ip: canonical(addr.ip()),
            port: addr.port(),
        });
        tracing::debug!(what, %addr, "callbacks: listener protected");
    }

    /// Forget a listener that stopped.
    pub fn forget_listener(&self, what: &str) {
        self.protected.write().retain(|x| x.what != what);
    }

    /// Protect a backend service given by its URL (`amqp://`, `redis://`, `postgres://`, or a
    /// libpq `host=... port=...` string): its host:port and the addresses its name resolves to.
    pub async fn protect_service(&self, what: &str, url: &str) {
        let Some((host, port)) = service_host_port(url) else {
            tracing::warn!(
                what,
                "callbacks: cannot read the service address to protect"
            );
            return;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                self.names.write().push((
                    host.trim_end_matches('.').to_ascii_lowercase(),
                    port,
                    what.to_string(),
                ));
                match tokio::net::lookup_host((host.as_str(), port)).await {
                    Ok(a) => a.map(|a| a.ip()).collect(),
                    Err(e) => {
                        tracing::warn!(what, host, error = %e, "callbacks: service name does not resolve");
                        vec![]
                    }
                }
            }
        };
        let mut p = self.protected.write();
        for ip in ips {
            p.push(Protected {
                what: what.to_string(),
                reason: Reason::BackendService,
                ip: canonical(ip),
                port,
            });
        }
    }

    /// The rules for the user named `username` (unknown or none: the global policy).
    pub fn rules_for(&self, username: Option<&str>) -> Rules {
        let policy = username.and_then(|u| {
            self.users
                .read()
                .as_ref()
                .and_then(|a| a.user(u))
                .and_then(|u| u.callback_policy)
        });
        Rules::of(&self.cfg, policy)
    }

    /// The rules for a user whose own policy is `policy`.
    pub fn rules_of(&self, policy: Option<CallbackPolicy>) -> Rules {
        Rules::of(&self.cfg, policy)
    }

    fn listed(&self, t: &Target, ip: Option<IpAddr>) -> bool {
        let host = match (&t.host, ip) {
            (Host::Name(n), _) => n.clone(),
            (Host::Ip(a), _) => a.to_string(),
        };
        self.cfg.allowed_hosts.iter().any(|h| {
            let h = h.trim().trim_end_matches('.');
            h.eq_ignore_ascii_case(&host)
                || h.eq_ignore_ascii_case(&t.authority)
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|a| Some(canonical(a)) == ip || Host::Ip(canonical(a)) == t.host)
        })
    }

    /// May the gateway connect to `ip:port` for target `t` under `rules`?
    pub fn check_addr(
        &self,
        t: &Target,
        ip: IpAddr,
        port: u16,
        rules: Rules,
    ) -> Result<(), Reason> {
        let ip = canonical(ip);
        let k = kind(ip)?;
        for p in self.protected.read().iter() {
            if p.port == port
                && (p.ip == ip || ((p.ip.is_unspecified() || p.ip.is_loopback()) && is_local(ip)))
            {
                return Err(p.reason);
            }
        }
        if self.listed(t, Some(ip)) {
            return Ok(());
        }
        match k {
            Kind::Loopback if !rules.loopback => Err(Reason::Loopback),
            Kind::Private if !rules.private => Err(Reason::Private),
            _ => Ok(()),
        }
    }

    /// Check `url` without resolving names: literal addresses fully, names against the
    /// metadata names, `localhost` and the services' names. Not counted.
    pub fn check_url(&self, url: &str, rules: Rules) -> Result<Target, PolicyError> {
        let t = normalise(url)?;
        let refused = |reason| PolicyError::Refused {
            target: t.authority.clone(),
            reason,
        };
        match &t.host {
            Host::Ip(ip) => self.check_addr(&t, *ip, t.port, rules).map_err(refused)?,
            Host::Name(n) => {
                if METADATA_NAMES.contains(&n.as_str()) {
                    return Err(refused(Reason::Metadata));
                }
                if self
                    .names
                    .read()
                    .iter()
                    .any(|(name, port, _)| name == n && *port == t.port)
                {
                    return Err(refused(Reason::BackendService));
                }
                if n == "localhost" || n.ends_with(".localhost") {
                    for ip in [
                        IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(Ipv6Addr::LOCALHOST),
                    ] {
                        self.check_addr(&t, ip, t.port, rules).map_err(refused)?;
                    }
                }
            }
        }
        Ok(t)
    }

    /// [`check_url`](Self::check_url) when a client submits `url`; a refusal is counted.
    pub fn check_submit(
        &self,
        url: &str,
        user_policy: Option<CallbackPolicy>,
    ) -> Result<Target, PolicyError> {
        let r = self.check_url(url, self.rules_of(user_policy));
        if let Err(e) = &r {
            if let Some(reason) = e.reason() {
                self.count("submit", reason);
                tracing::info!(
                    url,
                    reason = reason.label(),
                    "callback URL refused at submission"
                );
            }
        }
        r
    }

    /// Count a refusal at `stage` (`submit` or `send`).
    pub fn count(&self, stage: &'static str, reason: Reason) {
        if let Some(s) = &self.stats {
            s.callback_refused(stage, reason.label());
        }
    }
}

/// Host and port of a service URL (`scheme://[user[:pw]@]host[:port][/...]` with the scheme's
/// default port, or libpq's `host=... port=...`).
fn service_host_port(url: &str) -> Option<(String, u16)> {
    let url = url.trim();
    if let Some((scheme, rest)) = url.split_once("://") {
        let default = match scheme.to_ascii_lowercase().as_str() {
            "amqp" => 5672,
            "amqps" => 5671,
            "redis" | "rediss" | "redis+tls" => 6379,
            "postgres" | "postgresql" => 5432,
            _ => return None,
        };
        let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
        let hostport = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
        let hostport = hostport.split(',').next().unwrap_or(hostport);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, rest) = v6.split_once(']')?;
            (h.to_string(), rest.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) if !p.is_empty() => p.parse().ok()?,
            _ => default,
        };
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        return Some((host, port));
    }
    // libpq keyword/value form.
    let mut host = None;
    let mut port = 5432;
    for kv in url.split_whitespace() {
        match kv.split_once('=') {
            Some(("host", h)) => host = Some(h.to_string()),
            Some(("port", p)) => port = p.parse().ok()?,
            _ => {}
        }
    }
    Some((host.unwrap_or_else(|| "localhost".into()), port))
}

/// The connector of the callback client: resolves the target, checks every address against
/// the guard and connects only to a checked one, so what was checked is what is connected to
/// (a name cannot be re-pointed between the check and the connection).
#[derive(Clone)]
pub struct PinnedConnector {
    guard: Arc<CallbackGuard>,
    rules: Rules,
    inner: hyper_util::client::legacy::connect::HttpConnector,
}

impl PinnedConnector {
    /// A connector for `rules`.
    pub fn new(guard: Arc<CallbackGuard>, rules: Rules) -> Self {
        let mut inner = hyper_util::client::legacy::connect::HttpConnector::new();
        inner.set_nodelay(true);
        inner.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        PinnedConnector {
            guard,
            rules,
            inner,
        }
    }
}

/// A connection refused by the callback policy (found in a client error's sources).
#[derive(Debug, thiserror::Error)]
#[error("callback target {target} refused: {}", reason.describe())]
pub struct ConnectRefused {
    pub target: String,
    pub reason: Reason,
}

/// The refusal among `e`'s sources, if the policy refused the connection.
pub fn connect_refusal<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectRefused> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<ConnectRefused>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<hyper::Uri> for PinnedConnector {
    type Response = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            let t = normalise(&uri.to_string())?;
            let addrs: Vec<SocketAddr> = match &t.host {
                Host::Ip(ip) => vec![SocketAddr::new(*ip, t.port)],
                Host::Name(n) => tokio::net::lookup_host((n.as_str(), t.port))
                    .await?
                    .collect(),
            };
            let mut refusal = None;
            let mut ok = vec![];
            for a in addrs {
                match me.guard.check_addr(&t, a.ip(), a.port(), me.rules) {
                    Ok(()) => ok.push(SocketAddr::new(canonical(a.ip()), a.port())),
                    Err(r) => refusal = refusal.or(Some(r)),
                }
            }
            if ok.is_empty() {
                let reason = refusal.unwrap_or(Reason::Invalid);
                me.guard.count("send", reason);
                return Err(Box::new(ConnectRefused {
                    target: t.authority,
                    reason,
                }) as BoxError);
            }
            let mut last: Option<BoxError> = None;
            for a in ok {
                let pinned: hyper::Uri = format!("http://{a}").parse()?;
                let mut inner = me.inner.clone();
                match tower_service::Service::call(&mut inner, pinned).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(Box::new(e)),
                }
            }
            Err(last.unwrap_or_else(|| "no address to connect to".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Host {
        normalise(url).expect(url).host
    }

    #[test]
    fn every_spelling_of_an_address_is_normalised() {
        let lo = Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for u in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://127.0.0.1./",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::127.0.0.1]/",
            "http://%31%32%37.0.0.1/",
            "HTTP://127.0.0.1:80/x#frag",
        ] {
            assert_eq!(host(u), lo, "{u}");
        }
        assert_eq!(
            host("http://0.0.0.0/"),
            Host::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(
            host("http://0/"),
            Host::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(
            host("http://[::1]:8080/"),
            Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(
            host("http://[::]/"),
            Host::Ip(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
        assert_eq!(
            host("http://Example.COM./dlr"),
            Host::Name("example.com".into())
        );
        let t = normalise("https://[::ffff:a9fe:a9fe]/x#y").expect("url");
        assert_eq!(t.host, Host::Ip("169.254.169.254".parse().expect("ip")));
        assert_eq!(t.port, 443);
        assert!(!t.url.contains('#'));
        assert_eq!(
            normalise("http://2130706433:1401/").expect("url").authority,
            "127.0.0.1:1401"
        );
        for bad in [
            "ftp://example.com/",
            "not a url",
            "http://",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_allows_loopback_and_private_public_only_does_not() {
        let g = CallbackGuard::new(CallbacksConfig::default(), None);
        let open = g.rules_of(None);
        for u in [
            "http://127.0.0.1:7877/successful_batch",
            "http://192.168.202.54/dlr_receiver.php",
            "http://10.1.2.3/x",
            "http://[::1]:8080/",
            "http://[fd12::1]/",
            "http://93.184.216.34/dlr",
            "http://localhost:7877/",
            "http://receiver.example/dlr",
        ] {
            assert!(g.check_url(u, open).is_ok(), "{u}");
        }
        let strict = g.rules_of(Some(CallbackPolicy::PublicOnly));
        for (u, why) in [
            ("http://127.0.0.1:7877/", Reason::Loopback),
            ("http://2130706433/", Reason::Loopback),
            ("http://localhost/", Reason::Loopback),
            ("http://192.168.202.54/", Reason::Private),
            ("http://100.64.0.1/", Reason::Private),
            ("http://[fd12::1]/", Reason::Private),
            ("http://[::ffff:10.0.0.1]/", Reason::Private),
        ] {
            assert_eq!(
                g.check_url(u, strict).expect_err(u).reason(),
                Some(why),
                "{u}"
            );
        }
        assert!(g.check_url("http://93.184.216.34/dlr", strict).is_ok());
        let listed = CallbackGuard::new(
            CallbacksConfig {
                policy: CallbackPolicy::PublicOnly,
                allowed_hosts: vec!["10.0.0.1".into(), "hooks.internal:8080".into()],
                ..Default::default()
            },
            None,
        );
        let r = listed.rules_of(None);
        assert!(listed.check_url("http://10.0.0.1/", r).is_ok());
        assert!(listed.check_url("http://[::ffff:10.0.0.1]/", r).is_ok());
        assert!(listed.check_url("http://10.0.0.2/", r).is_err());
        // Deprecated refinements of the global policy.
        let legacy = CallbacksConfig {
            allow_loopback: Some(false),
            ..Default::default()
        };
        assert_eq!(
            Rules::of(&legacy, None),
            Rules {
                loopback: false,
                private: true
            }
        );
        assert_eq!(
            Rules::of(&legacy, Some(CallbackPolicy::Default)),
            Rules::of_policy(CallbackPolicy::Default)
        );
    }

    #[test]
    fn always_refused_whatever_the_policy() {
        let g = CallbackGuard::new(CallbacksConfig::default(), None);
        let open = g.rules_of(None);
        for (u, why) in [
            ("http://169.254.169.254/latest/meta-data", Reason::Metadata),
            ("http://[fd00:ec2::254]/", Reason::Metadata),
            (
                "http://metadata.google.internal/computeMetadata/v1/",
                Reason::Metadata,
            ),
            ("http://2852039166/", Reason::Metadata),
            ("http://169.254.1.1/", Reason::LinkLocal),
            ("http://[fe80::1]/", Reason::LinkLocal),
            ("http://0.0.0.0:8080/", Reason::Unspecified),
            ("http://0/", Reason::Unspecified),
            ("http://[::]/", Reason::Unspecified),
            ("http://[::ffff:0.0.0.0]/", Reason::Unspecified),
            ("http://224.0.0.1/", Reason::Multicast),
            ("http://255.255.255.255/", Reason::Multicast),
            ("http://[ff02::1]/", Reason::Multicast),
            ("http://240.0.0.1/", Reason::Reserved),
            ("ftp://example.com/", Reason::Invalid),
        ] {
            assert_eq!(
                g.check_url(u, open).expect_err(u).reason(),
                Some(why),
                "{u}"
            );
        }
        let listed = CallbackGuard::new(
            CallbacksConfig {
                allowed_hosts: vec!["169.254.169.254".into()],
                ..Default::default()
            },
            None,
        );
        assert!(listed.check_url("http://169.254.169.254/", open).is_err());
    }

    #[tokio::test]
    async fn own_listeners_and_services_are_refused() {
        let g = CallbackGuard::new(CallbacksConfig::default(), None);
        let open = g.rules_of(None);
        g.protect_listener("http-api", "127.0.0.1:1401".parse().expect("addr"));
        g.protect_listener("smpp-server", "0.0.0.0:2775".parse().expect("addr"));
        g.protect_service("broker", "amqp://guest:guest@127.0.0.1/%2f")
            .await;
        g.protect_service("store", "redis://localhost:6380/0").await;
        g.protect_service("history", "host=db.internal port=5433 user=x")
            .await;
        for (u, why) in [
            ("http://127.0.0.1:1401/", Reason::GatewayListener),
            ("http://2130706433:1401/", Reason::GatewayListener),
            ("http://0x7f.1:1401/", Reason::GatewayListener),
            ("http://[::ffff:127.0.0.1]:1401/", Reason::GatewayListener),
            ("http://localhost:1401/", Reason::GatewayListener),
            ("http://127.0.0.1:2775/", Reason::GatewayListener),
            ("http://[::1]:2775/", Reason::GatewayListener),
            ("http://127.0.0.1:5672/", Reason::BackendService),
            ("http://127.0.0.1:6380/", Reason::BackendService),
            ("http://db.internal:5433/", Reason::BackendService),
        ] {
            assert_eq!(
                g.check_url(u, open).expect_err(u).reason(),
                Some(why),
                "{u}"
            );
        }
        assert!(g.check_url("http://127.0.0.1:1402/", open).is_ok());
        g.forget_listener("http-api");
        assert!(g.check_url("http://127.0.0.1:1401/", open).is_ok());
    }

    #[test]
    fn service_addresses() {
        assert_eq!(
            service_host_port("amqp://u:p@rabbit:5673/vh"),
            Some(("rabbit".into(), 5673))
        );
        assert_eq!(service_host_port("redis://r"), Some(("r".into(), 6379)));
        assert_eq!(
            service_host_port("postgres://u@[::1]/db"),
            Some(("::1".into(), 5432))
        );
        assert_eq!(
            service_host_port("host=pg port=6000 dbname=x"),
            Some(("pg".into(), 6000))
        );
    }

    #[tokio::test]
    async fn the_connector_refuses_what_the_policy_refuses() {
        use tower_service::Service;
        let g = CallbackGuard::new(
            CallbacksConfig {
                policy: CallbackPolicy::PublicOnly,
                ..Default::default()
            },
            None,
        );
        let mut c = PinnedConnector::new(g.clone(), g.rules_of(None));
        let err = c
            .call("http://localhost:9/".parse().expect("uri"))
            .await
            .expect_err("loopback refused");
        let r = connect_refusal(err.as_ref()).expect("a policy refusal");
        assert_eq!(r.reason, Reason::Loopback);
        // Default policy: a loopback listener is reached through the checked address.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let g = CallbackGuard::new(CallbacksConfig::default(), None);
        let mut c = PinnedConnector::new(g.clone(), g.rules_of(None));
        c.call(format!("http://localhost:{port}/").parse().expect("uri"))
            .await
            .expect("connected");
        g.protect_listener("jcli", format!("127.0.0.1:{port}").parse().expect("addr"));
        let err = c
            .call(format!("http://localhost:{port}/").parse().expect("uri"))
            .await
            .expect_err("own listener refused");
        assert_eq!(
            connect_refusal(err.as_ref()).map(|r| r.reason),
            Some(Reason::GatewayListener)
        );
    }
}
