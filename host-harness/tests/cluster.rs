//! Three `harness serve` replicas on one PostgreSQL (started by the test from Debian's
//! package) share 30 tenants on mock Clari and mock Glean. Mid-crawl, one replica is killed
//! (SIGKILL) and another is paused (SIGSTOP) past its lease: the third takes their tenants over
//! within the lease ttl plus a round; the paused one, woken, writes nothing under its lost
//! leases (the database refuses, and the budget it could not record was never spent). In the
//! end every tenant's index equals its state, the epoch log shows one holder per epoch, and
//! the budget counts equal the requests the mock served. Operators' actions asked of any replica
//! reach the holder through the database.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};
use pg_state::testing::TempPostgres;

const TOKEN: &str = "admin-token-0123456789abcdef";
const TENANTS: usize = 30;
const LEASE_SECONDS: u64 = 3;

fn tenant_file(dir: &Path, n: usize, clari: &str, glean: &str) {
    std::fs::write(
        dir.join(format!("t{n:02}.toml")),
        format!(
            "[connector]\nname = \"t{n:02}\"\n\
             [connector.settings]\nhistory_months = 12\n\
             [upstreams.clari]\nbase_url = \"{clari}\"\nrate_per_second = 8\nallow_private_network = true\n\
             [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"T{n:02}_KEY\" }}\nX-Api-Password = {{ env = \"T{n:02}_PASSWORD\" }}\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"t{n:02}\"\n"
        ),
    )
    .unwrap();
}

struct Replica {
    child: Child,
    base: String,
}

/// POSTs to a replica's admin API; answers the status.
fn post(base: &str, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send_empty()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Whether a replica's admin API says tenant `name` is paused.
fn paused_at(base: &str, name: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(format!("{base}/tenants/{name}"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
        .is_some_and(|v| v["paused"] == true)
}

/// A console page from a replica (the admin token as bearer): status and body. `form` posts.
fn console(base: &str, path: &str, form: bool) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{path}");
    let auth = format!("Bearer {TOKEN}");
    let answer = if form {
        agent
            .post(&url)
            .header("Authorization", &auth)
            .send_form([("csrf", "")])
    } else {
        agent.get(&url).header("Authorization", &auth).call()
    };
    let mut r = answer.unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Actions waiting in the database for their tenant's holder.
fn waiting_actions(db: &mut postgres::Client) -> i64 {
    db.query_one("SELECT count(*) FROM tenant_actions", &[])
        .unwrap()
        .get(0)
}

impl Drop for Replica {
    fn drop(&mut self) {
        signal(&self.child, "CONT");
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn signal(child: &Child, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
}

fn start(name: &str, tenants: &Path, db_url: &str, env: &[(String, String)]) -> Replica {
    start_with(name, tenants, db_url, env, Some(LEASE_SECONDS))
}

/// A replica; `lease` `None` runs the default lease.
fn start_with(
    name: &str,
    tenants: &Path,
    db_url: &str,
    env: &[(String, String)],
    lease: Option<u64>,
) -> Replica {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The benchmarks run the release binary when HARNESS_BIN names it.
    let bin = std::env::var("HARNESS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_harness").into());
    let child = Command::new(bin)
        .args(["serve", "--start-stagger-seconds", "0", "--tenants"])
        .arg(tenants)
        .args([
            "--admin",
            &format!("127.0.0.1:{port}"),
            "--database-url-env",
            "HARNESS_DB",
        ])
        .args(
            lease
                .map(|l| vec!["--lease-seconds".to_string(), l.to_string()])
                .unwrap_or_default(),
        )
        .args(["--replica", name])
        .env("HARNESS_DB", db_url)
        .env("HARNESS_ADMIN_TOKEN", TOKEN)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tenants.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name}'s admin API"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Replica { child, base }
}

/// The tail of what the replicas logged (warnings and errors), for a failure's message.
fn logs(dir: &Path) -> String {
    ["r1", "r2", "r3"]
        .iter()
        .map(|r| {
            let text = std::fs::read_to_string(dir.join(format!("{r}.log"))).unwrap_or_default();
            let start = text.len().saturating_sub(3000);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            format!("--- {r}:\n{}\n", &text[start..])
        })
        .collect()
}

fn wait_for(dir: &Path, what: &str, secs: u64, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// Tenant → (owner, epoch) of every live lease.
fn live_leases(db: &mut postgres::Client) -> Vec<(String, String, i64)> {
    db.query(
        "SELECT tenant, owner, epoch FROM leases WHERE owner IS NOT NULL AND expires_at > now()",
        &[],
    )
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn completed(db: &mut postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(*) FROM tenant_meta WHERE (meta->'last_full'->>'completed')::boolean",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn replicas_take_over_killed_and_paused_ones_and_never_write_twice() {
    let pg = TempPostgres::start().unwrap();
    let url = pg.database("cluster").unwrap();
    let defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            calls: 40,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockGleanConfig::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = Vec::new();
    for n in 0..TENANTS {
        tenant_file(dir.path(), n, &clari.base_url(), &glean.base_url());
        // Each tenant its own workspace of the mock: key `<api_key>-<n>`.
        env.push((format!("T{n:02}_KEY"), format!("{}-{n}", defaults.api_key)));
        env.push((format!("T{n:02}_PASSWORD"), defaults.api_password.clone()));
    }
    let mut db = pg_state::connect(&url).unwrap();
    // The replicas migrate too; the test reads the tables before they may have.
    pg_state::migrate::run(&mut db).unwrap();
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"]
        .iter()
        .map(|r| start(r, dir.path(), &url, &env))
        .collect();
    wait_for(
        dir.path(),
        "every tenant leased, shared by the three",
        60,
        || {
            let live = live_leases(&mut db);
            live.len() == TENANTS
                && ["r1", "r2", "r3"]
                    .iter()
                    .all(|r| live.iter().any(|l| l.1 == *r))
        },
    );
    // An operator may ask any replica: an action for a tenant held elsewhere goes through the
    // database to its holder, and a pause or resume reaches every replica.
    let (tenant, holder) = live_leases(&mut db)
        .into_iter()
        .find(|l| l.1 == "r2")
        .map(|l| (l.0, l.1))
        .unwrap();
    let crawl = format!("/tenants/{tenant}/crawl?mode=incremental");
    assert_eq!(holder, "r2");
    assert_eq!(post(&replicas[0].base, &crawl), 202);
    assert_eq!(
        post(&replicas[0].base, &format!("/tenants/{tenant}/pause")),
        200
    );
    wait_for(
        dir.path(),
        "r1's pause applied by r2, the holder",
        20,
        || paused_at(&replicas[1].base, &tenant) && paused_at(&replicas[2].base, &tenant),
    );
    assert_eq!(
        post(&replicas[1].base, &crawl),
        409,
        "a paused tenant runs nothing"
    );
    assert_eq!(
        post(&replicas[2].base, &format!("/tenants/{tenant}/resume")),
        200
    );
    wait_for(dir.path(), "r3's resume applied by r2", 20, || {
        !paused_at(&replicas[1].base, &tenant) && !paused_at(&replicas[0].base, &tenant)
    });
    wait_for(
        dir.path(),
        "the routed actions taken by their holder",
        20,
        || waiting_actions(&mut db) == 0,
    );
    // The console on any replica reads the tenant's state from the database; only the holder
    // fetches from the source, and another says which replica to ask.
    let mut indexed = None;
    wait_for(
        dir.path(),
        "a document of the tenant in the state",
        60,
        || {
            indexed = db
                .query_opt(
                    "SELECT id FROM documents WHERE tenant = $1 LIMIT 1",
                    &[&tenant],
                )
                .unwrap()
                .map(|r| r.get::<_, String>(0));
            indexed.is_some()
        },
    );
    let call = format!("/console/tenants/{tenant}/calls/{}", indexed.unwrap());
    let (status, page) = console(&replicas[0].base, &call, false);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Its next deep refresh is full crawl"),
        "r1 read why the call was fetched from the database: {page}"
    );
    let (_, page) = console(&replicas[0].base, &format!("{call}/fetch"), true);
    assert!(page.contains("replica `r2` holds this tenant"), "{page}");
    let (_, page) = console(&replicas[1].base, &format!("{call}/fetch"), true);
    assert!(page.contains("id=\"source\""), "{page}");
    assert!(
        page.contains("&quot;permissions&quot;"),
        "r2 fetched it: {page}"
    );
    wait_for(dir.path(), "crawls under way", 60, || {
        clari.control().request_count() >= 150
    });

    // r1 dies; r2 freezes for longer than its lease.
    let r1 = replicas.remove(0);
    signal(&r1.child, "KILL");
    let r1_tenants: Vec<String> = live_leases(&mut db)
        .into_iter()
        .filter(|l| l.1 == "r1")
        .map(|l| l.0)
        .collect();
    signal(&replicas[0].child, "STOP");
    let paused_at = Instant::now();
    let r2_before: Vec<(String, i64)> = live_leases(&mut db)
        .into_iter()
        .filter(|l| l.1 == "r2")
        .map(|l| (l.0, l.2))
        .collect();
    let took = wait_for(dir.path(), "r3 holding every tenant", 30, || {
        let live = live_leases(&mut db);
        live.len() == TENANTS && live.iter().all(|l| l.1 == "r3")
    });
    assert!(
        took <= Duration::from_secs(LEASE_SECONDS * 2 + 2),
        "takeover took {took:?} (ttl {LEASE_SECONDS} s, renewals every third)"
    );
    assert!(!r1_tenants.is_empty() && !r2_before.is_empty());
    std::thread::sleep(Duration::from_secs(LEASE_SECONDS).saturating_sub(paused_at.elapsed()));
    signal(&replicas[0].child, "CONT");
    // Woken, r2 must notice it lost its leases: it never holds them under its old epochs.
    std::thread::sleep(Duration::from_secs(LEASE_SECONDS));
    for (tenant, epoch) in &r2_before {
        assert!(
            !live_leases(&mut db)
                .iter()
                .any(|l| l.0 == *tenant && l.1 == "r2" && l.2 == *epoch),
            "r2 still holds {tenant} at epoch {epoch}"
        );
    }

    wait_for(
        dir.path(),
        "every tenant's full crawl completed",
        240,
        || completed(&mut db) == TENANTS as i64,
    );
    for r in replicas.drain(..) {
        signal(&r.child, "TERM");
        drop(r);
    }

    // Every tenant's index is what its state says it indexed.
    for n in 0..TENANTS {
        let tenant = format!("t{n:02}");
        let in_state: i64 = db
            .query_one(
                "SELECT count(*) FROM documents WHERE tenant = $1",
                &[&tenant],
            )
            .unwrap()
            .get(0);
        let in_index = glean.documents(&tenant).len() as i64;
        assert!(in_state > 0, "{tenant} indexed nothing");
        assert_eq!(in_index, in_state, "{tenant}: index and state differ");
    }
    // One holder per epoch, epochs counting up from 1.
    for n in 0..TENANTS {
        let tenant = format!("t{n:02}");
        let epochs: Vec<i64> = db
            .query(
                "SELECT epoch FROM epoch_log WHERE tenant = $1 ORDER BY epoch",
                &[&tenant],
            )
            .unwrap()
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            epochs,
            (1..=epochs.len() as i64).collect::<Vec<_>>(),
            "{tenant}"
        );
    }
    // Every request the mock served was counted; a count without a request is possible only
    // for a request the SIGKILL cut between its count and its send.
    let counted: i64 = db
        .query_one("SELECT COALESCE(sum(requests), 0)::bigint FROM budget", &[])
        .unwrap()
        .get(0);
    let served = clari.control().request_count() as i64;
    assert!(counted >= served, "counted {counted} < served {served}");
    assert!(counted - served <= 64, "counted {counted}, served {served}");
    let _ = r1;
}

/// Takeover time with the default lease (15 s), after SIGKILL and after SIGSTOP of the replica
/// holding the tenants: from the signal until the other replica holds every tenant. A
/// benchmark, not a test (BENCHMARKS.md): `cargo test -p host-harness --test integration --
/// --ignored --nocapture cluster::takeover`.
#[test]
#[ignore]
fn takeover_benchmark() {
    let pg = TempPostgres::start().unwrap();
    let url = pg.database("takeover").unwrap();
    let mut db = pg_state::connect(&url).unwrap();
    pg_state::migrate::run(&mut db).unwrap();
    let defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            calls: 5,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockGleanConfig::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = Vec::new();
    for n in 0..10 {
        tenant_file(dir.path(), n, &clari.base_url(), &glean.base_url());
        env.push((format!("T{n:02}_KEY"), format!("{}-{n}", defaults.api_key)));
        env.push((format!("T{n:02}_PASSWORD"), defaults.api_password.clone()));
    }
    for sig in ["KILL", "STOP"] {
        let mut took = Vec::new();
        for round in 0..5 {
            let (a, b) = (format!("a{sig}{round}"), format!("b{sig}{round}"));
            let ra = start_with(&a, dir.path(), &url, &env, None);
            let rb = start_with(&b, dir.path(), &url, &env, None);
            wait_for(dir.path(), "both replicas holding tenants", 120, || {
                let live = live_leases(&mut db);
                live.len() == 10 && live.iter().any(|l| l.1 == a) && live.iter().any(|l| l.1 == b)
            });
            signal(&ra.child, sig);
            let t0 = Instant::now();
            wait_for(dir.path(), "the takeover", 120, || {
                let live = live_leases(&mut db);
                live.len() == 10 && live.iter().all(|l| l.1 == b)
            });
            took.push(t0.elapsed().as_secs_f64());
            drop(ra);
            // rb leaves cleanly, releasing its leases for the next round.
            signal(&rb.child, "TERM");
            std::thread::sleep(Duration::from_secs(2));
            drop(rb);
        }
        took.sort_by(f64::total_cmp);
        let p50 = took[took.len() / 2];
        let p95 = took[((took.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)];
        println!(
            "takeover after SIG{sig}: {took:?} s; p50 {p50:.1} s, p95 {p95:.1} s (lease 15 s)"
        );
    }
}

/// Throughput as replicas go from 1 to 3, default settings: 600 tenants (20 calls each, paced
/// at 8 requests a second as every tenant here), all due at once; the figure is full crawls
/// completed per second from the first lease claimed until every tenant's first full crawl
/// completed. A benchmark, not a test (BENCHMARKS.md): `HARNESS_BIN=<release harness> cargo test
/// -p host-harness --test integration -- --ignored --nocapture cluster::throughput`.
#[test]
#[ignore]
fn throughput_benchmark() {
    const MANY: usize = 600;
    let pg = TempPostgres::start().unwrap();
    let defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            calls: 20,
            anchor: chrono::Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockGleanConfig {
            // As if each tenant had its own Glean (the density benchmark does the same).
            rate_limits: mock_glean::RateLimits::off(),
            ..MockGleanConfig::default()
        },
    )
    .unwrap();
    let mut env = Vec::new();
    for n in 0..MANY {
        env.push((format!("T{n:02}_KEY"), format!("{}-{n}", defaults.api_key)));
        env.push((format!("T{n:02}_PASSWORD"), defaults.api_password.clone()));
    }
    for replicas in 1..=3usize {
        let url = pg.database(&format!("throughput{replicas}")).unwrap();
        let mut db = pg_state::connect(&url).unwrap();
        pg_state::migrate::run(&mut db).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for n in 0..MANY {
            tenant_file(dir.path(), n, &clari.base_url(), &glean.base_url());
        }
        let served_before = clari.control().request_count();
        let running: Vec<Replica> = (0..replicas)
            .map(|r| start_with(&format!("r{r}"), dir.path(), &url, &env, None))
            .collect();
        wait_for(dir.path(), "a first lease claimed", 120, || {
            !live_leases(&mut db).is_empty()
        });
        let t0 = Instant::now();
        wait_for(dir.path(), "every tenant's first full crawl", 1200, || {
            completed(&mut db) == MANY as i64
        });
        let took = t0.elapsed().as_secs_f64();
        let served = clari.control().request_count() - served_before;
        println!(
            "{replicas} replica(s): {MANY} full crawls in {took:.1} s = {:.1} crawls/s, {:.0} source requests/s",
            MANY as f64 / took,
            served as f64 / took
        );
        for r in running {
            signal(&r.child, "TERM");
            drop(r);
        }
    }
}
