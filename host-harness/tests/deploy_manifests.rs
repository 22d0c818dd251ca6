//! The deployment files stay true: every flag the Kubernetes manifest and the container
//! image pass to `harness serve` is one it accepts, the probes name the open routes, and the
//! tenant file in the ConfigMap loads (its secret files mounted where the manifest mounts them,
//! here in a temporary directory).

use std::path::Path;
use std::process::Command;

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn serve_help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every `--flag` in `text`, comments aside.
fn flags(text: &str) -> Vec<String> {
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2 && !w.starts_with("---"))
        .map(|w| w.split('=').next().unwrap_or(w).to_string())
        .collect()
}

#[test]
fn the_manifests_pass_only_flags_harness_serve_accepts() {
    let help = serve_help();
    let manifest = repo_file("deploy/kubernetes/harness.yaml");
    let image = repo_file("deploy/Containerfile");
    let cmd_line = image
        .lines()
        .find(|l| l.starts_with("CMD"))
        .expect("the image has a CMD");
    let mut all = flags(&manifest);
    all.extend(flags(cmd_line));
    assert!(all.iter().any(|f| f == "--database-url-file"), "{all:?}");
    for flag in all {
        assert!(
            help.contains(&flag),
            "{flag} is not a flag of harness serve"
        );
    }
    for probe in ["path: /healthz", "path: /readyz"] {
        assert!(manifest.contains(probe), "{probe}");
    }
}

#[test]
fn the_configmap_tenant_loads_with_its_secret_files() {
    let manifest = repo_file("deploy/kubernetes/harness.yaml");
    let start = manifest.find("acme.toml: |").expect("the example tenant") + "acme.toml: |".len();
    let toml: String = manifest[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("acme");
    std::fs::create_dir(&secrets).unwrap();
    for (file, value) in [
        ("clari-key", "k-1"),
        ("clari-password", "p-1"),
        ("glean-token", "t-1"),
    ] {
        std::fs::write(secrets.join(file), format!("{value}\n")).unwrap();
    }
    let toml = toml.replace("/run/secrets/acme", &secrets.display().to_string());
    let file = tenant_instance::config::parse_file(&toml).unwrap();
    let config = tenant_instance::config::Config::from_file(file, dir.path(), &|_| None)
        .unwrap_or_else(|e| panic!("{e:#}\n{toml}"));
    assert_eq!(config.glean.token.expose(), "t-1");
    assert_eq!(config.upstreams["clari"].credentials.len(), 2);
}
