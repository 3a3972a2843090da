//! Tests of what is particular to `MmapPages`: runs chained to a root, big blocks with
//! mappings of their own, the cache of free runs and its bound, the bytes mapped from
//! the OS, the optional hooks, bad pointers, and threads.

use core::alloc::Layout;
use core::ptr::NonNull;

use linked_alloc::conformance::pattern;
use linked_alloc::{BlockStatus, LinkedAllocator, MIN_ALIGN};
use linked_alloc_mmap::MmapPages;

/// The native count, or the small one under Miri.
const fn iterations(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("test layouts are valid")
}

/// Fills a block with the pattern of `seed` (a copy: fast under Miri too).
fn fill(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes that only they use.
    unsafe { pattern::fill(p, len, seed) }
}

/// Checks the pattern of `seed`.
#[track_caller]
fn check(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes, filled by `fill`.
    unsafe { pattern::check(p, len, seed) }
}

/// Makes a root and `n` children of `size` bytes under it, pattern-filled.
fn tree(pages: &MmapPages, n: usize, size: usize) -> (NonNull<u8>, Vec<NonNull<u8>>) {
    let root = pages.allocate_root(layout(size, 8)).expect("root");
    fill(root, size, 0);
    let mut children = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: `root` is a live root of `pages`.
        let c = unsafe { pages.allocate_child(root, layout(size, 8)) }.expect("child");
        assert_eq!(c.as_ptr() as usize % MIN_ALIGN, 0);
        fill(c, size, i + 1);
        children.push(c);
    }
    (root, children)
}

fn check_tree(root: NonNull<u8>, children: &[NonNull<u8>], size: usize) {
    check(root, size, 0);
    for (i, &c) in children.iter().enumerate() {
        check(c, size, i + 1);
    }
}

#[test]
fn children_fill_runs_and_new_runs_chain_to_the_root() {
    let pages = MmapPages::with_run_size(16 << 10);
    let run = pages.run_mapping_len();
    // 64-byte children: a 16 KiB run holds fewer than 256 of them.
    let n = iterations(2000, 600);
    let (root, children) = tree(&pages, n, 64);
    let runs = pages.bytes_mapped() / run;
    assert_eq!(
        pages.bytes_mapped() % run,
        0,
        "only standard runs are mapped"
    );
    assert!(runs > n * 64 / (16 << 10), "{runs} runs for {n} children");
    assert!(
        runs <= n * 64 / (16 << 10) + 2,
        "{runs} runs for {n} children"
    );
    // The children are carved one after the other: consecutive 64-byte steps within
    // a run (no header per child).
    let steps = children
        .windows(2)
        .filter(|w| (w[1].as_ptr() as usize).wrapping_sub(w[0].as_ptr() as usize) == 64);
    assert!(steps.count() >= n - runs, "children are not packed");
    let stats = pages.stats();
    assert_eq!(
        (stats.roots, stats.children, stats.bytes_in_use),
        (1, n, 64 * (n + 1))
    );
    check_tree(root, &children, 64);
    // SAFETY: `root` is a live root; its blocks are not used afterwards.
    unsafe { pages.free_root(root) };
    assert!(pages.stats().is_empty());
    assert_eq!(pages.cached_runs(), runs, "every run went to the cache");
    assert_eq!(pages.bytes_mapped(), pages.bytes_cached());
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn big_blocks_get_mappings_of_their_own() {
    let pages = MmapPages::with_run_size(16 << 10);
    let run = pages.run_mapping_len();
    // More than a run, and 3096 bytes short of a page end (room to grow in place).
    let big = (100 << 10) + 1000;
    let root = pages.allocate_root(layout(24, 8)).expect("root");
    assert_eq!(pages.bytes_mapped(), run);
    // SAFETY: `root` is a live root of `pages`.
    let child = unsafe { pages.allocate_child(root, layout(big, 4096)) }.expect("big child");
    assert_eq!(child.as_ptr() as usize % 4096, 0);
    assert!(pages.bytes_mapped() >= run + big);
    fill(child, big, 7);
    // A small child after it still comes from the root's run: no new mapping.
    let mapped = pages.bytes_mapped();
    // SAFETY: `child` is live, so a child of it joins `root`.
    let small = unsafe { pages.allocate_child(child, layout(32, 8)) }.expect("small");
    assert_eq!(pages.bytes_mapped(), mapped);
    fill(small, 32, 8);
    // A big root, with a small child in a run of its own.
    let big_root = pages.allocate_root(layout(big, 64)).expect("big root");
    fill(big_root, big, 9);
    // SAFETY: `big_root` is a live root.
    let under_big = unsafe { pages.allocate_child(big_root, layout(8, 8)) }.expect("child");
    fill(under_big, 8, 10);
    // SAFETY: all are live blocks of `pages`.
    unsafe {
        assert_eq!(pages.block_status(root), BlockStatus::Root);
        assert_eq!(pages.block_status(child), BlockStatus::Child);
        assert_eq!(pages.block_status(small), BlockStatus::Child);
        assert_eq!(pages.block_status(big_root), BlockStatus::Root);
        assert_eq!(pages.block_status(under_big), BlockStatus::Child);
    }
    // A big block grows and shrinks in place within its mapping, and not past it.
    // SAFETY: `child` is live, of `(big, 4096)`, linked to the live root `root`, used
    // by no other thread.
    unsafe {
        assert!(pages.resize_in_place(root, child, layout(big, 4096), big + 3000));
        assert!(!pages.resize_in_place(root, child, layout(big + 3000, 4096), 1 << 30));
        assert!(pages.resize_in_place(root, child, layout(big + 3000, 4096), big));
    }
    let stats = pages.stats();
    assert_eq!((stats.roots, stats.children), (2, 3));
    assert_eq!(stats.bytes_in_use, 24 + big + 32 + big + 8);
    check(child, big, 7);
    check(small, 32, 8);
    check(big_root, big, 9);
    check(under_big, 8, 10);
    // SAFETY: both are live roots; their blocks are not used afterwards.
    unsafe {
        pages.free_root(root);
        pages.free_root(big_root);
    }
    assert!(pages.stats().is_empty());
    // The big mappings went back to the OS; only standard runs are cached.
    assert_eq!(pages.bytes_mapped(), pages.bytes_cached());
    assert_eq!(pages.cached_runs(), 2);
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn freed_runs_are_reused_from_the_cache() {
    let pages = MmapPages::new();
    let first = pages.allocate_root(layout(100, 16)).expect("root");
    // SAFETY: `first` is a live root.
    unsafe { pages.free_root(first) };
    let mapped = pages.bytes_mapped();
    assert_eq!(pages.cached_runs(), 1);
    for _ in 0..iterations(1000, 20) {
        let root = pages.allocate_root(layout(100, 16)).expect("root");
        assert_eq!(
            root, first,
            "the cached run is reused, the root at the same place"
        );
        assert_eq!(pages.cached_runs(), 0);
        // SAFETY: `root` is a live root.
        unsafe {
            pages.allocate_child(root, layout(500, 8)).expect("child");
            pages.free_root(root);
        }
        assert_eq!(pages.bytes_mapped(), mapped, "no new mapping");
    }
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn the_cache_keeps_at_most_its_limit() {
    let pages = MmapPages::with_run_size(16 << 10).with_cache_limit(3);
    let run = pages.run_mapping_len();
    let roots: Vec<_> = (0..10)
        .map(|i| pages.allocate_root(layout(i, 8)).expect("root"))
        .collect();
    assert_eq!(pages.bytes_mapped(), 10 * run);
    for (i, root) in roots.into_iter().enumerate() {
        // SAFETY: each is a live root, freed once.
        unsafe { pages.free_root(root) };
        assert_eq!(pages.cached_runs(), (i + 1).min(3));
        assert_eq!(pages.bytes_mapped(), (9 - i) * run + pages.bytes_cached());
    }
    // One root with many runs: the cache takes what fits, the rest is unmapped.
    let (root, children) = tree(&pages, iterations(2000, 600), 64);
    check_tree(root, &children, 64);
    // SAFETY: `root` is a live root.
    unsafe { pages.free_root(root) };
    assert_eq!(pages.cached_runs(), 3);
    assert_eq!(pages.bytes_mapped(), 3 * run);
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
    // With no cache, every freed run goes back at once.
    let none = MmapPages::new().with_cache_limit(0);
    let root = none.allocate_root(layout(1, 1)).expect("root");
    // SAFETY: `root` is a live root.
    unsafe { none.free_root(root) };
    assert_eq!((none.cached_runs(), none.bytes_mapped()), (0, 0));
}

#[test]
fn every_alignment_up_to_max_align_and_no_further() {
    let pages = MmapPages::with_run_size(16 << 10);
    assert_eq!(pages.max_align(), 8 << 10);
    let root = pages.allocate_root(layout(8, 8)).expect("root");
    for shift in 0..=13 {
        let align = 1usize << shift;
        for size in [0, 1, 100, 5000] {
            let l = layout(size, align);
            let r = pages.allocate_root(l).expect("aligned root");
            assert_eq!(r.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            fill(r, size, shift);
            // SAFETY: `root` is a live root.
            let c = unsafe { pages.allocate_child(root, l) }.expect("aligned child");
            assert_eq!(c.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            fill(c, size, shift + 1);
            check(r, size, shift);
            // SAFETY: `r` is a live root.
            unsafe { pages.free_root(r) };
        }
    }
    let too_much = layout(8, 16 << 10);
    assert!(pages.allocate_root(too_much).is_err());
    // SAFETY: `root` is a live root.
    assert!(unsafe { pages.allocate_child(root, too_much) }.is_err());
    // SAFETY: `root` is a live root.
    unsafe { pages.free_root(root) };
    assert!(pages.stats().is_empty());
}

/// `p` as a pointer that Stacked Borrows lets read and write its first 8 bytes only, as
/// a `Box`'s or a reference's: the hooks must not read anything through it.
fn narrow(p: NonNull<u8>) -> NonNull<u8> {
    // SAFETY: callers pass live blocks of at least 8 bytes that only they use.
    NonNull::from(unsafe { &mut *p.cast::<[u8; 8]>().as_ptr() }).cast()
}

/// A big root resizes within its mapping; a big child only while its mapping is the
/// newest one chained to its root (the hooks find mappings from the root, never through
/// the block's pointer, which here is narrowed to the block's first bytes).
#[test]
fn big_blocks_resize_in_place_while_newest() {
    let pages = MmapPages::with_run_size(16 << 10);
    // More than a quarter of a 16 KiB run: a mapping of its own.
    let big = 5000;
    let root = pages.allocate_root(layout(big, 8)).expect("big root");
    fill(root, big, 1);
    // SAFETY: `root` is a live root; `a`, `b`, `c` are live children of it, of the
    // layouts given, used by this thread only; `c` is not used after its reclaim.
    unsafe {
        assert!(pages.resize_in_place(root, root, layout(big, 8), big + 1000));
        let a = pages.allocate_child(root, layout(big, 8)).expect("a");
        assert!(pages.resize_in_place(root, narrow(a), layout(big, 8), big + 8));
        let b = pages.allocate_child(root, layout(big, 8)).expect("b");
        fill(a, big + 8, 2);
        fill(b, big, 3);
        // `a`'s mapping is no longer the newest on the chain: refused, nothing changes.
        let before = pages.stats();
        assert!(!pages.resize_in_place(root, narrow(a), layout(big + 8, 8), big));
        assert_eq!(pages.stats(), before);
        assert!(pages.resize_in_place(root, narrow(b), layout(big, 8), big + 8));
        assert!(!pages.reclaim_child(root, narrow(b), layout(big + 8, 8)));
        // A small child takes a run (the big root has none): chained after `b`, it is
        // now the newest mapping, and the last block of the owner's lane.
        let c = pages.allocate_child(root, layout(8, 8)).expect("c");
        assert!(!pages.resize_in_place(root, narrow(b), layout(big + 8, 8), big));
        assert!(pages.reclaim_child(root, narrow(c), layout(8, 8)));
        // The big root resizes whatever was chained since.
        assert!(pages.resize_in_place(root, root, layout(big + 1000, 8), big));
        check(root, big, 1);
        check(a, big + 8, 2);
        check(b, big, 3);
        let stats = pages.stats();
        assert_eq!(
            (stats.children, stats.bytes_in_use),
            (2, big + 2 * (big + 8))
        );
        pages.free_root(root);
    }
    assert!(pages.stats().is_empty());
}

#[test]
fn the_last_child_of_a_run_resizes_and_is_reclaimed() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(40, 8)).expect("root");
    // SAFETY: `root` is a live root; `a` and `b` are its live children, each used by
    // this thread only, with the layouts given.
    unsafe {
        // The root is the last block of its run until a child comes.
        assert!(pages.resize_in_place(root, root, layout(40, 8), 400));
        assert_eq!(pages.stats().bytes_in_use, 400);
        let a = pages.allocate_child(root, layout(64, 8)).expect("a");
        assert!(
            !pages.resize_in_place(root, root, layout(400, 8), 40),
            "not last any more"
        );
        let b = pages.allocate_child(root, layout(64, 8)).expect("b");
        fill(a, 64, 1);
        fill(b, 64, 2);
        // `a` is not the last: refused, nothing changes.
        let before = pages.stats();
        assert!(!pages.resize_in_place(root, a, layout(64, 8), 128));
        assert!(!pages.reclaim_child(root, a, layout(64, 8)));
        assert_eq!(pages.stats(), before);
        // `b` is: it grows in place, keeps its bytes, then goes back.
        assert!(pages.resize_in_place(root, b, layout(64, 8), 1000));
        check(b, 64, 2);
        assert_eq!(pages.stats().bytes_in_use, 400 + 64 + 1000);
        assert!(pages.reclaim_child(root, b, layout(1000, 8)));
        assert_eq!(pages.stats().children, 1);
        // Its space is carved again for the next child; `a` is untouched.
        let c = pages.allocate_child(root, layout(64, 8)).expect("c");
        assert_eq!(c, b);
        check(a, 64, 1);
        // Now `c` then `a` are the last ones, in that order.
        assert!(pages.reclaim_child(root, c, layout(64, 8)));
        assert!(pages.reclaim_child(root, a, layout(64, 8)));
        // The root is last again and the root is never reclaimed as a child.
        assert!(!pages.reclaim_child(root, root, layout(400, 8)));
        assert_eq!(pages.stats().bytes_in_use, 400);
        pages.free_root(root);
    }
    assert!(pages.stats().is_empty());
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "free_root was given a pointer that is not a live root")]
fn free_root_of_a_child_panics_in_debug_builds() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(8, 8)).expect("root");
    // SAFETY: `root` is a live root. Passing a child to `free_root` breaks its
    // precondition on purpose: the backend detects it (the tag and the root address
    // in the child's mapping header) before touching anything.
    unsafe {
        let child = pages.allocate_child(root, layout(8, 8)).expect("child");
        pages.free_root(child);
    }
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "free_root was given a pointer that is not a live root")]
fn free_root_twice_panics_in_debug_builds() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(8, 8)).expect("root");
    // SAFETY: the second free breaks the precondition on purpose: the root's run is in
    // the cache (still mapped), its tag says free, and the backend refuses it.
    unsafe {
        pages.free_root(root);
        pages.free_root(root);
    }
}

/// A block pointer that may cross threads in these tests.
#[derive(Clone, Copy, Debug)]
struct SendPtr(NonNull<u8>);
// SAFETY: each block is written by one thread and read after that thread is joined;
// the allocator is `Sync`.
unsafe impl Send for SendPtr {}
// SAFETY: as above: threads share only the pointer's value (a root to link children to).
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the whole `SendPtr`).
    fn get(self) -> NonNull<u8> {
        self.0
    }
}

#[test]
fn threads_share_a_root_across_many_runs() {
    let pages = MmapPages::with_run_size(16 << 10).with_cache_limit(8);
    let threads = iterations(4, 3);
    let per_thread = iterations(20_000, 300);
    let root = SendPtr(pages.allocate_root(layout(16, 16)).expect("root"));
    let blocks: Vec<Vec<(SendPtr, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let pages = &pages;
                s.spawn(move || {
                    let root = root;
                    let mut mine = Vec::with_capacity(per_thread);
                    for i in 0..per_thread {
                        // Mostly small children, now and then a big one.
                        let size = if i % 997 == 0 { 20 << 10 } else { 16 + i % 48 };
                        // SAFETY: `root` is live until every thread is joined.
                        let p = unsafe { pages.allocate_child(root.0, layout(size, 8)) }
                            .expect("child");
                        fill(p, size.min(64), t * 1_000_000 + i);
                        mine.push((SendPtr(p), size));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (t, mine) in blocks.iter().enumerate() {
        for (i, &(p, size)) in mine.iter().enumerate() {
            check(p.0, size.min(64), t * 1_000_000 + i);
        }
    }
    let mut spans: Vec<(usize, usize)> = blocks
        .iter()
        .flatten()
        .map(|&(p, size)| (p.0.as_ptr() as usize, size))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].0 + w[0].1 <= w[1].0, "blocks overlap");
    }
    let stats = pages.stats();
    assert_eq!(stats.children, threads * per_thread);
    assert_eq!(
        stats.bytes_in_use,
        16 + spans.iter().map(|s| s.1).sum::<usize>()
    );
    // SAFETY: `root` is a live root; every thread is joined.
    unsafe { pages.free_root(root.0) };
    assert!(pages.stats().is_empty());
    assert!(pages.cached_runs() <= 8);
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn threads_make_and_free_roots_through_the_cache() {
    let pages = MmapPages::with_run_size(16 << 10).with_cache_limit(4);
    let threads = iterations(4, 3);
    let rounds = iterations(3000, 30);
    std::thread::scope(|s| {
        for t in 0..threads {
            let pages = &pages;
            s.spawn(move || {
                for r in 0..rounds {
                    let (root, children) = tree(pages, r % 50, 48);
                    check_tree(root, &children, 48);
                    assert!(pages.cached_runs() <= 4);
                    // SAFETY: `root` is a live root of this thread's.
                    unsafe { pages.free_root(root) };
                    let _ = t;
                }
            });
        }
    });
    assert!(pages.stats().is_empty());
    assert!(pages.cached_runs() <= 4);
    assert_eq!(pages.bytes_mapped(), pages.bytes_cached());
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn sizes_past_isize_max_are_errors_and_leave_it_usable() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(8, 8)).expect("root");
    for l in [
        layout(isize::MAX as usize, 1),
        layout(isize::MAX as usize - 4095, 4096),
        layout(isize::MAX as usize / 2 + 1, 8),
    ] {
        assert!(pages.allocate_root(l).is_err());
        // SAFETY: `root` is a live root.
        assert!(unsafe { pages.allocate_child(root, l) }.is_err());
    }
    // SAFETY: `root` is a live root, of (8, 8).
    assert!(!unsafe { pages.resize_in_place(root, root, layout(8, 8), isize::MAX as usize) });
    assert_eq!(pages.stats().bytes_in_use, 8);
    // SAFETY: `root` is a live root.
    unsafe { pages.free_root(root) };
    assert!(pages.stats().is_empty());
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn the_owner_and_other_threads_carve_from_one_root_at_once() {
    let pages = MmapPages::with_run_size(16 << 10);
    let per_thread = iterations(10_000, 200);
    let root = SendPtr(pages.allocate_root(layout(8, 8)).expect("root"));
    let carve = |seed: usize| {
        let mut mine = Vec::with_capacity(per_thread);
        for i in 0..per_thread {
            let size = 8 + i % 100;
            // SAFETY: `root` is live until every thread is joined.
            let p = unsafe { pages.allocate_child(root.get(), layout(size, 16)) }.expect("child");
            fill(p, size, seed + i);
            mine.push((SendPtr(p), size, seed + i));
        }
        mine
    };
    let blocks: Vec<(SendPtr, usize, usize)> = std::thread::scope(|s| {
        // Two other threads use the locked lane while the owner (this thread) uses
        // its own.
        let others: Vec<_> = (1..=2)
            .map(|t| s.spawn(move || carve(t * 1_000_000)))
            .collect();
        let mut all = carve(0);
        for h in others {
            all.extend(h.join().expect("thread"));
        }
        all
    });
    for &(p, size, seed) in &blocks {
        check(p.get(), size, seed);
    }
    let mut spans: Vec<(usize, usize)> = blocks
        .iter()
        .map(|&(p, size, _)| (p.get().as_ptr() as usize, size))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].0 + w[0].1 <= w[1].0, "blocks overlap");
    }
    let stats = pages.stats();
    assert_eq!(stats.children, 3 * per_thread);
    assert_eq!(
        stats.bytes_in_use,
        8 + spans.iter().map(|s| s.1).sum::<usize>()
    );
    // SAFETY: `root` is a live root; every thread is joined.
    unsafe { pages.free_root(root.get()) };
    assert!(pages.stats().is_empty());
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn hooks_follow_the_lane_of_the_block() {
    let pages = MmapPages::new();
    let root = SendPtr(pages.allocate_root(layout(8, 8)).expect("root"));
    // Another thread carves `a` then `b` from the locked lane; the owner carves `c`
    // from its own lane.
    let (a, b) = std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: `root` is a live root of `pages`.
            unsafe {
                let a = pages.allocate_child(root.get(), layout(32, 8)).expect("a");
                let b = pages.allocate_child(root.get(), layout(32, 8)).expect("b");
                (SendPtr(a), SendPtr(b))
            }
        })
        .join()
        .expect("thread")
    });
    // SAFETY: `root` is a live root; the blocks are live children of the given layouts,
    // each used by one thread at a time.
    unsafe {
        let c = SendPtr(pages.allocate_child(root.get(), layout(32, 8)).expect("c"));
        // The last block of the locked lane can be resized and reclaimed by any
        // thread, under the lock: here, the owner.
        assert!(pages.resize_in_place(root.get(), b.get(), layout(32, 8), 64));
        assert!(
            !pages.resize_in_place(root.get(), a.get(), layout(32, 8), 64),
            "a is not last"
        );
        assert!(pages.reclaim_child(root.get(), b.get(), layout(64, 8)));
        // The last block of the owner's lane only by the owner.
        let refused = std::thread::scope(|s| {
            s.spawn(|| {
                (
                    pages.resize_in_place(root.get(), c.get(), layout(32, 8), 64),
                    pages.reclaim_child(root.get(), c.get(), layout(32, 8)),
                )
            })
            .join()
            .expect("thread")
        });
        assert_eq!(refused, (false, false));
        assert_eq!(pages.stats().bytes_in_use, 8 + 32 + 32);
        assert!(pages.resize_in_place(root.get(), c.get(), layout(32, 8), 48));
        assert!(pages.reclaim_child(root.get(), c.get(), layout(48, 8)));
        assert!(pages.reclaim_child(root.get(), a.get(), layout(32, 8)));
        let stats = pages.stats();
        assert_eq!((stats.children, stats.bytes_in_use), (0, 8));
        pages.free_root(root.get());
    }
    assert!(pages.stats().is_empty());
}
