//! The per-call host state a guest sees through its imports: the policed `http` import, `log`,
//! `settings`, and a WASI context with nothing ambient (no files, environment, sockets or
//! stdin; stderr captured so a panic message reaches the error).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::v0_1_0::{http, log, settings, types};
use egress::{Egress, Redactor};
use source_seam::text as guest_text;

/// How much guest stderr is kept for error messages.
const STDERR_CAPACITY: usize = 16 * 1024;

/// The clock a guest reads. A fixed clock also seeds the guest's randomness, so tests and
/// replays are deterministic; the system clock comes with fresh randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestClock {
    /// The host's wall clock.
    #[default]
    System,
    /// A fixed instant, in seconds since the epoch (deterministic tests and replays).
    Fixed(i64),
    /// Seconds since the epoch read from a shared cell, which a simulation moves between
    /// calls (virtual time).
    Shared(ClockCell),
}

/// Seconds since the epoch in a cell a simulation moves (compared by identity).
#[derive(Debug, Clone, Copy)]
pub struct ClockCell(pub &'static std::sync::atomic::AtomicI64);

impl PartialEq for ClockCell {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for ClockCell {}

struct SharedClock(&'static std::sync::atomic::AtomicI64);

impl HostWallClock for SharedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(self.0.load(std::sync::atomic::Ordering::Relaxed).max(0) as u64)
    }
}

struct FixedClock(Duration);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// The store's resource limits, remembering whether the guest hit the memory limit (the
/// limiter's own signal, rather than matching wasmtime's error text).
pub struct GuestLimits {
    inner: StoreLimits,
    memory_limit: usize,
    pub(crate) memory_limit_hit: bool,
    /// The largest linear memory the guest was granted, in bytes.
    pub(crate) peak_memory: usize,
}

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_limit_hit = true;
        }
        let granted = self.inner.memory_growing(current, desired, maximum)?;
        if granted {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(granted)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// What one store holds.
pub struct HostState {
    /// Built on the guest's first WASI call: most calls make none, and building one (seeding
    /// its random generators) was 5% of a small guest's fresh instance and call.
    wasi: Option<WasiCtx>,
    clock: GuestClock,
    table: ResourceTable,
    pub(crate) limits: GuestLimits,
    log_budget: guest_text::LogBudget,
    egress: Arc<Egress>,
    settings: Arc<BTreeMap<String, String>>,
    log_target: Arc<str>,
    stderr: MemoryOutputPipe,
}

impl HostState {
    pub fn new(
        egress: Arc<Egress>,
        settings: Arc<BTreeMap<String, String>>,
        log_target: Arc<str>,
        memory_bytes: usize,
        clock: GuestClock,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        HostState {
            wasi: None,
            clock,
            table: ResourceTable::new(),
            limits: GuestLimits {
                inner: StoreLimitsBuilder::new()
                    .memory_size(memory_bytes)
                    .instances(8)
                    .tables(16)
                    .memories(4)
                    .trap_on_grow_failure(true)
                    .build(),
                memory_limit: memory_bytes,
                memory_limit_hit: false,
                peak_memory: 0,
            },
            log_budget: Default::default(),
            egress,
            settings,
            log_target,
            stderr,
        }
    }

    /// What the guest wrote to stderr (e.g. a panic message), redacted and trimmed.
    pub fn stderr_text(&self) -> String {
        let raw = self.stderr.contents();
        let text = String::from_utf8_lossy(&raw);
        self.egress.redactor().redact(text.trim())
    }

    /// The largest linear memory granted to the guest in this store, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.limits.peak_memory
    }

    /// Whether the guest tried to grow memory past its limit.
    pub fn memory_limit_hit(&self) -> bool {
        self.limits.memory_limit_hit
    }

    /// Log lines this call dropped over the per-call cap.
    pub fn log_lines_dropped(&self) -> u64 {
        self.log_budget.dropped()
    }

    pub fn redactor(&self) -> &Redactor {
        self.egress.redactor()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (clock, stderr) = (self.clock, &self.stderr);
        WasiCtxView {
            ctx: self
                .wasi
                .get_or_insert_with(|| wasi_ctx(clock, stderr.clone())),
            table: &mut self.table,
        }
    }
}

/// The guest's WASI world: no network, stderr kept for error messages, and the clock (with, for
/// a fixed clock, randomness seeded from it).
fn wasi_ctx(clock: GuestClock, stderr: MemoryOutputPipe) -> WasiCtx {
    let mut b = WasiCtx::builder();
    b.stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let GuestClock::Fixed(secs) = clock {
        // A fixed clock makes the guest's whole world repeatable: randomness too.
        use rand::SeedableRng;
        let seed = secs as u64;
        b.wall_clock(FixedClock(Duration::from_secs(secs.max(0) as u64)))
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed))
            .insecure_random_seed(u128::from(seed));
    }
    if let GuestClock::Shared(ClockCell(cell)) = clock {
        b.wall_clock(SharedClock(cell));
    }
    b.build()
}

impl types::Host for HostState {}

impl http::Host for HostState {
    fn send(&mut self, req: http::Request) -> Result<http::Response, http::HttpError> {
        let out = egress::OutboundRequest {
            upstream: req.upstream,
            method: match req.method {
                http::Method::Get => egress::Method::Get,
                http::Method::Post => egress::Method::Post,
                http::Method::Put => egress::Method::Put,
                http::Method::Patch => egress::Method::Patch,
                http::Method::Delete => egress::Method::Delete,
                http::Method::Head => egress::Method::Head,
            },
            path_and_query: req.path_and_query,
            headers: req.headers,
            body: req.body,
        };
        let started = SystemTime::now();
        let result = self.egress.send(&out);
        let ms = started.elapsed().map(|d| d.as_millis()).unwrap_or(0);
        match &result {
            Ok(r) => tracing::debug!(
                target: "egress",
                connector = %self.log_target,
                upstream = %egress::quote::quote(&out.upstream),
                path = %egress::quote::quote(&self.redactor().redact(&out.path_and_query)),
                status = r.status,
                bytes = r.body.len(),
                ms = ms as u64,
                "request"
            ),
            // The refusal quotes guest text: escaped again here, as every host line that
            // carries guest input is.
            Err(e) => tracing::warn!(
                target: "egress",
                connector = %self.log_target,
                upstream = %egress::quote::quote(&out.upstream),
                "request failed: {}",
                guest_text::clean(&e.to_string(), guest_text::MAX_MESSAGE_BYTES)
            ),
        }
        result
            .map(|r| http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(|e| match e {
                egress::EgressError::Denied(m) => http::HttpError::Denied(m),
                egress::EgressError::Timeout(m) => http::HttpError::Timeout(m),
                egress::EgressError::Transport(m) => http::HttpError::Transport(m),
                egress::EgressError::TooLarge(n) => http::HttpError::TooLarge(n),
                egress::EgressError::RateLimited(ms) => http::HttpError::RateLimited(ms),
            })
    }
}

impl log::Host for HostState {
    fn write(&mut self, level: log::Level, message: String) {
        if !self.log_budget.admit(message.len()) {
            return;
        }
        let message = guest_text::clean(
            &self.redactor().redact(&message),
            guest_text::MAX_LOG_LINE_BYTES,
        );
        let c = &*self.log_target;
        match level {
            log::Level::Trace => tracing::trace!(target: "connector", connector = c, "{message}"),
            log::Level::Debug => tracing::debug!(target: "connector", connector = c, "{message}"),
            log::Level::Info => tracing::info!(target: "connector", connector = c, "{message}"),
            log::Level::Warn => tracing::warn!(target: "connector", connector = c, "{message}"),
            log::Level::Error => tracing::error!(target: "connector", connector = c, "{message}"),
        }
    }
}

impl settings::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.settings.get(&key).cloned()
    }
}

/// Seconds since the epoch, for a fixed guest clock "now".
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The 0.2.0 imports are the 0.1.0 ones under new names: convert and delegate.
mod v0_2_0_imports {
    use super::HostState;
    use crate::bindings::{v0_1_0 as old, v0_2_0 as new};

    impl new::http::Host for HostState {
        fn send(
            &mut self,
            req: new::http::Request,
        ) -> Result<new::http::Response, new::http::HttpError> {
            use new::http::Method as M;
            let method = match req.method {
                M::Get => old::http::Method::Get,
                M::Post => old::http::Method::Post,
                M::Put => old::http::Method::Put,
                M::Patch => old::http::Method::Patch,
                M::Delete => old::http::Method::Delete,
                M::Head => old::http::Method::Head,
            };
            let req = old::http::Request {
                upstream: req.upstream,
                method,
                path_and_query: req.path_and_query,
                headers: req.headers,
                body: req.body,
            };
            old::http::Host::send(self, req)
                .map(|r| new::http::Response {
                    status: r.status,
                    headers: r.headers,
                    body: r.body,
                })
                .map_err(|e| match e {
                    old::http::HttpError::Denied(m) => new::http::HttpError::Denied(m),
                    old::http::HttpError::Timeout(m) => new::http::HttpError::Timeout(m),
                    old::http::HttpError::Transport(m) => new::http::HttpError::Transport(m),
                    old::http::HttpError::TooLarge(n) => new::http::HttpError::TooLarge(n),
                    old::http::HttpError::RateLimited(n) => new::http::HttpError::RateLimited(n),
                })
        }
    }

    impl new::log::Host for HostState {
        fn write(&mut self, level: new::log::Level, message: String) {
            use new::log::Level as L;
            let level = match level {
                L::Trace => old::log::Level::Trace,
                L::Debug => old::log::Level::Debug,
                L::Info => old::log::Level::Info,
                L::Warn => old::log::Level::Warn,
                L::Error => old::log::Level::Error,
            };
            old::log::Host::write(self, level, message)
        }
    }

    impl new::types::Host for HostState {}

    impl new::settings::Host for HostState {
        fn get(&mut self, key: String) -> Option<String> {
            old::settings::Host::get(self, key)
        }
    }
}
