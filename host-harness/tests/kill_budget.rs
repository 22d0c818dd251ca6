//! A `harness crawl` killed mid-crawl (SIGKILL, requests in flight) loses no budget count: every
//! request was counted and persisted before it was sent. A restart right after the kill still
//! never puts more than the rate into any one-second window at the source.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_clari::{Faults, MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

fn harness(config: &std::path::Path) -> Command {
    let defaults = MockClariConfig::default();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["crawl", "--config"])
        .arg(config)
        .args(["--mode", "full"])
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .env_remove("HARNESS_CRASH_AT");
    cmd
}

#[test]
fn a_kill_loses_no_budget_count_and_a_restart_keeps_the_rate() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: 5,
            calls: 80,
            anchor: Utc::now(),
            faults: Faults {
                rate_limit_per_sec: Some(10),
                latency: Duration::from_millis(30),
                ..Faults::default()
            },
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("kill-budget-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let config = dir.join("h.toml");
    // The README's configuration for Clari: 10 requests a second, nothing else tuned.
    std::fs::write(
        &config,
        harness_sims::demo::demo_config_toml(
            &clari.base_url(),
            &glean.base_url(),
            &state.display().to_string(),
            10.0,
        ),
    )
    .unwrap();

    let mut child = harness(&config).spawn().unwrap();
    let started = Instant::now();
    while clari.control().request_count() < 25 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let arrived = clari.control().request_count();
    let store = tenant_instance::crawl::state::SqliteStore::open(&state, "clari-demo").unwrap();
    let counted = store.budget.requests;
    drop(store);
    assert!(
        counted >= arrived && counted <= arrived + 4,
        "counted {counted}, arrived {arrived}"
    );

    // Restart at once: the first requests wait out the window the killed process left.
    let out = harness(&config).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(clari.control().throttled_count(), 0);
    assert!(clari.control().max_in_window(Duration::from_secs(1)) <= 10);
    let store = tenant_instance::crawl::state::SqliteStore::open(&state, "clari-demo").unwrap();
    assert!(store.budget.requests >= clari.control().request_count());
    std::fs::remove_dir_all(&dir).ok();
}
