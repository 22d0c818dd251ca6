//! `harness describe`: what a connector component declares.

use std::path::PathBuf;

use wasm_runtime::{GuestClock, WasmSource};

#[derive(clap::Args)]
pub struct Args {
    /// The component file; default: a connector built into the harness (--builtin).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Which built-in connector, when no --component is given (claricopilot, gong).
    #[arg(long, default_value = "claricopilot")]
    builtin: String,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let runtime = tenant_instance::cached_runtime()?;
    let compiled = match a.component {
        Some(p) => runtime.load_file(&p)?,
        None => runtime.load(tenant_instance::builtin::Builtin::named(&a.builtin)?.bytes()?)?,
    };
    let instance =
        WasmSource::offline(compiled, Default::default(), GuestClock::System, "describe");
    let info = crawl_engine::Source::describe(&instance)?;
    println!("{}", tenant_instance::describe_json(&info));
    Ok(())
}
