//! End to end: HTTP /send → gateway → SMPP → simulator, over real sockets.

use crate::common::*;
use smsgate::simulator::Received;

async fn setup() -> (
    tempfile::TempDir,
    std::sync::Arc<smsgate::app::Gateway>,
    smsgate::simulator::Simulator,
    std::net::SocketAddr,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let cfg = load(&config_toml(dir.path(), 0, sim.addr.port()), dir.path());
    let gw = gateway(cfg).await;
    let addr = gw.http_addr.expect("http");
    (dir, gw, sim, addr)
}

fn success_id(body: &str) -> String {
    assert!(
        body.starts_with("Success \""),
        "expected success, got {body:?}"
    );
    body.trim_start_matches("Success \"")
        .trim_end_matches('"')
        .to_string()
}

#[tokio::test]
async fn send_reaches_the_smsc_with_the_right_fields() {
    let (_d, gw, sim, addr) = setup().await;
    let (st, body) = get(addr, "/send?username=foo&password=bar&to=%2B33600000001&from=12345&content=Hello%40world&priority=2&validity-period=90&dlr=yes&dlr-url=http%3A%2F%2F127.0.0.1%3A9%2Fdlr&dlr-level=2").await;
    assert_eq!(st, 200, "{body}");
    let id = success_id(&body);
    assert_eq!(id.len(), 36);
    wait_for(10, "submit at the SMSC", || sim.submit_count() == 1).await;
    let r: Received = sim.received().remove(0);
    assert_eq!(r.destination_addr, "33600000001");
    assert_eq!((r.dest_addr_ton, r.dest_addr_npi), (1, 1));
    assert_eq!(r.source_addr, "12345");
    assert_eq!((r.source_addr_ton, r.source_addr_npi), (2, 1));
    assert_eq!(r.data_coding, 0);
    // '@' is 0x00 in GSM 03.38 (unpacked).
    assert_eq!(r.short_message, b"Hello\x00world");
    assert_eq!(r.priority_flag, 2);
    assert_eq!(r.registered_delivery, 1);
    assert_eq!(r.validity_period, "000000013000000R");
    // the record says the SMSC accepted it
    wait_for(5, "record", || true).await;
    let mut rec = None;
    for _ in 0..100 {
        rec = gw.store.record_get(&id).await.expect("record");
        if rec.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rec = rec.expect("message record");
    assert_eq!(rec.status, "ESME_ROK");
    assert_eq!(rec.smsc_id.as_deref(), Some(r.message_id.as_str()));
    gw.shutdown().await;
}

#[tokio::test]
async fn ucs2_binary_alphanumeric_and_utf8_users() {
    let (_d, gw, sim, addr) = setup().await;
    // Spec example: UCS2 content as raw UTF-16BE bytes.
    let (st, b) = get(
        addr,
        "/send?username=foo&password=bar&to=1&content=%06%23%061%06F%06%28&coding=8",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = get(
        addr,
        "/send?username=foo&password=bar&to=2&hex-content=0623063106460628&coding=8",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = get(
        addr,
        "/send?username=foo&password=bar&to=3&hex-content=00ff10&coding=4&from=Jasmin",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // UTF-8 user: text with a snowman goes as UCS2 automatically; GSM text as coding 0.
    let (st, b) = get(
        addr,
        "/send?username=utf&password=utfpwd&to=4&content=caf%C3%A9+%E2%98%83",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = get(
        addr,
        "/send?username=utf&password=utfpwd&to=5&content=caf%C3%A9",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Raw coding 0, bytes that are not UTF-8: read as Latin-1 ('á', which GSM replaces).
    let (st, b) = get(addr, "/send?username=foo&password=bar&to=6&content=%E1").await;
    assert_eq!(st, 200, "{b}");
    wait_for(10, "6 submits", || sim.submit_count() == 6).await;
    let mut got = sim.received();
    got.sort_by(|a, b| a.destination_addr.cmp(&b.destination_addr));
    assert_eq!(
        got[0].short_message,
        vec![0x06, 0x23, 0x06, 0x31, 0x06, 0x46, 0x06, 0x28]
    );
    assert_eq!(got[0].data_coding, 8);
    assert_eq!(
        got[1].short_message,
        vec![0x06, 0x23, 0x06, 0x31, 0x06, 0x46, 0x06, 0x28]
    );
    assert_eq!(got[2].short_message, vec![0x00, 0xff, 0x10]);
    assert_eq!(
        (
            got[2].data_coding,
            got[2].source_addr_ton,
            got[2].source_addr_npi
        ),
        (4, 5, 0)
    );
    assert_eq!(got[3].data_coding, 8);
    assert_eq!(
        got[3].short_message,
        [0, b'c', 0, b'a', 0, b'f', 0, 0xe9, 0, b' ', 0x26, 0x03]
    );
    assert_eq!(
        (got[4].data_coding, got[4].short_message.clone()),
        (0, vec![b'c', b'a', b'f', 0x05])
    );
    assert_eq!(got[5].short_message, b"?");
    gw.shutdown().await;
}

/// Jasmin 0.11.1's `/send`: `content` with coding 0 (the default) is UTF-8, encoded to GSM
/// 03.38 with `?` for what it cannot carry; other codings go byte for byte. Per user,
/// `unrepresentable` refuses or transliterates instead.
#[tokio::test]
async fn coding_0_content_is_utf8_as_jasmin_sends_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text = text.replace(
        "[[smppccs]]",
        "[[users]]\nusername = \"strict\"\npassword = \"pw\"\ngid = \"g1\"\nunrepresentable = \"refuse\"\n\
         [[users]]\nusername = \"translit\"\npassword = \"pw\"\ngid = \"g1\"\nunrepresentable = \"transliterate\"\n\
         [[smppccs]]",
    );
    let gw = gateway(load(&text, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let cases: Vec<(&str, String, Vec<u8>, u8)> = vec![
        // (user, extra arguments, septets/octets the SMSC gets, data_coding)
        (
            "foo",
            format!("content={}", enc("€é ü[")),
            vec![0x1B, 0x65, 0x05, 0x20, 0x7E, 0x1B, 0x3C],
            0,
        ),
        (
            "foo",
            format!("content={}", enc("Привет 😀 ç")),
            b"?????? ? \x09".to_vec(),
            0,
        ),
        (
            "foo",
            format!("content={}&coding=0", enc("Ölçü")),
            vec![0x5C, b'l', 0x09, 0x7E],
            0,
        ),
        // Other codings: the bytes as they came (here UTF-8 'é' sent as coding 3 goes as is).
        (
            "foo",
            format!("content={}&coding=3", enc("é")),
            vec![0xC3, 0xA9],
            3,
        ),
        (
            "foo",
            "content=%E9t%E9&coding=1".into(),
            vec![0xE9, b't', 0xE9],
            1,
        ),
        (
            "foo",
            format!("content={}&coding=8", "%04%1F%04%40"),
            vec![0x04, 0x1F, 0x04, 0x40],
            8,
        ),
        (
            "translit",
            format!("content={}", enc("Привет")),
            b"Privet".to_vec(),
            0,
        ),
    ];
    for (i, (user, args, _, _)) in cases.iter().enumerate() {
        let pw = if *user == "foo" { "bar" } else { "pw" };
        let (st, b) = get(
            addr,
            &format!("/send?username={user}&password={pw}&to=33{i:09}&{args}"),
        )
        .await;
        assert_eq!(st, 200, "{user} {args}: {b}");
    }
    // Refusal is a per-user choice: 400 naming the character.
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=strict&password=pw&to=1&content={}",
            enc("Привет")
        ),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b.contains("'П'") && b.contains("cannot be represented"),
        "{b}"
    );
    wait_for(10, "every case at the SMSC", || {
        sim.submit_count() == cases.len() as u64
    })
    .await;
    let mut got = sim.received();
    got.sort_by(|a, b| a.destination_addr.cmp(&b.destination_addr));
    for ((user, args, want, coding), r) in cases.iter().zip(&got) {
        assert_eq!(
            (&r.short_message, r.data_coding),
            (want, *coding),
            "{user} {args}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_error_row_of_table_7() {
    let (_d, gw, _sim, addr) = setup().await;
    let cases: &[(&str, u16, &str)] = &[
        // Jasmin adds its defaults (dlr, coding, custom_tlvs) before validating, so an empty
        // /send misses `to` first (send.py, render_POST).
        (
            "/send",
            400,
            "Error \"Mandatory argument [to] is not found.\"",
        ),
        (
            "/send?username=foo&password=bar",
            400,
            "Error \"Mandatory argument [to] is not found.\"",
        ),
        (
            "/send?to=33600000001&content=hi",
            400,
            "Error \"Mandatory argument [username] is not found.\"",
        ),
        (
            "/send?username=foo&password=bar&to=33600000001",
            400,
            "Error \"content or hex-content not present.\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=a&hex-content=00",
            400,
            "Error \"content and hex-content cannot be used both in same request.\"",
        ),
        (
            "/send?foo=bar&username=foo",
            400,
            "Error \"Argument [foo] is unknown.\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=a&priority=9",
            400,
            "Error \"Argument [priority] has an invalid value: [9].\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=a&coding=99",
            400,
            "Error \"Argument [coding] has an invalid value: [99].\"",
        ),
        (
            "/send?username=foo&password=bar&to=abc&content=a",
            400,
            "Error \"Argument [to] has an invalid value: [abc].\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&hex-content=0",
            400,
            "Error \"Invalid hex-content data: 'b'0''\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&to=2&content=a",
            400,
            "Error \"Argument [to] is duplicated.\"",
        ),
        (
            "/send?username=foo&password=wrong&to=1&content=a",
            403,
            "Error \"Authentication failure for username:foo\"",
        ),
        (
            "/send?username=nobody&password=x&to=1&content=a",
            403,
            "Error \"Authentication failure for username:nobody\"",
        ),
        (
            "/send?username=eve&password=evepwd&to=1&content=a",
            403,
            "Error \"Authentication failure for username:eve\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=a&coding=8",
            400,
            "Error \"Content cannot be sent: UCS2 content must have an even number of bytes\"",
        ),
        (
            "/balance?username=foo&password=wrong",
            403,
            "\"Authentication failure for username:foo\"",
        ),
        (
            "/rate?username=foo&password=bar",
            400,
            "\"Mandatory argument [to] is not found.\"",
        ),
        (
            "/nosuchpath",
            404,
            "Error \"Resource /nosuchpath not found\"",
        ),
    ];
    for (target, status, body) in cases {
        let (st, b) = get(addr, target).await;
        assert_eq!((st, b.as_str()), (*status, *body), "{target}");
    }
    let (st, _) = http(addr, "DELETE", "/send", None).await;
    assert_eq!(st, 405);
    let (st, b) = get(addr, "/ping").await;
    assert_eq!((st, b.as_str()), (200, "Jasmin/PONG"));
    let (_, m) = get(addr, "/metrics").await;
    assert!(m.contains("httpapi_auth_error_count 4"), "{m}");
    gw.shutdown().await;
}

#[tokio::test]
async fn billing_rate_balance_and_no_route() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let mut cfg = load(&config_toml(dir.path(), 0, sim.addr.port()), dir.path());
    let gw = gateway(cfg.clone()).await;
    let addr = gw.http_addr.expect("http");
    // bob: balance 1.0, sms_count 5, route rate 0.4 per part.
    let (_, b) = get(addr, "/rate?username=bob&password=bobpwd&to=1&content=hi").await;
    assert_eq!(b, "{\"unit_rate\": 0.4, \"submit_sm_count\": 1}");
    let long = "x".repeat(200);
    let (_, b) = get(
        addr,
        &format!("/rate?username=foo&password=bar&to=1&content={long}"),
    )
    .await;
    assert_eq!(b, "{\"unit_rate\": 0.0, \"submit_sm_count\": 2}");
    for _ in 0..2 {
        let (st, b) = get(addr, "/send?username=bob&password=bobpwd&to=1&content=hi").await;
        assert_eq!(st, 200, "{b}");
    }
    let (st, b) = get(addr, "/send?username=bob&password=bobpwd&to=1&content=hi").await;
    assert_eq!(
        (st, b.as_str()),
        (
            403,
            "Error \"Cannot charge submit_sm, check RouterPB log file for details\""
        )
    );
    let (_, b) = get(addr, "/balance?username=bob&password=bobpwd").await;
    assert_eq!(b, "{\"balance\": 0.2, \"sms_count\": 3}");
    let (_, b) = get(addr, "/balance?username=foo&password=bar").await;
    assert_eq!(b, "{\"balance\": \"ND\", \"sms_count\": \"ND\"}");
    gw.shutdown().await;
    // Restart with a config that still says balance 1.0: money is not rolled back.
    cfg.http_api.port = 0;
    cfg.mtroutes.retain(|r| r.order != 0);
    let gw = gateway(cfg).await;
    let addr = gw.http_addr.expect("http");
    let (_, b) = get(addr, "/balance?username=bob&password=bobpwd").await;
    assert_eq!(b, "{\"balance\": 0.2, \"sms_count\": 3}");
    // Without the default route, foo has no route.
    let (st, b) = get(addr, "/send?username=foo&password=bar&to=1&content=hi").await;
    assert_eq!((st, b.as_str()), (412, "Error \"No route found\""));
    gw.shutdown().await;
}

#[tokio::test]
async fn smsc_down_then_up_delivers_queued_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let cfg = load(&config_toml(dir.path(), 0, port), dir.path());
    let gw = gateway(cfg).await;
    let addr = gw.http_addr.expect("http");
    for i in 0..20 {
        let (st, b) = get(
            addr,
            &format!("/send?username=foo&password=bar&to=336{i}&content=queued"),
        )
        .await;
        assert_eq!(st, 200, "{b}");
    }
    let sim = simulator_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    wait_for(
        15,
        "queued messages delivered after the SMSC came up",
        || sim.submit_count() == 20,
    )
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_input_never_stops_the_gateway() {
    use tokio::io::AsyncWriteExt;
    let (_d, gw, sim, addr) = setup().await;
    // 1 MB body
    let big = vec![b'a'; 1 << 20];
    let (st, _) = http(
        addr,
        "POST",
        "/send",
        Some(("application/x-www-form-urlencoded", &big)),
    )
    .await;
    assert_eq!(st, 413);
    // 1 MB query string
    let target = format!("/send?content={}", "a".repeat(1 << 20));
    let (st, _) = get(addr, &target).await;
    assert!(
        st == 431 || st == 414 || st == 400 || st == 0,
        "huge URI answered {st}"
    );
    // non-UTF-8 in names and values
    let (st, b) = get(addr, "/send?%FF%FE=1&username=foo").await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = get(addr, "/send?username=%FF%FE&password=bar&to=1&content=a").await;
    assert_eq!(st, 400, "{b}");
    // a slow client holding a half-sent request does not block others
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /send?user").await.expect("write");
    // POST form body works
    let (st, b) = http(
        addr,
        "POST",
        "/send",
        Some((
            "application/x-www-form-urlencoded",
            b"username=foo&password=bar&to=33600000002&content=hello+post",
        )),
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    wait_for(10, "the POSTed message", || sim.submit_count() == 1).await;
    assert_eq!(sim.received()[0].short_message, b"hello post");
    drop(slow);
    gw.shutdown().await;
}

#[tokio::test]
async fn throttled_submits_are_requeued_and_delivered() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator_throttling("127.0.0.1:0".parse().expect("addr"), 40).await;
    let mut cfg = load(&config_toml(dir.path(), 0, sim.addr.port()), dir.path());
    cfg.queue.max_retries = 50;
    let gw = gateway(cfg).await;
    let addr = gw.http_addr.expect("http");
    for i in 0..30 {
        let (st, b) = get(
            addr,
            &format!("/send?username=foo&password=bar&to=44{i}&content=t"),
        )
        .await;
        assert_eq!(st, 200, "{b}");
    }
    wait_for(30, "all 30 accepted by a throttling SMSC", || {
        sim.submit_count() == 30
    })
    .await;
    let throttled = sim
        .stats()
        .throttled
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(throttled > 0, "the SMSC throttled some submits");
    let s = gw.stats.smppc("sim");
    assert_eq!(s.throttling_error_count.get(), throttled);
    // Requeued without spending a retry: counted apart from temporary errors.
    assert_eq!(gw.stats.queue.throttled_requeued_count.get(), throttled);
    assert_eq!(gw.stats.queue.requeued_count.get(), 0);
    assert_eq!(gw.stats.queue.retries_exhausted_count.get(), 0);
    gw.shutdown().await;
}

/// The counters mean what Jasmin's mean: `httpapi_request_count` counts `/send`, `/rate` and
/// `/balance` only; `elink_count` moves as enquire_links are sent (connector) or received (SMPP
/// server), not when a session ends; configured connectors have series from the start.
#[tokio::test]
async fn metrics_count_what_jasmins_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let idle_port = free_port();
    let text = config_toml(dir.path(), 0, sim.addr.port())
        .replace("requeue_delay = 1\n", "requeue_delay = 1\nelink_interval = 1\n")
        .replace(
            "[[filters]]\nfid = \"bobf\"",
            &format!(
                "[[smppccs]]\ncid = \"idle\"\nhost = \"127.0.0.1\"\nport = {idle_port}\n\n[[filters]]\nfid = \"bobf\""
            ),
        );
    let gw = gateway(load(&text, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    let metric = |name: &str| -> Option<u64> {
        gw.stats
            .render_prometheus()
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    // A connector that never connected has its series, at 0.
    assert_eq!(metric("smppc_submit_sm_count{cid=\"idle\"}"), Some(0));
    for path in ["/ping", "/metrics", "/metrics", "/nosuch"] {
        get(addr, path).await;
    }
    assert_eq!(metric("httpapi_request_count"), Some(0));
    let (st, b) = get(addr, "/send?username=foo&password=bar&to=1&content=x").await;
    assert_eq!(st, 200, "{b}");
    get(addr, "/balance?username=foo&password=bar").await;
    get(addr, "/rate?username=foo&password=bar&to=1").await;
    assert_eq!(metric("httpapi_request_count"), Some(3));
    // The connector sends an enquire_link every second: counted as it goes.
    wait_for(10, "connector elink_count", || {
        metric("smppc_elink_count{cid=\"sim\"}").unwrap_or(0) >= 1
    })
    .await;
    // An ESME's enquire_link is counted while its session is still open.
    let smpp = gw.smpp_addr().expect("smpp server");
    let (s, _rx, status) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(status, rusmpp::CommandStatus::EsmeRok);
    for _ in 0..2 {
        s.request(rusmpp::Pdu::EnquireLink).await.expect("elink");
    }
    assert_eq!(metric("smppsapi_elink_count"), Some(2));
    gw.shutdown().await;
}
