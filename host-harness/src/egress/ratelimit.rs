//! A token bucket shared by every worker that talks to one upstream.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `rate` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A bucket that starts full. `rate` must be positive.
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: rate_per_second.max(0.001),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes `n` tokens (at most the burst), sleeping until they are free.
    pub fn acquire_many(&self, n: u32) {
        let n = f64::from(n).min(self.burst);
        let wait = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            let now = Instant::now();
            let (tokens, last) = *s;
            let refilled =
                (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
            let after = refilled - n;
            *s = (after, now);
            if after >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-after / self.rate)
            }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Takes one token, sleeping until one is free. Gives up, without taking, when the wait
    /// would exceed `max_wait`, answering how long it would have been.
    pub fn acquire(&self, max_wait: Duration) -> Result<(), Duration> {
        let wait = {
            let Ok(mut s) = self.state.lock() else {
                return Ok(());
            };
            let now = Instant::now();
            let (tokens, last) = *s;
            let refilled =
                (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
            // Take the token now (possibly going negative: a reservation), then sleep off the debt.
            let after = refilled - 1.0;
            let wait = if after >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-after / self.rate)
            };
            if wait > max_wait {
                *s = (refilled, now);
                return Err(wait);
            }
            *s = (after, now);
            wait
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_tokens_wait_for_their_refill() {
        let b = TokenBucket::new(1000.0, 100);
        let t = Instant::now();
        b.acquire_many(100);
        assert!(t.elapsed() < Duration::from_millis(50));
        b.acquire_many(50);
        assert!(
            t.elapsed() >= Duration::from_millis(45),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn refuses_waits_beyond_the_bound_without_taking() {
        let b = TokenBucket::new(1.0, 2);
        assert!(b.acquire(Duration::ZERO).is_ok());
        assert!(b.acquire(Duration::ZERO).is_ok());
        let wait = b.acquire(Duration::ZERO).unwrap_err();
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }
}
