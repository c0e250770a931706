//! Message traces (`[telemetry]`, the `otel` feature): the real `smsgate` binary exports its
//! spans over OTLP/HTTP (protobuf) to a stub collector that decodes them with the
//! OpenTelemetry protocol's own types. One MT (accept, submit, receipt, DLR callback) and one
//! MO (mo, MO callback) are each found as one trace whose id is the message's id; a
//! collector that is down costs no message.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use parking_lot::Mutex;
use prost::Message as _;

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    start: u64,
    end: u64,
    attrs: HashMap<String, String>,
    service: String,
}

/// A stub OTLP/HTTP collector: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`, answered 200 with an empty response.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    requests: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Collector {
    async fn start() -> (Collector, String) {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v1/traces", listener.local_addr().expect("addr"));
        let c = Collector::default();
        let c2 = c.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let c = c2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let c = c.clone();
                            async move {
                                let method = req.method().to_string();
                                let path = req.uri().path().to_string();
                                let ctype = req
                                    .headers()
                                    .get(hyper::header::CONTENT_TYPE)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string();
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                c.requests.lock().push((method, path, ctype));
                                let status = match ExportTraceServiceRequest::decode(body) {
                                    Ok(r) => {
                                        c.spans.lock().extend(spans_of(r));
                                        200
                                    }
                                    Err(_) => 400,
                                };
                                let mut resp = hyper::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::new(),
                                ));
                                *resp.status_mut() =
                                    hyper::StatusCode::from_u16(status).expect("status");
                                resp.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static(
                                        "application/x-protobuf",
                                    ),
                                );
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        (c, url)
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().clone()
    }

    /// The spans of the trace of message `id`.
    fn trace(&self, id: &uuid::Uuid) -> Vec<Span> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id == id.as_bytes())
            .collect()
    }
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn spans_of(r: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = vec![];
    for rs in r.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .map(|a| text(&a.value))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    name: s.name,
                    trace_id: s.trace_id,
                    span_id: s.span_id,
                    parent: s.parent_span_id,
                    start: s.start_time_unix_nano,
                    end: s.end_time_unix_nano,
                    attrs: s
                        .attributes
                        .iter()
                        .map(|a| (a.key.clone(), text(&a.value)))
                        .collect(),
                    service: service.clone(),
                });
            }
        }
    }
    out
}

/// The tests' usual configuration with an MO route to the HTTP connector at `mo_url`,
/// `connector` appended to the `sim` connector and `extra` at the end.
fn config(
    dir: &std::path::Path,
    http_port: u16,
    smsc_port: u16,
    mo_url: &str,
    connector: &str,
    extra: &str,
) -> String {
    config_toml(dir, http_port, smsc_port)
        .replace("requeue_delay = 1\n", &format!("requeue_delay = 1\n{connector}"))
        .replace(
            "[[filters]]\nfid = \"bobf\"",
            &format!(
                "[[httpccs]]\ncid = \"rcv\"\nurl = \"{mo_url}\"\nmethod = \"GET\"\n[[moroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"http(rcv)\"\n[[filters]]\nfid = \"bobf\""
            ),
        )
        + extra
}

/// A gateway process, stopped (SIGTERM, then waited for) when dropped: also when a test
/// fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// The gateway binary on configuration `cfg`, its log in `dir/gateway.log`, exporting every
/// 100 ms.
fn spawn_gateway(dir: &std::path::Path, cfg: &str) -> Running {
    let path = dir.join("smsgate.toml");
    std::fs::write(&path, cfg).expect("config");
    Running(
        Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&path)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("gateway.log")).expect("log"))
            .spawn()
            .expect("spawn smsgate"),
    )
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn message_id(body: &str) -> uuid::Uuid {
    let id = body
        .strip_prefix("Success \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a success: {body}"));
    uuid::Uuid::parse_str(id).expect("message id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_phase_of_an_mt_and_an_mo_is_one_trace_at_the_collector() {
    let (collector, endpoint) = Collector::start().await;
    let sim = simulator().await;
    let rcv = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // The `sim` connector's logprivacy masks numbers in spans as in log lines.
    let gateway = spawn_gateway(
        dir.path(),
        &config(
            dir.path(),
            http_port,
            sim.addr.port(),
            &rcv.url("/mo"),
            "logprivacy = true\n",
            &format!(
                "[telemetry]\notlp_endpoint = \"{endpoint}\"\nservice_name = \"smsgate-test\"\n"
            ),
        ),
    );
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for(30, "the connector bound", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) > 0
    })
    .await;
    let (st, body) = get(
        http,
        &format!(
            "/send?username=foo&password=bar&to=33612345678&content=traced&dlr=yes&dlr-url={}&dlr-level=3",
            rcv.url("/dlr")
        ),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let mt = message_id(&body);
    wait_for(20, "the MT at the SMSC", || sim.submit_count() == 1).await;
    let r = sim.received()[0].clone();
    assert_eq!(
        sim.inject_receipt(&r.message_id, "33612345678", "1234")
            .await,
        1
    );
    assert_eq!(sim.inject_mo("33698765432", "1234", b"mo traced").await, 1);
    wait_for(20, "the receipt and the MO at the receiver", || {
        let calls = rcv.calls();
        calls.iter().any(|c| c.path == "/mo") && calls.iter().any(|c| c.path == "/dlr")
    })
    .await;
    let mo = rcv
        .calls()
        .iter()
        .find(|c| c.path == "/mo")
        .and_then(|c| {
            c.get("id")
                .map(|i| uuid::Uuid::parse_str(i).expect("MO id"))
        })
        .expect("MO id");
    // accept, submit, receipt and two DLR callbacks (level 3: the SMSC's ack, the receipt).
    wait_for(20, "the MT's five spans at the collector", || {
        collector.trace(&mt).len() >= 5
    })
    .await;
    wait_for(20, "the MO's two phases at the collector", || {
        collector.trace(&mo).len() >= 2
    })
    .await;

    // The MT: one trace, its id the message's, the accept span its root.
    let spans = collector.trace(&mt);
    let by_name = |spans: &[Span], n: &str| -> Span {
        spans
            .iter()
            .find(|s| s.name == n)
            .cloned()
            .unwrap_or_else(|| panic!("no {n} span in {spans:#?}"))
    };
    let accept = by_name(&spans, "smsgate.accept");
    assert!(
        accept.parent.is_empty(),
        "the root has no parent: {accept:?}"
    );
    assert_eq!(accept.span_id, mt.as_bytes()[8..].to_vec());
    assert_eq!(accept.service, "smsgate-test");
    assert_eq!(accept.attrs["smsgate.user"], "foo");
    assert_eq!(accept.attrs["smsgate.connector"], "sim");
    assert_eq!(accept.attrs["smsgate.channel"], "http");
    assert_eq!(accept.attrs["smsgate.message_id"], mt.to_string());
    assert_eq!(accept.attrs["smsgate.destination"], "********678");
    let submit = by_name(&spans, "smsgate.submit");
    assert_eq!(submit.attrs["smsgate.outcome"], "ESME_ROK");
    assert_eq!(submit.attrs["smsgate.smsc_id"], r.message_id);
    let receipt = by_name(&spans, "smsgate.receipt");
    assert_eq!(receipt.attrs["smsgate.stat"], "DELIVRD");
    let callbacks: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "smsgate.callback")
        .collect();
    assert_eq!(callbacks.len(), 2, "{spans:#?}");
    for cb in &callbacks {
        assert_eq!(cb.attrs["smsgate.kind"], "dlr");
        assert_eq!(cb.attrs["smsgate.outcome"], "ok");
        assert_eq!(cb.attrs["server.address"], "127.0.0.1");
        assert_eq!(
            cb.parent, accept.span_id,
            "the callback is a child of the root"
        );
        assert!(cb.start <= cb.end);
    }
    for s in [&submit, &receipt] {
        assert_eq!(
            s.parent, accept.span_id,
            "{} is a child of the root",
            s.name
        );
    }
    // In the order they happened (the spans' clocks are the gateway's).
    assert!(accept.start <= accept.end && accept.start <= submit.start);
    assert!(submit.start <= submit.end && submit.end <= receipt.start);
    assert!(
        callbacks.iter().any(|c| c.start >= receipt.start),
        "the receipt's callback after the receipt: {spans:#?}"
    );
    assert_eq!(spans.len(), 5, "one span per phase: {spans:#?}");

    // The MO: its own trace, rooted at the `mo` span, the callback under it.
    let spans = collector.trace(&mo);
    let root = by_name(&spans, "smsgate.mo");
    assert!(root.parent.is_empty());
    assert_eq!(root.attrs["smsgate.routed_to"], "http(rcv)");
    assert_eq!(root.attrs["smsgate.source"], "********432");
    let cb = by_name(&spans, "smsgate.callback");
    assert_eq!(cb.attrs["smsgate.kind"], "mo");
    assert_eq!(cb.parent, root.span_id);

    // No span carries a number or the content in clear (the connector's logprivacy).
    for s in collector.spans() {
        for v in s.attrs.values() {
            for secret in ["33612345678", "33698765432", "traced"] {
                assert!(!v.contains(secret), "{secret} in {s:?}");
            }
        }
    }
    let requests = collector.requests.lock().clone();
    assert!(
        requests
            .iter()
            .all(|(m, p, t)| m == "POST" && p == "/v1/traces" && t == "application/x-protobuf"),
        "{requests:?}"
    );
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_no_message() {
    let sim = simulator().await;
    let rcv = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // Nothing listens there: every export fails.
    let dead = free_port();
    let gateway = spawn_gateway(
        dir.path(),
        &config(
            dir.path(),
            http_port,
            sim.addr.port(),
            &rcv.url("/mo"),
            "",
            &format!("[telemetry]\notlp_endpoint = \"http://127.0.0.1:{dead}/v1/traces\"\n"),
        ),
    );
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for(30, "the connector bound", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) > 0
    })
    .await;
    for i in 0..50 {
        let started = std::time::Instant::now();
        let (st, body) = get(
            http,
            &format!("/send?username=foo&password=bar&to=336000{i:05}&content=m{i}"),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "an answer waited for the collector: {:?}",
            started.elapsed()
        );
    }
    wait_for(20, "all 50 at the SMSC", || sim.submit_count() == 50).await;
    // The failed exports are told in the log (OpenTelemetry's own error events).
    let log = dir.path().join("gateway.log");
    wait_for(20, "the export error in the log", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("BatchSpanProcessor.ExportError")
    })
    .await;
    drop(gateway);
}
