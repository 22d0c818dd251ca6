//! `harness canary`: a candidate version of a connector crawls the tenant's recording beside
//! the pinned one, nothing uploaded; a candidate that widens an ACL is rejected and the pin
//! stays, one that only adds a field passes and `--promote` rewrites the pin to it. The
//! versions are three builds of a connector scaffolded by `harness new`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-harness lives in the checkout")
        .to_path_buf()
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn harness(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the harness runs")
}

/// Builds the crate at `dir` with `edit` applied to its source, and keeps the component as
/// `keep`.
fn version(dir: &Path, original: &str, edit: (&str, &str), keep: &Path) {
    assert!(
        original.contains(edit.0),
        "the template changed: {}",
        edit.0
    );
    std::fs::write(dir.join("src/lib.rs"), original.replace(edit.0, edit.1)).unwrap();
    let target = checkout().join("target").join("scaffold");
    let out = harness(
        dir,
        &["build", ".", "--target-dir", target.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", said(&out));
    let built = target.join("wasm32-wasip2/release/canarynotes_connector.wasm");
    std::fs::copy(built, keep).unwrap();
}

#[test]
fn a_widening_candidate_is_rejected_and_an_added_field_is_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("canarynotes");
    let sdk = checkout().join("guest/sdk");
    let out = harness(
        tmp.path(),
        &[
            "new",
            "canarynotes",
            "--dir",
            "canarynotes",
            "--sdk",
            sdk.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
    std::fs::copy(checkout().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let original = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let (v1, added, widened) = (
        tmp.path().join("v1.wasm"),
        tmp.path().join("v2-tag.wasm"),
        tmp.path().join("v2-public.wasm"),
    );
    version(&dir, &original, ("", ""), &v1);
    version(
        &dir,
        &original,
        (".body(note.body)", ".tag(\"notes\").body(note.body)"),
        &added,
    );
    version(
        &dir,
        &original,
        (
            "Visibility::Restricted => AccessFacts::restricted_to(note.members),",
            "Visibility::Restricted => AccessFacts::new(Visibility::Public),",
        ),
        &widened,
    );
    let config = dir.join("harness.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "component = \"target/wasm32-wasip2/release/canarynotes_connector.wasm\"",
        &format!("component = {:?}", v1.display().to_string()),
    );
    std::fs::write(&config, &text).unwrap();

    let canary = |candidate: &Path| {
        let c = candidate.to_str().unwrap();
        harness(
            &dir,
            &[
                "canary",
                "--config",
                "harness.toml",
                "--candidate",
                c,
                "--tape",
                "tapes/demo.tape",
                "--promote",
            ],
        )
    };
    let rejected = canary(&widened);
    assert_eq!(rejected.status.code(), Some(6), "{}", said(&rejected));
    let report = said(&rejected);
    assert!(report.starts_with("canary: REJECT"), "{report}");
    assert!(
        report.contains("WIDENED n2: ann@example.com → every user of the datasource"),
        "{report}"
    );
    assert!(report.contains("not promoted"), "{report}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        text,
        "the pin is untouched"
    );

    let passed = canary(&added);
    assert_eq!(passed.status.code(), Some(0), "{}", said(&passed));
    let report = said(&passed);
    assert!(report.starts_with("canary: PASS"), "{report}");
    assert!(
        report.contains("permissions: 0 changed, 0 widened"),
        "{report}"
    );
    assert!(
        report.contains("tags: 2 added, 0 changed, 0 removed"),
        "{report}"
    );
    let promoted = std::fs::read_to_string(&config).unwrap();
    let added_path = added.canonicalize().unwrap();
    assert!(
        promoted.contains(&format!("component = \"{}\"", added_path.display())),
        "{promoted}"
    );
    // Nothing but the pin changed.
    assert_eq!(promoted.lines().count(), text.lines().count());
}
