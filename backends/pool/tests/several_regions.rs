//! One pool over several regions (`add_region`): requests are served from a region
//! added when the first is full, roots and children link across regions and are freed
//! together, the figures count every region, and a region the pool cannot take is
//! refused without a byte written.

mod common;

use core::alloc::Layout;
use core::ptr::NonNull;

use common::{Block, Rng, assert_untouched, check, fill, iterations};
use linked_alloc::{BlockStatus, LinkedAllocator, MIN_ALIGN, Stats};
use linked_alloc_pool::{
    AddRegionError, MAX_REGIONS, PoolLock, PoolRegion, RegionTooSmall, SpinLock, StaticPool,
    TryLock, storage::Storage,
};

/// The pool's header bytes in front of every payload.
const HEADER: usize = 16;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// `static mut` bytes of a test's own, as a `&'static mut [u8]` (in firmware: a RAM
/// bank placed by the linker).
macro_rules! ram {
    ($bytes:expr) => {{
        static mut RAM: [u8; $bytes] = [0; $bytes];
        // SAFETY: RAM is this expansion's own static, and each expansion runs once per
        // test: this is the only reference ever made to it.
        unsafe { &mut *(&raw mut RAM) }
    }};
}

/// An address range `[start, end)`.
#[derive(Clone, Copy, Debug)]
struct Range(usize, usize);

impl Range {
    fn of_slice(s: &[u8]) -> Self {
        let start = s.as_ptr() as usize;
        Self(start, start + s.len())
    }

    fn of_value<T>(v: &T) -> Self {
        let start = core::ptr::from_ref(v) as usize;
        Self(start, start + size_of::<T>())
    }

    /// Whether the `len` bytes at `p` lie inside.
    fn holds(self, p: NonNull<u8>, len: usize) -> bool {
        let a = p.as_ptr() as usize;
        a >= self.0 && a + len <= self.1
    }
}

/// Which of `ranges` holds the `len` bytes at `p`; panics if none does.
#[track_caller]
fn region_of(ranges: &[Range], p: NonNull<u8>, len: usize) -> usize {
    ranges
        .iter()
        .position(|r| r.holds(p, len))
        .unwrap_or_else(|| panic!("{p:?} (+{len}) lies in no region of the pool"))
}

/// A root and its children (the root first), each pattern-filled.
#[derive(Debug)]
struct Tree {
    blocks: Vec<Block>,
}

impl Tree {
    fn root(&self) -> NonNull<u8> {
        self.blocks[0].ptr
    }

    fn check(&self) {
        for b in &self.blocks {
            check(b.ptr, b.size, b.seed);
        }
    }
}

/// The pool back to empty: no live block, one free block per region, every byte free.
#[track_caller]
fn assert_empty<S: Storage, L: PoolLock>(pool: &linked_alloc_pool::Pool<S, L>) {
    assert_eq!(pool.stats(), Stats::default());
    assert_eq!(pool.check_integrity(), Ok(pool.regions()));
    assert_eq!(pool.free_bytes(), pool.capacity());
}

#[test]
fn a_second_region_serves_when_the_first_is_full() {
    static POOL: StaticPool<4096> = StaticPool::new();
    let own = Range::of_value(&POOL);
    let first = POOL.capacity();
    assert_eq!((POOL.regions(), POOL.check_integrity()), (1, Ok(1)));

    let sram2 = ram!(8192);
    let second = Range::of_slice(sram2);
    POOL.add_region(sram2)
        .expect("8 KiB is plenty for one region");
    assert_eq!(POOL.regions(), 2);
    let both = POOL.capacity();
    // The second region's state and tables take a few hundred bytes of its 8 KiB.
    assert!(
        both > first + 7000 && both < first + 8192,
        "{first} + 8 KiB -> {both}"
    );
    assert_eq!(POOL.free_bytes(), both);
    assert_eq!(POOL.check_integrity(), Ok(2));

    // Roots of 100 bytes until neither region has room: the first region fills first.
    let ranges = [own, second];
    let mut roots = Vec::new();
    let mut served = [0usize; 2];
    while let Ok(p) = POOL.allocate_root(layout(100, 8)) {
        let r = region_of(&ranges, p, 100);
        assert!(
            r == 0 || served[0] > 0,
            "the second region served before the first"
        );
        if r == 0 {
            assert_eq!(served[1], 0, "the first region served after the second");
        }
        served[r] += 1;
        fill(p, 100, roots.len());
        roots.push(p);
    }
    let per_block = HEADER + 112;
    assert!(served[0] >= first / per_block - 1, "{served:?}");
    assert!(served[1] >= (both - first) / per_block - 1, "{served:?}");
    assert!(POOL.free_bytes() < 2 * per_block);
    assert!(POOL.peak_used() > both - 2 * per_block);
    assert_eq!(POOL.stats().roots, roots.len());

    for (seed, &p) in roots.iter().enumerate() {
        check(p, 100, seed);
    }
    // Every other root first, then the rest: the regions coalesce back to one block each.
    for &p in roots
        .iter()
        .step_by(2)
        .chain(roots.iter().skip(1).step_by(2))
    {
        // SAFETY: `p` is a live root of POOL, not used afterwards.
        unsafe { POOL.free_root(p) };
    }
    assert_empty(&POOL);
    assert_eq!(POOL.capacity(), both);
    // The largest free block: the whole second region, larger than the first.
    assert_eq!(POOL.largest_free_block(), both - first - HEADER);
}

#[test]
fn roots_with_children_in_every_region_are_freed_together() {
    static POOL: StaticPool<8192> = StaticPool::new();
    let own = Range::of_value(&POOL);
    let sram2 = ram!(6000);
    let second = Range::of_slice(sram2);
    POOL.add_region(sram2).unwrap();
    let sram3 = ram!(12_000);
    let third = Range::of_slice(sram3);
    POOL.add_region(sram3).unwrap();
    assert_eq!(POOL.regions(), 3);
    let ranges = [own, second, third];
    let capacity = POOL.capacity();

    let mut rng = Rng::new(7);
    let mut crossed = 0;
    let rounds = iterations(60, 3);
    for round in 0..rounds {
        let mut trees: Vec<Tree> = Vec::new();
        let mut seed = round * 10_000;
        // Trees until the pool is full: a root, then children of random sizes and
        // alignments linked to it, wherever they fit.
        'fill: loop {
            let size = rng.range(0, 300);
            let Ok(root) = POOL.allocate_root(layout(size, MIN_ALIGN)) else {
                break;
            };
            fill(root, size, seed);
            let mut tree = Tree {
                blocks: vec![Block {
                    ptr: root,
                    size,
                    seed,
                }],
            };
            seed += 1;
            for _ in 0..rng.range(0, 12) {
                let size = rng.range(0, 400);
                let align = 1 << rng.range(0, 8);
                let parent = tree.blocks[rng.range(0, tree.blocks.len() - 1)].ptr;
                // SAFETY: `parent` is a live block of POOL (its root is live).
                let Ok(child) = (unsafe { POOL.allocate_child(parent, layout(size, align)) })
                else {
                    trees.push(tree);
                    break 'fill;
                };
                assert_eq!(child.as_ptr() as usize % align.max(MIN_ALIGN), 0);
                fill(child, size, seed);
                tree.blocks.push(Block {
                    ptr: child,
                    size,
                    seed,
                });
                seed += 1;
            }
            trees.push(tree);
        }
        // Every region served, and some chains run across regions.
        let mut used = [false; 3];
        for tree in &trees {
            let regions: Vec<usize> = tree
                .blocks
                .iter()
                .map(|b| region_of(&ranges, b.ptr, b.size))
                .collect();
            for &r in &regions {
                used[r] = true;
            }
            crossed += usize::from(regions.iter().any(|&r| r != regions[0]));
        }
        assert_eq!(used, [true; 3], "round {round}");
        assert!(POOL.check_integrity().is_ok());
        let stats = POOL.stats();
        assert_eq!(stats.roots, trees.len());
        let blocks: usize = trees.iter().map(|t| t.blocks.len()).sum();
        assert_eq!(stats.roots + stats.children, blocks);
        let bytes: usize = trees.iter().flat_map(|t| &t.blocks).map(|b| b.size).sum();
        assert_eq!(stats.bytes_in_use, bytes);

        // Give back some children on their own (from any region, linked to a root
        // in any region), then grow or shrink some blocks in place.
        for tree in &mut trees {
            if tree.blocks.len() > 1 && rng.range(0, 2) == 0 {
                let i = rng.range(1, tree.blocks.len() - 1);
                let b = tree.blocks.remove(i);
                // SAFETY: `b` is a live child of the tree's root, not used afterwards.
                let reclaimed =
                    unsafe { POOL.reclaim_child(tree.root(), b.ptr, layout(b.size, 1)) };
                assert!(reclaimed);
            }
            let root = tree.root();
            let i = rng.range(0, tree.blocks.len() - 1);
            let b = &mut tree.blocks[i];
            let new_size = rng.range(0, 500);
            // SAFETY: `b` is a live block of the tree of `root`, of `b.size` bytes.
            let resized = unsafe { POOL.resize_in_place(root, b.ptr, layout(b.size, 1), new_size) };
            if resized {
                check(b.ptr, b.size.min(new_size), b.seed);
                b.size = new_size;
                fill(b.ptr, b.size, b.seed);
            }
        }
        assert!(POOL.check_integrity().is_ok());
        for tree in &trees {
            tree.check();
        }

        // Free the roots in a random order: each takes its chain, in every region.
        while !trees.is_empty() {
            let tree = trees.swap_remove(rng.range(0, trees.len() - 1));
            tree.check();
            // SAFETY: a live root of POOL, whose blocks are not used afterwards.
            unsafe { POOL.free_root(tree.root()) };
            for b in &tree.blocks {
                // SAFETY: any pointer may be asked about.
                let status = unsafe { POOL.block_status(b.ptr) };
                assert_eq!(status, BlockStatus::NotLive);
            }
        }
        assert_empty(&POOL);
        assert_eq!(POOL.capacity(), capacity);
    }
    assert!(crossed > 0, "no chain ran across two regions");
}

#[test]
fn a_region_added_at_run_time_serves_the_request_that_failed() {
    // The first region: a `PoolRegion` over handed-in memory, with the try-lock.
    let pool = PoolRegion::<TryLock>::try_new(ram!(2048)).unwrap();
    let own = Range(0, 0);
    let big = layout(1500, 8);
    let root = pool.allocate_root(big).expect("the first region holds one");
    fill(root, 1500, 1);
    assert!(pool.allocate_root(big).is_err(), "the first region is full");
    // SAFETY: `root` is a live root of `pool`.
    let refused = unsafe { pool.allocate_child(root, big) };
    assert!(refused.is_err());

    let sram2 = ram!(4096);
    let second = Range::of_slice(sram2);
    pool.add_region(sram2).unwrap();
    // The same requests now succeed, from the new region.
    // SAFETY: `root` is a live root of `pool`.
    let child = unsafe { pool.allocate_child(root, big) }.expect("the new region has room");
    assert!(second.holds(child, 1500));
    fill(child, 1500, 2);
    let other = pool
        .allocate_root(big)
        .expect("the new region has room for one more");
    assert_eq!(region_of(&[own, second], other, 1500), 1);
    fill(other, 1500, 3);
    assert_eq!(
        pool.stats(),
        Stats {
            roots: 2,
            children: 1,
            bytes_in_use: 4500
        }
    );
    check(root, 1500, 1);
    check(child, 1500, 2);
    check(other, 1500, 3);
    // SAFETY: `root` is a live root of `pool`; its child goes with it.
    unsafe { pool.free_root(root) };
    // SAFETY: the child went with its root: any pointer may be asked about.
    assert_eq!(unsafe { pool.block_status(child) }, BlockStatus::NotLive);
    check(other, 1500, 3);
    // SAFETY: `other` is a live root of `pool`.
    unsafe { pool.free_root(other) };
    assert_empty(&pool);
    assert_eq!(pool.regions(), 2);
}

#[test]
fn a_region_too_small_is_refused_and_left_unwritten() {
    const UNTOUCHED: u8 = 0x5A;
    static mut BUF: [u8; 1024] = [0; 1024];
    let buf = (&raw mut BUF).cast::<u8>();
    let step = if cfg!(miri) { 127 } else { 1 };
    let (mut refused, mut served) = (0, 0);
    for offset in [0, 3, 8] {
        for len in (0..=1024 - 8).step_by(step) {
            // SAFETY: `buf` points to BUF's 1024 bytes, used by this test alone (the
            // pool of the last round is gone).
            unsafe { buf.write_bytes(UNTOUCHED, 1024) };
            let pool = StaticPool::<512, SpinLock>::new();
            // The pool's own region, taken whole: what it serves next comes from the
            // region added, if any.
            let own = pool
                .allocate_root(layout(pool.largest_free_block(), 1))
                .unwrap();
            let (capacity, free) = (pool.capacity(), pool.free_bytes());
            let integrity = pool.check_integrity();
            let start = buf.wrapping_add(offset);
            // SAFETY: start..start + len lies in BUF, which nothing else uses while
            // `pool` lives (it is dropped at the end of this round).
            match unsafe { pool.add_region_raw(start, start.wrapping_add(len)) } {
                Err(e) => {
                    assert_eq!(e, AddRegionError::TooSmall(RegionTooSmall { len }));
                    // The pool is unchanged, and not a byte of the region was written.
                    assert_eq!(pool.regions(), 1);
                    assert_eq!((pool.capacity(), pool.free_bytes()), (capacity, free));
                    assert_eq!(pool.check_integrity(), integrity);
                    // SAFETY: BUF's 1024 bytes, which the pool did not take.
                    unsafe { assert_untouched(buf, 1024, 0..0, UNTOUCHED) };
                    refused += 1;
                }
                Ok(()) => {
                    assert_eq!(pool.regions(), 2);
                    let added = pool.capacity() - capacity;
                    assert!(added >= HEADER && added < len, "len {len}: {added}");
                    // The new region serves a block as large as it has, exactly inside
                    // its range.
                    assert_eq!(pool.free_bytes(), free + added);
                    let largest = pool.largest_free_block();
                    assert_eq!(largest, added - HEADER, "len {len}");
                    let p = pool.allocate_root(layout(largest, 1)).unwrap();
                    assert!(Range(start as usize, start as usize + len).holds(p, largest));
                    fill(p, largest, len);
                    check(p, largest, len);
                    // SAFETY: a live root of `pool`, not used afterwards.
                    unsafe { pool.free_root(p) };
                    served += 1;
                }
            }
            // SAFETY: a live root of `pool`, not used afterwards.
            unsafe { pool.free_root(own) };
            assert_empty(&pool);
            // Nothing outside the range was written.
            // SAFETY: BUF's 1024 bytes, which the pool (dropped) no longer uses.
            unsafe { assert_untouched(buf, 1024, offset..offset + len, UNTOUCHED) };
        }
    }
    assert!(
        refused > 0 && served > 0,
        "{refused} refused, {served} served"
    );

    // A range that ends before it starts, or a null start.
    let pool = StaticPool::<512>::new();
    let start = buf.wrapping_add(64);
    // SAFETY: both point into BUF, used by this test alone; nothing is written.
    let backwards = unsafe { pool.add_region_raw(start, start.wrapping_sub(8)) };
    assert_eq!(
        backwards,
        Err(AddRegionError::TooSmall(RegionTooSmall { len: 0 }))
    );
    // SAFETY: a null range is refused before any use.
    let null = unsafe { pool.add_region_raw(core::ptr::null_mut(), start) };
    assert!(matches!(null, Err(AddRegionError::TooSmall(_))), "{null:?}");
    assert_eq!(pool.regions(), 1);
}

#[test]
fn past_max_regions_and_overlaps_are_refused() {
    static POOL: StaticPool<1024> = StaticPool::new();
    static mut BANKS: [[u8; 1024]; MAX_REGIONS] = [[0; 1024]; MAX_REGIONS];
    let banks = (&raw mut BANKS).cast::<[u8; 1024]>();
    for i in 0..MAX_REGIONS - 1 {
        // SAFETY: bank `i` of BANKS, used by nothing else: the pool owns it from now on.
        let bank = unsafe { &mut *banks.add(i) };
        POOL.add_region(bank).unwrap();
    }
    assert_eq!(POOL.regions(), MAX_REGIONS);
    let capacity = POOL.capacity();
    // SAFETY: the last bank, used by nothing else.
    let last = unsafe { &mut *banks.add(MAX_REGIONS - 1) };
    assert_eq!(POOL.add_region(last), Err(AddRegionError::TooMany));
    assert_eq!((POOL.regions(), POOL.capacity()), (MAX_REGIONS, capacity));

    // A broken precondition of the raw call that the pool catches: a range over one of
    // its regions (an added one, or its own bytes) is refused, and nothing is written.
    let pool = StaticPool::<1024>::new();
    let sram2 = ram!(2048);
    let start = sram2.as_mut_ptr();
    pool.add_region(sram2).unwrap();
    let before = pool.check_integrity();
    // SAFETY: not met on purpose (the range is the pool's); the pool refuses it before
    // writing anything.
    let inside = unsafe { pool.add_region_raw(start.wrapping_add(512), start.wrapping_add(1536)) };
    assert_eq!(inside, Err(AddRegionError::Overlaps));
    let own = core::ptr::from_ref(&pool).cast::<u8>().cast_mut();
    // SAFETY: as above; nothing is written through `own`.
    let over_own = unsafe { pool.add_region_raw(own, own.wrapping_add(4096)) };
    assert_eq!(over_own, Err(AddRegionError::Overlaps));
    assert_eq!((pool.regions(), pool.check_integrity()), (2, before));
    assert_eq!(before, Ok(2));
    assert!(format!("{}", AddRegionError::TooMany).contains("8 regions"));
}

#[test]
fn pointers_into_an_added_region_are_checked_exactly() {
    let pool = StaticPool::<1024>::new();
    let sram2 = ram!(4096);
    let second = Range::of_slice(sram2);
    let start = sram2.as_mut_ptr();
    pool.add_region(sram2).unwrap();
    // Roots until one comes from the second region (the first is full then).
    let mut own = Vec::new();
    let root = loop {
        let p = pool.allocate_root(layout(64, 8)).unwrap();
        if second.holds(p, 64) {
            break p;
        }
        own.push(p);
    };
    assert!(!own.is_empty());
    // SAFETY: `root` is a live root of `pool`.
    let child = unsafe { pool.allocate_child(root, layout(32, 8)) }.unwrap();
    // SAFETY: any pointer may be asked about.
    unsafe {
        assert_eq!(pool.block_status(root), BlockStatus::Root);
        assert_eq!(pool.block_status(child), BlockStatus::Child);
        // The region's state and tables, interior pointers, past its end.
        for p in [start, start.wrapping_add(8), start.wrapping_add(64)]
            .into_iter()
            .chain([root.as_ptr().wrapping_add(8), start.wrapping_add(4096)])
        {
            let p = NonNull::new(p).unwrap();
            assert_eq!(pool.block_status(p), BlockStatus::NotLive, "{p:?}");
        }
    }
    let stats = pool.stats();
    if !cfg!(debug_assertions) {
        // A release build ignores a child given to `free_root`.
        // SAFETY: deliberately wrong; the pool checks it exactly.
        unsafe { pool.free_root(child) };
        assert_eq!(pool.stats(), stats);
    }
    for p in own.into_iter().chain([root]) {
        // SAFETY: live roots of `pool`.
        unsafe { pool.free_root(p) };
    }
    assert_empty(&pool);
}

#[test]
fn check_integrity_finds_damage_in_an_added_region_and_in_a_chain_across_regions() {
    let pool = StaticPool::<1024>::new();
    let sram2 = ram!(4096);
    let second = Range::of_slice(sram2);
    pool.add_region(sram2).unwrap();
    let root = pool.allocate_root(layout(64, 8)).unwrap();
    assert!(!second.holds(root, 64));
    // SAFETY: `root` is a live root of `pool`.
    let child = unsafe { pool.allocate_child(root, layout(2000, 8)) }.unwrap();
    assert!(second.holds(child, 2000), "too large for the first region");
    assert_eq!(pool.check_integrity(), Ok(2));

    // The words of a header in front of its payload: size and flags, next, previous.
    let word = |p: NonNull<u8>, i: usize| {
        p.as_ptr()
            .wrapping_sub(HEADER)
            .cast::<u32>()
            .wrapping_add(i)
    };
    // The child's link back to its root, in the other region: damaged, then mended.
    let prev = word(child, 2);
    // SAFETY: the header of a live block of `pool`, which nothing else touches now
    // (the kind of overrun that `check_integrity` is for).
    let saved = unsafe { prev.read() };
    // SAFETY: as above.
    unsafe { prev.write(saved ^ 0x100) };
    assert!(pool.check_integrity().is_err());
    // SAFETY: as above.
    unsafe { prev.write(saved) };
    assert_eq!(pool.check_integrity(), Ok(2));

    // An overrun past the child's end (2000 bytes, a whole number of granules), over
    // the size of the free block after it.
    let next_header = child.as_ptr().wrapping_add(2000).cast::<u32>();
    // SAFETY: as above: the header of the free block after the child, in `sram2`.
    let saved = unsafe { next_header.read() };
    // SAFETY: as above.
    unsafe { next_header.write(saved + 64) };
    assert!(pool.check_integrity().is_err());
    // SAFETY: as above.
    unsafe { next_header.write(saved) };
    assert_eq!(pool.check_integrity(), Ok(2));

    // SAFETY: `root` is a live root of `pool`; its child goes with it.
    unsafe { pool.free_root(root) };
    assert_empty(&pool);
}
