//! Cargo's side: the crate's metadata, which of its packages are components (a `cdylib`
//! target), and `cargo build --target wasm32-wasip2` with an environment cleaned of what a
//! surrounding build (a build script, a `cargo run`) would otherwise leak into it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const TARGET: &str = "wasm32-wasip2";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo metadata --no-deps` of the crate or workspace at `dir`.
pub fn metadata(dir: &Path) -> Result<Value, String> {
    let out = Command::new(cargo())
        .current_dir(dir)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} is not a Cargo crate or workspace: {}",
            dir.display(),
            stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or(stderr.trim())
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata answered no JSON: {e}"))
}

/// A package that builds to a component: its `cdylib` target's name is the file's name.
pub fn lib_name(package: &Value) -> Option<String> {
    package["targets"].as_array()?.iter().find_map(|t| {
        let cdylib = t["crate_types"]
            .as_array()?
            .iter()
            .any(|k| k.as_str() == Some("cdylib"));
        cdylib.then(|| t["name"].as_str().map(|n| n.replace('-', "_")))?
    })
}

/// The packages to build: the one whose manifest is in `dir`, else every component package
/// of the workspace at `dir`.
pub fn component_packages(meta: &Value, dir: &Path) -> Result<Vec<Value>, String> {
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let here = packages.iter().find(|p| {
        p["manifest_path"]
            .as_str()
            .and_then(|m| Path::new(m).parent().map(|d| same_dir(d, dir)))
            .unwrap_or(false)
    });
    if let Some(p) = here {
        if lib_name(p).is_none() {
            return Err(format!(
                "{} has no `cdylib` target, so it builds no component: add `[lib] crate-type = [\"cdylib\"]` to its Cargo.toml",
                p["name"].as_str().unwrap_or("the crate")
            ));
        }
        return Ok(vec![p.clone()]);
    }
    let all: Vec<Value> = packages
        .into_iter()
        .filter(|p| lib_name(p).is_some())
        .collect();
    if all.is_empty() {
        return Err(format!(
            "no package in {} builds a component (a `cdylib` target)",
            dir.display()
        ));
    }
    Ok(all)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The directory of `profile`'s output for the wasm target.
pub fn output_dir(target_dir: &Path, profile: &str) -> PathBuf {
    let dir = match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    };
    target_dir.join(TARGET).join(dir)
}

/// `cargo build --target wasm32-wasip2 --profile PROFILE -p ...` in `dir`.
pub fn build(
    dir: &Path,
    packages: &[String],
    profile: &str,
    target_dir: &Path,
) -> Result<(), String> {
    ensure_target_installed()?;
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir)
        .args(["build", "--profile", profile, "--target", TARGET]);
    for p in packages {
        cmd.args(["-p", p]);
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
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(format!(
        "`cargo build --target {TARGET}` failed: {}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
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
