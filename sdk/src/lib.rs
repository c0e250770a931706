//! Write smsgate plugins in Rust.
//!
//! A plugin is a crate of type `cdylib` built with `cargo build --target wasm32-wasip2
//! --release`; the `.wasm` goes into the gateway's plugins directory. Implement the trait of
//! one world and export it:
//!
//! ```ignore
//! use smsgate_sdk::{Filter, Routable};
//! struct Blacklist;
//! impl Filter for Blacklist {
//!     fn matches(r: &Routable) -> bool {
//!         smsgate_sdk::config("numbers").is_some_and(|l| l.split(',').any(|n| n == r.destination.addr))
//!     }
//! }
//! smsgate_sdk::export_filter!(Blacklist);
//! ```
//!
//! | world | trait | macro |
//! | --- | --- | --- |
//! | `filter` | [`Filter`] | [`export_filter!`] |
//! | `route` | [`Route`] | [`export_route!`] |
//! | `interceptor` | [`Interceptor`] | [`export_interceptor!`] |
//! | `hlr-lookup` | [`HlrLookup`] | [`export_hlr_lookup!`] |
//! | `charging` | [`Charging`] | [`export_charging!`] |
//!
//! Host functions ([`log`], [`config`], [`now_ms`], [`http::post`]) work natively too, backed by
//! the [`testing`] harness, so `cargo test` exercises a plugin without a gateway.

#![allow(clippy::too_many_arguments)]

#[doc(hidden)]
pub mod base {
    wit_bindgen::generate!({ world: "base", path: "../wit/since_v0.1.0" });
}

macro_rules! world_bindings {
    ($modname:ident, $world:literal, $macro:literal, $path:literal) => {
        #[doc(hidden)]
        pub mod $modname {
            wit_bindgen::generate!({
                world: $world,
                path: "../wit/since_v0.1.0",
                with: {
                    "smsgate:plugin/types@0.1.0": crate::base::smsgate::plugin::types,
                    "smsgate:plugin/host@0.1.0": crate::base::smsgate::plugin::host,
                },
                pub_export_macro: true,
                export_macro_name: $macro,
                default_bindings_module: $path,
            });
        }
    };
}

world_bindings!(
    filter_world,
    "filter",
    "__smsgate_export_filter",
    "smsgate_sdk::filter_world"
);
world_bindings!(
    route_world,
    "route",
    "__smsgate_export_route",
    "smsgate_sdk::route_world"
);
world_bindings!(
    interceptor_world,
    "interceptor",
    "__smsgate_export_interceptor",
    "smsgate_sdk::interceptor_world"
);
#[doc(hidden)]
pub mod hlr_world {
    wit_bindgen::generate!({
        world: "hlr-lookup",
        path: "../wit/since_v0.1.0",
        with: { "smsgate:plugin/host@0.1.0": crate::base::smsgate::plugin::host },
        pub_export_macro: true,
        export_macro_name: "__smsgate_export_hlr",
        default_bindings_module: "smsgate_sdk::hlr_world",
    });
}
world_bindings!(
    charging_world,
    "charging",
    "__smsgate_export_charging",
    "smsgate_sdk::charging_world"
);

pub use base::smsgate::plugin::host::Level;
pub use base::smsgate::plugin::types::{Address, Channel, Direction, Routable, Tlv};
pub use hlr_world::Network;
pub use interceptor_world::Verdict;
pub use route_world::Candidate;

pub mod http;
mod routable;
pub mod testing;

pub use routable::RoutableExt;

/// `filter` world: a predicate on messages (`type PluginFilter` in the routing tables).
pub trait Filter {
    /// Does `r` match?
    fn matches(r: &Routable) -> bool;
}

/// `route` world: choose a connector among the route's candidates.
pub trait Route {
    /// Index into `candidates`, or `None` to let the table try the next route.
    fn pick(r: &Routable, candidates: &[Candidate]) -> Option<u32>;
}

/// `interceptor` world: change, tag, lock or answer a message before routing.
pub trait Interceptor {
    /// What to do with `r` (see [`Verdict`]; [`RoutableExt`] has helpers).
    fn intercept(r: Routable) -> Verdict;
}

/// `hlr-lookup` world: which network an MSISDN belongs to.
pub trait HlrLookup {
    /// Look up `msisdn` (international, no `+`).
    fn lookup(msisdn: &str) -> Result<Network, String>;
}

/// `charging` world: authorize before billing, settle on the SMSC's answer.
pub trait Charging {
    /// `Ok(())` lets the message through, `Err(status)` refuses it with that SMPP status.
    fn authorize(r: &Routable, parts: u32) -> Result<(), u32>;
    /// The SMSC answered the submission of `message_id`.
    fn settle(message_id: &str, accepted: bool) {
        let _ = (message_id, accepted);
    }
}

/// A verdict that changes nothing and lets the message go on to routing.
pub fn pass() -> Verdict {
    Verdict {
        routable: None,
        smpp_status: None,
        http_status: None,
    }
}

/// A verdict that lets the changed message `r` go on to routing.
pub fn modified(r: Routable) -> Verdict {
    Verdict {
        routable: Some(r),
        smpp_status: None,
        http_status: None,
    }
}

/// A verdict answering `status` to SMPP clients (and 520 to HTTP ones); 0 accepts the message
/// without routing or sending it.
pub fn reject_smpp(status: u32) -> Verdict {
    Verdict {
        routable: None,
        smpp_status: Some(status),
        http_status: None,
    }
}

/// A verdict answering `status` to HTTP clients (and 255 to SMPP ones).
pub fn reject_http(status: u16) -> Verdict {
    Verdict {
        routable: None,
        smpp_status: None,
        http_status: Some(status),
    }
}

/// SMPP command statuses plugins commonly answer with.
pub mod status {
    pub const ESME_ROK: u32 = 0x00;
    pub const ESME_RINVDSTADR: u32 = 0x0B;
    pub const ESME_RINVSRCADR: u32 = 0x0A;
    pub const ESME_RSYSERR: u32 = 0x08;
    pub const ESME_RTHROTTLED: u32 = 0x58;
    pub const ESME_RDELIVERYFAILURE: u32 = 0xFE;
    pub const ESME_RUNKNOWNERR: u32 = 0xFF;
}

/// Log into the gateway's log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    base::smsgate::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    testing::record_log(level, message);
}

/// A value from the plugin's `[config]` table.
///
/// An instance only ever sees one configuration (editing `name.toml` loads a new version of
/// the plugin with new instances), so the value is asked of the host once per key and
/// instance, then served from the instance's memory.
pub fn config(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return CONFIG.with(|c| {
        if let Some(v) = c.borrow().get(key) {
            return v.clone();
        }
        let v = base::smsgate::plugin::host::config(key);
        c.borrow_mut().insert(key.to_string(), v.clone());
        v
    });
    #[cfg(not(target_arch = "wasm32"))]
    return testing::config_value(key);
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    static CONFIG: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Wall clock, milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    return base::smsgate::plugin::host::now_ms();
    #[cfg(not(target_arch = "wasm32"))]
    return testing::now_value();
}

/// Export a [`Filter`] as the plugin's `filter` world.
#[macro_export]
macro_rules! export_filter {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::filter_world::Guest for Export {
                fn matches(r: $crate::Routable) -> bool {
                    <$t as $crate::Filter>::matches(&r)
                }
            }
            $crate::filter_world::__smsgate_export_filter!(Export with_types_in $crate::filter_world);
        };
    };
}

/// Export a [`Route`] as the plugin's `route` world.
#[macro_export]
macro_rules! export_route {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::route_world::Guest for Export {
                fn pick(r: $crate::Routable, c: ::std::vec::Vec<$crate::Candidate>) -> Option<u32> {
                    <$t as $crate::Route>::pick(&r, &c)
                }
            }
    $crate::route_world::__smsgate_export_route!(Export with_types_in $crate::route_world);
        };
    };
}

/// Export an [`Interceptor`] as the plugin's `interceptor` world.
#[macro_export]
macro_rules! export_interceptor {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::interceptor_world::Guest for Export {
                fn intercept(r: $crate::Routable) -> $crate::Verdict {
                    <$t as $crate::Interceptor>::intercept(r)
                }
            }
            $crate::interceptor_world::__smsgate_export_interceptor!(Export with_types_in $crate::interceptor_world);
        };
    };
}

/// Export an [`HlrLookup`] as the plugin's `hlr-lookup` world.
#[macro_export]
macro_rules! export_hlr_lookup {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::hlr_world::Guest for Export {
                fn lookup(
                    msisdn: ::std::string::String,
                ) -> Result<$crate::Network, ::std::string::String> {
                    <$t as $crate::HlrLookup>::lookup(&msisdn)
                }
            }
    $crate::hlr_world::__smsgate_export_hlr!(Export with_types_in $crate::hlr_world);
        };
    };
}

/// Export a [`Charging`] as the plugin's `charging` world.
#[macro_export]
macro_rules! export_charging {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::charging_world::Guest for Export {
                fn authorize(r: $crate::Routable, parts: u32) -> Result<(), u32> {
                    <$t as $crate::Charging>::authorize(&r, parts)
                }
                fn settle(id: ::std::string::String, accepted: bool) {
                    <$t as $crate::Charging>::settle(&id, accepted)
                }
            }
            $crate::charging_world::__smsgate_export_charging!(Export with_types_in $crate::charging_world);
        };
    };
}
