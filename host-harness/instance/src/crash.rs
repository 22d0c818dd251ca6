//! Crash injection for tests: with `HARNESS_CRASH_AT=N` in the environment, the process aborts
//! (as abruptly as `kill -9`: no unwinding, no destructors, no flushing) at the N-th crash
//! point (with `HARNESS_CRASH_MODE=panic` it panics there instead, to test what catches a
//! panic). Crash points sit right after every effect a crash could split from its bookkeeping:
//! each upload to the index, each deletion, each state save. Unset, a crash point costs one
//! relaxed atomic increment.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static REACHED: AtomicU64 = AtomicU64::new(0);

fn target() -> Option<u64> {
    static TARGET: OnceLock<Option<u64>> = OnceLock::new();
    *TARGET.get_or_init(|| std::env::var("HARNESS_CRASH_AT").ok()?.parse().ok())
}

/// The crash points of the `HARNESS_CRASH_AT` environment variable, as the engine's hook.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvCrash;

impl crawl_engine::CrashHook for EnvCrash {
    fn point(&self, what: &str) {
        point(what)
    }
}

/// Marks a crash point named `what`.
pub fn point(what: &str) {
    let n = REACHED.fetch_add(1, Ordering::Relaxed) + 1;
    if target() == Some(n) {
        if std::env::var("HARNESS_CRASH_MODE").as_deref() == Ok("panic") {
            panic!("crash injection: panicking at point {n} ({what})");
        }
        eprintln!("crash injection: aborting at point {n} ({what})");
        std::process::abort();
    }
}

/// How many crash points this process has passed.
pub fn reached() -> u64 {
    REACHED.load(Ordering::Relaxed)
}
