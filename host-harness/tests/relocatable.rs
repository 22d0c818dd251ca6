//! The `harness` binary is relocatable: it holds no absolute path of the build machine (the
//! checkout, Cargo's home), and copied alone into an empty directory, with an empty `HOME`, every
//! command that needs no network works: `describe`, `inspect`, `bench-instance`, `demo`.
//!
//! The paths are mapped by `tools/rustc-remap` (`.cargo/config.toml`); a binary built with
//! another `RUSTC_WRAPPER` set in the environment is not covered.

use std::path::{Path, PathBuf};
use std::process::Command;

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-harness lives in the checkout")
        .to_path_buf()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_binary_holds_no_path_of_the_build_machine() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_harness")).expect("the harness binary");
    let mut paths = vec![checkout()];
    if let Ok(real) = checkout().canonicalize() {
        paths.push(real);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = cargo_home {
        paths.push(home.join("registry"));
    }
    for p in paths {
        let text = p.display().to_string();
        assert!(
            !contains(&binary, text.as_bytes()),
            "the binary holds the build machine's path {text} (build it through tools/rustc-remap, \
             as .cargo/config.toml sets up)"
        );
    }
}

/// Runs the copied binary in `dir` with nothing but `PATH` and an empty `HOME`.
fn run(binary: &Path, dir: &Path, args: &[&str]) -> String {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let out = Command::new(binary)
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .output()
        .expect("the copied binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`harness {}` failed in {}:\n{stdout}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn copied_alone_to_an_empty_directory_every_offline_command_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("harness");
    std::fs::copy(env!("CARGO_BIN_EXE_harness"), &binary).expect("copy the binary");
    std::fs::write(
        dir.path().join("probe.wasm"),
        tenant_instance::PROBE_0_1_0_WASM,
    )
    .expect("write");

    let described = run(&binary, dir.path(), &["describe"]);
    assert!(described.contains("\"upstreams\""), "{described}");
    let inspected = run(&binary, dir.path(), &["inspect", "probe.wasm"]);
    assert!(inspected.contains("0.1.0"), "{inspected}");
    let bench = run(&binary, dir.path(), &["bench-instance", "--items", "20"]);
    assert!(
        bench.contains("probe_connector.wasm") && bench.contains("probe-0.1.0.wasm"),
        "{bench}"
    );
    let demo = run(&binary, dir.path(), &["demo", "--calls", "20"]);
    assert!(demo.contains("full crawl"), "{demo}");
    // The second built-in connector, on its own mock, from the same binary.
    let gong = run(
        &binary,
        dir.path(),
        &["demo", "--source", "gong", "--calls", "20"],
    );
    assert!(
        gong.contains("loaded Gong")
            && gong.contains("full crawl completed")
            && gong.contains("0 answered 429"),
        "{gong}"
    );
    let described = run(&binary, dir.path(), &["describe", "--builtin", "gong"]);
    assert!(described.contains("\"name\": \"gong\""), "{described}");
}
