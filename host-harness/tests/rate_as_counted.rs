//! The rate limit holds as the upstream counts it (arrivals in any one-second window), on the
//! README's configuration with nothing tuned, when the machine is saturated (a CPU hog on every
//! core) and the network adds 0-50 ms of jitter on the way in; and on a rerun straight after a
//! SIGKILL that came while Glean held an upload unanswered. The small version of
//! `harness bench --load --jitter-ms 50` (BENCHMARKS.md).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_clari::proxy::DelayProxy;
use mock_clari::{Faults, MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

/// Busy threads, one per core, until dropped.
struct Hogs(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Hogs {
    fn start() -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                })
            })
            .collect();
        Hogs(stop, threads)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        self.1.drain(..).for_each(|t| drop(t.join()));
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn clari(calls: usize) -> MockClari {
    MockClari::spawn(
        loopback(),
        MockClariConfig {
            seed: 11,
            calls,
            anchor: Utc::now(),
            faults: Faults {
                rate_limit_per_sec: Some(10),
                latency: Duration::from_millis(20),
                ..Faults::default()
            },
            ..MockClariConfig::default()
        },
    )
    .expect("mock Clari")
}

/// `harness crawl --mode full` on the README's configuration for Clari (10 requests a second).
fn crawl(dir: &std::path::Path, clari: &str, glean: &str) -> Command {
    let config = dir.join(format!("h-{}.toml", glean.len() + clari.len()));
    let text = harness_sims::demo::demo_config_toml(
        clari,
        glean,
        &dir.join("state").display().to_string(),
        10.0,
    );
    std::fs::write(&config, text).expect("write the configuration");
    let defaults = MockClariConfig::default();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["crawl", "--config"])
        .arg(&config)
        .args(["--mode", "full"])
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .env_remove("HARNESS_CRASH_AT");
    cmd
}

fn assert_held(clari: &MockClari) {
    let most = clari.control().max_in_window(Duration::from_secs(1));
    assert_eq!(
        clari.control().throttled_count(),
        0,
        "429s (most in a second: {most})"
    );
    assert!(
        most <= 10,
        "{most} requests reached the mock within one second"
    );
}

#[test]
fn a_saturated_machine_and_a_jittery_network_never_put_more_than_the_rate_in_a_second() {
    let clari = clari(60);
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).expect("mock Glean");
    let proxy = DelayProxy::spawn(clari.addr(), Duration::from_millis(50), 3).expect("proxy");
    let dir = tempfile::tempdir().expect("temp dir");
    let hogs = Hogs::start();
    let out = crawl(dir.path(), &proxy.base_url(), &glean.base_url())
        .output()
        .expect("harness runs");
    drop(hogs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(clari.control().request_count() > 40);
    assert_held(&clari);
}

#[test]
fn a_rerun_after_a_kill_while_glean_holds_an_upload_keeps_the_rate() {
    let clari = clari(80);
    let hold = Arc::new(AtomicBool::new(true));
    let glean = MockGlean::spawn(
        loopback(),
        MockGleanConfig {
            hold_uploads: hold.clone(),
            ..MockGleanConfig::default()
        },
    )
    .expect("mock Glean");
    let proxy = DelayProxy::spawn(clari.addr(), Duration::from_millis(50), 4).expect("proxy");
    let dir = tempfile::tempdir().expect("temp dir");
    let hogs = Hogs::start();
    let mut child = crawl(dir.path(), &proxy.base_url(), &glean.base_url())
        .spawn()
        .expect("harness runs");
    // Kill once the crawl is busy at the source and its uploads are being held.
    let started = Instant::now();
    while clari.control().request_count() < 30 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    hold.store(false, Ordering::SeqCst);
    // Straight away, the same state: the rerun's first requests must not crowd the window
    // that the killed process's last ones are still arriving in.
    let out = crawl(dir.path(), &proxy.base_url(), &glean.base_url())
        .output()
        .expect("harness runs");
    drop(hogs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_held(&clari);
}
