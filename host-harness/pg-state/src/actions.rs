//! Operators' actions on tenants, routed through the database so that any replica can take
//! them: pausing is a row in `paused_tenants` (every replica reads the set each lease round, so
//! a pause survives a takeover), and a crawl asked for, a resume or an approval of held
//! deletions is a row in `tenant_actions` that the replica holding the tenant's lease takes
//! (deletes) and applies. A tenant's queue is bounded ([`MAX_PENDING`]): an operator's script
//! in a loop cannot fill the database.

use std::collections::BTreeSet;

use anyhow::Context;

/// The most actions waiting for one tenant; more are refused until the holder takes them.
pub const MAX_PENDING: i64 = 16;

/// An action for the replica holding a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A full crawl now.
    CrawlFull,
    /// An incremental crawl now.
    CrawlIncremental,
    /// Out of quarantine, failures forgotten, due now (the pause itself is the paused set).
    Resume,
    /// The next full crawl may apply held deletions; one is asked for.
    ApproveDeletions,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::CrawlFull => "crawl-full",
            Action::CrawlIncremental => "crawl-incremental",
            Action::Resume => "resume",
            Action::ApproveDeletions => "approve-deletions",
        }
    }

    /// The action named `name`; none for a name this binary does not know (a newer replica's).
    pub fn parse(name: &str) -> Option<Action> {
        [
            Action::CrawlFull,
            Action::CrawlIncremental,
            Action::Resume,
            Action::ApproveDeletions,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// Queues `action` for `tenant`, asked of replica `by`; `false` when the tenant already has
/// [`MAX_PENDING`] actions waiting.
pub fn enqueue(
    db: &mut postgres::Client,
    tenant: &str,
    action: Action,
    by: &str,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "INSERT INTO tenant_actions (tenant, action, asked_of)
             SELECT $1, $2, $3
             WHERE (SELECT count(*) FROM tenant_actions WHERE tenant = $1) < $4",
            &[&tenant, &action.name(), &by, &MAX_PENDING],
        )
        .context("queueing a tenant action")?;
    Ok(n == 1)
}

/// Takes (deletes) the actions waiting for `tenants`, oldest first. An action this binary does
/// not know is dropped with a warning.
pub fn take(
    db: &mut postgres::Client,
    tenants: &[String],
) -> anyhow::Result<Vec<(String, Action)>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "DELETE FROM tenant_actions WHERE tenant = ANY($1) RETURNING id, tenant, action",
            &[&tenants],
        )
        .context("taking tenant actions")?;
    let mut taken: Vec<(i64, String, String)> = rows
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    taken.sort_by_key(|t| t.0);
    Ok(taken
        .into_iter()
        .filter_map(|(_, tenant, name)| match Action::parse(&name) {
            Some(a) => Some((tenant, a)),
            None => {
                tracing::warn!(tenant = %tenant, "dropped an action this harness does not know: {name:?}");
                None
            }
        })
        .collect())
}

/// Pauses or resumes `tenant` for every replica.
pub fn set_paused(db: &mut postgres::Client, tenant: &str, paused: bool) -> anyhow::Result<()> {
    let sql = if paused {
        "INSERT INTO paused_tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM paused_tenants WHERE tenant = $1"
    };
    db.execute(sql, &[&tenant])
        .context("recording a pause or resume")?;
    Ok(())
}

/// The paused tenants.
pub fn paused(db: &mut postgres::Client) -> anyhow::Result<BTreeSet<String>> {
    Ok(db
        .query("SELECT tenant FROM paused_tenants", &[])
        .context("reading the paused tenants")?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_parses_back_and_an_unknown_one_does_not() {
        for a in [
            Action::CrawlFull,
            Action::CrawlIncremental,
            Action::Resume,
            Action::ApproveDeletions,
        ] {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        assert_eq!(Action::parse("drop-everything"), None);
    }
}
