//! Free-space management of the pool: exhaustion and recovery, coalescing, reuse,
//! fragmentation figures, alignment, and the in-place hooks.

mod common;

/// A pool of `$bytes` bytes of the test's own, in a `static` of the test (never moved,
/// and too big for the stack in a debug build).
macro_rules! own_pool {
    ($bytes:expr) => {{
        static POOL: StaticPool<{ $bytes }, Lock> = StaticPool::new();
        &POOL
    }};
}

/// The tests below, once per lock policy (`Lock` in each module).
macro_rules! per_lock {
    ($($policy:ident: $lock:ty;)*) => {$(
        mod $policy {
            #![allow(unused_imports)]
            type Lock = $lock;
use core::alloc::Layout;
use core::ptr::NonNull;

use crate::common::{Block, Rng, check, fill, iterations};
use linked_alloc::{AllocError, Linked, LinkedAllocator, MIN_ALIGN, Stats};
use linked_alloc_pool::StaticPool;

/// The pool's header bytes in front of every payload.
const HEADER: usize = 16;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Frees `root`, the last live root of `pool`, and checks that the pool is one free
/// block again.
///
/// # Safety
/// `root` is a live root of `pool`, and its blocks are not used afterwards.
#[track_caller]
unsafe fn free_last_root<const N: usize>(pool: &StaticPool<N, Lock>, root: NonNull<u8>) {
    // SAFETY: the caller's precondition.
    unsafe { pool.free_root(root) };
    assert_eq!(pool.check_integrity(), Ok(1));
}

/// A root and its children, pattern-filled.
#[derive(Debug)]
struct Tree {
    root: NonNull<u8>,
    blocks: Vec<Block>,
}

impl Tree {
    fn check(&self) {
        for b in &self.blocks {
            check(b.ptr, b.size, b.seed);
            assert_eq!(b.ptr.as_ptr() as usize % MIN_ALIGN, 0);
        }
    }

    fn bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.size).sum()
    }
}

/// Makes a root and up to a few children of random sizes and alignments; stops at the
/// first `AllocError` (a root that failed leaves nothing behind).
fn random_tree(
    pool: &impl LinkedAllocator,
    rng: &mut Rng,
    seed: usize,
    max: usize,
) -> Result<Tree, (Option<Tree>, AllocError)> {
    let align = 1 << rng.range(0, 6);
    let size = rng.range(0, max);
    let root = pool
        .allocate_root(layout(size, align))
        .map_err(|e| (None, e))?;
    fill(root, size, seed);
    let mut tree = Tree {
        root,
        blocks: vec![Block {
            ptr: root,
            size,
            seed,
        }],
    };
    for c in 0..rng.range(0, 4) {
        let parent = tree.blocks[rng.range(0, tree.blocks.len() - 1)].ptr;
        let size = rng.range(0, max / 2);
        let l = layout(size, 1 << rng.range(0, 7));
        // SAFETY: `parent` is a live block of `tree`'s root in `pool`.
        match unsafe { pool.allocate_child(parent, l) } {
            Ok(p) => {
                assert_eq!(p.as_ptr() as usize % l.align().max(MIN_ALIGN), 0);
                let seed = seed * 8 + c + 1;
                fill(p, size, seed);
                tree.blocks.push(Block { ptr: p, size, seed });
            }
            Err(e) => return Err((Some(tree), e)),
        }
    }
    Ok(tree)
}

/// Frees `trees` in a random order, checking every block first.
fn free_all(pool: &impl LinkedAllocator, rng: &mut Rng, mut trees: Vec<Tree>) {
    while !trees.is_empty() {
        let t = trees.swap_remove(rng.range(0, trees.len() - 1));
        t.check();
        // SAFETY: `t.root` is a live root of `pool`; its blocks are not used again.
        unsafe { pool.free_root(t.root) };
    }
}

/// Fill the pool with random trees until it is exhausted, then with small blocks until
/// even a zero-size one fails: then no free byte is left. Free everything in a random
/// order: the whole capacity is one free block again. Several rounds.
#[test]
fn fill_free_fill_again() {
    const N: usize = if cfg!(miri) { 6 * 1024 } else { 256 * 1024 };
    let pool = own_pool!(N);
    let capacity = pool.capacity();
    let mut rng = Rng::new(42);
    for round in 0..iterations(12, 2) {
        let mut trees = Vec::new();
        let mut seed = round * 1_000_000;
        let max = [64, 700, 3000][round % 3];
        loop {
            seed += 1;
            match random_tree(pool, &mut rng, seed, max) {
                Ok(t) => trees.push(t),
                Err((t, AllocError)) => {
                    trees.extend(t);
                    break;
                }
            }
        }
        let first_failure_use = pool.stats().bytes_in_use;
        // Top up with 16-byte roots, then zero-size ones, until each fails.
        for size in [16, 0] {
            while let Ok(p) = pool.allocate_root(layout(size, 1)) {
                seed += 1;
                fill(p, size, seed);
                trees.push(Tree {
                    root: p,
                    blocks: vec![Block { ptr: p, size, seed }],
                });
            }
        }
        assert_eq!(pool.free_bytes(), 0, "round {round}: free bytes left over");
        assert_eq!(pool.largest_free_block(), 0);
        let live: usize = trees.iter().map(Tree::bytes).sum();
        assert_eq!(pool.stats().bytes_in_use, live);
        assert!(pool.check_integrity().is_ok());
        // The pool stays usable while full: a failed call changed nothing.
        assert!(pool.allocate_root(layout(0, 1)).is_err());
        assert_eq!(pool.stats().bytes_in_use, live);
        println!(
            "round {round}: {} roots; {first_failure_use} bytes in use at the first failure, \
             {live} when full; capacity {capacity}",
            trees.len()
        );
        free_all(pool, &mut rng, trees);
        assert_eq!(pool.stats(), Stats::default());
        assert_eq!(pool.free_bytes(), capacity);
        assert_eq!(
            pool.check_integrity(),
            Ok(1),
            "round {round}: not one free block"
        );
        assert_eq!(pool.largest_free_block(), capacity - HEADER);
    }
    // Everything, in one block, once more.
    let all = pool.allocate_root(layout(capacity - HEADER, 8)).unwrap();
    fill(all, capacity - HEADER, 1);
    check(all, capacity - HEADER, 1);
    // SAFETY: `all` is the last live root of POOL.
    unsafe { free_last_root(pool, all) };
}

/// Neighbours merge in every order of freeing: three adjacent roots between two kept
/// ones, freed in each of the 6 orders, always end as one free block between them.
#[test]
fn adjacent_free_blocks_coalesce() {
    let pool = own_pool!(8192);
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let before = pool.allocate_root(layout(48, 8)).unwrap();
        let mid: Vec<_> = (0..3)
            .map(|_| pool.allocate_root(layout(48, 8)).unwrap())
            .collect();
        let after = pool.allocate_root(layout(48, 8)).unwrap();
        // The tail of the heap is one free block.
        assert_eq!(pool.check_integrity(), Ok(1));
        for (step, &i) in order.iter().enumerate() {
            // SAFETY: `mid[i]` is a live root, freed once.
            unsafe { pool.free_root(mid[i]) };
            // Free blocks: the tail, plus one for the freed middle ones, plus one more
            // when the first two freed are not neighbours (0 and 2).
            let want = if step == 1 && order[0].abs_diff(i) == 2 {
                3
            } else {
                2
            };
            assert_eq!(
                pool.check_integrity(),
                Ok(want),
                "order {order:?}, step {step}"
            );
        }
        // The three merged: one block of 3 × (48 + 16) bytes between the kept ones.
        assert!(pool.largest_free_block() >= 3 * (48 + HEADER) - HEADER);
        let merged = pool
            .allocate_root(layout(3 * (48 + HEADER) - HEADER, 8))
            .unwrap();
        assert!(
            merged > before && merged < after,
            "the merged block was not reused"
        );
        // SAFETY: all three are live roots.
        unsafe {
            pool.free_root(merged);
            pool.free_root(before);
            pool.free_root(after);
        }
        assert_eq!(pool.check_integrity(), Ok(1));
        assert!(pool.stats().is_empty());
    }
}

/// A freed root's space is used again: a long random workload in a small pool, with
/// many times its capacity allocated in total, never fails while at most a quarter of
/// it is live, and stats stay exact.
#[test]
fn freed_space_is_reused() {
    let pool = own_pool!(64 * 1024);
    let capacity = pool.capacity();
    let mut rng = Rng::new(7);
    let mut live: Vec<Tree> = Vec::new();
    let mut total = 0usize;
    let mut bytes = 0usize;
    for i in 0..iterations(100_000, 200) {
        if bytes > capacity / 4 || (!live.is_empty() && rng.next() % 2 == 0) {
            let t = live.swap_remove(rng.range(0, live.len() - 1));
            t.check();
            bytes -= t.bytes();
            // SAFETY: `t.root` is a live root of POOL.
            unsafe { pool.free_root(t.root) };
        } else {
            let t = random_tree(pool, &mut rng, i, 512)
                .unwrap_or_else(|_| panic!("allocation {i} failed with {bytes} bytes live"));
            bytes += t.bytes();
            total += t.bytes();
            live.push(t);
        }
        assert_eq!(pool.stats().bytes_in_use, bytes);
        if i % 1000 == 0 {
            assert!(pool.check_integrity().is_ok());
        }
    }
    if !cfg!(miri) {
        assert!(total > 20 * capacity, "the workload did not cycle the pool");
    }
    free_all(pool, &mut rng, live);
    assert_eq!(pool.check_integrity(), Ok(1));
    assert_eq!(pool.free_bytes(), capacity);
}

/// The fragmentation figures after a random workload: free bytes, the largest free
/// block, and the number of free blocks. Printed (run with `--nocapture`); the checks
/// are that the figures are consistent and that all is one block after the frees.
#[test]
fn fragmentation_figures() {
    static POOL: StaticPool<{ 64 * 1024 }, Lock> = StaticPool::new();
    let heap = Linked::new(&POOL);
    let pool = heap.backend();
    let capacity = pool.capacity();
    let mut rng = Rng::new(2024);
    let mut live: Vec<NonNull<u8>> = Vec::new();
    for _ in 0..iterations(50_000, 300) {
        if live.len() >= 200 || (!live.is_empty() && rng.next() % 3 == 0) {
            let p = live.swap_remove(rng.range(0, live.len() - 1));
            // SAFETY: `p` is a live root of `heap`.
            unsafe { heap.free_buffer(p) };
        } else if let Ok(p) = heap.allocate_buffer(rng.range(8, 512)) {
            live.push(p);
        }
    }
    let (free, largest, blocks) = (
        pool.free_bytes(),
        pool.largest_free_block(),
        pool.check_integrity().unwrap(),
    );
    let in_use = heap.stats().bytes_in_use;
    println!(
        "after the workload: {} roots, {in_use} bytes in use, {free} free in {blocks} blocks, \
         largest free block {largest} ({:.1}% of free), capacity {capacity}",
        live.len(),
        100.0 * largest as f64 / free as f64
    );
    assert!(largest + HEADER <= free);
    assert!(in_use + free <= capacity);
    // The largest free block can be had in one piece.
    let big = heap.allocate_buffer(largest).unwrap();
    // SAFETY: `big` is a live root of `heap`.
    unsafe { heap.free_buffer(big) };
    for p in live {
        // SAFETY: each is a live root of `heap`, freed once.
        unsafe { heap.free_buffer(p) };
    }
    assert_eq!(pool.check_integrity(), Ok(1));
    assert_eq!(pool.largest_free_block(), capacity - HEADER);
}

/// Every power of two up to 4096 (and beyond, while the pool has room) is honoured for
/// roots and children, with size 0 too; a larger one than the pool can hold is
/// `AllocError`, never misaligned, and the pool stays whole.
#[test]
fn alignment_up_to_a_page_and_beyond() {
    let pool = own_pool!(128 * 1024);
    // Under Miri, two of the sizes (each round walks the whole pool to check it).
    let sizes: &[usize] = if cfg!(miri) { &[1, 100] } else { &[0, 1, 24, 100] };
    for shift in 0..=15 {
        let align = 1usize << shift;
        for &size in sizes {
            let l = layout(size, align);
            let root = pool.allocate_root(l).unwrap();
            assert_eq!(root.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            // SAFETY: `root` is a live root of POOL.
            let child = unsafe { pool.allocate_child(root, l) }.unwrap();
            assert_eq!(child.as_ptr() as usize % align.max(MIN_ALIGN), 0);
            assert_ne!(root, child);
            fill(root, size, 1);
            fill(child, size, 2);
            check(root, size, 1);
            check(child, size, 2);
            // SAFETY: `root` is a live root of POOL.
            unsafe { pool.free_root(root) };
            // The gaps before aligned blocks went back too: one block again.
            assert_eq!(pool.check_integrity(), Ok(1), "align {align}");
        }
    }
    // Larger than the pool: served only if an aligned address with room happens to lie
    // inside it, never misaligned; past the pool's range, always refused.
    for shift in [17, 20] {
        if let Ok(p) = pool.allocate_root(layout(8, 1 << shift)) {
            assert_eq!(p.as_ptr() as usize % (1 << shift), 0);
            // SAFETY: `p` is a live root of POOL.
            unsafe { pool.free_root(p) };
        }
    }
    if let Some(align) = 1usize.checked_shl(40) {
        assert!(pool.allocate_root(layout(8, align)).is_err());
    }
    assert!(pool.stats().is_empty());
    assert_eq!(pool.check_integrity(), Ok(1));
}

/// Sizes whose total would pass the pool's range or `isize::MAX` are `AllocError`.
#[test]
fn huge_sizes_fail_cleanly() {
    let pool = own_pool!(4096);
    let root = pool.allocate_root(layout(10, 8)).unwrap();
    for size in [
        pool.capacity(),
        (u32::MAX as usize).min(isize::MAX as usize),
        isize::MAX as usize - 4095,
        isize::MAX as usize,
    ] {
        assert!(pool.allocate_root(layout(size, 1)).is_err());
        // SAFETY: `root` is a live root of POOL.
        assert!(unsafe { pool.allocate_child(root, layout(size, 1)) }.is_err());
        // SAFETY: `root` is a live root, of 10 bytes; the call must refuse.
        assert!(!unsafe { pool.resize_in_place(root, root, layout(10, 8), size) });
    }
    assert_eq!(pool.stats().bytes_in_use, 10);
    // SAFETY: `root` is the last live root of POOL.
    unsafe { free_last_root(pool, root) };
}

/// `resize_in_place` shrinks always and grows into a free neighbour; `reclaim_child`
/// gives a child back at once, from anywhere in its chain. Stats stay exact.
#[test]
fn resize_and_reclaim_in_place() {
    let pool = own_pool!(8192);
    let root = pool.allocate_root(layout(32, 8)).unwrap();
    // SAFETY: `root` is a live root; `a`, `b`, `c` are live children of it.
    unsafe {
        let a = pool.allocate_child(root, layout(100, 8)).unwrap();
        let b = pool.allocate_child(a, layout(200, 8)).unwrap();
        let c = pool.allocate_child(root, layout(50, 8)).unwrap();
        fill(a, 100, 1);
        fill(b, 200, 2);
        fill(c, 50, 3);
        assert_eq!(pool.stats().bytes_in_use, 32 + 100 + 200 + 50);
        // `c` is the last block: it can grow into the rest of the heap.
        assert!(pool.resize_in_place(root, c, layout(50, 8), 3000));
        check(c, 50, 3);
        fill(c, 3000, 3);
        assert_eq!(pool.stats().bytes_in_use, 32 + 100 + 200 + 3000);
        // `a` is followed by `b`: it cannot grow, but it can shrink.
        assert!(!pool.resize_in_place(root, a, layout(100, 8), 101 + 16));
        assert!(pool.resize_in_place(root, a, layout(100, 8), 10));
        check(a, 10, 1);
        // Now the freed tail of `a` lets it grow back a little.
        assert!(pool.resize_in_place(root, a, layout(10, 8), 90));
        check(a, 10, 1);
        fill(a, 90, 1);
        assert_eq!(pool.stats().bytes_in_use, 32 + 90 + 200 + 3000);
        assert!(pool.check_integrity().is_ok());
        // Reclaim the middle of the chain, then the rest goes with the root.
        assert!(pool.reclaim_child(root, b, layout(200, 8)));
        assert_eq!(pool.stats().children, 2);
        assert_eq!(pool.stats().bytes_in_use, 32 + 90 + 3000);
        check(a, 90, 1);
        check(c, 3000, 3);
        assert!(pool.check_integrity().is_ok());
        pool.free_root(root);
    }
    assert!(pool.stats().is_empty());
    assert_eq!(pool.check_integrity(), Ok(1));
}

/// A root with many children is freed by one call, with constant stack, and the space
/// coalesces back into one block.
#[test]
fn free_root_with_many_children_coalesces() {
    let pool = own_pool!(1 << 20);
    let root = pool.allocate_root(layout(8, 8)).unwrap();
    let n = iterations(20_000, 200);
    let mut parent = root;
    for i in 0..n {
        // SAFETY: `parent` is a live block of `root`.
        let c = unsafe { pool.allocate_child(parent, layout(i % 24, 8)) }.unwrap();
        if i % 3 == 0 {
            parent = c;
        }
    }
    assert_eq!(pool.stats().children, n);
    // SAFETY: `root` is a live root of POOL.
    unsafe { pool.free_root(root) };
    assert!(pool.stats().is_empty());
    assert_eq!(pool.check_integrity(), Ok(1));
}

/// Moving an unused pool keeps it working: its state holds offsets, not addresses.
#[test]
fn a_moved_pool_stays_consistent() {
    let pool = StaticPool::<4096, Lock>::new();
    let p = pool.allocate_root(layout(100, 8)).unwrap();
    // SAFETY: `p` is a live root of `pool`.
    unsafe { pool.free_root(p) };
    let moved = Box::new(pool);
    assert_eq!(moved.check_integrity(), Ok(1));
    let q = moved.allocate_root(layout(100, 64)).unwrap();
    assert_eq!(q.as_ptr() as usize % 64, 0);
    let q_addr = q.as_ptr() as usize;
    let base = &*moved as *const StaticPool<4096, Lock> as usize;
    assert!(q_addr > base && q_addr < base + size_of::<StaticPool<4096, Lock>>());
    // SAFETY: `q` is a live root of `moved`.
    unsafe { moved.free_root(q) };
    assert_eq!(moved.check_integrity(), Ok(1));
}


            /// The high-water mark is exactly the largest `capacity - free_bytes` seen
            /// after any call, and stays when the blocks go.
            #[test]
            fn peak_used_is_the_high_water_mark() {
                let pool = own_pool!(16 * 1024);
                let capacity = pool.capacity();
                assert_eq!(pool.peak_used(), 0);
                let mut rng = Rng::new(77);
                let mut seen = 0;
                for _ in 0..iterations(40, 5) {
                    let mut roots = Vec::new();
                    for _ in 0..rng.range(1, 12) {
                        let Ok(r) = pool.allocate_root(layout(rng.range(1, 900), 8)) else {
                            break;
                        };
                        roots.push(r);
                        seen = seen.max(capacity - pool.free_bytes());
                        assert_eq!(pool.peak_used(), seen);
                    }
                    for r in roots {
                        // SAFETY: `r` is a live root of the pool, not used afterwards.
                        unsafe { pool.free_root(r) };
                    }
                    assert_eq!(pool.peak_used(), seen, "the peak fell with the frees");
                }
                assert!(seen > 0);
                assert_eq!(pool.free_bytes(), capacity);
            }
        }
    )*};
}

per_lock! {
    spin: linked_alloc_pool::SpinLock;
    try_lock: linked_alloc_pool::TryLock;
    critical_section: linked_alloc_pool::CriticalSectionLock;
}
