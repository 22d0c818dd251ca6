//! The context every connector method receives: the host's transport, clock, settings and log,
//! behind traits so that the same connector code runs inside a component (on the host's
//! imports, [`Ctx::host`]) and natively in tests (on [`crate::testkit::TestHost`]).

use std::str::FromStr;

use crate::Error;
use crate::http::{HostTransport, Transport};

/// The current time, in epoch milliseconds.
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// Non-secret settings by key.
pub trait SettingsSource {
    fn get(&self, key: &str) -> Option<String>;
}

/// Where log lines go.
pub trait LogSink {
    fn write(&self, level: Level, message: &str);
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// What a connector method may use of its surroundings. Built by the SDK for each export
/// call ([`Ctx::host`]); a test builds one over its own transport ([`Ctx::new`] and the
/// `with_*` methods) or from a [`crate::testkit::TestHost`].
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    http: &'a dyn Transport,
    clock: Now<'a>,
    settings: &'a dyn SettingsSource,
    log: &'a dyn LogSink,
}

#[derive(Clone, Copy)]
enum Now<'a> {
    Fixed(i64),
    Clock(&'a dyn Clock),
}

/// No settings at all (every key unset).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSettings;

impl SettingsSource for NoSettings {
    fn get(&self, _key: &str) -> Option<String> {
        None
    }
}

impl<'a> Ctx<'a> {
    /// A context over `http`, with the real clock, no settings and the host's log (stderr
    /// natively); change any of them with the `with_*` methods.
    pub fn new(http: &'a dyn Transport) -> Self {
        Ctx {
            http,
            clock: Now::Clock(&HostClock),
            settings: &NoSettings,
            log: &HostLog,
        }
    }

    /// The host's imports: policed HTTP, the guest clock, the configured settings, the log.
    pub fn host() -> Ctx<'static> {
        Ctx::new(&HostTransport).with_settings(&HostSettings)
    }

    /// The clock stopped at `now_ms`.
    #[must_use]
    pub fn at_ms(mut self, now_ms: i64) -> Self {
        self.clock = Now::Fixed(now_ms);
        self
    }

    #[must_use]
    pub fn with_clock(mut self, clock: &'a dyn Clock) -> Self {
        self.clock = Now::Clock(clock);
        self
    }

    #[must_use]
    pub fn with_settings(mut self, settings: &'a dyn SettingsSource) -> Self {
        self.settings = settings;
        self
    }

    #[must_use]
    pub fn with_log(mut self, log: &'a dyn LogSink) -> Self {
        self.log = log;
        self
    }

    /// Outbound HTTP to the upstreams the connector declared.
    pub fn http(&self) -> &'a dyn Transport {
        self.http
    }

    /// The time now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self.clock {
            Now::Fixed(ms) => ms,
            Now::Clock(clock) => clock.now_ms(),
        }
    }

    /// The raw value of setting `key`, if configured.
    pub fn setting(&self, key: &str) -> Option<String> {
        self.settings.get(key)
    }

    /// Setting `key` parsed as `T`, or `default` when unset; a value that does not parse is
    /// an [`Error::Config`] naming the key and what was `expected`.
    pub fn setting_or<T: FromStr>(
        &self,
        key: &str,
        default: T,
        expected: &str,
    ) -> Result<T, Error> {
        crate::settings::parse_or(key, self.setting(key), default, expected)
    }

    /// The settings as a lookup function, for parsers written against one.
    pub fn settings(&self) -> impl Fn(&str) -> Option<String> + 'a {
        let settings = self.settings;
        move |key| settings.get(key)
    }

    /// Writes a log line at `level`.
    pub fn log(&self, level: Level, message: &str) {
        self.log.write(level, message)
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message)
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message)
    }
}

/// The guest's wall clock (WASI's clock inside a component, which the host controls).
#[derive(Debug, Default, Clone, Copy)]
pub struct HostClock;

impl Clock for HostClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The host's `settings` import (always empty when built natively).
#[derive(Debug, Default, Clone, Copy)]
pub struct HostSettings;

impl SettingsSource for HostSettings {
    fn get(&self, key: &str) -> Option<String> {
        crate::settings::get(key)
    }
}

/// The host's `log` import (stderr when built natively).
#[derive(Debug, Default, Clone, Copy)]
pub struct HostLog;

impl LogSink for HostLog {
    fn write(&self, level: Level, message: &str) {
        crate::log::write(level, message)
    }
}
