//! A replica's database sessions: one bounded pool ([`Sessions`]) that every tenant's state,
//! budget counts and console reads check a session out of for one statement or one fenced
//! transaction, then give back. A replica so holds at most `max` sessions whatever its number
//! of workers or tenants, and a crawl never opens a connection of its own (a new PostgreSQL
//! session is a new server process: milliseconds of CPU on both sides).
//!
//! Every session ends a transaction left idle for a third of the lease ttl (the server closes
//! it), so a paused process cannot hold a lease row locked past its expiry, and a statement
//! running longer than the ttl (a write that late is refused by the fence anyway). A checkout
//! waits at most a third of the ttl for a free session, and opening one at most 5 s unless the
//! URL says otherwise: a database that stalls fails the crawl's write (it retries later) and
//! does not hold a worker, or a shutdown, for long. Sessions are not
//! pinged when checked out: one the server closed is noticed by the statement that fails on
//! it (that write fails and its crawl retries later) and is then dropped from the pool.

use std::time::Duration;

use anyhow::Context;
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::postgres::NoTls;

/// A session checked out of [`Sessions`]: derefs to a client; given back when dropped.
pub type Session = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// How long opening a session may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most sessions one pool may hold (PostgreSQL's default `max_connections` is 100).
pub const MAX_SESSIONS: u32 = 1000;

/// A bounded pool of sessions on one database. Cheap to clone (the clones share the pool).
#[derive(Clone)]
pub struct Sessions {
    pool: r2d2::Pool<PostgresConnectionManager<NoTls>>,
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.pool.state();
        f.debug_struct("Sessions")
            .field("open", &state.connections)
            .field("idle", &state.idle_connections)
            .finish()
    }
}

impl Sessions {
    /// A pool of at most `max` sessions on `url`, each ending transactions left idle for a
    /// third of `ttl`. No session is opened yet; `url` never appears in an error.
    pub fn new(url: &str, ttl: Duration, max: u32) -> anyhow::Result<Sessions> {
        if !(1..=MAX_SESSIONS).contains(&max) {
            anyhow::bail!(
                "the database sessions of a replica must be between 1 and {MAX_SESSIONS} (found {max})"
            );
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| anyhow::anyhow!("{}", crate::redact(&e.to_string(), url)))
            .context("reading the state database URL (the URL is not shown)")?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let idle_ms = (ttl / 3).as_millis().clamp(1000, 3_600_000);
        let statement_ms = ttl.as_millis().clamp(1000, 3_600_000);
        let pool = r2d2::Pool::builder()
            .max_size(max)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout((ttl / 3).max(Duration::from_secs(1)))
            .idle_timeout(Some(Duration::from_secs(300)))
            .connection_customizer(Box::new(SessionLimits {
                idle_ms,
                statement_ms,
            }))
            .error_handler(Box::new(Redacting {
                url: url.to_string(),
            }))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        Ok(Sessions {
            pool,
            url: url.into(),
        })
    }

    /// A session, opening one if none is idle and the pool has room, else waiting for one
    /// (up to a third of the lease ttl).
    pub fn get(&self) -> anyhow::Result<Session> {
        self.pool
            .get()
            .map_err(|e| anyhow::anyhow!("{}", crate::redact(&e.to_string(), &self.url)))
            .context("taking a state database session (the URL is not shown)")
    }

    /// Sessions open now (idle or checked out).
    pub fn open(&self) -> u32 {
        self.pool.state().connections
    }

    /// The most sessions this pool holds.
    pub fn max(&self) -> u32 {
        self.pool.max_size()
    }
}

/// Sets the session's limits when it is opened: idle in a transaction, and one statement.
#[derive(Debug)]
struct SessionLimits {
    idle_ms: u128,
    statement_ms: u128,
}

impl r2d2::CustomizeConnection<postgres::Client, postgres::Error> for SessionLimits {
    fn on_acquire(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        conn.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {}; SET statement_timeout = {}",
            self.idle_ms, self.statement_ms
        ))
    }
}

/// Logs the pool's background errors (a session that could not be opened) without the URL.
#[derive(Debug)]
struct Redacting {
    url: String,
}

impl r2d2::HandleError<postgres::Error> for Redacting {
    fn handle_error(&self, error: postgres::Error) {
        tracing::warn!(
            "opening a state database session: {}",
            crate::redact(&error.to_string(), &self.url)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_out_of_range_are_refused() {
        let url = "postgres://app@127.0.0.1:1/db";
        for bad in [0, MAX_SESSIONS + 1] {
            let e = Sessions::new(url, Duration::from_secs(15), bad).unwrap_err();
            assert!(format!("{e:#}").contains("between 1 and"), "{e:#}");
        }
    }

    #[test]
    fn a_failed_checkout_never_carries_the_password() {
        let url = "postgres://app:hunter2-secret@127.0.0.1:1/db?connect_timeout=1";
        let pool = Sessions::new(url, Duration::from_secs(15), 1).unwrap();
        let pool = Sessions {
            pool: r2d2::Pool::builder()
                .max_size(1)
                .min_idle(Some(0))
                .connection_timeout(Duration::from_millis(300))
                .build_unchecked(PostgresConnectionManager::new(url.parse().unwrap(), NoTls)),
            ..pool
        };
        let Err(e) = pool.get() else {
            panic!("a session on a closed port")
        };
        let text = format!("{e:#}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("state database session"), "{text}");
    }

    #[test]
    fn a_url_that_does_not_parse_is_not_echoed() {
        let url = "postgres://app:hunter2-secret@127.0.0.1:notaport/db";
        let e = Sessions::new(url, Duration::from_secs(15), 4).unwrap_err();
        let text = format!("{e:#}");
        assert!(!text.contains("hunter2-secret"), "{text}");
    }
}
