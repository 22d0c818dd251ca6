//! `harness build [PATH]`: any connector crate to the component the harness runs, made as the
//! harness's own guests are (`component-build`): compiled for `wasm32-wasip2`, optimised by
//! binaryen's `wasm-opt`, stamped with metadata from its Cargo.toml; then read back as
//! `harness inspect` reads it, with a size report.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The connector crate (or a workspace: every package with a `cdylib` target).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The cargo profile.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Cargo's target directory (default: the crate's own).
    #[arg(long)]
    target_dir: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let dir = a
        .path
        .canonicalize()
        .with_context(|| format!("{} is not a directory here", a.path.display()))?;
    let mut options = component_build::Options::new(&dir).profile(&a.profile);
    if let Some(t) = &a.target_dir {
        options = options.target_dir(t);
    }
    let built = component_build::build(&options).map_err(|e| anyhow::anyhow!(e))?;
    for b in &built {
        let bytes =
            std::fs::read(&b.path).with_context(|| format!("reading {}", b.path.display()))?;
        let report = tenant_instance::inspect::inspect(&bytes).with_context(|| {
            format!(
                "{} built, but it is not a connector the harness can run",
                b.package
            )
        })?;
        println!("{}: {}", b.package, b.path.display());
        println!(
            "  {} bytes ({:.1} KiB); cargo's output was {} bytes",
            b.bytes,
            b.bytes as f64 / 1024.0,
            b.raw_bytes
        );
        if !b.optimized {
            println!(
                "  NOT optimised: binaryen's `wasm-opt` was not found (Debian: apt-get install binaryen, or set WASM_OPT)"
            );
        }
        println!(
            "  contract {}, digest {}",
            report.contract_version, report.digest
        );
    }
    Ok(())
}
