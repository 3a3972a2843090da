//! Bad pointers given to `free_root` and `allocate_child` (and the pool's hooks), on
//! every backend, wherever the backend can tell, and only where the call itself is
//! defined behaviour (RELIABILITY.md says which cases are not, and why).
//!
//! For each case there are two tests:
//! - `panics_in_debug`: a debug build panics with a message that says what was wrong
//!   (`#[should_panic(expected = ...)]`);
//! - `leaves_the_allocator_intact`: after the call (its panic caught, or ignored in a
//!   release build), `stats()` is unchanged, every block of the other roots and of the
//!   victim root keeps its pattern, the allocator still allocates and frees, and freeing
//!   everything brings `stats()` back to the start.
//!
//! The MAPI-status layer's answers to the same mistakes (`MAPI_E_INVALID_PARAMETER`,
//! no panic) are checked in `tests/mapi.rs`.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::panic::{AssertUnwindSafe, catch_unwind};

use linked_alloc::conformance::pattern;
use linked_alloc::{BlockStatus, Linked, LinkedAllocator};
use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;

type Pool = StaticPool<{ 64 << 10 }>;

/// The native size, or a smaller one under Miri.
const fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// A block the fixture made: where, how long, its pattern.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: NonNull<u8>,
    len: usize,
    seed: usize,
}

/// Two roots with children, pattern-filled: `keep` (never the target of a bad call)
/// and `victim` (whose child, interior or stale pointer is). Dropping it checks every
/// pattern and frees the roots still live, so a panic in a test leaks nothing.
struct Fixture<'h, B: LinkedAllocator> {
    heap: &'h Linked<B>,
    keep: Vec<Block>,
    victim: Vec<Block>,
    /// `victim` was freed by the test's setup (a stale pointer case).
    victim_freed: bool,
}

impl<'h, B: LinkedAllocator> Fixture<'h, B> {
    fn new(heap: &'h Linked<B>) -> Self {
        let mut fx = Self {
            heap,
            keep: Vec::new(),
            victim: Vec::new(),
            victim_freed: false,
        };
        fx.keep = fx.tree(128, &[16, 40, 100, n(3000, 300)], 10);
        // The victim has a child larger than a page too (a mapping of its own in
        // `MmapPages` with 16 KiB runs, another size class in the pool).
        fx.victim = fx.tree(256, &[64, n(20_000, 4500)], 20);
        // Its first 16 bytes are zeroes: never a live header's tag, so a backend that
        // reads a header in front of `victim + 16` reads initialized, non-tag bytes.
        // SAFETY: the victim root has 256 bytes.
        unsafe { fx.victim[0].ptr.as_ptr().write_bytes(0, 16) };
        fx
    }

    /// A root of `root` bytes with children of `children` bytes, each filled.
    fn tree(&self, root: usize, children: &[usize], seed: usize) -> Vec<Block> {
        let layout = |n| Layout::from_size_align(n, 16).expect("valid");
        let r = self
            .heap
            .allocate_root(layout(root))
            .expect("a fixture root");
        let mut blocks = vec![Block {
            ptr: r,
            len: root,
            seed,
        }];
        for (i, &n) in children.iter().enumerate() {
            // SAFETY: `r` is a live root of `heap`.
            let c = unsafe { self.heap.allocate_child(r, layout(n)) }.expect("a fixture child");
            blocks.push(Block {
                ptr: c,
                len: n,
                seed: seed + i + 1,
            });
        }
        for b in &blocks {
            // SAFETY: each block is live with `len` bytes that only we use.
            unsafe { pattern::fill(b.ptr, b.len, b.seed) };
        }
        blocks
    }

    fn root(&self) -> NonNull<u8> {
        self.victim[0].ptr
    }

    fn child(&self) -> NonNull<u8> {
        self.victim[1].ptr
    }

    fn big_child(&self) -> NonNull<u8> {
        self.victim[2].ptr
    }

    /// Frees the victim (a test's setup, before a stale-pointer call).
    fn free_victim(&mut self) {
        self.check();
        // SAFETY: the victim root is live; its blocks are not used afterwards (only
        // its stale address, by the bad call).
        unsafe { self.heap.free_root(self.root()) };
        self.victim_freed = true;
    }

    /// Checks every pattern of the live roots.
    #[track_caller]
    fn check(&self) {
        let live = if self.victim_freed {
            &[][..]
        } else {
            &self.victim[..]
        };
        for b in self.keep.iter().chain(live) {
            // The victim root's first 16 bytes were zeroed on purpose.
            let skip = if b.ptr == self.victim[0].ptr { 16 } else { 0 };
            // SAFETY: the block is live with `len` bytes, filled by `pattern::fill`.
            unsafe { pattern::check_from(b.ptr, b.len, b.seed, skip) };
        }
    }
}

impl<B: LinkedAllocator> Drop for Fixture<'_, B> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check();
        }
        // SAFETY: `keep` is a live root; nothing uses its blocks afterwards.
        unsafe { self.heap.free_root(self.keep[0].ptr) };
        if !self.victim_freed {
            // SAFETY: as above, for the victim.
            unsafe { self.heap.free_root(self.root()) };
        }
    }
}

/// The text of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        String::from("<not a string>")
    }
}

/// Runs `setup` then `bad` on a fresh fixture (for `#[should_panic]`).
#[cfg(debug_assertions)]
fn run_bad<B: LinkedAllocator>(
    heap: &Linked<B>,
    setup: impl FnOnce(&mut Fixture<'_, B>),
    bad: impl FnOnce(&Linked<B>, &Fixture<'_, B>),
) {
    let mut fx = Fixture::new(heap);
    setup(&mut fx);
    bad(heap, &fx);
}

/// Runs `bad` after `setup` and checks: a debug build panicked with `expected` (a
/// release build did not panic), nothing changed, the allocator works, nothing leaks.
fn refused<B: LinkedAllocator>(
    heap: &Linked<B>,
    expected: &str,
    setup: impl FnOnce(&mut Fixture<'_, B>),
    bad: impl FnOnce(&Linked<B>, &Fixture<'_, B>),
) {
    let start = heap.stats();
    {
        let mut fx = Fixture::new(heap);
        setup(&mut fx);
        let before = heap.stats();
        let result = catch_unwind(AssertUnwindSafe(|| bad(heap, &fx)));
        let debug = cfg!(debug_assertions);
        match result {
            Err(payload) => {
                let text = message(&*payload);
                assert!(debug, "a release build must not panic ({text})");
                assert!(
                    text.contains(expected),
                    "panic message {text:?} lacks {expected:?}"
                );
            }
            Ok(()) => assert!(!debug, "a debug build must panic"),
        }
        assert_eq!(heap.stats(), before, "the refused call changed stats()");
        fx.check();
        // Still usable: a root with children, freed.
        let r = heap
            .allocate_buffer(100)
            .expect("a root after the refused call");
        // SAFETY: `r` is a live root of `heap`.
        unsafe {
            let c = heap
                .allocate_more(50, r)
                .expect("a child after the refused call");
            c.as_ptr().write_bytes(0xa5, 50);
            heap.free_buffer(r);
        }
        assert_eq!(heap.stats(), before);
    } // the fixture checks its patterns and frees its roots
    assert_eq!(heap.stats(), start, "something leaked");
}

/// Two tests per case: the debug panic and its message, and the allocator intact.
macro_rules! case {
    ($name:ident, $heap:expr, $expected:literal, setup: $setup:expr, bad: $bad:expr $(,)?) => {
        mod $name {
            use super::*;

            #[test]
            #[cfg(debug_assertions)]
            #[should_panic(expected = $expected)]
            fn panics_in_debug() {
                let heap = $heap;
                run_bad(&heap, $setup, $bad);
            }

            #[test]
            fn leaves_the_allocator_intact() {
                let heap = $heap;
                refused(&heap, $expected, $setup, $bad);
            }
        }
    };
    ($name:ident, $heap:expr, $expected:literal, bad: $bad:expr $(,)?) => {
        case!($name, $heap, $expected, setup: |_| {}, bad: $bad);
    };
}

// ---------------------------------------------------------------------------------
// SystemHeap: `free_root` and `allocate_child` read the kit header in the 16 bytes in
// front of the pointer. Sound only where those bytes are readable, initialized and
// 8-aligned: a live child, an interior pointer 8 or more bytes (a multiple of 8) into
// a live block whose bytes are written, a foreign pointer with 16 readable bytes before
// it. A freed pointer (the header is freed memory) or one misaligned for the header is
// undefined behaviour, not tested.

mod system {
    use super::*;

    fn heap() -> Linked<SystemHeap> {
        Linked::new(SystemHeap::new())
    }

    case!(free_child, heap(), "linked-alloc-system: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: a child, not a root (the mistake under test); SystemHeap reads only
        // the kit header in front of it, the child's own live, initialized header.
        unsafe { h.free_root(fx.child()) }
    });
    case!(free_big_child, heap(), "linked-alloc-system: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: as for `free_child`.
        unsafe { h.free_root(fx.big_child()) }
    });
    case!(free_interior_16, heap(), "linked-alloc-system: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: an interior pointer (the mistake); the 16 bytes in front of it are
        // the victim root's first 16 bytes: live, initialized (zeroes), 16-aligned.
        unsafe { h.free_root(fx.root().add(16)) }
    });
    case!(free_interior_8, heap(), "linked-alloc-system: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: an interior pointer (the mistake); the 16 bytes in front of it are
        // the root's header's second word and its first 8 bytes (zeroes): live,
        // initialized, 8-aligned as a header must be.
        unsafe { h.free_root(fx.root().add(8)) }
    });
    case!(free_foreign, heap(), "linked-alloc-system: free_root was given a pointer that is not a live root",
    bad: |h, _| {
        // A block of the global allocator, zeroed: 16 readable bytes before `+16`.
        let mut foreign = Box::new([0u64; 8]);
        let p = NonNull::from(&mut *foreign).cast::<u8>();
        // SAFETY: not ours (the mistake); the 16 bytes in front of `p + 16` are the
        // box's first 16 bytes: live, initialized, 8-aligned, writable through `p`
        // (taken from `&mut`, as the header's atomics need), unborrowed otherwise.
        unsafe { h.free_root(p.add(16)) };
    });
    case!(child_of_interior, heap(), "linked-alloc-system: allocate_child was given a parent that is not a live block",
    bad: |h, fx| {
        // SAFETY: as for `free_interior_16`: the header read is in the root's bytes.
        let r = unsafe { h.allocate_child(fx.root().add(16), Layout::new::<u64>()) };
        assert!(r.is_err(), "a release build refuses with AllocError");
    });
}

// ---------------------------------------------------------------------------------
// MmapPages: `free_root` and `allocate_child` find the header of the block that holds
// the pointer (the segment's header by masking, then the page's metadata) and read its
// tag. Sound for any pointer into a live segment of this allocator: a child (in the
// root's first chunk, a later chunk or a big child's block), an interior or misaligned
// pointer into a live root, a root freed a moment ago (its block is back on its page's
// free list, its tag cleared, the segment still mapped). A pointer of no segment of
// this allocator reads unmapped or foreign memory: undefined behaviour, not tested.

mod mmap {
    use super::*;

    fn heap() -> Linked<MmapPages> {
        Linked::new(MmapPages::new())
    }

    case!(free_child, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: a child, not a root (the mistake under test); MmapPages reads only
        // the header of the child's chunk, live and mapped.
        unsafe { h.free_root(fx.child()) }
    });
    case!(free_big_child, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: as for `free_child` (the child's chunk is live).
        unsafe { h.free_root(fx.big_child()) }
    });
    case!(free_child_of_later_chunk, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    setup: |fx| {
        // Children until one lands more than a megabyte from the first (chunks double
        // from 512 bytes, so it is in a later chunk).
        let first = fx.child().as_ptr() as usize;
        let mut last = fx.child();
        while (last.as_ptr() as usize).abs_diff(first) < 1 << 20 {
            // SAFETY: the victim root is live.
            last = unsafe { fx.heap.allocate_more(1000, fx.root()) }.expect("a child");
        }
        fx.victim.push(Block { ptr: last, len: 0, seed: 0 });
    },
    bad: |h, fx| {
        // SAFETY: as for `free_child` (the later chunk is live).
        unsafe { h.free_root(fx.victim.last().expect("pushed").ptr) }
    });
    case!(free_interior, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: an interior pointer (the mistake); it masks to the root's live run.
        unsafe { h.free_root(fx.root().add(16)) }
    });
    case!(free_misaligned, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    bad: |h, fx| {
        // SAFETY: as for `free_interior`; MmapPages never reads at the pointer.
        unsafe { h.free_root(fx.root().add(1)) }
    });
    case!(double_free, heap(), "linked-alloc-mmap: free_root was given a pointer that is not a live root",
    setup: |fx| fx.free_victim(),
    bad: |h, fx| {
        // SAFETY: freed already (the mistake); its block went back to its page, whose
        // segment the fixture's other roots keep mapped.
        unsafe { h.free_root(fx.root()) }
    });
    case!(child_of_freed_root, heap(), "linked-alloc-mmap: allocate_child was given a parent that is not a live block",
    setup: |fx| fx.free_victim(),
    bad: |h, fx| {
        // SAFETY: as for `double_free`: the block's segment is mapped.
        let r = unsafe { h.allocate_child(fx.root(), Layout::new::<u64>()) };
        assert!(r.is_err(), "a release build refuses with AllocError");
    });
}

// ---------------------------------------------------------------------------------
// StaticPool: every pointer is checked exactly (range, granule, live map) before
// anything is read, so every case is sound and detected, foreign pointers included.

mod pool {
    use super::*;

    fn heap() -> Linked<Pool> {
        Linked::new(Pool::new())
    }

    case!(free_child, heap(), "linked-alloc-pool: free_root was given a child, not a root; the pool is left unchanged",
    bad: |h, fx| {
        // SAFETY: a child (the mistake); the pool checks any pointer before use.
        unsafe { h.free_root(fx.child()) }
    });
    case!(free_big_child, heap(), "linked-alloc-pool: free_root was given a child, not a root",
    bad: |h, fx| {
        // SAFETY: as for `free_child`.
        unsafe { h.free_root(fx.big_child()) }
    });
    case!(free_interior, heap(), "linked-alloc-pool: free_root was given a pointer that is not a live block of this pool; the pool is left unchanged",
    bad: |h, fx| {
        // SAFETY: an interior pointer (the mistake); the pool checks any pointer.
        unsafe { h.free_root(fx.root().add(16)) }
    });
    case!(free_misaligned, heap(), "linked-alloc-pool: free_root was given a pointer that is not a live block of this pool; the pool is left unchanged",
    bad: |h, fx| {
        // SAFETY: as for `free_interior`.
        unsafe { h.free_root(fx.root().add(1)) }
    });
    case!(double_free, heap(), "linked-alloc-pool: free_root was given a pointer that is not a live block of this pool; the pool is left unchanged",
    setup: |fx| fx.free_victim(),
    bad: |h, fx| {
        // SAFETY: freed already (the mistake); the pool checks its live map first.
        unsafe { h.free_root(fx.root()) }
    });
    case!(free_foreign, heap(), "linked-alloc-pool: free_root was given a pointer that is not a live block of this pool; the pool is left unchanged",
    bad: |h, _| {
        let mut foreign = Box::new([0u64; 8]);
        // SAFETY: not the pool's (the mistake); the pool checks its range first.
        unsafe { h.free_root(NonNull::from(&mut *foreign).cast()) };
    });
    case!(free_root_of_another_pool, heap(), "linked-alloc-pool: free_root was given a pointer that is not a live block of this pool; the pool is left unchanged",
    bad: |h, _| {
        let other = Linked::new(StaticPool::<4096>::new());
        let r = other.allocate_buffer(32).expect("a root of the other pool");
        // SAFETY: another pool's root (the mistake); this pool checks its range.
        unsafe { h.free_root(r) };
    });
    case!(child_of_freed_root, heap(), "linked-alloc-pool: allocate_child was given a parent that is not a live block",
    setup: |fx| fx.free_victim(),
    bad: |h, fx| {
        // SAFETY: freed already (the mistake); the pool checks its live map first.
        let r = unsafe { h.allocate_child(fx.root(), Layout::new::<u64>()) };
        assert!(r.is_err(), "a release build refuses with AllocError");
    });
    case!(child_of_foreign, heap(), "linked-alloc-pool: allocate_child was given a parent that is not a live block",
    bad: |h, _| {
        let mut foreign = Box::new([0u64; 8]);
        let p = NonNull::from(&mut *foreign).cast();
        // SAFETY: not the pool's (the mistake); the pool checks its range first.
        let r = unsafe { h.allocate_child(p, Layout::new::<u64>()) };
        assert!(r.is_err(), "a release build refuses with AllocError");
    });
    case!(reclaim_interior, heap(), "linked-alloc-pool: reclaim_child was given a pointer that is not a live child",
    bad: |h, fx| {
        // SAFETY: an interior pointer (the mistake), of the live root `fx.root()`; the
        // pool checks any pointer.
        let done = unsafe {
            h.backend().reclaim_child(fx.root(), fx.child().add(16), Layout::new::<u8>())
        };
        assert!(!done, "a release build refuses");
    });
    case!(reclaim_root, heap(), "linked-alloc-pool: reclaim_child was given a pointer that is not a live child",
    bad: |h, fx| {
        let l = Layout::from_size_align(256, 16).expect("valid");
        // SAFETY: a root, not a child (the mistake); the pool checks any pointer.
        let done = unsafe { h.backend().reclaim_child(fx.root(), fx.root(), l) };
        assert!(!done, "a release build refuses");
    });
    case!(resize_foreign, heap(), "linked-alloc-pool: resize_in_place was given a pointer that is not a live block",
    bad: |h, fx| {
        let mut foreign = Box::new([0u64; 8]);
        let p = NonNull::from(&mut *foreign).cast();
        let l = Layout::new::<[u64; 8]>();
        // SAFETY: not the pool's (the mistake), given with the live root `fx.root()`; the
        // pool checks its range first.
        let done = unsafe { h.backend().resize_in_place(fx.root(), p, l, 128) };
        assert!(!done, "a release build refuses");
    });

    /// `block_status` accepts any pointer and tells exactly.
    #[test]
    fn block_status_tells_any_pointer() {
        let heap = heap();
        let mut fx = Fixture::new(&heap);
        let b = heap.backend();
        let mut foreign = Box::new([0u64; 8]);
        // SAFETY: the pool documents that `block_status` checks any pointer.
        unsafe {
            assert_eq!(b.block_status(fx.root()), BlockStatus::Root);
            assert_eq!(b.block_status(fx.child()), BlockStatus::Child);
            assert_eq!(b.block_status(fx.root().add(16)), BlockStatus::NotLive);
            assert_eq!(b.block_status(fx.root().add(1)), BlockStatus::NotLive);
            assert_eq!(
                b.block_status(NonNull::from(&mut *foreign).cast()),
                BlockStatus::NotLive
            );
        }
        let root = fx.root();
        fx.free_victim();
        // SAFETY: as above.
        assert_eq!(unsafe { b.block_status(root) }, BlockStatus::NotLive);
    }
}

/// Sizes past what any machine holds are `AllocError` on every backend, for
/// roots and children, and leave the allocator usable (the "Bad input" rules of the
/// `LinkedAllocator` docs).
#[test]
fn impossible_requests_are_errors_everywhere() {
    fn check<B: LinkedAllocator>(heap: &Linked<B>) {
        let fx = Fixture::new(heap);
        let before = heap.stats();
        for (size, align) in [
            (isize::MAX as usize, 1),
            (isize::MAX as usize - 4095, 4096),
            (isize::MAX as usize / 2, 16),
            (usize::MAX >> 8, 16),
        ] {
            let Ok(l) = Layout::from_size_align(size, align) else {
                continue;
            };
            assert!(heap.allocate_root(l).is_err(), "root of {l:?}");
            // SAFETY: the victim root is live.
            let child = unsafe { heap.allocate_child(fx.root(), l) };
            assert!(child.is_err(), "child of {l:?}");
        }
        assert!(heap.allocate_buffer(usize::MAX).is_err());
        // SAFETY: the victim root is live.
        assert!(unsafe { heap.allocate_more(usize::MAX, fx.root()) }.is_err());
        assert_eq!(heap.stats(), before);
        fx.check();
    }
    check(&Linked::new(SystemHeap::new()));
    check(&Linked::new(MmapPages::new()));
    check(&Linked::new(Pool::new()));
}
