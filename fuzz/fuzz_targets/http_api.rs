//! Arbitrary query strings and form bodies through the real HTTP API (`/send`, `/rate`,
//! `/balance`, as Jasmin's clients send them) and the REST API's GET endpoints, over a socket to
//! an in-process gateway (see `support`). The input's first byte picks the endpoint and method;
//! the rest is the query string, then (after a 0xFF byte) the body. Bytes a URI may not carry
//! are percent-encoded (HTTP framing is hyper's business, the values are ours); `%` stays raw,
//! so malformed escapes get through.
//!
//! Every request must get a complete HTTP answer that is not a 5xx (bad input is the client's
//! error), and the gateway must keep serving.
#![no_main]

mod support;

use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU64, Ordering};

fn encode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        if b.is_ascii_alphanumeric() || b"=&%+._-~*".contains(&b) {
            out.push(b);
        } else {
            out.extend(format!("%{b:02X}").bytes());
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let f = support::gateway();
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cut = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
    let (query, body) = (&rest[..cut], rest.get(cut + 1..).unwrap_or(&[]));
    // (listener, method, path, authenticated with foo:bar)
    let (addr, method, path, basic) = match pick % 8 {
        0 => (f.http, "GET", "/send", false),
        1 => (f.http, "POST", "/send", false),
        2 => (f.http, "GET", "/rate", false),
        3 => (f.http, "GET", "/balance", false),
        4 => (f.http, "POST", "/rate", false),
        5 => (f.rest, "GET", "/secure/rate", true),
        6 => (f.rest, "GET", "/secure/balance", true),
        _ => (f.http, "GET", "/metrics", false),
    };
    let mut req = format!("{method} {path}?").into_bytes();
    req.extend(encode(query));
    req.extend(b" HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    if basic {
        req.extend(b"Authorization: Basic Zm9vOmJhcg==\r\n");
    }
    req.extend(
        format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .bytes(),
    );
    req.extend_from_slice(body);
    let answer = support::exchange(addr, &req, support::http_complete);
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(
        (200..500).contains(&status),
        "{method} {path}: answered {status}: {text:?}"
    );
    static N: AtomicU64 = AtomicU64::new(0);
    if N.fetch_add(1, Ordering::Relaxed) % 256 == 0 {
        support::still_serving(f.http);
    }
});
