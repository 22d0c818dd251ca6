//! Sliding-window rate limiting shared by the HTTP egress engine (blocking clients),
//! the index client (documents per minute) and mock servers (non-blocking admission).
//!
//! This module owns the one guarantee all of them rely on: no half-open window
//! `[t, t + window)` ever contains more than `max` admitted events — from the very
//! first event (no initial burst beyond `max`), after pauses (429 / Retry-After),
//! after a crash restart ([`WindowLimiter::assume_full_at`]) and under concurrency.
//! It also owns the [`Clock`] abstraction (real [`SystemClock`], virtual [`ManualClock`]).
//!
//! Requests to an upstream that counts *arrivals* use [`ArrivalLimiter`] (module
//! [`arrival`]), which bounds what the server can have seen whatever the network and the
//! machine's load add between departure and arrival.
//!
//! Poisoning: every lock is taken with `unwrap_or_else(|e| e.into_inner())`, so a
//! panic in a thread holding a lock never switches limiting off; the state is a
//! ring of instants that stays valid whatever point a panic interrupted.

pub mod arrival;
pub mod retry_after;

pub use arrival::{ArrivalLimiter, Refusal, Ticket};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Source of time; lets tests run deterministically in virtual time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
    fn sleep(&self, d: Duration);
    /// A blocking acquirer was just admitted (a virtual clock then stands still until the
    /// request is answered: see [`VirtualClock::release`]).
    fn admitted(&self) {}
    /// Lets `d` pass at once, as a request under way that takes that long (a simulated
    /// server's slow answer), and says so; `false` (the default): the caller must wait.
    fn elapse(&self, _d: Duration) -> bool {
        false
    }
}

/// Real time: `Instant::now()` and `std::thread::sleep`.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// Virtual time for tests, starting at the real `Instant::now()`; `sleep(d)` advances
/// it by `d` at once (no real sleep). Thread-safe.
#[derive(Debug)]
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Mutex::new(Instant::now()))
    }
    pub fn advance(&self, d: Duration) {
        *lock(&self.0) += d;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.0)
    }
    fn sleep(&self, d: Duration) {
        self.advance(d)
    }
}

/// Windows and pauses are capped at one year so `Instant + Duration` cannot overflow.
/// Virtual time for simulations: an instant and an epoch time that move only when asked.
/// `sleep(d)` moves the clock forward by `d` at once, so nobody ever waits in real time.
/// A limiter's blocking waiters are served one at a time and each sleeps only the gap it
/// reads from the clock, so their sleeps do not overlap. Shared by a simulated client and a
/// simulated server, it lets a week run in minutes.
#[derive(Debug)]
pub struct VirtualClock {
    origin: Instant,
    /// Epoch milliseconds at `origin`.
    epoch_origin_ms: i64,
    offset: Mutex<Duration>,
    /// Requests under way: time stands still until they are answered, since in real time
    /// they would take no time at all next to the waits being simulated.
    in_flight: std::sync::atomic::AtomicUsize,
}

thread_local! {
    /// Admissions on this thread not yet released: its own sleeps do not wait for them.
    static HELD_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl VirtualClock {
    /// The request admitted on this thread (see [`Clock::admitted`]) was answered: time may
    /// move again once every admitted request is.
    pub fn release(&self) {
        HELD_HERE.with(|h| h.set(h.get().saturating_sub(1)));
        self.in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// A clock that reads `epoch_secs` (seconds since 1970) now.
    pub fn new(epoch_secs: i64) -> Self {
        VirtualClock {
            origin: Instant::now(),
            epoch_origin_ms: epoch_secs.saturating_mul(1000),
            offset: Mutex::new(Duration::ZERO),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        *lock(&self.offset) += d;
    }

    /// Moves the clock forward to `epoch_secs`, if that is later.
    pub fn advance_to(&self, epoch_secs: i64) {
        let target_ms = epoch_secs.saturating_mul(1000) - self.epoch_origin_ms;
        if target_ms > 0 {
            let mut o = lock(&self.offset);
            *o = (*o).max(Duration::from_millis(target_ms as u64));
        }
    }

    /// Milliseconds since 1970, in virtual time.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_origin_ms + lock(&self.offset).as_millis() as i64
    }

    /// Seconds since 1970, in virtual time.
    pub fn epoch_secs(&self) -> i64 {
        self.epoch_ms().div_euclid(1000)
    }
}

/// A view of a [`VirtualClock`] whose admissions do not hold it still: for limiters that
/// pace something other than requests to a simulated server (uploads to an index).
#[derive(Debug)]
pub struct Unheld(pub Arc<VirtualClock>);

impl Clock for Unheld {
    fn now(&self) -> Instant {
        self.0.now()
    }
    fn sleep(&self, d: Duration) {
        self.0.sleep(d)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.origin + *lock(&self.offset)
    }
    fn elapse(&self, d: Duration) -> bool {
        self.advance(d);
        true
    }
    fn admitted(&self) {
        HELD_HERE.with(|h| h.set(h.get() + 1));
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn sleep(&self, d: Duration) {
        // Wait (in real time, briefly) for others' requests under way, then move.
        let mine = HELD_HERE.with(|h| h.get());
        while self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > mine {
            std::thread::sleep(Duration::from_micros(50));
        }
        self.advance(d);
    }
}

const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Default)]
struct State {
    /// Admission instants of the last `max` events, ascending.
    times: VecDeque<Instant>,
    paused_until: Option<Instant>,
    /// Events wanted by blocking acquirers that are queued or sleeping.
    queued: u64,
}

/// At most `max` events in any window of length `window`.
#[derive(Debug)]
pub struct WindowLimiter {
    max: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Held by one blocking acquirer at a time, including while it sleeps.
    turn: Mutex<()>,
}

/// Removes a blocking acquirer's events from the queue count on every exit path.
struct Queued<'a>(&'a WindowLimiter, u64);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut s = lock(&self.0.state);
        s.queued = s.queued.saturating_sub(self.1);
    }
}

impl WindowLimiter {
    /// At most `max` events in any window of `window`. `max` 0 is treated as 1.
    /// `window` is capped at one year.
    pub fn new(max: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        let (max, window) = (max.max(1), window.min(MAX_SPAN));
        let (state, turn) = (Mutex::new(State::default()), Mutex::new(()));
        Self {
            max,
            window,
            clock,
            state,
            turn,
        }
    }

    /// Requests per second with a safety margin: max = rate, window = 1s + margin.
    pub fn per_second(rate: u32, margin: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::new(rate, Duration::from_secs(1).saturating_add(margin), clock)
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Earliest instant >= `from` at which `n` (<= max) more events fit: not paused,
    /// and afterwards the last `max` events still span at least `window`.
    fn earliest(&self, s: &State, n: usize, from: Instant) -> Instant {
        let from = s.paused_until.map_or(from, |p| from.max(p));
        let i = (s.times.len() + n).checked_sub(self.max as usize + 1);
        match i.and_then(|i| s.times.get(i)) {
            Some(&oldest) => from.max(oldest + self.window),
            None => from,
        }
    }

    fn record(&self, s: &mut State, n: usize, at: Instant) {
        s.times.extend(std::iter::repeat_n(at, n));
        let excess = s.times.len().saturating_sub(self.max as usize);
        s.times.drain(..excess);
    }

    /// Non-blocking (for servers): admit one event now, or `Err(wait until one would
    /// be admitted)`. Records nothing on `Err`.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        self.try_acquire_many(1)
    }

    /// Non-blocking admission of `n` events at once; `Err(wait)` is how long until all
    /// `n` would fit, nothing recorded then. `n` is clamped to `max` (a larger batch
    /// cannot fit any window: it is admitted once a whole window is free, and callers
    /// should split it); 0 is a no-op. Does not queue behind blocking acquirers.
    pub fn try_acquire_many(&self, n: u32) -> Result<(), Duration> {
        let n = n.min(self.max) as usize; // n == 0 always fits and records nothing
        let mut s = lock(&self.state);
        let now = self.clock.now();
        let t = self.earliest(&s, n, now);
        if t > now {
            return Err(t - now);
        }
        self.record(&mut s, n, now);
        Ok(())
    }

    /// Blocking (for clients): waits via `clock.sleep` until one event may go and records
    /// it at the instant it returns. If the wait would exceed `max_wait`, returns
    /// `Err(wait)` at once, recording nothing.
    pub fn acquire(&self, max_wait: Duration) -> Result<(), Duration> {
        self.acquire_many(1, max_wait)
    }

    /// Blocking admission of `n` events (clamped to `max` as in
    /// [`try_acquire_many`](Self::try_acquire_many)), e.g. the `n` documents of an
    /// upload. Blocking acquirers are served one at a time; the wait checked against
    /// `max_wait` includes the events of acquirers queued ahead. If a late wake-up
    /// pushes admission past `start + max_wait`, returns `Err` as well.
    pub fn acquire_many(&self, n: u32, max_wait: Duration) -> Result<(), Duration> {
        let n = n.min(self.max) as usize;
        if n == 0 {
            return Ok(());
        }
        let start = self.clock.now();
        let deadline = start + max_wait.min(MAX_SPAN);
        {
            let mut s = lock(&self.state);
            // Simulate the queued events (one at a time) ahead of ours.
            let (mut sim, mut t) = (s.clone(), start);
            for _ in 0..s.queued {
                t = self.earliest(&sim, 1, t);
                self.record(&mut sim, 1, t);
            }
            let wait = self.earliest(&sim, n, t) - start;
            if wait > max_wait {
                return Err(wait);
            }
            s.queued += n as u64;
        }
        let _queued = Queued(self, n as u64);
        let _turn = lock(&self.turn);
        loop {
            let mut s = lock(&self.state);
            // Clock read under the state lock: records stay ascending and are never
            // earlier than the moment the caller is released.
            let now = self.clock.now();
            let t = self.earliest(&s, n, now);
            if t <= now {
                self.record(&mut s, n, now);
                self.clock.admitted();
                return Ok(());
            } else if t > deadline {
                return Err(t - now);
            }
            drop(s);
            // Sleep, then re-check against the clock: waking late is harmless.
            self.clock.sleep(t - now);
        }
    }

    /// Nothing is admitted before now + `d` (capped at one year). Extends, never
    /// shortens, an existing pause.
    pub fn pause_for(&self, d: Duration) {
        let mut s = lock(&self.state);
        let until = self.clock.now() + d.min(MAX_SPAN);
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// The instant before which nothing is admitted, if paused now.
    pub fn paused_until(&self) -> Option<Instant> {
        let paused = lock(&self.state).paused_until;
        paused.filter(|&p| p > self.clock.now())
    }

    /// For a restart right after a crash: behave as if `max` events had been admitted
    /// at `at` (so nothing goes before `at + window`). Later recorded events are kept.
    pub fn assume_full_at(&self, at: Instant) {
        let mut s = lock(&self.state);
        s.times.extend(std::iter::repeat_n(at, self.max as usize));
        s.times.make_contiguous().sort();
        self.record(&mut s, 0, at);
    }

    /// Test-only: poisons both internal mutexes by panicking while holding them.
    #[cfg(test)]
    fn poison_for_test(&self) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (_t, _s) = (self.turn.lock(), self.state.lock());
            panic!("poisoning the limiter on purpose");
        }));
        assert!(r.is_err() && self.state.is_poisoned() && self.turn.is_poisoned());
    }

    #[cfg(test)]
    fn recorded(&self) -> Vec<Instant> {
        lock(&self.state).times.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn virtual_clock_moves_only_when_asked() {
        let c = super::VirtualClock::new(1_000);
        let t0 = super::Clock::now(&c);
        assert_eq!(c.epoch_secs(), 1_000);
        super::Clock::sleep(&c, std::time::Duration::from_millis(1500));
        assert_eq!(c.epoch_ms(), 1_001_500);
        assert_eq!(
            super::Clock::now(&c) - t0,
            std::time::Duration::from_millis(1500)
        );
        c.advance_to(999);
        assert_eq!(c.epoch_ms(), 1_001_500);
        c.advance_to(2_000);
        assert_eq!(c.epoch_secs(), 2_000);
        // A limiter on virtual time never waits in real time.
        let clock = std::sync::Arc::new(super::VirtualClock::new(0));
        let l = super::WindowLimiter::new(10, std::time::Duration::from_secs(1), clock.clone());
        let real = std::time::Instant::now();
        for _ in 0..100 {
            l.acquire(std::time::Duration::from_secs(60)).unwrap();
        }
        assert!(real.elapsed() < std::time::Duration::from_secs(1));
        assert!(clock.epoch_ms() >= 9_000, "{}", clock.epoch_ms());
    }

    use super::*;

    const SEC: Duration = Duration::from_secs(1);
    const LONG: Duration = Duration::from_secs(3600);
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn manual(max: u32, window: Duration) -> (Arc<ManualClock>, WindowLimiter) {
        let clock = Arc::new(ManualClock::new());
        (clock.clone(), WindowLimiter::new(max, window, clock))
    }

    fn assert_windows(times: &[Instant], max: usize, window: Duration) {
        for i in 0..times.len().saturating_sub(max) {
            assert!(times[i + max] - times[i] >= window, "window {i} over {max}");
        }
    }

    /// `k` blocking acquires, each followed by `now()`.
    fn run(lim: &WindowLimiter, k: usize, now: impl Fn() -> Instant) -> Vec<Instant> {
        let one = |_| lim.acquire(LONG).map(|()| now());
        (0..k).map(one).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn from_first_event() {
        let (clock, lim) = manual(10, SEC);
        let t0 = clock.now();
        let times = run(&lim, 35, || clock.now());
        assert!(times[..10].iter().all(|&t| t == t0));
        assert_eq!(times[10], t0 + SEC);
        assert_windows(&times, 10, SEC);
    }

    #[test]
    fn pause_holds_everything() {
        let (clock, lim) = manual(10, SEC);
        let t0 = clock.now();
        let mut times = run(&lim, 5, || clock.now());
        lim.pause_for(3 * SEC);
        lim.pause_for(SEC); // never shortens
        assert_eq!(lim.paused_until(), Some(t0 + 3 * SEC));
        assert_eq!(lim.try_acquire(), Err(3 * SEC));
        times.extend(run(&lim, 30, || clock.now()));
        assert_eq!(times[5], t0 + 3 * SEC);
        assert_eq!(lim.paused_until(), None);
        assert_windows(&times, 10, SEC);
    }

    #[test]
    fn try_acquire_reports_wait_and_records_nothing() {
        let (clock, lim) = manual(10, SEC);
        (0..10).for_each(|_| lim.try_acquire().unwrap());
        clock.advance(MS(300));
        let before = lim.recorded();
        assert_eq!(lim.try_acquire(), Err(MS(700)));
        assert_eq!(lim.try_acquire_many(50), Err(MS(700)));
        assert_eq!(lim.recorded(), before);
        clock.advance(MS(700));
        assert_eq!(lim.try_acquire(), Ok(()));
        assert_eq!(lim.try_acquire_many(0), Ok(()));
    }

    #[test]
    fn assume_full_waits_a_window() {
        let (clock, lim) = manual(5, 2 * SEC);
        let t0 = clock.now();
        lim.assume_full_at(t0);
        assert_eq!(lim.try_acquire(), Err(2 * SEC));
        lim.acquire(LONG).unwrap();
        assert_eq!(clock.now(), t0 + 2 * SEC);
    }

    #[test]
    fn concurrent_real_time() {
        // Limiter window 220ms, asserted 200ms: margin for threads observing late.
        let lim = Arc::new(WindowLimiter::new(10, MS(220), Arc::new(SystemClock)));
        let start = Instant::now();
        let spawn = |k| {
            let lim = lim.clone();
            std::thread::spawn(move || run(&lim, k, Instant::now))
        };
        let handles: Vec<_> = [8, 8, 7, 7].into_iter().map(spawn).collect();
        let mut times: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        times.sort();
        assert_eq!(times.len(), 30);
        assert_windows(&times, 10, MS(200));
        assert!(start.elapsed() < 2 * SEC);
    }

    #[test]
    fn documents_per_minute() {
        let (clock, lim) = manual(600, 60 * SEC);
        let t0 = clock.now();
        lim.acquire_many(250, LONG).unwrap();
        lim.acquire_many(250, LONG).unwrap();
        assert_eq!(clock.now(), t0);
        lim.acquire_many(250, LONG).unwrap();
        assert_eq!(clock.now(), t0 + 60 * SEC);
        // Oversized batch is clamped to max: needs a whole free window.
        lim.acquire_many(5000, LONG).unwrap();
        assert_eq!(clock.now(), t0 + 120 * SEC);
        assert_windows(&lim.recorded(), 600, 60 * SEC);
    }

    #[test]
    fn poisoned_locks_keep_limiting() {
        let (clock, lim) = manual(3, SEC);
        let t0 = clock.now();
        lim.poison_for_test();
        let times = run(&lim, 6, || clock.now());
        assert_eq!(times[3], t0 + SEC);
        assert_windows(&times, 3, SEC);
        assert!(lim.try_acquire().is_err());
    }

    #[test]
    fn max_wait_exceeded() {
        let (clock, lim) = manual(10, SEC);
        let t0 = clock.now();
        run(&lim, 10, || clock.now());
        let before = lim.recorded();
        assert_eq!(lim.acquire(MS(500)), Err(SEC));
        assert_eq!(lim.acquire_many(3, Duration::ZERO), Err(SEC));
        assert_eq!((clock.now(), lim.recorded()), (t0, before));
        lim.pause_for(5 * SEC);
        assert_eq!(lim.acquire(2 * SEC), Err(5 * SEC));
        assert_eq!(lim.acquire(5 * SEC), Ok(()));
        let lim = WindowLimiter::per_second(0, MS(50), Arc::new(SystemClock));
        assert_eq!((lim.max(), lim.window()), (1, MS(1050)));
    }
}
