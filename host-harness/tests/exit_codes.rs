//! `harness crawl` tells how the crawl went in its exit code (README: 0 completed, 3 completed
//! with failures, 4 stopped at a limit, 5 failed at the source), so that a script or CI never
//! reads a crawl that indexed nothing as a success.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use chrono::Utc;
use mock_clari::{Faults, MockClari, MockClariConfig, ScriptedFailure};
use mock_glean::{MockGlean, MockGleanConfig};

fn crawl(config: &Path) -> (i32, String) {
    let defaults = MockClariConfig::default();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["crawl", "--mode", "full", "--config"])
        .arg(config)
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .env("HARNESS_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration on fresh state, with `extra` appended.
fn config(
    dir: &Path,
    name: &str,
    clari: &MockClari,
    glean: &MockGlean,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.join(name).display().to_string(),
        50.0,
    );
    std::fs::write(&path, format!("{text}{extra}")).unwrap();
    path
}

#[test]
fn each_outcome_has_its_exit_code() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 30,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let clean = config(dir.path(), "clean", &clari, &glean, "");
    let (code, err) = crawl(&clean);
    assert_eq!(code, 0, "{err}");
    // A recording crawls fresh state: an incremental one is refused up front, saying why.
    let defaults = MockClariConfig::default();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["crawl", "--mode", "incremental", "--record"])
        .arg(dir.path().join("x.tape"))
        .arg("--config")
        .arg(&clean)
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("need --mode full"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One call's details are broken JSON: the crawl completes, that call is not indexed.
    let broken = clari
        .control()
        .calls()
        .into_iter()
        .find(|c| c.status == "POST_PROCESSING_DONE")
        .unwrap()
        .id;
    clari.control().set_faults(Faults {
        malformed_call_ids: vec![broken],
        ..Faults::default()
    });
    let (code, err) = crawl(&config(dir.path(), "failures", &clari, &glean, ""));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("1 item(s) were not indexed"), "{err}");
    clari.control().set_faults(Faults::default());

    // A crawl limit stops it at a checkpoint.
    let limited = "\n[crawl.limits]\nmax_items = 5\n";
    let (code, err) = crawl(&config(dir.path(), "limited", &clari, &glean, limited));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("stopped before its end"), "{err}");

    // The source keeps failing the listing: the crawl fails after its retries.
    clari.control().fail_next(ScriptedFailure {
        path: "/calls".into(),
        query_contains: String::new(),
        status: 500,
        retry_after_secs: None,
        times: 10_000,
    });
    let retries = "max_retries = 1\n";
    let failing = config(dir.path(), "failing", &clari, &glean, "");
    let text = std::fs::read_to_string(&failing).unwrap();
    std::fs::write(
        &failing,
        text.replace("[crawl]\n", &format!("[crawl]\n{retries}")),
    )
    .unwrap();
    let (code, err) = crawl(&failing);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("failed before its end"), "{err}");
}
