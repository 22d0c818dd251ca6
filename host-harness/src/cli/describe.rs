//! `harness describe`: what a connector component declares.

use std::path::PathBuf;

use wasm_runtime::{GuestClock, WasmSource};

#[derive(clap::Args)]
pub struct Args {
    /// The component file; default: the Clari Copilot connector built with the harness.
    #[arg(long)]
    component: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let runtime = crate::cached_runtime()?;
    let compiled = match a.component {
        Some(p) => runtime.load_file(&p)?,
        None => runtime.load(crate::clari_copilot_wasm()?)?,
    };
    let instance =
        WasmSource::offline(compiled, Default::default(), GuestClock::System, "describe");
    let info = crawl_engine::Source::describe(&instance)?;
    println!("{}", crate::describe_json(&info));
    Ok(())
}
