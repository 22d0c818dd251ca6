//! Artifacts as operators expect them from `oras`, `wkg` and `spin registry push`, each item
//! against the real Distribution registry: reproducible manifests, pins by either digest,
//! an image layout addressable by tag (copied with skopeo), credentials from the Docker config
//! or the environment, plain HTTP only when asked for off loopback, no build-machine path in
//! the annotations, and pin errors that say where the pin was written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::registry::{PASSWORD, Registry, USER};

/// The harness with an empty home and no registry credentials in its environment, so only
/// what a test hands it counts.
fn harness(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    c.env("HARNESS_LOG", "error")
        .env("HOME", home)
        .env("HARNESS_CACHE_DIR", home.join("cache"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("HARNESS_OCI_USERNAME")
        .env_remove("HARNESS_OCI_PASSWORD");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn failed(o: Output) -> String {
    assert!(!o.status.success(), "should have failed: {}", text(&o));
    text(&o)
}

fn probe() -> PathBuf {
    tenant_instance::probe_component().unwrap()
}

fn digest_of(path: &Path) -> String {
    tenant_instance::component::digest(&std::fs::read(path).unwrap())
}

/// A crawl configuration running the component at `oci` pinned by `digest`.
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

fn crawl(home: &Path, config: &Path) -> Output {
    harness(home)
        .args(["crawl", "--mode", "full", "--config"])
        .arg(config)
        .arg("--output-dir")
        .arg(home.join("out"))
        .env("PROBE_KEY", "probe-key-1234")
        .output()
        .unwrap()
}

/// The digest after `label` (`manifest sha256:…`) in the harness's output.
fn printed(out: &str, label: &str) -> String {
    let at = out
        .find(&format!("{label} sha256:"))
        .unwrap_or_else(|| panic!("no {label} digest in {out}"));
    out[at + label.len() + 1..][..71].to_string()
}

#[test]
fn the_same_bytes_give_the_same_manifest_digest_and_no_build_path() {
    let registry = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let mut manifests = Vec::new();
    for tag in ["a", "b"] {
        let out = ok(harness(home.path())
            .arg("push")
            .arg(probe())
            .arg(format!("{}/conn/probe:{tag}", registry.addr))
            .output()
            .unwrap());
        let reported = registry.manifest_digest("conn/probe", tag, false);
        assert_eq!(printed(&out, "manifest"), reported, "{out}");
        manifests.push(reported);
        // A wall-clock `created` would differ between the two pushes.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(manifests[0], manifests[1]);
    // The image layout holds the very same manifest.
    let layout = home.path().join("layout");
    ok(harness(home.path())
        .arg("package")
        .arg(probe())
        .arg("--output")
        .arg(&layout)
        .output()
        .unwrap());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(digest, manifests[0]);
    let manifest = std::fs::read_to_string(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    assert!(!manifest.contains("file://"), "{manifest}");
    assert!(
        !manifest.contains("image.source"),
        "no public URL, no source: {manifest}"
    );
    let clari = tenant_instance::clari_copilot_component().unwrap();
    let notes = tenant_instance::oci::annotations(&std::fs::read(clari).unwrap());
    assert!(notes.values().all(|v| !v.starts_with("file:")), "{notes:?}");
}

#[test]
fn a_pin_takes_either_digest_says_which_and_names_its_origin() {
    let registry = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let reference = format!("{}/conn/probe:0.1.0", registry.addr);
    ok(harness(home.path())
        .arg("push")
        .arg(probe())
        .arg(&reference)
        .output()
        .unwrap());
    let manifest = registry.manifest_digest("conn/probe", "0.1.0", false);
    let component = digest_of(&probe());
    let pull = |pin: &str| {
        harness(home.path())
            .args(["pull", &reference, "--digest", pin, "--output"])
            .arg(home.path().join("pulled.wasm"))
            .output()
            .unwrap()
    };
    assert!(ok(pull(&manifest)).contains("the pin matched the manifest digest"));
    assert!(ok(pull(&component)).contains("the pin matched the component digest"));
    let wrong = tenant_instance::component::digest(b"other");
    let e = failed(pull(&wrong));
    for part in [
        &wrong,
        &manifest,
        &component,
        "--digest on the command line",
    ] {
        assert!(e.contains(part), "{part} missing: {e}");
    }

    // The tag moves to another component; a crawl pinned to the first manifest still runs
    // exactly that one, pulled by digest.
    let clari = tenant_instance::clari_copilot_component().unwrap();
    ok(harness(home.path())
        .arg("push")
        .arg(&clari)
        .arg(&reference)
        .output()
        .unwrap());
    assert_ne!(
        registry.manifest_digest("conn/probe", "0.1.0", false),
        manifest
    );
    let config = crawl_config(
        home.path(),
        &format!("oci = \"{reference}\"\ndigest = \"{manifest}\""),
    );
    ok(crawl(home.path(), &config));
    let config = crawl_config(
        home.path(),
        &format!("oci = \"{reference}\"\ndigest = \"{wrong}\""),
    );
    let e = failed(crawl(home.path(), &config));
    let origin = format!("digest in [connector] of {}", config.display());
    assert!(e.contains(&origin) && e.contains(&wrong), "{e}");
}

#[test]
fn the_layout_is_addressed_by_tag_and_skopeo_copies_it_to_the_registry() {
    let registry = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let layout = home.path().join("layout");
    ok(harness(home.path())
        .arg("package")
        .arg(probe())
        .args(["--tag", "v7", "--output"])
        .arg(&layout)
        .output()
        .unwrap());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v7"
    );
    let skopeo = Command::new("skopeo")
        .args(["copy", "--insecure-policy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v7", layout.display()))
        .arg(format!("docker://{}/conn/copied:v7", registry.addr))
        .output()
        .expect("skopeo is installed (./test.sh installs the Debian package)");
    ok(skopeo);
    let pulled = home.path().join("copied.wasm");
    ok(harness(home.path())
        .args(["pull", &format!("{}/conn/copied:v7", registry.addr)])
        .args(["--digest", &digest_of(&probe()), "--output"])
        .arg(&pulled)
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(probe()).unwrap()
    );
    // Without --tag, the component's version.
    let layout = home.path().join("layout2");
    ok(harness(home.path())
        .arg("package")
        .arg(probe())
        .arg("--output")
        .arg(&layout)
        .output()
        .unwrap());
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\": \"0.1.0\""),
        "{index}"
    );
}

#[test]
fn credentials_come_from_the_docker_config_or_the_environment() {
    use base64::Engine;
    let registry = Registry::start_on("127.0.0.1", true);
    let home = tempfile::tempdir().unwrap();
    let reference = format!("{}/conn/private:1", registry.addr);
    let push = |cmd: &mut Command| {
        cmd.arg("push")
            .arg(probe())
            .arg(&reference)
            .output()
            .unwrap()
    };
    let e = failed(push(&mut harness(home.path())));
    assert!(
        e.to_lowercase().contains("unauthorized") || e.contains("401"),
        "{e}"
    );

    // `docker login` writes this file; `oras login` and `helm registry login` too.
    let docker = home.path().join("docker");
    std::fs::create_dir(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
    )
    .unwrap();
    let out = ok(push(harness(home.path()).env("DOCKER_CONFIG", &docker)));
    assert!(!out.contains(PASSWORD) && !out.contains(&auth), "{out}");
    // ~/.docker/config.json is read without DOCKER_CONFIG.
    std::fs::create_dir(home.path().join(".docker")).unwrap();
    std::fs::copy(
        docker.join("config.json"),
        home.path().join(".docker/config.json"),
    )
    .unwrap();
    let pulled = home.path().join("p.wasm");
    ok(harness(home.path())
        .args(["pull", &reference, "--output"])
        .arg(&pulled)
        .output()
        .unwrap());
    std::fs::remove_file(home.path().join(".docker/config.json")).unwrap();
    // The environment, as before.
    ok(harness(home.path())
        .args(["pull", &reference, "--output"])
        .arg(&pulled)
        .env("HARNESS_OCI_USERNAME", USER)
        .env("HARNESS_OCI_PASSWORD", PASSWORD)
        .output()
        .unwrap());
    // A wrong password is refused, and not echoed.
    let e = failed(
        harness(home.path())
            .args(["pull", &reference, "--output"])
            .arg(&pulled)
            .env("HARNESS_OCI_USERNAME", USER)
            .env("HARNESS_OCI_PASSWORD", "wrong-pass-99")
            .output()
            .unwrap(),
    );
    assert!(!e.contains("wrong-pass-99"), "{e}");
}

#[test]
fn plain_http_is_asked_for_off_the_loopback_names() {
    // 127.0.0.2 stands for an in-cluster registry's service address.
    let registry = Registry::start_on("127.0.0.2", false);
    let home = tempfile::tempdir().unwrap();
    let reference = format!("{}/conn/probe:1", registry.addr);
    let e = failed(
        harness(home.path())
            .arg("push")
            .arg(probe())
            .arg(&reference)
            .output()
            .unwrap(),
    );
    assert!(e.contains("--plain-http"), "the error says what to do: {e}");
    ok(harness(home.path())
        .args(["push", "--plain-http"])
        .arg(probe())
        .arg(&reference)
        .output()
        .unwrap());
    let pin = digest_of(&probe());
    let config = crawl_config(
        home.path(),
        &format!("oci = \"{reference}\"\ndigest = \"{pin}\"\noci_plain_http = true"),
    );
    ok(crawl(home.path(), &config));
}
