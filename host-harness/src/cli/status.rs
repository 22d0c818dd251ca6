//! `harness status`: the troubleshooting view of an instance's state.

use std::path::PathBuf;

use tenant_instance::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // Status needs no secrets: it only reads state.
    let env = |k: &str| super::env(k).or_else(|| Some("status-needs-no-secret".into()));
    let config = Config::load(&a.config, &env)?;
    let store = state_store::SqliteStore::open(&config.state_dir, &config.name)?;
    print!(
        "{}",
        tenant_instance::status::render(
            &config.name,
            &store.path().display().to_string(),
            &store,
            store.current_budget()?,
            config.request_budget(),
            &config.schedule,
            chrono::Utc::now().timestamp(),
        )?
    );
    Ok(())
}
