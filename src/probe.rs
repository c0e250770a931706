//! `smsgate probe`: GET a URL (by default the local node's `/ready`) and succeed on a 2xx
//! answer, so a container's HEALTHCHECK or a script needs no curl in the image.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Options of `smsgate probe`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// What to ask (plain HTTP); by default `/ready` on the HTTP API the configuration names
    /// (the config file and SMSGATE_* variables, as `run` reads them).
    #[arg(long)]
    pub url: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// `/ready` of the HTTP API `cfg` configures (on loopback when it binds every interface).
pub fn ready_url(cfg: &crate::config::Config) -> String {
    let host = match cfg.http_api.bind.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{}/ready", cfg.http_api.port)
}

/// The answer's status line and body when it is a 2xx; why not otherwise. `url`: what to
/// ask ([`Options::url`], else [`ready_url`]).
pub async fn run(opts: &Options, url: &str) -> Result<String, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("--url {url}: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let ask = async {
        let resp = client.get(uri).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    let (status, body) = tokio::time::timeout(Duration::from_secs(opts.timeout), ask)
        .await
        .map_err(|_| format!("{url}: no answer within {} s", opts.timeout))?
        .map_err(|e| format!("{url}: {e}"))?;
    let line = format!("{} {}", status.as_u16(), body.trim_end());
    if status.is_success() {
        Ok(line)
    } else {
        Err(line)
    }
}
