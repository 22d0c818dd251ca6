//! Sandbox limits for one connector instance: memory, time per export call, and the pool size.

use std::time::Duration;

/// Limits applied to every store created for a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Linear memory a guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time one export call may take, host calls included. Enforced by an epoch
    /// deadline that traps.
    pub call_deadline: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 * 1024 * 1024,
            call_deadline: Duration::from_secs(120),
        }
    }
}

/// How often the engine's epoch advances; the granularity of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

impl SandboxLimits {
    /// The deadline in epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        (self.call_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
