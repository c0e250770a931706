//! Which callback URLs the gateway may call. By default no loopback, private, link-local or
//! otherwise internal address: a client's `dlr-url` must not reach the gateway's own RabbitMQ,
//! Redis or admin ports (SSRF). Operators allow what they need in `[callbacks]`.

use std::net::IpAddr;

use crate::config::CallbacksConfig;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid callback URL: {0}")]
    InvalidUrl(String),
    #[error("callback host {0} resolves to a forbidden address {1}")]
    Forbidden(String, IpAddr),
    #[error("callback host {0} does not resolve: {1}")]
    Unresolvable(String, String),
}

/// A parsed, checked target.
#[derive(Debug, Clone)]
pub struct Target {
    pub uri: hyper::Uri,
    /// `host:port`, the key of the per-host concurrency limit.
    pub authority: String,
}

fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
                || v4.octets()[0] == 0
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80 // link local
                || v6.is_multicast()
                || v6.is_unspecified()
                || v6
                    .to_ipv4_mapped()
                    .map(|v4| is_private(&IpAddr::V4(v4)) || v4.is_loopback())
                    .unwrap_or(false)
        }
    }
}

/// May the gateway connect to `ip` for `host` under `cfg`?
fn allowed(cfg: &CallbacksConfig, ip: &IpAddr) -> bool {
    let loopback = ip.is_loopback();
    let private = is_private(ip) || ip.is_unspecified();
    !((loopback && !cfg.allow_loopback) || (private && !loopback && !cfg.allow_private))
}

fn host_listed(cfg: &CallbacksConfig, host: &str) -> bool {
    cfg.allowed_hosts.iter().any(|h| {
        h.eq_ignore_ascii_case(host)
            || h.split_once(':')
                .is_some_and(|(hh, _)| hh.eq_ignore_ascii_case(host))
    })
}

/// The DNS resolver of the callback client: it applies the policy to the addresses it
/// actually connects to, so a name that resolved to a public address when it was checked
/// cannot be re-pointed at an internal one before the connection (DNS rebinding).
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    cfg: std::sync::Arc<CallbacksConfig>,
}

impl PolicyResolver {
    pub fn new(cfg: CallbacksConfig) -> Self {
        PolicyResolver {
            cfg: std::sync::Arc::new(cfg),
        }
    }
}

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for PolicyResolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let cfg = self.cfg.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if host_listed(&cfg, &host) {
                return Ok(addrs.into_iter());
            }
            let ok: Vec<std::net::SocketAddr> = addrs
                .into_iter()
                .filter(|a| allowed(&cfg, &a.ip()))
                .collect();
            if ok.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("callback host {host} resolves only to forbidden addresses"),
                ));
            }
            Ok(ok.into_iter())
        })
    }
}

/// Check `url` against the policy (resolving its host).
pub async fn check(cfg: &CallbacksConfig, url: &str) -> Result<Target, PolicyError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| PolicyError::InvalidUrl(url.to_string()))?;
    let scheme = uri.scheme_str().unwrap_or("");
    if scheme != "http" && scheme != "https" {
        return Err(PolicyError::InvalidUrl(url.to_string()));
    }
    let host = uri
        .host()
        .ok_or_else(|| PolicyError::InvalidUrl(url.to_string()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let authority = format!("{host}:{port}");
    let target = Target { uri, authority };
    if cfg
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&host) || h.eq_ignore_ascii_case(&target.authority))
    {
        return Ok(target);
    }
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| PolicyError::Unresolvable(host.clone(), e.to_string()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(PolicyError::Unresolvable(host, "no address".into()));
    }
    for ip in addrs {
        if !allowed(cfg, &ip) {
            return Err(PolicyError::Forbidden(host, ip));
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn defaults_refuse_internal_targets() {
        let cfg = CallbacksConfig::default();
        for u in [
            "http://127.0.0.1:5672/",
            "http://10.1.2.3/x",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:6379/",
            "http://0.0.0.0/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(check(&cfg, u).await.is_err(), "{u}");
        }
        assert!(check(&cfg, "http://93.184.216.34/dlr").await.is_ok());
        let open = CallbacksConfig {
            allow_loopback: true,
            ..Default::default()
        };
        assert!(check(&open, "http://127.0.0.1:8080/dlr").await.is_ok());
        assert!(check(&open, "http://10.0.0.1/").await.is_err());
        let listed = CallbacksConfig {
            allowed_hosts: vec!["10.0.0.1".into()],
            ..Default::default()
        };
        assert!(check(&listed, "http://10.0.0.1/").await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_what_the_policy_refuses() {
        use tower_service::Service;
        let name = |s: &str| s.parse::<hyper_util::client::legacy::connect::dns::Name>();
        let mut strict = PolicyResolver::new(CallbacksConfig::default());
        let err = strict
            .call(name("localhost").expect("name"))
            .await
            .expect_err("loopback refused");
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        let mut open = PolicyResolver::new(CallbacksConfig {
            allow_loopback: true,
            ..Default::default()
        });
        let addrs: Vec<_> = open
            .call(name("localhost").expect("name"))
            .await
            .expect("loopback allowed")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
