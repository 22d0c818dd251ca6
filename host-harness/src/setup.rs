//! Turns a validated configuration into a runnable crawl: loads the component, asks it what it
//! needs, checks that the configuration allows exactly that (every declared upstream has a base
//! URL, every declared credential header a secret), and builds the egress engine, the sandboxed
//! instance, the index client and the state store.

use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::crawl::retry::RetryPolicy;
use crate::crawl::state::StateStore;
use crate::crawl::{CrawlOptions, GleanIndex};
use crate::egress::{Egress, EgressLimits, Redactor, TokenBucket, UpstreamRoute};
use crate::runtime::{ConnectorInstance, GuestClock, Runtime, types};

/// Everything a crawl needs.
pub struct Prepared {
    pub connector: ConnectorInstance,
    pub info: types::ConnectorInfo,
    pub index: GleanIndex,
    pub store: StateStore,
    pub options: CrawlOptions,
    pub redactor: Redactor,
}

/// Loads the configured component and checks the configuration against what it declares.
pub fn prepare(runtime: &Runtime, config: &Config, clock: GuestClock) -> anyhow::Result<Prepared> {
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
        Arc::new(Egress::new(Vec::new(), EgressLimits::default(), redactor.clone())),
        config.settings.clone(),
        config.limits.clone(),
        clock,
        &config.name,
    );
    let info = probe.describe().context("asking the connector to describe itself")?;

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
            if !u.credentials.iter().any(|(h, _)| h.eq_ignore_ascii_case(header)) {
                bail!(
                    "upstream `{name}` needs the credential header `{header}`; add `{header} = {{ env = \"VARIABLE\" }}` \
                     under [upstreams.{name}.credentials]",
                    name = declared.name
                );
            }
        }
        for (header, _) in &u.credentials {
            if !declared.auth_headers.iter().any(|h| h.eq_ignore_ascii_case(header)) {
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
            limiter: u
                .rate_per_second
                .map(|r| Arc::new(TokenBucket::new(r, u.burst))),
        });
    }
    for name in config.upstreams.keys() {
        if !info.upstreams.iter().any(|d| &d.name == name) {
            tracing::warn!("[upstreams.{name}] is configured but the connector does not declare it; it stays unreachable");
        }
    }
    let egress = Arc::new(Egress::new(
        routes,
        EgressLimits {
            timeout: config.http_timeout,
            max_response_bytes: config.max_response_bytes,
            ..EgressLimits::default()
        },
        redactor.clone(),
    ));
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
    let client = glean_api::GleanClient::new(&config.glean.base_url, config.glean.token.expose().to_string())
        .map_err(|e| anyhow::anyhow!("[glean] {e}"))?
        .with_timeout(config.http_timeout);
    let store = StateStore::open(&config.state_dir, &config.name)?;
    Ok(Prepared {
        connector,
        info,
        index: GleanIndex::new(client, retry),
        store,
        options: CrawlOptions {
            concurrency: config.crawl.concurrency,
            batch_size: config.crawl.batch_size,
            max_delete_share: config.crawl.max_delete_share,
            allow_mass_delete: false,
            retry,
            datasource: config.glean.datasource.clone(),
        },
        redactor,
    })
}
