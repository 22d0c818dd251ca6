//! The periods and counts of a request budget: a UTC day or a week from Sunday 00:00 UTC, the
//! requests spent in one period, and where each count is persisted. Shared by the egress,
//! which spends the budget request by request, and the state stores, which persist the counts,
//! so that neither depends on the other.

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in a week.
pub const WEEK: i64 = 7 * DAY;

/// The start of the week containing `t` (epoch seconds): Sunday 00:00 UTC.
pub fn week_start(t: i64) -> i64 {
    let days = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday: day 0 is 4 days after a Sunday.
    let since_sunday = (days + 4).rem_euclid(7);
    (days - since_sunday) * DAY
}

/// The period a request budget is counted over. Written `"day"` or `"week"` (in
/// configuration, and parsed by [`str::parse`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// UTC days, from 00:00 UTC.
    Day,
    /// Weeks from Sunday 00:00 UTC (see [`week_start`]).
    #[default]
    Week,
}

impl BudgetPeriod {
    /// The period's length in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            BudgetPeriod::Day => DAY,
            BudgetPeriod::Week => WEEK,
        }
    }

    /// The start (epoch seconds) of the period containing `t`: 00:00 UTC of its day, or
    /// Sunday 00:00 UTC of its week.
    pub fn start(self, t: i64) -> i64 {
        match self {
            BudgetPeriod::Day => t.div_euclid(DAY) * DAY,
            BudgetPeriod::Week => week_start(t),
        }
    }

    /// The end (epoch seconds, exclusive) of the period containing `t`: the next period's start.
    pub fn end(self, t: i64) -> i64 {
        self.start(t) + self.seconds()
    }

    /// `"day"` or `"week"`.
    pub const fn label(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Week => "week",
        }
    }
}

impl std::fmt::Display for BudgetPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A budget period that is neither `day` nor `week`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown budget period {0:?}: expected \"day\" or \"week\"")]
pub struct UnknownPeriod(pub String);

impl std::str::FromStr for BudgetPeriod {
    type Err = UnknownPeriod;

    /// `"day"` or `"week"` (any case, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(BudgetPeriod::Day),
            "week" => Ok(BudgetPeriod::Week),
            _ => Err(UnknownPeriod(s.to_string())),
        }
    }
}

/// Requests spent in one budget period, and when the last one was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BudgetUsage {
    /// Epoch seconds of the start of the budget period counted (a day's or a week's, see
    /// [`BudgetPeriod::start`]). Named for the weekly budget it was first: state files and
    /// PostgreSQL rows store it under this name.
    #[serde(alias = "period_start")]
    pub week_start: i64,
    pub requests: u64,
    /// Epoch milliseconds of the last request sent (0: none). A restart right after a crash
    /// waits a whole rate window after it, so no window holds more than the rate.
    #[serde(default)]
    pub last_sent_ms: i64,
}

impl BudgetUsage {
    /// The usage of a weekly budget as of `now` (epoch seconds): a week that has ended counts
    /// nothing. [`BudgetUsage::current_in`] with [`BudgetPeriod::Week`].
    pub fn current(&self, now: i64) -> BudgetUsage {
        self.current_in(now, BudgetPeriod::Week)
    }

    /// The usage as of `now` (epoch seconds) of a budget counted per `period`: a period that
    /// has ended counts nothing.
    pub fn current_in(&self, now: i64, period: BudgetPeriod) -> BudgetUsage {
        let start = period.start(now);
        if start == self.week_start {
            *self
        } else {
            BudgetUsage {
                week_start: start,
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
