//! The service's metrics in the Prometheus text format, with `prometheus-client`: crawls by
//! tenant and outcome, documents indexed and deleted, upstream requests and 429s, budget used
//! and left, crawl duration, instances created, and scheduler lag.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub tenant: String,
    pub upstream: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExportLabel {
    pub export: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub tenant: String,
    pub outcome: String,
}

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    pub crawls: Family<OutcomeLabel, Counter>,
    pub indexed: Family<TenantLabel, Counter>,
    pub deleted: Family<TenantLabel, Counter>,
    pub requests: Family<TenantLabel, Counter>,
    pub responses: Family<StatusLabel, Counter>,
    pub guest_call_seconds: Family<ExportLabel, Histogram>,
    pub throttled: Family<TenantLabel, Counter>,
    pub budget_used: Family<TenantLabel, Gauge>,
    pub budget_left: Family<TenantLabel, Gauge>,
    pub instances: Counter,
    pub crawl_seconds: Histogram,
    pub scheduler_lag_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            crawls: Family::default(),
            indexed: Family::default(),
            deleted: Family::default(),
            requests: Family::default(),
            responses: Family::default(),
            guest_call_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 18))
            }),
            throttled: Family::default(),
            budget_used: Family::default(),
            budget_left: Family::default(),
            instances: Counter::default(),
            crawl_seconds: Histogram::new(exponential_buckets(0.1, 2.0, 14)),
            scheduler_lag_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            registry: Registry::default(),
        };
        register(&mut registry, &m);
        Metrics { registry, ..m }
    }
}

/// Registers every series of `m` in `registry`, with its help text.
fn register(registry: &mut Registry, m: &Metrics) {
    registry.register(
        "harness_crawls",
        "Crawls by tenant and outcome",
        m.crawls.clone(),
    );
    registry.register(
        "harness_documents_indexed",
        "Documents indexed",
        m.indexed.clone(),
    );
    registry.register(
        "harness_documents_deleted",
        "Documents deleted",
        m.deleted.clone(),
    );
    registry.register(
        "harness_upstream_requests",
        "Requests sent to upstreams",
        m.requests.clone(),
    );
    registry.register(
        "harness_upstream_responses",
        "Upstream answers by tenant, upstream and status",
        m.responses.clone(),
    );
    registry.register(
        "harness_guest_call_seconds",
        "Time of one export call in a fresh instance",
        m.guest_call_seconds.clone(),
    );
    registry.register(
        "harness_upstream_throttled",
        "Upstream answers with HTTP 429",
        m.throttled.clone(),
    );
    registry.register(
        "harness_budget_used_requests",
        "Weekly request budget used",
        m.budget_used.clone(),
    );
    registry.register(
        "harness_budget_left_requests",
        "Weekly request budget left",
        m.budget_left.clone(),
    );
    registry.register(
        "harness_instances_created",
        "Sandbox instances created (one per export call)",
        m.instances.clone(),
    );
    registry.register(
        "harness_crawl_duration_seconds",
        "Crawl wall time",
        m.crawl_seconds.clone(),
    );
    registry.register(
        "harness_scheduler_lag_seconds",
        "How late a crawl started against its schedule",
        m.scheduler_lag_seconds.clone(),
    );
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
