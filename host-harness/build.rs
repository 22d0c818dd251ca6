//! Builds the guest components (`wasm32-wasip2`, the `guest` profile, then binaryen's
//! `wasm-opt` over the core module): the Clari Copilot connector and the probe connector the
//! sandbox tests use, so that the harness, its demo and the tests always run the component
//! built from this checkout. Both are copied into `OUT_DIR` and embedded in the binary (no path
//! of the build machine reaches it); a failed guest build is reported as a warning and as
//! `CLARI_COPILOT_COMPONENT_ERROR`, so the host itself still builds and says what went wrong
//! when the component is needed. Set `HARNESS_SKIP_GUEST_BUILD=1` to skip it.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The cargo profile the guests are built with (`[profile.guest]` in the workspace manifest):
/// its output directory under `target/guest/wasm32-wasip2/`.
const PROFILE: &str = "guest";
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

    let built = if std::env::var_os("HARNESS_SKIP_GUEST_BUILD").is_some() {
        Err("HARNESS_SKIP_GUEST_BUILD is set".to_string())
    } else {
        build_guest(&workspace, &target_dir)
    };
    println!("cargo:rerun-if-env-changed=WASM_OPT");
    let built = built
        .and_then(|()| optimize_guests(&target_dir))
        .and_then(|()| stamp_metadata(&workspace, &target_dir));
    let error = match built {
        Ok(()) => String::new(),
        Err(e) => {
            println!("cargo:warning=the Clari Copilot component was not built: {e}");
            e.replace('\n', " ")
        }
    };
    println!("cargo:rustc-env=CLARI_COPILOT_COMPONENT_ERROR={error}");
    embed_component(&target_dir);
}

/// Marks a core module binaryen has optimised: a record in the component, and a guard should
/// the build script ever be handed a processed component instead of cargo's output.
const OPTIMIZED_MARK: &str = "connector-wasm-opt";

/// The WebAssembly features Rust 1.95 enables for `wasm32-wasip2` (the module's
/// `target_features` section is stripped, so binaryen is told).
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Runs binaryen's `wasm-opt -O3 -Oz` over each component's main core module. The guests are
/// compiled for speed (`opt-level = 3`); binaryen then takes about a sixth off the module
/// while keeping its speed, which is what keeps the Clari Copilot component within 400 KiB
/// (BENCHMARKS.md, "Component size"). `WASM_OPT` names the program (default `wasm-opt` on
/// `PATH`). Without it the components stay as cargo built them, larger, with a warning.
fn optimize_guests(target_dir: &Path) -> Result<(), String> {
    let program = std::env::var("WASM_OPT").unwrap_or_else(|_| "wasm-opt".into());
    let wasm_opt = if Command::new(&program).arg("--version").output().is_ok() {
        Some(program)
    } else {
        println!(
            "cargo:warning=`{program}` (binaryen) was not found: the guest components are not optimised and the Clari Copilot component is over its 400 KiB goal; install binaryen (Debian: apt-get install binaryen) or set WASM_OPT"
        );
        None
    };
    for (package, file, _) in GUESTS {
        // Cargo's own output stays untouched in `deps/`; what the harness uses is written
        // beside it (a new file, not through the hard link cargo makes), so each run starts
        // from the compiler's output and nothing is optimised or stamped twice.
        let dir = target_dir.join(TARGET).join(PROFILE);
        let raw_path = dir.join("deps").join(file);
        let raw_path = if raw_path.exists() {
            raw_path
        } else {
            dir.join(file)
        };
        let component =
            std::fs::read(&raw_path).map_err(|e| format!("{}: {e}", raw_path.display()))?;
        let processed = match &wasm_opt {
            Some(program) => optimize_component(program, package, &component, target_dir)?,
            None => component,
        };
        replace_file(&dir.join(file), &processed)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a new file renamed into place (never through a hard link).
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `component` with its main core module run through `wasm-opt -O3 -Oz` (and marked so): the
/// speed passes, then the size passes over their result, which took 2 KB off the Clari
/// Copilot component at the same speed (BENCHMARKS.md, "Component size").
fn optimize_component(
    program: &str,
    package: &str,
    component: &[u8],
    target_dir: &Path,
) -> Result<Vec<u8>, String> {
    let sections = component_sections(component)
        .map_err(|e| format!("{package}: reading the component: {e}"))?;
    let Some(main) = sections
        .iter()
        .filter(|s| s.id == 1)
        .max_by_key(|s| s.payload.len())
    else {
        return Err(format!("{package}: the component holds no core module"));
    };
    let module = &component[main.payload.clone()];
    if has_custom_section(module, OPTIMIZED_MARK) {
        return Ok(component.to_vec());
    }
    let input = target_dir.join(format!("{package}.core.wasm"));
    let output = target_dir.join(format!("{package}.core.opt.wasm"));
    std::fs::write(&input, module).map_err(|e| format!("{}: {e}", input.display()))?;
    let out = Command::new(program)
        .args(["-O3", "-Oz"])
        .args(WASM_FEATURES)
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} failed on {package}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(10)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let mut optimized = std::fs::read(&output).map_err(|e| format!("{}: {e}", output.display()))?;
    std::fs::remove_file(&input).ok();
    std::fs::remove_file(&output).ok();
    append_custom_section(&mut optimized, OPTIMIZED_MARK, &[]);
    let mut spliced = component[..main.start].to_vec();
    spliced.push(1);
    push_leb(&mut spliced, optimized.len());
    spliced.extend_from_slice(&optimized);
    spliced.extend_from_slice(&component[main.payload.end..]);
    Ok(spliced)
}

/// One top-level section of a component or module: its id, where it starts (the id byte) and
/// its payload.
struct Section {
    id: u8,
    start: usize,
    payload: std::ops::Range<usize>,
}

fn read_leb(bytes: &[u8], at: &mut usize) -> Result<usize, String> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at).ok_or("truncated LEB128")?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| "LEB128 too large".to_string());
        }
    }
    Err("LEB128 too long".into())
}

fn push_leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// The top-level sections after the 8-byte preamble (component or core module).
fn component_sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly binary".into());
    }
    let mut at = 8;
    let mut sections = Vec::new();
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let len = read_leb(bytes, &mut at)?;
        let end = at
            .checked_add(len)
            .filter(|e| *e <= bytes.len())
            .ok_or("section past the end")?;
        sections.push(Section {
            id,
            start,
            payload: at..end,
        });
        at = end;
    }
    Ok(sections)
}

fn has_custom_section(module: &[u8], name: &str) -> bool {
    component_sections(module).is_ok_and(|sections| {
        sections.iter().filter(|s| s.id == 0).any(|s| {
            let mut at = s.payload.start;
            read_leb(module, &mut at).is_ok_and(|n| module.get(at..at + n) == Some(name.as_bytes()))
        })
    })
}

fn append_custom_section(module: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    push_leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    module.push(0);
    push_leb(module, body.len());
    module.extend_from_slice(&body);
}

/// Stamps standard component-model metadata (name, version, description, authors, source,
/// homepage, revision, licences) into each guest component with the `wasm-metadata` crate, so
/// `wasm-tools metadata show` and registries can read it; taken from the crate's manifest and
/// the checkout's git revision.
fn stamp_metadata(workspace: &Path, target_dir: &Path) -> Result<(), String> {
    use wasm_metadata::{
        AddMetadata, AddMetadataField, Authors, Description, Homepage, Licenses, Revision, Source,
        Version,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata answered no JSON: {e}"))?;
    let revision = git(workspace, &["rev-parse", "HEAD"]);
    // Only a public URL: a checkout's path says nothing to whoever pulls the component, and
    // would carry the build machine's layout into the artifact.
    let origin = git(workspace, &["remote", "get-url", "origin"])
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    for (package, file, _) in GUESTS {
        let Some(p) = meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == *package))
        else {
            return Err(format!("{package} is not in the workspace"));
        };
        let text = |k: &str| p[k].as_str().map(str::to_string);
        let source = text("repository").or_else(|| origin.clone());
        let homepage = text("homepage").or_else(|| source.clone());
        let authors = p["authors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "connector platform authors".into());
        let mut add = AddMetadata::default();
        add.name = AddMetadataField::Set(package.to_string());
        add.version = AddMetadataField::Set(Version::new(text("version").unwrap_or_default()));
        add.description =
            AddMetadataField::Set(Description::new(text("description").unwrap_or_default()));
        add.authors = AddMetadataField::Set(Authors::new(authors));
        add.licenses = AddMetadataField::Set(
            Licenses::new(&text("license").unwrap_or_else(|| "Apache-2.0".into()))
                .map_err(|e| format!("{package}: licence: {e}"))?,
        );
        add.source = match &source {
            Some(s) => AddMetadataField::Set(
                Source::new(s).map_err(|e| format!("{package}: source: {e}"))?,
            ),
            None => AddMetadataField::Clear,
        };
        add.homepage = match &homepage {
            Some(h) => AddMetadataField::Set(
                Homepage::new(h).map_err(|e| format!("{package}: homepage: {e}"))?,
            ),
            None => AddMetadataField::Clear,
        };
        if let Some(r) = &revision {
            add.revision = AddMetadataField::Set(Revision::new(r.clone()));
        }
        let path = target_dir.join(TARGET).join(PROFILE).join(file);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamped = add
            .to_wasm(&bytes)
            .map_err(|e| format!("stamping metadata into {}: {e}", path.display()))?;
        replace_file(&path, &stamped)?;
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Copies every guest component into `OUT_DIR`, where the harness embeds them, so the binary
/// needs no build tree at run time and holds no path of the build machine (a component is
/// empty there when the guest build failed).
fn embed_component(target_dir: &Path) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (_, file, _) in GUESTS {
        let artifact = target_dir.join(TARGET).join(PROFILE).join(file);
        let bytes = std::fs::read(&artifact).unwrap_or_default();
        std::fs::write(out.join(file), bytes).expect("OUT_DIR is writable");
    }
}

fn build_guest(workspace: &Path, target_dir: &Path) -> Result<(), String> {
    ensure_target_installed()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--profile", PROFILE, "--target", TARGET]);
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
