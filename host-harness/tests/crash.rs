//! Crash safety: a `harness crawl` process aborted (like `kill -9`) at any crash point — after
//! an upload, a deletion or a state save — and then run again ends with exactly the index a
//! clean run produces. 20 seeds pick the crash point.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

const DATASOURCE: &str = "claricopilot";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn write_config(dir: &Path, name: &str, clari: &str, glean: &str, state: &Path) -> PathBuf {
    let text =
        harness_sims::demo::demo_config_toml(clari, glean, &state.display().to_string(), 1000.0)
            .replace("concurrency = 4", "concurrency = 2")
            .replace("batch_size = 100", "batch_size = 7");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `harness crawl --mode full`; answers whether it exited successfully.
fn crawl(config: &Path, crash_at: Option<u64>) -> bool {
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
    if let Some(n) = crash_at {
        cmd.env("HARNESS_CRASH_AT", n.to_string());
    }
    let out = cmd.output().unwrap();
    out.status.success()
}

/// Each indexed document as (id, its JSON), sorted by id.
fn index(glean: &MockGlean) -> Vec<(String, String)> {
    glean
        .documents(DATASOURCE)
        .iter()
        .map(|d| {
            (
                d.id.clone().unwrap_or_default(),
                serde_json::to_string(d).unwrap(),
            )
        })
        .collect()
}

/// A short account of how two indexes differ.
fn difference(got: &[(String, String)], want: &[(String, String)]) -> String {
    let missing: Vec<&String> = want
        .iter()
        .filter(|w| !got.iter().any(|g| g.0 == w.0))
        .map(|w| &w.0)
        .collect();
    let extra: Vec<&String> = got
        .iter()
        .filter(|g| !want.iter().any(|w| w.0 == g.0))
        .map(|g| &g.0)
        .collect();
    let changed: Vec<&String> = got
        .iter()
        .filter(|g| want.iter().any(|w| w.0 == g.0 && w.1 != g.1))
        .map(|g| &g.0)
        .collect();
    format!("missing {missing:?}, extra {extra:?}, changed {changed:?}")
}

#[test]
fn a_crash_at_any_point_then_a_rerun_gives_the_clean_index() {
    let root = std::env::temp_dir().join(format!("crash-test-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    // Two identical sources; the second then changes: 3 calls deleted, 1 added.
    let config = MockClariConfig {
        seed: 3,
        calls: 36,
        anchor: Utc::now(),
        ..MockClariConfig::default()
    };
    let before = MockClari::spawn(loopback(), config.clone()).unwrap();
    let after = MockClari::spawn(loopback(), config).unwrap();
    let processed: Vec<String> = after
        .control()
        .calls()
        .into_iter()
        .filter(|c| c.status == "POST_PROCESSING_DONE")
        .map(|c| c.id)
        .collect();
    for id in processed.iter().take(3) {
        after.control().delete_call(id).unwrap();
    }
    after.control().add_call(mock_clari::NewCall::default());

    // The clean run: a full crawl of the first source, then of the changed one.
    let reference = {
        let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
        let state = root.join("clean-state");
        let c1 = write_config(
            &root,
            "clean-1",
            &before.base_url(),
            &glean.base_url(),
            &state,
        );
        let c2 = write_config(
            &root,
            "clean-2",
            &after.base_url(),
            &glean.base_url(),
            &state,
        );
        assert!(crawl(&c1, None));
        assert!(crawl(&c2, None));
        index(&glean)
    };
    assert!(reference.len() > 20, "{} documents", reference.len());

    let mut crashed = 0;
    for seed in 1..=20u64 {
        let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
        let state = root.join(format!("state-{seed}"));
        let c1 = write_config(
            &root,
            &format!("s{seed}-1"),
            &before.base_url(),
            &glean.base_url(),
            &state,
        );
        let c2 = write_config(
            &root,
            &format!("s{seed}-2"),
            &after.base_url(),
            &glean.base_url(),
            &state,
        );
        // Crash in the first crawl for odd seeds, in the second for even ones.
        let point = (seed * 7) % 13 + 1;
        if seed % 2 == 1 {
            if !crawl(&c1, Some(point)) {
                crashed += 1;
            }
            assert!(crawl(&c1, None), "seed {seed}: the rerun succeeds");
            assert!(crawl(&c2, None), "seed {seed}");
        } else {
            assert!(crawl(&c1, None), "seed {seed}");
            if !crawl(&c2, Some(point)) {
                crashed += 1;
            }
            assert!(crawl(&c2, None), "seed {seed}: the rerun succeeds");
        }
        let got = index(&glean);
        assert!(
            got == reference,
            "seed {seed}: crash at point {point}: {}",
            difference(&got, &reference)
        );
    }
    assert!(crashed >= 15, "most runs really crashed ({crashed} of 20)");
    std::fs::remove_dir_all(&root).ok();
}
