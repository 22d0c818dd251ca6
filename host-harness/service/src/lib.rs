//! The platform service that a company runs and another program can embed: `serve` (the
//! tenants directory, the scheduler and its workers, the admin API, metrics, cluster mode on
//! PostgreSQL with leases), `canary` (diff, verdict, promotion, rollout, saved reports), the web
//! console (`console`, behind the `console` feature, on by default) and `render` (an indexed
//! document shown as a search result). It builds on `tenant-instance` for everything about one
//! tenant.

pub mod canary;
#[cfg(feature = "console")]
pub mod console;
pub mod render;
pub mod serve;
