//! Builds the guest components (`wasm32-wasip2`, release): the Clari Copilot connector and the
//! probe connector the sandbox tests use, so that the harness,
//! its demo and the tests always run the component built from this checkout. The path reaches
//! the crate as `CLARI_COPILOT_COMPONENT`; a failed guest build is reported as a warning and as
//! `CLARI_COPILOT_COMPONENT_ERROR`, so the host itself still builds and says what went wrong
//! when the component is needed. Set `HARNESS_SKIP_GUEST_BUILD=1` to skip it.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The components built, and the environment variable each path is passed in.
const GUESTS: &[(&str, &str, &str)] = &[
    (
        "clari-copilot-connector",
        "clari_copilot_connector.wasm",
        "CLARI_COPILOT_COMPONENT",
    ),
    ("probe-connector", "probe_connector.wasm", "PROBE_COMPONENT"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let workspace = manifest_dir
        .parent()
        .expect("host-harness lives in the workspace")
        .to_path_buf();
    for p in ["guest", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=HARNESS_SKIP_GUEST_BUILD");

    let target_dir = workspace.join("target").join("guest");
    for (_, file, var) in GUESTS {
        let artifact = target_dir.join(TARGET).join("release").join(file);
        println!("cargo:rustc-env={var}={}", artifact.display());
    }

    if std::env::var_os("HARNESS_SKIP_GUEST_BUILD").is_some() {
        println!("cargo:rustc-env=CLARI_COPILOT_COMPONENT_ERROR=");
        return;
    }
    let error = match build_guest(&workspace, &target_dir) {
        Ok(()) => String::new(),
        Err(e) => {
            println!("cargo:warning=the Clari Copilot component was not built: {e}");
            e.replace('\n', " ")
        }
    };
    println!("cargo:rustc-env=CLARI_COPILOT_COMPONENT_ERROR={error}");
}

fn build_guest(workspace: &Path, target_dir: &Path) -> Result<(), String> {
    ensure_target_installed()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", TARGET]);
    for (package, _, _) in GUESTS {
        cmd.args(["-p", package]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        Err(format!(
            "`cargo build --target {TARGET}` of the guest components failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}

/// Installs the wasm target with rustup when the toolchain lacks it.
fn ensure_target_installed() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .exists()
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map_err(|e| format!("the {TARGET} target is missing and rustup could not be run ({e}); install it with `rustup target add {TARGET}`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {TARGET}` failed; run it by hand"
        ))
    }
}
