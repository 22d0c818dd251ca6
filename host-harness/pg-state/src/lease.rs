//! Leases: which replica may crawl and write a tenant. One row per tenant (`tenant`, `owner`,
//! `epoch`, `expires_at`), timed by the database clock. A claim takes expired or free rows with
//! `FOR UPDATE SKIP LOCKED` (replicas claiming together never wait on each other nor take the
//! same row) and increments the epoch, logging it; a renewal extends the lease only `WHERE
//! epoch = mine` and before it expired, so a renewal that changes no row means the lease is
//! lost for good. Each lease also carries a local monotonic deadline (the ttl, less a margin,
//! from before the claim or renewal was sent): past it, the holder treats the lease as lost
//! without asking the database (a paused process wakes up knowing).

use std::time::{Duration, Instant};

/// A lease held by this replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub tenant: String,
    pub owner: String,
    pub epoch: i64,
    deadline: Instant,
}

impl Lease {
    /// Whether the local deadline has not passed: checked before every upload.
    pub fn fresh(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// Time left before the local deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// The lease on a tenant is no longer this replica's: stop, write nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLost {
    pub tenant: String,
    pub epoch: i64,
}

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the lease on tenant {} (epoch {}) is lost: another replica holds it or it expired; nothing more is written",
            self.tenant, self.epoch
        )
    }
}

impl std::error::Error for LeaseLost {}

/// This replica's side of the lease table.
#[derive(Debug, Clone)]
pub struct Leases {
    owner: String,
    ttl: Duration,
}

/// Who holds a tenant, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub tenant: String,
    pub owner: Option<String>,
    pub epoch: i64,
    pub live: bool,
}

impl Leases {
    /// `owner` names this replica (unique: host name and pid, say); `ttl` at least a second.
    pub fn new(owner: impl Into<String>, ttl: Duration) -> anyhow::Result<Leases> {
        if ttl < Duration::from_secs(1) {
            anyhow::bail!("the lease ttl must be at least 1 s (got {ttl:?})");
        }
        Ok(Leases {
            owner: owner.into(),
            ttl,
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How often to renew: a third of the ttl.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// The local deadline for a lease whose claim or renewal was sent at `sent`.
    fn deadline(&self, sent: Instant) -> Instant {
        sent + self.ttl - self.ttl / 5
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Makes sure every tenant in `tenants` has a lease row.
    pub fn register(&self, db: &mut postgres::Client, tenants: &[String]) -> anyhow::Result<()> {
        db.execute(
            "INSERT INTO leases (tenant) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            &[&tenants],
        )?;
        Ok(())
    }

    /// Claims up to `max` of `wanted` whose lease is free or expired, in one statement; each
    /// claim increments the epoch and is logged.
    pub fn claim(
        &self,
        db: &mut postgres::Client,
        wanted: &[String],
        max: i64,
    ) -> anyhow::Result<Vec<Lease>> {
        let sent = Instant::now();
        let rows = db.query(
            "WITH picked AS (
               SELECT tenant FROM leases
               WHERE tenant = ANY($1) AND (owner IS NULL OR expires_at <= now())
               ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
             claimed AS (
               UPDATE leases l SET owner = $3, epoch = l.epoch + 1,
                 expires_at = now() + $4 * interval '1 millisecond'
               FROM picked WHERE l.tenant = picked.tenant
               RETURNING l.tenant, l.epoch)
             INSERT INTO epoch_log (tenant, epoch, owner)
             SELECT tenant, epoch, $3 FROM claimed RETURNING tenant, epoch",
            &[&wanted, &max, &self.owner, &(self.ttl_ms() as f64)],
        )?;
        Ok(rows
            .into_iter()
            .map(|row| Lease {
                tenant: row.get(0),
                owner: self.owner.clone(),
                epoch: row.get(1),
                deadline: self.deadline(sent),
            })
            .collect())
    }

    /// Extends every lease in `leases` in one statement; returns those no longer ours (and
    /// never ours again), whose local deadline is set to have passed.
    pub fn renew_many(
        &self,
        db: &mut postgres::Client,
        leases: &mut [Lease],
    ) -> anyhow::Result<Vec<LeaseLost>> {
        let sent = Instant::now();
        let tenants: Vec<&str> = leases.iter().map(|l| l.tenant.as_str()).collect();
        let epochs: Vec<i64> = leases.iter().map(|l| l.epoch).collect();
        let renewed: std::collections::HashSet<String> = db
            .query(
                "UPDATE leases l SET expires_at = now() + $4 * interval '1 millisecond'
                 FROM unnest($1::text[], $2::bigint[]) AS m(tenant, epoch)
                 WHERE l.tenant = m.tenant AND l.epoch = m.epoch AND l.owner = $3
                   AND l.expires_at > now()
                 RETURNING l.tenant",
                &[&tenants, &epochs, &self.owner, &(self.ttl_ms() as f64)],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        let mut lost = Vec::new();
        for lease in leases.iter_mut() {
            if renewed.contains(&lease.tenant) {
                lease.deadline = self.deadline(sent);
            } else {
                lease.deadline = sent;
                lost.push(LeaseLost {
                    tenant: lease.tenant.clone(),
                    epoch: lease.epoch,
                });
            }
        }
        Ok(lost)
    }

    /// Extends `lease`; [`LeaseLost`] when it is no longer ours (and never will be again).
    pub fn renew(&self, db: &mut postgres::Client, lease: &mut Lease) -> anyhow::Result<()> {
        match self.renew_many(db, std::slice::from_mut(lease))?.pop() {
            Some(lost) => Err(lost.into()),
            None => Ok(()),
        }
    }

    /// Gives `lease` up (a drain, a tenant removed): another replica may claim it at once.
    pub fn release(&self, db: &mut postgres::Client, lease: &Lease) -> anyhow::Result<()> {
        db.execute(
            "UPDATE leases SET owner = NULL, expires_at = '-infinity'
             WHERE tenant = $1 AND owner = $2 AND epoch = $3",
            &[&lease.tenant, &self.owner, &lease.epoch],
        )?;
        Ok(())
    }

    /// Says this replica is alive (by the database clock).
    pub fn heartbeat(&self, db: &mut postgres::Client) -> anyhow::Result<()> {
        db.execute(
            "INSERT INTO replicas (owner, seen_at) VALUES ($1, now())
             ON CONFLICT (owner) DO UPDATE SET seen_at = now()",
            &[&self.owner],
        )?;
        Ok(())
    }

    /// Replicas seen within a ttl, this one included: tenants are shared among them.
    pub fn live_replicas(&self, db: &mut postgres::Client) -> anyhow::Result<u64> {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM replicas
                 WHERE seen_at > now() - $1 * interval '1 millisecond' OR owner = $2",
                &[&(self.ttl_ms() as f64), &self.owner],
            )?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(1).max(1))
    }

    /// Leaves the replica table (a drain): the others take this one's share at once.
    pub fn leave(&self, db: &mut postgres::Client) -> anyhow::Result<()> {
        db.execute("DELETE FROM replicas WHERE owner = $1", &[&self.owner])?;
        Ok(())
    }

    /// Every tenant's holder.
    pub fn holders(db: &mut postgres::Client) -> anyhow::Result<Vec<Holder>> {
        Ok(db
            .query(
                "SELECT tenant, owner, epoch, (owner IS NOT NULL AND expires_at > now())
                 FROM leases ORDER BY tenant",
                &[],
            )?
            .into_iter()
            .map(|r| Holder {
                tenant: r.get(0),
                owner: r.get(1),
                epoch: r.get(2),
                live: r.get(3),
            })
            .collect())
    }
}

/// Fails unless `lease` is still held in the database, locking its row until `tx` ends so no
/// claim can take it meanwhile: the first statement of every fenced write.
pub fn fence(
    tx: &mut postgres::Transaction<'_>,
    tenant: &str,
    owner: &str,
    epoch: i64,
) -> anyhow::Result<()> {
    use postgres::types::Type;
    let held = tx.query_typed_opt(
        "SELECT 1 FROM leases
         WHERE tenant = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()
         FOR SHARE",
        &[
            (&tenant, Type::TEXT),
            (&owner, Type::TEXT),
            (&epoch, Type::INT8),
        ],
    )?;
    if held.is_none() {
        return Err(LeaseLost {
            tenant: tenant.to_string(),
            epoch,
        }
        .into());
    }
    Ok(())
}
