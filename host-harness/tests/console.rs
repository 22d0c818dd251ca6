//! The web console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver by fantoccini, against
//! `harness serve` with the mock Clari Copilot and Glean servers. It is refused without the
//! token (and a forged form is refused without the CSRF token); it searches as two users and
//! shows what one sees and the other does not; it applies a facet; it opens a call's page;
//! it escapes a title that holds markup; and it approves held deletions, which then leave
//! the index. The screenshots it takes are the README's images (`docs/`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mock_clari::{MockClari, MockClariConfig, NewCall};
use mock_glean::{MockGlean, MockGleanConfig};

const TOKEN: &str = "console-token-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(20);
const MARKUP_TITLE: &str = "<script>alert('pwn')</script> Pricing <b>review</b>";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process in its own process group, killed with its children when dropped.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: a plain syscall on the process group this test created.
        unsafe {
            libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn tenant(base: &str) -> serde_json::Value {
    let mut r = agent()
        .get(&format!("{base}/tenants/acme"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn find_program(names: &[&str]) -> PathBuf {
    for n in names {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(n);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "none of {names:?} is installed: the browser tests need Debian's `chromium` and `chromium-driver` (`.ci/run` installs them: apt-get install chromium chromium-driver)"
    );
}

async fn browser(scratch: &Path) -> (Group, Client) {
    let driver = find_program(&["chromedriver"]);
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .env("TMPDIR", scratch)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = Group(child);
    wait_for("chromedriver", 20, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            // --no-sandbox: the tests may run as root, where Chromium's sandbox cannot start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium");
    (group, client)
}

/// The text of the first element matching `css`, waiting for it; an element that goes stale
/// between being found and being read (the page was still changing) is looked up again.
async fn text(c: &Client, css: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let found = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
        match found.text().await {
            Ok(t) => return t,
            Err(e) if started.elapsed() < WAIT => {
                eprintln!("`{css}` went stale ({e}); looking again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("`{css}` could not be read: {e}"),
        }
    }
}

/// Takes a screenshot: into the target directory, or with `UPDATE_SCREENSHOTS=1` into `docs/`
/// (the README shows them). A test run leaves the checkout as it found it.
async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "{name}: the browser's screenshot is not a PNG"
    );
    let dir = if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

struct World {
    _clari: MockClari,
    glean: MockGlean,
    _serve: Group,
    base: String,
    private_call: String,
    insider: String,
    outsider: String,
    title_word: String,
    /// The tenant's state directory.
    state: PathBuf,
    _dir: tempfile::TempDir,
}

/// The service with one Clari tenant crawled, then most of its calls deleted at the source
/// and a full crawl run, so that deletions are held.
fn world() -> World {
    let defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        loopback(),
        MockClariConfig {
            seed: 5,
            calls: 40,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    clari.control().add_call(NewCall {
        title: Some(MARKUP_TITLE.into()),
        ..NewCall::default()
    });
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    std::fs::write(
        tenants.join("acme.toml"),
        format!(
            "[connector]\nname = \"acme\"\nstate_dir = \"{state}\"\n\
             [connector.settings]\nhistory_months = 12\n\
             [upstreams.clari]\nbase_url = \"{clari}\"\nrate_per_second = 200\nallow_private_network = true\n\
             [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"ACME_KEY\" }}\nX-Api-Password = {{ env = \"ACME_PASSWORD\" }}\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"acme\"\n",
            state = dir.path().join("state").display(),
            clari = clari.base_url(),
            glean = glean.base_url(),
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["serve", "--start-stagger-seconds", "0", "--tenants"])
        .arg(&tenants)
        .arg("--admin")
        .arg(format!("127.0.0.1:{port}"))
        .env("HARNESS_ADMIN_TOKEN", TOKEN)
        .env("ACME_KEY", &defaults.api_key)
        .env("ACME_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let serve = Group(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the service", 60, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    wait_for("the first crawl", 90, || {
        tenant(&base)["last_crawl"]["completed"] == true
    });

    // A private call, someone on it and someone not.
    let docs = glean.documents("acme");
    let calls = clari.control().calls();
    let private = calls
        .iter()
        .filter(|c| c.private && docs.iter().any(|d| d.id.as_deref() == Some(c.id.as_str())))
        .find(|c| !c.user_emails.is_empty())
        .expect("a private call in the index");
    let insider = private.user_emails[0].clone();
    let outsider = glean
        .users("acme")
        .into_iter()
        .map(|u| u.email)
        .find(|e| {
            !private
                .user_emails
                .iter()
                .any(|p| p.eq_ignore_ascii_case(e))
        })
        .expect("someone not on the private call");
    let title_word = private
        .title
        .split_whitespace()
        .max_by_key(|w| w.len())
        .unwrap()
        .to_string();
    let private_call = private.id.clone();

    // Most calls vanish at the source: the next full crawl holds the deletions.
    for c in calls.iter().filter(|c| c.id != private_call).take(30) {
        clari.control().delete_call(&c.id).unwrap();
    }
    let r = agent()
        .post(&format!("{base}/tenants/acme/crawl?mode=full"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send_empty()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    wait_for("held deletions", 90, || {
        tenant(&base)["last_crawl"]["deletions_held"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    World {
        _clari: clari,
        glean,
        _serve: serve,
        base,
        private_call,
        insider,
        outsider,
        title_word,
        state: dir.path().join("state"),
        _dir: dir,
    }
}

async fn scenario(c: &Client, w: &World) {
    let base = &w.base;
    // Refused without the token: the sign-in page, with 401; a forged action changes nothing.
    c.goto(&format!("{base}/console")).await.unwrap();
    assert!(
        text(c, "main")
            .await
            .contains("Sign in with the admin token")
    );
    let r = agent().get(&format!("{base}/console")).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent()
        .post(&format!("{base}/console/tenants/acme/pause"))
        .send_form([("csrf", "guess")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys("not-the-token")
        .await
        .unwrap();
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The sign-in page before the click has an error line too: wait for the new one.
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//p[contains(@class,'error')][contains(., 'not the admin token')]",
        ))
        .await
        .unwrap();

    // Sign in.
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let table = text(c, "#tenants").await;
    assert!(table.contains("acme"), "{table}");
    assert!(table.contains("deletions held"), "{table}");
    // Both kinds of crawl are offered, each saying which it is.
    assert!(
        table.contains("Crawl new changes") && table.contains("Full crawl"),
        "{table}"
    );
    for mode in ["incremental", "full"] {
        c.find(Locator::Css(&format!(
            "#tenants input[name='mode'][value='{mode}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {mode} crawl button: {e}"));
    }
    // The budget reads as requests against it, not as "0.0%".
    assert!(table.contains("requests of"), "{table}");
    assert!(!table.contains("0.0%"), "{table}");
    shot(c, "console-tenants.png").await;

    // The session cookie without the form's CSRF token is refused.
    let cookie = c.get_named_cookie("harness_console").await.unwrap();
    let r = agent()
        .post(&format!("{base}/console/tenants/acme/pause"))
        .header("Cookie", &format!("harness_console={}", cookie.value()))
        .send_form([("csrf", "forged")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_ne!(tenant(base)["state"], "paused");

    // Search as someone on the private call, compared with someone who is not.
    c.goto(&format!("{base}/console/search?tenant=acme"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#user"))
        .await
        .unwrap()
        .select_by_value(&w.insider)
        .await
        .unwrap();
    c.find(Locator::Css("#vs"))
        .await
        .unwrap()
        .select_by_value(&w.outsider)
        .await
        .unwrap();
    c.find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys(&w.title_word)
        .await
        .unwrap();
    c.find(Locator::Css("#go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let card_css = format!("div.result[data-id='{}']", w.private_call);
    let card = text(c, &card_css).await;
    assert!(card.contains("on the call's users list"), "{card}");
    assert!(
        card.contains(&format!("not visible to {}", w.outsider)),
        "{card}"
    );
    let hidden = c
        .find(Locator::Css(&card_css))
        .await
        .unwrap()
        .attr("data-hidden-from-other")
        .await
        .unwrap();
    assert_eq!(hidden.as_deref(), Some("true"));
    assert!(text(c, "#comparison").await.contains("hidden from"));
    // The outsider's own search does not show it.
    let as_outsider = format!(
        "{base}/console/search?tenant=acme&user={}&q={}",
        w.outsider, w.title_word
    );
    c.goto(&as_outsider).await.unwrap();
    text(c, "#results").await;
    assert!(
        c.find(Locator::Css(&card_css)).await.is_err(),
        "the outsider sees the private call"
    );

    // Back as the insider, with every result: apply a facet.
    c.goto(&format!(
        "{base}/console/search?tenant=acme&user={}&vs={}",
        w.insider, w.outsider
    ))
    .await
    .unwrap();
    let before = text(c, "#results p.meta").await;
    shot(c, "console-search.png").await;
    let facet = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("ul[data-facet='topic'] a"))
        .await
        .unwrap();
    let value = facet.attr("data-value").await.unwrap().unwrap();
    facet.click().await.unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#clear-filters"))
        .await
        .unwrap();
    let after = text(c, "#results p.meta").await;
    let count = |s: &str| -> usize { s.split_whitespace().next().unwrap().parse().unwrap() };
    assert!(count(&after) <= count(&before), "{before} / {after}");
    assert!(count(&after) > 0);
    let on = text(c, "ul[data-facet='topic'] a.on").await;
    assert_eq!(on, value);
    for tags in c
        .find_all(Locator::Css("#results div.result"))
        .await
        .unwrap()
    {
        assert!(
            tags.text().await.unwrap().contains(&value),
            "a result without the facet's topic"
        );
    }

    // A call's page: the document, its permissions, when it was fetched.
    c.goto(&format!(
        "{base}/console/tenants/acme/calls/{}",
        w.private_call
    ))
    .await
    .unwrap();
    assert!(text(c, "#document").await.contains(&w.private_call));
    // The call as search shows it: its title as the heading (not the bare id), its fields,
    // its body in paragraphs (no literal `\n`), people by name with the email on hover, and
    // the raw JSON kept behind a disclosure.
    let heading = text(c, "h1").await;
    assert!(!heading.contains(&w.private_call), "{heading}");
    c.find(Locator::Css("#document table.fields"))
        .await
        .expect("the document's fields");
    let body = text(c, "#document .body").await;
    assert!(!body.is_empty() && !body.contains("\\n"), "{body}");
    c.find(Locator::Css(&format!(
        "#permissions span.person[title='{}']",
        w.insider
    )))
    .await
    .unwrap_or_else(|e| panic!("{} is not named among the people: {e}", w.insider));
    c.find(Locator::Css("#document details pre#document-json"))
        .await
        .expect("the raw document behind a disclosure");
    let facts = text(c, "#fetch-facts").await;
    assert!(facts.contains("Last fetched and indexed"), "{facts}");
    // The actual reason the crawl fetched it, not the list of every possible one.
    assert!(
        [
            "Why: it was new to the index",
            "Why: its listing entry changed",
            "Why: its turn in the deep refresh",
            "Why: an incremental crawl listed it",
        ]
        .iter()
        .any(|w| facts.contains(w)),
        "{facts}"
    );
    c.find(Locator::Css("#fetch-source"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let source = text(c, "#source").await;
    assert!(source.contains(&w.private_call), "{source}");
    assert!(!source.contains(&MockClariConfig::default().api_password));

    // A title holding markup is shown as text, never run.
    c.goto(&format!(
        "{base}/console/search?tenant=acme&user=*admin*&q=pwn"
    ))
    .await
    .unwrap();
    let title = text(c, "#results a.title").await;
    assert_eq!(title, MARKUP_TITLE);
    let scripts = c
        .execute(
            // The console's own script (local times) aside, nothing from the title runs.
            "return document.querySelectorAll('script:not(#local-time), b').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scripts, serde_json::json!(0));

    // Approve the held deletions: they leave the index.
    let indexed = w.glean.documents("acme").len();
    c.goto(&format!("{base}/console/tenants/acme"))
        .await
        .unwrap();
    assert!(text(c, "#held").await.contains("held"));
    c.find(Locator::Css(
        "#held button[data-action='approve-deletions']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let glean = &w.glean;
    let started = Instant::now();
    while glean.documents("acme").len() >= indexed {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the approved deletions were not applied"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The crawl that applied them ends with none held.
    let started = Instant::now();
    while tenant(base)["last_crawl"]["deletions_held"] != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the approving crawl did not finish: {}",
            tenant(base)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last canary, as `harness canary` saves it beside the tenant's state: the admin API
    // answers it, and the tenant's page shows the verdict with the widened ACL first.
    let canary_url = format!("{base}/tenants/acme/canary");
    let get_canary = || {
        let mut r = agent()
            .get(&canary_url)
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = get_canary();
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no canary has run for tenant `acme`"),
        "{body}"
    );
    save_a_rejected_canary(&w.state);
    let (status, body) = get_canary();
    assert_eq!(status, 200, "{body}");
    let saved: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(saved["report"]["verdict"]["pass"], false, "{saved}");
    c.goto(&format!("{base}/console/tenants/acme"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#plots svg"))
        .await
        .unwrap();
    let canary = text(c, "#canary").await;
    for expected in [
        "REJECT",
        "pin unchanged",
        "1 widened",
        "n2 is visible to more people",
        "WIDENED",
        "every user of the datasource",
    ] {
        assert!(canary.contains(expected), "`{expected}` in: {canary}");
    }
    // Times read in UTC with the viewer's local time beside them.
    let page = text(c, "main").await;
    assert!(
        page.contains(" UTC (") && page.contains("your time)"),
        "{page}"
    );
    shot(c, "console-tenant.png").await;

    // "Try a new version": a candidate named in a registry that cannot be reached is refused
    // saying why, and nothing is promoted.
    let before = std::fs::read_dir(w.state.join("canary")).unwrap().count();
    c.find(Locator::Css("#try-version summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#try-version input[name='oci']"))
        .await
        .unwrap()
        .send_keys("127.0.0.1:9/connectors/clari:next")
        .await
        .unwrap();
    c.find(Locator::Css("#try-version input[name='digest']"))
        .await
        .unwrap()
        .send_keys(&format!("sha256:{}", "0".repeat(64)))
        .await
        .unwrap();
    c.find(Locator::Css("#try-version button[data-action='canary']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let started = Instant::now();
    let page = loop {
        let page = text(c, "main").await;
        if page.contains("The canary did not run") || started.elapsed() > WAIT {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("The canary did not run"), "{page}");
    assert!(page.contains("127.0.0.1:9"), "{page}");
    assert_eq!(
        std::fs::read_dir(w.state.join("canary")).unwrap().count(),
        before,
        "no candidate kept, no canary saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let w = tokio::task::spawn_blocking(world).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (driver, client) = browser(scratch.path()).await;
    let c2 = client.clone();
    let w = std::sync::Arc::new(w);
    let w2 = w.clone();
    let outcome = tokio::spawn(async move { scenario(&c2, &w2).await }).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Writes a saved canary for tenant `acme` whose candidate made a restricted call public.
fn save_a_rejected_canary(state: &Path) {
    use harness_service::canary::diff::{AclChange, CanaryDiff};
    use harness_service::canary::saved::SavedCanary;
    use harness_service::canary::side::SideSummary;
    use harness_service::canary::{CanaryReport, Verdict};
    let side = |component: &str| SideSummary {
        component: component.into(),
        contract: "0.2.0".into(),
        listed: 3,
        fetched: 3,
        indexed: 3,
        failed: 0,
        cpu_us_per_item: 900,
        mean_memory_bytes: 1 << 20,
        peak_memory_bytes: 2 << 20,
    };
    let saved = SavedCanary {
        finished_at: chrono::Utc::now().timestamp() - 120,
        candidate: "/connectors/clari-next.wasm".into(),
        candidate_digest: "sha256:00".into(),
        source: "the recording acme.tape".into(),
        promoted: false,
        report: CanaryReport {
            pinned: side("pinned.wasm"),
            candidate: side("clari-next.wasm"),
            diff: CanaryDiff {
                acl: vec![AclChange {
                    id: "n2".into(),
                    before: "ann@example.com".into(),
                    after: "every user of the datasource".into(),
                    widened: true,
                }],
                acl_changed: 1,
                acl_widened: 1,
                compared: 3,
                ..CanaryDiff::default()
            },
            verdict: Verdict {
                pass: false,
                reasons: vec!["n2 is visible to more people".into()],
            },
        },
    };
    let dir = state.join("canary");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acme.json"), serde_json::to_vec(&saved).unwrap()).unwrap();
}
