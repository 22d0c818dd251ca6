//! Versioned schema migrations, run at start-up by every replica. Each runs once, in order,
//! inside one transaction holding an advisory lock, so replicas starting together neither race
//! nor apply a step twice; a database newer than this binary is refused.

use anyhow::Context;

/// Migration steps, in order; the version of step `i` is `i + 1`. Never edit a released step:
/// add one.
const STEPS: &[&str] = &[
    // 1: leases, the epoch log, tenant state, documents, listing, failures, held deletions,
    //    the weekly budget.
    "CREATE TABLE leases (
        tenant TEXT PRIMARY KEY,
        owner TEXT,
        epoch BIGINT NOT NULL DEFAULT 0,
        expires_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
     );
     CREATE TABLE epoch_log (
        tenant TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        owner TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, epoch)
     );
     CREATE TABLE tenant_meta (tenant TEXT PRIMARY KEY, meta JSONB NOT NULL);
     CREATE TABLE documents (
        tenant TEXT NOT NULL, id TEXT NOT NULL, record JSONB NOT NULL,
        PRIMARY KEY (tenant, id)
     );
     CREATE TABLE listed (tenant TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant, id));
     CREATE TABLE failures (
        tenant TEXT NOT NULL, id TEXT NOT NULL, record JSONB NOT NULL,
        PRIMARY KEY (tenant, id)
     );
     CREATE TABLE held_deletions (tenant TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant, id));
     CREATE TABLE budget (
        tenant TEXT PRIMARY KEY,
        week_start BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        last_sent_ms BIGINT NOT NULL
     );",
    // 2: replicas and when each was last seen, for sharing tenants fairly.
    "CREATE TABLE replicas (owner TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL);",
    // 3: operators' actions routed through the database: the paused tenants, and the actions
    //    waiting for the replica holding a tenant.
    "CREATE TABLE paused_tenants (
        tenant TEXT PRIMARY KEY,
        paused_at TIMESTAMPTZ NOT NULL DEFAULT now()
     );
     CREATE TABLE tenant_actions (
        id BIGSERIAL PRIMARY KEY,
        tenant TEXT NOT NULL,
        action TEXT NOT NULL,
        asked_of TEXT NOT NULL,
        asked_at TIMESTAMPTZ NOT NULL DEFAULT now()
     );
     CREATE INDEX tenant_actions_by_tenant ON tenant_actions (tenant);",
];

/// The schema version this binary writes.
pub const VERSION: i64 = STEPS.len() as i64;

/// Brings the schema to [`VERSION`]; answers the version found before.
pub fn run(db: &mut postgres::Client) -> anyhow::Result<i64> {
    let mut tx = db.transaction().context("starting the migration")?;
    // One key for all replicas of this schema: the second waits for the first to finish.
    tx.execute("SELECT pg_advisory_xact_lock(7301995)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    if found > VERSION {
        anyhow::bail!(
            "the state database has schema version {found}, newer than this harness's {VERSION}; run a harness at least as new as the one that migrated it"
        );
    }
    for (i, step) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let version = i as i64 + 1;
        tx.batch_execute(step)
            .with_context(|| format!("applying schema migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )?;
    }
    tx.commit().context("committing the migration")?;
    Ok(found)
}
