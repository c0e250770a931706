//! Native test harness: build routables, set the plugin's config, capture its logs, fake the
//! clock and HTTP, then call the plugin's trait methods directly in `cargo test`.
//!
//! ```
//! use smsgate_sdk::testing;
//! testing::set_config("numbers", "33600000000");
//! let r = testing::mt("33600000000", "hello");
//! assert_eq!(r.destination.addr, "33600000000");
//! ```

#![cfg_attr(target_arch = "wasm32", allow(dead_code))]

use std::cell::RefCell;
use std::collections::HashMap;

use crate::{Address, Channel, Direction, Level, Routable};

/// A fake HTTP service: `(url, body) -> (status, body)`.
pub type HttpMock = Box<dyn Fn(&str, &[u8]) -> Result<(u16, Vec<u8>), String>>;

#[derive(Default)]
struct Harness {
    config: HashMap<String, String>,
    logs: Vec<(Level, String)>,
    now: i64,
    http: Option<HttpMock>,
}

thread_local! {
    static HARNESS: RefCell<Harness> = RefCell::new(Harness::default());
}

/// Set a key of the plugin's `[config]` (for this test thread).
pub fn set_config(key: &str, value: &str) {
    HARNESS.with(|h| {
        h.borrow_mut()
            .config
            .insert(key.to_string(), value.to_string())
    });
}

/// Forget every config key, log line, mock and clock value.
pub fn reset() {
    HARNESS.with(|h| *h.borrow_mut() = Harness::default());
}

/// What the plugin logged so far.
pub fn logs() -> Vec<(Level, String)> {
    HARNESS.with(|h| h.borrow().logs.clone())
}

/// Set what [`crate::now_ms`] answers.
pub fn set_now_ms(ms: i64) {
    HARNESS.with(|h| h.borrow_mut().now = ms);
}

/// Answer [`crate::http::post`] with `mock`.
pub fn mock_http(mock: impl Fn(&str, &[u8]) -> Result<(u16, Vec<u8>), String> + 'static) {
    HARNESS.with(|h| h.borrow_mut().http = Some(Box::new(mock)));
}

pub(crate) fn record_log(level: Level, message: &str) {
    HARNESS.with(|h| h.borrow_mut().logs.push((level, message.to_string())));
}

pub(crate) fn config_value(key: &str) -> Option<String> {
    HARNESS.with(|h| h.borrow().config.get(key).cloned())
}

pub(crate) fn now_value() -> i64 {
    HARNESS.with(|h| h.borrow().now)
}

pub(crate) fn http_call(url: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    HARNESS.with(|h| match &h.borrow().http {
        Some(m) => m(url, body),
        None => Err("no HTTP mock set (testing::mock_http)".into()),
    })
}

/// An MT message from user `foo` to `to` with text content.
pub fn mt(to: &str, text: &str) -> Routable {
    Routable {
        id: "00000000-0000-0000-0000-000000000000".into(),
        direction: Direction::Mt,
        channel: Channel::Http,
        source: Address {
            addr: String::new(),
            ton: 1,
            npi: 1,
        },
        destination: Address {
            addr: to.into(),
            ton: 1,
            npi: 1,
        },
        data_coding: 0,
        esm_class: 0,
        registered_delivery: 0,
        priority: 0,
        protocol_id: 0,
        validity_period: String::new(),
        schedule_delivery_time: String::new(),
        short_message: text.as_bytes().to_vec(),
        text: Some(text.into()),
        tlvs: vec![],
        tags: vec![],
        locked: vec![],
        user: Some("foo".into()),
        group: Some("g".into()),
        origin_connector: None,
        created_at_ms: 0,
    }
}

/// An MO message from `from` to `to` received on connector `cid`.
pub fn mo(from: &str, to: &str, text: &str, cid: &str) -> Routable {
    let mut r = mt(to, text);
    r.direction = Direction::Mo;
    r.channel = Channel::Smppc;
    r.source.addr = from.into();
    r.user = None;
    r.group = None;
    r.origin_connector = Some(cid.into());
    r
}
