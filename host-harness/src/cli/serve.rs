//! `harness serve`: host a directory of tenants, with the admin API and metrics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::serve::{ServeOptions, Service};

#[derive(clap::Args)]
pub struct Args {
    /// The directory of tenant files (one `harness crawl` configuration each, `NAME.toml`).
    #[arg(long)]
    tenants: PathBuf,
    /// Where the admin API listens (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8090")]
    admin: SocketAddr,
    /// The environment variable holding the admin API's bearer token.
    #[arg(long, default_value = "HARNESS_ADMIN_TOKEN")]
    token_env: String,
    /// Crawls running at once, across all tenants (workers mostly wait on upstream rate
    /// limits, so many cost little).
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// The first backoff after a failed crawl, in seconds (it doubles with each failure).
    #[arg(long, default_value_t = 60)]
    backoff_seconds: u64,
    /// At start-up, spread the tenants' first crawls over this many seconds.
    #[arg(long, default_value_t = 60)]
    start_stagger_seconds: u64,
    /// The most `fetch-item` calls one tenant's crawl may run at once (its `[crawl]
    /// concurrency` is lowered to this). Each tenant runs one crawl at a time.
    #[arg(long, default_value_t = 4)]
    tenant_concurrency: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let token = std::env::var(&a.token_env)
        .ok()
        .filter(|t| t.len() >= 16)
        .with_context(|| {
            format!(
                "the admin API needs a token of at least 16 characters in the environment variable `{}`",
                a.token_env
            )
        })?;
    if !a.tenants.is_dir() {
        anyhow::bail!("--tenants {} is not a directory", a.tenants.display());
    }
    let stop = crate::schedule::stop_on_signals()?;
    crate::schedule::exit_after_grace(stop.clone());
    let service = Service::new(
        crate::cached_runtime()?,
        ServeOptions {
            workers: a.workers.clamp(1, 256),
            backoff_base: Duration::from_secs(a.backoff_seconds.max(1)),
            start_stagger: Duration::from_secs(a.start_stagger_seconds),
            tenant_concurrency: a.tenant_concurrency.clamp(1, 64),
            ..ServeOptions::new(a.tenants.clone())
        },
        stop.clone(),
    );
    let (dir, workers) = (a.tenants.display().to_string(), a.workers);
    crate::serve::api::run_with_admin(&service, a.admin, token, |addr| {
        println!("serving tenants from {dir} with {workers} workers; admin API on http://{addr}")
    })?;
    println!("stopped: every running crawl ended at a checkpoint");
    Ok(())
}
