//! Retries with exponential backoff and jitter, honouring a server's `Retry-After` up to a cap.

use std::time::Duration;

/// How to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; longer advice is clamped to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What an error means for retrying.
pub enum Verdict {
    /// Give up now.
    Fatal,
    /// Retry, after the server's advice if it gave one.
    Retry(Option<Duration>),
    /// Retry at most this many times in all (a guest fault, such as a deadline: worth one
    /// more try, not the full policy).
    RetryAtMost(u32),
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based), with up to 25% jitter.
    pub fn delay(&self, attempt: u32, advice: Option<Duration>, jitter_seed: u64) -> Duration {
        if let Some(a) = advice {
            return a.min(self.max_retry_after);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let jitter = (splitmix(jitter_seed ^ u64::from(attempt)) % 1000) as f64 / 4000.0;
        exp.mul_f64(1.0 + jitter)
    }

    /// Runs `op` until it succeeds, fails fatally, or retries run out. `sleep` is injectable so
    /// tests run on a fake clock.
    pub fn run<T, E>(
        &self,
        mut op: impl FnMut() -> Result<T, E>,
        classify: impl Fn(&E) -> Verdict,
        mut sleep: impl FnMut(Duration),
    ) -> Result<T, E> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(7);
        let mut attempt = 0;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) => match classify(&e) {
                    // Advice to wait longer than we would: stop now, resumable, rather than
                    // sleep through it.
                    Verdict::Retry(Some(advice)) if advice > self.max_retry_after => return Err(e),
                    Verdict::Retry(advice) if attempt < self.max_retries => {
                        sleep(self.delay(attempt, advice, seed));
                        attempt += 1;
                    }
                    Verdict::RetryAtMost(n) if attempt < n.min(self.max_retries) => {
                        sleep(self.delay(attempt, None, seed));
                        attempt += 1;
                    }
                    _ => return Err(e),
                },
            }
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_retry_after_and_gives_up_after_the_bound() {
        let p = RetryPolicy::default();
        let mut slept = Vec::new();
        let mut calls = 0;
        let r: Result<(), &str> = p.run(
            || {
                calls += 1;
                Err("busy")
            },
            |_| Verdict::Retry(Some(Duration::from_secs(3))),
            |d| slept.push(d),
        );
        assert!(r.is_err());
        assert_eq!(calls, 5);
        assert_eq!(slept, vec![Duration::from_secs(3); 4]);
    }

    #[test]
    fn backs_off_exponentially_with_bounded_jitter() {
        let p = RetryPolicy::default();
        for attempt in 0..6 {
            let d = p.delay(attempt, None, 42);
            let base = p.base_delay * 2u32.pow(attempt);
            assert!(d >= base && d <= base.mul_f64(1.25), "{attempt}: {d:?}");
        }
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(999)), 1),
            p.max_retry_after
        );
    }

    #[test]
    fn advice_beyond_the_cap_stops_at_once() {
        let mut calls = 0;
        let r: Result<(), &str> = RetryPolicy::default().run(
            || {
                calls += 1;
                Err("quota")
            },
            |_| Verdict::Retry(Some(Duration::from_secs(3 * 86_400))),
            |_| panic!("no sleep"),
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn guest_faults_get_one_more_try_only() {
        let mut calls = 0;
        let r: Result<(), &str> = RetryPolicy::default().run(
            || {
                calls += 1;
                Err("deadline")
            },
            |_| Verdict::RetryAtMost(1),
            |_| {},
        );
        assert!(r.is_err());
        assert_eq!(calls, 2);
    }

    #[test]
    fn fatal_errors_are_not_retried() {
        let mut calls = 0;
        let r: Result<(), &str> = RetryPolicy::default().run(
            || {
                calls += 1;
                Err("bad")
            },
            |_| Verdict::Fatal,
            |_| panic!("no sleep"),
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
