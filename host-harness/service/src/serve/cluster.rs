//! Several `harness serve` replicas reading the same tenants directory, coordinated through
//! PostgreSQL (`harness serve --database-url-env NAME`). A replica crawls only the tenants it
//! holds a lease on ([`pg_state::Leases`]); it renews them every third of the ttl, takes a
//! fair share of the tenants (all of them over the live replicas), and gives back the excess
//! when replicas join. A lease it cannot renew is lost for good: the tenant's running crawl is
//! stopped at once (its stop flag), every state write it still tries is refused by the
//! database's fence, and no upload leaves after the lease's local deadline ([`FencedSink`]).
//! On SIGTERM the replica releases its leases and leaves, so the others take over at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use crawl_engine::types::{ConnectorInfo, User};
use crawl_engine::{Document, Sink, UsersUpload};
use pg_state::actions::{self, Action};
use pg_state::{Holder, Lease, Leases, PgBudgetLedger, PgStore, Sessions};

use tenant_instance::setup::ExternalState;

/// The most database sessions a replica's pool may hold.
pub use pg_state::pool::MAX_SESSIONS;

/// A lease this replica holds, and the flag its crawl stops on.
#[derive(Debug, Clone)]
pub struct Held {
    pub lease: Lease,
    /// Set when the lease is lost (or the service stops): the crawl stops at once.
    pub stop: Arc<AtomicBool>,
}

/// This replica's view of the cluster.
pub struct Cluster {
    url: String,
    leases: Leases,
    held: Mutex<BTreeMap<String, Held>>,
    db: Mutex<Option<postgres::Client>>,
    /// The sessions crawls and console reads take a statement or a fenced write at a time.
    sessions: Sessions,
    /// Tenants known to have a lease row (registered once, not at every round).
    registered: Mutex<BTreeSet<String>>,
    holders: Mutex<BTreeMap<String, Holder>>,
    rounds: std::sync::atomic::AtomicU64,
    ttl: Duration,
    /// Operators' actions asked of this replica, on their way to the database (next round).
    outbox: Mutex<VecDeque<Outgoing>>,
    /// What the last round read from the database for the service to apply.
    inbox: Mutex<Inbox>,
}

/// An operator's action on its way to the database.
#[derive(Debug, Clone)]
enum Outgoing {
    Paused(String, bool),
    Action(String, Action),
}

/// The most actions waiting in this replica for the database to be reachable.
pub const MAX_OUTBOX: usize = 1024;

/// Why an action was not routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog;

impl std::fmt::Display for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{MAX_OUTBOX} actions are waiting for the state database already (is it reachable?): try again later"
        )
    }
}

/// What a round read for the service: the paused set (every replica applies it to every
/// tenant) and the actions for tenants held here.
#[derive(Debug, Default)]
pub struct Inbox {
    pub paused: Option<BTreeSet<String>>,
    pub actions: Vec<(String, Action)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("owner", &self.leases.owner())
            .finish()
    }
}

impl Cluster {
    /// Connects, runs the migrations, and stands ready to claim; crawls and console reads
    /// share at most `sessions` more database sessions. `url` never appears in an error.
    pub fn connect(
        url: String,
        owner: String,
        ttl: Duration,
        sessions: u32,
    ) -> anyhow::Result<Arc<Cluster>> {
        let sessions = Sessions::new(&url, ttl, sessions)?;
        let mut db = pg_state::connect_for_leases(&url, ttl)?;
        let found = pg_state::migrate::run(&mut db)?;
        if found < pg_state::migrate::VERSION {
            tracing::info!(
                "state database migrated from schema {found} to {}",
                pg_state::migrate::VERSION
            );
        }
        Ok(Arc::new(Cluster {
            url,
            leases: Leases::new(owner, ttl)?,
            held: Mutex::new(BTreeMap::new()),
            db: Mutex::new(Some(db)),
            sessions,
            registered: Mutex::new(BTreeSet::new()),
            holders: Mutex::new(BTreeMap::new()),
            rounds: std::sync::atomic::AtomicU64::new(0),
            ttl,
            outbox: Mutex::new(VecDeque::new()),
            inbox: Mutex::new(Inbox::default()),
        }))
    }

    /// A connection whose session the server ends when it idles in a transaction.
    fn session(&self) -> anyhow::Result<postgres::Client> {
        pg_state::connect_for_leases(&self.url, self.ttl)
    }

    pub fn owner(&self) -> &str {
        self.leases.owner()
    }

    /// How often [`Cluster::tick`] should run.
    pub fn tick_every(&self) -> Duration {
        self.leases.renew_every()
    }

    /// The lease on `tenant`, if this replica holds it and its local deadline has not passed.
    pub fn holds(&self, tenant: &str) -> Option<Held> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(tenant)
            .filter(|h| !h.stop.load(Ordering::SeqCst) && h.lease.fresh())
            .cloned()
    }

    /// Whether the lease of `epoch` on `tenant` is still this replica's, by its local deadline.
    fn still_holds(&self, tenant: &str, epoch: i64) -> bool {
        self.holds(tenant).is_some_and(|h| h.lease.epoch == epoch)
    }

    /// Which replica holds `tenant`, as last seen.
    pub fn holder(&self, tenant: &str) -> Option<String> {
        let holders = self.holders.lock().unwrap_or_else(|e| e.into_inner());
        holders
            .get(tenant)
            .filter(|h| h.live)
            .and_then(|h| h.owner.clone())
    }

    /// The tenant's state in the database, written under `held`'s lease.
    pub fn open_state(&self, held: &Held) -> anyhow::Result<ExternalState> {
        let budget = PgBudgetLedger::load(&mut *self.sessions.get()?, &held.lease.tenant)?;
        let store = PgStore::open(&self.sessions, &held.lease)?;
        let ledger = PgBudgetLedger::sharing(&store);
        Ok(ExternalState::new(
            Box::new(store),
            budget,
            Arc::new(ledger),
            held.lease.epoch,
        ))
    }

    /// `tenant`'s state to read, whoever holds it (the console on any replica).
    pub fn read_state(&self, tenant: &str) -> anyhow::Result<Box<dyn crawl_engine::StateStore>> {
        Ok(Box::new(PgStore::read_only(&self.sessions, tenant)?))
    }

    /// `inner` with every write checked against the lease first.
    pub fn fence(self: &Arc<Self>, inner: Box<dyn Sink>, held: &Held) -> Box<dyn Sink> {
        Box::new(FencedSink {
            inner,
            cluster: self.clone(),
            tenant: held.lease.tenant.clone(),
            epoch: held.lease.epoch,
        })
    }

    /// One round: heartbeat, renew what is held (a renewal that fails loses the lease), give
    /// back leases of tenants gone or beyond a fair share, claim up to the fair share.
    /// `known` are the tenants this replica can serve; `running` those crawling now.
    pub fn tick(&self, known: &[String], running: &BTreeSet<String>) {
        let mut slot = self.db.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            match self.session() {
                Ok(db) => *slot = Some(db),
                Err(e) => {
                    tracing::warn!("the state database is unreachable: {e:#}");
                    self.expire_overdue();
                    return;
                }
            }
        }
        let Some(db) = slot.as_mut() else { return };
        if let Err(e) = self.round(db, known, running) {
            tracing::warn!("a lease round failed: {e:#}");
            *slot = None;
            // The database may have been restored from a backup: register everything again.
            self.registered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.expire_overdue();
        }
    }

    fn round(
        &self,
        db: &mut postgres::Client,
        known: &[String],
        running: &BTreeSet<String>,
    ) -> anyhow::Result<()> {
        self.leases.heartbeat(db)?;
        self.register(db, known)?;
        // The first round only says this replica is here: replicas starting together see
        // each other before anyone claims, so the first claims are already fair.
        if self.rounds.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(());
        }
        self.renew_all(db)?;
        let share = fair_share(known.len(), self.leases.live_replicas(db)?);
        let give_back = self.excess(known, running, share);
        for h in give_back {
            self.drop_lease(&h.lease.tenant);
            self.leases.release(db, &h.lease)?;
        }
        let held_now = self.held.lock().unwrap_or_else(|e| e.into_inner()).len();
        let room = share.saturating_sub(held_now);
        if room > 0 {
            let wanted: Vec<String> = {
                let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                known
                    .iter()
                    .filter(|t| !held.contains_key(*t))
                    .cloned()
                    .collect()
            };
            let claimed = self
                .leases
                .claim(db, &wanted, i64::try_from(room).unwrap_or(0))?;
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            for lease in claimed {
                tracing::info!(tenant = %lease.tenant, epoch = lease.epoch, "lease claimed");
                let stop = Arc::new(AtomicBool::new(false));
                held.insert(lease.tenant.clone(), Held { lease, stop });
            }
        }
        let holders = Leases::holders(db)?;
        *self.holders.lock().unwrap_or_else(|e| e.into_inner()) =
            holders.into_iter().map(|h| (h.tenant.clone(), h)).collect();
        self.flush(db)?;
        self.collect(db)
    }

    /// Gives the tenants not yet registered a lease row.
    fn register(&self, db: &mut postgres::Client, known: &[String]) -> anyhow::Result<()> {
        let mut registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        if registered.len() > known.len().saturating_mul(2) {
            // Tenants come and go: forget the gone ones now and then (re-registering is a no-op).
            registered.clear();
        }
        let new: Vec<String> = known
            .iter()
            .filter(|t| !registered.contains(*t))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        self.leases.register(db, &new)?;
        registered.extend(new);
        Ok(())
    }

    /// Routes a pause or a resume of `tenant` to every replica (through the database, at the
    /// next round).
    pub fn route_paused(&self, tenant: &str, paused: bool) -> Result<(), Backlog> {
        self.send(Outgoing::Paused(tenant.to_string(), paused))
    }

    /// Routes `action` to the replica holding `tenant` (through the database, at the next
    /// round; the holder applies it at its next round).
    pub fn route_action(&self, tenant: &str, action: Action) -> Result<(), Backlog> {
        self.send(Outgoing::Action(tenant.to_string(), action))
    }

    fn send(&self, out: Outgoing) -> Result<(), Backlog> {
        let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if outbox.len() >= MAX_OUTBOX {
            return Err(Backlog);
        }
        outbox.push_back(out);
        Ok(())
    }

    /// Writes the outbox to the database, oldest first; what fails stays for the next round.
    fn flush(&self, db: &mut postgres::Client) -> anyhow::Result<()> {
        loop {
            let Some(out) = self
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            else {
                return Ok(());
            };
            let written = match &out {
                Outgoing::Paused(t, p) => actions::set_paused(db, t, *p).map(|()| true),
                Outgoing::Action(t, a) => actions::enqueue(db, t, *a, self.owner()),
            };
            match written {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "dropped an operator's action ({out:?}): the tenant has {} waiting already",
                    actions::MAX_PENDING
                ),
                Err(e) => {
                    self.outbox
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_front(out);
                    return Err(e);
                }
            }
        }
    }

    /// Reads the paused set and takes the actions for the tenants held here, for the service.
    fn collect(&self, db: &mut postgres::Client) -> anyhow::Result<()> {
        let paused = actions::paused(db)?;
        let held: Vec<String> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        let taken = actions::take(db, &held)?;
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.paused = Some(paused);
        inbox.actions.extend(taken);
        Ok(())
    }

    /// What the rounds read since the last call.
    pub fn take_inbox(&self) -> Inbox {
        std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The leases to give back: tenants gone from the directory, and beyond `share` (idle
    /// tenants first; then running ones, whose crawl stops at its checkpoint and resumes on
    /// the replica that claims it).
    fn excess(&self, known: &[String], running: &BTreeSet<String>, share: usize) -> Vec<Held> {
        let keep: BTreeSet<&String> = known.iter().collect();
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (gone, kept): (Vec<&Held>, Vec<&Held>) =
            held.values().partition(|h| !keep.contains(&h.lease.tenant));
        let over = kept.len().saturating_sub(share);
        let (idle, busy): (Vec<&Held>, Vec<&Held>) = kept
            .into_iter()
            .partition(|h| !running.contains(&h.lease.tenant));
        gone.into_iter()
            .chain(idle.into_iter().chain(busy).take(over))
            .cloned()
            .collect()
    }

    /// Renews every held lease (one statement); a lost one stops its crawl and is forgotten.
    fn renew_all(&self, db: &mut postgres::Client) -> anyhow::Result<()> {
        let mut leases: Vec<Lease> = {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.values().map(|h| h.lease.clone()).collect()
        };
        if leases.is_empty() {
            return Ok(());
        }
        let lost = self.leases.renew_many(db, &mut leases)?;
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            for lease in &leases {
                if let Some(h) = held.get_mut(&lease.tenant)
                    && h.lease.epoch == lease.epoch
                {
                    h.lease = lease.clone();
                }
            }
        }
        for l in lost {
            tracing::warn!(tenant = %l.tenant, "{l}");
            self.drop_lease(&l.tenant);
        }
        Ok(())
    }

    /// Stops the tenant's crawl and forgets its lease.
    fn drop_lease(&self, tenant: &str) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = held.remove(tenant) {
            h.stop.store(true, Ordering::SeqCst);
        }
    }

    /// With the database out of reach, leases past their local deadline are lost.
    fn expire_overdue(&self) {
        let overdue: Vec<String> = {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.iter()
                .filter(|(_, h)| !h.lease.fresh())
                .map(|(n, _)| n.clone())
                .collect()
        };
        for tenant in overdue {
            tracing::warn!(tenant = %tenant, "the lease ran out with the database unreachable: stopping");
            self.drop_lease(&tenant);
        }
    }

    /// Stops every crawl, gives every lease back and leaves: another replica takes over at once.
    pub fn drain(&self) {
        let all: Vec<Held> = {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.values().cloned().collect()
        };
        for h in &all {
            h.stop.store(true, Ordering::SeqCst);
        }
        let mut slot = self.db.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = slot.as_mut() {
            for h in &all {
                self.leases.release(db, &h.lease).ok();
            }
            self.leases.leave(db).ok();
        }
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Tenants per replica: all of them over the live replicas, rounded up.
fn fair_share(tenants: usize, replicas: u64) -> usize {
    let replicas = usize::try_from(replicas.max(1)).unwrap_or(usize::MAX);
    tenants.div_ceil(replicas)
}

/// A sink that checks, before every write to the index, that this replica still holds the
/// tenant's lease by its local deadline: a replica paused past its lease uploads nothing when
/// it wakes. (What remains: an upload already on the wire when the deadline passes. Uploads
/// are idempotent by document id, and the new holder re-sends what it did not checkpoint.)
struct FencedSink {
    inner: Box<dyn Sink>,
    cluster: Arc<Cluster>,
    tenant: String,
    epoch: i64,
}

impl FencedSink {
    fn check(&self) -> anyhow::Result<()> {
        if self.cluster.still_holds(&self.tenant, self.epoch) {
            return Ok(());
        }
        Err(pg_state::LeaseLost {
            tenant: self.tenant.clone(),
            epoch: self.epoch,
        })
        .context("nothing is uploaded without the tenant's lease")
    }
}

impl Sink for FencedSink {
    fn ensure_datasource(&self, datasource: &str, info: &ConnectorInfo) -> anyhow::Result<()> {
        self.check()?;
        self.inner.ensure_datasource(datasource, info)
    }
    fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload> {
        self.check()?;
        self.inner.begin_users(datasource)
    }
    fn index_users_page(
        &self,
        upload: &UsersUpload,
        users: &[User],
        first: bool,
        last: bool,
    ) -> anyhow::Result<()> {
        self.check()?;
        self.inner.index_users_page(upload, users, first, last)
    }
    fn validate(&self, datasource: &str, doc: &Document) -> Result<(), String> {
        self.inner.validate(datasource, doc)
    }
    fn index_documents(&self, datasource: &str, docs: &[Document]) -> anyhow::Result<()> {
        self.check()?;
        self.inner.index_documents(datasource, docs)
    }
    fn delete_document(&self, datasource: &str, object_type: &str, id: &str) -> anyhow::Result<()> {
        self.check()?;
        self.inner.delete_document(datasource, object_type, id)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_round_up() {
        assert_eq!(super::fair_share(30, 3), 10);
        assert_eq!(super::fair_share(31, 3), 11);
        assert_eq!(super::fair_share(5, 0), 5);
    }
}
