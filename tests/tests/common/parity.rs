//! The Clari Copilot connector in the component and the same code compiled natively, on the
//! same recorded answers: call-details for a sample of mock calls are recorded once at the
//! host import, then both sides answer from the recording through the same egress (policy,
//! replay, scrub; no network). Used by the parity test and the native-vs-wasm benchmark.

use connector_sdk::{Connector as _, Ctx};
use std::path::Path;

use chrono::Utc;
use clari_copilot_connector::ClariCopilot;
use clari_copilot_connector::config::Settings;
use connector_sdk::http::{Request, Response, Transport};
use mock_clari::{MockClari, MockClariConfig};
use tenant_instance::config::Config;
use tenant_instance::egress::tape::{Player, Recorder};
use tenant_instance::egress::{self, Egress, Tape};
use tenant_instance::runtime::types::{CrawlMode, Permissions as HostPermissions, Visibility};
use tenant_instance::runtime::{GuestClock, WasmSource};
use tenant_instance::setup::{RunOptions, prepare_with};

use super::{WorldBuilder, loopback};

/// The SDK's transport, natively: the request goes through the host's egress exactly as the
/// component's `http` import sends it.
pub struct EgressTransport<'a>(pub &'a Egress);

impl Transport for EgressTransport<'_> {
    fn send(&self, request: &Request) -> Result<Response, connector_sdk::Error> {
        use connector_sdk::http::Method as M;
        let out = egress::OutboundRequest {
            upstream: request.upstream.clone(),
            method: match request.method {
                M::Get => egress::Method::Get,
                M::Post => egress::Method::Post,
                M::Put => egress::Method::Put,
                M::Patch => egress::Method::Patch,
                M::Delete => egress::Method::Delete,
                M::Head => egress::Method::Head,
            },
            path_and_query: request.path_and_query(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        self.0
            .send(&out)
            .map(|r| Response::from_parts(r.status, r.headers, r.body))
            .map_err(|e| connector_sdk::Error::transient(e.to_string()))
    }
}

/// Both sides, ready to answer the recorded calls.
pub struct Pair {
    pub wasm: WasmSource,
    pub native: ClariCopilot,
    /// The recording's guest clock, in epoch milliseconds (the native side's `now`).
    pub now_ms: i64,
    /// The recorded calls.
    pub ids: Vec<String>,
    /// The recording both sides answer from.
    pub tape: std::path::PathBuf,
    dir: tempfile::TempDir,
}

fn config(
    clari: &str,
    dir: &Path,
    component: Option<std::path::PathBuf>,
    memory_mb: Option<u32>,
) -> Config {
    let mut file = WorldBuilder::new("native-vs-wasm", 0).config_file(
        clari,
        "http://127.0.0.1:9",
        &dir.join("state"),
    );
    file.connector.component = component;
    if let Some(mb) = memory_mb {
        file.connector.limits.memory_mb = mb;
    }
    let env = |_: &str| Some("parity-secret".to_string());
    Config::from_file(file, Path::new("."), &env).expect("the parity configuration")
}

impl Pair {
    /// Records the first listing page (up to `sample` calls) of a mock workspace of `calls`
    /// calls built from `seed`, and prepares both sides on the recording. `component` is
    /// another build of the connector, or `None` for the embedded one.
    pub fn record(
        seed: u64,
        calls: usize,
        sample: usize,
        component: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Pair> {
        let dir = tempfile::Builder::new()
            .prefix("native-vs-wasm-")
            .tempdir()?;
        let tape = dir.path().join("details.tape");
        let runtime = tenant_instance::cached_runtime()?;
        let ids = {
            let clari = MockClari::spawn(
                loopback(),
                MockClariConfig {
                    seed,
                    calls,
                    anchor: Utc::now(),
                    api_key: "parity-secret".into(),
                    api_password: "parity-secret".into(),
                    ..MockClariConfig::default()
                },
            )?;
            let p = prepare_with(
                &runtime,
                &config(&clari.base_url(), dir.path(), component.clone(), None),
                RunOptions::new()
                    .with_clock(GuestClock::Fixed(Utc::now().timestamp()))
                    .with_tape(Tape::Record(Recorder::create(
                        &tape,
                        Utc::now().timestamp(),
                    )?)),
            )?;
            let page = p.connector.list_changes(CrawlMode::Full, None)?;
            let ids: Vec<String> = page
                .changes
                .iter()
                .map(|c| c.id.clone())
                .take(sample)
                .collect();
            for id in &ids {
                p.connector.fetch_with_permissions(id, Visibility::Public)?;
            }
            ids
        };
        anyhow::ensure!(!ids.is_empty(), "the mock listed no calls");
        Self::replay(dir, tape, ids, component)
    }

    /// Both sides on the recording `tape` (kept in `dir`), for the calls `ids`.
    pub fn replay(
        dir: tempfile::TempDir,
        tape: std::path::PathBuf,
        ids: Vec<String>,
        component: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Pair> {
        Self::replay_limited(dir, tape, ids, component, None)
    }

    /// [`Pair::replay`] with the component's per-call memory limit set to `memory_mb`.
    pub fn replay_limited(
        dir: tempfile::TempDir,
        tape: std::path::PathBuf,
        ids: Vec<String>,
        component: Option<std::path::PathBuf>,
        memory_mb: Option<u32>,
    ) -> anyhow::Result<Pair> {
        let runtime = tenant_instance::cached_runtime()?;
        let cfg = config("http://127.0.0.1:9", dir.path(), component, memory_mb);
        let now_ms = Player::open(&tape)?.clock() * 1000;
        let p = prepare_with(
            &runtime,
            &cfg,
            RunOptions::new().with_tape(Tape::Replay(Player::open(&tape)?)),
        )?;
        let native = ClariCopilot::with_settings(
            Settings::parse(|k| cfg.settings.get(k).cloned())
                .map_err(|e| anyhow::anyhow!("settings: {e:?}"))?,
        );
        Ok(Pair {
            wasm: p.connector,
            native,
            now_ms,
            ids,
            tape,
            dir,
        })
    }

    /// Gives up this pair, keeping its directory (to write another recording into it).
    pub fn into_dir(self) -> tempfile::TempDir {
        self.dir
    }

    /// The native connector's fetch and map of `id`.
    pub fn native_call(
        &self,
        id: &str,
    ) -> Result<(connector_sdk::Item, connector_sdk::Permissions), connector_sdk::Error> {
        let transport = EgressTransport(self.wasm.egress());
        let item = self.native.fetch_item(
            &Ctx::new(&transport).at_ms(self.now_ms),
            id,
            connector_sdk::Visibility::Public,
        )?;
        let permissions = ClariCopilot::map_permissions(&item.access);
        Ok((item, permissions))
    }

    /// The component's fetch and map of `id` (one fresh instance).
    pub fn wasm_call(
        &self,
        id: &str,
    ) -> anyhow::Result<(tenant_instance::runtime::types::Item, HostPermissions)> {
        Ok(self.wasm.fetch_with_permissions(id, Visibility::Public)?)
    }

    /// Checks that both sides answer `id` with the same item and permissions; returns the
    /// body's length.
    pub fn compare(&self, id: &str) -> anyhow::Result<usize> {
        let (w_item, w_perm) = self.wasm_call(id)?;
        let (n_item, n_perm) = self
            .native_call(id)
            .map_err(|e| anyhow::anyhow!("native {id}: {e:?}"))?;
        let wasm_side = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?}",
            w_item.title,
            w_item.url,
            w_item.summary,
            w_item.created_at,
            w_item.updated_at,
            w_item.container,
            w_item.tags,
            host_allowed(&w_perm),
            w_item
                .properties
                .iter()
                .map(|p| format!("{}={:?}", p.name, p.value))
                .collect::<Vec<_>>()
                .join("; "),
            w_item.body,
        );
        let native_side = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?}",
            n_item.title,
            n_item.url,
            n_item.summary,
            n_item.created_at,
            n_item.updated_at,
            n_item.container,
            n_item.tags,
            guest_allowed(&n_perm),
            // The generated bindings' Debug names the enum; the host's does not.
            n_item
                .properties
                .iter()
                .map(|p| format!("{}={:?}", p.name, p.value).replace("PropertyValue::", ""))
                .collect::<Vec<_>>()
                .join("; "),
            n_item.body,
        );
        if wasm_side != native_side {
            let at = wasm_side
                .bytes()
                .zip(native_side.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(60))
                    .take(120)
                    .collect::<String>()
            };
            anyhow::bail!(
                "call {id}: the component and the native code disagree at byte {at}:\n  wasm   …{}…\n  native …{}…",
                around(&wasm_side),
                around(&native_side)
            );
        }
        Ok(w_item.body.len())
    }
}

/// The users a permission lets in, or `None` for everyone (comparable across both sides).
fn host_allowed(p: &HostPermissions) -> Option<Vec<String>> {
    match p {
        HostPermissions::AllUsers => None,
        HostPermissions::Users(u) => Some(u.clone()),
        HostPermissions::Nobody => Some(Vec::new()),
    }
}

fn guest_allowed(p: &connector_sdk::Permissions) -> Option<Vec<String>> {
    match p {
        connector_sdk::Permissions::AllUsers => None,
        connector_sdk::Permissions::Users(u) => Some(u.clone()),
        connector_sdk::Permissions::Nobody => Some(Vec::new()),
    }
}
