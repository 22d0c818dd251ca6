//! A canary's live sample: when a tenant has no recording, the pinned component crawls the
//! first `pages` listing pages of the live source, fetching their items, onto a fresh recording
//! (fresh state in memory, documents to a scratch directory, nothing uploaded), and both
//! versions then replay that recording with the same page limit. (Pages, not items: the crawl
//! engine's limits stop before a page that would cross them, so a limit in items smaller than
//! a page would fetch nothing.) Its requests are real: each is charged to the tenant's request budget, and the
//! sample may spend at most its share of the budget (and never more than what is left of the
//! period); the request after the last is refused, not sent.

use std::path::{Path, PathBuf};

use anyhow::Context;
use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;

use tenant_instance::config::Config;
use tenant_instance::egress::Tape;
use tenant_instance::egress::tape::Recorder;
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{RunOptions, prepare_with};

/// How big a live sample may be.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Listing pages whose items are fetched (the page after them is listed, then the crawl
    /// stops at its limit).
    pub pages: u64,
    /// The share of the tenant's budget per period the sample may spend, between 0 and 1.
    pub share: f64,
}

/// A recorded live sample.
#[derive(Debug, serde::Serialize)]
pub struct Sample {
    pub tape: PathBuf,
    pub listed: u64,
    pub fetched: u64,
    /// Requests sent (and charged to the budget).
    pub requests: u64,
    /// The most the sample could send.
    pub cap: u64,
}

/// Requests a sample of `pages` may send: its share of the budget `limit` (0: none, then a
/// bound of its own), no more than the period has left after `used`, and at least one a page
/// and one more; else why not.
pub fn cap(limit: u64, used: u64, spec: &SampleSpec) -> anyhow::Result<u64> {
    let needed = spec.pages.saturating_add(1);
    if limit == 0 {
        // No budget to take a share of: a bound all the same (pages of up to 100 items, a
        // listing and two requests an item).
        return Ok(needed.saturating_mul(250));
    }
    let share = ((limit as f64) * spec.share).floor() as u64;
    let left = limit.saturating_sub(used);
    let cap = share.min(left);
    if cap < needed {
        anyhow::bail!(
            "a live sample of {} listing pages needs at least {needed} requests, and it may spend {cap} ({}% of the budget of {limit} is {share}; {left} are left this period): lower --sample-pages or raise --sample-share, or canary on a recording (--tape)",
            spec.pages,
            spec.share * 100.0,
        );
    }
    Ok(cap)
}

/// Records a live sample of `config`'s source with its pinned component into `dir`. The caller
/// holds the tenant's state lock (the budget is counted in its state); in a service, the
/// sample spends the tenant's budget and waits on its limiters (`instance`).
pub fn record(
    config: &Config,
    spec: &SampleSpec,
    dir: &Path,
    instance: Option<std::sync::Arc<tenant_instance::instance::Instance>>,
) -> anyhow::Result<Sample> {
    let now = chrono::Utc::now().timestamp();
    let (limit, period) = config.request_budget();
    let live = instance.as_ref().and_then(|i| i.live_usage(now));
    let used = match live {
        Some(usage) => usage.current_in(now, period).requests,
        None => {
            let store = state_store::SqliteStore::open(&config.state_dir, &config.name)?;
            store.budget.current_in(now, period).requests
        }
    };
    let cap = cap(limit, used, spec)?;
    let mut config = config.clone();
    config.crawl.limits.max_pages = spec.pages;
    let tape = dir.join("sample.tape");
    let options = RunOptions::new()
        .with_clock(GuestClock::Fixed(now))
        .with_tape(Tape::Record(Recorder::create(&tape, now)?))
        .with_output_dir(dir.join("sampled"))
        .with_request_cap(cap)
        .with_instance(instance);
    let runtime = tenant_instance::cached_runtime()?;
    let mut p = prepare_with(&runtime, &config, options).context("loading the pinned component")?;
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .run(CrawlMode::Full)
        .context("recording the live sample")?;
    drop(p);
    let text = std::fs::read_to_string(&tape)
        .with_context(|| format!("reading the sample {}", tape.display()))?;
    let requests = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    Ok(Sample {
        tape,
        listed: report.listed,
        fetched: report.fetched,
        requests,
        cap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_the_share_bounded_by_what_is_left() {
        let spec = SampleSpec {
            pages: 50,
            share: 0.02,
        };
        assert_eq!(cap(100_000, 0, &spec).unwrap(), 2_000);
        assert_eq!(cap(100_000, 99_000, &spec).unwrap(), 1_000);
        let e = cap(100_000, 99_990, &spec).unwrap_err().to_string();
        assert!(
            e.contains("needs at least 51 requests, and it may spend 10"),
            "{e}"
        );
        assert!(
            cap(1_000, 0, &spec)
                .unwrap_err()
                .to_string()
                .contains("raise --sample-share")
        );
        assert_eq!(cap(0, 0, &spec).unwrap(), 12_750);
    }
}
