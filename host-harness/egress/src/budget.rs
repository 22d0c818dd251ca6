//! The weekly request budget of one connector instance (Clari allows 100,000 requests a week,
//! weeks starting Sunday 00:00 GMT). Every request is counted when it is sent, and the count
//! is handed to a [`BudgetLedger`] at once, so a process killed mid-crawl loses no count.
//! Once the budget is spent, requests are refused `rate-limited` until the next week, which
//! the crawl engine treats as a stop at its checkpoint rather than a wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// The start of the week containing `t` (epoch seconds): Sunday 00:00 UTC.
pub fn week_start(t: i64) -> i64 {
    let days = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday: day 0 is 4 days after a Sunday.
    let since_sunday = (days + 4).rem_euclid(7);
    (days - since_sunday) * DAY
}

/// Requests spent in one week, and when the last one was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BudgetUsage {
    /// Epoch seconds of the week's start.
    pub week_start: i64,
    pub requests: u64,
    /// Epoch milliseconds of the last request sent (0: none). A restart right after a crash
    /// waits a whole rate window after it, so no window holds more than the rate.
    #[serde(default)]
    pub last_sent_ms: i64,
}

impl BudgetUsage {
    /// The usage as of `now` (epoch seconds): a week that has ended counts nothing.
    pub fn current(&self, now: i64) -> BudgetUsage {
        if week_start(now) == self.week_start {
            *self
        } else {
            BudgetUsage {
                week_start: week_start(now),
                requests: 0,
                last_sent_ms: self.last_sent_ms,
            }
        }
    }
}

/// Where spent requests are persisted, request by request.
pub trait BudgetLedger: Send + Sync + std::fmt::Debug {
    fn record(&self, usage: &BudgetUsage) -> Result<(), String>;
}

#[derive(Debug)]
pub struct WeeklyBudget {
    limit: u64,
    used: Mutex<BudgetUsage>,
    ledger: Option<Arc<dyn BudgetLedger>>,
}

impl WeeklyBudget {
    /// A budget of `limit` requests a week, continuing from `used`.
    pub fn new(limit: u64, used: BudgetUsage, ledger: Option<Arc<dyn BudgetLedger>>) -> Self {
        WeeklyBudget {
            limit,
            used: Mutex::new(used),
            ledger,
        }
    }

    /// Spends one request at `now_ms` (epoch milliseconds), or answers how long until the next
    /// week. The spend is persisted before the request goes out; a request whose count cannot
    /// be persisted is not sent.
    pub fn spend(&self, now_ms: i64) -> Result<(), BudgetRefusal> {
        // A poisoned lock still holds a valid count: keep accounting.
        let mut u = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms.div_euclid(1000);
        let mut next = u.current(now);
        if next.requests >= self.limit {
            let wait = (next.week_start + WEEK - now).max(1) as u64;
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

    /// The usage so far.
    pub fn usage(&self) -> BudgetUsage {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Why the budget refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// The week's budget is spent; the next week starts after this long.
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
}
