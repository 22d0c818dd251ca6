//! `harness new NAME` scaffolds a connector crate outside this repository that works as it is:
//! in an empty directory it passes its own tests (on the SDK's test kit and its shipped
//! recording), `harness build` makes it a component, and `harness crawl --replay` crawls it in
//! the sandboxed host with no network. Bad names and occupied directories are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-harness lives in the checkout")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the command runs")
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn harness(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    c.current_dir(dir);
    c
}

#[test]
fn a_scaffolded_connector_tests_builds_and_crawls_a_replay() {
    // `notes` is built into the shared target directory: one such build at a time.
    let _one_at_a_time = crate::support::scaffold_build();
    let tmp = tempfile::tempdir().unwrap();
    let crate_dir = tmp.path().join("notes");
    let sdk = checkout().join("guest").join("sdk");
    let out = run(harness(tmp.path())
        .args(["new", "notes", "--sdk"])
        .arg(&sdk)
        .args(["--dir", "notes"]));
    assert!(out.status.success(), "{}", said(&out));
    // Offline and reproducible: the versions this checkout builds with.
    std::fs::copy(checkout().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    // Kept under the checkout's target directory, so later runs compile nothing again.
    let target = checkout().join("target").join("scaffold");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tests = run(Command::new(cargo)
        .current_dir(&crate_dir)
        .args(["test", "--offline"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WRAPPER"));
    assert!(tests.status.success(), "{}", said(&tests));
    assert!(
        said(&tests).contains("test result: ok. 2 passed"),
        "{}",
        said(&tests)
    );

    let built = run(harness(&crate_dir)
        .args(["build", ".", "--target-dir"])
        .arg(&target));
    assert!(built.status.success(), "{}", said(&built));
    let component = target.join("wasm32-wasip2/release/notes_connector.wasm");
    assert!(said(&built).contains("contract 0.2.0"), "{}", said(&built));
    // The limits the template declares travel in the component.
    let inspected = run(harness(&crate_dir).arg("inspect").arg(&component));
    assert!(
        said(&inspected).contains("declared limits   api: 5 requests a second, 50000 a day"),
        "{}",
        said(&inspected)
    );

    // The configuration names the crate's own target directory; this build used another.
    let config = crate_dir.join("harness.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "component = \"target/wasm32-wasip2/release/notes_connector.wasm\"",
        &format!("component = {:?}", component.display().to_string()),
    );
    std::fs::write(&config, text).unwrap();
    let crawl = run(harness(&crate_dir).args([
        "crawl",
        "--config",
        "harness.toml",
        "--mode",
        "full",
        "--replay",
        "tapes/demo.tape",
        "--output-dir",
        "out",
    ]));
    assert_eq!(crawl.status.code(), Some(0), "{}", said(&crawl));
    let private: serde_json::Value =
        serde_json::from_slice(&std::fs::read(crate_dir.join("out/documents/n2.json")).unwrap())
            .unwrap();
    assert_eq!(
        private["permissions"]["allowedUsers"],
        serde_json::json!([{"email": "ann@example.com"}]),
        "{private}"
    );
    assert!(crate_dir.join("out/documents/n1.json").is_file());
}

#[test]
fn bad_names_and_occupied_directories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = checkout().join("guest").join("sdk");
    for bad in ["Notes", "my-notes", "9notes", ""] {
        let out = run(harness(tmp.path()).args(["new", bad, "--sdk"]).arg(&sdk));
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", said(&out));
        assert!(
            said(&out).contains("lowercase ASCII letters"),
            "{}",
            said(&out)
        );
    }
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/keep.txt"), "mine").unwrap();
    let out = run(harness(tmp.path())
        .args(["new", "taken", "--sdk"])
        .arg(&sdk));
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("not empty"), "{}", said(&out));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );
    let out = run(harness(tmp.path())
        .args(["new", "notes", "--sdk"])
        .arg(tmp.path()));
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("--sdk"), "{}", said(&out));
}
