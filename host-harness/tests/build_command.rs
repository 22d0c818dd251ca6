//! `harness build [PATH]` builds a connector crate into the component the harness runs, made
//! the way the harness's own guests are: optimised by binaryen, stamped with the crate's
//! metadata, read back and reported with its size. A crate that builds no component, and a
//! path that is no crate, fail with a message that says what to change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-harness lives in the checkout")
        .to_path_buf()
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(checkout())
        .args(args)
        .output()
        .expect("the harness runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_connector_crate_builds_into_an_optimised_stamped_component() {
    // The guests' own target directory and profile: cargo finds the build up to date, so the
    // test costs the optimisation and the stamp, not a compilation.
    let target = checkout().join("target").join("guest");
    let out = harness(&[
        "build",
        "guest/probe",
        "--profile",
        "guest",
        "--target-dir",
        target.to_str().unwrap(),
    ]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("probe-connector: "), "{said}");
    assert!(said.contains("contract 0.2.0"), "{said}");
    assert!(said.contains(" KiB); cargo's output was "), "{said}");
    let component = target.join("wasm32-wasip2/guest/probe_connector.wasm");
    let inspected = harness(&["inspect", component.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).expect("JSON");
    assert_eq!(report["metadata"]["name"], "probe-connector", "{report}");
    let bytes = std::fs::read(&component).unwrap();
    let optimised = bytes
        .windows(component_build::OPTIMIZED_MARK.len())
        .any(|w| w == component_build::OPTIMIZED_MARK.as_bytes());
    if component_build::find_wasm_opt().is_some() {
        assert!(
            optimised,
            "wasm-opt is installed: the component must be optimised"
        );
        assert!(!said.contains("NOT optimised"), "{said}");
    } else {
        assert!(
            said.contains("NOT optimised"),
            "a build without binaryen says so: {said}"
        );
    }
}

#[test]
fn what_builds_no_component_is_refused_saying_why() {
    let sdk = harness(&["build", "guest/sdk"]);
    assert_eq!(sdk.status.code(), Some(1), "{}", text(&sdk));
    assert!(
        text(&sdk).contains("crate-type = [\"cdylib\"]"),
        "{}",
        text(&sdk)
    );
    let dir = tempfile::tempdir().unwrap();
    let none = harness(&["build", dir.path().to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    assert!(
        text(&none).contains("is not a Cargo crate"),
        "{}",
        text(&none)
    );
    let missing = harness(&["build", "no/such/crate"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("no/such/crate"),
        "{}",
        text(&missing)
    );
}
