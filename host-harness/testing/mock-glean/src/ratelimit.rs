//! Glean's documented rate limits, as sliding windows: `/indexdocuments` 600 documents a minute,
//! `/indexdocument` 10 requests a second, every other endpoint 30 requests a second. A request
//! over its limit gets 429 with `Retry-After` (whole seconds).

use std::sync::Arc;
use std::time::Duration;

use rate_window::{SystemClock, WindowLimiter};

/// The limits; `None` turns a limit off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub documents_per_minute: Option<u32>,
    pub indexdocument_per_second: Option<u32>,
    pub other_per_second: Option<u32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            documents_per_minute: Some(600),
            indexdocument_per_second: Some(10),
            other_per_second: Some(30),
        }
    }
}

impl RateLimits {
    pub fn off() -> Self {
        RateLimits {
            documents_per_minute: None,
            indexdocument_per_second: None,
            other_per_second: None,
        }
    }
}

/// The mock's limiters: sliding windows, as a gateway counts.
pub struct Limiter {
    documents: Option<WindowLimiter>,
    single: Option<WindowLimiter>,
    other: Option<WindowLimiter>,
}

fn window(max: u32, secs: u64) -> WindowLimiter {
    WindowLimiter::new(max, Duration::from_secs(secs), Arc::new(SystemClock))
}

impl Limiter {
    pub fn new(limits: &RateLimits) -> Self {
        Limiter {
            documents: limits.documents_per_minute.map(|n| window(n, 60)),
            single: limits.indexdocument_per_second.map(|n| window(n, 1)),
            other: limits.other_per_second.map(|n| window(n, 1)),
        }
    }

    fn take(limiter: &Option<WindowLimiter>, n: u32) -> Result<(), u64> {
        let Some(l) = limiter else { return Ok(()) };
        if n > l.max() {
            // More than a whole window allows: never admitted.
            return Err(l.window().as_secs().max(1));
        }
        l.try_acquire_many(n)
            .map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Admits a request to `endpoint` carrying `documents` documents, or answers Retry-After.
    pub fn admit(&self, endpoint: &str, documents: usize) -> Result<(), u64> {
        match endpoint {
            "indexdocuments" => Self::take(
                &self.documents,
                u32::try_from(documents).unwrap_or(u32::MAX),
            ),
            "indexdocument" => Self::take(&self.single, 1),
            _ => Self::take(&self.other, 1),
        }
    }
}
