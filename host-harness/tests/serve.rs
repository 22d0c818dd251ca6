//! `harness serve` end to end: three tenants on two different components crawl into their own
//! datasources; a misbehaving tenant backs off and is quarantined while the others carry on; a
//! refused tenant file leaves the others running; edits take effect without a restart; the
//! admin API refuses requests without the token and performs each action; `/metrics` parses
//! and matches what happened; SIGTERM drains and exits.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

const TOKEN: &str = "admin-token-0123456789abcdef";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn clari_tenant(dir: &Path, name: &str, clari: &str, glean: &str) {
    clari_tenant_at(dir, name, clari, glean, 200);
}

fn clari_tenant_at(dir: &Path, name: &str, clari: &str, glean: &str, rate: u32) {
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "[connector]\nname = \"{name}\"\nstate_dir = \"{state}\"\n\
             [connector.settings]\nhistory_months = 12\n\
             [upstreams.clari]\nbase_url = \"{clari}\"\nrate_per_second = {rate}\nallow_private_network = true\n\
             [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"{env}_KEY\" }}\nX-Api-Password = {{ env = \"{env}_PASSWORD\" }}\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"{ds}\"\n",
            state = dir.join("state").display(),
            ds = name.replace('-', ""),
            env = env_prefix(name),
        ),
    )
    .unwrap();
}

/// Each tenant's secrets come from variables of its own: `CLARI_A_KEY`, `PROBE_OK_KEY`...
fn env_prefix(name: &str) -> String {
    name.replace('-', "_").to_uppercase()
}

fn probe_tenant(dir: &Path, name: &str, glean: &str, hostile: &str) {
    probe_tenant_with(
        dir,
        name,
        glean,
        hostile,
        &tenant_instance::probe_component().unwrap(),
    );
}

fn probe_tenant_with(dir: &Path, name: &str, glean: &str, hostile: &str, component: &Path) {
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "[connector]\nname = \"{name}\"\ncomponent = \"{component}\"\nstate_dir = \"{state}\"\n\
             [connector.settings]\nhostile = \"{hostile}\"\nlog_lines = \"1\"\n\
             [upstreams.target]\nbase_url = \"http://127.0.0.1:9\"\nallow_private_network = true\n\
             [upstreams.target.credentials]\nX-Api-Key = {{ env = \"{env}_KEY\" }}\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"{ds}\"\n",
            component = component.display(),
            state = dir.join("state").display(),
            ds = name.replace('-', ""),
            env = env_prefix(name),
        ),
    )
    .unwrap();
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn post(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send_empty()
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn tenant(s: &Server, name: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{}/tenants/{name}", s.base), Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `harness serve` on `tenants` with the tenants' secrets in `env`.
fn start_serve(tenants: &Path, workers: &str, env: &[(String, String)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "serve",
            "--workers",
            workers,
            "--start-stagger-seconds",
            "0",
            "--tenants",
        ])
        .arg(tenants)
        .arg("--admin")
        .arg(format!("127.0.0.1:{port}"))
        .env("HARNESS_ADMIN_TOKEN", TOKEN)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_for("the admin API", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    wait_for("readiness", 60, || {
        get(&format!("{}/readyz", s.base), Some(TOKEN)).0 == 200
    });
    s
}

/// Sends SIGTERM and waits for a clean exit.
fn terminate(mut s: Server, within: Duration) {
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < within,
            "serve did not stop in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

/// SIGTERM while every tenant is mid-way through its first full crawl: the service stops at
/// checkpoints and exits cleanly, and after a restart each tenant resumes where it stopped.
/// Its crawl then indexes exactly what an uninterrupted crawl of the same data indexes
/// (tenant `ref`, added after the restart), with at most a page's requests spent again.
#[test]
fn sigterm_during_crawls_leaves_every_tenant_resumable() {
    let defaults = MockClariConfig::default();
    let workspace = |seed| MockClariConfig {
        seed,
        calls: 80,
        anchor: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
        ..MockClariConfig::default()
    };
    let clari: Vec<MockClari> = (0..4)
        .map(|_| MockClari::spawn(loopback(), workspace(7)).unwrap())
        .collect();
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let names = ["t-a", "t-b", "t-c"];
    let mut env = Vec::new();
    for name in names.iter().chain(["ref"].iter()) {
        env.push((
            format!("{}_KEY", env_prefix(name)),
            defaults.api_key.clone(),
        ));
        env.push((
            format!("{}_PASSWORD", env_prefix(name)),
            defaults.api_password.clone(),
        ));
    }
    for (name, c) in names.iter().zip(&clari) {
        clari_tenant_at(&tenants, name, &c.base_url(), &glean.base_url(), 10);
    }

    let s = start_serve(&tenants, "4", &env);
    wait_for("every tenant mid-crawl", 60, || {
        clari[..3].iter().all(|c| c.control().request_count() >= 25)
    });
    for name in names {
        assert_eq!(tenant(&s, name)["state"], "running", "{name}");
    }
    terminate(s, Duration::from_secs(30));
    let first_run: Vec<u64> = clari[..3]
        .iter()
        .map(|c| c.control().request_count())
        .collect();
    let indexed_before: Vec<usize> = names
        .iter()
        .map(|n| glean.documents(&n.replace('-', "")).len())
        .collect();

    clari_tenant_at(&tenants, "ref", &clari[3].base_url(), &glean.base_url(), 10);
    let s = start_serve(&tenants, "4", &env);
    wait_for("every crawl finished", 90, || {
        names
            .iter()
            .chain(["ref"].iter())
            .all(|n| tenant(&s, n)["last_crawl"]["completed"] == true)
    });
    let reference = glean.documents("ref").len();
    let reference_requests = clari[3].control().request_count();
    assert!(reference > 20, "{reference}");
    for (i, name) in names.iter().enumerate() {
        let t = tenant(&s, name);
        assert_eq!(t["last_crawl"]["mode"], "full", "{t}");
        let docs = glean.documents(&name.replace('-', "")).len();
        assert_eq!(
            docs, reference,
            "{name}: indexed {docs}, uninterrupted {reference}"
        );
        let total = clari[i].control().request_count();
        eprintln!(
            "{name}: {} requests before SIGTERM, {} after; uninterrupted {reference_requests}; indexed before {}",
            first_run[i],
            total - first_run[i],
            indexed_before[i]
        );
        // At most one page is done again: the page a stop cuts short is not recorded (its
        // remaining requests were refused), so the resumed crawl fetches it again: a listing
        // request, its privacy pass and up to 25 details.
        assert!(
            total <= reference_requests + 27,
            "{name}: {} + {} requests against {reference_requests} uninterrupted: the crawl started over",
            first_run[i],
            total - first_run[i]
        );
        assert!(
            total - first_run[i] < reference_requests,
            "{name}: the second run did all the work again"
        );
        assert!(
            indexed_before[i] < reference,
            "{name} had finished before SIGTERM"
        );
    }
    terminate(s, Duration::from_secs(30));
}

#[test]
fn serve_hosts_tenants_side_by_side() {
    let defaults = MockClariConfig::default();
    let clari_a = MockClari::spawn(
        loopback(),
        MockClariConfig {
            seed: 1,
            calls: 30,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let clari_b = MockClari::spawn(
        loopback(),
        MockClariConfig {
            seed: 2,
            calls: 40,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    clari_tenant(&tenants, "clari-a", &clari_a.base_url(), &glean.base_url());
    clari_tenant(&tenants, "clari-b", &clari_b.base_url(), &glean.base_url());
    // This tenant's component is a file of its own, replaced on disk later.
    let own = dir.path().join("probe-own.wasm");
    std::fs::copy(tenant_instance::probe_component().unwrap(), &own).unwrap();
    probe_tenant_with(&tenants, "probe-ok", &glean.base_url(), "log-flood", &own);
    probe_tenant(&tenants, "probe-stuck", &glean.base_url(), "empty-pages");
    std::fs::write(
        tenants.join("broken.toml"),
        "[connector]\nname = \"broken\"\nbogus = 1\n",
    )
    .unwrap();

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "serve",
            "--workers",
            "2",
            "--backoff-seconds",
            "1",
            "--start-stagger-seconds",
            "0",
            "--tenants",
        ])
        .arg(&tenants)
        .arg("--admin")
        .arg(format!("127.0.0.1:{port}"))
        .env("HARNESS_ADMIN_TOKEN", TOKEN)
        .env("CLARI_A_KEY", &defaults.api_key)
        .env("CLARI_A_PASSWORD", &defaults.api_password)
        .env("CLARI_B_KEY", &defaults.api_key)
        .env("CLARI_B_PASSWORD", &defaults.api_password)
        .env("PROBE_OK_KEY", "probe-ok-key-1")
        .env("PROBE_STUCK_KEY", "probe-stuck-key-1")
        .env("SHARER_KEY", "sharer-key-1")
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_for("the admin API", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // Every route but the probes needs the token; the probes are open (Kubernetes sends none).
    assert_eq!(get(&format!("{}/healthz", s.base), None).0, 200);
    for path in ["/tenants", "/tenants/probe-ok", "/metrics"] {
        let (status, _) = get(&format!("{}{path}", s.base), None);
        assert_eq!(status, 401, "{path}");
        let (status, _) = get(
            &format!("{}{path}", s.base),
            Some("wrong-token-wrong-token"),
        );
        assert_eq!(status, 401, "{path}");
    }

    wait_for("readiness", 60, || {
        get(&format!("{}/readyz", s.base), Some(TOKEN)).0 == 200
    });

    // The good tenants crawl into their own datasources; the broken file is refused.
    wait_for("first crawls", 90, || {
        ["clari-a", "clari-b", "probe-ok"]
            .iter()
            .all(|n| tenant(&s, n)["last_crawl"]["completed"] == true)
    });
    assert_eq!(tenant(&s, "broken")["state"], "refused");
    assert!(
        tenant(&s, "broken")["config_error"]
            .as_str()
            .unwrap()
            .contains("bogus")
    );
    let a = glean.documents("claria").len();
    let b = glean.documents("clarib").len();
    assert!(a > 0 && b > 0 && a != b, "{a} {b}");
    assert_eq!(glean.documents("probeok").len(), 1);

    // A tenant naming another tenant's secret is refused; the other runs on.
    probe_tenant(&tenants, "sharer", &glean.base_url(), "log-flood");
    let text = std::fs::read_to_string(tenants.join("sharer.toml"))
        .unwrap()
        .replace("SHARER_KEY", "PROBE_OK_KEY");
    std::fs::write(tenants.join("sharer.toml"), text).unwrap();
    wait_for("the sharer", 20, || {
        get(&format!("{}/tenants/sharer", s.base), Some(TOKEN)).0 == 200
    });
    let sharer = tenant(&s, "sharer");
    assert_eq!(sharer["state"], "refused", "{sharer}");
    assert!(
        sharer["config_error"]
            .as_str()
            .unwrap_or_default()
            .contains("PROBE_OK_KEY"),
        "{sharer}"
    );

    // The misbehaving tenant backs off, then is quarantined; the others are untouched.
    wait_for("quarantine", 60, || {
        tenant(&s, "probe-stuck")["state"] == "quarantined"
    });
    assert_eq!(tenant(&s, "clari-a")["consecutive_failures"], 0);

    // Actions: trigger, pause, resume, approve.
    let (status, body) = post(&format!(
        "{}/tenants/clari-a/crawl?mode=incremental",
        s.base
    ));
    assert_eq!(status, 202, "{body}");
    wait_for("the incremental crawl", 30, || {
        tenant(&s, "clari-a")["last_crawl"]["mode"] == "incremental"
    });
    let (status, _) = post(&format!("{}/tenants/clari-a/crawl?mode=sideways", s.base));
    assert_eq!(status, 400);
    let (status, _) = post(&format!("{}/tenants/nobody/pause", s.base));
    assert_eq!(status, 404);
    assert_eq!(post(&format!("{}/tenants/clari-b/pause", s.base)).0, 200);
    assert_eq!(tenant(&s, "clari-b")["state"], "paused");
    assert_eq!(post(&format!("{}/tenants/clari-b/resume", s.base)).0, 200);
    assert_eq!(
        post(&format!("{}/tenants/probe-stuck/resume", s.base)).0,
        200
    );
    assert_ne!(tenant(&s, "probe-stuck")["state"], "quarantined");
    assert_eq!(
        post(&format!("{}/tenants/clari-b/approve-deletions", s.base)).0,
        200
    );

    // A bad edit is refused and the tenant keeps its file; a good edit is taken.
    std::fs::write(tenants.join("probe-ok.toml"), "not toml at all [").unwrap();
    wait_for("the refused edit", 20, || {
        !tenant(&s, "probe-ok")["config_error"].is_null()
    });
    assert_ne!(tenant(&s, "probe-ok")["state"], "refused");
    probe_tenant(&tenants, "probe-ok", &glean.base_url(), "bad-id");
    wait_for("the accepted edit", 20, || {
        tenant(&s, "probe-ok")["config_error"].is_null()
    });

    // A component replaced on disk is checked, then taken with no restart; a broken one is
    // refused and the tenant keeps running the version it had.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/probe-0.1.0.wasm");
    probe_tenant_with(&tenants, "probe-ok", &glean.base_url(), "log-flood", &own);
    wait_for("the tenant file back", 20, || {
        tenant(&s, "probe-ok")["config_error"].is_null()
    });
    std::fs::copy(&fixture, &own).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        tenant(&s, "probe-ok")["config_error"].is_null(),
        "{}",
        tenant(&s, "probe-ok")
    );
    std::fs::write(&own, b"not a component").unwrap();
    wait_for("the refused component", 20, || {
        !tenant(&s, "probe-ok")["config_error"].is_null()
    });
    let before = tenant(&s, "probe-ok")["last_crawl"].clone();
    assert_eq!(
        post(&format!("{}/tenants/probe-ok/crawl?mode=full", s.base)).0,
        202
    );
    wait_for("a crawl on the kept version", 30, || {
        let t = tenant(&s, "probe-ok");
        t["last_crawl"] != before && t["last_crawl"]["completed"] == true
    });

    // Metrics parse and match what happened.
    let (status, text) = get(&format!("{}/metrics", s.base), Some(TOKEN));
    assert_eq!(status, 200);
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
    };
    assert!(text.trim_end().ends_with("# EOF"));
    assert_eq!(
        value("harness_documents_indexed_total{tenant=\"clari-a\"}") as usize,
        a,
        "{text}"
    );
    assert!(value("harness_crawls_total{tenant=\"clari-a\",outcome=\"completed\"}") >= 2.0);
    // A crawl that the source ended is a failed crawl, not a stopped one (that is shutdown).
    assert!(value("harness_crawls_total{tenant=\"probe-stuck\",outcome=\"failed\"}") >= 5.0);
    assert!(value("harness_instances_created_total") > 0.0);
    assert!(text.contains("harness_scheduler_lag_seconds_bucket"));

    // SIGTERM drains and exits cleanly.
    let mut s = s;
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}

/// Starts `harness serve` on `tenants` with extra environment, backoff 1 s.
fn start_serve_with(tenants: &Path, env: &[(&str, &str)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "serve",
            "--backoff-seconds",
            "1",
            "--start-stagger-seconds",
            "0",
            "--tenants",
        ])
        .arg(tenants)
        .arg("--admin")
        .arg(format!("127.0.0.1:{port}"))
        .env("HARNESS_ADMIN_TOKEN", TOKEN)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_for("the admin API", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // Readiness needs no token.
    wait_for("readiness", 60, || {
        get(&format!("{}/readyz", s.base), None).0 == 200
    });
    s
}

/// Tenant files are untrusted input: a FIFO does not hang the scheduler, a symlink out of the
/// directory is refused without being read, a 60 MB file is refused without being echoed, and
/// a tenant beside them crawls. Two tenants on one Glean datasource: the second is refused.
#[test]
fn untrusted_tenant_files_cannot_hang_leak_or_bloat_the_service() {
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir(&tenants).unwrap();
    probe_tenant(&tenants, "probe-ok", &glean.base_url(), "");
    let fifo = std::ffi::CString::new(tenants.join("fifo.toml").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:$6$the-hash-of-root:19000:0:99999:7:::\n").unwrap();
    std::os::unix::fs::symlink(&secret, tenants.join("shadow.toml")).unwrap();
    let big = format!("# {}\n", "x".repeat(60 * 1024 * 1024));
    std::fs::write(tenants.join("big.toml"), big).unwrap();
    // The same datasource as probe-ok, with secrets of its own.
    probe_tenant(&tenants, "copycat", &glean.base_url(), "");
    let text = std::fs::read_to_string(tenants.join("copycat.toml"))
        .unwrap()
        .replace("datasource = \"copycat\"", "datasource = \"probeok\"");
    std::fs::write(tenants.join("copycat.toml"), text).unwrap();

    let s = start_serve_with(
        &tenants,
        &[
            ("PROBE_OK_KEY", "probe-ok-key-1"),
            ("COPYCAT_KEY", "copycat-key-1"),
        ],
    );
    wait_for("probe-ok's crawl", 60, || {
        tenant(&s, "probe-ok")["last_crawl"]["completed"] == true
    });
    let (status, listing) = get(&format!("{}/tenants", s.base), Some(TOKEN));
    assert_eq!(status, 200);
    assert!(
        listing.len() < 64 * 1024,
        "GET /tenants answered {} bytes",
        listing.len()
    );
    assert!(!listing.contains("the-hash-of-root"), "{listing}");
    let refused = |name: &str, why: &str| {
        let t = tenant(&s, name);
        assert_eq!(t["state"], "refused", "{t}");
        let e = t["config_error"].as_str().unwrap_or_default();
        assert!(e.contains(why), "{name}: {e}");
    };
    refused("fifo", "not a regular file");
    refused("shadow", "outside the tenants directory");
    refused("big", "over the");
    // Which of the two is refused depends on the order the files are read in; one is.
    let states = [
        tenant(&s, "copycat")["state"].clone(),
        tenant(&s, "probe-ok")["state"].clone(),
    ];
    assert!(states.iter().any(|st| st == "refused"), "{states:?}");
    let copycat = tenant(&s, "copycat");
    if copycat["state"] == "refused" {
        assert!(
            copycat["config_error"]
                .as_str()
                .unwrap()
                .contains("datasource"),
            "{copycat}"
        );
    }
    terminate(s, Duration::from_secs(30));
}

/// A panic in a crawl marks that crawl failed, with the panic's message in the tenant's view;
/// the tenant is not left `running` for ever, and its next crawl runs.
#[test]
fn a_panicking_crawl_fails_its_tenant_and_the_service_goes_on() {
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir(&tenants).unwrap();
    probe_tenant(&tenants, "probe-ok", &glean.base_url(), "");
    let s = start_serve_with(
        &tenants,
        &[
            ("PROBE_OK_KEY", "probe-ok-key-1"),
            ("HARNESS_CRASH_AT", "1"),
            ("HARNESS_CRASH_MODE", "panic"),
        ],
    );
    // The crawl history (the console's tenant page) keeps the panic's message.
    wait_for("the panicked crawl in the history", 60, || {
        let (_, page) = get(&format!("{}/console/tenants/probe-ok", s.base), Some(TOKEN));
        page.contains("the crawl panicked") && page.contains("crash injection")
    });
    wait_for("the next crawl", 60, || {
        tenant(&s, "probe-ok")["last_crawl"]["completed"] == true
    });
    let (_, metrics) = get(&format!("{}/metrics", s.base), Some(TOKEN));
    assert!(
        metrics.contains("harness_crawls_total{tenant=\"probe-ok\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
    // Paused, it runs nothing on demand either.
    assert_eq!(post(&format!("{}/tenants/probe-ok/pause", s.base)).0, 200);
    let (status, body) = post(&format!("{}/tenants/probe-ok/crawl?mode=full", s.base));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("resume"), "{body}");
    terminate(s, Duration::from_secs(30));
}

/// SIGTERM while a crawl waits on a source that accepts connections and never answers: the
/// service exits 0 within a couple of seconds (not after the source's timeouts, which took
/// 90 s), and opens no new connection to the source after the signal.
#[test]
fn sigterm_ends_a_crawl_stuck_on_a_silent_source_at_once() {
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let accepted = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in silent.incoming().flatten() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(s);
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir(&tenants).unwrap();
    clari_tenant(&tenants, "silent", &silent_url, &glean.base_url());
    let defaults = MockClariConfig::default();
    let s = start_serve_with(
        &tenants,
        &[
            ("SILENT_KEY", defaults.api_key.as_str()),
            ("SILENT_PASSWORD", defaults.api_password.as_str()),
        ],
    );
    wait_for("a request to the silent source", 60, || {
        accepted.load(std::sync::atomic::Ordering::SeqCst) > 0
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = accepted.load(std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    terminate(s, Duration::from_secs(5));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "SIGTERM took {took:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "new connections to the silent source after SIGTERM"
    );
}

/// Both connectors, one platform: a Clari Copilot tenant and a Gong tenant (the built-in
/// component named by `builtin`, Basic auth composed from two secrets) crawl side by side into
/// their own datasources, each planned against the limits its connector declares (Clari's
/// 100,000 a week, Gong's 10,000 a day), with no rate and no budget in either file.
#[test]
fn one_service_runs_clari_and_gong_tenants_on_their_own_limits() {
    let clari = MockClari::spawn(
        loopback(),
        MockClariConfig {
            seed: 3,
            calls: 20,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let gong = mock_gong::MockGong::spawn(
        loopback(),
        mock_gong::MockGongConfig {
            seed: 4,
            calls: 20,
            anchor: chrono::Utc::now(),
            faults: mock_gong::Faults::gong_limits(),
            ..mock_gong::MockGongConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    clari_tenant(&tenants, "clari-one", &clari.base_url(), &glean.base_url());
    std::fs::write(
        tenants.join("gong-one.toml"),
        format!(
            "[connector]\nname = \"gong-one\"\nbuiltin = \"gong\"\nstate_dir = \"{state}\"\n\
             [upstreams.gong]\nbase_url = \"{gong}\"\nallow_private_network = true\n\
             [upstreams.gong.basic]\nusername = {{ env = \"GONG_ONE_KEY\" }}\npassword = {{ env = \"GONG_ONE_SECRET\" }}\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"gongone\"\n",
            state = tenants.join("state").display(),
            gong = gong.base_url(),
            glean = glean.base_url(),
        ),
    )
    .unwrap();
    let c = MockClariConfig::default();
    let g = mock_gong::MockGongConfig::default();
    let s = start_serve_with(
        &tenants,
        &[
            ("CLARI_ONE_KEY", c.api_key.as_str()),
            ("CLARI_ONE_PASSWORD", c.api_password.as_str()),
            ("GONG_ONE_KEY", g.access_key.as_str()),
            ("GONG_ONE_SECRET", g.access_key_secret.as_str()),
        ],
    );
    wait_for("both tenants' first crawls", 120, || {
        ["clari-one", "gong-one"]
            .iter()
            .all(|n| tenant(&s, n)["last_crawl"]["completed"] == true)
    });
    assert_eq!(
        glean.documents("clarione").len(),
        clari
            .control()
            .calls()
            .iter()
            .filter(|c| c.status == "POST_PROCESSING_DONE")
            .count()
    );
    assert_eq!(glean.documents("gongone").len(), 20);
    assert_eq!(tenant(&s, "clari-one")["budget_limit"], 100_000);
    assert_eq!(tenant(&s, "gong-one")["budget_limit"], 10_000);
    assert_eq!(
        gong.control().throttled_count(),
        0,
        "Gong's declared 3 a second is kept"
    );
    terminate(s, Duration::from_secs(30));
}

fn post_json(url: &str, body: &str) -> (u16, String) {
    post_as(url, "application/json", body.as_bytes())
}

fn post_bytes(url: &str, body: &[u8]) -> (u16, String) {
    post_as(url, "application/wasm", body)
}

/// POSTs `body` as `content_type` with the admin token.
fn post_as(url: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

/// `POST /tenants/NAME/canary` with a candidate component: the service records a live sample
/// of the tenant's source while no crawl of it runs, judges the candidate against the pinned
/// version on it, saves the report (`GET /tenants/NAME/canary`), and with `promote=true` and a
/// pass moves the tenant file's pin to the candidate, kept by digest beside the state. A
/// candidate named in a registry is pulled, checked against its digest (a wrong pin is
/// refused) and promoted as an OCI pin; the tenant goes on crawling with it. What is not a
/// component is refused before anything is sent.
#[test]
fn a_canary_asked_of_the_admin_api_samples_judges_saves_and_promotes() {
    let defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        loopback(),
        MockClariConfig {
            calls: 40,
            anchor: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    clari_tenant(&tenants, "acme", &clari.base_url(), &glean.base_url());
    let env = vec![
        ("ACME_KEY".to_string(), defaults.api_key.clone()),
        ("ACME_PASSWORD".to_string(), defaults.api_password.clone()),
    ];
    let s = start_serve(&tenants, "4", &env);
    wait_for("the first crawl", 120, || {
        tenant(&s, "acme")["last_crawl"]["completed"] == true
    });
    // No crawl starts while the canary runs anyway; paused, none is due either.
    assert_eq!(post(&format!("{}/tenants/acme/pause", s.base)).0, 200);
    let url = format!("{}/tenants/acme/canary", s.base);
    let (status, body) = get(&url, Some(TOKEN));
    assert_eq!(status, 404, "{body}");

    let before = clari.control().request_count();
    let (status, body) = post_bytes(&url, b"\0asm not really");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a connector component"), "{body}");
    assert_eq!(clari.control().request_count(), before, "nothing sent");

    let candidate = std::fs::read(tenant_instance::clari_copilot_component().unwrap()).unwrap();
    let (status, body) = post_bytes(&format!("{url}?max_cpu_ratio=0"), &candidate);
    assert_eq!(status, 400, "thresholds are checked: {body}");
    let (status, body) = post_bytes(&format!("{url}?pages=1&promote=true"), &candidate);
    assert_eq!(status, 200, "{body}");
    let saved: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(saved["report"]["verdict"]["pass"], true, "{saved}");
    assert_eq!(saved["promoted"], true, "{saved}");
    assert!(
        saved["report"]["diff"]["compared"].as_u64().unwrap() > 0,
        "{saved}"
    );
    let sent = clari.control().request_count() - before;
    assert!(sent > 0, "the sample asked the source");
    let (status, again) = get(&url, Some(TOKEN));
    assert_eq!(status, 200, "{again}");
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["candidate_digest"], saved["candidate_digest"]);

    let kept = saved["candidate"].as_str().unwrap();
    assert!(kept.contains("/canary/candidates/sha256-"), "{kept}");
    let file = std::fs::read_to_string(tenants.join("acme.toml")).unwrap();
    assert!(file.contains(&format!("component = \"{kept}\"")), "{file}");

    // A candidate in a registry, named by reference and digest: pulled, checked, judged, and
    // promoted as an OCI pin.
    let registry = crate::support::registry::Registry::start();
    let reference = format!("{}/connectors/clari:next", registry.addr);
    let component = tenant_instance::clari_copilot_component().unwrap();
    let pushed = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("push")
        .arg(&component)
        .arg(&reference)
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{pushed:?}");
    let digest = saved["candidate_digest"].as_str().unwrap().to_string();
    let named = |digest: &str| serde_json::json!({"oci": reference, "digest": digest}).to_string();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let (status, body) = post_json(&format!("{url}?promote=true"), &named(&wrong));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(&wrong), "the refusal names the pin: {body}");
    let (status, body) = post_json(&format!("{url}?promote=true"), &named(&digest));
    assert_eq!(status, 200, "{body}");
    let from_registry: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(from_registry["promoted"], true, "{from_registry}");
    assert_eq!(from_registry["candidate"], reference.as_str());
    let file = std::fs::read_to_string(tenants.join("acme.toml")).unwrap();
    assert!(
        file.contains(&format!("oci = \"{reference}\"\ndigest = \"{digest}\"")),
        "{file}"
    );
    assert!(!file.contains("component ="), "{file}");

    // The tenant crawls on with the promoted pin.
    assert_eq!(post(&format!("{}/tenants/acme/resume", s.base)).0, 200);
    let last = tenant(&s, "acme")["last_crawl"]["finished_at"].clone();
    let (status, body) = post(&format!("{}/tenants/acme/crawl?mode=incremental", s.base));
    assert_eq!(status, 202, "{body}");
    wait_for("a crawl with the promoted pin", 120, || {
        let t = tenant(&s, "acme");
        t["last_crawl"]["finished_at"] != last && t["last_crawl"]["completed"] == true
    });
    assert_eq!(tenant(&s, "acme")["config_error"], serde_json::Value::Null);
    terminate(s, Duration::from_secs(30));
}
