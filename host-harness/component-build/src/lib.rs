//! Builds connector crates into the components the harness runs: `cargo build --target
//! wasm32-wasip2`, binaryen's `wasm-opt` over the main core module, and standard metadata
//! stamped from the crate's manifest, with the source limits the crate declares
//! ([`manifest`]). `harness build [PATH]` runs it for any connector crate;
//! the harness's own build script runs it for the guests of this workspace, found by their
//! `cdylib` target, so both ship components made the same way.

mod cargo;
pub mod manifest;
mod optimize;
mod sections;
mod stamp;

use std::path::{Path, PathBuf};

pub use cargo::TARGET;
pub use optimize::{OPTIMIZED_MARK, find_wasm_opt};
pub use stamp::Provenance;

/// What to build.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// A connector crate, or a workspace (every component package in it).
    pub dir: PathBuf,
    /// The cargo profile (`release` unless told).
    pub profile: String,
    /// Cargo's target directory; `None`: the crate's own (`cargo metadata`'s).
    pub target_dir: Option<PathBuf>,
}

impl Options {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Options {
            dir: dir.into(),
            profile: "release".into(),
            target_dir: None,
        }
    }

    #[must_use]
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = profile.to_string();
        self
    }

    #[must_use]
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }
}

/// One component built.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Built {
    pub package: String,
    /// The optimised, stamped component.
    pub path: PathBuf,
    /// The size cargo produced, and the size shipped.
    pub raw_bytes: u64,
    pub bytes: u64,
    /// Whether binaryen ran (it is missing: the component is shipped as cargo built it).
    pub optimized: bool,
}

/// Builds every component package `options` names; cargo's own output stays untouched in
/// `deps/`, and the shipped component is written beside it as `<lib name>.wasm`.
pub fn build(options: &Options) -> Result<Vec<Built>, String> {
    let meta = cargo::metadata(&options.dir)?;
    let packages = cargo::component_packages(&meta, &options.dir)?;
    let target_dir = match &options.target_dir {
        Some(d) => d.clone(),
        None => PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")),
    };
    let names: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    cargo::build(&options.dir, &names, &options.profile, &target_dir)?;
    let wasm_opt = find_wasm_opt();
    let provenance = Provenance::of_checkout(&options.dir);
    let out_dir = cargo::output_dir(&target_dir, &options.profile);
    packages
        .iter()
        .map(|p| ship(p, &out_dir, wasm_opt.as_deref(), &provenance))
        .collect()
}

/// Optimises and stamps one package's component.
fn ship(
    package: &serde_json::Value,
    out_dir: &Path,
    wasm_opt: Option<&str>,
    provenance: &Provenance,
) -> Result<Built, String> {
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let lib = cargo::lib_name(package).ok_or_else(|| format!("{name} has no cdylib target"))?;
    let file = format!("{lib}.wasm");
    let raw_path = [out_dir.join("deps").join(&file), out_dir.join(&file)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| format!("cargo built no {file} under {}", out_dir.display()))?;
    let raw = std::fs::read(&raw_path).map_err(|e| format!("{}: {e}", raw_path.display()))?;
    let optimized = match wasm_opt {
        Some(program) => optimize::optimize(program, &name, &raw, &out_dir.join("wasm-opt"))?,
        None => raw.clone(),
    };
    let mut stamped = stamp::stamp(&optimized, package, provenance)?;
    if let Some(m) = manifest::Manifest::from_package(package)? {
        stamped = manifest::stamp(&stamped, &m);
    }
    let path = out_dir.join(&file);
    replace_file(&path, &stamped)?;
    Ok(Built {
        package: name,
        path,
        raw_bytes: raw.len() as u64,
        bytes: stamped.len() as u64,
        optimized: wasm_opt.is_some(),
    })
}

/// Writes `bytes` to `path` through a new file renamed into place (never through the hard
/// link cargo makes to its own output).
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
