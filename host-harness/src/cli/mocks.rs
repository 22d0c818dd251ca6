//! `harness mock-clari`, `harness mock-gong` and `harness mock-glean`: the mock servers,
//! standalone.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct ClariArgs {
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 300)]
    calls: usize,
    #[arg(long, default_value_t = 12)]
    users: usize,
    /// The generator's "now" (RFC 3339); default: now.
    #[arg(long)]
    anchor: Option<String>,
    /// Fault: answer 429 above this many requests a second (Clari: 10).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Fault: answer 429 after this many requests (Clari: 100,000 a week).
    #[arg(long)]
    weekly_quota: Option<u64>,
    /// Fault: answer 502 when a body would exceed this many bytes (Clari: about 6 MB).
    #[arg(long)]
    max_response_bytes: Option<usize>,
    /// Fault: share of requests answered 500, 502 or 504 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fault: milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fault: `/call-details` answers broken JSON for this call id (repeatable).
    #[arg(long)]
    malformed_call: Vec<String>,
}

pub fn run_clari(a: ClariArgs) -> anyhow::Result<()> {
    let anchor = generator_inputs(a.error_rate, a.anchor.as_deref())?;
    let config = mock_clari::MockClariConfig {
        seed: a.seed,
        calls: a.calls,
        users: a.users,
        anchor,
        faults: mock_clari::Faults {
            rate_limit_per_sec: a.rate_limit,
            weekly_quota: a.weekly_quota,
            max_response_bytes: a.max_response_bytes,
            error_rate: a.error_rate,
            latency: std::time::Duration::from_millis(a.latency_ms),
            malformed_call_ids: a.malformed_call,
            ..Default::default()
        },
        ..Default::default()
    };
    let banner = format!(
        "({} calls, seed {}); send X-Api-Key: {} and X-Api-Password: {}",
        a.calls, a.seed, config.api_key, config.api_password
    );
    serve(
        a.addr,
        |bound| format!("mock Clari Copilot API on http://{bound} {banner}"),
        |l| mock_clari::serve(l, config),
    )
}

#[derive(clap::Args)]
pub struct GongArgs {
    #[arg(long, default_value = "127.0.0.1:8083")]
    addr: SocketAddr,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 300)]
    calls: usize,
    #[arg(long, default_value_t = 12)]
    users: usize,
    /// The generator's "now" (RFC 3339); default: now.
    #[arg(long)]
    anchor: Option<String>,
    /// Gong's own limits: 429 with Retry-After above 3 requests a second and 10,000 a day.
    #[arg(long)]
    gong_limits: bool,
    /// Fault: share of requests answered 500, 502 or 503 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fault: milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

pub fn run_gong(a: GongArgs) -> anyhow::Result<()> {
    let anchor = generator_inputs(a.error_rate, a.anchor.as_deref())?;
    let limits = if a.gong_limits {
        mock_gong::Faults::gong_limits()
    } else {
        mock_gong::Faults::default()
    };
    let config = mock_gong::MockGongConfig {
        seed: a.seed,
        calls: a.calls,
        users: a.users,
        anchor,
        faults: mock_gong::Faults {
            error_rate: a.error_rate,
            latency: std::time::Duration::from_millis(a.latency_ms),
            ..limits
        },
        ..Default::default()
    };
    let banner = format!(
        "({} calls, seed {}); Basic auth with access key {} and secret {}",
        a.calls, a.seed, config.access_key, config.access_key_secret
    );
    serve(
        a.addr,
        |bound| format!("mock Gong API on http://{bound} {banner}"),
        |l| mock_gong::serve(l, config),
    )
}

#[derive(clap::Args)]
pub struct GleanArgs {
    #[arg(long, default_value = "127.0.0.1:8082")]
    addr: SocketAddr,
    /// Keep the index in this file across restarts.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Glean's documented rate limits off: one mock standing in for the Glean instances of
    /// many tenants (the density benchmark).
    #[arg(long)]
    no_rate_limits: bool,
}

pub fn run_glean(a: GleanArgs) -> anyhow::Result<()> {
    let mut config = mock_glean::MockGleanConfig {
        state_file: a.state_file,
        ..Default::default()
    };
    if a.no_rate_limits {
        config.rate_limits = mock_glean::RateLimits::off();
    }
    let token = config.token.clone();
    serve(
        a.addr,
        |bound| {
            format!("mock Glean indexing API on http://{bound}; send Authorization: Bearer {token}")
        },
        |l| mock_glean::serve(l, config),
    )
}

/// Checks a mock's `--error-rate` and reads its `--anchor` (the generator's "now"; default now).
fn generator_inputs(
    error_rate: f64,
    anchor: Option<&str>,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if !(0.0..=1.0).contains(&error_rate) {
        anyhow::bail!("--error-rate must be between 0 and 1");
    }
    Ok(match anchor {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--anchor `{t}` is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    })
}

/// Serves `f` on `addr` until Ctrl-C, after printing `banner` of the address it bound (with
/// port 0, the port the system chose).
pub(super) fn serve<F, Fut>(
    addr: SocketAddr,
    banner: impl FnOnce(SocketAddr) -> String,
    f: F,
) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr}"))?;
        let bound = listener
            .local_addr()
            .with_context(|| format!("the address bound for {addr}"))?;
        println!("{}", banner(bound));
        use std::io::Write;
        std::io::stdout().flush().ok();
        tokio::select! {
            r = f(listener) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
