//! The shared test world: a mock Clari Copilot and a mock Glean on loopback, a configuration
//! built as values (not patched text), and the harness prepared from it. Every end-to-end test
//! file that crawls uses [`WorldBuilder`].

#![allow(dead_code)]

pub mod parity;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};
use tenant_instance::config::{
    Config, ConfigFile, ConnectorSection, CrawlSection, GleanSection, LimitsSection,
    ScheduleSection, SecretSource, UpstreamSection,
};
use tenant_instance::crawl::types::CrawlMode;
use tenant_instance::crawl::{CrawlReport, Crawler};
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{self, Prepared};

pub const DATASOURCE: &str = "claricopilot";

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Builds a [`World`].
pub struct WorldBuilder {
    pub name: String,
    pub clari: MockClariConfig,
    pub rate_per_second: Option<f64>,
    pub crawl: CrawlSection,
    pub settings: BTreeMap<String, toml::Value>,
}

impl WorldBuilder {
    pub fn new(name: &str, calls: usize) -> Self {
        let mut settings = BTreeMap::new();
        settings.insert("history_months".into(), toml::Value::Integer(12));
        WorldBuilder {
            name: name.into(),
            clari: MockClariConfig {
                seed: 21,
                calls,
                anchor: chrono::Utc::now(),
                ..MockClariConfig::default()
            },
            rate_per_second: Some(1000.0),
            crawl: CrawlSection::default(),
            settings,
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.clari.seed = seed;
        self
    }

    /// A connector setting, as `[connector.settings]` would hold it.
    pub fn setting(mut self, key: &str, value: toml::Value) -> Self {
        self.settings.insert(key.into(), value);
        self
    }

    pub fn rate(mut self, rate: Option<f64>) -> Self {
        self.rate_per_second = rate;
        self
    }

    pub fn crawl(mut self, f: impl FnOnce(&mut CrawlSection)) -> Self {
        f(&mut self.crawl);
        self
    }

    /// The configuration file as a value, pointing at the given mocks.
    pub fn config_file(&self, clari: &str, glean: &str, state_dir: &std::path::Path) -> ConfigFile {
        let mut credentials = BTreeMap::new();
        credentials.insert(
            "X-Api-Key".to_string(),
            SecretSource {
                env: Some("CLARI_API_KEY".into()),
                file: None,
            },
        );
        credentials.insert(
            "X-Api-Password".to_string(),
            SecretSource {
                env: Some("CLARI_API_PASSWORD".into()),
                file: None,
            },
        );
        let mut upstreams = BTreeMap::new();
        upstreams.insert(
            "clari".to_string(),
            UpstreamSection {
                base_url: clari.into(),
                rate_per_second: self.rate_per_second,
                allow_private_network: true,
                credentials,
                basic: None,
            },
        );
        ConfigFile {
            connector: ConnectorSection {
                name: self.name.clone(),
                component: None,
                builtin: None,
                oci: None,
                digest: None,
                oci_plain_http: false,
                state_dir: Some(state_dir.to_path_buf()),
                settings: self.settings.clone(),
                limits: LimitsSection::default(),
            },
            upstreams,
            glean: GleanSection {
                base_url: glean.into(),
                token_env: Some("GLEAN_INDEXING_TOKEN".into()),
                token_file: None,
                datasource: None,
            },
            crawl: self.crawl.clone(),
            schedule: ScheduleSection::default(),
        }
    }

    pub fn build(self) -> World {
        let clari = MockClari::spawn(loopback(), self.clari.clone()).unwrap();
        let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
        let dir = std::env::temp_dir().join(format!("e2e-{}-{}", self.name, std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let file = self.config_file(&clari.base_url(), &glean.base_url(), &dir);
        let config = Config::from_file(file, std::path::Path::new("."), &env).unwrap();
        let runtime = tenant_instance::cached_runtime().unwrap();
        let prepared = setup::prepare(&runtime, &config, GuestClock::System).unwrap();
        World {
            anchor: self.clari.anchor,
            clari,
            glean,
            prepared,
            config,
            dir,
        }
    }
}

/// The secrets the mocks expect, as the environment would hold them.
pub fn env(k: &str) -> Option<String> {
    match k {
        "CLARI_API_KEY" => Some(MockClariConfig::default().api_key),
        "CLARI_API_PASSWORD" => Some(MockClariConfig::default().api_password),
        _ => Some(MockGleanConfig::default().token),
    }
}

pub struct World {
    /// The mock's "now" when it started: the real now.
    pub anchor: chrono::DateTime<chrono::Utc>,
    pub clari: MockClari,
    pub glean: MockGlean,
    pub prepared: Prepared,
    pub config: Config,
    pub dir: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl World {
    pub fn crawl(&mut self, mode: CrawlMode, allow_mass_delete: bool) -> CrawlReport {
        let p = &mut self.prepared;
        let mut options = p.options.clone();
        options.allow_mass_delete = allow_mass_delete;
        Crawler::new(&p.connector, &*p.index, &mut *p.store, options)
            .run(mode)
            .unwrap()
    }

    pub fn full(&mut self) -> CrawlReport {
        self.crawl(CrawlMode::Full, false)
    }

    pub fn indexed(&self) -> usize {
        self.glean.documents(DATASOURCE).len()
    }
}
