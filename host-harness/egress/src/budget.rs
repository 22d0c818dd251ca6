//! The request budget of one connector instance, counted per period: Clari allows 100,000
//! requests a week (weeks starting Sunday 00:00 GMT), Gong 10,000 a day (UTC days). Every
//! request is counted when it is sent, and the count is handed to a [`BudgetLedger`] at once,
//! so a process killed mid-crawl loses no count. Once the period's budget is spent, requests
//! are refused `rate-limited` until the next period, which the crawl engine treats as a stop
//! at its checkpoint rather than a wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use budget_period::{
    BudgetLedger, BudgetPeriod, BudgetUsage, DAY, UnknownPeriod, WEEK, week_start,
};

/// A budget of `limit` requests per [`BudgetPeriod`].
#[derive(Debug)]
pub struct RequestBudget {
    limit: u64,
    period: BudgetPeriod,
    used: Mutex<BudgetUsage>,
    ledger: Option<Arc<dyn BudgetLedger>>,
}

impl RequestBudget {
    /// A budget of `limit` requests a `period` (0: no budget, requests are only counted),
    /// continuing from `used` (usage of an earlier period counts nothing).
    pub fn new(
        limit: u64,
        period: BudgetPeriod,
        used: BudgetUsage,
        ledger: Option<Arc<dyn BudgetLedger>>,
    ) -> Self {
        RequestBudget {
            limit,
            period,
            used: Mutex::new(used),
            ledger,
        }
    }

    /// A budget of `limit` requests a week: [`RequestBudget::new`] with [`BudgetPeriod::Week`].
    pub fn weekly(limit: u64, used: BudgetUsage, ledger: Option<Arc<dyn BudgetLedger>>) -> Self {
        RequestBudget::new(limit, BudgetPeriod::Week, used, ledger)
    }

    /// Spends one request at `now_ms` (epoch milliseconds), or answers how long until the next
    /// period. The spend is persisted before the request goes out; a request whose count
    /// cannot be persisted is not sent.
    pub fn spend(&self, now_ms: i64) -> Result<(), BudgetRefusal> {
        // A poisoned lock still holds a valid count: keep accounting.
        let mut u = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms.div_euclid(1000);
        let mut next = u.current_in(now, self.period);
        // A limit of 0 is no budget: requests are counted, never refused.
        if self.limit > 0 && next.requests >= self.limit {
            let wait = (next.week_start + self.period.seconds() - now).max(1) as u64;
            return Err(BudgetRefusal::Spent(Duration::from_secs(wait)));
        }
        next.requests += 1;
        next.last_sent_ms = now_ms;
        if let Some(ledger) = &self.ledger {
            ledger.record(&next).map_err(BudgetRefusal::Unrecorded)?;
        }
        *u = next;
        Ok(())
    }

    /// The usage as last counted (possibly of a period that has since ended: see
    /// [`RequestBudget::usage_at`]).
    pub fn usage(&self) -> BudgetUsage {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The usage of the period containing `now` (epoch seconds), in this budget's period:
    /// `usage().current_in(now, period())`.
    pub fn usage_at(&self, now: i64) -> BudgetUsage {
        self.usage().current_in(now, self.period)
    }

    /// Requests allowed per [`RequestBudget::period`].
    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn period(&self) -> BudgetPeriod {
        self.period
    }
}

/// The name the budget had while it was weekly only. Kept so that existing callers of
/// `WeeklyBudget::new(limit, used, ledger)` compile unchanged: that constructor builds a
/// weekly [`RequestBudget`]. Not a type alias, because an alias would share
/// [`RequestBudget::new`] and its period argument; name the type as [`RequestBudget`].
#[derive(Debug, Clone, Copy)]
pub struct WeeklyBudget;

impl WeeklyBudget {
    /// A budget of `limit` requests a week, continuing from `used`:
    /// [`RequestBudget::weekly`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new(
        limit: u64,
        used: BudgetUsage,
        ledger: Option<Arc<dyn BudgetLedger>>,
    ) -> RequestBudget {
        RequestBudget::weekly(limit, used, ledger)
    }
}

/// Why the budget refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// The period's budget is spent; the next period starts after this long.
    Spent(Duration),
    /// The count could not be persisted.
    Unrecorded(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Memory(Mutex<Vec<BudgetUsage>>);
    impl BudgetLedger for Memory {
        fn record(&self, usage: &BudgetUsage) -> Result<(), String> {
            self.0.lock().unwrap().push(*usage);
            Ok(())
        }
    }

    #[test]
    fn weeks_start_on_sunday_midnight_utc() {
        let wed = 1_795_611_600; // 2026-11-25 13:00 UTC, a Wednesday
        let sun = 1_795_305_600; // 2026-11-22 00:00 UTC
        assert_eq!(week_start(wed), sun);
        assert_eq!(week_start(sun), sun);
    }

    #[test]
    fn counts_every_request_when_sent_and_refuses_when_spent() {
        let wed_ms = 1_795_611_600_000;
        let ledger = Arc::new(Memory::default());
        let start = BudgetUsage {
            week_start: week_start(wed_ms / 1000),
            requests: 1,
            last_sent_ms: 0,
        };
        let b = WeeklyBudget::new(3, start, Some(ledger.clone()));
        assert!(b.spend(wed_ms).is_ok());
        assert!(b.spend(wed_ms + 5).is_ok());
        let recorded = ledger.0.lock().unwrap().clone();
        assert_eq!(
            recorded.iter().map(|u| u.requests).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(recorded[1].last_sent_ms, wed_ms + 5);
        let Err(BudgetRefusal::Spent(wait)) = b.spend(wed_ms) else {
            panic!("spent")
        };
        // Sunday 2026-11-29 00:00 UTC is 3 days 11 hours away.
        assert_eq!(wait, Duration::from_secs(3 * 86_400 + 11 * 3600));
        assert_eq!(
            ledger.0.lock().unwrap().len(),
            2,
            "a refusal records nothing"
        );
        let next_week = wed_ms + wait.as_millis() as i64;
        assert!(b.spend(next_week).is_ok(), "a new week, a new budget");
        assert_eq!(b.usage().requests, 1);
    }

    #[test]
    fn an_unrecordable_spend_sends_nothing() {
        #[derive(Debug)]
        struct Broken;
        impl BudgetLedger for Broken {
            fn record(&self, _: &BudgetUsage) -> Result<(), String> {
                Err("disk full".into())
            }
        }
        let b = WeeklyBudget::new(10, BudgetUsage::default(), Some(Arc::new(Broken)));
        assert!(matches!(
            b.spend(1_795_611_600_000),
            Err(BudgetRefusal::Unrecorded(_))
        ));
        assert_eq!(b.usage().requests, 0);
    }

    /// Wednesday 2026-11-25 00:00 UTC.
    const WED: i64 = 1_795_564_800;

    #[test]
    fn periods_start_at_utc_midnight_and_on_sunday() {
        let t = WED + 13 * 3600; // 13:00 UTC
        assert_eq!(BudgetPeriod::Day.start(t), WED);
        assert_eq!(BudgetPeriod::Day.start(WED), WED);
        assert_eq!(BudgetPeriod::Day.start(WED - 1), WED - DAY);
        assert_eq!(BudgetPeriod::Day.end(t), WED + DAY);
        assert_eq!(BudgetPeriod::Week.start(t), week_start(t));
        assert_eq!(BudgetPeriod::Week.start(t), WED - 3 * DAY);
        assert_eq!(BudgetPeriod::Week.end(t), WED + 4 * DAY);
        assert_eq!(BudgetPeriod::Day.seconds(), 86_400);
        assert_eq!(BudgetPeriod::Week.seconds(), 7 * 86_400);
        // Before 1970 too.
        assert_eq!(BudgetPeriod::Day.start(-1), -DAY);
        assert_eq!(BudgetPeriod::default(), BudgetPeriod::Week);
    }

    #[test]
    fn periods_parse_from_day_and_week() {
        assert_eq!("day".parse(), Ok(BudgetPeriod::Day));
        assert_eq!(" Week ".parse(), Ok(BudgetPeriod::Week));
        let err = "month".parse::<BudgetPeriod>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown budget period "month": expected "day" or "week""#
        );
        for p in [BudgetPeriod::Day, BudgetPeriod::Week] {
            assert_eq!(p.label().parse(), Ok(p));
            assert_eq!(p.to_string(), p.label());
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.label()));
            assert_eq!(serde_json::from_str::<BudgetPeriod>(&json).unwrap(), p);
        }
    }

    #[test]
    fn usage_keeps_its_stored_field_name() {
        let u = BudgetUsage {
            week_start: WED,
            requests: 7,
            last_sent_ms: 0,
        };
        let json = serde_json::to_string(&u).unwrap();
        assert!(json.contains(r#""week_start":1795564800"#), "{json}");
        let old: BudgetUsage =
            serde_json::from_str(r#"{"week_start":1795564800,"requests":7}"#).unwrap();
        assert_eq!(old, u);
        let aliased: BudgetUsage =
            serde_json::from_str(r#"{"period_start":1795564800,"requests":7}"#).unwrap();
        assert_eq!(aliased, u);
    }

    #[test]
    fn a_day_old_count_is_current_in_its_week_but_not_its_day() {
        // Counted on Sunday (a week's first day): still this week's on Wednesday, not today's.
        let sunday = BudgetUsage {
            week_start: WED - 3 * DAY,
            requests: 40,
            last_sent_ms: 5,
        };
        assert_eq!(sunday.current(WED), sunday);
        assert_eq!(sunday.current_in(WED, BudgetPeriod::Week), sunday);
        assert_eq!(
            sunday.current_in(WED, BudgetPeriod::Day),
            BudgetUsage {
                week_start: WED,
                requests: 0,
                last_sent_ms: 5
            }
        );
    }

    #[test]
    fn a_daily_budget_refuses_past_its_limit_until_utc_midnight() {
        let ledger = Arc::new(Memory::default());
        let b = RequestBudget::new(
            10_000,
            BudgetPeriod::Day,
            BudgetUsage::default(),
            Some(ledger.clone()),
        );
        assert_eq!(b.period(), BudgetPeriod::Day);
        assert_eq!(b.limit(), 10_000);
        // 10,000 requests through the day, from 01:00 to 17:39:54.
        let first_ms = (WED + 3600) * 1000;
        for n in 0..10_000 {
            assert_eq!(b.spend(first_ms + n * 6_000), Ok(()), "request {}", n + 1);
        }
        assert_eq!(b.usage().requests, 10_000);
        assert_eq!(b.usage().week_start, WED);
        // The 10,001st, at 18:30:00.5, waits until Thursday 00:00 UTC.
        let late_ms = (WED + 18 * 3600 + 1800) * 1000 + 500;
        let Err(BudgetRefusal::Spent(wait)) = b.spend(late_ms) else {
            panic!("the 10,001st request of a day is refused")
        };
        assert_eq!(wait, Duration::from_secs(5 * 3600 + 1800));
        // One second before midnight: still refused, a second to wait.
        assert_eq!(
            b.spend((WED + DAY - 1) * 1000),
            Err(BudgetRefusal::Spent(Duration::from_secs(1)))
        );
        assert_eq!(
            ledger.0.lock().unwrap().len(),
            10_000,
            "a refusal records nothing"
        );
        assert_eq!(b.usage_at(WED + DAY - 1).requests, 10_000);
        // At midnight the count starts over.
        assert_eq!(b.usage_at(WED + DAY).requests, 0);
        assert_eq!(b.spend((WED + DAY) * 1000), Ok(()));
        let u = b.usage();
        assert_eq!((u.week_start, u.requests), (WED + DAY, 1));
        assert_eq!(ledger.0.lock().unwrap().last(), Some(&u));
    }

    #[test]
    fn a_daily_budget_continues_todays_count_and_drops_yesterdays() {
        let today = BudgetUsage {
            week_start: WED,
            requests: 9_999,
            last_sent_ms: WED * 1000,
        };
        let b = RequestBudget::new(10_000, BudgetPeriod::Day, today, None);
        assert_eq!(b.spend((WED + 60) * 1000), Ok(()));
        assert!(matches!(
            b.spend((WED + 61) * 1000),
            Err(BudgetRefusal::Spent(_))
        ));
        let yesterday = BudgetUsage {
            week_start: WED - DAY,
            ..today
        };
        let b = RequestBudget::new(10_000, BudgetPeriod::Day, yesterday, None);
        assert_eq!(b.usage_at(WED).requests, 0);
        for s in 0..100 {
            assert_eq!(b.spend((WED + s) * 1000), Ok(()));
        }
        assert_eq!(b.usage().requests, 100);
    }

    #[test]
    fn the_weekly_constructors_build_a_weekly_budget() {
        let used = BudgetUsage {
            week_start: WED - 3 * DAY,
            requests: 5,
            last_sent_ms: 0,
        };
        for b in [
            WeeklyBudget::new(100_000, used, None),
            RequestBudget::weekly(100_000, used, None),
        ] {
            assert_eq!(b.period(), BudgetPeriod::Week);
            assert_eq!(b.limit(), 100_000);
            assert_eq!(b.usage_at(WED).requests, 5);
        }
    }
}
