//! End to end: long, Unicode and binary messages from HTTP `/send` to the SMSC simulator, with
//! UDH or SAR splitting, billing per part, and the content errors of the HTTP API.

use crate::common::*;
use smsgate::simulator::Received;

/// A gateway whose user `bob` has 10.0 / 10 SMS and a route at 0.5 per part.
async fn setup(
    split: &str,
) -> (
    tempfile::TempDir,
    std::sync::Arc<smsgate::app::Gateway>,
    smsgate::simulator::Simulator,
    std::net::SocketAddr,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let toml = config_toml(dir.path(), 0, sim.addr.port())
        .replace(
            "mt_messaging_cred.quota = { balance = 1.0, sms_count = 5 }",
            "mt_messaging_cred.quota = { balance = 10.0, sms_count = 10 }",
        )
        .replace("rate = 0.4", "rate = 0.5")
        // These tests are about refusals: foo and utf refuse what the coding cannot carry
        // (the default, `replace`, is tested in http_api.rs).
        .replace(
            "username = \"foo\"\npassword = \"bar\"\n",
            "username = \"foo\"\npassword = \"bar\"\nunrepresentable = \"refuse\"\n",
        )
        .replace(
            "content_encoding = \"utf8\"\n",
            "content_encoding = \"utf8\"\nunrepresentable = \"refuse\"\n",
        )
        .replace(
            "[http-api]\n",
            &format!("[http-api]\nlong_content_split = \"{split}\"\n"),
        );
    let gw = gateway(load(&toml, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    (dir, gw, sim, addr)
}

/// 400 ASCII characters (Latin-1 for raw users), ending with nine characters of the GSM
/// extension table (two septets each).
fn long_text() -> String {
    let mut t = String::new();
    while t.chars().count() < 390 {
        t.push_str("Long message, part of a test. ");
    }
    t.truncate(390);
    t.push_str("{[x]}~|^\\}");
    assert_eq!(t.chars().count(), 400);
    t
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn parts_to(sim: &smsgate::simulator::Simulator, to: &str) -> Vec<Received> {
    sim.received()
        .into_iter()
        .filter(|r| r.destination_addr == to)
        .collect()
}

#[tokio::test]
async fn long_message_udh_parts_and_billing() {
    let (_d, gw, sim, addr) = setup("udh").await;
    let text = long_text();
    // 391 + 9 * 2 = 409 septets: 153 + 153 + 103.
    let (st, b) = get(
        addr,
        &format!(
            "/rate?username=bob&password=bobpwd&to=1&content={}",
            pct(&text)
        ),
    )
    .await;
    assert_eq!(
        (st, b.as_str()),
        (200, "{\"unit_rate\": 0.5, \"submit_sm_count\": 3}")
    );
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=bob&password=bobpwd&to=33600000001&content={}",
            pct(&text)
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert!(b.starts_with("Success \""), "{b}");
    wait_for(10, "3 parts at the SMSC", || sim.submit_count() == 3).await;
    let got = parts_to(&sim, "33600000001");
    assert_eq!(got.len(), 3);
    let reference = got[0].short_message[3];
    let mut septets = vec![];
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.esm_class, 0x40, "UDHI");
        assert_eq!(r.data_coding, 0);
        assert_eq!(r.sar, None);
        assert_eq!(
            r.short_message[..6],
            [0x05, 0x00, 0x03, reference, 3, i as u8 + 1]
        );
        septets.extend_from_slice(&r.short_message[6..]);
    }
    let lens: Vec<usize> = got.iter().map(|r| r.short_message.len() - 6).collect();
    assert_eq!(lens, [153, 153, 103]);
    assert_eq!(smsgate::sms::gsm::decode_unpacked(&septets), text);
    // Billing per part: 3 × 0.5 and 3 SMS.
    let (_, b) = get(addr, "/balance?username=bob&password=bobpwd").await;
    assert_eq!(b, "{\"balance\": 8.5, \"sms_count\": 7}");
    // A second long message to the same handset gets another reference.
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=33600000001&content={}",
            pct(&text)
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    wait_for(10, "3 more parts", || sim.submit_count() == 6).await;
    let got = parts_to(&sim, "33600000001");
    assert_ne!(got[3].short_message[3], reference);
    gw.shutdown().await;
}

#[tokio::test]
async fn long_message_sar_parts_and_billing() {
    let (_d, gw, sim, addr) = setup("sar").await;
    let text = long_text();
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=bob&password=bobpwd&to=33600000002&content={}",
            pct(&text)
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    wait_for(10, "3 parts at the SMSC", || sim.submit_count() == 3).await;
    let got = parts_to(&sim, "33600000002");
    let (reference, _, _) = got[0].sar.expect("SAR options");
    let mut septets = vec![];
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r.esm_class, 0x03,
            "store-and-forward, no UDHI with SAR (Jasmin's)"
        );
        assert_eq!(r.sar, Some((reference, 3, i as u8 + 1)));
        septets.extend_from_slice(&r.short_message);
    }
    assert_eq!(got[0].short_message.len(), 153);
    assert_eq!(smsgate::sms::gsm::decode_unpacked(&septets), text);
    let (_, b) = get(addr, "/balance?username=bob&password=bobpwd").await;
    assert_eq!(b, "{\"balance\": 8.5, \"sms_count\": 7}");
    gw.shutdown().await;
}

#[tokio::test]
async fn unicode_cyrillic_binary_and_transliteration() {
    let (_d, gw, sim, addr) = setup("udh").await;
    // UTF-8 user: 71 UCS2 units with emoji (surrogate pairs) → 2 parts, no pair split.
    let text = format!("{}{}", "a".repeat(66), "😀".repeat(3));
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=utf&password=utfpwd&to=10&content={}",
            pct(&text)
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Cyrillic (ISO-8859-5) and Hebrew (ISO-8859-8) from UTF-8 text.
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=utf&password=utfpwd&to=11&coding=6&content={}",
            pct("Привет")
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=utf&password=utfpwd&to=12&coding=7&content={}",
            pct("שלום")
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Transliteration on request: GSM instead of UCS2.
    let (st, b) = get(
        addr,
        &format!(
            "/send?username=utf&password=utfpwd&to=13&transliterate=yes&content={}",
            pct("Привет “мир” – ok")
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Raw user, Latin-1 'á' (not UTF-8) for GSM: refused, 'a' with transliterate=yes.
    let (st, b) = get(addr, "/send?username=foo&password=bar&to=14&content=%E1").await;
    assert_eq!(
        (st, b.as_str()),
        (
            400,
            "Error \"Content cannot be sent: character 'á' (U+00E1) at position 0 cannot be represented in the GSM 03.38 alphabet\""
        )
    );
    let (st, b) = get(
        addr,
        "/send?username=foo&password=bar&to=14&content=%E1&transliterate=yes",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Binary: 141 octets of hex-content → 2 parts of 134 + 7 octets.
    let hex = "ab".repeat(141);
    let (st, b) = get(
        addr,
        &format!("/send?username=foo&password=bar&to=15&coding=4&hex-content={hex}"),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    wait_for(10, "every part", || {
        sim.submit_count() == 2 + 1 + 1 + 1 + 1 + 2
    })
    .await;
    let ucs2 = parts_to(&sim, "10");
    assert_eq!(ucs2.len(), 2);
    assert_eq!(ucs2[0].data_coding, 8);
    // 66 'a' then a pair at units 67-68: the pair would be cut at 67, so it moves on.
    assert_eq!(ucs2[0].short_message.len(), 6 + 132);
    assert_eq!(
        ucs2[1].short_message[6..],
        "😀😀😀"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()[..]
    );
    let cyr = &parts_to(&sim, "11")[0];
    assert_eq!(
        (cyr.data_coding, cyr.short_message.clone()),
        (6, vec![0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2])
    );
    let heb = &parts_to(&sim, "12")[0];
    assert_eq!(
        (heb.data_coding, heb.short_message.clone()),
        (7, vec![0xF9, 0xEC, 0xE5, 0xED])
    );
    let tr = &parts_to(&sim, "13")[0];
    assert_eq!(tr.data_coding, 0);
    assert_eq!(
        smsgate::sms::gsm::decode_unpacked(&tr.short_message),
        "Privet \"mir\" - ok"
    );
    assert_eq!(parts_to(&sim, "14")[0].short_message, b"a");
    let bin = parts_to(&sim, "15");
    assert_eq!(bin.len(), 2);
    assert_eq!(bin[0].short_message.len(), 6 + 134);
    assert_eq!(bin[1].short_message[6..], [0xAB; 7]);
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_content_errors() {
    let (_d, gw, sim, addr) = setup("udh").await;
    let long = "x".repeat(153 * 5 + 1);
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "/send?username=foo&password=bar&to=1&hex-content=abc".into(),
            400,
            "Error \"Invalid hex-content data: 'b'abc''\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&hex-content=zz".into(),
            400,
            "Error \"Invalid hex-content data: 'b'zz''\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&hex-content=".into(),
            400,
            "Error \"Invalid hex-content data: 'b'''\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=hi&coding=11".into(),
            400,
            "Error \"Argument [coding] has an invalid value: [11].\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=hi&hex-content=6869".into(),
            400,
            "Error \"content and hex-content cannot be used both in same request.\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=".into(),
            400,
            "Error \"Argument [content] has an invalid value: [].\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=hi&transliterate=maybe".into(),
            400,
            "Error \"Argument [transliterate] has an invalid value: [maybe].\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&hex-content=004800&coding=8".into(),
            400,
            "Error \"Content cannot be sent: UCS2 content must have an even number of bytes\"",
        ),
        (
            "/send?username=foo&password=bar&to=1&content=%D8%3D%00A&coding=8".into(),
            400,
            "Error \"Content cannot be sent: UCS2 content is not valid UTF-16 (lone surrogate at unit 0)\"",
        ),
        (
            format!("/send?username=utf&password=utfpwd&to=1&coding=6&content={}", pct("Привет 日本")),
            400,
            "Error \"Content cannot be sent: character '日' (U+65E5) at position 7 cannot be represented in Cyrillic (ISO-8859-5)\"",
        ),
        (
            "/send?username=utf&password=utfpwd&to=1&content=%FF".into(),
            400,
            "Error \"Content cannot be sent: UTF-8 content is not valid UTF-8\"",
        ),
        (
            "/send?username=utf&password=utfpwd&to=1&coding=5&content=x".into(),
            400,
            "Error \"Content cannot be sent: coding 5 (JIS (X 0208-1990)) has no text encoder here: send hex-content\"",
        ),
        (
            format!("/send?username=foo&password=bar&to=1&content={long}"),
            400,
            "Error \"Content cannot be sent: 6 parts needed, more than long_content_max_parts (5)\"",
        ),
        (
            format!("/rate?username=foo&password=bar&to=1&content={long}"),
            400,
            "\"Content cannot be sent: 6 parts needed, more than long_content_max_parts (5)\"",
        ),
    ];
    for (target, status, body) in &cases {
        let (st, b) = get(addr, target).await;
        assert_eq!((st, b.as_str()), (*status, *body), "{target}");
    }
    // Nothing reached the SMSC, nobody was charged.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sim.submit_count(), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_throttled_part_is_resent_alone() {
    // 30% of submit_sm are throttled: a long message is retried from the refused part, so
    // every part reaches the SMSC exactly once.
    let sim = simulator_throttling("127.0.0.1:0".parse().expect("addr"), 30).await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = config_toml(dir.path(), 0, sim.addr.port());
    text.push_str("[queue]\nmax_retries = 50\n");
    let gw = gateway(load(&text, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    for i in 0..8 {
        let (st, body) = get(
            addr,
            &format!(
                "/send?username=foo&password=bar&to=3370000000{i}&content={}",
                "x".repeat(400)
            ),
        )
        .await;
        assert_eq!(st, 200, "{body}");
    }
    wait_for(60, "24 parts accepted", || sim.submit_count() >= 24).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sim.submit_count(), 24, "no part sent twice");
    for i in 0..8 {
        let mut seqs: Vec<u8> = parts_to(&sim, &format!("3370000000{i}"))
            .iter()
            .map(|r| r.short_message[5])
            .collect();
        seqs.sort();
        assert_eq!(seqs, vec![1, 2, 3]);
    }
    assert!(
        sim.stats()
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}
