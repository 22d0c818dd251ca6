//! `harness serve`: host a directory of tenants, with the admin API and metrics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use harness_service::serve::{ServeOptions, Service};

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
    /// Run as one of several replicas: tenants' state and leases in the PostgreSQL database
    /// whose URL is in this environment variable (e.g. `postgres://harness@db:5432/harness`).
    #[arg(long, conflicts_with = "database_url_file")]
    database_url_env: Option<String>,
    /// As `--database-url-env`, the URL read from this file (a mounted Secret).
    #[arg(long)]
    database_url_file: Option<PathBuf>,
    /// How long a replica's lease on a tenant lasts without renewal (renewed every third):
    /// a replica that dies is replaced within about this long.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
    /// The most database sessions this replica's crawls and console reads share (each takes
    /// one per statement or write, not per crawl); plus one for the lease rounds.
    #[arg(long, default_value_t = 16)]
    database_sessions: u32,
    /// This replica's name in the lease table; default: host name and process id.
    #[arg(long)]
    replica: Option<String>,
}

/// The cluster, when a database is named.
fn cluster(
    a: &Args,
) -> anyhow::Result<Option<std::sync::Arc<harness_service::serve::cluster::Cluster>>> {
    use tenant_instance::secret_source::{SecretFrom, SecretSource};
    let source = SecretSource {
        env: a.database_url_env.clone(),
        file: a.database_url_file.clone(),
    };
    if source.env.is_none() && source.file.is_none() {
        return Ok(None);
    }
    let setting = "--database-url-env / --database-url-file";
    let url = SecretFrom::parse(&source, setting, std::path::Path::new("."))?
        .resolve(setting, &|k| std::env::var(k).ok())?;
    if !(1..=3600).contains(&a.lease_seconds) {
        anyhow::bail!(
            "--lease-seconds must be between 1 and 3600 (found {})",
            a.lease_seconds
        );
    }
    if !(1..=harness_service::serve::cluster::MAX_SESSIONS).contains(&a.database_sessions) {
        anyhow::bail!(
            "--database-sessions must be between 1 and {} (found {})",
            harness_service::serve::cluster::MAX_SESSIONS,
            a.database_sessions
        );
    }
    let replica = a.replica.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let c = harness_service::serve::cluster::Cluster::connect(
        url.expose().to_string(),
        replica,
        Duration::from_secs(a.lease_seconds),
        a.database_sessions,
    )
    .context("joining the replicas on the state database")?;
    Ok(Some(c))
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
    let cluster = cluster(&a)?;
    let stop = tenant_instance::schedule::stop_on_signals()?;
    tenant_instance::schedule::exit_after_grace(stop.clone());
    let service = Service::new(
        tenant_instance::cached_runtime()?,
        ServeOptions {
            workers: a.workers.clamp(1, 256),
            backoff_base: Duration::from_secs(a.backoff_seconds.max(1)),
            start_stagger: Duration::from_secs(a.start_stagger_seconds),
            tenant_concurrency: a.tenant_concurrency.clamp(1, 64),
            cluster: cluster.clone(),
            ..ServeOptions::new(a.tenants.clone())
        },
        stop.clone(),
    );
    let (dir, workers) = (a.tenants.display().to_string(), a.workers);
    let replica = cluster
        .as_ref()
        .map(|c| format!(" as replica {} on the state database", c.owner()))
        .unwrap_or_default();
    harness_service::serve::api::run_with_admin(&service, a.admin, token, |addr| {
        println!(
            "serving tenants from {dir} with {workers} workers{replica}; admin API on http://{addr}"
        )
    })?;
    println!("stopped: every running crawl ended at a checkpoint");
    Ok(())
}
