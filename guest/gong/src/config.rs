//! The connector's settings: their keys, defaults, bounds and parsing. A bad value is an
//! [`Error::Config`] that names the key and says what to set, raised when the connector is
//! built (`Connector::new`), before any request is sent.

use std::str::FromStr;

use connector_sdk::{Error, settings};

/// Setting key: how many days back a full crawl lists calls (`1..=1095`, default 180).
pub const HISTORY_DAYS: &str = "history_days";
/// Setting key: how many hours before the last listing's window end an incremental crawl
/// lists again (`1..=720`, default 48). Gong has no modified-since filter, and its processing
/// and AI blocks arrive after a call is first listed.
pub const OVERLAP_HOURS: &str = "overlap_hours";
/// Setting key: the Gong workspace to crawl (digits only); unset or blank crawls every
/// workspace the credentials can read.
pub const WORKSPACE_ID: &str = "workspace_id";
/// Setting key: who may see a call that is not private: `participants` (default) or
/// `everyone`.
pub const NON_PRIVATE_CALLS: &str = "non_private_calls";

const MAX_HISTORY_DAYS: u32 = 1095;
const MAX_OVERLAP_HOURS: u32 = 720;
/// Gong ids are numeric strings of at most 20 digits.
const MAX_ID_DIGITS: usize = 20;

/// Who may see a call whose `isPrivate` is `false`. Private calls, and calls whose privacy is
/// unknown, are always restricted to their internal participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonPrivateCalls {
    /// Only the call's internal participants and its owner (the default: fails closed).
    #[default]
    Participants,
    /// Everyone who can use the datasource.
    Everyone,
}

impl FromStr for NonPrivateCalls {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "participants" => Ok(NonPrivateCalls::Participants),
            "everyone" => Ok(NonPrivateCalls::Everyone),
            _ => Err(()),
        }
    }
}

impl NonPrivateCalls {
    /// The setting's value as an operator writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NonPrivateCalls::Participants => "participants",
            NonPrivateCalls::Everyone => "everyone",
        }
    }
}

/// Validated settings. The fields are private so every value went through [`Settings::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    history_days: u32,
    overlap_hours: u32,
    workspace_id: Option<String>,
    non_private_calls: NonPrivateCalls,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            history_days: 180,
            overlap_hours: 48,
            workspace_id: None,
            non_private_calls: NonPrivateCalls::Participants,
        }
    }
}

impl Settings {
    /// Parses the settings from `lookup` (key to raw value, as `Ctx::settings` gives).
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let d = Settings::default();
        let history_days = bounded(
            HISTORY_DAYS,
            lookup(HISTORY_DAYS),
            d.history_days,
            MAX_HISTORY_DAYS,
        )?;
        let overlap_hours = bounded(
            OVERLAP_HOURS,
            lookup(OVERLAP_HOURS),
            d.overlap_hours,
            MAX_OVERLAP_HOURS,
        )?;
        let workspace_id = workspace(lookup(WORKSPACE_ID))?;
        let non_private_calls = settings::parse_or(
            NON_PRIVATE_CALLS,
            lookup(NON_PRIVATE_CALLS),
            d.non_private_calls,
            "`participants` (only a call's internal participants see it) or `everyone` (everyone sees calls that are not private)",
        )?;
        Ok(Settings {
            history_days,
            overlap_hours,
            workspace_id,
            non_private_calls,
        })
    }

    pub fn history_days(&self) -> u32 {
        self.history_days
    }

    /// The full crawl's window length in milliseconds.
    pub fn history_ms(&self) -> i64 {
        i64::from(self.history_days) * 86_400_000
    }

    pub fn overlap_hours(&self) -> u32 {
        self.overlap_hours
    }

    /// The incremental overlap in milliseconds.
    pub fn overlap_ms(&self) -> i64 {
        i64::from(self.overlap_hours) * 3_600_000
    }

    pub fn workspace_id(&self) -> Option<&str> {
        self.workspace_id.as_deref()
    }

    pub fn non_private_calls(&self) -> NonPrivateCalls {
        self.non_private_calls
    }

    /// The same settings with another rule for non-private calls (for tests and tools).
    pub fn with_non_private_calls(self, rule: NonPrivateCalls) -> Self {
        Settings {
            non_private_calls: rule,
            ..self
        }
    }
}

/// A whole number in `1..=max`, or `default` when unset.
fn bounded(key: &str, raw: Option<String>, default: u32, max: u32) -> Result<u32, Error> {
    let expected = format!("a whole number from 1 to {max}");
    let value = settings::parse_or(key, raw.clone(), default, &expected)?;
    if (1..=max).contains(&value) {
        return Ok(value);
    }
    Err(Error::config(format!(
        "setting `{key}` is `{}`, expected {expected}; fix it in the connector settings",
        raw.unwrap_or_default()
    )))
}

/// The workspace id: blank is unset; otherwise 1 to 20 ASCII digits.
fn workspace(raw: Option<String>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let id = raw.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() <= MAX_ID_DIGITS && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(id.to_string()));
    }
    Err(Error::config(format!(
        "setting `{WORKSPACE_ID}` is `{raw}`, expected a Gong workspace id (up to {MAX_ID_DIGITS} digits, from Gong's company settings or GET /v2/workspaces) or nothing to crawl every workspace; fix it in the connector settings"
    )))
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
        assert_eq!((s.history_days(), s.overlap_hours()), (180, 48));
        assert_eq!(s.overlap_ms(), 48 * 3_600_000);
        assert_eq!(s.workspace_id(), None);
        assert_eq!(s.non_private_calls(), NonPrivateCalls::Participants);
    }

    #[test]
    fn parses_values() {
        let s = parse(&[
            (HISTORY_DAYS, " 1095 "),
            (OVERLAP_HOURS, "1"),
            (WORKSPACE_ID, " 623457276584334 "),
            (NON_PRIVATE_CALLS, "Everyone"),
        ])
        .unwrap();
        assert_eq!((s.history_days(), s.overlap_hours()), (1095, 1));
        assert_eq!(s.workspace_id(), Some("623457276584334"));
        assert_eq!(s.non_private_calls(), NonPrivateCalls::Everyone);
        assert_eq!(parse(&[(WORKSPACE_ID, "  ")]).unwrap().workspace_id(), None);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            (HISTORY_DAYS, "0"),
            (HISTORY_DAYS, "1096"),
            (HISTORY_DAYS, "half a year"),
            (OVERLAP_HOURS, "0"),
            (OVERLAP_HOURS, "721"),
            (OVERLAP_HOURS, "-1"),
            (WORKSPACE_ID, "ws-1"),
            (WORKSPACE_ID, "123456789012345678901"),
            (NON_PRIVATE_CALLS, "all"),
        ] {
            match parse(&[(key, value)]) {
                Err(Error::Config(m)) => {
                    assert!(m.contains(&format!("`{key}`")), "{m}");
                    assert!(m.contains(value), "{m}");
                }
                other => panic!("{key}={value}: expected a config error, got {other:?}"),
            }
        }
    }
}
