//! The database's share of a crawl (BENCHMARKS.md, "PostgreSQL per crawl"): one tenant's state
//! in a real PostgreSQL (started from Debian's package), reached through a loopback proxy that
//! counts the statements the harness executes (simple queries and extended-protocol executes)
//! and the bytes each way; a full crawl of a 1,000-call workspace, incremental crawls with
//! nothing new, one with 10 new calls, and a reconciling full crawl; then the database's size.
//! A benchmark, run on demand:
//!
//! ```sh
//! cargo test --release -p host-harness --test integration -- --ignored --nocapture db_cost::
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};
use pg_state::testing::TempPostgres;
use pg_state::{Leases, PgBudgetLedger, PgStore, connect, migrate};
use tenant_instance::config::{Config, parse_file};
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{ExternalState, RunOptions, prepare_with};

/// What went through the proxy.
#[derive(Default)]
struct Counts {
    statements: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

impl Counts {
    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.statements.load(Ordering::SeqCst),
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }
}

/// A loopback proxy in front of PostgreSQL that counts statements and bytes.
fn counting_proxy(target: SocketAddr, counts: Arc<Counts>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(target).unwrap();
            // No Nagle: a message held back for a delayed ACK costs 40 ms a statement.
            client.set_nodelay(true).ok();
            server.set_nodelay(true).ok();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = counts.clone();
            std::thread::spawn(move || frontend(client, server, &up));
            let down = counts.clone();
            std::thread::spawn(move || copy(s2, c2, &down.down));
        }
    });
    addr
}

/// Server to client: bytes only.
fn copy(mut from: TcpStream, mut to: TcpStream, bytes: &AtomicU64) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::SeqCst);
    }
    to.shutdown(std::net::Shutdown::Both).ok();
}

/// Client to server: message by message (the startup and SSL request have no type byte),
/// counting `Q` (simple query) and `E` (execute) as statements.
fn frontend(mut from: TcpStream, mut to: TcpStream, counts: &Counts) {
    let mut untyped = true;
    loop {
        let mut head = [0u8; 5];
        let head_len = if untyped { 4 } else { 5 };
        if from.read_exact(&mut head[..head_len]).is_err() {
            break;
        }
        let len_bytes: [u8; 4] = if untyped {
            [head[0], head[1], head[2], head[3]]
        } else {
            [head[1], head[2], head[3], head[4]]
        };
        let len = u32::from_be_bytes(len_bytes) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        if from.read_exact(&mut body).is_err() {
            break;
        }
        // An SSL or GSS request is followed by another untyped message (the startup).
        let ssl_request = untyped && len == 8;
        if !untyped && matches!(head[0], b'Q' | b'E') {
            counts.statements.fetch_add(1, Ordering::SeqCst);
        }
        untyped = ssl_request;
        let mut message = head[..head_len].to_vec();
        message.extend_from_slice(&body);
        if to.write_all(&message).is_err() {
            break;
        }
        counts.up.fetch_add(message.len() as u64, Ordering::SeqCst);
    }
    to.shutdown(std::net::Shutdown::Both).ok();
}

#[test]
#[ignore = "a benchmark: cargo test --release -p host-harness --test integration -- --ignored --nocapture db_cost::"]
fn postgres_statements_and_bytes_per_crawl() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 1000,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let pg = TempPostgres::start().unwrap();
    let url = pg.database("cost").unwrap();
    migrate::run(&mut connect(&url).unwrap()).unwrap();
    let port: u16 = url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .unwrap();
    let counts = Arc::new(Counts::default());
    let proxy = counting_proxy(SocketAddr::from(([127, 0, 0, 1], port)), counts.clone());
    let proxied = url.replace(&format!("port={port}"), &format!("port={}", proxy.port()));
    let leases = Leases::new("bench", Duration::from_secs(3600)).unwrap();
    let mut admin = connect(&url).unwrap();
    leases.register(&mut admin, &["bench".to_string()]).unwrap();
    let lease = leases
        .claim(&mut admin, &["bench".to_string()], 1)
        .unwrap()
        .pop()
        .unwrap();
    let size = |db: &mut postgres::Client| -> i64 {
        db.query_one("SELECT pg_database_size(current_database())", &[])
            .unwrap()
            .get(0)
    };
    let empty = size(&mut admin);

    let dir = tempfile::tempdir().unwrap();
    let text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.path().join("state").display().to_string(),
        1000.0,
    );
    let defaults = MockClariConfig::default();
    let env = |k: &str| match k {
        "CLARI_API_KEY" => Some(defaults.api_key.clone()),
        "CLARI_API_PASSWORD" => Some(defaults.api_password.clone()),
        _ => Some(MockGleanConfig::default().token),
    };
    let config =
        Config::from_file(parse_file(&text).unwrap(), std::path::Path::new("."), &env).unwrap();
    let runtime = tenant_instance::cached_runtime().unwrap();
    // The replica's pool, as `harness serve` has it (its default size).
    let sessions = pg_state::Sessions::new(&proxied, Duration::from_secs(3600), 16).unwrap();
    let budget = PgBudgetLedger::load(&mut *sessions.get().unwrap(), "bench").unwrap();
    let store = PgStore::open(&sessions, &lease).unwrap();
    let ledger = Arc::new(PgBudgetLedger::sharing(&store));
    let state = ExternalState::new(Box::new(store), budget, ledger, lease.epoch);
    let mut p = prepare_with(
        &runtime,
        &config,
        RunOptions::new()
            .with_clock(GuestClock::System)
            .with_state(state),
    )
    .unwrap();
    println!(
        "PostgreSQL per crawl, 1,000-call workspace (statements executed, bytes to and from the server):"
    );
    println!("| crawl | indexed | requests to Clari | statements | bytes up | bytes down |");
    println!("|---|---|---|---|---|---|");
    let steps: [(&str, CrawlMode, usize); 6] = [
        ("full (backfill)", CrawlMode::Full, 0),
        ("incremental, nothing new", CrawlMode::Incremental, 0),
        ("incremental, nothing new", CrawlMode::Incremental, 0),
        ("incremental, 10 new calls", CrawlMode::Incremental, 10),
        ("incremental, nothing new", CrawlMode::Incremental, 0),
        ("full, nothing changed (reconciling)", CrawlMode::Full, 0),
    ];
    let mut last_unchanged = (0, 0, 0);
    for (what, mode, new_calls) in steps {
        for _ in 0..new_calls {
            clari.control().add_call(mock_clari::NewCall::default());
        }
        let before = counts.snapshot();
        let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
            .run(mode)
            .unwrap();
        assert!(report.completed, "{report}");
        let after = counts.snapshot();
        let d = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
        println!(
            "| {what} | {} | {} | {} | {} | {} |",
            report.indexed, report.requests, d.0, d.1, d.2
        );
        if new_calls == 0 && mode == CrawlMode::Incremental {
            last_unchanged = d;
        }
    }
    drop(p);
    admin.batch_execute("VACUUM").unwrap();
    let full = size(&mut admin);
    println!(
        "database size: {} KiB empty (schema), {} KiB with the tenant: {} KiB for 1,000 calls",
        empty / 1024,
        full / 1024,
        (full - empty) / 1024
    );
    // An incremental crawl with nothing new costs tens of statements, not one per document.
    assert!(last_unchanged.0 < 100, "{last_unchanged:?}");
}
