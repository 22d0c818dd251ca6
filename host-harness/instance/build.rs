//! Builds the guest components with the `component-build` library, as `harness build` builds
//! any connector crate: every package of this workspace with a `cdylib` target (today the
//! Clari Copilot and Gong connectors and the probe connector the sandbox tests use), compiled for
//! `wasm32-wasip2` with the `guest` profile, run through binaryen's `wasm-opt` and stamped
//! with their metadata. The components the harness embeds are copied into `OUT_DIR` (no path
//! of the build machine reaches the binary); a failed guest build is reported as a warning and
//! as `GUEST_BUILD_ERROR`, so the host itself still builds and says what went wrong
//! when the component is needed. Set `HARNESS_SKIP_GUEST_BUILD=1` to skip it.

use std::path::{Path, PathBuf};

/// The cargo profile the guests are built with (`[profile.guest]` in the workspace manifest).
const PROFILE: &str = "guest";
/// The components the harness binary embeds (by file name): the ones it runs without a
/// configured component (the demo, the benchmark). Every other guest is built all the same.
const EMBEDDED: &[&str] = &[
    "clari_copilot_connector.wasm",
    "gong_connector.wasm",
    "probe_connector.wasm",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // The workspace root: the nearest ancestor holding the guests and the contract.
    let workspace = manifest_dir
        .ancestors()
        .find(|d| d.join("guest").is_dir() && d.join("wit").is_dir())
        .expect("tenant-instance lives in the workspace, beside guest/ and wit/")
        .to_path_buf();
    for p in ["guest", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=HARNESS_SKIP_GUEST_BUILD");
    println!("cargo:rerun-if-env-changed=WASM_OPT");

    let target_dir = workspace.join("target").join("guest");
    let built = if std::env::var_os("HARNESS_SKIP_GUEST_BUILD").is_some() {
        Err("HARNESS_SKIP_GUEST_BUILD is set".to_string())
    } else {
        if component_build::find_wasm_opt().is_none() {
            println!(
                "cargo:warning=`wasm-opt` (binaryen) was not found: the guest components are not optimised and the Clari Copilot component is over its 400 KiB goal; install binaryen (Debian: apt-get install binaryen) or set WASM_OPT"
            );
        }
        let options = component_build::Options::new(&workspace)
            .profile(PROFILE)
            .target_dir(&target_dir);
        component_build::build(&options).map(|_| ())
    };
    let error = match built {
        Ok(()) => String::new(),
        Err(e) => {
            println!("cargo:warning=the guest components were not built: {e}");
            e.replace('\n', " ")
        }
    };
    println!("cargo:rustc-env=GUEST_BUILD_ERROR={error}");
    embed_component(&target_dir);
}

/// Copies every guest component into `OUT_DIR`, where the harness embeds them, so the binary
/// needs no build tree at run time and holds no path of the build machine (a component is
/// empty there when the guest build failed).
fn embed_component(target_dir: &Path) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = target_dir.join(component_build::TARGET).join(PROFILE);
    for file in EMBEDDED {
        let artifact = dir.join(file);
        let bytes = std::fs::read(&artifact).unwrap_or_default();
        std::fs::write(out.join(file), bytes).expect("OUT_DIR is writable");
    }
}
