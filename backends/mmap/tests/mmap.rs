//! Tests of what is particular to `MmapPages`: small roots sharing pages, chunks of
//! children, big and huge blocks, the cache of free segments and its bound, the bytes
//! mapped from the OS, the optional hooks, bad pointers, and threads (roots freed on
//! another thread, heaps handed over when threads exit).

use core::alloc::Layout;
use core::ptr::NonNull;

use linked_alloc::conformance::pattern;
use linked_alloc::{BlockStatus, LinkedAllocator, MIN_ALIGN};
use linked_alloc_mmap::MmapPages;
use linked_alloc_testkit::workloads::sizes::Rng;

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

/// `p` as a pointer that Stacked Borrows lets read and write its first 8 bytes only, as
/// a `Box`'s or a reference's: the hooks must not read anything through it.
fn narrow(p: NonNull<u8>) -> NonNull<u8> {
    // SAFETY: callers pass live blocks of at least 8 bytes that only they use.
    NonNull::from(unsafe { &mut *p.cast::<[u8; 8]>().as_ptr() }).cast()
}

/// At the end of a test: nothing live, and once the cache is trimmed, nothing mapped.
#[track_caller]
fn all_back(pages: &MmapPages) {
    assert!(pages.stats().is_empty());
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
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
fn roots_resize_within_their_block_and_the_last_child_of_a_lane_too() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(40, 8)).expect("root");
    // SAFETY: `root` is a live root; `a`, `b`, `c` are its live children, each used by
    // this thread only, with the layouts given.
    unsafe {
        // A 40-byte root takes a 64-byte block (16 of header): it grows to 48 in place,
        // not further, children or not.
        fill(root, 40, 9);
        assert!(pages.resize_in_place(root, narrow(root), layout(40, 8), 48));
        assert!(!pages.resize_in_place(root, narrow(root), layout(48, 8), 49));
        assert_eq!(pages.stats().bytes_in_use, 48);
        let a = pages.allocate_child(root, layout(64, 8)).expect("a");
        assert!(pages.resize_in_place(root, root, layout(48, 8), 40));
        check(root, 40, 9);
        let b = pages.allocate_child(root, layout(64, 8)).expect("b");
        fill(a, 64, 1);
        fill(b, 64, 2);
        // `a` is not the last: refused, nothing changes.
        let before = pages.stats();
        assert!(!pages.resize_in_place(root, narrow(a), layout(64, 8), 128));
        assert!(!pages.reclaim_child(root, narrow(a), layout(64, 8)));
        assert_eq!(pages.stats(), before);
        // `b` is: it grows in place (within its chunk), keeps its bytes, then goes back.
        assert!(pages.resize_in_place(root, narrow(b), layout(64, 8), 200));
        check(b, 64, 2);
        assert_eq!(pages.stats().bytes_in_use, 40 + 64 + 200);
        assert!(pages.reclaim_child(root, narrow(b), layout(200, 8)));
        assert_eq!(pages.stats().children, 1);
        // Its space is carved again for the next child; `a` is untouched.
        let c = pages.allocate_child(root, layout(64, 8)).expect("c");
        assert_eq!(c, b);
        check(a, 64, 1);
        // Now `c` then `a` are the last ones, in that order.
        assert!(pages.reclaim_child(root, narrow(c), layout(64, 8)));
        assert!(pages.reclaim_child(root, narrow(a), layout(64, 8)));
        // The root is never reclaimed as a child.
        assert!(!pages.reclaim_child(root, root, layout(40, 8)));
        assert_eq!(pages.stats().bytes_in_use, 40);
        pages.free_root(root);
    }
    assert!(pages.stats().is_empty());
}

/// Misuses of `free_root` that a debug build detects before touching anything: one
/// test each, on a new `pages` with a live root (8 bytes) `root`, whose body breaks
/// `free_root`'s precondition on purpose.
macro_rules! free_root_misuse_panics_in_debug_builds {
    ($($test:ident: |$pages:ident, $root:ident| $body:block)*) => {$(
        #[cfg(debug_assertions)]
        #[test]
        #[should_panic(expected = "free_root was given a pointer that is not a live root")]
        fn $test() {
            let $pages = MmapPages::new();
            let $root = $pages.allocate_root(layout(8, 8)).expect("root");
            $body
        }
    )*};
}

free_root_misuse_panics_in_debug_builds! {
    free_root_of_a_child_panics_in_debug_builds: |pages, root| {
        // SAFETY: `root` is a live root. Passing a child to `free_root` breaks its
        // precondition on purpose: the backend detects it (the tag of the header of the
        // child's chunk) before touching anything.
        unsafe {
            let child = pages.allocate_child(root, layout(8, 8)).expect("child");
            pages.free_root(child);
        }
    }
    free_root_twice_panics_in_debug_builds: |pages, root| {
        // SAFETY: the second free breaks the precondition on purpose: the root's block
        // is back on its page (the segment still mapped), its tag cleared, and the
        // backend refuses it.
        unsafe {
            pages.free_root(root);
            pages.free_root(root);
        }
    }
    free_root_of_another_instances_root_panics_in_debug_builds: |a, root| {
        // `b` must have a segment of its own for the call to reach its checks.
        let b = MmapPages::new();
        let mine = b.allocate_root(layout(8, 8)).expect("root");
        // SAFETY: `root` is a live root of `a`, not of `b` (the mistake under test):
        // `b` reads the header of the segment that holds it, which names `a`, and
        // refuses.
        unsafe { b.free_root(root) };
        let _ = mine;
    }
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
    all_back(&pages);
}

#[test]
fn the_owner_and_other_threads_carve_from_one_root_at_once() {
    let pages = MmapPages::new();
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
        // Two other threads use the shared lane while the owner (this thread) uses
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
    all_back(&pages);
}

#[test]
fn hooks_follow_the_lane_of_the_block() {
    let pages = MmapPages::new();
    let root = SendPtr(pages.allocate_root(layout(8, 8)).expect("root"));
    // Another thread carves `a` then `b` from the shared lane (it makes the root's
    // arena, whose own lane stays the root's maker's); the owner carves `c` from its
    // own lane.
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
        // The last block of the shared lane can be resized and reclaimed by any
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

#[test]
fn threads_share_a_root_across_many_chunks() {
    let pages = MmapPages::new();
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
    all_back(&pages);
}

#[test]
fn small_roots_share_pages_and_segments() {
    let pages = MmapPages::new();
    let n = iterations(10_000, 300);
    let roots: Vec<_> = (0..n)
        .map(|i| {
            let r = pages.allocate_root(layout(64, 8)).expect("root");
            fill(r, 64, i);
            r
        })
        .collect();
    // 80 bytes a root (64 and a 16-byte header), packed in pages of one size class.
    let mut addrs: Vec<usize> = roots.iter().map(|r| r.as_ptr() as usize).collect();
    addrs.sort_unstable();
    let packed = addrs.windows(2).filter(|w| w[1] - w[0] == 80).count();
    assert!(
        packed >= n * 9 / 10,
        "only {packed} of {n} roots 80 bytes apart"
    );
    // One segment holds them all (10 000 x 80 bytes = 800 KB).
    assert_eq!(pages.bytes_mapped(), MmapPages::SEGMENT_MAPPED);
    assert_eq!(pages.stats().roots, n);
    // Freed in a scattered order, then made again: the same memory serves.
    for i in Rng::new(0x2545_f491).permutation(n) {
        check(roots[i], 64, i);
        // SAFETY: a live root, freed once.
        unsafe { pages.free_root(roots[i]) };
    }
    assert!(pages.stats().is_empty());
    for i in 0..n {
        let r = pages.allocate_root(layout(64, 8)).expect("root");
        assert!(
            addrs.binary_search(&(r.as_ptr() as usize)).is_ok(),
            "reused"
        );
        // SAFETY: a live root.
        unsafe { pages.free_root(r) };
        let _ = i;
    }
    assert_eq!(pages.bytes_mapped(), MmapPages::SEGMENT_MAPPED);
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn children_take_doubling_chunks_and_go_with_the_root() {
    let pages = MmapPages::new();
    for n in [0, 1, 5, 100, iterations(20_000, 500)] {
        let (root, children) = tree(&pages, n, 48);
        check_tree(root, &children, 48);
        let stats = pages.stats();
        assert_eq!((stats.roots, stats.children), (1, n));
        assert_eq!(stats.bytes_in_use, 48 * (n + 1));
        // The first children share the root's first chunk: close together.
        if n >= 5 {
            assert!(children[4].as_ptr() as usize - children[0].as_ptr() as usize == 4 * 48);
        }
        for (i, &c) in children.iter().enumerate() {
            // SAFETY: `c` is a live child of `root`.
            assert_eq!(unsafe { pages.block_status(c) }, BlockStatus::Child, "{i}");
        }
        // SAFETY: `root` is a live root.
        assert_eq!(unsafe { pages.block_status(root) }, BlockStatus::Root);
        // SAFETY: `root` is a live root; its blocks are not used afterwards.
        unsafe { pages.free_root(root) };
        assert!(pages.stats().is_empty());
    }
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn big_and_huge_blocks() {
    let pages = MmapPages::new();
    // A span (several pages of a segment), and a huge block (a mapping of its own).
    let span = 5 * MmapPages::PAGE_SIZE - 100;
    let huge = 3 * MmapPages::SEGMENT_SIZE / 2 + 12345;
    let root = pages.allocate_root(layout(span, 4096)).expect("span root");
    fill(root, span, 1);
    assert_eq!(pages.bytes_mapped(), MmapPages::SEGMENT_MAPPED);
    let huge_root = pages.allocate_root(layout(huge, 64)).expect("huge root");
    fill(huge_root, huge, 2);
    let mapped = pages.bytes_mapped();
    assert!(mapped >= MmapPages::SEGMENT_SIZE + huge);
    // SAFETY: live roots of `pages`, with the layouts given, used by this thread only.
    unsafe {
        // Big children: a block of their own each, chained to the root.
        let a = pages
            .allocate_child(root, layout(span, 16))
            .expect("big child");
        let b = pages
            .allocate_child(root, layout(huge, 16))
            .expect("huge child");
        fill(a, span, 3);
        fill(b, huge, 4);
        assert_eq!(pages.block_status(b), BlockStatus::Child);
        // A child of a big child joins the same root.
        let c = pages
            .allocate_child(b, layout(100, 16))
            .expect("child of a child");
        fill(c, 100, 5);
        assert_eq!(pages.stats().children, 3);
        // A huge root grows within its mapping.
        assert!(pages.resize_in_place(huge_root, huge_root, layout(huge, 64), huge + 100));
        check(root, span, 1);
        check(huge_root, huge, 2);
        check(a, span, 3);
        check(b, huge, 4);
        check(c, 100, 5);
        let before = pages.bytes_mapped();
        pages.free_root(huge_root);
        // The huge root's mapping waits in the cache for the next huge block.
        assert!(pages.bytes_cached() >= huge);
        assert_eq!(pages.bytes_mapped(), before);
        let again = pages
            .allocate_root(layout(huge - 1000, 64))
            .expect("huge root");
        assert_eq!(pages.bytes_cached(), 0, "reused");
        pages.free_root(again);
        pages.free_root(root);
    }
    all_back(&pages);
}

#[test]
fn the_cache_keeps_at_most_its_limit() {
    let pages = MmapPages::new().with_cache_limit(2);
    // Roots of half a segment each: one segment apiece (a span takes at most half).
    let big = MmapPages::SEGMENT_SIZE / 2 - MmapPages::PAGE_SIZE;
    let roots: Vec<_> = (0..10)
        .map(|_| pages.allocate_root(layout(big, 8)).expect("root"))
        .collect();
    let mapped = pages.bytes_mapped();
    assert!(mapped >= 5 * MmapPages::SEGMENT_MAPPED);
    for r in roots {
        // SAFETY: a live root.
        unsafe { pages.free_root(r) };
        assert!(pages.bytes_cached() <= 2 * MmapPages::SEGMENT_MAPPED);
    }
    // One segment stays with the heap, two in the cache, the rest went back.
    assert_eq!(pages.bytes_cached(), 2 * MmapPages::SEGMENT_MAPPED);
    assert_eq!(pages.bytes_mapped(), 3 * MmapPages::SEGMENT_MAPPED);
    pages.trim_cache();
    assert_eq!((pages.bytes_mapped(), pages.bytes_cached()), (0, 0));
}

#[test]
fn every_alignment_up_to_max_align_and_no_further() {
    let pages = MmapPages::new();
    let root = pages.allocate_root(layout(8, 8)).expect("root");
    let mut align = 1;
    while align <= MmapPages::MAX_ALIGN {
        for size in [0, 1, 24, 1000, 70_000] {
            let l = layout(size, align);
            let r = pages.allocate_root(l).expect("aligned root");
            assert_eq!(r.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            fill(r, size, align + size);
            // SAFETY: `root` and `r` are live roots.
            let c = unsafe { pages.allocate_child(root, l) }.expect("aligned child");
            assert_eq!(c.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            fill(c, size, align + size + 1);
            // A child of the aligned root finds it.
            // SAFETY: as above.
            let d = unsafe { pages.allocate_child(r, layout(8, 8)) }.expect("child");
            // SAFETY: as above.
            unsafe {
                assert_eq!(pages.block_status(r), BlockStatus::Root);
                assert_eq!(pages.block_status(d), BlockStatus::Child);
            }
            check(r, size, align + size);
            check(c, size, align + size + 1);
            // SAFETY: `r` is a live root.
            unsafe { pages.free_root(r) };
        }
        align *= 2;
    }
    let too = layout(8, MmapPages::MAX_ALIGN * 2);
    assert!(pages.allocate_root(too).is_err());
    // SAFETY: `root` is a live root.
    unsafe {
        assert!(pages.allocate_child(root, too).is_err());
        pages.free_root(root);
    }
    assert!(pages.stats().is_empty());
}

#[test]
fn roots_made_on_one_thread_are_freed_on_another() {
    let pages = MmapPages::new();
    let n = iterations(20_000, 300);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(SendPtr, usize)>(64);
    std::thread::scope(|s| {
        let maker = s.spawn(|| {
            for i in 0..n {
                let size = 8 + i % 200;
                let r = pages.allocate_root(layout(size, 8)).expect("root");
                fill(r, size, i);
                if i % 7 == 0 {
                    // SAFETY: `r` is a live root, freed only by the receiver.
                    let c = unsafe { pages.allocate_child(r, layout(30, 8)) }.expect("child");
                    fill(c, 30, i + 1);
                }
                tx.send((SendPtr(r), i)).expect("send");
            }
            drop(tx);
        });
        let freer = s.spawn(|| {
            let mut got = 0;
            for (r, i) in rx {
                check(r.get(), 8 + i % 200, i);
                // SAFETY: a live root that this thread alone now uses.
                unsafe { pages.free_root(r.get()) };
                got += 1;
            }
            got
        });
        maker.join().expect("maker");
        assert_eq!(freer.join().expect("freer"), n);
    });
    // The maker's heap collects what the freer gave back when the next thread adopts
    // it, or when the cache is trimmed.
    all_back(&pages);
}

#[test]
fn heaps_of_exited_threads_are_adopted_with_their_memory() {
    let pages = MmapPages::new();
    let rounds = iterations(20, 3);
    let mut mapped = Vec::new();
    for _ in 0..rounds {
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let roots: Vec<_> = (0..1000)
                    .map(|_| pages.allocate_root(layout(100, 8)).expect("root"))
                    .collect();
                for r in roots {
                    // SAFETY: a live root.
                    unsafe { pages.free_root(r) };
                }
            });
            // `join` waits until the thread is gone, its thread-local guard run.
            h.join().expect("thread");
        });
        mapped.push((pages.bytes_mapped(), pages.bytes_metadata()));
    }
    // Every new thread adopted the heap of the one before: nothing grows.
    assert!(mapped.windows(2).all(|w| w[0] == w[1]), "{mapped:?}");
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
}

#[test]
fn huge_roots_move_with_their_pages_when_they_grow() {
    use core::alloc::GlobalAlloc;
    let pages = linked_alloc::Linked::new(MmapPages::new());
    let mut size = MmapPages::SEGMENT_SIZE;
    let l = layout(size, 16);
    // SAFETY: GlobalAlloc's calls with valid layouts; each pointer is used only while
    // it is live.
    unsafe {
        let mut p = pages.alloc(l);
        assert!(!p.is_null());
        fill(NonNull::new(p).unwrap(), size, 7);
        for _ in 0..3 {
            let grown = pages.realloc(p, layout(size, 16), size * 2);
            assert!(!grown.is_null());
            check(NonNull::new(grown).unwrap(), size, 7);
            fill(NonNull::new(grown).unwrap(), size * 2, 7);
            p = grown;
            size *= 2;
            assert_eq!(pages.stats().bytes_in_use, size);
            assert!(pages.backend().bytes_mapped() >= size);
            // The old mapping is gone (under Miri the mapping keeps its slack).
            assert!(cfg!(miri) || pages.backend().bytes_mapped() < size * 2);
        }
        let shrunk = pages.realloc(p, layout(size, 16), 1000);
        check(NonNull::new(shrunk).unwrap(), 1000, 7);
        pages.dealloc(shrunk, layout(1000, 16));
    }
    assert!(pages.stats().is_empty());
    pages.backend().trim_cache();
    assert_eq!(pages.backend().bytes_mapped(), 0);
}
