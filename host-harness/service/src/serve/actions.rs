//! Operators' actions on a tenant (a crawl now, pause, resume, approving held deletions), as
//! the admin API and the console ask them. On one machine they apply at once. With several
//! replicas they are routed through the database ([`pg_state::actions`]): a pause or resume
//! reaches every replica at its next lease round (so a paused tenant stays paused when its
//! lease moves), and an action for a tenant held elsewhere waits in the database for its holder.
//! The longest path is two rounds (a third of the lease each): the asking replica writes it at
//! its next round, the holder takes it at its next.

use std::time::Instant;

use crawl_engine::types::CrawlMode;
use pg_state::actions::Action;

use super::Service;
use super::cluster::Inbox;

/// Why an operator's action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlRefusal {
    Unknown,
    Paused,
    Quarantined,
    /// With several replicas: too many actions are waiting for the state database.
    Backlog,
}

impl std::fmt::Display for CrawlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrawlRefusal::Unknown => f.write_str("there is no such tenant; GET /tenants lists them"),
            CrawlRefusal::Paused => {
                f.write_str("the tenant is paused: resume it first, then ask for a crawl")
            }
            CrawlRefusal::Quarantined => f.write_str(
                "the tenant is quarantined after failed crawls: fix the cause, resume it, then ask for a crawl",
            ),
            CrawlRefusal::Backlog => std::fmt::Display::fmt(&super::cluster::Backlog, f),
        }
    }
}

/// What became of an action that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Applied by this process.
    Here,
    /// Routed through the database to the replica holding the tenant (named, if one does).
    Routed { holder: Option<String> },
}

fn crawl_action(mode: CrawlMode) -> Action {
    match mode {
        CrawlMode::Full => Action::CrawlFull,
        CrawlMode::Incremental => Action::CrawlIncremental,
    }
}

impl Service {
    /// Asks for a crawl of tenant `name` now. A paused or quarantined tenant runs nothing until
    /// it is resumed, on demand or not.
    pub fn request_crawl(&self, name: &str, mode: CrawlMode) -> Result<Accepted, CrawlRefusal> {
        self.act(name, crawl_action(mode), |t| {
            if t.paused {
                return Err(CrawlRefusal::Paused);
            }
            if t.quarantined {
                return Err(CrawlRefusal::Quarantined);
            }
            t.requested = Some(mode);
            Ok(())
        })
    }

    /// Pauses tenant `name`: nothing runs (a crawl asked for and not started is dropped) until
    /// it is resumed; a crawl under way finishes.
    pub fn pause(&self, name: &str) -> Result<Accepted, CrawlRefusal> {
        self.set_paused(name, true)
    }

    /// Resumes a paused or quarantined tenant, forgetting its failures.
    pub fn resume(&self, name: &str) -> Result<Accepted, CrawlRefusal> {
        self.set_paused(name, false)?;
        self.act(name, Action::Resume, |t| {
            resume_here(t);
            Ok(())
        })
    }

    /// Lets the next full crawl apply held deletions, and asks for it.
    pub fn approve_deletions(&self, name: &str) -> Result<Accepted, CrawlRefusal> {
        self.act(name, Action::ApproveDeletions, |t| {
            approve_here(t);
            Ok(())
        })
    }

    /// Pauses or resumes `name` here and, with replicas, everywhere.
    fn set_paused(&self, name: &str, paused: bool) -> Result<Accepted, CrawlRefusal> {
        {
            let mut tenants = self.lock();
            let t = tenants.get_mut(name).ok_or(CrawlRefusal::Unknown)?;
            t.paused = paused;
            if paused {
                t.requested = None;
            }
        }
        match &self.options.cluster {
            None => Ok(Accepted::Here),
            Some(c) => {
                c.route_paused(name, paused)
                    .map_err(|_| CrawlRefusal::Backlog)?;
                Ok(Accepted::Routed {
                    holder: c.holder(name),
                })
            }
        }
    }

    /// Applies `here` to tenant `name` when this process runs it (one machine, or the lease is
    /// held here); otherwise routes `action` to its holder.
    fn act(
        &self,
        name: &str,
        action: Action,
        here: impl FnOnce(&mut super::Tenant) -> Result<(), CrawlRefusal>,
    ) -> Result<Accepted, CrawlRefusal> {
        let mut tenants = self.lock();
        let t = tenants.get_mut(name).ok_or(CrawlRefusal::Unknown)?;
        let Some(c) = &self.options.cluster else {
            return here(t).map(|()| Accepted::Here);
        };
        if c.holds(name).is_some() {
            return here(t).map(|()| Accepted::Here);
        }
        if t.paused && matches!(action, Action::CrawlFull | Action::CrawlIncremental) {
            return Err(CrawlRefusal::Paused);
        }
        c.route_action(name, action)
            .map_err(|_| CrawlRefusal::Backlog)?;
        Ok(Accepted::Routed {
            holder: c.holder(name),
        })
    }

    /// Applies what a lease round read: the paused set to every tenant, and the actions routed
    /// to the tenants held here.
    pub(super) fn apply_routed(&self, inbox: Inbox) {
        let mut tenants = self.lock();
        if let Some(paused) = &inbox.paused {
            for (name, t) in tenants.iter_mut() {
                let p = paused.contains(name);
                if p {
                    t.requested = None;
                }
                t.paused = p;
            }
        }
        for (name, action) in inbox.actions {
            let Some(t) = tenants.get_mut(&name) else {
                continue;
            };
            tracing::info!(tenant = %name, "an operator's action arrived through the database: {}", action.name());
            match action {
                Action::Resume => resume_here(t),
                Action::ApproveDeletions => approve_here(t),
                Action::CrawlFull | Action::CrawlIncremental if t.paused || t.quarantined => {}
                Action::CrawlFull => t.requested = Some(CrawlMode::Full),
                Action::CrawlIncremental => t.requested = Some(CrawlMode::Incremental),
            }
        }
    }
}

fn resume_here(t: &mut super::Tenant) {
    t.paused = false;
    t.quarantined = false;
    t.failures = 0;
    t.next_due = Instant::now();
}

fn approve_here(t: &mut super::Tenant) {
    t.allow_mass_delete_once = true;
    t.requested = Some(CrawlMode::Full);
}
