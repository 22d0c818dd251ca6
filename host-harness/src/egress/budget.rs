//! A weekly request budget shared by every request of a connector instance (Clari allows
//! 100,000 requests a week, weeks starting Sunday 00:00 GMT). Once spent, requests are refused
//! `rate-limited` until the next week, which the crawl engine treats as a stop with its
//! checkpoint saved rather than a wait.

use std::sync::Mutex;
use std::time::Duration;

use crate::crawl::state::week_start;

const WEEK: i64 = 7 * 86_400;

#[derive(Debug)]
pub struct WeeklyBudget {
    limit: u64,
    /// (week start, requests used in it).
    used: Mutex<(i64, u64)>,
}

impl WeeklyBudget {
    /// A budget of `limit` requests a week, `used` of which were spent in the week of `since`.
    pub fn new(limit: u64, used: u64, since: i64) -> Self {
        WeeklyBudget {
            limit,
            used: Mutex::new((week_start(since), used)),
        }
    }

    /// Spends one request at `now` (epoch seconds), or answers how long until the next week.
    pub fn spend(&self, now: i64) -> Result<(), Duration> {
        let Ok(mut u) = self.used.lock() else {
            return Ok(());
        };
        let week = week_start(now);
        if week != u.0 {
            *u = (week, 0);
        }
        if u.1 >= self.limit {
            return Err(Duration::from_secs((week + WEEK - now).max(1) as u64));
        }
        u.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_when_spent_until_the_next_week() {
        let wed = 1_795_611_600; // 2026-11-25 13:00 UTC, a Wednesday
        let b = WeeklyBudget::new(3, 1, wed);
        assert!(b.spend(wed).is_ok());
        assert!(b.spend(wed).is_ok());
        let wait = b.spend(wed).unwrap_err();
        // Sunday 2026-11-29 00:00 UTC is 3 days 11 hours away.
        assert_eq!(wait, Duration::from_secs(3 * 86_400 + 11 * 3600));
        assert!(
            b.spend(wed + wait.as_secs() as i64).is_ok(),
            "a new week, a new budget"
        );
    }
}
