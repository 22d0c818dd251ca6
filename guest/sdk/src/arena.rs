//! An allocator for a component instance that lives for one export call, which is how the
//! host runs every connector: the instance, and all of its memory, is thrown away when the
//! call returns, so freeing block by block is work nobody needs.
//!
//! Small blocks are handed out by moving a pointer: first from a region inside the allocator
//! itself (1 MiB; the allocator is a zero-initialised `static`, so the region is part of the
//! instance's initial memory and costs the component no bytes), then from 256 KiB chunks of
//! the system allocator. A typical call never leaves the first region, so it never grows
//! linear memory: each growth is an `mprotect` when it happens and another when the pooled
//! slot is reset for the next instance, about 7 µs of a 115 µs fetch (BENCHMARKS.md, "The
//! sandbox's cost, second pass"). A free is kept only for the block handed out last (the
//! common pattern of a temporary), and that block also grows and shrinks in place (a `String`
//! or `Vec` being built). Other frees are dropped: the memory comes back when the instance
//! ends. Blocks of 64 KiB and more go to the system allocator and are freed as usual, so a
//! large response body or a long transcript costs what it would cost anyway.
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

/// Size of the chunks small blocks are carved from once the first region is used up.
const CHUNK: usize = 256 * 1024;
/// Blocks at least this large go to the system allocator.
const LARGE: usize = 64 * 1024;
/// Size of the region inside the allocator that small blocks come from first.
pub const FIRST_REGION: usize = 1 << 20;

/// The allocator; see the module documentation. `FIRST` is the size of its own region (tests
/// use small ones; a connector uses the default).
#[repr(C)]
pub struct PerCallArena<const FIRST: usize = FIRST_REGION> {
    state: UnsafeCell<State>,
    first: Region<FIRST>,
}

/// The first region, page-aligned. All zero at start, like every field of the allocator, so
/// that a `static` allocator lands in `.bss` (zero-filled memory, not bytes in the module).
#[repr(C, align(4096))]
struct Region<const N: usize>(UnsafeCell<[u8; N]>);

#[derive(Clone, Copy)]
struct State {
    /// The next free byte of the current chunk (0 before the first chunk).
    next: usize,
    /// The end of the current chunk.
    end: usize,
    /// The start of the block handed out last, while it is still the one below `next` (0:
    /// none; no block starts at address 0).
    last: usize,
    /// Whether the first region has been handed out as a chunk.
    first_taken: bool,
}

// SAFETY: a component instance runs on one thread (wasm32 without threads); the allocator is
// only installed there (the register macro's wasm32 branch).
unsafe impl<const FIRST: usize> Sync for PerCallArena<FIRST> {}

impl PerCallArena {
    /// The allocator with its default first region (what `register_connector!` installs).
    pub const fn new() -> Self {
        Self::with_first_region()
    }
}

impl<const FIRST: usize> PerCallArena<FIRST> {
    /// The allocator with a first region of `FIRST` bytes (tests use small ones).
    pub const fn with_first_region() -> Self {
        PerCallArena {
            state: UnsafeCell::new(State {
                next: 0,
                end: 0,
                last: 0,
                first_taken: false,
            }),
            first: Region(UnsafeCell::new([0; FIRST])),
        }
    }

    /// A fresh chunk for small blocks: the first region once, then the system allocator's.
    /// Returns its start and end, or `None` when memory is exhausted. Out of line: it runs a
    /// few times a call at most.
    #[cold]
    #[inline(never)]
    fn next_chunk(&self, s: &mut State) -> Option<(usize, usize)> {
        if !s.first_taken && FIRST > 0 {
            s.first_taken = true;
            let start = self.first.0.get() as usize;
            return Some((start, start + FIRST));
        }
        // SAFETY: a valid, non-zero layout.
        let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, 4096)) };
        (!chunk.is_null()).then(|| (chunk as usize, chunk as usize + CHUNK))
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

unsafe impl<const FIRST: usize> GlobalAlloc for PerCallArena<FIRST> {
    // Out of line, like `next_chunk`: inlined into each allocation and free, these three grew
    // the Clari Copilot component by 34 KB for nothing measurable.
    #[inline(never)]
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
        // A fresh chunk always fits a small block, except a first region smaller than the
        // block: then the chunk after it is tried.
        let mut found = fits(s);
        for _ in 0..2 {
            if found.is_some() {
                break;
            }
            let Some((start, end)) = self.next_chunk(s) else {
                return std::ptr::null_mut();
            };
            s.next = start;
            s.end = end;
            found = fits(s);
        }
        let Some((start, stop)) = found else {
            return std::ptr::null_mut();
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

    #[inline(never)]
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
            s.last = 0;
        }
    }

    #[inline(never)]
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
        let a = PerCallArena::<{ 64 * 1024 }>::with_first_region();
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
        let a = PerCallArena::<{ 64 * 1024 }>::with_first_region();
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
        let a = PerCallArena::<{ 64 * 1024 }>::with_first_region();
        let l = Layout::from_size_align(100, 8).unwrap();
        unsafe {
            let p = a.alloc(l);
            a.dealloc(p, l);
            let q = a.alloc(l);
            assert_eq!(p, q);
        }
    }

    #[test]
    fn small_blocks_come_from_the_first_region_until_it_is_used_up() {
        let a = Box::new(PerCallArena::<8192>::with_first_region());
        let region = a.first.0.get() as usize..a.first.0.get() as usize + 8192;
        let l = Layout::from_size_align(1000, 8).unwrap();
        let blocks: Vec<usize> = (0..9).map(|_| unsafe { a.alloc(l) } as usize).collect();
        assert!(
            blocks[..8].iter().all(|p| region.contains(p)),
            "{blocks:x?}"
        );
        assert!(
            !region.contains(&blocks[8]),
            "the ninth block is in a chunk"
        );
    }

    #[test]
    fn a_block_larger_than_the_first_region_comes_from_the_next_chunk() {
        let a = PerCallArena::<4096>::with_first_region();
        let l = Layout::from_size_align(10_000, 8).unwrap();
        unsafe {
            let p = a.alloc(l);
            assert!(!p.is_null());
            std::ptr::write_bytes(p, 0x5A, 10_000);
            // The small region is passed over (a connector's is 1 MiB, larger than any small
            // block); the next block comes from the same chunk and nothing overlaps.
            let q = a.alloc(Layout::from_size_align(100, 8).unwrap());
            assert!(!q.is_null());
            assert!(q as usize >= p as usize + 10_000 || (q as usize) + 100 <= p as usize);
        }
    }
}
