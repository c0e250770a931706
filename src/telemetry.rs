//! The OpenTelemetry exporter of message traces (`[telemetry]`): spans recorded by
//! `smsgate_core::trace` are batched on a thread of their own and sent to an OTLP/HTTP
//! collector (protobuf). A collector that is slow, down or absent costs dropped spans, never
//! a slower message: the batch queue drops what does not fit.

use smsgate_core::config::TelemetryConfig;

/// The running exporter: flushes what is batched when shut down.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl Telemetry {
    /// Start exporting to `cfg.otlp_endpoint`, if set; `node` names this process
    /// (`service.instance.id`). `Ok(None)` when no endpoint is set; an error when the build
    /// has no `otel` feature but an endpoint is set, or the exporter cannot be built.
    ///
    /// Call it outside an async context (the exporter's HTTP client runs its own).
    pub fn start(cfg: &TelemetryConfig, node: &str) -> Result<Option<Telemetry>, String> {
        let Some(endpoint) = &cfg.otlp_endpoint else {
            return Ok(None);
        };
        cfg.check()?;
        #[cfg(not(feature = "otel"))]
        {
            let _ = (endpoint, node);
            Err("telemetry.otlp_endpoint is set but this build has no `otel` feature".into())
        }
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TracerProvider as _;
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .with_timeout(std::time::Duration::from_millis(
                    cfg.export_timeout_ms.max(1),
                ))
                .build()
                .map_err(|e| format!("telemetry exporter: {e}"))?;
            let resource = opentelemetry_sdk::Resource::builder_empty()
                .with_service_name(cfg.service_name.clone())
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.instance.id",
                    node.to_string(),
                ))
                .build();
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_id_generator(smsgate_core::trace::MessageIds::default())
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
                .with_resource(resource)
                .build();
            smsgate_core::trace::install(provider.tracer("smsgate"), cfg.sample_ratio);
            Ok(Some(Telemetry { provider }))
        }
    }

    /// Export what is still batched and stop (at most a few seconds).
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Err(e) = self
            .provider
            .shutdown_with_timeout(std::time::Duration::from_secs(5))
        {
            tracing::warn!(error = %e, "telemetry: spans not all exported at shutdown");
        }
    }
}
