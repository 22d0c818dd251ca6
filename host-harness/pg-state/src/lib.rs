//! Tenant state and coordination in PostgreSQL, for several `harness serve` replicas reading
//! the same tenants: versioned migrations run at start-up ([`migrate`]), one lease row per
//! tenant claimed with `FOR UPDATE SKIP LOCKED` and timed by the database clock ([`lease`]),
//! and a [`StateStore`](crawl_engine::StateStore) plus a weekly-budget ledger whose every write
//! runs in a transaction that checks the writer's epoch ([`store`]), so a replica that lost its
//! lease (killed, paused, partitioned) cannot write again; a replica's sessions come from one
//! bounded pool ([`pool`]). Operators' actions reach the replica holding a tenant through the
//! database ([`actions`]).

pub mod actions;
pub mod lease;
pub mod migrate;
pub mod pool;
pub mod store;
pub mod testing;

pub use lease::{Holder, Lease, LeaseLost, Leases};
pub use pool::{Session, Sessions};
pub use store::{PgBudgetLedger, PgStore};

use anyhow::Context;

/// Connects to `url` (`postgres://user@host:port/db`, or key=value form). The URL may hold a
/// password: it never appears in an error.
pub fn connect(url: &str) -> anyhow::Result<postgres::Client> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| anyhow::anyhow!("{}", redact(&e.to_string(), url)))
        .context("connecting to the state database (the URL is not shown)")
}

/// [`connect`] for a replica whose leases last `ttl`: a session left idle inside a
/// transaction (its process paused by SIGSTOP, a frozen VM) is ended by the server after a
/// third of the ttl, releasing its row locks, so it cannot hold a lease row locked past its
/// expiry and stall the takeover.
pub fn connect_for_leases(url: &str, ttl: std::time::Duration) -> anyhow::Result<postgres::Client> {
    let mut db = connect(url)?;
    let idle_ms = (ttl / 3).as_millis().clamp(1000, 3_600_000);
    db.batch_execute(&format!(
        "SET idle_in_transaction_session_timeout = {idle_ms}"
    ))
    .context("setting the session's idle-in-transaction limit")?;
    Ok(db)
}

/// `text` with `url` and any password in it replaced.
fn redact(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "<database URL>");
    if let Some(pw) = password_of(url) {
        out = out.replace(pw, "<password>");
    }
    out
}

fn password_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    (!pw.is_empty()).then_some(pw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_never_carry_the_password() {
        let url = "postgres://app:hunter2-secret@127.0.0.1:1/db";
        let Err(e) = super::connect(url) else {
            panic!("connected to a closed port")
        };
        let text = format!("{e:#}");
        assert!(!text.contains("hunter2-secret"), "{text}");
    }
}
