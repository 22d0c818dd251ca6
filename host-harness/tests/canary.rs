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
    // One build into the shared target at a time, until the component is copied out.
    let _one_at_a_time = crate::support::scaffold_build();
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

/// A connector scaffolded in `tmp` and three builds of it: as scaffolded, with a field added,
/// and with restricted notes made public (an ACL widening). Returns the crate and the builds.
fn three_versions(tmp: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let dir = tmp.join("canarynotes");
    let sdk = checkout().join("guest/sdk");
    let out = harness(
        tmp,
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
        tmp.join("v1.wasm"),
        tmp.join("v2-tag.wasm"),
        tmp.join("v2-public.wasm"),
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
    (dir, v1, added, widened)
}

#[test]
fn a_widening_candidate_is_rejected_and_an_added_field_is_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, v1, added, widened) = three_versions(tmp.path());
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
    // A version that holds 16 MiB more while it fetches: rejected for its memory per call.
    // (three_versions left the widening in the source: undo it.)
    let original = std::fs::read_to_string(dir.join("src/lib.rs"))
        .unwrap()
        .replace(
            "Visibility::Restricted => AccessFacts::new(Visibility::Public),",
            "Visibility::Restricted => AccessFacts::restricted_to(note.members),",
        );
    let hungry = tmp.path().join("v2-hungry.wasm");
    version(
        &dir,
        &original,
        (
            ".body(note.body)",
            ".body({ let held = std::hint::black_box(vec![7u8; 16 << 20]); note.body + &held[..0].iter().map(|b| b.to_string()).collect::<String>() })",
        ),
        &hungry,
    );
    let heavy = canary(&hungry);
    let report = said(&heavy);
    assert_eq!(heavy.status.code(), Some(6), "{report}");
    assert!(
        report.contains("KiB of memory per call, more than 2.0x the pinned"),
        "{report}"
    );
    assert!(
        report.contains("permissions: 0 changed, 0 widened"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        text,
        "the pin is untouched"
    );

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
    // The last canary is kept beside the state, for serve's admin API and console.
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(".harness-state/canary/canarynotes.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["promoted"], true, "{saved}");
    assert_eq!(saved["report"]["verdict"]["pass"], true, "{saved}");
    assert!(
        saved["candidate"]
            .as_str()
            .unwrap()
            .ends_with("v2-tag.wasm"),
        "{saved}"
    );
}

/// `harness rollout` across four tenants, one at a time: the widening candidate passes on the
/// first tenant (its recording has no restricted note), is rejected on the second (it makes a
/// restricted note public); the rollout stops there and the first tenant's file is put back
/// byte for byte, the third is never reached, and the fourth (another connector) is left out.
/// In waves of two, the rejected wave promotes nobody. The candidate that only adds a field
/// then goes out to all three.
#[test]
fn a_rollout_stops_at_the_first_bad_tenant_and_puts_back_what_it_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, v1, added, widened) = three_versions(tmp.path());
    let tenants = tmp.path().join("tenants");
    let tapes = tmp.path().join("tapes");
    std::fs::create_dir_all(&tenants).unwrap();
    std::fs::create_dir_all(&tapes).unwrap();
    let template = std::fs::read_to_string(dir.join("harness.toml"))
        .unwrap()
        .replace(
            "component = \"target/wasm32-wasip2/release/canarynotes_connector.wasm\"",
            &format!("component = {:?}", v1.display().to_string()),
        );
    let tape = std::fs::read_to_string(dir.join("tapes/demo.tape")).unwrap();
    assert!(
        tape.contains(",\\\"private\\\":true"),
        "the template's tape changed"
    );
    let public_only = tape.replace(",\\\"private\\\":true", "");
    for (name, tape) in [("t1", &public_only), ("t2", &tape), ("t3", &public_only)] {
        std::fs::write(tenants.join(format!("{name}.toml")), &template).unwrap();
        std::fs::write(tapes.join(format!("{name}.tape")), tape).unwrap();
    }
    std::fs::write(
        tenants.join("t4.toml"),
        "[connector]\nname = \"gong\"\nbuiltin = \"gong\"\n[upstreams.gong]\nbase_url = \"https://api.gong.io\"\n[upstreams.gong.basic]\nusername = { env = \"K\" }\npassword = { env = \"S\" }\n[glean]\nbase_url = \"https://x-be.glean.com\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"gong\"\n",
    )
    .unwrap();
    // A FIFO among the tenant files is left out, not waited on.
    let fifo = std::ffi::CString::new(tenants.join("t5.toml").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path it is given.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let files = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .map(|n| std::fs::read_to_string(tenants.join(format!("{n}.toml"))).unwrap())
            .collect()
    };
    let before = files(&["t1", "t2", "t3", "t4"]);
    let rollout = |candidate: &Path, extra: &[&str]| {
        let mut args = vec![
            "rollout",
            "--tenants",
            tenants.to_str().unwrap(),
            "--candidate",
            candidate.to_str().unwrap(),
            "--tapes",
            tapes.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        harness(tmp.path(), &args)
    };

    let stopped = rollout(&widened, &[]);
    let report = said(&stopped);
    assert_eq!(stopped.status.code(), Some(6), "{report}");
    assert!(
        report.contains("wave 1: t1: promoted, then rolled back"),
        "{report}"
    );
    assert!(
        report.contains("wave 2: t2: REJECTED (permissions: 1 changed, 1 widened)"),
        "{report}"
    );
    assert!(report.contains("stopped at t2"), "{report}");
    assert!(report.contains("not reached: t3"), "{report}");
    assert!(
        report.contains("left out: t4: it runs connector `gong`"),
        "{report}"
    );
    assert!(
        report.contains("left out: t5:") && report.contains("is not a regular file"),
        "{report}"
    );
    assert!(!report.contains("wave 3"), "{report}");
    assert_eq!(
        files(&["t1", "t2", "t3", "t4"]),
        before,
        "every file as it was"
    );

    let stopped = rollout(&widened, &["--waves", "2"]);
    let report = said(&stopped);
    assert_eq!(stopped.status.code(), Some(6), "{report}");
    assert!(
        report.contains("wave 1: t1: passed, not promoted"),
        "{report}"
    );
    assert!(report.contains("wave 1: t2: REJECTED"), "{report}");
    assert_eq!(
        files(&["t1", "t2", "t3", "t4"]),
        before,
        "every file as it was"
    );

    let done = rollout(&added, &[]);
    let report = said(&done);
    assert_eq!(done.status.code(), Some(0), "{report}");
    assert!(report.contains("completed"), "{report}");
    let pin = format!(
        "component = \"{}\"",
        added.canonicalize().unwrap().display()
    );
    for (name, text) in ["t1", "t2", "t3"].iter().zip(files(&["t1", "t2", "t3"])) {
        assert!(text.contains(&pin), "{name}: {text}");
    }
    assert_eq!(
        files(&["t4"])[0],
        before[3],
        "another connector's tenant is untouched"
    );

    // Again: every tenant already pins it, so there is nothing to move.
    let again = rollout(&added, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", said(&again));
    assert!(
        said(&again).contains("left out: t1: it already pins the candidate"),
        "{}",
        said(&again)
    );

    // The same candidate from a registry, over the tenants back on v1: pulled, checked against
    // its digest, and promoted as OCI pins; then OCI-pinned tenants move only to a registry's
    // candidate.
    for (name, text) in ["t1", "t2", "t3", "t4"].iter().zip(&before) {
        std::fs::write(tenants.join(format!("{name}.toml")), text).unwrap();
    }
    let registry = crate::support::registry::Registry::start();
    let reference = format!("{}/connectors/canarynotes:2", registry.addr);
    let pushed = harness(
        tmp.path(),
        &["push", added.to_str().unwrap(), reference.as_str()],
    );
    assert!(pushed.status.success(), "{}", said(&pushed));
    let digest = format!(
        "sha256:{}",
        wasm_runtime::component_digest(&std::fs::read(&added).unwrap())
    );
    let from_registry = harness(
        tmp.path(),
        &[
            "rollout",
            "--tenants",
            tenants.to_str().unwrap(),
            "--oci",
            &reference,
            "--digest",
            &digest,
            "--tapes",
            tapes.to_str().unwrap(),
        ],
    );
    let report = said(&from_registry);
    assert_eq!(from_registry.status.code(), Some(0), "{report}");
    let pin = format!("oci = \"{reference}\"\ndigest = \"{digest}\"");
    for (name, text) in ["t1", "t2", "t3"].iter().zip(files(&["t1", "t2", "t3"])) {
        assert!(text.contains(&pin), "{name}: {text}");
        assert!(!text.contains("component ="), "{name}: {text}");
    }
    let file_again = rollout(&widened, &[]);
    assert!(
        said(&file_again).contains("left out: t1: it pins an OCI artifact"),
        "{}",
        said(&file_again)
    );
}

/// `harness canary --sample-pages N` with no recording: the pinned version records the first
/// listing page of the live source with its items (the mock Clari), nothing is uploaded, every request is charged to the
/// tenant's budget and counted in the report, and a sample whose share of the budget cannot
/// cover it is refused before a single request.
#[test]
fn a_live_sample_is_charged_to_the_budget_within_its_share_and_uploads_nothing() {
    use mock_clari::{MockClari, MockClariConfig};
    use mock_glean::{MockGlean, MockGleanConfig};
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 60,
            anchor: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("tenant.toml");
    std::fs::write(
        &config,
        format!(
            "[connector]\nname = \"sampled\"\nstate_dir = \"{state}\"\n\
             [connector.settings]\nhistory_months = 12\n\
             [upstreams.clari]\nbase_url = \"{clari}\"\nrate_per_second = 200\nallow_private_network = true\n\
             [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"S_KEY\" }}\nX-Api-Password = {{ env = \"S_PASSWORD\" }}\n\
             [crawl]\nrequest_budget = 10000\nbudget_period = \"week\"\n\
             [glean]\nbase_url = \"{glean}\"\ntoken_env = \"GLEAN_INDEXING_TOKEN\"\ndatasource = \"sampled\"\n",
            state = tmp.path().join("state").display(),
            clari = clari.base_url(),
            glean = glean.base_url(),
        ),
    )
    .unwrap();
    let candidate = tenant_instance::clari_copilot_component().unwrap();
    let defaults = MockClariConfig::default();
    let canary = |share: &str| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(tmp.path())
            .args([
                "canary",
                "--config",
                config.to_str().unwrap(),
                "--candidate",
            ])
            .arg(&candidate)
            .args(["--sample-pages", "1", "--sample-share", share])
            .env("S_KEY", &defaults.api_key)
            .env("S_PASSWORD", &defaults.api_password)
            .env("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token)
            .output()
            .unwrap()
    };

    let refused = canary("0.0001");
    assert_eq!(refused.status.code(), Some(1), "{}", said(&refused));
    assert!(
        said(&refused).contains("needs at least 2 requests, and it may spend 1"),
        "{}",
        said(&refused)
    );
    assert_eq!(clari.control().request_count(), 0, "nothing was sent");

    let out = canary("0.02");
    let report = said(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.starts_with("canary: PASS"), "{report}");
    let line = report
        .lines()
        .find(|l| l.starts_with("live sample: "))
        .unwrap_or_else(|| panic!("{report}"));
    let sent = clari.control().request_count();
    // One page of 25 calls fetched, the next page listed and not fetched.
    let fetched: u64 = line
        .split(" listed, ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(fetched > 0 && fetched <= 25, "{line}");
    assert!(
        line.contains(&format!("with {sent} requests (at most 200)")),
        "{line} ({sent} requests reached the mock)"
    );
    assert!(sent > fetched && sent <= 200, "{sent}");
    assert!(report.contains(&format!("{fetched} compared")), "{report}");
    let store = state_store::SqliteStore::open(&tmp.path().join("state"), "sampled").unwrap();
    assert_eq!(
        store.budget.requests, sent,
        "every request is in the budget"
    );
    assert!(glean.documents("sampled").is_empty(), "nothing uploaded");
    assert!(
        glean.datasource("sampled").is_none(),
        "not even the datasource"
    );
}
