//! `[telemetry]`: message traces exported to an OpenTelemetry collector (OTLP over HTTP,
//! protobuf), in builds with the `otel` feature (the default). See `smsgate_core::trace`.
//!
//! ```toml
//! [telemetry]
//! otlp_endpoint = "http://127.0.0.1:4318/v1/traces"   # unset: no traces
//! service_name = "smsgate"
//! sample_ratio = 0.1   # share of messages traced (all their phases), 0 to 1
//! ```
//!
//! The exporter's batching follows OpenTelemetry's `OTEL_BSP_*` environment variables (a
//! batch every 5 s by default; spans beyond a full queue of 2048 are dropped, never waited
//! for: a slow or absent collector never slows messages down).

use serde::{Deserialize, Serialize};

/// The `[telemetry]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP traces URL (`http://host:4318/v1/traces`); none: no traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// The share of messages traced, 0 to 1 (decided per message id: all of a message's
    /// phases or none).
    pub sample_ratio: f64,
    /// How long one export may take before it is abandoned, in milliseconds.
    pub export_timeout_ms: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: "smsgate".into(),
            sample_ratio: 1.0,
            export_timeout_ms: 10_000,
        }
    }
}

impl TelemetryConfig {
    /// The section's own errors (a ratio out of range, an endpoint that is not http(s)).
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(format!(
                "key `telemetry.sample_ratio`: {} is not between 0 and 1",
                self.sample_ratio
            ));
        }
        if let Some(e) = &self.otlp_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "key `telemetry.otlp_endpoint`: {e:?} is not an http:// or https:// URL"
                ));
            }
        }
        Ok(())
    }
}
