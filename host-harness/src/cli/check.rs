//! `harness check`: validate the configuration and the connector's credentials.

use std::path::PathBuf;

use anyhow::Context;
use wasm_runtime::GuestClock;

use tenant_instance::config::Config;
use tenant_instance::{preflight, setup};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
}

/// Validates everything a crawl will before it runs: the configuration, the connector's
/// declaration (datasource name, object types and properties, URL pattern), the connector's
/// own check of its upstreams, the Glean token (one authenticated read), and one sampled item
/// mapped as a crawl maps it. Every problem is listed with what to change; any fails.
pub fn run(a: Args) -> anyhow::Result<()> {
    let config = Config::load(&a.config, &super::env)?;
    let runtime = tenant_instance::cached_runtime()?;
    let p = setup::prepare(&runtime, &config, GuestClock::System)?;
    let datasource = config
        .glean
        .datasource
        .clone()
        .unwrap_or_else(|| p.info.name.clone());
    let problems = preflight::declaration(&datasource, &p.info);
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem(s) a crawl would meet:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    p.connector
        .check()
        .context("the connector's check failed")?;
    preflight::glean(&config, &datasource)?;
    let sampled = preflight::sample(&p, &datasource)?;
    println!(
        "ok: {} can reach its upstreams with the configured credentials; Glean accepts the token for datasource `{datasource}`; {}",
        p.info.display_name,
        match sampled {
            Some(id) => format!(
                "a sampled item ({}) maps to a document Glean accepts",
                egress::quote::quote(&id)
            ),
            None => "no eligible item to sample yet".to_string(),
        }
    );
    Ok(())
}
