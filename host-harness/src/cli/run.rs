//! `harness run`: crawl on the configured schedule until SIGINT or SIGTERM.

use std::path::PathBuf;

use wasm_runtime::GuestClock;

use tenant_instance::config::Config;
use tenant_instance::{schedule, setup};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let config = Config::load(&a.config, &super::env)?;
    // One writer per state, for as long as this process runs.
    let _lock = state_store::StateLock::acquire(&config.state_dir, &config.name)?;
    let runtime = tenant_instance::cached_runtime()?;
    let prepared = setup::prepare(&runtime, &config, GuestClock::System)?;
    let stop = schedule::stop_on_signals()?;
    schedule::exit_after_grace(stop.clone());
    println!(
        "running {}: incremental crawls every {} min, full crawls every {} h; Ctrl-C to stop",
        config.name, config.schedule.incremental_minutes, config.schedule.full_hours
    );
    let mut running = schedule::Running {
        runtime: &runtime,
        config,
        prepared,
        env: &super::env,
    };
    schedule::run(&mut running, stop)
}
