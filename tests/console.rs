//! The web console in a real browser: headless Chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`, which `scripts/test.sh` installs). A user logs in, adds
//! a connector, a filter and a route through the forms (and sees the API's own validation
//! error in the form first), checks the route with the route tester and sends a test message
//! through it, sees it on the dashboard, and finds it in message search with its receipt.
//! Changes made in the console show in jCli and the other way round. Every page is saved as
//! a screenshot in `$CARGO_TARGET_TMPDIR/console-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use smsgate::simulator::ReceiptKnobs;

/// chromedriver, stopped when dropped (also when the test fails).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

async fn browser() -> (Driver, Client) {
    let driver = which(&["chromedriver"])
        .expect("chromedriver is not installed: apt-get install chromium chromium-driver (scripts/test.sh does)");
    let chromium = which(&["chromium", "chromium-browser"]).expect("chromium is not installed");
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,900", "--no-first-run", "--disable-extensions"]
        }
    }))
    .expect("caps");
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let client = loop {
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps.clone());
        match b.connect(&url).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    };
    (driver, client)
}

fn shots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("save screenshot");
}

/// Wait up to `secs` for `css` to match an element whose text contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(els) = c.find_all(Locator::Css(css)).await {
            for e in els {
                if let Ok(t) = e.text().await {
                    if t.contains(text) {
                        return t;
                    }
                    last = t;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {css} with {text:?} within {secs} s (last: {last:?})");
}

async fn fill(c: &Client, form: &str, name: &str, value: &str) {
    let el = c
        .find(Locator::Css(&format!("{form} [name=\"{name}\"]")))
        .await
        .unwrap_or_else(|e| panic!("{form} {name}: {e}"));
    let tag = el.tag_name().await.expect("tag");
    if tag == "select" {
        el.select_by_value(value).await.expect("select");
    } else {
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn go(c: &Client, base: &str, page: &str) {
    c.goto(&format!("{base}/#/{page}")).await.expect("goto");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_configures_routes_sends_and_finds_a_message_in_the_browser() {
    let sim = simulator().await;
    let smsc = simulator().await;
    smsc.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(200)),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let toml = format!(
        "{}\n[journal]\nenabled = true\n[admin]\nenabled = true\nbind = \"127.0.0.1\"\nport = 0\n[[admin.accounts]]\nname = \"root\"\npassword = \"rootpw\"\nrole = \"admin\"\n",
        config_toml(dir.path(), 0, sim.addr.port())
    );
    let gw = gateway(load(&toml, dir.path())).await;
    let base = format!("http://{}", gw.admin_addr().expect("admin"));
    let jcli = gw.jcli_addr().expect("jcli");
    let (_driver, c) = browser().await;

    // Log in: a wrong password is told in the form, the right one opens the dashboard.
    c.goto(&format!("{base}/")).await.expect("open");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#login"))
        .await
        .expect("login form");
    shot(&c, "login").await;
    fill(&c, "#login", "name", "root").await;
    fill(&c, "#login", "password", "wrong").await;
    click(&c, "#login button[type=submit]").await;
    wait_text(&c, "#login .form-error", "invalid name or password", 10).await;
    fill(&c, "#login", "password", "rootpw").await;
    click(&c, "#login button[type=submit]").await;
    wait_text(&c, "main h1", "Dashboard", 10).await;
    wait_text(&c, "#who", "root (admin)", 5).await;

    // A connector through the form: the API's own validation error first, by its field.
    go(&c, &base, "smppccs").await;
    wait_text(&c, "main h1", "SMPP connectors", 5).await;
    fill(&c, "#add-form", "cid", "console_smsc").await;
    fill(&c, "#add-form", "host", "127.0.0.1").await;
    fill(&c, "#add-form", "port", &smsc.addr.port().to_string()).await;
    fill(
        &c,
        "#add-form",
        "extra",
        r#"{"con_fail_delay": 1, "window": 0}"#,
    )
    .await;
    click(&c, "#add-form [name=start]").await;
    click(&c, "#add-form button[type=submit]").await;
    let err = wait_text(&c, "#add-form .form-error", "window", 10).await;
    let invalid = c
        .find(Locator::Css("#add-form [aria-invalid=true]"))
        .await
        .expect("the blamed field is marked");
    assert_eq!(
        invalid.attr("name").await.expect("name").as_deref(),
        Some("extra"),
        "{err}"
    );
    assert!(
        !jcli_run(jcli, "smppccm -l").await.contains("console_smsc"),
        "a refused change changed nothing"
    );
    fill(&c, "#add-form", "extra", r#"{"con_fail_delay": 1}"#).await;
    click(&c, "#add-form button[type=submit]").await;
    wait_text(&c, "tr[data-key=console_smsc]", "console_smsc", 10).await;
    wait_for(15, "the console's connector bound", || {
        smsc.stats()
            .binds
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    })
    .await;
    wait_text(&c, "tr[data-key=console_smsc]", "bound", 10).await;
    shot(&c, "smppccs").await;

    // A filter and a route.
    go(&c, &base, "filters").await;
    wait_text(&c, "main h1", "Filters", 5).await;
    fill(&c, "#add-form", "fid", "to77").await;
    fill(&c, "#add-form", "type", "DestinationAddrFilter").await;
    fill(&c, "#add-form", "destination_addr", "^77").await;
    click(&c, "#add-form button[type=submit]").await;
    wait_text(&c, "tr[data-key=to77]", "^77", 10).await;
    shot(&c, "filters").await;
    go(&c, &base, "mtroutes").await;
    wait_text(&c, "main h1", "MT routes", 5).await;
    fill(&c, "#add-form", "type", "StaticMTRoute").await;
    fill(&c, "#add-form", "order", "30").await;
    fill(&c, "#add-form", "connector", "smppc(console_smsc)").await;
    fill(&c, "#add-form", "filters", "to77").await;
    click(&c, "#add-form button[type=submit]").await;
    wait_text(&c, "tr[data-key=\"30\"]", "smppc(console_smsc)", 10).await;
    shot(&c, "mtroutes").await;

    // What the console made, jCli shows; what jCli makes, the console shows.
    assert!(jcli_run(jcli, "smppccm -l").await.contains("console_smsc"));
    assert!(jcli_run(jcli, "mtrouter -l")
        .await
        .contains("smppc(console_smsc)"));
    let answers = jcli_session(jcli, &["group -a", "gid fromjcli", "ok"]).await;
    assert!(
        answers.iter().any(|a| a.contains("Successfully added")),
        "{answers:?}"
    );
    go(&c, &base, "groups").await;
    wait_text(&c, "tr[data-key=fromjcli]", "fromjcli", 10).await;
    shot(&c, "groups").await;

    // The route tester, then a test message through the route it names.
    go(&c, &base, "route-test").await;
    wait_text(&c, "main h1", "Route tester", 5).await;
    fill(&c, "#route-test", "username", "foo").await;
    fill(&c, "#route-test", "to", "77123456").await;
    click(&c, "#route-test button[type=submit]").await;
    wait_text(&c, "#route-result", "Route 30 → smppc(console_smsc)", 10).await;
    click(&c, "#send-test").await;
    let link = wait_text(&c, "#sent-link", "-", 10).await;
    let id = link.trim().to_string();
    uuid::Uuid::parse_str(&id).expect("the message id");
    shot(&c, "route-test").await;
    wait_for(15, "the test message at the console's SMSC", || {
        smsc.submit_count() == 1
    })
    .await;
    assert_eq!(smsc.received()[0].destination_addr, "77123456");
    assert_eq!(sim.submit_count(), 0, "it took the route the tester named");

    // The dashboard counts it, per connector too.
    go(&c, &base, "dashboard").await;
    wait_text(&c, "[data-metric=\"Sent to SMSCs\"]", "1", 10).await;
    wait_text(&c, "main table", "console_smsc", 10).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // a few points on the charts
    shot(&c, "dashboard").await;

    // Message search finds it with its receipt; its timeline has every phase.
    c.goto(&format!("{base}/#/messages?destination=7712"))
        .await
        .expect("goto");
    wait_text(&c, "#results", &id, 10).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        click(&c, "#search button[type=submit]").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = c
            .find(Locator::Css("#results"))
            .await
            .expect("results")
            .text()
            .await
            .expect("text");
        if text.contains("receipt: DELIVRD") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no receipt in the search: {text}"
        );
    }
    shot(&c, "messages").await;
    click(&c, &format!("a[href=\"#/messages/{id}\"]")).await;
    for phase in ["accept", "submit", "receipt"] {
        wait_text(&c, &format!("#timeline li[data-phase={phase}]"), phase, 10).await;
    }
    wait_text(
        &c,
        "#timeline li[data-phase=submit]",
        "outcome: ESME_ROK",
        5,
    )
    .await;
    wait_text(&c, "dd[data-field=user]", "foo", 5).await;
    shot(&c, "timeline").await;

    // Every other page renders (and is saved).
    for (page, title) in [
        ("users", "Users"),
        ("httpccs", "HTTP connectors"),
        ("moroutes", "MO routes"),
        ("mtinterceptors", "MT interceptors"),
        ("mointerceptors", "MO interceptors"),
        ("queues", "Queues"),
        ("plugins", "Plugins"),
        ("audit", "Audit log"),
    ] {
        go(&c, &base, page).await;
        wait_text(&c, "main h1", title, 5).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        shot(&c, page).await;
    }
    // The audit page names the console's changes and jCli's.
    let audit = wait_text(&c, "main table", "console_smsc", 5).await;
    assert!(audit.contains("api") && audit.contains("root"), "{audit}");
    assert!(
        audit.contains("jcli") && audit.contains("fromjcli"),
        "{audit}"
    );

    // Logging out ends the session: the API refuses the cookie.
    click(&c, "#logout").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#login"))
        .await
        .expect("back to the login form");
    let status: serde_json::Value = c
        .execute(
            "return fetch('/api/v1/whoami', {credentials: 'same-origin'}).then(r => r.status)",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(status, 401);
    c.close().await.expect("close");
    gw.shutdown().await;
}
