//! An allocator for a component instance that lives for one export call, which is how the
//! host runs every connector: the instance, and all of its memory, is thrown away when the
//! call returns, so freeing block by block is work nobody needs.
//!
//! Small blocks are handed out from 256 KiB chunks by moving a pointer. A free is kept only
//! for the block handed out last (the common pattern of a temporary), and that block also
//! grows and shrinks in place (a `String` or `Vec` being built). Other frees are dropped: the
//! memory comes back when the instance ends. Blocks of 64 KiB and more go to the system
//! allocator and are freed as usual, so a large response body or a long transcript costs what
//! it would cost anyway.
//!
//! What this trades: memory for time. A call's memory is the sum of its small blocks rather
//! than the most alive at once; the host's per-call memory limit still applies and a call
//! that exceeds it fails as out of memory. Measured with the Clari Copilot connector on an
//! answer of 16 MB (the host's default response cap): 192-240 MiB with this allocator against
//! 128-192 MiB with the standard one, within the default 256 MiB limit
//! (`tests/tests/large_call.rs` keeps that). Opt in with
//! `register_connector!(MyConnector, allocator = per_call_arena)`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Size of the chunks small blocks are carved from.
const CHUNK: usize = 256 * 1024;
/// Blocks at least this large go to the system allocator.
const LARGE: usize = 64 * 1024;

/// The allocator; see the module documentation.
pub struct PerCallArena {
    state: UnsafeCell<State>,
}

#[derive(Clone, Copy)]
struct State {
    /// The next free byte of the current chunk (0 before the first chunk).
    next: usize,
    /// The end of the current chunk.
    end: usize,
    /// The start of the block handed out last, while it is still the one below `next`.
    last: usize,
}

// SAFETY: a component instance runs on one thread (wasm32 without threads); the allocator is
// only installed there (the register macro's wasm32 branch).
unsafe impl Sync for PerCallArena {}

impl PerCallArena {
    pub const fn new() -> Self {
        PerCallArena {
            state: UnsafeCell::new(State {
                next: 0,
                end: 0,
                last: usize::MAX,
            }),
        }
    }
}

impl Default for PerCallArena {
    fn default() -> Self {
        Self::new()
    }
}

fn align_up(at: usize, align: usize) -> Option<usize> {
    at.checked_add(align - 1).map(|x| x & !(align - 1))
}

unsafe impl GlobalAlloc for PerCallArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE || layout.align() > 4096 {
            // SAFETY: forwarded with the caller's layout.
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: one thread (see the `Sync` impl); no reference outlives this call.
        let s = unsafe { &mut *self.state.get() };
        let fits = |s: &State| {
            align_up(s.next, layout.align())
                .and_then(|start| Some((start, start.checked_add(layout.size())?)))
                .filter(|(_, stop)| s.next != 0 && *stop <= s.end)
        };
        let (start, stop) = match fits(s) {
            Some(x) => x,
            None => {
                // SAFETY: a valid, non-zero layout.
                let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, 4096)) };
                if chunk.is_null() {
                    return chunk;
                }
                s.next = chunk as usize;
                s.end = chunk as usize + CHUNK;
                match fits(s) {
                    Some(x) => x,
                    None => return std::ptr::null_mut(),
                }
            }
        };
        s.last = start;
        s.next = stop;
        start as *mut u8
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE || layout.align() > 4096 {
            // SAFETY: forwarded with the caller's layout (fresh pages come zeroed for free).
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: a small block of `layout.size()` bytes, just handed out.
        unsafe {
            let p = self.alloc(layout);
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE || layout.align() > 4096 {
            // SAFETY: this layout's blocks come from the system allocator.
            unsafe { System.dealloc(ptr, layout) };
            return;
        }
        // SAFETY: one thread.
        let s = unsafe { &mut *self.state.get() };
        if ptr as usize == s.last && s.last + layout.size() == s.next {
            s.next = s.last;
            s.last = usize::MAX;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let small = |size: usize| size < LARGE && layout.align() <= 4096;
        if !small(layout.size()) && !small(new_size) {
            // SAFETY: both sizes are the system allocator's.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if small(layout.size()) && small(new_size) {
            // SAFETY: one thread.
            let s = unsafe { &mut *self.state.get() };
            if ptr as usize == s.last
                && s.last + layout.size() == s.next
                && s.last
                    .checked_add(new_size)
                    .is_some_and(|stop| stop <= s.end)
            {
                s.next = s.last + new_size;
                return ptr;
            }
        }
        // SAFETY: the new layout has the old alignment and a non-zero size (GlobalAlloc's
        // contract for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above; the copy stays within both blocks.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_keep_their_contents() {
        let a = PerCallArena::new();
        let mut blocks: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 12345u64;
        for i in 0..20_000u32 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let size = 1 + (seed >> 40) as usize % if i % 97 == 0 { 200_000 } else { 3000 };
            let align = 1 << ((seed >> 20) % 7);
            let layout = Layout::from_size_align(size, align).unwrap();
            let fill = (i % 251) as u8;
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                std::ptr::write_bytes(p, fill, size);
                blocks.push((p, layout, fill));
            }
            // Grow the last block now and then, free some blocks.
            if seed.is_multiple_of(5) {
                let (p, l, fill) = blocks.pop().unwrap();
                let new_size = l.size() * 2 + 1;
                unsafe {
                    let q = a.realloc(p, l, new_size);
                    assert!(!q.is_null());
                    for k in 0..l.size() {
                        assert_eq!(*q.add(k), fill);
                    }
                    std::ptr::write_bytes(q, fill, new_size);
                    blocks.push((
                        q,
                        Layout::from_size_align(new_size, l.align()).unwrap(),
                        fill,
                    ));
                }
            }
            if seed.is_multiple_of(3) {
                let (p, l, _) = blocks.swap_remove((seed >> 8) as usize % blocks.len());
                unsafe { a.dealloc(p, l) };
            }
        }
        // Every live block still holds its own fill: no two overlap.
        for (p, l, fill) in &blocks {
            for k in 0..l.size() {
                assert_eq!(unsafe { *p.add(k) }, *fill);
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_where_a_freed_block_was() {
        let a = PerCallArena::new();
        for size in [100, 70_000] {
            let l = Layout::from_size_align(size, 8).unwrap();
            unsafe {
                let p = a.alloc(l);
                std::ptr::write_bytes(p, 0xAB, size);
                a.dealloc(p, l);
                let q = a.alloc_zeroed(l);
                assert!((0..size).all(|k| *q.add(k) == 0));
            }
        }
    }

    #[test]
    fn a_temporary_freed_at_once_is_reused() {
        let a = PerCallArena::new();
        let l = Layout::from_size_align(100, 8).unwrap();
        unsafe {
            let p = a.alloc(l);
            a.dealloc(p, l);
            let q = a.alloc(l);
            assert_eq!(p, q);
        }
    }
}
