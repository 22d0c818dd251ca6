//! Two contract versions side by side: a 0.1.0 component built before 0.2.0 existed (the
//! frozen fixture `tests/fixtures/probe-0.1.0.wasm`) still loads and crawls, the SDK builds
//! 0.2.0 components, and 0.2.0 answers an item and its permissions in one instance.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/probe-0.1.0.wasm")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A full crawl of `component` in `hostile = "log-flood"` mode (one item, a few log lines),
/// answering the JSON report.
fn crawl(component: &Path, dir: &Path) -> serde_json::Value {
    let config = dir.join("h.toml");
    std::fs::write(
        &config,
        format!(
            "[connector]\nname = \"versions\"\ncomponent = \"{}\"\nstate_dir = \"{}\"\n\
             [connector.settings]\nhostile = \"log-flood\"\nlog_lines = \"1\"\n\
             [upstreams.target]\nbase_url = \"http://127.0.0.1:9\"\nallow_private_network = true\n\
             [upstreams.target.credentials]\nX-Api-Key = {{ env = \"PROBE_KEY\" }}\n\
             [glean]\nbase_url = \"http://127.0.0.1:9\"\ntoken_env = \"PROBE_KEY\"\n",
            component.display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["crawl", "--mode", "full", "--json", "--config"])
        .arg(&config)
        .arg("--output-dir")
        .arg(dir.join("out"))
        .env("PROBE_KEY", "probe-key-1234")
        .env("HARNESS_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
}

#[test]
fn a_0_1_0_component_keeps_loading_and_crawling() {
    let bytes = std::fs::read(fixture()).unwrap();
    assert_eq!(
        wasm_runtime::contract::read_contract_version(&bytes).unwrap(),
        semver::Version::new(0, 1, 0)
    );
    let dir = tempfile::tempdir().unwrap();
    let report = crawl(&fixture(), dir.path());
    assert_eq!(report["completed"], true);
    assert_eq!(report["indexed"], 1);
    assert_eq!(report["access"]["public"], 1, "{report}");
}

#[test]
fn the_sdk_builds_0_2_0_and_it_needs_one_instance_per_item() {
    let probe = tenant_instance::probe_component().unwrap();
    let bytes = std::fs::read(&probe).unwrap();
    assert_eq!(
        wasm_runtime::contract::read_contract_version(&bytes)
            .unwrap()
            .to_string(),
        connector_contract_current()
    );
    let dir = tempfile::tempdir().unwrap();
    let report = crawl(&probe, dir.path());
    assert_eq!(report["completed"], true);
    assert_eq!(report["indexed"], 1);
    assert_eq!(report["access"]["public"], 1, "{report}");
    // One instance per item: the runtime counts export calls.
    let rt = tenant_instance::cached_runtime().unwrap();
    let source = offline(&rt, &bytes);
    let before = source.instances_created();
    let (item, permissions) = source
        .fetch_with_permissions("log-1", wasm_runtime::types::Visibility::Public)
        .unwrap();
    assert_eq!(item.id, "log-1");
    assert_eq!(permissions, wasm_runtime::types::Permissions::AllUsers);
    assert_eq!(source.instances_created() - before, 1);

    let old = offline(&rt, &std::fs::read(fixture()).unwrap());
    let before = old.instances_created();
    old.fetch_with_permissions("log-1", wasm_runtime::types::Visibility::Public)
        .unwrap();
    assert_eq!(
        old.instances_created() - before,
        2,
        "0.1.0 needs a second instance"
    );
}

/// The probe in `log-flood` mode with no log lines, without network.
fn offline(rt: &wasm_runtime::Runtime, bytes: &[u8]) -> wasm_runtime::WasmSource {
    let settings = [("hostile", "log-flood"), ("log_lines", "0")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    wasm_runtime::WasmSource::offline(
        rt.load(bytes).unwrap(),
        settings,
        wasm_runtime::GuestClock::System,
        "versions",
    )
}

fn connector_contract_current() -> String {
    // The SDK builds the newest frozen version.
    "0.2.0".to_string()
}

#[test]
fn a_component_newer_than_the_host_is_refused_naming_the_range() {
    let bytes = std::fs::read(fixture()).unwrap();
    // Rewrite the version section's payload in place: same length, "0.1.0" -> "0.9.0".
    let at = bytes
        .windows(b"connector-contract-version".len())
        .position(|w| w == b"connector-contract-version")
        .unwrap();
    let mut newer = bytes.clone();
    let v = at + b"connector-contract-version".len();
    assert_eq!(&newer[v..v + 5], b"0.1.0");
    newer[v..v + 5].copy_from_slice(b"0.9.0");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.wasm");
    std::fs::write(&path, &newer).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["describe", "--component"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("0.9.0") && t.contains("0.1.0 up to (not including) 0.3.0"),
        "{t}"
    );
}
