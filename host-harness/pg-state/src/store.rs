//! A tenant's crawl state in PostgreSQL behind the engine's [`StateStore`], and its weekly
//! budget as an [`budget_period::BudgetLedger`]. Every write is fenced: a checkpoint is one
//! transaction whose first statement is the lease fence ([`crate::lease::fence`]), a budget
//! count one statement with the same check inside it; a replica that lost the lease has its
//! checkpoint and its budget counts refused by the database, whatever its local view.
//!
//! Statements go out typed (`query_typed`: one round trip, no separate prepare), a
//! checkpoint's rows go in one statement per table (arrays, `unnest`), empty parts of a
//! checkpoint send nothing, and a budget count is one statement with the fence inside it.

use anyhow::Context;
use budget_period::{BudgetLedger, BudgetUsage};
use crawl_engine::{Checkpoint, DocRecord, FailureRecord, StateMeta, StateStore};
use postgres::types::{Json, Type};

use crate::lease::{Lease, fence};
use crate::pool::{Session, Sessions};

/// Who may write a tenant: its lease's owner and epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Writer {
    tenant: String,
    owner: String,
    epoch: i64,
}

impl Writer {
    fn of(lease: &Lease) -> Writer {
        Writer {
            tenant: lease.tenant.clone(),
            owner: lease.owner.clone(),
            epoch: lease.epoch,
        }
    }

    /// Runs `write` in a transaction opened by the fence.
    fn fenced(
        &self,
        db: &mut postgres::Client,
        write: impl FnOnce(&mut postgres::Transaction<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut tx = db.transaction()?;
        fence(&mut tx, &self.tenant, &self.owner, self.epoch)?;
        write(&mut tx)?;
        tx.commit().context("committing a fenced write")
    }
}

/// One tenant's state, written under its lease. Each read or fenced write takes a session from
/// the replica's pool ([`Sessions`]) and gives it back, so a crawl holds no session while it
/// waits on its source.
pub struct PgStore {
    /// Shared with the tenant's budget ledger ([`PgBudgetLedger::sharing`]).
    sessions: Sessions,
    writer: Writer,
    meta: StateMeta,
}

impl PgStore {
    /// Opens `lease`'s tenant, its sessions from `sessions`.
    pub fn open(sessions: &Sessions, lease: &Lease) -> anyhow::Result<PgStore> {
        Ok(PgStore {
            meta: load_meta(&mut *sessions.get()?, &lease.tenant)?,
            sessions: sessions.clone(),
            writer: Writer::of(lease),
        })
    }

    /// Opens `tenant`'s state to read it without a lease (the console on any replica): the
    /// fence refuses every write, as it refuses a lost lease's (no lease has epoch -1).
    pub fn read_only(sessions: &Sessions, tenant: &str) -> anyhow::Result<PgStore> {
        Ok(PgStore {
            meta: load_meta(&mut *sessions.get()?, tenant)?,
            sessions: sessions.clone(),
            writer: Writer {
                tenant: tenant.to_string(),
                owner: String::new(),
                epoch: -1,
            },
        })
    }

    fn db(&self) -> anyhow::Result<Session> {
        self.sessions.get()
    }

    fn count(&self, sql: &str) -> anyhow::Result<u64> {
        let n: i64 = self
            .db()?
            .query_typed_one(sql, &[(&self.writer.tenant, Type::TEXT)])?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn records<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<(String, T)>> {
        let rows = self.db()?.query_typed(
            sql,
            &[(&self.writer.tenant, Type::TEXT), (&limit, Type::INT8)],
        )?;
        rows.into_iter()
            .map(|r| {
                let id: String = r.get(0);
                let value: serde_json::Value = r.get(1);
                let record = serde_json::from_value(value)
                    .with_context(|| format!("a stored record of {id} is not readable"))?;
                Ok((id, record))
            })
            .collect()
    }
}

impl StateStore for PgStore {
    fn meta(&self) -> &StateMeta {
        &self.meta
    }

    fn document(&self, id: &str) -> anyhow::Result<Option<DocRecord>> {
        let row = self.db()?.query_typed_opt(
            "SELECT record FROM documents WHERE tenant = $1 AND id = $2",
            &[(&self.writer.tenant, Type::TEXT), (&id, Type::TEXT)],
        )?;
        row.map(|r| serde_json::from_value(r.get(0)).context("a stored document record"))
            .transpose()
    }

    fn document_count(&self) -> anyhow::Result<u64> {
        self.count("SELECT count(*) FROM documents WHERE tenant = $1")
    }

    fn listed_count(&self) -> anyhow::Result<u64> {
        self.count("SELECT count(*) FROM listed WHERE tenant = $1")
    }

    fn unlisted_documents(&self) -> anyhow::Result<Vec<(String, DocRecord)>> {
        self.records(
            "SELECT d.id, d.record FROM documents d WHERE d.tenant = $1 AND NOT EXISTS
               (SELECT 1 FROM listed l WHERE l.tenant = d.tenant AND l.id = d.id)
             ORDER BY d.id LIMIT $2",
            i64::MAX,
        )
    }

    fn held_deletions(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .db()?
            .query(
                "SELECT id FROM held_deletions WHERE tenant = $1 ORDER BY id",
                &[&self.writer.tenant],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn failures(&self, limit: usize) -> anyhow::Result<(u64, Vec<(String, FailureRecord)>)> {
        let total = self.count("SELECT count(*) FROM failures WHERE tenant = $1")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let some = self.records(
            "SELECT id, record FROM failures WHERE tenant = $1 ORDER BY id LIMIT $2",
            limit,
        )?;
        Ok((total, some))
    }

    fn commit(&mut self, cp: Checkpoint) -> anyhow::Result<()> {
        let writer = self.writer.clone();
        writer.fenced(&mut *self.db()?, |tx| {
            write_checkpoint(tx, &writer.tenant, &cp)
        })?;
        self.meta = cp.meta;
        Ok(())
    }
}

/// The tenant's stored meta (none yet: the default).
fn load_meta(db: &mut postgres::Client, tenant: &str) -> anyhow::Result<StateMeta> {
    Ok(db
        .query_opt("SELECT meta FROM tenant_meta WHERE tenant = $1", &[&tenant])?
        .map(|r| r.get::<_, Json<StateMeta>>(0).0)
        .unwrap_or_default())
}

/// The checkpoint's rows, inside the fenced transaction: one statement per table that
/// changes.
fn write_checkpoint(
    tx: &mut postgres::Transaction<'_>,
    tenant: &str,
    cp: &Checkpoint,
) -> anyhow::Result<()> {
    upsert_records(tx, "documents", tenant, &cp.upserts)?;
    if !cp.deletes.is_empty() {
        with_ids(
            tx,
            "DELETE FROM documents WHERE tenant = $1 AND id = ANY($2)",
            tenant,
            &cp.deletes,
        )?;
    }
    if cp.reset_listed {
        tx.execute_typed(
            "DELETE FROM listed WHERE tenant = $1",
            &[(&tenant, Type::TEXT)],
        )?;
    }
    if !cp.listed.is_empty() {
        with_ids(
            tx,
            "INSERT INTO listed (tenant, id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
            tenant,
            &cp.listed,
        )?;
    }
    upsert_records(tx, "failures", tenant, &cp.failures)?;
    if !cp.cleared_failures.is_empty() {
        with_ids(
            tx,
            "DELETE FROM failures WHERE tenant = $1 AND id = ANY($2)",
            tenant,
            &cp.cleared_failures,
        )?;
    }
    if let Some(held) = &cp.held {
        tx.execute_typed(
            "DELETE FROM held_deletions WHERE tenant = $1",
            &[(&tenant, Type::TEXT)],
        )?;
        if !held.is_empty() {
            with_ids(
                tx,
                "INSERT INTO held_deletions (tenant, id) SELECT $1, unnest($2::text[])
                 ON CONFLICT DO NOTHING",
                tenant,
                held,
            )?;
        }
    }
    let meta = serde_json::to_value(&cp.meta)?;
    tx.execute_typed(
        "INSERT INTO tenant_meta (tenant, meta) VALUES ($1, $2)
         ON CONFLICT (tenant) DO UPDATE SET meta = EXCLUDED.meta",
        &[(&tenant, Type::TEXT), (&meta, Type::JSONB)],
    )?;
    Ok(())
}

/// Runs `sql` whose parameters are the tenant and a list of ids.
fn with_ids(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    tenant: &str,
    ids: &[String],
) -> anyhow::Result<()> {
    tx.execute_typed(sql, &[(&tenant, Type::TEXT), (&ids, Type::TEXT_ARRAY)])?;
    Ok(())
}

/// Upserts `records` (id, record) into `table` (`documents` or `failures`) in one statement;
/// of an id given twice, the last record wins.
fn upsert_records<T: serde::Serialize>(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    tenant: &str,
    records: &[(String, T)],
) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut last: std::collections::HashMap<&str, &T> = std::collections::HashMap::new();
    for (id, r) in records {
        last.insert(id.as_str(), r);
    }
    let mut ids = Vec::with_capacity(last.len());
    let mut values = Vec::with_capacity(last.len());
    for (id, r) in last {
        ids.push(id);
        values.push(serde_json::to_value(r)?);
    }
    tx.execute_typed(
        &format!(
            "INSERT INTO {table} (tenant, id, record)
             SELECT $1, unnest($2::text[]), unnest($3::jsonb[])
             ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record"
        ),
        &[
            (&tenant, Type::TEXT),
            (&ids, Type::TEXT_ARRAY),
            (&values, Type::JSONB_ARRAY),
        ],
    )?;
    Ok(())
}

/// The tenant's weekly budget in the database: one row, written request by request under the
/// lease, never lowered within a week (so the count is exact across replicas and takeovers:
/// a new holder starts from the row, and a stale one cannot write).
pub struct PgBudgetLedger {
    sessions: Sessions,
    writer: Writer,
}

impl PgBudgetLedger {
    /// A ledger for `lease`'s tenant, its sessions from `sessions`.
    pub fn new(sessions: &Sessions, lease: &Lease) -> PgBudgetLedger {
        PgBudgetLedger {
            sessions: sessions.clone(),
            writer: Writer::of(lease),
        }
    }

    /// A ledger on `store`'s pool, under the same lease.
    pub fn sharing(store: &PgStore) -> PgBudgetLedger {
        PgBudgetLedger {
            sessions: store.sessions.clone(),
            writer: store.writer.clone(),
        }
    }

    /// The usage stored for `tenant` (none yet: zero).
    pub fn load(db: &mut postgres::Client, tenant: &str) -> anyhow::Result<BudgetUsage> {
        Ok(db
            .query_opt(
                "SELECT week_start, requests, last_sent_ms FROM budget WHERE tenant = $1",
                &[&tenant],
            )?
            .map(|r| BudgetUsage {
                week_start: r.get(0),
                requests: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                last_sent_ms: r.get(2),
            })
            .unwrap_or_default())
    }
}

impl BudgetLedger for PgBudgetLedger {
    /// One statement: the fence (the lease row locked for share) and the count together, so a
    /// request sent costs one round trip to the database.
    fn record(&self, usage: &BudgetUsage) -> Result<(), String> {
        let requests = i64::try_from(usage.requests).unwrap_or(i64::MAX);
        let mut db = self.sessions.get().map_err(|e| format!("{e:#}"))?;
        let w = &self.writer;
        let written = db
            .execute_typed(
                "WITH fence AS (
                   SELECT 1 FROM leases
                   WHERE tenant = $1 AND owner = $5 AND epoch = $6 AND expires_at > now()
                   FOR SHARE)
                 INSERT INTO budget (tenant, week_start, requests, last_sent_ms)
                 SELECT $1, $2, $3, $4 FROM fence
                 ON CONFLICT (tenant) DO UPDATE SET
                   requests = CASE WHEN budget.week_start = EXCLUDED.week_start
                     THEN GREATEST(budget.requests, EXCLUDED.requests)
                     ELSE EXCLUDED.requests END,
                   week_start = GREATEST(budget.week_start, EXCLUDED.week_start),
                   last_sent_ms = GREATEST(budget.last_sent_ms, EXCLUDED.last_sent_ms)",
                &[
                    (&w.tenant, Type::TEXT),
                    (&usage.week_start, Type::INT8),
                    (&requests, Type::INT8),
                    (&usage.last_sent_ms, Type::INT8),
                    (&w.owner, Type::TEXT),
                    (&w.epoch, Type::INT8),
                ],
            )
            .map_err(|e| format!("counting a request in the state database: {e}"))?;
        if written == 0 {
            return Err(crate::LeaseLost {
                tenant: w.tenant.clone(),
                epoch: w.epoch,
            }
            .to_string());
        }
        Ok(())
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("tenant", &self.writer.tenant)
            .field("epoch", &self.writer.epoch)
            .finish()
    }
}

impl std::fmt::Debug for PgBudgetLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBudgetLedger")
            .field("tenant", &self.writer.tenant)
            .field("epoch", &self.writer.epoch)
            .finish()
    }
}
