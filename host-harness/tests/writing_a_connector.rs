//! `docs/writing-a-connector.md` is true: its `sh` blocks, run as written with `bash`, take a
//! connector from `harness new` through its tests, `harness build`, `harness inspect`, a
//! replayed crawl and `harness push` to a tenant that `harness serve` crawls into the mock
//! Glean. The test changes only what a machine of its own needs: the SDK's path and the ports
//! (free ones, in place of the page's), and, between the first block and the rest, it copies
//! this checkout's `Cargo.lock` into the new crate and links its `target` to a build directory
//! shared with other tests, so that the build is offline and compiles the dependencies once.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::registry::Registry;

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-harness lives in the checkout")
        .to_path_buf()
}

/// The page's `sh` blocks, in order.
fn sh_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match current.as_mut() {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    blocks
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Replaces `from` by `to` in every block, insisting that the page still says `from`.
fn substitute(blocks: &mut [String], from: &str, to: &str) {
    assert!(
        blocks.iter().any(|b| b.contains(from)),
        "the page no longer says `{from}`: update this test with it"
    );
    for b in blocks.iter_mut() {
        *b = b.replace(from, to);
    }
}

/// A directory whose `harness` is the binary under test, put first on `PATH` with the
/// toolchain that runs these tests (its `cargo` and `rustc`).
fn path_with_harness(dir: &Path) -> std::ffi::OsString {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_harness"), bin.join("harness")).unwrap();
    let mut parts = vec![bin];
    if let Some(cargo) = std::env::var_os("CARGO") {
        parts.extend(Path::new(&cargo).parent().map(Path::to_path_buf));
    }
    parts.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(parts).unwrap()
}

/// Runs `script` with bash in `dir`, in a process group of its own (the page starts servers
/// in the background); returns the group and the exit status.
fn bash(dir: &Path, path: &std::ffi::OsStr, script: &str, log: &Path) -> (i32, bool) {
    let out = std::fs::File::create(log).unwrap();
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_NET_OFFLINE", "true")
        .env("HARNESS_LOG", "warn")
        .env("HARNESS_CACHE_DIR", dir.join("cache"))
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(900) {
            kill_group(group);
            panic!("the page's commands took over 15 minutes:\n{}", read(log));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (group, status.success())
}

fn kill_group(group: i32) {
    Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .status()
        .ok();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn every_command_of_writing_a_connector_works_as_written() {
    let page = std::fs::read_to_string(checkout().join("docs/writing-a-connector.md")).unwrap();
    let mut blocks = sh_blocks(&page);
    assert!(blocks.len() >= 6, "{blocks:?}");
    let registry = Registry::start();
    let (tape, glean, admin) = (free_port(), free_port(), free_port());
    let sdk = checkout().join("guest/sdk");
    substitute(
        &mut blocks,
        "path/to/checkout/guest/sdk",
        &sdk.display().to_string(),
    );
    substitute(&mut blocks, "127.0.0.1:5000", &registry.addr);
    substitute(&mut blocks, "127.0.0.1:8084", &format!("127.0.0.1:{tape}"));
    substitute(&mut blocks, "127.0.0.1:8082", &format!("127.0.0.1:{glean}"));
    substitute(&mut blocks, "127.0.0.1:8090", &format!("127.0.0.1:{admin}"));

    let tmp = tempfile::tempdir().unwrap();
    let path = path_with_harness(tmp.path());
    let log = tmp.path().join("log");
    // `notes` is built into the shared target directory: one such build at a time.
    let _one_at_a_time = crate::support::scaffold_build();
    // The first block scaffolds the crate and enters it.
    let first = format!("{}pwd > {}\n", blocks[0], tmp.path().join("cwd").display());
    let (_, ok) = bash(tmp.path(), &path, &first, &log);
    assert!(ok, "{}", read(&log));
    let crate_dir = PathBuf::from(read(&tmp.path().join("cwd")).trim());
    assert_eq!(crate_dir, tmp.path().join("notes"));
    std::fs::copy(checkout().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let shared = checkout().join("target").join("scaffold");
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::symlink(&shared, crate_dir.join("target")).unwrap();

    // The rest in one shell, as a reader runs them.
    let rest = blocks[1..].concat();
    let (group, ok) = bash(&crate_dir, &path, &rest, &log);
    let said = read(&log);
    let documents = check_index(glean);
    kill_group(group);
    assert!(ok, "{said}");

    assert!(said.contains("test result: ok. 2 passed"), "{said}");
    assert!(said.contains("contract 0.2.0"), "{said}");
    assert!(
        said.contains("declared limits   api: 5 requests a second, 50000 a day"),
        "{said}"
    );
    assert!(crate_dir.join("out/documents/n1.json").is_file(), "{said}");
    assert!(said.contains("pushed "), "{said}");
    assert!(said.contains("\"completed\":true"), "{said}");
    let ids: Vec<&str> = documents.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, ["n1", "n2"], "{said}");
    let allowed = documents[1]["permissions"]["allowedUsers"]
        .as_array()
        .unwrap();
    assert_eq!(allowed.len(), 1, "{}", documents[1]);
    assert_eq!(
        allowed[0]["email"], "ann@example.com",
        "the private note reaches the index for its member only"
    );
}

/// The documents the page's tenant put in the mock Glean, read before its servers stop.
fn check_index(glean: u16) -> Vec<serde_json::Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let token = mock_glean::MockGleanConfig::default().token;
    let Ok(mut resp) = agent
        .get(&format!(
            "http://127.0.0.1:{glean}/_mock/datasources/notes/documents"
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
    else {
        return Vec::new();
    };
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let mut docs: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
    docs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    docs
}
