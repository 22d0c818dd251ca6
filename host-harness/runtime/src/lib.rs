//! The wasmtime runtime: one engine with the pooling allocator and an epoch ticker, components
//! checked for their contract version before compiling, compiled once and cached by digest as
//! an `InstancePre`, and a fresh, limited instance for every export call.

pub mod bindings;
pub mod compiled_cache;
pub mod contract;
pub mod convert;
mod exports;
pub mod host;
pub mod limits;
pub mod slots;
pub mod source;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::contract::ContractError;
use bindings::{v0_1_0, v0_2_0};
pub use convert::ConnectorError;
use egress::Egress;
pub use host::{ClockCell, GuestClock, HostState};
pub use limits::{EPOCH_TICK, SandboxLimits};
use source_seam::text as guest_text;
/// The types the exports answer in: the engine's plain types, whatever the contract version.
pub use source_seam::types;

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("the component could not be compiled: {0}")]
    Compile(String),
    #[error(
        "the component does not match the connector contract it claims ({0}); rebuild it with connector-sdk"
    )]
    Link(String),
    #[error("could not read the component file `{path}`: {reason}")]
    Read { path: String, reason: String },
}

/// The engine and linker, shared by every connector in the process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<HashMap<String, Arc<CompiledConnector>>>,
    /// Compilations under way, by digest (single flight).
    compiling: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// How many compilations ran (for tests of the single flight).
    compilations: std::sync::atomic::AtomicU64,
    /// Where compiled code is kept across processes, by component digest and engine.
    disk_cache: Option<std::path::PathBuf>,
    pooling: bool,
    /// Live instances at once: the pool's size (callers wait beyond it).
    slots: Arc<slots::Slots>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

/// Pool sizes: enough for many concurrent calls across many tenants. A call blocked on a
/// source that does not answer keeps its instance until its timeout, so the pool is sized
/// well beyond the busy workers (64 crawls of `serve`, 4 calls each) to leave room for
/// stalled ones: the slots are address space, touched only when used.
const POOL_INSTANCES: u32 = 512;
/// The largest linear memory the pool reserves for; per-store limits are lower.
const POOL_MAX_MEMORY: usize = 1 << 30;
/// How much of a slot's linear memory is kept resident and reset in place rather than handed
/// back to the kernel. Handing pages back costs a system call, a TLB shoot-down across cores
/// and a page fault for every page the next instance touches: most of a small guest's call.
/// But the reset is not free either: the kernel (`PAGEMAP_SCAN`, Linux 6.7 and later) lists
/// every resident page, not only those this call wrote, and each one listed is cleared. So a
/// slot that once ran a large call would clear all it kept on every later reset: at 1 MiB, a
/// Clari Copilot fetch spent 16 µs (median) in its teardown against 8 µs at 128 KiB, while the
/// small probe's call is the same at either (BENCHMARKS.md). It also bounds what an idle warm
/// slot holds.
const POOL_KEEP_RESIDENT: usize = 128 << 10;
/// The same for tables (a few KiB of function references).
const POOL_TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Set (to anything) to have the engine write `/tmp/perf-PID.map`, so that `perf report`
/// names the guest's functions (BENCHMARKS.md, "The sandbox's cost"). A profiling aid only.
pub const PERF_MAP_ENV: &str = "HARNESS_PERF_MAP";

fn base_config() -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    if std::env::var_os(PERF_MAP_ENV).is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    c
}

impl Runtime {
    /// Builds the engine (pooling allocator, falling back to on-demand allocation where the
    /// address space is too small), the linker, and the epoch ticker thread.
    pub fn new() -> anyhow::Result<Arc<Self>> {
        Self::with_disk_cache(None)
    }

    /// [`Runtime::new`], keeping compiled components in `dir` so that later processes skip
    /// compilation. The directory must be writable only by the harness's user: its files are
    /// loaded as native code.
    pub fn with_disk_cache(dir: Option<std::path::PathBuf>) -> anyhow::Result<Arc<Self>> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memories_per_component(4)
            .max_memory_size(POOL_MAX_MEMORY);
        // Resetting slots in place pays only where the kernel lists the written pages: without
        // that, the whole first MiB would be cleared each time (45 µs a call against 35 µs for
        // handing pages back), so slots are then handed back as before.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.linear_memory_keep_resident(POOL_KEEP_RESIDENT)
                .table_keep_resident(POOL_TABLE_KEEP_RESIDENT)
                .pagemap_scan(wasmtime::Enabled::Yes);
        }
        let mut pooled = base_config();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let (engine, pooling) = match Engine::new(&pooled) {
            Ok(e) => (e, true),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                (
                    Engine::new(&base_config())
                        .map_err(|e| anyhow::anyhow!("creating the engine: {e:#}"))?,
                    false,
                )
            }
        };
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e:#}"))?;
        // Every contract version's imports, each under its own names.
        v0_1_0::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking contract 0.1.0: {e:#}"))?;
        v0_2_0::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking contract 0.2.0: {e:#}"))?;
        spawn_epoch_ticker(&engine);
        Ok(Arc::new(Runtime {
            engine,
            linker,
            cache: Mutex::new(HashMap::new()),
            compiling: Mutex::new(HashMap::new()),
            compilations: std::sync::atomic::AtomicU64::new(0),
            disk_cache: dir,
            pooling,
            slots: Arc::new(slots::Slots::new(POOL_INSTANCES as usize)),
        }))
    }

    /// Components compiled (not found in memory or on disk) by this runtime so far.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the pooling allocator is in use.
    pub fn is_pooling(&self) -> bool {
        self.pooling
    }

    /// Checks the contract version, compiles (once per digest) and pre-instantiates.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<CompiledConnector>, LoadError> {
        self.load_with_digest(bytes, &component_digest(bytes))
    }

    /// [`Runtime::load`] for a caller that already holds [`component_digest`] of `bytes`
    /// (computed once when the bytes were read): a cached component is found without hashing
    /// its bytes again on every crawl.
    pub fn load_with_digest(
        &self,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Arc<CompiledConnector>, LoadError> {
        let digest = digest.to_string();
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&digest).cloned()) {
            return Ok(hit);
        }
        // One compilation per digest: a second caller waits for the first, then finds it.
        let flight = {
            let mut flights = self.compiling.lock().unwrap_or_else(|e| e.into_inner());
            flights.entry(digest.clone()).or_default().clone()
        };
        let _compiling = flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&digest).cloned()) {
            return Ok(hit);
        }
        let loaded = self.load_uncached(bytes, digest.clone());
        self.compiling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&digest);
        loaded
    }

    fn load_uncached(
        &self,
        bytes: &[u8],
        digest: String,
    ) -> Result<Arc<CompiledConnector>, LoadError> {
        let version = contract::check_component(bytes)?;
        let component = self.compile(bytes, &digest)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let link = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
        let pre = if version >= v0_2_0::MIN {
            Pre::V0_2(exports::ConnectorPre::new(pre).map_err(link)?)
        } else {
            Pre::V0_1(v0_1_0::ConnectorPre::new(pre).map_err(link)?)
        };
        let compiled = Arc::new(CompiledConnector {
            digest: digest.clone(),
            contract_version: version,
            pre,
            engine: self.engine.clone(),
            slots: self.slots.clone(),
        });
        if let Ok(mut c) = self.cache.lock() {
            c.insert(digest, compiled.clone());
        }
        Ok(compiled)
    }

    fn compile(&self, bytes: &[u8], digest: &str) -> Result<Component, LoadError> {
        let engine_hash = engine_hash(&self.engine);
        let name = format!("{digest}-{engine_hash}.cwasm");
        let cache = self.disk_cache.as_ref().and_then(|dir| {
            match compiled_cache::prepare_dir(dir).and_then(|()| compiled_cache::Dir::open(dir)) {
                Ok(handle) => Some((dir, handle)),
                Err(e) => {
                    tracing::warn!("not using the compiled-code cache: {e}");
                    None
                }
            }
        });
        if let Some((dir, handle)) = &cache
            && let Some(serialized) = handle.read(&name, MAX_COMPILED_BYTES)
        {
            // SAFETY: the bytes were read through a handle on a directory checked (on that
            // handle) to be owned by this user and closed to everyone else, from a regular
            // file of this user's that no one else may write, not through a symlink; its name
            // carries the component digest and the engine's compatibility hash, and wasmtime
            // also checks the engine version and configuration and refuses a mismatch.
            match unsafe { Component::deserialize(&self.engine, &serialized) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(
                    "ignoring the compiled cache {}: {e}",
                    dir.join(&name).display()
                ),
            }
        }
        self.compilations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let component = Component::from_binary(&self.engine, bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        if let Some((dir, handle)) = &cache
            && let Ok(serialized) = component.serialize()
        {
            if let Err(e) = handle.store(&name, &serialized) {
                tracing::warn!("could not cache compiled code in {}: {e}", dir.display());
            }
            compiled_cache::prune(dir, &engine_hash, &dir.join(&name));
        }
        Ok(component)
    }

    /// [`Runtime::load`] from a file.
    pub fn load_file(&self, path: &std::path::Path) -> Result<Arc<CompiledConnector>, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.load(&bytes)
    }
}

/// A compiled-cache entry larger than this is not read (compiled components are a few MiB).
const MAX_COMPILED_BYTES: u64 = 512 * 1024 * 1024;

/// The engine's compatibility hash as stable hex: SHA-256 of what wasmtime feeds the hasher
/// (not `DefaultHasher`, whose output may change between Rust releases).
fn engine_hash(engine: &Engine) -> String {
    struct ShaHasher(Sha256);
    impl std::hash::Hasher for ShaHasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut h = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
    hex(&h.0.finalize()[..8])
}

fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(e) => e.increment_epoch(),
                    None => break,
                }
            }
        })
        .ok();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key a component is cached under: the SHA-256 of its bytes, in hex.
pub fn component_digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A pre-instantiated component, by the contract version it was built for.
enum Pre {
    V0_1(v0_1_0::ConnectorPre<HostState>),
    V0_2(exports::ConnectorPre<HostState>),
}

/// An instance, by contract version.
enum Instance<'a> {
    V0_1(v0_1_0::Connector),
    V0_2(exports::Connector<'a, HostState>),
}

/// A component compiled and linked, ready to instantiate.
pub struct CompiledConnector {
    digest: String,
    contract_version: semver::Version,
    pre: Pre,
    engine: Engine,
    /// The process's instance slots (shared by every component of the runtime).
    slots: Arc<slots::Slots>,
}

impl fmt::Debug for CompiledConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledConnector")
            .field("digest", &self.digest)
            .field("contract_version", &self.contract_version.to_string())
            .finish_non_exhaustive()
    }
}

impl CompiledConnector {
    /// SHA-256 of the component file.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn contract_version(&self) -> &semver::Version {
        &self.contract_version
    }
}

/// Why an export call did not return a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The connector answered with an error.
    #[error("{}", describe_connector_error(.0))]
    Connector(ConnectorError),
    /// The call ran past its deadline and was stopped.
    #[error(
        "`{export}` ran past its deadline of {deadline:?} and was stopped; raise `call_deadline_seconds` if the source is slow"
    )]
    Deadline {
        export: &'static str,
        deadline: Duration,
    },
    /// The guest tried to grow memory past its limit.
    #[error("`{export}` tried to use more than its memory limit of {limit} bytes and was stopped")]
    Memory { export: &'static str, limit: usize },
    /// The guest trapped (panic, unreachable, bad memory access...).
    #[error("`{export}` crashed: {message}")]
    Trap {
        export: &'static str,
        message: String,
    },
    /// An instance could not be created.
    #[error("could not start an instance for `{export}`: {message}")]
    Instantiate {
        export: &'static str,
        message: String,
    },
}

fn describe_connector_error(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Config(m) => format!("configuration error: {m}"),
        ConnectorError::Transient { message, .. } => format!("temporary error: {message}"),
        ConnectorError::System(m) => format!("system error: {m}"),
        ConnectorError::NotFound(m) => format!("not found: {m}"),
    }
}

pub use source_seam::ErrorKind;

impl CallError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::Connector(ConnectorError::Config(_)) => ErrorKind::Config,
            CallError::Connector(ConnectorError::Transient { .. }) => ErrorKind::Transient,
            CallError::Connector(ConnectorError::NotFound(_)) => ErrorKind::NotFound,
            CallError::Connector(ConnectorError::System(_)) => ErrorKind::System,
            // A guest that runs past its deadline is at fault, not the source.
            CallError::Deadline { .. } => ErrorKind::System,
            CallError::Memory { .. } | CallError::Trap { .. } | CallError::Instantiate { .. } => {
                ErrorKind::System
            }
        }
    }

    /// The connector's advice on when to retry a transient error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Connector(ConnectorError::Transient { retry_after_ms, .. }) => {
                retry_after_ms.map(Duration::from_millis)
            }
            _ => None,
        }
    }
}

/// Linear memory per export call (see [`WasmSource::peak_memory_bytes`]).
#[derive(Debug, Default)]
struct MemoryStats {
    peak: std::sync::atomic::AtomicU64,
    sum: std::sync::atomic::AtomicU64,
    calls: std::sync::atomic::AtomicU64,
}

impl MemoryStats {
    fn record(&self, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.peak.fetch_max(bytes, Relaxed);
        // Saturating: a sum that cannot grow keeps the mean an underestimate, never a wrap.
        let _ = self
            .sum
            .fetch_update(Relaxed, Relaxed, |s| Some(s.saturating_add(bytes)));
        self.calls.fetch_add(1, Relaxed);
    }
}

/// A configured wasm connector as the engine's source: a compiled component plus its egress,
/// settings, limits and clock. It keeps no instance: every export call instantiates the
/// component afresh from the cached `InstancePre`, and the instance dies with the call.
#[derive(Clone)]
pub struct WasmSource {
    compiled: Arc<CompiledConnector>,
    egress: Arc<Egress>,
    settings: Arc<BTreeMap<String, String>>,
    limits: SandboxLimits,
    clock: GuestClock,
    name: Arc<str>,
    /// Instances created so far (one per export call), shared by clones.
    instances: Arc<std::sync::atomic::AtomicU64>,
    /// Linear memory per call: the largest, and the sum (for the mean), shared by clones.
    memory: Arc<MemoryStats>,
    /// Told how long each export call took (for metrics).
    observer: Option<CallObserver>,
    /// What the component declared, when the host already asked (see
    /// [`WasmSource::with_description`]).
    described: Option<types::ConnectorInfo>,
}

/// Hears each export call's name and duration.
pub type CallObserver = Arc<dyn Fn(&'static str, Duration) + Send + Sync>;

impl fmt::Debug for WasmSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmSource")
            .field("name", &self.name)
            .field("compiled", &self.compiled)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl WasmSource {
    pub fn new(
        compiled: Arc<CompiledConnector>,
        egress: Arc<Egress>,
        settings: BTreeMap<String, String>,
        limits: SandboxLimits,
        clock: GuestClock,
        name: &str,
    ) -> Self {
        WasmSource {
            compiled,
            egress,
            settings: Arc::new(settings),
            limits,
            clock,
            name: Arc::from(name),
            instances: Arc::default(),
            memory: Arc::default(),
            observer: None,
            described: None,
        }
    }

    /// Answers `describe` with `info`, which the host already had from this component with
    /// these settings, instead of an instance of its own.
    pub fn with_description(mut self, info: types::ConnectorInfo) -> Self {
        self.described = Some(info);
        self
    }

    /// Reports every export call's duration to `observer`.
    pub fn with_observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// A source with no network at all (every request is refused): for asking a component
    /// what it declares, inspecting it, or benchmarking calls that need no upstream.
    pub fn offline(
        compiled: Arc<CompiledConnector>,
        settings: BTreeMap<String, String>,
        clock: GuestClock,
        name: &str,
    ) -> Self {
        let egress = Arc::new(Egress::new(
            Vec::new(),
            egress::EgressLimits::default(),
            egress::Redactor::new(),
        ));
        Self::new(
            compiled,
            egress,
            settings,
            SandboxLimits::default(),
            clock,
            name,
        )
    }

    /// Instances created so far: one per export call.
    pub fn instances_created(&self) -> u64 {
        self.instances.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The largest linear memory any call's instance was granted, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.memory.peak.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The mean over calls of each instance's largest linear memory, in bytes.
    pub fn mean_memory_bytes(&self) -> u64 {
        let calls = self.memory.calls.load(std::sync::atomic::Ordering::Relaxed);
        self.memory
            .sum
            .load(std::sync::atomic::Ordering::Relaxed)
            .checked_div(calls)
            .unwrap_or(0)
    }

    pub fn egress(&self) -> &Arc<Egress> {
        &self.egress
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The contract version the component was built for.
    pub fn contract_version(&self) -> &semver::Version {
        self.compiled.contract_version()
    }

    /// Runs `f` against a fresh instance in a fresh store with this instance's limits.
    fn call<R>(
        &self,
        export: &'static str,
        f: impl FnOnce(&Instance<'_>, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let state = HostState::new(
            self.egress.clone(),
            self.settings.clone(),
            self.name.clone(),
            self.limits.memory_bytes,
            self.clock,
        );
        // Wait for a free instance slot (the pool is shared by every connector).
        let _slot = self.compiled.slots.take();
        let mut store = Store::new(&self.compiled.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.limits.deadline_ticks());
        store.epoch_deadline_trap();
        self.instances
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let call_started = std::time::Instant::now();
        let instance = match &self.compiled.pre {
            Pre::V0_1(pre) => pre.instantiate(&mut store).map(Instance::V0_1),
            Pre::V0_2(pre) => pre.instantiate(&mut store).map(Instance::V0_2),
        }
        .map_err(|e| self.classify(export, e, &store, true))?;
        let result = f(&instance, &mut store).map_err(|e| self.classify(export, e, &store, false));
        self.memory.record(store.data().peak_memory());
        if let Some(observe) = &self.observer {
            observe(export, call_started.elapsed());
        }
        let dropped = store.data().log_lines_dropped();
        if dropped > 0 {
            tracing::warn!(
                target: "connector",
                connector = %self.name,
                "{dropped} log lines dropped: `{export}` wrote more than {} lines or {} KiB in one call",
                guest_text::MAX_LOG_LINES_PER_CALL,
                guest_text::MAX_LOG_BYTES_PER_CALL / 1024
            );
        }
        result
    }

    fn classify(
        &self,
        export: &'static str,
        e: wasmtime::Error,
        store: &Store<HostState>,
        instantiating: bool,
    ) -> CallError {
        let redact = |s: String| store.data().redactor().redact(&s);
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Deadline {
                export,
                deadline: self.limits.call_deadline,
            };
        }
        let text = guest_text::clean(&format!("{e:#}"), guest_text::MAX_MESSAGE_BYTES);
        tracing::debug!(target: "runtime", "`{export}` failed: {}", redact(text.clone()));
        if store.data().memory_limit_hit() {
            return CallError::Memory {
                export,
                limit: self.limits.memory_bytes,
            };
        }
        if instantiating || e.downcast_ref::<exports::ExportTypeMismatch>().is_some() {
            return CallError::Instantiate {
                export,
                message: redact(text),
            };
        }
        // The trap itself, without the wasm backtrace, plus what the guest said (a panic).
        let cause = match e.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => e.root_cause().to_string(),
        };
        let stderr = store.data().stderr_text();
        let message = if stderr.is_empty() {
            redact(cause)
        } else {
            format!(
                "{} (guest said: {})",
                redact(cause),
                guest_text::escape(&last_line(&stderr))
            )
        };
        CallError::Trap { export, message }
    }

    pub fn describe(&self) -> Result<types::ConnectorInfo, CallError> {
        if let Some(info) = &self.described {
            return Ok(info.clone());
        }
        self.call("describe", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => convert::v0_1_0::info(i.call_describe(s)?),
                Instance::V0_2(i) => convert::v0_2_0::info(i.call_describe(s)?),
            })
        })
    }

    pub fn check(&self) -> Result<(), CallError> {
        self.call("check", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => i.call_check(s)?.map_err(convert::v0_1_0::error),
                Instance::V0_2(i) => i.call_check(s)?.map_err(convert::v0_2_0::error),
            })
        })?
        .map_err(connector_error)
    }

    pub fn list_changes(
        &self,
        mode: types::CrawlMode,
        cursor: Option<&str>,
    ) -> Result<types::ChangePage, CallError> {
        use convert::{v0_1_0 as a, v0_2_0 as b};
        self.call("list-changes", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => i
                    .call_list_changes(s, a::mode(mode), cursor)?
                    .map(a::page)
                    .map_err(a::error),
                Instance::V0_2(i) => i
                    .call_list_changes(s, b::mode(mode), cursor)?
                    .map(b::page)
                    .map_err(b::error),
            })
        })?
        .map_err(connector_error)
    }

    pub fn fetch_item(
        &self,
        id: &str,
        visibility: types::Visibility,
    ) -> Result<types::Item, CallError> {
        self.fetch(id, visibility).map(|(item, _)| item)
    }

    /// An item and its permissions. A 0.2.0 component answers both in one call (one
    /// instance); a 0.1.0 component is asked twice (`fetch-item`, then `map-permissions`).
    pub fn fetch_with_permissions(
        &self,
        id: &str,
        visibility: types::Visibility,
    ) -> Result<(types::Item, types::Permissions), CallError> {
        match self.fetch(id, visibility)? {
            (item, Some(p)) => Ok((item, p)),
            (item, None) => {
                let p = self.map_permissions(&item.access)?;
                Ok((item, p))
            }
        }
    }

    fn fetch(
        &self,
        id: &str,
        visibility: types::Visibility,
    ) -> Result<(types::Item, Option<types::Permissions>), CallError> {
        use convert::{v0_1_0 as a, v0_2_0 as b};
        self.call("fetch-item", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => i
                    .call_fetch_item(s, id, a::visibility_to_wit(visibility))?
                    .map(|item| (a::item(item), None))
                    .map_err(a::error),
                Instance::V0_2(i) => i
                    .call_fetch_item(s, id, b::visibility_to_wit(visibility))?
                    .map(|f| (b::item(f.item), Some(b::permissions(f.permissions))))
                    .map_err(b::error),
            })
        })?
        .map_err(connector_error)
    }

    pub fn map_permissions(
        &self,
        facts: &types::AccessFacts,
    ) -> Result<types::Permissions, CallError> {
        use convert::{v0_1_0 as a, v0_2_0 as b};
        self.call("map-permissions", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => {
                    a::permissions(i.call_map_permissions(s, &a::facts_to_wit(facts))?)
                }
                Instance::V0_2(i) => {
                    b::permissions(i.call_map_permissions(s, &b::facts_to_wit(facts))?)
                }
            })
        })
    }

    pub fn list_users(&self, cursor: Option<&str>) -> Result<types::UserPage, CallError> {
        use convert::{v0_1_0 as a, v0_2_0 as b};
        self.call("list-users", |c, s| {
            Ok(match c {
                Instance::V0_1(i) => i
                    .call_list_users(s, cursor)?
                    .map(a::users)
                    .map_err(a::error),
                Instance::V0_2(i) => i
                    .call_list_users(s, cursor)?
                    .map(b::users)
                    .map_err(b::error),
            })
        })?
        .map_err(connector_error)
    }
}

/// A connector's error with its message made safe: truncated and control characters escaped
/// (a guest may send a 100 MB message full of fake report lines).
fn connector_error(e: ConnectorError) -> CallError {
    use source_seam::text::{MAX_MESSAGE_BYTES, clean};
    let c = |m: String| clean(&m, MAX_MESSAGE_BYTES);
    CallError::Connector(match e {
        ConnectorError::Config(m) => ConnectorError::Config(c(m)),
        ConnectorError::System(m) => ConnectorError::System(c(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(c(m)),
        ConnectorError::Transient {
            message,
            retry_after_ms,
        } => ConnectorError::Transient {
            message: c(message),
            retry_after_ms,
        },
    })
}

fn last_line(text: &str) -> String {
    let interesting: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("note: run with `RUST_BACKTRACE"))
        .collect();
    interesting.join(" | ").chars().take(500).collect()
}
