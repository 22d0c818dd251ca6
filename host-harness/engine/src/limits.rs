//! Bounds on one crawl, whatever the connector returns: pages, items, users, bytes, wall time,
//! and pages that bring nothing new. A crawl that reaches one stops as failed at its last
//! checkpoint, with a message that names the limit and the setting that raises it.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// The limits, as configured under `[crawl.limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrawlLimits {
    /// Listing pages (`list-changes` calls) per crawl.
    pub max_pages: u64,
    /// Listed items per crawl.
    pub max_items: u64,
    /// Users per crawl.
    pub max_users: u64,
    /// Megabytes of fetched items (as documents) per crawl.
    pub max_item_mb: u64,
    /// Wall time of one crawl, in minutes.
    pub max_minutes: u64,
    /// Consecutive listing pages that bring no new id before the crawl is stopped as stuck.
    pub max_idle_pages: u64,
}

impl Default for CrawlLimits {
    fn default() -> Self {
        CrawlLimits {
            max_pages: 100_000,
            max_items: 2_000_000,
            max_users: 500_000,
            max_item_mb: 50 * 1024,
            max_minutes: 24 * 60,
            max_idle_pages: 50,
        }
    }
}

impl CrawlLimits {
    /// Every limit is at least 1.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            self.max_pages,
            self.max_items,
            self.max_users,
            self.max_item_mb,
            self.max_minutes,
            self.max_idle_pages,
        ];
        if all.contains(&0) {
            return Err("[crawl.limits] every limit must be at least 1".into());
        }
        Ok(())
    }
}

/// A limit a crawl reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the crawl stopped at a limit: {what} (limit {limit}, setting `{setting}`); \
     the connector may be looping or the source is larger than expected. If the source really is \
     this large, raise `{setting}` under [crawl.limits]"
)]
pub struct LimitReached {
    pub what: String,
    pub limit: u64,
    pub setting: &'static str,
}

/// What one crawl has used so far.
#[derive(Debug)]
pub struct Usage {
    limits: CrawlLimits,
    started: Instant,
    pages: u64,
    items: u64,
    users: u64,
    bytes: u64,
    idle_pages: u64,
}

impl Usage {
    pub fn new(limits: CrawlLimits, started: Instant) -> Self {
        Usage {
            limits,
            started,
            pages: 0,
            items: 0,
            users: 0,
            bytes: 0,
            idle_pages: 0,
        }
    }

    fn check(
        what: String,
        used: u64,
        limit: u64,
        setting: &'static str,
    ) -> Result<(), LimitReached> {
        if used > limit {
            Err(LimitReached {
                what,
                limit,
                setting,
            })
        } else {
            Ok(())
        }
    }

    /// Counts a listing page that brought `new_ids` ids not seen before in this crawl.
    pub fn page(&mut self, new_ids: u64, now: Instant) -> Result<(), LimitReached> {
        self.pages += 1;
        self.items += new_ids;
        self.idle_pages = if new_ids == 0 { self.idle_pages + 1 } else { 0 };
        let l = &self.limits;
        Self::check(
            format!("{} listing pages", self.pages),
            self.pages,
            l.max_pages,
            "max_pages",
        )?;
        Self::check(
            format!("{} listed items", self.items),
            self.items,
            l.max_items,
            "max_items",
        )?;
        Self::check(
            format!(
                "{} listing pages in a row brought no new item",
                self.idle_pages
            ),
            self.idle_pages,
            l.max_idle_pages,
            "max_idle_pages",
        )?;
        self.time(now)
    }

    /// Counts a page of `n` users.
    pub fn users(&mut self, n: u64, now: Instant) -> Result<(), LimitReached> {
        self.users += n;
        Self::check(
            format!("{} users", self.users),
            self.users,
            self.limits.max_users,
            "max_users",
        )?;
        self.time(now)
    }

    /// Counts `n` bytes of fetched items.
    pub fn bytes(&mut self, n: u64) -> Result<(), LimitReached> {
        self.bytes += n;
        let limit_bytes = self.limits.max_item_mb.saturating_mul(1024 * 1024);
        if self.bytes > limit_bytes {
            return Err(LimitReached {
                what: format!("{} MB of items", self.bytes / (1024 * 1024)),
                limit: self.limits.max_item_mb,
                setting: "max_item_mb",
            });
        }
        Ok(())
    }

    /// Checks the wall time.
    pub fn time(&self, now: Instant) -> Result<(), LimitReached> {
        let limit = Duration::from_secs(self.limits.max_minutes.saturating_mul(60));
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed > limit {
            return Err(LimitReached {
                what: format!("{} minutes of crawling", elapsed.as_secs() / 60),
                limit: self.limits.max_minutes,
                setting: "max_minutes",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CrawlLimits {
        CrawlLimits {
            max_pages: 10,
            max_items: 25,
            max_users: 100,
            max_item_mb: 1,
            max_minutes: 1,
            max_idle_pages: 3,
        }
    }

    #[test]
    fn each_limit_stops_with_its_setting_named() {
        let t0 = Instant::now();
        let mut u = Usage::new(small(), t0);
        for _ in 0..10 {
            u.page(1, t0).unwrap();
        }
        assert_eq!(u.page(1, t0).unwrap_err().setting, "max_pages");

        let mut u = Usage::new(small(), t0);
        u.page(25, t0).unwrap();
        let e = u.page(1, t0).unwrap_err();
        assert_eq!(e.setting, "max_items");
        assert!(
            e.to_string()
                .contains("raise `max_items` under [crawl.limits]"),
            "{e}"
        );

        let mut u = Usage::new(small(), t0);
        u.page(0, t0).unwrap();
        u.page(0, t0).unwrap();
        u.page(1, t0).unwrap();
        u.page(0, t0).unwrap();
        u.page(0, t0).unwrap();
        u.page(0, t0).unwrap();
        assert_eq!(u.page(0, t0).unwrap_err().setting, "max_idle_pages");

        let mut u = Usage::new(small(), t0);
        u.users(100, t0).unwrap();
        assert_eq!(u.users(1, t0).unwrap_err().setting, "max_users");

        let mut u = Usage::new(small(), t0);
        u.bytes(1024 * 1024).unwrap();
        assert_eq!(u.bytes(1).unwrap_err().setting, "max_item_mb");

        let u = Usage::new(small(), t0);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(u.time(later).unwrap_err().setting, "max_minutes");
    }
}
