//! One writer per state on one machine: while `harness run` serves a configuration, a
//! `harness crawl` on the same state refuses at once, naming the process that holds it; once
//! that process is killed (SIGKILL: no clean-up of its own), the kernel has released the lock
//! and the crawl runs.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

fn harness(args: &[&str], config: &std::path::Path) -> Command {
    let defaults = MockClariConfig::default();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error");
    cmd
}

#[test]
fn a_second_process_on_the_same_state_refuses_at_once_naming_the_holder() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 20,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        harness_sims::demo::demo_config_toml(
            &clari.base_url(),
            &glean.base_url(),
            &state.display().to_string(),
            50.0,
        ),
    )
    .unwrap();

    let mut run = harness(&["run"], &config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = state.join("clari-demo.lock");
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("pid")) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let started = Instant::now();
    let out = harness(&["crawl", "--mode", "full"], &config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it waited instead of refusing"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("pid {}", run.id()))
            && stderr.contains("in use by another process"),
        "{stderr}"
    );

    // SIGKILL: the holder cleans nothing up; the kernel releases its lock.
    run.kill().unwrap();
    run.wait().unwrap();
    let out = harness(&["crawl", "--mode", "full"], &config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
