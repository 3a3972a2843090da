//! Out-of-memory injection, on every backend.
//!
//! [`FailingAt<B>`] (from `linked_alloc_testkit::failing`) wraps a backend and refuses its k-th allocation request
//! (`allocate_root`, `allocate_child`, or a growing `resize_in_place`), once or from then
//! on. For every k along a workload that uses every way in (the MAPI-style calls, the
//! `Root` handle, allocator-api2 `Vec` / `Box` and hashbrown `HashMap` in a root,
//! `GlobalAlloc`), the tests check that:
//! - the error reaches the caller: `AllocError`, an `AllocError`-kind error from
//!   `try_reserve` / `try_new_in`, a null from `GlobalAlloc` (a refused
//!   `resize_in_place` is no error: the caller falls back to a new block);
//! - nothing leaks: `stats()` is back to the start once the workload has unwound;
//! - nothing is corrupted: every block's pattern is intact when its root is freed;
//! - the allocator stays usable: the same workload then runs to the end on it.
//!
//! For the pool, the real path is also taken: [`Mode::Exhaust`] fills the pool with
//! other roots until it is really full just before the k-th request, and pools of many
//! sizes run the workload until it runs out by itself.
//!
//! What this cannot reach: a failure inside a backend (the k-th `mmap` of `MmapPages`,
//! the k-th `malloc` of `SystemHeap`) is not reachable from outside; what the wrapper
//! injects is the same `AllocError` at the trait's boundary, which is what the front end,
//! the handle and the collections see. The backends' own unit tests refuse those OS
//! requests from inside, in test builds only (`os_faults` in `linked-alloc-mmap` and
//! `linked-alloc-system`, over `linked_alloc_testkit::os_fault`).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::collections::HashSet;

use allocator_api2::boxed::Box;
use allocator_api2::collections::TryReserveErrorKind;
use allocator_api2::vec::Vec;
use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{AllocError, Linked, LinkedAllocator};
use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;
use linked_alloc_testkit::failing::{FailingAt, Mode, Refused};

const fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

// ---------------------------------------------------------------------------------
// The workload.

/// Which way in reported the failure to the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Path {
    /// `Linked::allocate_buffer`.
    Buffer,
    /// `Linked::allocate_more`.
    More,
    /// `Linked::allocate_child` with a 4096-aligned layout.
    AlignedChild,
    /// `Linked::allocate_child` of a block larger than a page.
    BigChild,
    /// `Linked::root`.
    Root,
    /// `Root::allocate_child`.
    RootChild,
    /// `Vec::try_reserve` in a root.
    VecReserve,
    /// hashbrown `HashMap::try_reserve` in a root.
    MapReserve,
    /// `Box::try_new_in` in a root.
    BoxNew,
    /// `GlobalAlloc::alloc`.
    GlobalAlloc,
    /// `GlobalAlloc::realloc`.
    GlobalRealloc,
    /// `GlobalAlloc::alloc_zeroed`.
    GlobalZeroed,
}

const ALL_PATHS: [Path; 12] = [
    Path::Buffer,
    Path::More,
    Path::AlignedChild,
    Path::BigChild,
    Path::Root,
    Path::RootChild,
    Path::VecReserve,
    Path::MapReserve,
    Path::BoxNew,
    Path::GlobalAlloc,
    Path::GlobalRealloc,
    Path::GlobalZeroed,
];

/// A MAPI-style root and its children, pattern-filled; dropping it checks every
/// pattern and frees the root (so an early return frees it too).
struct RawRoot<'h, B: LinkedAllocator> {
    heap: &'h Linked<B>,
    blocks: std::vec::Vec<(NonNull<u8>, usize, usize)>,
}

impl<'h, B: LinkedAllocator> RawRoot<'h, B> {
    fn new(heap: &'h Linked<B>, size: usize) -> Result<Self, Path> {
        let p = heap.allocate_buffer(size).map_err(|_| Path::Buffer)?;
        // SAFETY: a fresh block of `size` bytes.
        unsafe { fill(p, size, 1) };
        Ok(Self {
            heap,
            blocks: std::vec![(p, size, 1)],
        })
    }

    fn push(
        &mut self,
        result: Result<NonNull<u8>, AllocError>,
        size: usize,
        path: Path,
    ) -> Result<NonNull<u8>, Path> {
        let p = result.map_err(|_| path)?;
        let seed = self.blocks.len() + 1;
        // SAFETY: a fresh block of `size` bytes.
        unsafe { fill(p, size, seed) };
        self.blocks.push((p, size, seed));
        Ok(p)
    }

    /// `allocate_more` under the `parent`-th block.
    fn more(&mut self, parent: usize, size: usize) -> Result<NonNull<u8>, Path> {
        let parent = self.blocks[parent].0;
        // SAFETY: `parent` is a live block of this root.
        let r = unsafe { self.heap.allocate_more(size, parent) };
        self.push(r, size, Path::More)
    }

    /// `allocate_child` under the `parent`-th block.
    fn child(&mut self, parent: usize, layout: Layout, path: Path) -> Result<NonNull<u8>, Path> {
        let parent = self.blocks[parent].0;
        // SAFETY: `parent` is a live block of this root.
        let r = unsafe { self.heap.allocate_child(parent, layout) };
        let p = self.push(r, layout.size(), path)?;
        assert_eq!(
            p.as_ptr() as usize % layout.align().max(linked_alloc::MIN_ALIGN),
            0
        );
        Ok(p)
    }
}

impl<B: LinkedAllocator> Drop for RawRoot<'_, B> {
    fn drop(&mut self) {
        for &(p, len, seed) in &self.blocks {
            // SAFETY: every listed block is live (its root is) and was filled.
            unsafe { check(p, len, seed) };
        }
        // SAFETY: the first block is a live root of `heap`; nothing uses it afterwards.
        unsafe { self.heap.free_buffer(self.blocks[0].0) };
    }
}

/// A `GlobalAlloc` block, pattern-filled; dropping it checks and deallocates it.
struct GlobalBlock<'h, B: LinkedAllocator> {
    heap: &'h Linked<B>,
    ptr: NonNull<u8>,
    layout: Layout,
    seed: usize,
}

impl<B: LinkedAllocator> Drop for GlobalBlock<'_, B> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is a live block of `layout`, filled with `seed`.
        unsafe { check(self.ptr, self.layout.size(), self.seed) };
        // SAFETY: `ptr` came from `GlobalAlloc::alloc`/`realloc` of `heap` with `layout`.
        unsafe { GlobalAlloc::dealloc(self.heap, self.ptr.as_ptr(), self.layout) };
    }
}

/// A workload that asks for memory every way there is, checks everything it made,
/// and returns the first failure it saw (after unwinding everything it made: the
/// guards above and the `Root` handle free all on the way out).
fn workload<B: LinkedAllocator>(heap: &Linked<B>) -> Result<(), Path> {
    // 1. MAPI-style: a root, children of the root and of children, an over-aligned
    //    child and one larger than a page.
    let mut raw = RawRoot::new(heap, 64)?;
    for i in 0..n(12, 4) {
        raw.more(i / 2, 24 + 8 * i)?;
    }
    raw.child(
        3,
        Layout::from_size_align(100, 4096).expect("valid"),
        Path::AlignedChild,
    )?;
    raw.child(
        0,
        Layout::from_size_align(5000, 8).expect("valid"),
        Path::BigChild,
    )?;

    // 2. A `Root` handle, a child of it, and collections in it.
    let root = heap
        .root(Layout::new::<[u64; 4]>())
        .map_err(|_| Path::Root)?;
    let child = root
        .allocate_child(Layout::new::<[u8; 48]>())
        .map_err(|_| Path::RootChild)?;
    // SAFETY: a fresh child of 48 bytes.
    unsafe { fill(child, 48, 77) };
    let mut v: Vec<u64, _> = Vec::new_in(&root);
    for i in 0..n(300, 40) as u64 {
        if let Err(e) = v.try_reserve(1) {
            assert!(
                matches!(e.kind(), TryReserveErrorKind::AllocError { .. }),
                "an injected failure is an allocation error, not {:?}",
                e.kind()
            );
            return Err(Path::VecReserve);
        }
        v.push(i * 7);
    }
    let mut map =
        hashbrown::HashMap::with_hasher_in(hashbrown::DefaultHashBuilder::default(), &root);
    for i in 0..n(60, 10) as u32 {
        if let Err(e) = map.try_reserve(1) {
            assert!(
                matches!(e, hashbrown::TryReserveError::AllocError { .. }),
                "{e:?}"
            );
            return Err(Path::MapReserve);
        }
        map.insert(i, u64::from(i) << 20);
    }
    let boxed = Box::try_new_in([5u8; 300], &root).map_err(|_| Path::BoxNew)?;

    // 3. GlobalAlloc: alloc, realloc (a failure keeps the old block), alloc_zeroed.
    let layout = Layout::from_size_align(200, 8).expect("valid");
    // SAFETY: `layout` has a non-zero size.
    let g = NonNull::new(unsafe { GlobalAlloc::alloc(heap, layout) }).ok_or(Path::GlobalAlloc)?;
    // SAFETY: a fresh block of 200 bytes.
    unsafe { fill(g, 200, 200) };
    let mut g = GlobalBlock {
        heap,
        ptr: g,
        layout,
        seed: 200,
    };
    // SAFETY: `g.ptr` is a live block of `g.layout`; 3000 bytes fit in `isize`.
    let grown = unsafe { GlobalAlloc::realloc(heap, g.ptr.as_ptr(), g.layout, 3000) };
    let Some(grown) = NonNull::new(grown) else {
        // `g` still owns the old block: its drop checks the pattern and frees it.
        return Err(Path::GlobalRealloc);
    };
    // SAFETY: realloc kept the first 200 bytes; the block has 3000.
    unsafe {
        check(grown, 200, 200);
        fill(grown, 3000, 300);
    }
    g.ptr = grown;
    g.layout = Layout::from_size_align(3000, 8).expect("valid");
    g.seed = 300;
    let zl = Layout::from_size_align(64, 16).expect("valid");
    // SAFETY: `zl` has a non-zero size.
    let z =
        NonNull::new(unsafe { GlobalAlloc::alloc_zeroed(heap, zl) }).ok_or(Path::GlobalZeroed)?;
    // SAFETY: a fresh block of 64 bytes, said to be zeroed.
    assert!((0..64).all(|i| unsafe { z.as_ptr().add(i).read() } == 0));
    // SAFETY: a fresh block of 64 bytes.
    unsafe { fill(z, 64, 64) };
    let _z = GlobalBlock {
        heap,
        ptr: z,
        layout: zl,
        seed: 64,
    };

    // Everything intact.
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 7));
    assert!(map.iter().all(|(&k, &x)| x == u64::from(k) << 20));
    assert_eq!(map.len(), n(60, 10));
    assert!(boxed.iter().all(|&b| b == 5));
    // SAFETY: `child` is live (its root is) and was filled with 77.
    unsafe { check(child, 48, 77) };
    Ok(())
}

// ---------------------------------------------------------------------------------
// The harness.

/// The requests to refuse: all of them natively, a spread under Miri.
fn ks(requests: usize) -> std::vec::Vec<usize> {
    if cfg!(miri) {
        std::vec![0, requests / 3, requests - 1]
    } else {
        (0..requests).collect()
    }
}

/// For every k along the workload and each `mode`, refuses the k-th request of a fresh
/// backend and checks the error, the leaks, the patterns, and that the backend works
/// afterwards. `after` checks the backend itself when all is freed.
fn inject_every_k<B: LinkedAllocator>(modes: &[Mode], make: impl Fn() -> B, after: impl Fn(&B)) {
    // A dry run counts the requests.
    let heap = Linked::new(FailingAt::new(make(), Mode::Once, usize::MAX));
    let start = heap.stats();
    workload(&heap).expect("the workload runs with no failure injected");
    assert_eq!(heap.stats(), start, "the workload leaks by itself");
    let requests = heap.backend().requests();
    assert!(requests > 20, "only {requests} requests");

    let mut paths = HashSet::new();
    for &mode in modes {
        for k in ks(requests) {
            let heap = Linked::new(FailingAt::new(make(), mode, k));
            let result = workload(&heap);
            let failing = heap.backend();
            match (failing.first_refused(), result) {
                (Some(Refused::Block), Err(path)) => {
                    paths.insert(path);
                }
                (Some(Refused::Block), Ok(())) => {
                    panic!("{mode:?}: request {k} was refused but the workload never saw it")
                }
                (Some(Refused::Resize), r) => match r {
                    // A refused resize is no error: the caller falls back to a new block.
                    Ok(()) => {}
                    // From then on, the fallback's block request fails too.
                    Err(path) if mode == Mode::FromThenOn => {
                        paths.insert(path);
                    }
                    Err(path) => {
                        panic!(
                            "{mode:?}: a refused resize (request {k}) reached the caller via {path:?}"
                        )
                    }
                },
                (None, r) => {
                    // Only `Exhaust` may see the request succeed on a full backend; it
                    // must not, for a real pool.
                    panic!("{mode:?}: request {k} was not refused (workload: {r:?})")
                }
            }
            assert_eq!(
                heap.stats(),
                start,
                "{mode:?}: leak after refusing request {k}"
            );
            after(failing.inner());
            // Still usable: the whole workload runs on the same backend.
            failing.disarm();
            workload(&heap)
                .unwrap_or_else(|p| panic!("{mode:?}: unusable after request {k}: {p:?}"));
            assert_eq!(
                heap.stats(),
                start,
                "{mode:?}: leak after recovering from request {k}"
            );
            after(failing.inner());
        }
    }
    // Every way in reported a failure, for some k and mode (a resize that succeeds in
    // place is refused only with `FromThenOn` before its fallback fails too).
    if !cfg!(miri) && modes.contains(&Mode::FromThenOn) {
        let missing: std::vec::Vec<_> = ALL_PATHS.iter().filter(|p| !paths.contains(p)).collect();
        assert!(missing.is_empty(), "no failure came through {missing:?}");
    }
}

#[test]
fn system_heap_every_request_refused() {
    inject_every_k(&[Mode::Once, Mode::FromThenOn], SystemHeap::new, |_| {});
}

#[test]
fn mmap_every_request_refused() {
    let after = |p: &MmapPages| {
        p.trim_cache();
        assert_eq!(p.bytes_mapped(), 0, "segments of freed roots");
    };
    inject_every_k(&[Mode::Once, Mode::FromThenOn], MmapPages::new, after);
    // No cache: empty segments go back to the OS at once.
    inject_every_k(
        &[Mode::Once, Mode::FromThenOn],
        || MmapPages::new().with_cache_limit(0),
        after,
    );
}

type Pool = StaticPool<{ 64 << 10 }>;

fn pool_intact<L: linked_alloc_pool::PoolLock>(pool: &StaticPool<{ 64 << 10 }, L>) {
    assert_eq!(
        pool.check_integrity(),
        Ok(1),
        "the pool did not coalesce back to one block"
    );
    assert_eq!(pool.free_bytes(), pool.capacity());
}

#[test]
fn pool_every_request_refused() {
    // One pool in a `static`, reused for every k (it is one free block again after each
    // run, which `pool_intact` checks): the same address every time, so the same padding
    // before over-aligned blocks and the same number of requests. (A pool on the stack
    // lands at a different address modulo 4096 in each run under Miri, and the request
    // count of the dry run would not hold.)
    static POOL: Pool = Pool::new();
    inject_every_k(
        &[Mode::Once, Mode::FromThenOn],
        || &POOL,
        |p| pool_intact(p),
    );
}

/// The same with the other lock policies: a refusal must unwind as cleanly whatever
/// lock the pool has.
#[test]
fn pool_every_request_refused_with_each_lock() {
    use linked_alloc_pool::{CriticalSectionLock, TryLock};
    // `static`s for fixed addresses, as in `pool_every_request_refused`.
    static TRY: StaticPool<{ 64 << 10 }, TryLock> = StaticPool::new();
    static CS: StaticPool<{ 64 << 10 }, CriticalSectionLock> = StaticPool::new();
    let modes = [Mode::Once, Mode::FromThenOn, Mode::Exhaust];
    inject_every_k(&modes, || &TRY, |p| pool_intact(p));
    inject_every_k(&modes, || &CS, |p| pool_intact(p));
}

/// The real exhaustion path: before the k-th request the pool is filled with other
/// roots until it refuses even a zero-size block; the request must then fail, and the
/// workload unwind cleanly.
#[test]
fn pool_really_full_at_every_request() {
    // A `static` for a fixed address, as in `pool_every_request_refused`.
    static POOL: Pool = Pool::new();
    inject_every_k(&[Mode::Exhaust], || &POOL, |p| pool_intact(p));
}

/// Pools of many sizes run the workload until it runs out by itself, wherever that is.
#[test]
fn small_pools_run_out_cleanly() {
    fn one<const N: usize>(paths: &mut HashSet<Path>) {
        let heap = Linked::new(StaticPool::<N>::new());
        let start = heap.stats();
        if let Err(p) = workload(&heap) {
            paths.insert(p);
        }
        assert_eq!(heap.stats(), start, "pool of {N}: leak");
        assert_eq!(heap.backend().check_integrity(), Ok(1), "pool of {N}");
        // Usable: a small root fits again.
        let r = heap
            .allocate_buffer(64)
            .expect("a 64-byte root after the workload");
        // SAFETY: `r` is a live root of `heap`.
        unsafe { heap.free_buffer(r) };
    }
    let mut paths = HashSet::new();
    macro_rules! sizes { ($($n:expr),*) => { $( one::<{ $n }>(&mut paths); )* } }
    sizes!(
        1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 32768, 49152,
        65536
    );
    // The smallest pools fail early, the largest not at all: several ways in failed.
    assert!(paths.len() >= 3, "only {paths:?} failed");
}

/// A regression test for a finding of Miri (Stacked Borrows), not of OOM injection: when
/// an allocator-api2 `Box` in a `Root` of `MmapPages` drops, `Root` passes the box's
/// pointer to `MmapPages::reclaim_child`. That pointer comes from `Box::leak` (a
/// `&mut T`), so under Stacked Borrows its tag covers only the box's bytes, and
/// `MmapPages` used to mask it to read its run's header through it: undefined
/// behaviour. The hooks now take the root as well, and `MmapPages` reaches its headers
/// through the root's pointer only; run under Miri with either aliasing model.
#[test]
fn mmap_box_in_root_stacked_borrows() {
    let heap = Linked::new(MmapPages::new());
    let root = heap.root(Layout::new::<u64>()).expect("a root");
    let boxed = Box::new_in(7u64, &root);
    assert_eq!(*boxed, 7);
    drop(boxed); // reclaim_child(box pointer)
    drop(root);
    assert!(heap.stats().is_empty());
}
