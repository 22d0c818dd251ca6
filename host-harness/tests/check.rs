//! `harness check` validates everything a crawl will, so it says ok only where a crawl runs:
//! a datasource name Glean refuses, and a token Glean refuses, fail `check` with what to
//! change; a good configuration passes with one sampled item mapped as a crawl maps it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use chrono::Utc;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

fn check(config: &Path, glean_token: &str) -> (bool, String) {
    let defaults = MockClariConfig::default();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", "--config"])
        .arg(config)
        .env("CLARI_API_KEY", &defaults.api_key)
        .env("CLARI_API_PASSWORD", &defaults.api_password)
        .env("GLEAN_INDEXING_TOKEN", glean_token)
        .env("HARNESS_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_fails_where_a_crawl_would_and_says_what_to_change() {
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
    let token = MockGleanConfig::default().token;
    let dir = tempfile::tempdir().unwrap();
    let text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.path().join("state").display().to_string(),
        50.0,
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &text).unwrap();
    let (ok, out) = check(&good, &token);
    assert!(ok, "{out}");
    assert!(out.contains("a sampled item"), "{out}");

    let (ok, out) = check(&good, "not-the-token-at-all");
    assert!(!ok, "{out}");
    assert!(
        out.contains("refused the indexing API token") && out.contains("token_env"),
        "{out}"
    );
    assert!(
        !out.contains("not-the-token-at-all"),
        "the token leaked: {out}"
    );

    let dashed = dir.path().join("dashed.toml");
    std::fs::write(
        &dashed,
        text.replace(
            "token_env = \"GLEAN_INDEXING_TOKEN\"",
            "token_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"clari-dev\"",
        ),
    )
    .unwrap();
    let (ok, out) = check(&dashed, &token);
    assert!(!ok, "{out}");
    assert!(
        out.contains("`clari-dev` must be ASCII letters and digits only"),
        "{out}"
    );
}
