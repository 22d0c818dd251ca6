//! A tenant's crawl state in PostgreSQL behind the engine's [`StateStore`], and its weekly
//! budget as an [`budget_period::BudgetLedger`]. Every write is one transaction whose first
//! statement is the lease fence ([`crate::lease::fence`]): a replica that lost the lease has
//! its checkpoint and its budget counts refused by the database, whatever its local view.

use anyhow::Context;
use budget_period::{BudgetLedger, BudgetUsage};
use crawl_engine::{Checkpoint, DocRecord, FailureRecord, StateMeta, StateStore};
use postgres::types::Json;

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
        let n: i64 = self.db()?.query_one(sql, &[&self.writer.tenant])?.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn records<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<(String, T)>> {
        let rows = self.db()?.query(sql, &[&self.writer.tenant, &limit])?;
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
        let row = self.db()?.query_opt(
            "SELECT record FROM documents WHERE tenant = $1 AND id = $2",
            &[&self.writer.tenant, &id],
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

/// The checkpoint's rows, inside the fenced transaction.
fn write_checkpoint(
    tx: &mut postgres::Transaction<'_>,
    tenant: &str,
    cp: &Checkpoint,
) -> anyhow::Result<()> {
    let upsert = tx.prepare(
        "INSERT INTO documents (tenant, id, record) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record",
    )?;
    for (id, rec) in &cp.upserts {
        tx.execute(&upsert, &[&tenant, id, &serde_json::to_value(rec)?])?;
    }
    tx.execute(
        "DELETE FROM documents WHERE tenant = $1 AND id = ANY($2)",
        &[&tenant, &cp.deletes],
    )?;
    if cp.reset_listed {
        tx.execute("DELETE FROM listed WHERE tenant = $1", &[&tenant])?;
    }
    tx.execute(
        "INSERT INTO listed (tenant, id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        &[&tenant, &cp.listed],
    )?;
    write_failures(tx, tenant, cp)?;
    if let Some(held) = &cp.held {
        tx.execute("DELETE FROM held_deletions WHERE tenant = $1", &[&tenant])?;
        tx.execute(
            "INSERT INTO held_deletions (tenant, id) SELECT $1, unnest($2::text[])
             ON CONFLICT DO NOTHING",
            &[&tenant, held],
        )?;
    }
    tx.execute(
        "INSERT INTO tenant_meta (tenant, meta) VALUES ($1, $2)
         ON CONFLICT (tenant) DO UPDATE SET meta = EXCLUDED.meta",
        &[&tenant, &serde_json::to_value(&cp.meta)?],
    )?;
    Ok(())
}

fn write_failures(
    tx: &mut postgres::Transaction<'_>,
    tenant: &str,
    cp: &Checkpoint,
) -> anyhow::Result<()> {
    let set = tx.prepare(
        "INSERT INTO failures (tenant, id, record) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record",
    )?;
    for (id, f) in &cp.failures {
        tx.execute(&set, &[&tenant, id, &serde_json::to_value(f)?])?;
    }
    tx.execute(
        "DELETE FROM failures WHERE tenant = $1 AND id = ANY($2)",
        &[&tenant, &cp.cleared_failures],
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
    fn record(&self, usage: &BudgetUsage) -> Result<(), String> {
        let requests = i64::try_from(usage.requests).unwrap_or(i64::MAX);
        let mut db = self.sessions.get().map_err(|e| format!("{e:#}"))?;
        self.writer
            .fenced(&mut db, |tx| {
                tx.execute(
                    "INSERT INTO budget (tenant, week_start, requests, last_sent_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant) DO UPDATE SET
                       requests = CASE WHEN budget.week_start = EXCLUDED.week_start
                         THEN GREATEST(budget.requests, EXCLUDED.requests)
                         ELSE EXCLUDED.requests END,
                       week_start = GREATEST(budget.week_start, EXCLUDED.week_start),
                       last_sent_ms = GREATEST(budget.last_sent_ms, EXCLUDED.last_sent_ms)",
                    &[
                        &self.writer.tenant,
                        &usage.week_start,
                        &requests,
                        &usage.last_sent_ms,
                    ],
                )?;
                Ok(())
            })
            .map_err(|e| format!("{e:#}"))
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
