//! Instance slots: the pooling allocator reserves memory for a fixed number of live instances,
//! shared by every connector in the process. A call waits for a free slot instead of failing
//! when many tenants and workers call at once.

use std::sync::{Condvar, Mutex};

/// A counting semaphore of instance slots.
#[derive(Debug)]
pub struct Slots {
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug)]
struct State {
    free: usize,
    /// Callers blocked in [`Slots::take`]. A release wakes one only when there is one: the
    /// standard condition variable makes a system call on every `notify_one`, waiter or not,
    /// which was a microsecond of every sandbox call on a machine with costly system calls.
    waiting: usize,
}

/// A held slot; released when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(n: usize) -> Self {
        Slots {
            state: Mutex::new(State {
                free: n.max(1),
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot.
    pub fn take(&self) -> Slot<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.free == 0 {
            state.waiting += 1;
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        state.free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.free += 1;
        let wake = state.waiting > 0;
        drop(state);
        if wake {
            self.0.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_wait_for_a_slot_instead_of_failing() {
        let slots = std::sync::Arc::new(Slots::new(2));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let live = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (slots, peak, live) = (slots.clone(), peak.clone(), live.clone());
                std::thread::spawn(move || {
                    let _slot = slots.take();
                    let n = live.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 2);
    }

    #[test]
    fn every_waiter_is_woken_when_slots_free_up() {
        // One slot, many threads taking it many times: a lost wake-up would hang this test.
        let slots = std::sync::Arc::new(Slots::new(1));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let slots = slots.clone();
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        let _slot = slots.take();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let state = slots.state.lock().unwrap();
        assert_eq!((state.free, state.waiting), (1, 0));
    }
}
