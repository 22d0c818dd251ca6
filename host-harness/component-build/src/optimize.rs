//! binaryen's `wasm-opt -O3 -Oz` over a component's main core module: the speed passes, then
//! the size passes over their result (BENCHMARKS.md, "Component size": this keeps the Clari
//! Copilot component within 400 KiB at the speed of `-O3`).

use std::path::Path;
use std::process::Command;

use crate::sections::{append_custom_section, has_custom_section, main_module, push_leb};

/// Marks a core module binaryen has optimised, so nothing is optimised twice.
pub const OPTIMIZED_MARK: &str = "connector-wasm-opt";

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

/// The `wasm-opt` to run: `WASM_OPT`, else `wasm-opt` on `PATH`; `None` when it does not run.
pub fn find_wasm_opt() -> Option<String> {
    let program = std::env::var("WASM_OPT").unwrap_or_else(|_| "wasm-opt".into());
    Command::new(&program)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| program)
}

/// `component` with its main core module optimised and marked. `scratch` holds the module
/// while binaryen reads and writes it.
pub fn optimize(
    program: &str,
    name: &str,
    component: &[u8],
    scratch: &Path,
) -> Result<Vec<u8>, String> {
    let main = main_module(component).map_err(|e| format!("{name}: {e}"))?;
    let module = &component[main.payload.clone()];
    if has_custom_section(module, OPTIMIZED_MARK) {
        return Ok(component.to_vec());
    }
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    // Named for this process too: two builds of one crate into one target directory at once
    // (two tests, two terminals) must not read or remove each other's files.
    let unique = format!("{name}-{}", std::process::id());
    let input = scratch.join(format!("{unique}.core.wasm"));
    let output = scratch.join(format!("{unique}.core.opt.wasm"));
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        let head: Vec<&str> = stderr.lines().take(10).collect();
        return Err(format!("{program} failed on {name}: {}", head.join("\n")));
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
