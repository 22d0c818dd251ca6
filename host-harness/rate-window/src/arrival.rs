//! A client-side limiter that holds as the *server* counts: by arrival, not by departure.
//!
//! A gateway such as Clari's counts the requests that *arrive* in any one-second window. A
//! client only knows when it let a request go and when the answer came back; between the two
//! lie its own scheduling (a loaded machine may run the sending thread tens of milliseconds
//! late), connection set-up and the network's delay, all of which vary from one request to the
//! next. A limiter that spaces *departures* one window apart therefore lets arrivals bunch up
//! whenever the delay shrinks from one request to the next: a fixed margin on the window only
//! covers jitter smaller than the margin.
//!
//! [`ArrivalLimiter`] bounds what the server can have seen, from what each request's own round
//! trip shows. A request arrives no earlier than it was admitted and no later than its answer was
//! read; so it holds its slot while under way and for one window after its *latest possible
//! arrival*, and a request is admitted only when fewer than `max` slots are held.
//!
//! - **Proof mode.** Taking the answer's time as the latest arrival is exact: take any window
//!   `[x, x + window)` of arrivals and, among its requests, the one admitted last, `k`. Every
//!   other request `j` of the window was admitted earlier, and its latest arrival is at least
//!   its arrival `≥ x > arrival_k - window ≥ a_k - window`, so at `a_k` it still held a slot: `k`
//!   went only because fewer than `max` did. That costs the round trip on every slot: the rate
//!   is `max / (window + round trip)`.
//! - **Measured jitter.** Most of a round trip is the server's own work, *after* it counted the
//!   request. So for each kind of request (method and path) the limiter keeps the fastest recent
//!   round trip: the time any such request needs end to end when nothing delays it. A request
//!   that took longer than that was delayed by that much at most on its way in (by this
//!   machine's scheduling, the network, the server's queue), so its latest arrival is taken as
//!   `admission + (round trip - fastest) + JITTER_FLOOR`, never later than its answer. A
//!   request of a kind with too few samples, or one whose kind is not known, falls back to the
//!   proof mode. On an idle machine this holds each slot about `window + 20 ms`; a request
//!   that a loaded machine or a slow network held back holds its slot longer, by just as much.
//!
//!
//! What the measured mode assumes, and what happens when it fails: that a request's server-side
//! work and way back take no less than those of the fastest recent request of its kind. A
//! request of a kind whose server-side work varies a lot (one cheap, one expensive answer under
//! the same path) could arrive later than estimated; then the server may count one request too
//! many, answers 429, and the limiter takes that as evidence: [`ArrivalLimiter::throttled`]
//! lowers the effective `max` by one, and every `max * RECOVER_AFTER_WINDOWS` answers without
//! a 429 give one back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{Clock, MAX_SPAN, lock};

/// Answers without a 429, in windows' worth of `max`, before one step of a lowered limit is
/// given back (additive increase after additive decrease).
pub const RECOVER_AFTER_WINDOWS: u32 = 10;

/// Added to every measured delay: what no round trip can show (the server's clock granularity,
/// the moment its counter runs after it reads the request).
pub const JITTER_FLOOR: Duration = Duration::from_millis(20);

/// Round trips kept per kind of request for its fastest recent one: a long memory, so the
/// fastest is close to the path's real floor and a busy spell does not raise it (a raised
/// floor underestimates how late a request arrived).
const SAMPLES_KEPT: usize = 256;

/// Round trips of a kind needed before its fastest one is trusted (until then, proof mode):
/// a few samples taken on a loaded machine all run slow, and their minimum is no floor.
const SAMPLES_NEEDED: usize = 16;

/// Kinds of request tracked; requests of further kinds use the proof mode (a connector that
/// makes up a new path for each request cannot grow the limiter's memory).
const KINDS_KEPT: usize = 64;

/// How long a waiter for a completion sleeps before looking again (a completion also wakes it).
const COMPLETION_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct State {
    /// Requests admitted and not yet completed.
    in_flight: u32,
    /// When the slots of the last completed requests free up (latest possible arrival plus a
    /// window), ascending; only the latest `max` can matter.
    frees_at: VecDeque<Instant>,
    paused_until: Option<Instant>,
    /// How far below `max` the limit stands after 429s.
    penalty: u32,
    /// Answers without a 429 since the penalty last changed.
    clean: u32,
    /// Recent round trips by kind of request.
    round_trips: HashMap<String, VecDeque<Duration>>,
}

impl State {
    /// The fastest recent round trip of `kind`, once enough are known.
    fn fastest(&self, kind: &str) -> Option<Duration> {
        let samples = self.round_trips.get(kind)?;
        (samples.len() >= SAMPLES_NEEDED)
            .then(|| samples.iter().min().copied())
            .flatten()
    }

    fn sample(&mut self, kind: &str, rtt: Duration) {
        if !self.round_trips.contains_key(kind) && self.round_trips.len() >= KINDS_KEPT {
            return;
        }
        let samples = self.round_trips.entry(kind.to_string()).or_default();
        if samples.len() >= SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(rtt);
    }

    /// Records that a slot frees at `at`, keeping the latest `max`.
    fn hold_until(&mut self, at: Instant, max: usize) {
        let i = self.frees_at.partition_point(|&t| t <= at);
        self.frees_at.insert(i, at);
        let excess = self.frees_at.len().saturating_sub(max);
        self.frees_at.drain(..excess);
    }
}

/// At most `max` request *arrivals* at the server in any window of `window` (see the module
/// documentation for what that rests on).
#[derive(Debug)]
pub struct ArrivalLimiter {
    max: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Signalled when a request completes.
    completed: Condvar,
    /// Held by one blocking acquirer at a time, including while it waits (first come, first
    /// served).
    turn: Mutex<()>,
}

/// A request under way. [`Ticket::answered`] ends it with its round trip measured; dropping it
/// otherwise (a failure, a request never sent) ends it in proof mode, as of that instant.
#[derive(Debug)]
#[must_use = "the request counts as under way until the ticket ends"]
pub struct Ticket<'a> {
    limiter: &'a ArrivalLimiter,
    admitted: Instant,
    kind: Option<String>,
}

impl Ticket<'_> {
    /// The answer to a request of `kind` (e.g. method and path, without the query) was read.
    pub fn answered(mut self, kind: &str) {
        self.kind = Some(kind.to_string());
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.limiter.complete(self.admitted, self.kind.take());
    }
}

/// What a refused [`ArrivalLimiter::acquire`] knows about the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A slot frees at the latest after this long (pauses and completed requests).
    Wait(Duration),
    /// Every slot is held by a request still under way, past the caller's deadline.
    Busy,
}

impl ArrivalLimiter {
    /// At most `max` arrivals in any `window`. `max` 0 is treated as 1; `window` is capped at
    /// one year.
    pub fn new(max: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        ArrivalLimiter {
            max: max.max(1),
            window: window.min(MAX_SPAN),
            clock,
            state: Mutex::new(State::default()),
            completed: Condvar::new(),
            turn: Mutex::new(()),
        }
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// The limit in force now: `max`, less one for each recent 429 (at least 1).
    pub fn effective_max(&self) -> u32 {
        self.max.saturating_sub(lock(&self.state).penalty).max(1)
    }

    /// When one more request may go, if no request under way has to finish first: `None`
    /// when every slot is held by a request under way.
    fn earliest(&self, s: &State, from: Instant) -> Option<Instant> {
        let from = s.paused_until.map_or(from, |p| from.max(p));
        let cap = self.max.saturating_sub(s.penalty).max(1);
        let free = cap.checked_sub(s.in_flight).filter(|&f| f > 0)?;
        // The slot of the `free`-th latest completed request must have freed.
        let i = s.frees_at.len().checked_sub(free as usize);
        Some(match i.and_then(|i| s.frees_at.get(i)) {
            Some(&at) => from.max(at),
            None => from,
        })
    }

    /// Waits until a request may go, then counts it as under way until its ticket ends.
    /// Refuses at once when a pause or the completed requests already put the wait past
    /// `max_wait`, and when the wait runs past it.
    pub fn acquire(&self, max_wait: Duration) -> Result<Ticket<'_>, Refusal> {
        let start = self.clock.now();
        let deadline = start + max_wait.min(MAX_SPAN);
        if let Some(t) = self.earliest(&lock(&self.state), start)
            && t > deadline
        {
            return Err(Refusal::Wait(t - start));
        }
        let _turn = lock(&self.turn);
        loop {
            let s = lock(&self.state);
            // The clock is read under the lock, so completions and admissions stay ordered.
            let now = self.clock.now();
            match self.earliest(&s, now) {
                Some(t) if t <= now => return Ok(self.admit(s, now)),
                Some(t) if t > deadline => return Err(Refusal::Wait(t - now)),
                Some(t) => {
                    drop(s);
                    // Sleep, then look again: waking late is harmless.
                    self.clock.sleep(t - now);
                }
                None if now >= deadline => return Err(Refusal::Busy),
                None => {
                    // A completion wakes us; the timeout re-reads a clock that may be virtual.
                    let wait = COMPLETION_POLL.min(deadline - now);
                    drop(self.completed.wait_timeout(s, wait));
                }
            }
        }
    }

    fn admit(&self, mut s: std::sync::MutexGuard<'_, State>, now: Instant) -> Ticket<'_> {
        s.in_flight += 1;
        drop(s);
        self.clock.admitted();
        Ticket {
            limiter: self,
            admitted: now,
            kind: None,
        }
    }

    /// Ends a request admitted at `admitted`: its slot frees a window after its latest
    /// possible arrival, measured against the fastest recent round trip of its kind if known.
    fn complete(&self, admitted: Instant, kind: Option<String>) {
        let mut s = lock(&self.state);
        let now = self.clock.now();
        s.in_flight = s.in_flight.saturating_sub(1);
        let rtt = now.saturating_duration_since(admitted);
        let latest_arrival = match kind.as_deref() {
            Some(kind) => {
                let delay = s
                    .fastest(kind)
                    .map(|f| rtt.saturating_sub(f) + JITTER_FLOOR);
                s.sample(kind, rtt);
                delay.map_or(now, |d| admitted + d.min(rtt))
            }
            None => now,
        };
        s.hold_until(latest_arrival + self.window, self.max as usize);
        drop(s);
        self.completed.notify_all();
    }

    /// An answer that was not a 429: after enough of them in a row, a step of a lowered limit
    /// is given back.
    pub fn not_throttled(&self) {
        let mut s = lock(&self.state);
        if s.penalty == 0 {
            return;
        }
        s.clean = s.clean.saturating_add(1);
        if s.clean >= self.max.saturating_mul(RECOVER_AFTER_WINDOWS) {
            s.penalty -= 1;
            s.clean = 0;
        }
    }

    /// A 429: the server counted more than this limiter allowed for. The limit is lowered by
    /// one (never below 1) until [`not_throttled`](Self::not_throttled) gives it back.
    pub fn throttled(&self) {
        let mut s = lock(&self.state);
        s.penalty = (s.penalty + 1).min(self.max - 1);
        s.clean = 0;
    }

    /// Nothing is admitted before now + `d` (capped at one year). Extends, never shortens, an
    /// existing pause.
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

    /// For a start right after another process used the same upstream (a crash, a kill):
    /// behave as if `max` requests had arrived at `at`, so nothing goes before `at + window`.
    pub fn assume_full_at(&self, at: Instant) {
        let mut s = lock(&self.state);
        for _ in 0..self.max {
            s.hold_until(at + self.window, self.max as usize);
        }
    }

    /// Requests under way now.
    pub fn in_flight(&self) -> u32 {
        lock(&self.state).in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, SystemClock};

    const SEC: Duration = Duration::from_secs(1);
    const LONG: Duration = Duration::from_secs(3600);
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn manual(max: u32) -> (Arc<ManualClock>, ArrivalLimiter) {
        let clock = Arc::new(ManualClock::new());
        (clock.clone(), ArrivalLimiter::new(max, SEC, clock))
    }

    /// Arrival times at a server, checked against its count: no window holds more than `max`.
    fn max_in_window(arrivals: &mut [Instant], window: Duration) -> usize {
        arrivals.sort();
        let mut best = 0;
        for (i, &a) in arrivals.iter().enumerate() {
            let n = arrivals[i..]
                .iter()
                .take_while(|&&b| b - a < window)
                .count();
            best = best.max(n);
        }
        best
    }

    #[test]
    fn a_slot_is_held_from_admission_until_a_window_after_completion() {
        let (clock, lim) = manual(2);
        let t0 = clock.now();
        let a = lim.acquire(LONG).unwrap();
        let b = lim.acquire(LONG).unwrap();
        // Both slots under way: a third request waits for a completion, past a zero deadline.
        assert_eq!(lim.acquire(Duration::ZERO).unwrap_err(), Refusal::Busy);
        clock.advance(MS(300));
        drop(a);
        // One completed at t0+300ms: the next may go a window after that, not after t0.
        assert_eq!(lim.acquire(MS(100)).unwrap_err(), Refusal::Wait(SEC));
        let c = lim.acquire(LONG).unwrap();
        assert_eq!(clock.now(), t0 + MS(1300));
        drop((b, c));
    }

    /// 300 requests of one kind, 4 under way at most, whose way in is delayed by 0-50 ms (a
    /// pseudo-random sequence), after which the server counts them and works `server` before
    /// answering: the arrivals the server counts. Runs on the manual clock, moving it to the
    /// next event (an answer, or the limiter's next free slot).
    fn delayed_arrivals(
        lim: &ArrivalLimiter,
        clock: &ManualClock,
        server: Duration,
    ) -> Vec<Instant> {
        let mut seed = 7u64;
        let (mut arrivals, mut under_way) = (Vec::new(), Vec::new());
        while arrivals.len() < 300 || !under_way.is_empty() {
            under_way.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            let next_answer = under_way.last().map(|(at, _)| *at);
            let wait = if arrivals.len() >= 300 {
                None
            } else {
                match lim.acquire(Duration::ZERO) {
                    Ok(t) => {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let delay = MS((seed >> 33) % 51);
                        arrivals.push(clock.now() + delay);
                        under_way.push((clock.now() + delay + server, t));
                        continue;
                    }
                    Err(Refusal::Wait(d)) => Some(clock.now() + d),
                    Err(Refusal::Busy) => None,
                }
            };
            match (next_answer, wait) {
                (Some(a), Some(w)) if w < a => clock.advance(w - clock.now()),
                (Some(a), _) => {
                    clock.advance(a.saturating_duration_since(clock.now()));
                    if let Some((_, t)) = under_way.pop() {
                        t.answered("GET /calls");
                    }
                }
                (None, Some(w)) => clock.advance(w - clock.now()),
                (None, None) => break,
            }
        }
        arrivals
    }

    #[test]
    fn delays_on_the_way_in_never_crowd_a_server_window() {
        let (clock, lim) = manual(10);
        let t0 = clock.now();
        let mut arrivals = delayed_arrivals(&lim, &clock, MS(5));
        assert!(max_in_window(&mut arrivals, SEC) <= 10);
        // Measured, each slot costs a window plus what its own round trip shows of delay, not
        // the whole round trip: 300 requests at 10 a second take a little over 30 s.
        let took = clock.now() - t0;
        assert!(took < Duration::from_secs(32), "{took:?}");
    }

    #[test]
    fn the_servers_own_work_does_not_slow_the_rate() {
        // 100 ms of work after the count: the slots cost about a window each, not 1.1.
        let (clock, lim) = manual(10);
        let t0 = clock.now();
        let mut arrivals = delayed_arrivals(&lim, &clock, MS(100));
        assert!(max_in_window(&mut arrivals, SEC) <= 10);
        let took = clock.now() - t0;
        assert!(took < Duration::from_secs(33), "{took:?}");
    }

    #[test]
    fn without_samples_a_slot_is_held_until_the_answer_plus_a_window() {
        let (clock, lim) = manual(1);
        let t0 = clock.now();
        let t = lim.acquire(LONG).unwrap();
        clock.advance(MS(300));
        t.answered("GET /first");
        // Too few samples of this kind: the answer's time bounds the arrival.
        assert_eq!(lim.acquire(Duration::ZERO).unwrap_err(), Refusal::Wait(SEC));
        drop(lim.acquire(LONG).unwrap());
        assert_eq!(clock.now(), t0 + MS(1300));
    }

    #[test]
    fn made_up_kinds_cannot_grow_the_limiter() {
        let (_clock, lim) = manual(1000);
        for i in 0..(KINDS_KEPT * 4) {
            lim.acquire(LONG).unwrap().answered(&format!("GET /x/{i}"));
        }
        assert_eq!(lock(&lim.state).round_trips.len(), KINDS_KEPT);
        assert!(lock(&lim.state).frees_at.len() <= 1000);
    }

    #[test]
    fn a_429_lowers_the_limit_and_clean_answers_restore_it() {
        let (_clock, lim) = manual(10);
        lim.throttled();
        lim.throttled();
        assert_eq!(lim.effective_max(), 8);
        for _ in 0..(10 * RECOVER_AFTER_WINDOWS) {
            lim.not_throttled();
        }
        assert_eq!(lim.effective_max(), 9);
        for _ in 0..100 {
            lim.throttled();
        }
        assert_eq!(lim.effective_max(), 1, "never below one");
    }

    #[test]
    fn a_lowered_limit_admits_fewer_in_a_window() {
        let (clock, lim) = manual(10);
        let t0 = clock.now();
        lim.throttled();
        for _ in 0..9 {
            drop(lim.acquire(LONG).unwrap());
        }
        assert_eq!(clock.now(), t0);
        drop(lim.acquire(LONG).unwrap());
        assert_eq!(clock.now(), t0 + SEC);
    }

    #[test]
    fn pauses_and_restarts_hold_everything() {
        let (clock, lim) = manual(5);
        let t0 = clock.now();
        lim.assume_full_at(t0);
        assert_eq!(lim.acquire(MS(10)).unwrap_err(), Refusal::Wait(SEC));
        drop(lim.acquire(LONG).unwrap());
        assert_eq!(clock.now(), t0 + SEC);
        lim.pause_for(3 * SEC);
        lim.pause_for(SEC); // never shortens
        assert_eq!(lim.paused_until(), Some(t0 + 4 * SEC));
        drop(lim.acquire(LONG).unwrap());
        assert_eq!(clock.now(), t0 + 4 * SEC);
    }

    #[test]
    fn concurrent_requests_in_real_time_wait_for_completions() {
        let lim = Arc::new(ArrivalLimiter::new(4, MS(200), Arc::new(SystemClock)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let spawn = |_| {
            let (lim, log) = (lim.clone(), log.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let t = lim.acquire(LONG).unwrap();
                    let admitted = Instant::now();
                    std::thread::sleep(MS(15));
                    let done = Instant::now();
                    drop(t);
                    lock(&log).push((admitted, done));
                }
            })
        };
        let handles: Vec<_> = (0..4).map(spawn).collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let log = lock(&log).clone();
        assert_eq!(log.len(), 20);
        assert_eq!(lim.in_flight(), 0);
        // Whatever point of its round trip each request reached the server at, no 200 ms
        // window can hold more than 4: checked for the latest possible arrivals.
        let mut late: Vec<Instant> = log.iter().map(|&(_, d)| d).collect();
        assert!(max_in_window(&mut late, MS(200)) <= 4);
    }
}
