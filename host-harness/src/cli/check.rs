//! `harness check`: validate the configuration and the connector's credentials.

use std::path::PathBuf;

use anyhow::Context;
use wasm_runtime::GuestClock;

use crate::config::Config;
use crate::setup;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let config = Config::load(&a.config, &super::env)?;
    let runtime = crate::cached_runtime()?;
    let p = setup::prepare(&runtime, &config, GuestClock::System)?;
    p.connector
        .check()
        .context("the connector's check failed")?;
    println!(
        "ok: {} can reach its upstreams with the configured credentials",
        p.info.display_name
    );
    Ok(())
}
