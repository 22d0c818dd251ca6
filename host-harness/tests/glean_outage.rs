//! `harness run` survives an outage of Glean: with Glean unreachable when a crawl starts
//! (registering the datasource fails), the crawl counts as failed and is retried with
//! backoff; the process stays up, and once Glean is back the next try indexes everything.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

#[test]
fn run_backs_off_through_a_glean_outage_and_indexes_once_it_is_back() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 12,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    // Glean's address, with nothing listening yet.
    let glean_addr = std::net::TcpListener::bind(loopback)
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    let mut text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &format!("http://{glean_addr}"),
        &dir.path().join("state").display().to_string(),
        50.0,
    );
    text.push_str("\n[schedule]\nretry_seconds = 1\n");
    std::fs::write(&config, text).unwrap();

    let defaults = MockClariConfig::default();
    let stderr = dir.path().join("stderr");
    let mut run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--config"])
        .arg(&config)
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, done: &dyn Fn() -> bool, run: &mut std::process::Child| {
        let started = Instant::now();
        while !done() {
            if let Some(status) = run.try_wait().unwrap() {
                panic!(
                    "harness run ended ({status}) while waiting for {what}: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no {what}: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let failures = || {
        std::fs::read_to_string(&stderr)
            .unwrap_or_default()
            .matches("the crawl could not run")
            .count()
    };
    wait_for("two failed tries", &|| failures() >= 2, &mut run);
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(log.contains("next try is in"), "{log}");
    assert!(
        !log.contains(MockGleanConfig::default().token.as_str()),
        "{log}"
    );

    let glean = MockGlean::spawn(glean_addr, MockGleanConfig::default()).unwrap();
    wait_for(
        "documents in Glean",
        &|| !glean.documents("claricopilot").is_empty(),
        &mut run,
    );
    run.kill().unwrap();
    run.wait().unwrap();
}
