//! The connector's settings: their keys, defaults, bounds and parsing. A bad value is a
//! `config` error naming the key, raised when the connector is built (`Connector::new`).

use connector_sdk::Error;
use connector_sdk::settings;

/// Setting key: how many months back a full crawl lists calls (window end = crawl start).
pub const HISTORY_MONTHS: &str = "history_months";
/// Setting key: calls per `/calls` page (1..=100). Clari answers 502 above about 6 MB.
pub const PAGE_SIZE: &str = "page_size";
/// Setting key: how far before the last crawl's start an incremental crawl looks again. It
/// covers a status change that reaches the listing a little after its `last_modified_time`
/// and a skew between the host's clock and Clari's; what it misses the nightly
/// reconciling crawl finds.
pub const INCREMENTAL_OVERLAP_MINUTES: &str = "incremental_overlap_minutes";

/// Validated settings. Fields are private so every value went through [`Settings::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    history_months: u32,
    page_size: u32,
    incremental_overlap_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            history_months: 12,
            page_size: 25,
            incremental_overlap_minutes: 10,
        }
    }
}

/// Upper bounds, so that window arithmetic can never overflow and a typo is caught.
const MAX_HISTORY_MONTHS: u32 = 240;
const MAX_PAGE_SIZE: u32 = 100;
const MAX_OVERLAP_MINUTES: u32 = 60 * 24 * 31;

impl Settings {
    /// Parses the settings from `lookup` (key to raw value).
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let d = Settings::default();
        let history_months = bounded(
            HISTORY_MONTHS,
            lookup(HISTORY_MONTHS),
            d.history_months,
            1,
            MAX_HISTORY_MONTHS,
        )?;
        let page_size = bounded(PAGE_SIZE, lookup(PAGE_SIZE), d.page_size, 1, MAX_PAGE_SIZE)?;
        let incremental_overlap_minutes = bounded(
            INCREMENTAL_OVERLAP_MINUTES,
            lookup(INCREMENTAL_OVERLAP_MINUTES),
            d.incremental_overlap_minutes,
            0,
            MAX_OVERLAP_MINUTES,
        )?;
        Ok(Settings {
            history_months,
            page_size,
            incremental_overlap_minutes,
        })
    }

    pub fn history_months(&self) -> u32 {
        self.history_months
    }
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    pub fn incremental_overlap_minutes(&self) -> u32 {
        self.incremental_overlap_minutes
    }
    /// The overlap in milliseconds.
    pub fn incremental_overlap_ms(&self) -> i64 {
        i64::from(self.incremental_overlap_minutes) * 60_000
    }

    /// The same settings with another page size (clamped to 1..=100), for tests and tools.
    pub fn with_page_size(self, page_size: u32) -> Self {
        Settings {
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
            ..self
        }
    }
}

fn bounded(key: &str, raw: Option<String>, default: u32, min: u32, max: u32) -> Result<u32, Error> {
    let expected = format!("a whole number from {min} to {max}");
    let value = settings::parse_or(key, raw.clone(), default, &expected)?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::config(format!(
            "setting `{key}` is `{}`, expected {expected}; fix it in the connector settings",
            raw.unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        Settings::parse(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_when_unset() {
        let s = parse(&[]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(
            (
                s.history_months(),
                s.page_size(),
                s.incremental_overlap_minutes()
            ),
            (12, 25, 10)
        );
        assert_eq!(s.incremental_overlap_ms(), 600_000);
    }

    #[test]
    fn parses_values() {
        let s = parse(&[
            (HISTORY_MONTHS, "6"),
            (PAGE_SIZE, " 100 "),
            (INCREMENTAL_OVERLAP_MINUTES, "0"),
        ])
        .unwrap();
        assert_eq!(
            (
                s.history_months(),
                s.page_size(),
                s.incremental_overlap_minutes()
            ),
            (6, 100, 0)
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            (PAGE_SIZE, "0"),
            (PAGE_SIZE, "101"),
            (PAGE_SIZE, "25.5"),
            (PAGE_SIZE, "-1"),
            (HISTORY_MONTHS, "0"),
            (HISTORY_MONTHS, "twelve"),
            (HISTORY_MONTHS, "241"),
            (INCREMENTAL_OVERLAP_MINUTES, "-5"),
            (INCREMENTAL_OVERLAP_MINUTES, "99999999"),
        ] {
            let e = parse(&[(key, value)]).unwrap_err();
            match e {
                Error::Config(m) => {
                    assert!(m.contains(&format!("`{key}`")), "{m}");
                    assert!(m.contains(value.trim()), "{m}");
                }
                other => panic!("{key}={value}: expected a config error, got {other:?}"),
            }
        }
    }

    #[test]
    fn with_page_size_clamps() {
        assert_eq!(Settings::default().with_page_size(0).page_size(), 1);
        assert_eq!(Settings::default().with_page_size(500).page_size(), 100);
    }
}
