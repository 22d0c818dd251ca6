//! The harness configuration file (TOML): which component to run, where its upstreams live and
//! how to authenticate to them (secrets by environment variable name, never inline), the Glean
//! endpoint, limits and crawl options. Loading validates everything and resolves secrets, so a
//! bad configuration fails before any crawl starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use egress::{BaseUrl, Secret};
use wasm_runtime::SandboxLimits;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub connector: ConnectorSection,
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamSection>,
    pub glean: GleanSection,
    #[serde(default)]
    pub crawl: CrawlSection,
    #[serde(default)]
    pub schedule: ScheduleSection,
}

/// When `harness run` crawls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// The longest wait between incremental polls (when the source is quiet).
    #[serde(default = "default_incremental_minutes")]
    pub incremental_minutes: u64,
    #[serde(default = "default_full_hours")]
    pub full_hours: u64,
    /// The shortest wait between polls, while the source is busy (the planner's).
    #[serde(default = "default_min_poll_seconds")]
    pub min_poll_seconds: u64,
    /// Let the budget planner decide (polling that follows the source's activity, full
    /// crawls in quiet hours and only when the week's budget affords them). `false`: poll
    /// every `incremental_minutes` and reconcile every `full_hours`, whatever happens.
    #[serde(default = "default_adaptive")]
    pub adaptive: bool,
    /// After a crawl that failed (a source or Glean outage, a limit), the first retry waits
    /// this long, doubling with each failure in a row, up to the full-crawl interval.
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u64,
}

fn default_min_poll_seconds() -> u64 {
    30
}
fn default_retry_seconds() -> u64 {
    60
}
fn default_adaptive() -> bool {
    true
}

fn default_incremental_minutes() -> u64 {
    5
}
fn default_full_hours() -> u64 {
    24
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            incremental_minutes: default_incremental_minutes(),
            full_hours: default_full_hours(),
            min_poll_seconds: default_min_poll_seconds(),
            adaptive: default_adaptive(),
            retry_seconds: default_retry_seconds(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSection {
    /// Instance name: keys the state file. Letters, digits, `-` and `_`.
    pub name: String,
    /// Path to the component; default: a built-in connector (`builtin`).
    pub component: Option<PathBuf>,
    /// A connector built into the harness, by name (`claricopilot`, `gong`); the default when
    /// neither `component` nor `oci` is given is `claricopilot`.
    pub builtin: Option<String>,
    /// An OCI reference to pull the component from (e.g. `registry.example/connectors/clari:0.2.0`);
    /// needs `digest`.
    pub oci: Option<String>,
    /// The component's pinned digest, `sha256:<64 hex digits>`: a component with another
    /// digest is refused before anything is compiled. With `oci`, either the manifest digest
    /// (what the registry and `oras` show) or the component's digest.
    pub digest: Option<String>,
    /// Speak plain HTTP to the `oci` registry (an in-cluster registry without TLS); loopback
    /// registries always are.
    #[serde(default)]
    pub oci_plain_http: bool,
    /// Directory for durable state; default `.harness-state` next to the config file.
    pub state_dir: Option<PathBuf>,
    /// Non-secret settings handed to the connector.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub limits: LimitsSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    #[serde(default = "default_deadline")]
    pub call_deadline_seconds: u32,
    #[serde(default = "default_http_timeout")]
    pub http_timeout_seconds: u32,
    #[serde(default = "default_max_response_mb")]
    pub max_response_mb: u32,
}

fn default_memory_mb() -> u32 {
    256
}
fn default_deadline() -> u32 {
    120
}
fn default_http_timeout() -> u32 {
    30
}
fn default_max_response_mb() -> u32 {
    16
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            memory_mb: default_memory_mb(),
            call_deadline_seconds: default_deadline(),
            http_timeout_seconds: default_http_timeout(),
            max_response_mb: default_max_response_mb(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub base_url: String,
    /// Requests per second for this upstream, shared by all workers (Clari allows 10); no
    /// one-second window ever holds more. Default: a conservative 5.
    pub rate_per_second: Option<f64>,
    /// Allow a base URL on a private network (localhost, loopback, RFC 1918, link-local,
    /// metadata addresses): needed for a local mock, refused by default.
    #[serde(default)]
    pub allow_private_network: bool,
    /// Credential header name to where its value comes from.
    #[serde(default)]
    pub credentials: BTreeMap<String, SecretSource>,
    /// HTTP Basic authentication: the host composes `Authorization: Basic base64(user:pass)`
    /// from two secrets; the connector sees neither.
    pub basic: Option<BasicSection>,
}

/// `[upstreams.NAME.basic]`: the two parts of an HTTP Basic credential (RFC 7617).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicSection {
    pub username: SecretSource,
    pub password: SecretSource,
    /// The header to send it in; default `Authorization`.
    pub header: Option<String>,
}

pub use crate::secret_source::{SecretFrom, SecretSource};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GleanSection {
    /// The host root, without `/api/index/v1`.
    pub base_url: String,
    /// Environment variable holding the indexing API token (or `token_file`).
    pub token_env: Option<String>,
    /// File holding the indexing API token, re-read before every crawl (or `token_env`).
    pub token_file: Option<PathBuf>,
    /// Datasource name; default: the connector's name.
    pub datasource: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlSection {
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Share of the index a crawl may delete before the brake holds deletions.
    #[serde(default = "default_delete_share")]
    pub max_delete_share: f64,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Requests the source allows per `budget_period`; default: what the connector declares
    /// (`[package.metadata.connector]`, stamped into its component), else no budget.
    /// `harness status` reports use against it.
    #[serde(default)]
    pub request_budget: Option<u64>,
    /// `day` (UTC days) or `week` (weeks from Sunday 00:00 GMT); default: the connector's
    /// declaration, else `week`.
    #[serde(default)]
    pub budget_period: Option<egress::budget::BudgetPeriod>,
    /// The older form of `request_budget` with `budget_period = "week"`.
    #[serde(default)]
    pub weekly_request_budget: Option<u64>,
    /// Bounds on one crawl, whatever the connector returns.
    #[serde(default)]
    pub limits: crawl_engine::limits::CrawlLimits,
    /// An item whose listing entry is unchanged is not fetched again, except that each is
    /// re-fetched at least once every this many full crawls (1: fetch everything every time).
    #[serde(default = "default_deep_refresh")]
    pub deep_refresh_every: u64,
}

fn default_deep_refresh() -> u64 {
    14
}

fn default_concurrency() -> usize {
    4
}
fn default_batch() -> usize {
    100
}
fn default_delete_share() -> f64 {
    0.2
}
fn default_retries() -> u32 {
    4
}

impl Default for CrawlSection {
    fn default() -> Self {
        CrawlSection {
            concurrency: default_concurrency(),
            batch_size: default_batch(),
            max_delete_share: default_delete_share(),
            max_retries: default_retries(),
            request_budget: None,
            budget_period: None,
            weekly_request_budget: None,
            limits: Default::default(),
            deep_refresh_every: default_deep_refresh(),
        }
    }
}

/// A validated configuration with secrets resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub component: ComponentRef,
    pub state_dir: PathBuf,
    pub settings: BTreeMap<String, String>,
    pub limits: SandboxLimits,
    pub http_timeout: Duration,
    pub max_response_bytes: u64,
    pub upstreams: BTreeMap<String, Upstream>,
    pub glean: Glean,
    pub crawl: CrawlSection,
    pub schedule: ScheduleSection,
    /// Where the upstream secrets come from (variables and files), for tenant isolation.
    pub secret_sources: Vec<String>,
}

/// Where the connector component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentRef {
    /// A component built into the harness.
    Embedded(crate::builtin::Builtin),
    /// A file, optionally pinned by digest.
    File {
        path: PathBuf,
        digest: Option<String>,
    },
    /// An OCI artifact, pinned by its manifest digest or its component digest.
    Oci {
        reference: String,
        digest: String,
        /// Plain HTTP to a registry off loopback (`oci_plain_http`).
        plain_http: bool,
        /// Where the pin was written, for messages.
        pin_origin: String,
    },
    /// Bytes already loaded and checked (the service keeps the version a tenant runs, so a
    /// replaced file that fails its check does not take the tenant down).
    Loaded {
        bytes: std::sync::Arc<[u8]>,
        /// Where they came from, for messages.
        origin: String,
        /// `wasm_runtime::component_digest` of the bytes, computed once when they were read.
        digest: String,
    },
}

/// Checks a `sha256:<hex>` digest's form.
pub fn check_digest(d: &str) -> anyhow::Result<()> {
    let hex = d.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        bail!(
            "[connector] digest `{d}` must be `sha256:` followed by 64 lowercase hex digits (as `harness inspect` prints it)"
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub base: BaseUrl,
    /// Requests per second as configured; `None`: what the connector declares for this
    /// upstream, else [`egress::DEFAULT_RATE_PER_SECOND`] (see `setup`).
    pub rate_per_second: Option<f64>,
    pub allow_private_network: bool,
    /// Header name and value the host adds to every request.
    pub credentials: Vec<(String, Secret)>,
    /// Secrets never sent as they are but scrubbed like the credentials: the username and
    /// the password a `basic` credential is composed from.
    pub scrub_only: Vec<Secret>,
    /// Where each credential comes from, to resolve it again before a crawl.
    pub credential_sources: Vec<(String, CredentialFrom)>,
}

/// Where one credential header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialFrom {
    /// `[upstreams.NAME.credentials]`: the value is the secret.
    Header(SecretFrom),
    /// `[upstreams.NAME.basic]`: `Basic ` and the base64 of `username:password`.
    Basic {
        username: SecretFrom,
        password: SecretFrom,
    },
}

/// A credential read now: the header value, and the secrets it was made of (scrubbed too).
#[derive(Debug, Clone)]
pub struct ResolvedCredential {
    pub value: Secret,
    pub parts: Vec<Secret>,
}

impl CredentialFrom {
    /// Every source it reads (what isolates tenants).
    pub fn sources(&self) -> Vec<&SecretFrom> {
        match self {
            CredentialFrom::Header(from) => vec![from],
            CredentialFrom::Basic { username, password } => vec![username, password],
        }
    }

    /// Reads it now, for `header` of upstream `upstream`. Errors name settings and
    /// variables or files, never a value.
    pub fn resolve(
        &self,
        upstream: &str,
        header: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<ResolvedCredential> {
        match self {
            CredentialFrom::Header(from) => Ok(ResolvedCredential {
                value: from.resolve(
                    &format!("[upstreams.{upstream}.credentials] `{header}`"),
                    env,
                )?,
                parts: Vec::new(),
            }),
            CredentialFrom::Basic { username, password } => {
                let user_setting = format!("[upstreams.{upstream}.basic] username");
                let pass_setting = format!("[upstreams.{upstream}.basic] password");
                let user = username.resolve(&user_setting, env)?;
                let pass = password.resolve(&pass_setting, env)?;
                if user.expose().contains(':') {
                    bail!(
                        "{user_setting} (from {}) contains `:`, which HTTP Basic cannot carry in a username (RFC 7617: the first `:` ends it); \
                         if it holds `username:password`, put the username alone there and the password under `password`",
                        username.key()
                    );
                }
                for (setting, from, secret) in [
                    (&user_setting, username, &user),
                    (&pass_setting, password, &pass),
                ] {
                    if secret.expose().chars().any(char::is_control) {
                        bail!(
                            "{setting} (from {}) contains a control character (a line break?), which RFC 7617 forbids; \
                             store the value alone, on one line",
                            from.key()
                        );
                    }
                }
                Ok(ResolvedCredential {
                    value: Secret::new(basic_value(user.expose(), pass.expose())),
                    parts: vec![user, pass],
                })
            }
        }
    }
}

/// `Basic ` and the standard base64 of `username:password` (RFC 7617).
fn basic_value(username: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

#[derive(Debug, Clone)]
pub struct Glean {
    pub base_url: String,
    pub token: Secret,
    pub token_from: SecretFrom,
    pub datasource: Option<String>,
}

/// Parses configuration text (no validation: see [`Config::from_file`]).
pub fn parse_file(text: &str) -> anyhow::Result<ConfigFile> {
    toml::from_str(text).context("not a valid harness configuration")
}

impl Config {
    /// Reads, parses and validates `path`, resolving secrets from `env`.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        Config::from_text(path, &text, env)
    }

    /// [`Config::load`] of `text`, already read from `path` (by a reader that treats the file
    /// as untrusted, as `serve` and `rollout` read tenant files).
    pub fn from_text(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let file = parse_file(text).with_context(|| path.display().to_string())?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::from_file(file, base_dir, env)
            .with_context(|| format!("invalid configuration in {}", path.display()))?;
        if let ComponentRef::Oci { pin_origin, .. } = &mut config.component {
            *pin_origin = format!("digest in [connector] of {}", path.display());
        }
        Ok(config)
    }

    /// Validates a parsed file. Relative paths are taken from `base_dir`.
    pub fn from_file(
        file: ConfigFile,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let c = file.connector;
        check_name(&c.name)?;
        let component = component_ref(&c, base_dir)?;
        let settings = settings(c.settings)?;
        let l = c.limits;
        in_range("[connector.limits] memory_mb", l.memory_mb, 16, 1024)?;
        in_range(
            "[connector.limits] call_deadline_seconds",
            l.call_deadline_seconds,
            1,
            3600,
        )?;
        in_range(
            "[connector.limits] http_timeout_seconds",
            l.http_timeout_seconds,
            1,
            600,
        )?;
        in_range(
            "[connector.limits] max_response_mb",
            l.max_response_mb,
            1,
            1024,
        )?;
        let mut upstreams = BTreeMap::new();
        for (name, u) in file.upstreams {
            let upstream = upstream(&name, u, env, base_dir)?;
            upstreams.insert(name, upstream);
        }
        let secret_sources = upstreams
            .values()
            .flat_map(|u: &Upstream| &u.credential_sources)
            .flat_map(|(_, from)| from.sources())
            .map(SecretFrom::key)
            .collect();
        let g = file.glean;
        BaseUrl::parse(&g.base_url).context("[glean] base_url")?;
        let token_from = glean_token_source(&g, base_dir)?;
        let token = token_from.resolve(GLEAN_TOKEN, env)?;
        check_crawl(&file.crawl, &file.schedule)?;
        Ok(Config {
            name: c.name,
            component,
            state_dir: base_dir.join(
                c.state_dir
                    .unwrap_or_else(|| PathBuf::from(".harness-state")),
            ),
            settings,
            limits: SandboxLimits {
                memory_bytes: l.memory_mb as usize * 1024 * 1024,
                call_deadline: Duration::from_secs(l.call_deadline_seconds.into()),
            },
            http_timeout: Duration::from_secs(l.http_timeout_seconds.into()),
            max_response_bytes: u64::from(l.max_response_mb) * 1024 * 1024,
            upstreams,
            glean: Glean {
                base_url: g.base_url,
                token,
                token_from,
                datasource: g.datasource,
            },
            crawl: file.crawl,
            schedule: file.schedule,
            secret_sources,
        })
    }
}

fn component_ref(c: &ConnectorSection, base_dir: &Path) -> anyhow::Result<ComponentRef> {
    if let Some(d) = &c.digest {
        check_digest(d)?;
    }
    if c.oci_plain_http && c.oci.is_none() {
        bail!(
            "[connector] oci_plain_http applies to a registry named by `oci`, and there is none; remove it"
        );
    }
    if let Some(name) = &c.builtin {
        if c.component.is_some() || c.oci.is_some() || c.digest.is_some() {
            bail!(
                "[connector] builtin = \"{name}\" names a connector built into the harness; remove `component`, `oci` and `digest`, or remove `builtin`"
            );
        }
        return Ok(ComponentRef::Embedded(crate::builtin::Builtin::named(
            name,
        )?));
    }
    Ok(
        match (c.component.clone(), c.oci.clone(), c.digest.clone()) {
            (Some(_), Some(_), _) => {
                bail!(
                    "[connector] names both `component` (a file) and `oci` (a reference); keep one"
                )
            }
            (None, Some(reference), Some(digest)) => ComponentRef::Oci {
                reference,
                digest,
                plain_http: c.oci_plain_http,
                pin_origin: "digest in the configuration's [connector]".into(),
            },
            (None, Some(reference), None) => bail!(
                "[connector] oci = \"{reference}\" needs digest = \"sha256:…\" so that exactly that artifact runs; `harness pull` prints it"
            ),
            (Some(p), None, digest) => ComponentRef::File {
                path: base_dir.join(p),
                digest,
            },
            (None, None, Some(_)) => bail!(
                "[connector] digest pins the embedded component, which needs no pin; name the component with `component` or `oci`"
            ),
            (None, None, None) => {
                ComponentRef::Embedded(crate::builtin::Builtin::default_connector())
            }
        },
    )
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        bail!(
            "[connector] name `{name}` must be letters, digits, `-` or `_` (it names the state file)"
        );
    }
    Ok(())
}

/// Settings as the text values the connector reads.
fn settings(raw: BTreeMap<String, toml::Value>) -> anyhow::Result<BTreeMap<String, String>> {
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "[connector.settings] `{k}` must be a string, number or boolean, not {}",
                    other.type_str()
                ),
            };
            Ok((k, s))
        })
        .collect()
}

/// How messages name the Glean token's setting.
const GLEAN_TOKEN: &str = "[glean] the indexing API token";

/// Where the Glean token comes from: exactly one of `token_env` and `token_file`.
fn glean_token_source(g: &GleanSection, base_dir: &Path) -> anyhow::Result<SecretFrom> {
    let source = SecretSource {
        env: g.token_env.clone(),
        file: g.token_file.clone(),
    };
    SecretFrom::parse(&source, "[glean] token_env / token_file", base_dir)
}

impl Config {
    /// The request budget and its period: `[crawl]`'s, else the one the connector declares,
    /// else none (0).
    pub fn request_budget(&self) -> (u64, egress::budget::BudgetPeriod) {
        use egress::budget::BudgetPeriod;
        let c = &self.crawl;
        if let Some(n) = c.weekly_request_budget {
            return (n, BudgetPeriod::Week);
        }
        let declared = crate::component::declared_budget(&self.component);
        match (c.request_budget, c.budget_period, declared) {
            (Some(n), Some(p), _) => (n, p),
            (Some(n), None, d) => (n, d.map_or(BudgetPeriod::Week, |d| d.1)),
            (None, Some(p), Some((n, dp))) if p == dp => (n, p),
            // A period without a count: the declared count is for another period.
            (None, Some(p), _) => (0, p),
            (None, None, Some(d)) => d,
            (None, None, None) => (0, BudgetPeriod::Week),
        }
    }
}

impl Config {
    /// Resolves every secret again (a rotated file, a changed variable); answers whether any
    /// changed. Called before each crawl by `run` and `serve`, so rotation needs no restart.
    pub fn refresh_secrets(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<bool> {
        let mut changed = false;
        for (name, u) in &mut self.upstreams {
            let (fresh, parts) = resolve_credentials(name, &u.credential_sources, env)?;
            let same = fresh.len() == u.credentials.len()
                && fresh
                    .iter()
                    .zip(&u.credentials)
                    .all(|(a, b)| a.0 == b.0 && a.1.expose() == b.1.expose());
            if !same {
                u.credentials = fresh;
                changed = true;
            }
            // The parts only change with the values composed from them.
            u.scrub_only = parts;
        }
        let token = self.glean.token_from.resolve(GLEAN_TOKEN, env)?;
        if token.expose() != self.glean.token.expose() {
            self.glean.token = token;
            changed = true;
        }
        Ok(changed)
    }
}

/// One upstream, validated, with its secrets resolved.
fn upstream(
    name: &str,
    u: UpstreamSection,
    env: &dyn Fn(&str) -> Option<String>,
    base_dir: &Path,
) -> anyhow::Result<Upstream> {
    let base = BaseUrl::parse(&u.base_url).with_context(|| format!("[upstreams.{name}]"))?;
    egress::grant::check_private_network(name, &base, &u.base_url, u.allow_private_network)
        .map_err(|e| anyhow::anyhow!(e))?;
    if let Some(r) = u.rate_per_second
        && !(r > 0.0 && r <= 10_000.0)
    {
        bail!("[upstreams.{name}] rate_per_second must be above 0 and at most 10000 (found {r})");
    }
    let mut credential_sources = Vec::new();
    for (header, source) in u.credentials {
        let setting = format!("[upstreams.{name}.credentials] `{header}`");
        let from = SecretFrom::parse(&source, &setting, base_dir)?;
        credential_sources.push((header, CredentialFrom::Header(from)));
    }
    if let Some(b) = u.basic {
        let header = b.header.unwrap_or_else(|| "Authorization".to_string());
        if header.is_empty() || !header.bytes().all(is_token_byte) {
            bail!(
                "[upstreams.{name}.basic] header `{}` is not an HTTP header name; use letters, digits and `-` (or leave it out for `Authorization`)",
                egress::quote::quote(&header)
            );
        }
        if let Some((other, _)) = credential_sources
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(&header))
        {
            bail!(
                "[upstreams.{name}] sets the header `{other}` twice: under [upstreams.{name}.credentials] and as [upstreams.{name}.basic]; \
                 keep one (remove `{other}` from [upstreams.{name}.credentials], or the [upstreams.{name}.basic] table)"
            );
        }
        let username = SecretFrom::parse(
            &b.username,
            &format!("[upstreams.{name}.basic] username"),
            base_dir,
        )?;
        let password = SecretFrom::parse(
            &b.password,
            &format!("[upstreams.{name}.basic] password"),
            base_dir,
        )?;
        credential_sources.push((header, CredentialFrom::Basic { username, password }));
    }
    let (credentials, scrub_only) = resolve_credentials(name, &credential_sources, env)?;
    Ok(Upstream {
        base,
        rate_per_second: u.rate_per_second,
        allow_private_network: u.allow_private_network,
        credentials,
        scrub_only,
        credential_sources,
    })
}

/// A character of an HTTP header name (RFC 9110 `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Credential headers with their values, and the secrets they were composed from.
type Resolved = (Vec<(String, Secret)>, Vec<Secret>);

/// Every credential of upstream `name` read now: the headers, and the parts they were
/// composed from.
fn resolve_credentials(
    name: &str,
    sources: &[(String, CredentialFrom)],
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Resolved> {
    let mut credentials = Vec::with_capacity(sources.len());
    let mut parts = Vec::new();
    for (header, from) in sources {
        let r = from.resolve(name, header, env)?;
        credentials.push((header.clone(), r.value));
        parts.extend(r.parts);
    }
    Ok((credentials, parts))
}

/// `value` of `setting` within `lo..=hi`, or an error naming the setting, the range and the
/// value found.
fn in_range<T: PartialOrd + std::fmt::Display>(
    setting: &str,
    value: T,
    lo: T,
    hi: T,
) -> anyhow::Result<()> {
    if value < lo || value > hi {
        bail!("{setting} must be between {lo} and {hi} (found {value})");
    }
    Ok(())
}

/// Every number of `[crawl]`, `[crawl.limits]` and `[schedule]` within a range that makes
/// sense, checked at load so a typo fails fast instead of overflowing or stalling later.
fn check_crawl(crawl: &CrawlSection, schedule: &ScheduleSection) -> anyhow::Result<()> {
    in_range("[crawl] concurrency", crawl.concurrency, 1, 64)?;
    in_range(
        "[crawl] batch_size (Glean's limit per request)",
        crawl.batch_size,
        1,
        1000,
    )?;
    in_range("[crawl] max_retries", crawl.max_retries, 0, 20)?;
    if crawl.weekly_request_budget.is_some()
        && (crawl.request_budget.is_some() || crawl.budget_period.is_some())
    {
        bail!(
            "[crawl] weekly_request_budget is the older form of request_budget with budget_period = \"week\"; keep one form"
        );
    }
    for (key, value) in [
        ("request_budget", crawl.request_budget),
        ("weekly_request_budget", crawl.weekly_request_budget),
    ] {
        if let Some(v) = value {
            in_range(&format!("[crawl] {key}"), v, 1, 1_000_000_000)?;
        }
    }
    in_range(
        "[crawl] deep_refresh_every (1 fetches every item on every crawl)",
        crawl.deep_refresh_every,
        1,
        10_000,
    )?;
    if !(0.0..=1.0).contains(&crawl.max_delete_share) {
        bail!(
            "[crawl] max_delete_share must be between 0 and 1 (found {})",
            crawl.max_delete_share
        );
    }
    check_limits(&crawl.limits)?;
    check_schedule(schedule)
}

/// Every number of `[crawl.limits]` within its range.
fn check_limits(l: &crawl_engine::limits::CrawlLimits) -> anyhow::Result<()> {
    for (setting, value) in [
        ("[crawl.limits] max_pages", l.max_pages),
        ("[crawl.limits] max_items", l.max_items),
        ("[crawl.limits] max_users", l.max_users),
        ("[crawl.limits] max_idle_pages", l.max_idle_pages),
    ] {
        in_range(setting, value, 1, 1_000_000_000)?;
    }
    in_range("[crawl.limits] max_item_mb", l.max_item_mb, 1, 10_000_000)?;
    in_range(
        "[crawl.limits] max_minutes (a week at most)",
        l.max_minutes,
        1,
        10_080,
    )
}

/// Every number of `[schedule]` within its range, and polls no rarer than their shortest wait.
fn check_schedule(schedule: &ScheduleSection) -> anyhow::Result<()> {
    in_range(
        "[schedule] incremental_minutes (a week at most)",
        schedule.incremental_minutes,
        1,
        10_080,
    )?;
    in_range(
        "[schedule] full_hours (a year at most)",
        schedule.full_hours,
        1,
        8_760,
    )?;
    in_range(
        "[schedule] min_poll_seconds (a day at most)",
        schedule.min_poll_seconds,
        1,
        86_400,
    )?;
    in_range(
        "[schedule] retry_seconds (a day at most)",
        schedule.retry_seconds,
        1,
        86_400,
    )?;
    if schedule.min_poll_seconds > schedule.incremental_minutes.saturating_mul(60) {
        bail!(
            "[schedule] min_poll_seconds ({}) must not exceed incremental_minutes ({} min): the shortest wait between polls cannot be longer than the longest",
            schedule.min_poll_seconds,
            schedule.incremental_minutes
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[connector]
name = "clari-prod"
[connector.settings]
history_months = 6
[upstreams.clari]
base_url = "https://rest-api.copilot.clari.com"
rate_per_second = 10
[upstreams.clari.credentials]
X-Api-Key = { env = "K" }
X-Api-Password = { env = "P" }
[glean]
base_url = "https://acme-be.glean.com"
token_env = "T"
"#;

    fn env(k: &str) -> Option<String> {
        match k {
            "K" => Some("key-value-1".into()),
            "P" => Some("password-value-1".into()),
            "T" => Some("token-value-1".into()),
            _ => None,
        }
    }

    fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        Config::from_file(toml::from_str(text)?, Path::new("/etc/harness"), env)
    }

    #[test]
    fn loads_a_good_file_and_keeps_secrets_out_of_debug() {
        let c = parse(GOOD, &env).unwrap();
        assert_eq!(c.settings["history_months"], "6");
        assert_eq!(c.upstreams["clari"].credentials.len(), 2);
        assert_eq!(c.state_dir, PathBuf::from("/etc/harness/.harness-state"));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("key-value-1") && !dbg.contains("token-value-1"),
            "{dbg}"
        );
    }

    /// An upstream with HTTP Basic credentials (RFC 7617's example pair).
    const BASIC: &str = r#"
[connector]
name = "gong-prod"
[upstreams.gong]
base_url = "https://api.gong.io"
[upstreams.gong.basic]
username = { env = "GONG_USER" }
password = { env = "GONG_PASSWORD" }
[glean]
base_url = "https://acme-be.glean.com"
token_env = "T"
"#;

    fn basic_env(k: &str) -> Option<String> {
        match k {
            "GONG_USER" => Some("Aladdin".into()),
            "GONG_PASSWORD" => Some("open sesame".into()),
            other => env(other),
        }
    }

    fn headers(u: &Upstream) -> Vec<(String, String)> {
        u.credentials
            .iter()
            .map(|(h, s)| (h.clone(), s.expose().to_string()))
            .collect()
    }

    #[test]
    fn basic_composes_the_authorization_header_from_two_secrets() {
        let c = parse(BASIC, &basic_env).unwrap();
        let u = &c.upstreams["gong"];
        assert_eq!(
            headers(u),
            [(
                "Authorization".to_string(),
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_string()
            )]
        );
        assert_eq!(
            u.scrub_only.iter().map(Secret::expose).collect::<Vec<_>>(),
            ["Aladdin", "open sesame"]
        );
        // Both parts isolate tenants.
        assert_eq!(
            c.secret_sources,
            [
                "the environment variable `GONG_USER`",
                "the environment variable `GONG_PASSWORD`"
            ]
        );
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("Aladdin") && !dbg.contains("open sesame") && !dbg.contains("QWxh"),
            "{dbg}"
        );
        // Another header, and parts from files.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("user"), "Aladdin\n").unwrap();
        std::fs::write(dir.path().join("pass"), "open sesame\n").unwrap();
        let text = BASIC
            .replace("{ env = \"GONG_USER\" }", "{ file = \"user\" }")
            .replace(
                "{ env = \"GONG_PASSWORD\" }",
                "{ file = \"pass\" }\nheader = \"X-Gong-Auth\"",
            );
        let c = Config::from_file(toml::from_str(&text).unwrap(), dir.path(), &env).unwrap();
        assert_eq!(
            headers(&c.upstreams["gong"]),
            [(
                "X-Gong-Auth".to_string(),
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_string()
            )]
        );
    }

    #[test]
    fn basic_is_recomposed_when_a_part_rotates() {
        let mut c = parse(BASIC, &basic_env).unwrap();
        assert!(!c.refresh_secrets(&basic_env).unwrap());
        let rotated = |k: &str| match k {
            "GONG_PASSWORD" => Some("new-password".into()),
            other => basic_env(other),
        };
        assert!(c.refresh_secrets(&rotated).unwrap());
        let u = &c.upstreams["gong"];
        // base64("Aladdin:new-password")
        assert_eq!(
            u.credentials[0].1.expose(),
            "Basic QWxhZGRpbjpuZXctcGFzc3dvcmQ="
        );
        assert_eq!(u.scrub_only[1].expose(), "new-password");
        assert!(!c.refresh_secrets(&rotated).unwrap());
        // A part that disappears fails the refresh naming the setting and the variable.
        let e = c
            .refresh_secrets(&|k| if k == "GONG_USER" { None } else { rotated(k) })
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[upstreams.gong.basic] username") && e.contains("`GONG_USER`"),
            "{e}"
        );
    }

    #[test]
    fn basic_refuses_what_http_basic_cannot_carry_without_showing_it() {
        let with = |user: &'static str, pass: &'static str| {
            move |k: &str| match k {
                "GONG_USER" => Some(user.to_string()),
                "GONG_PASSWORD" => Some(pass.to_string()),
                other => env(other),
            }
        };
        let e = format!(
            "{:#}",
            parse(BASIC, &with("Ala:ddin", "open sesame")).unwrap_err()
        );
        assert!(
            e.contains("[upstreams.gong.basic] username")
                && e.contains("`GONG_USER`")
                && e.contains("`:`")
                && !e.contains("Ala:ddin"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse(BASIC, &with("Aladdin", "open\nsesame")).unwrap_err()
        );
        assert!(
            e.contains("[upstreams.gong.basic] password") && !e.contains("sesame"),
            "{e}"
        );
        // Empty parts.
        let e = format!("{:#}", parse(BASIC, &with("", "open sesame")).unwrap_err());
        assert!(e.contains("[upstreams.gong.basic] username"), "{e}");
        let e = format!("{:#}", parse(BASIC, &with("Aladdin", "")).unwrap_err());
        assert!(e.contains("[upstreams.gong.basic] password"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pass"), "\n").unwrap();
        let text = BASIC.replace("{ env = \"GONG_PASSWORD\" }", "{ file = \"pass\" }");
        let e = format!(
            "{:#}",
            Config::from_file(toml::from_str(&text).unwrap(), dir.path(), &basic_env).unwrap_err()
        );
        assert!(e.contains("password") && e.contains("empty"), "{e}");
        // A missing part, an unknown key, a source naming both or neither.
        for (from, to, says) in [
            ("password = { env = \"GONG_PASSWORD\" }\n", "", "password"),
            (
                "[upstreams.gong.basic]",
                "[upstreams.gong.basic]\nuser = 1",
                "user",
            ),
            (
                "{ env = \"GONG_USER\" }",
                "{ env = \"GONG_USER\", file = \"u\" }",
                "both",
            ),
            ("{ env = \"GONG_USER\" }", "{}", "username needs"),
            (
                "[upstreams.gong.basic]",
                "[upstreams.gong.basic]\nheader = \"Auth orization\"",
                "not an HTTP header name",
            ),
        ] {
            let text = BASIC.replace(from, to);
            assert_ne!(text, BASIC, "{from}");
            let e = match toml::from_str::<ConfigFile>(&text) {
                Err(e) => e.to_string(),
                Ok(f) => format!(
                    "{:#}",
                    Config::from_file(f, Path::new("/etc/harness"), &basic_env).unwrap_err()
                ),
            };
            assert!(e.contains(says), "{to}: {e}");
        }
    }

    #[test]
    fn basic_and_a_credentials_entry_for_one_header_are_refused() {
        for header in ["Authorization", "authorization"] {
            let text = BASIC.replace(
                "[glean]",
                &format!("[upstreams.gong.credentials]\n{header} = {{ env = \"K\" }}\n[glean]"),
            );
            let e = format!("{:#}", parse(&text, &basic_env).unwrap_err());
            assert!(
                e.contains("[upstreams.gong.credentials]")
                    && e.contains("[upstreams.gong.basic]")
                    && e.contains("keep one"),
                "{e}"
            );
        }
        // Other headers beside it are fine.
        let text = BASIC.replace(
            "[glean]",
            "[upstreams.gong.credentials]\nX-Tenant = { env = \"K\" }\n[glean]",
        );
        let c = parse(&text, &basic_env).unwrap();
        assert_eq!(c.upstreams["gong"].credentials.len(), 2);
        assert_eq!(c.secret_sources.len(), 3);
    }

    #[test]
    fn missing_secrets_fail_fast_naming_the_variable() {
        let e = parse(GOOD, &|k| if k == "P" { None } else { env(k) }).unwrap_err();
        assert!(format!("{e:#}").contains("`P`"), "{e:#}");
    }

    #[test]
    fn private_networks_need_explicit_permission() {
        for url in [
            "http://127.0.0.1:8081",
            "http://localhost:8081",
            "http://169.254.169.254",
            "http://10.0.0.5",
            "http://[::1]:80",
        ] {
            let text = GOOD.replace("https://rest-api.copilot.clari.com", url);
            let e = parse(&text, &env).unwrap_err();
            assert!(
                format!("{e:#}").contains("allow_private_network = true"),
                "{url}: {e:#}"
            );
            let allowed = text.replace(
                "rate_per_second = 10",
                "rate_per_second = 10\nallow_private_network = true",
            );
            assert!(parse(&allowed, &env).is_ok(), "{url}");
        }
    }

    #[test]
    fn bad_values_fail_fast() {
        for (from, to) in [
            ("https://rest-api.copilot.clari.com", "ftp://x"),
            ("rate_per_second = 10", "rate_per_second = -1"),
            ("name = \"clari-prod\"", "name = \"a b\""),
            ("[glean]", "[glean]\nbogus = 1"),
        ] {
            let text = GOOD.replace(from, to);
            assert!(parse(&text, &env).is_err(), "{to}");
        }
    }

    #[test]
    fn every_number_is_range_checked_naming_the_setting() {
        let cases = [
            ("[connector.limits]\nmemory_mb = 4096", "memory_mb"),
            (
                "[connector.limits]\ncall_deadline_seconds = 0",
                "call_deadline_seconds",
            ),
            (
                "[connector.limits]\nhttp_timeout_seconds = 100000",
                "http_timeout_seconds",
            ),
            ("[connector.limits]\nmax_response_mb = 0", "max_response_mb"),
            ("[crawl]\nconcurrency = 0", "concurrency"),
            ("[crawl]\nbatch_size = 5000", "batch_size"),
            ("[crawl]\nmax_retries = 1000", "max_retries"),
            (
                "[crawl]\nweekly_request_budget = 0",
                "weekly_request_budget",
            ),
            ("[crawl]\ndeep_refresh_every = 0", "deep_refresh_every"),
            ("[crawl]\nmax_delete_share = nan", "max_delete_share"),
            ("[crawl.limits]\nmax_minutes = 99999999", "max_minutes"),
            ("[crawl.limits]\nmax_pages = 0", "max_pages"),
            ("[schedule]\nfull_hours = 1152921504606846976", "full_hours"),
            ("[schedule]\nincremental_minutes = 0", "incremental_minutes"),
            ("[schedule]\nretry_seconds = 0", "retry_seconds"),
            (
                "[schedule]\nmin_poll_seconds = 7200\nincremental_minutes = 15",
                "min_poll_seconds",
            ),
        ];
        for (extra, setting) in cases {
            // Sections appended after [glean]; [connector.limits] goes under [connector].
            let text = if extra.starts_with("[connector.limits]") {
                GOOD.replace(
                    "[connector.settings]",
                    &format!("{extra}\n[connector.settings]"),
                )
            } else {
                format!("{GOOD}\n{extra}\n")
            };
            let e = format!("{:#}", parse(&text, &env).unwrap_err());
            assert!(e.contains(setting), "{setting}: {e}");
        }
        let text = GOOD.replace("rate_per_second = 10", "rate_per_second = inf");
        let e = format!("{:#}", parse(&text, &env).unwrap_err());
        assert!(e.contains("rate_per_second"), "{e}");
    }
}
