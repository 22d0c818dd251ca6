//! The repository is self-contained: what the build and the tests read lives in the checkout.
//!
//! - The official specs are in `specs/`, with the digests that `specs/README.md` records.
//! - No source, manifest or script refers to the project's `shared/` folder beside the checkout.
//! - A fresh clone of the committed tree into an empty directory (no `shared/` beside it) passes
//!   the tests that read the specs (the mocks' conformance tests).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_specs_are_in_the_repository_with_their_recorded_digests() {
    let dir = e2e_tests::openapi::spec_dir();
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("specs/README.md");
    for file in [
        "clari-copilot-openapi.yml",
        "glean-indexing-openapi.yaml",
        "gong-openapi.json",
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("specs/{file}: {e}"));
        let digest = sha256(&bytes);
        let row = readme
            .lines()
            .find(|l| l.contains(&format!("`{file}`")))
            .unwrap_or_else(|| panic!("specs/README.md has no row for {file}"));
        assert!(
            row.contains(&digest),
            "specs/{file} has sha256 {digest}, which specs/README.md does not record: \
             record the new source and digest there"
        );
    }
}

/// Files git tracks, as paths relative to the root.
fn tracked() -> Vec<String> {
    let out = Command::new("git")
        .current_dir(root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn no_build_or_test_file_reads_the_shared_folder_beside_the_checkout() {
    let this = "tests/tests/self_contained.rs";
    let code = [".rs", ".toml", ".sh", ".yml", ".yaml", "run", "rustc-remap"];
    let mut offenders = Vec::new();
    for path in tracked() {
        if path == this || !code.iter().any(|ext| path.ends_with(ext)) || path.starts_with("specs/")
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(&path)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if line.contains("../shared") || line.contains("..\\shared") {
                offenders.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these lines reach outside the checkout (copy what they need into the repository):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn a_fresh_clone_without_the_shared_folder_passes_the_spec_tests() {
    if !root().join(".git").exists() {
        eprintln!("not a git checkout: nothing to clone");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = dir.path().join("clone");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root())
        .arg(&clone)
        .status()
        .expect("git runs");
    assert!(status.success(), "git clone failed");
    assert!(!dir.path().join("shared").exists());
    // A target directory of its own (the outer `cargo test` holds its own), kept between runs
    // under the outer one so only the first run compiles the dependencies.
    let target = root().join("target").join("fresh-clone");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&clone)
        .args(["test", "--locked", "--offline"])
        .args(["-p", "mock-clari", "--test", "conformance"])
        .args(["-p", "mock-glean", "--test", "conformance"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WRAPPER")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the clone's spec tests failed:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed >= 2, "no spec test ran in the clone:\n{stdout}");
}
