//! One tenant's long-lived share of the host in this process: the rate limiters of its
//! upstreams and its request budget. Every crawl, console fetch and canary sample of a tenant
//! is prepared with the tenant's [`Instance`] (`setup::RunOptions::instance`), so they wait on
//! the same limiters and spend the same budget: there is never a second limiter or budget
//! object for one tenant at once, and no count is lost to a last writer.
//!
//! It also keeps the redactor of the tenant's secrets while they do not change.
//!
//! The limiters are kept for the life of the instance (they remember the upstream's recent
//! arrivals and its `Retry-After` pauses from one crawl to the next). The budget is kept only
//! while something uses it: it holds a connection to the state (SQLite or PostgreSQL), and an
//! idle tenant among thousands must not hold one; the next user loads it again from the state,
//! where every request was counted as it was sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use egress::budget::{BudgetUsage, RequestBudget};
use egress::secrets::Secret;
use egress::{ArrivalLimiter, Redactor};

/// A tenant's limiters and budget (see the module's documentation).
#[derive(Debug, Default)]
pub struct Instance {
    /// By upstream name: the rate it was made for (bits of the `f64`) and the limiter.
    limiters: Mutex<BTreeMap<String, (u64, Arc<ArrivalLimiter>)>>,
    /// The budget in use, with the key of the state and settings it was loaded for.
    budget: Mutex<Option<(String, Weak<RequestBudget>)>>,
    /// The redactor of the tenant's secrets (its scrubber is an automaton over every encoding
    /// of every secret, costly to build at every crawl); rebuilt when the secrets change.
    redactor: Mutex<Option<Redactor>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Instance {
    pub fn new() -> Arc<Instance> {
        Arc::new(Instance::default())
    }

    /// The limiter of `upstream` at `rate`, and whether it was made now (by `make`): a
    /// changed rate makes a new one.
    pub fn limiter(
        &self,
        upstream: &str,
        rate: f64,
        make: impl FnOnce(f64) -> Arc<ArrivalLimiter>,
    ) -> (Arc<ArrivalLimiter>, bool) {
        let mut limiters = locked(&self.limiters);
        if let Some((bits, l)) = limiters.get(upstream)
            && *bits == rate.to_bits()
        {
            return (l.clone(), false);
        }
        let l = make(rate);
        limiters.insert(upstream.to_string(), (rate.to_bits(), l.clone()));
        (l, true)
    }

    /// Forgets the limiters of upstreams no longer in `configured` (a tenant file changed):
    /// what the instance keeps is bounded by its configuration.
    pub fn retain_upstreams<'a>(&self, configured: impl IntoIterator<Item = &'a String>) {
        let keep: std::collections::BTreeSet<&String> = configured.into_iter().collect();
        locked(&self.limiters).retain(|name, _| keep.contains(name));
    }

    /// The budget in use for `key` (the state and the budget's settings), or the one `make`
    /// loads when none is in use or it was loaded for another key. The lock is held while
    /// `make` runs, so two users that start together load it once.
    pub fn budget(
        &self,
        key: &str,
        make: impl FnOnce() -> anyhow::Result<Arc<RequestBudget>>,
    ) -> anyhow::Result<Arc<RequestBudget>> {
        let mut slot = locked(&self.budget);
        if let Some((k, weak)) = slot.as_ref()
            && k == key
            && let Some(live) = weak.upgrade()
        {
            return Ok(live);
        }
        let budget = make()?;
        *slot = Some((key.to_string(), Arc::downgrade(&budget)));
        Ok(budget)
    }

    /// A redactor holding exactly `secrets`: the one kept when its secrets are the same,
    /// else a new one (kept for the next call).
    pub fn redactor<'a>(&self, secrets: impl IntoIterator<Item = &'a Secret> + Clone) -> Redactor {
        let mut kept = locked(&self.redactor);
        if let Some(r) = kept.as_ref()
            && r.holds_exactly(secrets.clone())
        {
            return r.clone();
        }
        let r = Redactor::new();
        r.register_all(secrets);
        *kept = Some(r.clone());
        r
    }

    /// The usage of the budget in use now, if a crawl or a fetch holds it.
    pub fn live_usage(&self, now: i64) -> Option<BudgetUsage> {
        let slot = locked(&self.budget);
        let live = slot.as_ref()?.1.upgrade()?;
        Some(live.usage_at(now))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_redactor_is_kept_while_the_secrets_stay_the_same() {
        let i = Instance::new();
        let (a, b) = (Secret::new("first-secret"), Secret::new("second-secret"));
        let r1 = i.redactor([&a, &b]);
        assert_eq!(r1.redact("x first-secret y"), "x [REDACTED] y");
        let r2 = i.redactor([&b, &a]);
        assert!(r2.holds_exactly([&a, &b]));
        let c = Secret::new("rotated-secret");
        let r3 = i.redactor([&a, &c]);
        assert!(r3.holds_exactly([&a, &c]) && !r3.holds_exactly([&a, &b]));
        assert_eq!(
            r3.redact("second-secret"),
            "second-secret",
            "a rotated-out secret is not kept"
        );
    }

    use super::*;
    use egress::budget::BudgetPeriod;

    fn budget() -> anyhow::Result<Arc<RequestBudget>> {
        Ok(Arc::new(RequestBudget::new(
            100,
            BudgetPeriod::Week,
            BudgetUsage::default(),
            None,
        )))
    }

    #[test]
    fn users_at_once_share_one_budget_and_an_idle_tenant_holds_none() {
        let i = Instance::new();
        let a = i.budget("k", budget).unwrap();
        let b = i.budget("k", || panic!("loaded twice")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        a.spend(1_000).unwrap();
        assert_eq!(i.live_usage(1).map(|u| u.requests), Some(1));
        drop((a, b));
        assert_eq!(i.live_usage(1), None, "no user: no budget held");
        let c = i.budget("k", budget).unwrap();
        assert_eq!(c.usage().requests, 0, "loaded again from the state");
        let d = i.budget("other state", budget).unwrap();
        assert!(
            !Arc::ptr_eq(&c, &d),
            "another state or setting, another budget"
        );
    }

    #[test]
    fn a_limiter_lives_with_the_instance_until_its_rate_or_upstream_changes() {
        let i = Instance::new();
        let (a, new_a) = i.limiter("api", 5.0, egress::upstream_limiter);
        let (b, new_b) = i.limiter("api", 5.0, |_| panic!("made twice"));
        assert!(new_a && !new_b && Arc::ptr_eq(&a, &b));
        let (c, new_c) = i.limiter("api", 2.0, egress::upstream_limiter);
        assert!(new_c && !Arc::ptr_eq(&a, &c));
        i.retain_upstreams(&["other".to_string()]);
        let (_, again) = i.limiter("api", 2.0, egress::upstream_limiter);
        assert!(again, "an upstream no longer configured was forgotten");
    }
}
