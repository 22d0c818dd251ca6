//! Turns a validated configuration into a runnable crawl: loads the component, asks it what it
//! needs, checks that the configuration allows exactly that (every declared upstream has a base
//! URL, every declared credential header a secret), and builds the egress engine, the sandboxed
//! instance, the index client and the state store.

use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::crawl::retry::RetryPolicy;
use crate::crawl::state::BudgetWriter;
use crate::crawl::state::StateStore;
use crate::crawl::{CrawlOptions, DirIndex, GleanIndex, Index};
use crate::egress::budget::WeeklyBudget;
use crate::egress::{Egress, EgressLimits, Redactor, Tape, UpstreamRoute};
use crate::runtime::{ConnectorInstance, GuestClock, Runtime, types};

/// Everything a crawl needs.
pub struct Prepared {
    pub connector: ConnectorInstance,
    pub info: types::ConnectorInfo,
    pub index: Box<dyn Index>,
    pub store: StateStore,
    pub options: CrawlOptions,
    pub redactor: Redactor,
}

enum TapeKind {
    Replay,
    Other,
}

/// How to run besides the configuration.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub clock: GuestClock,
    /// Record or replay the connector's HTTP traffic. A replay also fixes the guest clock to
    /// the recording's.
    pub tape: Tape,
    /// Write documents to this directory instead of the Glean API.
    pub output_dir: Option<std::path::PathBuf>,
}

/// Loads the configured component and checks the configuration against what it declares.
pub fn prepare(runtime: &Runtime, config: &Config, clock: GuestClock) -> anyhow::Result<Prepared> {
    prepare_with(
        runtime,
        config,
        RunOptions {
            clock,
            ..RunOptions::default()
        },
    )
}

/// After a restart (a crash, a kill) right after requests were sent, the first requests wait
/// out a whole window after the last one, so no window ever holds more than the rate.
fn hold_after_recent_requests(limiters: &[Arc<crate::egress::WindowLimiter>], last_sent_ms: i64) {
    if last_sent_ms <= 0 {
        return;
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let ago = std::time::Duration::from_millis(now_ms.saturating_sub(last_sent_ms).max(0) as u64);
    let Some(at) = std::time::Instant::now().checked_sub(ago) else {
        return;
    };
    for l in limiters {
        if ago < l.window() {
            l.assume_full_at(at);
        }
    }
}

/// [`prepare`] with recording, replay or a directory index.
pub fn prepare_with(
    runtime: &Runtime,
    config: &Config,
    run: RunOptions,
) -> anyhow::Result<Prepared> {
    let clock = match &run.tape {
        Tape::Replay(player) => GuestClock::Fixed(player.clock()),
        _ => run.clock,
    };
    let run_tape_kind = match &run.tape {
        Tape::Replay(_) => TapeKind::Replay,
        _ => TapeKind::Other,
    };
    let redactor = Redactor::new();
    redactor.register(&config.glean.token);
    let path = match &config.component {
        Some(p) => p.clone(),
        None => crate::clari_copilot_component()?,
    };
    let compiled = runtime
        .load_file(&path)
        .with_context(|| format!("loading the connector {}", path.display()))?;

    // Ask the component what it needs, with no network at all.
    let probe = ConnectorInstance::new(
        compiled.clone(),
        Arc::new(Egress::new(
            Vec::new(),
            EgressLimits::default(),
            redactor.clone(),
        )),
        config.settings.clone(),
        config.limits.clone(),
        clock,
        &config.name,
    );
    let info = probe
        .describe()
        .context("asking the connector to describe itself")?;

    let mut routes = Vec::new();
    for declared in &info.upstreams {
        let Some(u) = config.upstreams.get(&declared.name) else {
            bail!(
                "the connector needs upstream `{name}` (normally {url}) but the configuration does not allow it; \
                 add [upstreams.{name}] with base_url = \"{url}\"",
                name = declared.name,
                url = declared.default_base_url
            );
        };
        for header in &declared.auth_headers {
            if !u
                .credentials
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(header))
            {
                bail!(
                    "upstream `{name}` needs the credential header `{header}`; add `{header} = {{ env = \"VARIABLE\" }}` \
                     under [upstreams.{name}.credentials]",
                    name = declared.name
                );
            }
        }
        for (header, _) in &u.credentials {
            if !declared
                .auth_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(header))
            {
                bail!(
                    "[upstreams.{name}.credentials] sets `{header}`, which the connector does not declare as a credential \
                     header (it declares: {declared_list}); remove it",
                    name = declared.name,
                    declared_list = declared.auth_headers.join(", ")
                );
            }
        }
        routes.push(UpstreamRoute {
            name: declared.name.clone(),
            base: u.base.clone(),
            credentials: u.credentials.clone(),
            auth_headers: declared.auth_headers.clone(),
            limiter: crate::egress::upstream_limiter(u.rate_per_second),
            allow_private_network: u.allow_private_network,
        });
    }
    for name in config.upstreams.keys() {
        if !info.upstreams.iter().any(|d| &d.name == name) {
            tracing::warn!(
                "[upstreams.{name}] is configured but the connector does not declare it; it stays unreachable"
            );
        }
    }
    // A replay starts from empty state every time, so that it is repeatable and never touches
    // the state of real crawls.
    let store = if matches!(run_tape_kind, TapeKind::Replay) {
        let dir = std::env::temp_dir().join(format!(
            "harness-replay-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        StateStore::open(&dir, &config.name)?
    } else {
        StateStore::open(&config.state_dir, &config.name)?
    };
    let egress = Arc::new(
        Egress::new(
            routes,
            EgressLimits {
                timeout: config.http_timeout,
                max_response_bytes: config.max_response_bytes,
                ..EgressLimits::default()
            },
            redactor.clone(),
        )
        .with_tape(run.tape)
        .with_budget(Arc::new(WeeklyBudget::new(
            config.crawl.weekly_request_budget,
            store.state.budget,
            Some(Arc::new(BudgetWriter::open(&store)?)),
        ))),
    );
    hold_after_recent_requests(&egress.limiters(), store.state.budget.last_sent_ms);
    let connector = ConnectorInstance::new(
        compiled,
        egress,
        config.settings.clone(),
        config.limits.clone(),
        clock,
        &config.name,
    );
    let retry = RetryPolicy {
        max_retries: config.crawl.max_retries,
        ..RetryPolicy::default()
    };
    let index: Box<dyn Index> = match &run.output_dir {
        Some(dir) => Box::new(DirIndex::create(dir)?),
        None => {
            let client = glean_api::GleanClient::new(
                &config.glean.base_url,
                config.glean.token.expose().to_string(),
            )
            .map_err(|e| anyhow::anyhow!("[glean] {e}"))?
            .with_timeout(config.http_timeout);
            Box::new(GleanIndex::new(client, retry))
        }
    };
    Ok(Prepared {
        connector,
        info,
        index,
        store,
        options: CrawlOptions {
            concurrency: config.crawl.concurrency,
            batch_size: config.crawl.batch_size,
            max_delete_share: config.crawl.max_delete_share,
            allow_mass_delete: false,
            retry,
            datasource: config.glean.datasource.clone(),
            stop: None,
            limits: config.crawl.limits.clone(),
        },
        redactor,
    })
}
