//! Pointers that are not live roots of the pool, given to `free_root` (and friends):
//! outside the region, interior, a child, a second free, misaligned. The pool detects
//! each exactly: a debug build panics with a clear message, a release build ignores the
//! call; either way the pool is left intact. `block_status` takes any pointer.

mod common;

/// One test per kind of bad pointer, each with a pool of its own (in `debug_panics`).
/// One test per kind, each with a pool of its own.
macro_rules! panics {
    ($($test:ident: $name:literal => $message:literal;)*) => {$(
        #[test]
        #[should_panic(expected = $message)]
        fn $test() {
            static POOL: StaticPool<8192, Lock> = StaticPool::new();
            free_bad(&POOL, $name);
        }
    )*};
}

/// The tests below, once per lock policy (`Lock` in each module).
macro_rules! per_lock {
    ($($policy:ident: $lock:ty;)*) => {$(
        mod $policy {
            #![allow(unused_imports)]
            type Lock = $lock;
use core::alloc::Layout;
use core::ptr::NonNull;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::common::{check, fill};
use linked_alloc::{BlockStatus, LinkedAllocator, Stats};
use linked_alloc_pool::{PoolRegion, StaticPool};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// A pool with one live root (64 bytes) and one live child (32 bytes), both filled.
struct Scene {
    pool: &'static StaticPool<8192, Lock>,
    root: NonNull<u8>,
    child: NonNull<u8>,
    /// A root that was freed (its space is free now).
    freed: NonNull<u8>,
    /// Bytes that are not the pool's.
    outside: [u8; 64],
}

impl Scene {
    fn new(pool: &'static StaticPool<8192, Lock>) -> Self {
        let freed = pool.allocate_root(layout(48, 16)).unwrap();
        let root = pool.allocate_root(layout(64, 16)).unwrap();
        // SAFETY: `root` is a live root of `pool`; `freed` too, freed once here.
        let child = unsafe { pool.allocate_child(root, layout(32, 16)) }.unwrap();
        // SAFETY: `freed` is a live root; it is only used as a stale pointer after this.
        unsafe { pool.free_root(freed) };
        fill(root, 64, 1);
        fill(child, 32, 2);
        Self {
            pool,
            root,
            child,
            freed,
            outside: [0; 64],
        }
    }

    /// The pointers that are not live roots, by name.
    fn bad_pointers(&mut self) -> Vec<(&'static str, NonNull<u8>)> {
        let at =
            |p: NonNull<u8>, delta: isize| NonNull::new(p.as_ptr().wrapping_offset(delta)).unwrap();
        let pool_end = (self.pool as *const StaticPool<8192, Lock>).wrapping_add(1) as usize;
        let past_end = (pool_end - self.root.as_ptr() as usize + 64) as isize;
        vec![
            ("outside", NonNull::from(&mut self.outside[16])),
            ("dangling", NonNull::dangling()),
            ("interior", at(self.root, 16)),
            ("misaligned", at(self.root, 1)),
            ("child", self.child),
            ("freed", self.freed),
            ("header", at(self.root, -16)),
            ("past the end", at(self.root, past_end)),
        ]
    }

    /// Checks that the pool is exactly as the scene made it, then frees the root.
    #[track_caller]
    fn check_intact_and_finish(&self) {
        assert_eq!(
            self.pool.stats(),
            Stats {
                roots: 1,
                children: 1,
                bytes_in_use: 96
            }
        );
        assert!(self.pool.check_integrity().is_ok());
        check(self.root, 64, 1);
        check(self.child, 32, 2);
        // SAFETY: `root` is a live root of the pool.
        unsafe { self.pool.free_root(self.root) };
        assert!(self.pool.stats().is_empty());
        assert_eq!(self.pool.check_integrity(), Ok(1));
    }
}

/// Every bad pointer given to `free_root`: a debug build panics, a release build
/// ignores it, and the pool is intact afterwards either way.
#[test]
fn free_root_of_a_bad_pointer_leaves_the_pool_intact() {
    static POOL: StaticPool<8192, Lock> = StaticPool::new();
    let mut scene = Scene::new(&POOL);
    for (name, bad) in scene.bad_pointers() {
        // SAFETY: deliberately breaks `free_root`'s precondition: the pool checks any
        // pointer exactly against its live map before it touches anything.
        let result = catch_unwind(AssertUnwindSafe(|| unsafe { POOL.free_root(bad) }));
        assert_eq!(
            result.is_err(),
            cfg!(debug_assertions),
            "{name}: a debug build panics, a release build returns"
        );
        // SAFETY: `block_status` of the pool accepts any pointer.
        let status = unsafe { POOL.block_status(bad) };
        assert_eq!(
            status,
            if name == "child" {
                BlockStatus::Child
            } else {
                BlockStatus::NotLive
            },
            "{name}"
        );
        assert_eq!(POOL.stats().roots, 1, "{name}");
        assert!(POOL.check_integrity().is_ok(), "{name}");
    }
    // Bad parents for children are refused too (AllocError in a release build).
    for (name, bad) in scene.bad_pointers() {
        if name == "child" {
            continue;
        }
        // SAFETY: as above: the pool checks the parent exactly.
        let result = catch_unwind(AssertUnwindSafe(|| unsafe {
            POOL.allocate_child(bad, layout(8, 8))
        }));
        assert_eq!(result.is_err(), cfg!(debug_assertions), "{name}");
        if let Ok(r) = result {
            assert!(r.is_err(), "{name}: a child of a bad parent was made");
        }
    }
    scene.check_intact_and_finish();
}

/// `block_status` tells roots, children and anything else apart, for any pointer.
#[test]
fn block_status_of_any_pointer() {
    static POOL: StaticPool<8192, Lock> = StaticPool::new();
    let mut scene = Scene::new(&POOL);
    // SAFETY: `block_status` of the pool accepts any pointer.
    unsafe {
        assert_eq!(POOL.block_status(scene.root), BlockStatus::Root);
        assert_eq!(POOL.block_status(scene.child), BlockStatus::Child);
        for (name, bad) in scene.bad_pointers() {
            if name != "child" {
                assert_eq!(POOL.block_status(bad), BlockStatus::NotLive, "{name}");
            }
        }
    }
    scene.check_intact_and_finish();
    // SAFETY: as above.
    unsafe { assert_eq!(POOL.block_status(scene.root), BlockStatus::NotLive) };
}

/// A second free of the same root (the double free of MAPIFreeBuffer).
#[test]
fn double_free_is_refused() {
    static POOL: StaticPool<8192, Lock> = StaticPool::new();
    let root = POOL.allocate_root(layout(100, 8)).unwrap();
    let keep = POOL.allocate_root(layout(100, 8)).unwrap();
    fill(keep, 100, 9);
    // SAFETY: `root` is a live root, freed once here.
    unsafe { POOL.free_root(root) };
    // SAFETY: deliberately a second free: the pool sees the root is no longer live.
    let second = catch_unwind(|| unsafe { POOL.free_root(root) });
    assert_eq!(second.is_err(), cfg!(debug_assertions));
    assert_eq!(POOL.stats().roots, 1);
    check(keep, 100, 9);
    assert!(POOL.check_integrity().is_ok());
    // SAFETY: `keep` is a live root.
    unsafe { POOL.free_root(keep) };
    assert_eq!(POOL.check_integrity(), Ok(1));
}

/// `reclaim_child` and `resize_in_place` refuse what is not theirs.
#[test]
fn hooks_refuse_bad_pointers() {
    static POOL: StaticPool<8192, Lock> = StaticPool::new();
    let scene = Scene::new(&POOL);
    // SAFETY: deliberately a root given to `reclaim_child` (as the child of itself):
    // checked exactly.
    let r = catch_unwind(|| unsafe { POOL.reclaim_child(scene.root, scene.root, layout(64, 16)) });
    assert_eq!(r.is_err(), cfg!(debug_assertions));
    assert!(!r.unwrap_or(false), "a root was reclaimed as a child");
    // SAFETY: deliberately a freed root given to `resize_in_place` (as its own root):
    // checked exactly.
    let r = catch_unwind(|| unsafe {
        POOL.resize_in_place(scene.freed, scene.freed, layout(48, 16), 8)
    });
    assert_eq!(r.is_err(), cfg!(debug_assertions));
    assert!(!r.unwrap_or(false), "a freed block was resized");
    scene.check_intact_and_finish();
}

/// The same checks hold for a pool over a region handed in, at an odd address.
#[test]
fn region_pool_checks_its_range() {
    static mut BYTES: [u8; 4097] = [0; 4097];
    // SAFETY: BYTES is used by this test alone; the pool owns it from now on.
    let region = unsafe { core::slice::from_raw_parts_mut((&raw mut BYTES).cast::<u8>(), 4097) };
    // An odd start: the pool aligns it.
    let pool = PoolRegion::<Lock>::with_lock(region.split_at_mut(1).1);
    let root = pool.allocate_root(layout(10, 8)).unwrap();
    assert_eq!(root.as_ptr() as usize % linked_alloc::MIN_ALIGN, 0);
    let mut other = [0u64; 4];
    let outside = NonNull::from(&mut other[2]).cast::<u8>();
    // SAFETY: deliberately a pointer outside the region: checked exactly.
    let r = catch_unwind(AssertUnwindSafe(|| unsafe { pool.free_root(outside) }));
    assert_eq!(r.is_err(), cfg!(debug_assertions));
    // SAFETY: `block_status` of the pool accepts any pointer.
    unsafe {
        assert_eq!(pool.block_status(outside), BlockStatus::NotLive);
        assert_eq!(pool.block_status(root), BlockStatus::Root);
        pool.free_root(root);
    }
    assert!(pool.stats().is_empty());
    assert_eq!(pool.check_integrity(), Ok(1));
}

#[cfg(debug_assertions)]
mod debug_panics {
    //! In a debug build each kind of bad pointer panics with a clear message.

    use super::*;

    fn free_bad(pool: &'static StaticPool<8192, Lock>, name: &str) {
        let mut scene = Scene::new(pool);
        let (_, bad) = scene
            .bad_pointers()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap();
        // SAFETY: deliberately not a live root: the pool checks it exactly.
        unsafe { pool.free_root(bad) };
    }

    panics! {
        outside: "outside" => "free_root was given a pointer that is not a live block";
        past_the_end: "past the end" => "free_root was given a pointer that is not a live block";
        interior: "interior" => "free_root was given a pointer that is not a live block";
        header: "header" => "free_root was given a pointer that is not a live block";
        misaligned: "misaligned" => "free_root was given a pointer that is not a live block";
        child: "child" => "free_root was given a child, not a root";
        double_free: "freed" => "free_root was given a pointer that is not a live block";
    }
}

        }
    )*};
}

per_lock! {
    spin: linked_alloc_pool::SpinLock;
    try_lock: linked_alloc_pool::TryLock;
    critical_section: linked_alloc_pool::CriticalSectionLock;
}
