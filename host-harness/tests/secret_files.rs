//! Secrets from files, as Kubernetes and Docker mount them: the Clari credentials and the
//! Glean token come from files; `harness run` starts with a stale Glean token (Glean answers
//! 401, the crawl fails and is retried), the file is rotated, and the next crawl uses the new
//! token without a restart. No secret value appears in the output or the state.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

#[test]
fn a_rotated_secret_file_is_used_at_the_next_crawl_without_a_restart() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari_defaults = MockClariConfig::default();
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 8,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let token = MockGleanConfig::default().token;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    // As Kubernetes writes them: a trailing newline.
    std::fs::write(
        secrets.join("clari-key"),
        format!("{}\n", clari_defaults.api_key),
    )
    .unwrap();
    std::fs::write(secrets.join("clari-password"), &clari_defaults.api_password).unwrap();
    std::fs::write(secrets.join("glean-token"), "stale-token-0000\n").unwrap();
    let config = dir.path().join("h.toml");
    let text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.path().join("state").display().to_string(),
        50.0,
    )
    .replace(
        "X-Api-Key = { env = \"CLARI_API_KEY\" }\nX-Api-Password = { env = \"CLARI_API_PASSWORD\" }",
        "X-Api-Key = { file = \"secrets/clari-key\" }\nX-Api-Password = { file = \"secrets/clari-password\" }",
    )
    .replace("token_env = \"GLEAN_INDEXING_TOKEN\"", "token_file = \"secrets/glean-token\"");
    assert!(text.contains("token_file") && text.contains("secrets/clari-key"));
    std::fs::write(&config, format!("{text}\n[schedule]\nretry_seconds = 1\n")).unwrap();

    let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("CLARI_API_KEY")
        .env_remove("GLEAN_INDEXING_TOKEN")
        .env("HARNESS_LOG", "info")
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let output = || {
        format!(
            "{}{}",
            std::fs::read_to_string(&stdout).unwrap_or_default(),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool, run: &mut std::process::Child| {
        let started = Instant::now();
        while !done() {
            if let Some(status) = run.try_wait().unwrap() {
                panic!(
                    "harness run ended ({status}) waiting for {what}: {}",
                    output()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no {what}: {}",
                output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(
        "a failed try with the stale token",
        &|| output().contains("did not complete"),
        &mut run,
    );
    assert!(glean.documents("claricopilot").is_empty());

    // Rotation: the orchestrator replaces the file (write beside it, rename over it).
    let fresh = secrets.join(".glean-token.new");
    std::fs::write(&fresh, format!("{token}\n")).unwrap();
    std::fs::rename(&fresh, secrets.join("glean-token")).unwrap();
    wait_for(
        "documents indexed with the rotated token",
        &|| !glean.documents("claricopilot").is_empty(),
        &mut run,
    );
    run.kill().unwrap();
    run.wait().unwrap();

    let mut seen = output();
    for entry in walk(&dir.path().join("state")) {
        seen.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    for secret in [
        token.as_str(),
        "stale-token-0000",
        clari_defaults.api_key.as_str(),
        clari_defaults.api_password.as_str(),
    ] {
        assert!(
            !seen.contains(secret),
            "a secret leaked into the output or state"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
