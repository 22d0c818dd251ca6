//! Glean's documented rate limits, as token buckets: `/indexdocuments` 600 documents a minute,
//! `/indexdocument` 10 requests a second, every other endpoint 30 requests a second. A request
//! over its limit gets 429 with `Retry-After` (whole seconds).

use std::sync::Mutex;
use std::time::Instant;

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

struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_second: f64, burst: f64) -> Self {
        Bucket {
            rate: per_second,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes `n` tokens, or answers the whole seconds until they would be there.
    fn take(&mut self, n: f64) -> Result<(), u64> {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if n > self.burst {
            return Err(((n - self.tokens) / self.rate).ceil().max(1.0) as u64);
        }
        if self.tokens >= n {
            self.tokens -= n;
            Ok(())
        } else {
            Err(((n - self.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The mock's limiters.
pub struct Limiter {
    documents: Option<Mutex<Bucket>>,
    single: Option<Mutex<Bucket>>,
    other: Option<Mutex<Bucket>>,
}

impl Limiter {
    pub fn new(limits: &RateLimits) -> Self {
        Limiter {
            documents: limits
                .documents_per_minute
                .map(|n| Mutex::new(Bucket::new(f64::from(n) / 60.0, f64::from(n)))),
            single: limits
                .indexdocument_per_second
                .map(|n| Mutex::new(Bucket::new(f64::from(n), f64::from(n)))),
            other: limits
                .other_per_second
                .map(|n| Mutex::new(Bucket::new(f64::from(n), f64::from(n)))),
        }
    }

    fn take(bucket: &Option<Mutex<Bucket>>, n: f64) -> Result<(), u64> {
        match bucket {
            Some(b) => b.lock().map_err(|_| 1u64)?.take(n),
            None => Ok(()),
        }
    }

    /// Admits a request to `endpoint` carrying `documents` documents, or answers Retry-After.
    pub fn admit(&self, endpoint: &str, documents: usize) -> Result<(), u64> {
        match endpoint {
            "indexdocuments" => Self::take(&self.documents, documents as f64),
            "indexdocument" => Self::take(&self.single, 1.0),
            _ => Self::take(&self.other, 1.0),
        }
    }
}
