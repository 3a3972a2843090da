//! The MAPI-status layer (`linked_alloc::mapi`): the three calls with MAPI's signatures
//! and status codes, checked on every backend of the workspace, through two test-only
//! wrappers: the testkit's `FailingAt`, which runs out of memory on demand (to check
//! `MAPI_E_NOT_ENOUGH_MEMORY` deterministically), and one here whose `block_status`
//! cannot tell (to check that the layer then trusts the caller, as MAPI does).

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use linked_alloc::conformance::pattern;
use linked_alloc::mapi::{
    LPVOID, MAPI_E_INVALID_PARAMETER, MAPI_E_NOT_ENOUGH_MEMORY, S_OK, SCODE, ULONG,
};
use linked_alloc::{AllocError, BlockStatus, Linked, LinkedAllocator, MIN_ALIGN, Stats};
use linked_alloc_testkit::failing::{FailingAt, Mode};

/// Pick the native count, or the small one under Miri.
const fn iterations(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// `MAPIFreeBuffer`'s results, as the `ULONG`s it returns.
const FREE_OK: ULONG = S_OK as ULONG;
const FREE_INVALID: ULONG = MAPI_E_INVALID_PARAMETER as ULONG;

/// A non-null pointer that is no buffer: what an out-pointer holds before a call, so
/// that a test sees whether a failing call reset it to NULL.
fn sentinel() -> LPVOID {
    NonNull::<u64>::dangling().as_ptr().cast()
}

/// Fills `len` bytes at `p` with the pattern of `seed`.
fn fill(p: LPVOID, len: usize, seed: usize) {
    let p = NonNull::new(p.cast::<u8>()).expect("a buffer");
    // SAFETY: callers pass live buffers of at least `len` bytes that only they use.
    unsafe { pattern::fill(p, len, seed) }
}

/// Checks the pattern of `seed` on `len` bytes at `p`.
#[track_caller]
fn check(p: LPVOID, len: usize, seed: usize) {
    let p = NonNull::new(p.cast::<u8>()).expect("a buffer");
    // SAFETY: callers pass live buffers of at least `len` bytes, filled by `fill`.
    unsafe { pattern::check(p, len, seed) }
}

#[track_caller]
fn assert_buffer(status: SCODE, p: LPVOID) {
    assert_eq!(status, S_OK);
    assert!(!p.is_null(), "S_OK with a NULL buffer");
    assert_eq!(
        p as usize % MIN_ALIGN,
        0,
        "{p:p} is not aligned to MIN_ALIGN"
    );
}

/// `MAPIAllocateBuffer` for every size class, 0 included: S_OK, aligned, writable,
/// distinct; each freed by `MAPIFreeBuffer` with S_OK.
fn allocate_buffer_gives_aligned_distinct_buffers<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let sizes: &[ULONG] = &[0, 0, 1, 7, 16, 17, 100, 4096, 10_000];
    let mut buffers = Vec::new();
    for (seed, &cb) in sizes.iter().enumerate() {
        let mut p = sentinel();
        assert_buffer(heap.mapi_allocate_buffer(cb, &mut p), p);
        fill(p, cb as usize, seed);
        buffers.push((p, cb as usize, seed));
    }
    let mut starts: Vec<usize> = buffers.iter().map(|b| b.0 as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    assert_eq!(starts.len(), buffers.len(), "two buffers share an address");
    assert_eq!(heap.stats().roots, before.roots + sizes.len());
    for &(p, len, seed) in &buffers {
        check(p, len, seed);
        // SAFETY: `p` is a live root of `heap`, not used afterwards.
        assert_eq!(unsafe { heap.mapi_free_buffer(p) }, FREE_OK);
    }
    assert_eq!(heap.stats(), before);
}

/// A NULL `lppBuffer` is MAPI_E_INVALID_PARAMETER for both allocating calls, and
/// nothing is allocated.
fn null_out_pointer_is_invalid_parameter<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    assert_eq!(heap.mapi_allocate_buffer(8, None), MAPI_E_INVALID_PARAMETER);
    assert_eq!(heap.stats(), before);
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(8, &mut root), root);
    let with_root = heap.stats();
    // SAFETY: `root` is a live root of `heap`.
    unsafe {
        assert_eq!(
            heap.mapi_allocate_more(8, root, None),
            MAPI_E_INVALID_PARAMETER
        );
        assert_eq!(heap.stats(), with_root);
        // A raw NULL `LPVOID *`, as C passes it, is the same `None`.
        let raw: *mut LPVOID = ptr::null_mut();
        assert_eq!(
            heap.mapi_allocate_buffer(8, raw.as_mut()),
            MAPI_E_INVALID_PARAMETER
        );
        assert_eq!(
            heap.mapi_allocate_more(8, root, raw.as_mut()),
            MAPI_E_INVALID_PARAMETER
        );
        assert_eq!(heap.stats(), with_root);
        assert_eq!(heap.mapi_free_buffer(root), FREE_OK);
    }
    assert_eq!(heap.stats(), before);
}

/// A NULL `lpObject` is MAPI_E_INVALID_PARAMETER, and `*lppBuffer` becomes NULL.
fn null_object_is_invalid_parameter<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let mut out = sentinel();
    // SAFETY: NULL is allowed for `lp_object`.
    let status = unsafe { heap.mapi_allocate_more(8, ptr::null_mut(), &mut out) };
    assert_eq!(status, MAPI_E_INVALID_PARAMETER);
    assert!(
        out.is_null(),
        "a failed MAPIAllocateMore left *lppBuffer at {out:p}"
    );
    assert_eq!(heap.stats(), before);
}

/// `MAPIFreeBuffer(NULL)` is S_OK and does nothing.
fn free_null_is_ok<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    // SAFETY: NULL is allowed.
    assert_eq!(unsafe { heap.mapi_free_buffer(ptr::null_mut()) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// `MAPIAllocateMore` on the root and on buffers it made itself: all join the root's
/// chain, every buffer keeps its bytes, one `MAPIFreeBuffer` frees them all.
fn allocate_more_links_to_the_root<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(24, &mut root), root);
    fill(root, 24, 0);
    let n = iterations(200, 20);
    let mut blocks = vec![(root, 24usize, 0usize)];
    for i in 1..=n {
        // Alternate parents: the root, the previous buffer, or an early child.
        let parent = match i % 3 {
            0 => root,
            1 => blocks[i - 1].0,
            _ => blocks[i / 2].0,
        };
        let cb = (i * 13) % 300;
        let mut p = sentinel();
        // SAFETY: `parent` is a live buffer of `heap` (the root or one linked to it).
        let status = unsafe { heap.mapi_allocate_more(cb as ULONG, parent, &mut p) };
        assert_buffer(status, p);
        fill(p, cb, i);
        blocks.push((p, cb, i));
    }
    let live = heap.stats();
    assert_eq!(live.roots, before.roots + 1);
    assert_eq!(live.children, before.children + n);
    let bytes: usize = blocks.iter().map(|b| b.1).sum();
    assert_eq!(live.bytes_in_use, before.bytes_in_use + bytes);
    for &(p, len, seed) in &blocks {
        check(p, len, seed);
    }
    // SAFETY: `root` is a live root of `heap`; no buffer of it is used afterwards.
    assert_eq!(unsafe { heap.mapi_free_buffer(root) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// An `SPropValue`-like row: the array is a root, each string a buffer allocated with
/// `MAPIAllocateMore` on the array, its pointer stored inside the array itself (the
/// MAPI idiom). One `MAPIFreeBuffer` frees the lot.
fn property_row_is_freed_with_one_call<B: LinkedAllocator>(heap: &Linked<B>) {
    #[repr(C)]
    struct PropValue {
        ul_prop_tag: ULONG,
        dw_align_pad: ULONG,
        lpsz_a: *mut u8,
    }
    let before = heap.stats();
    let names = ["Display name", "", "alice@example.com", "x"];
    let n = names.len();
    let mut row = sentinel();
    let cb = (n * size_of::<PropValue>()) as ULONG;
    assert_buffer(heap.mapi_allocate_buffer(cb, &mut row), row);
    let props = row.cast::<PropValue>();
    for (i, name) in names.iter().enumerate() {
        // SAFETY: `row` holds `n` `PropValue`s, aligned (MIN_ALIGN >= align of a
        // pointer); `i < n`. The out-pointer points into `row` itself, and `row` is a
        // live root of `heap`.
        unsafe {
            let prop = props.add(i);
            prop.write(PropValue {
                ul_prop_tag: 0x3001_001E + i as ULONG,
                dw_align_pad: 0,
                lpsz_a: ptr::null_mut(),
            });
            let slot = &raw mut (*prop).lpsz_a;
            let status = heap.mapi_allocate_more(
                (name.len() + 1) as ULONG,
                row,
                slot.cast::<LPVOID>().as_mut(),
            );
            assert_buffer(status, (*prop).lpsz_a.cast::<c_void>());
            let s = (*prop).lpsz_a;
            ptr::copy_nonoverlapping(name.as_ptr(), s, name.len());
            s.add(name.len()).write(0);
        }
    }
    assert_eq!(heap.stats().children, before.children + n);
    for (i, name) in names.iter().enumerate() {
        // SAFETY: as above: every string is live and NUL-terminated.
        unsafe {
            let prop = &*props.add(i);
            assert_eq!(prop.ul_prop_tag, 0x3001_001E + i as ULONG);
            let s = core::ffi::CStr::from_ptr(prop.lpsz_a.cast());
            assert_eq!(s.to_bytes(), name.as_bytes());
        }
    }
    // SAFETY: `row` is a live root; neither it nor its strings are used afterwards.
    assert_eq!(unsafe { heap.mapi_free_buffer(row) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// Where the backend tells children apart, `MAPIFreeBuffer` on a child frees nothing
/// and says MAPI_E_INVALID_PARAMETER; the child and its root stay intact.
fn free_child_is_refused<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(16, &mut root), root);
    let mut child = sentinel();
    // SAFETY: `root` is a live root of `heap`.
    assert_buffer(
        unsafe { heap.mapi_allocate_more(40, root, &mut child) },
        child,
    );
    fill(child, 40, 7);
    // SAFETY: `child` is a live block of `heap`.
    let status = unsafe {
        heap.backend()
            .block_status(NonNull::new(child.cast()).unwrap())
    };
    assert_eq!(
        status,
        BlockStatus::Child,
        "this backend should tell children apart"
    );
    let live = heap.stats();
    // SAFETY: `child` is a live child, and the backend tells children apart.
    assert_eq!(unsafe { heap.mapi_free_buffer(child) }, FREE_INVALID);
    assert_eq!(
        heap.stats(),
        live,
        "a refused MAPIFreeBuffer changed the stats"
    );
    check(child, 40, 7);
    // The root still takes children, and frees them all.
    let mut more = sentinel();
    // SAFETY: `child` is still live: the refused call did not free it.
    assert_buffer(
        unsafe { heap.mapi_allocate_more(8, child, &mut more) },
        more,
    );
    // SAFETY: `root` is a live root, not used afterwards.
    assert_eq!(unsafe { heap.mapi_free_buffer(root) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// For a backend whose `block_status` checks any pointer: a foreign pointer, an
/// interior pointer and a freed one are refused by both calls, and nothing changes.
fn bad_pointers_are_refused<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let mut local = [0u64; 4];
    let foreign: LPVOID = local.as_mut_ptr().cast();
    let mut out = sentinel();
    // SAFETY: this backend's `block_status` checks any pointer (the stamp's promise).
    unsafe {
        assert_eq!(
            heap.mapi_allocate_more(8, foreign, &mut out),
            MAPI_E_INVALID_PARAMETER
        );
        assert!(out.is_null());
        assert_eq!(heap.mapi_free_buffer(foreign), FREE_INVALID);
    }
    assert_eq!(local, [0; 4]);
    assert_eq!(heap.stats(), before);

    let (mut root, mut child) = (sentinel(), sentinel());
    assert_buffer(heap.mapi_allocate_buffer(64, &mut root), root);
    // SAFETY: `root` is a live root; the other pointers are checked by the backend
    // (the stamp's promise), and neither block is used after the free.
    unsafe {
        assert_buffer(heap.mapi_allocate_more(64, root, &mut child), child);
        fill(root, 64, 1);
        let live = heap.stats();
        let interior: LPVOID = root.cast::<u8>().add(MIN_ALIGN).cast();
        out = sentinel();
        assert_eq!(
            heap.mapi_allocate_more(8, interior, &mut out),
            MAPI_E_INVALID_PARAMETER
        );
        assert!(out.is_null());
        assert_eq!(heap.mapi_free_buffer(interior), FREE_INVALID);
        assert_eq!(heap.stats(), live);
        check(root, 64, 1);
        assert_eq!(heap.mapi_free_buffer(root), FREE_OK);
        assert_eq!(heap.stats(), before);
        // Both blocks are dead now: a second free and a child of a dead block are
        // refused.
        assert_eq!(heap.mapi_free_buffer(root), FREE_INVALID);
        out = sentinel();
        assert_eq!(
            heap.mapi_allocate_more(8, child, &mut out),
            MAPI_E_INVALID_PARAMETER
        );
        assert!(out.is_null());
    }
    assert_eq!(heap.stats(), before);
}

/// For a bounded backend (a pool smaller than 4 GiB): the largest `cbSize` is
/// MAPI_E_NOT_ENOUGH_MEMORY with `*lppBuffer` NULL, for both calls.
fn largest_request_is_not_enough_memory<B: LinkedAllocator>(heap: &Linked<B>) {
    let before = heap.stats();
    let mut out = sentinel();
    assert_eq!(
        heap.mapi_allocate_buffer(ULONG::MAX, &mut out),
        MAPI_E_NOT_ENOUGH_MEMORY
    );
    assert!(out.is_null());
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(8, &mut root), root);
    out = sentinel();
    // SAFETY: `root` is a live root of `heap`, not used after the free.
    unsafe {
        assert_eq!(
            heap.mapi_allocate_more(ULONG::MAX, root, &mut out),
            MAPI_E_NOT_ENOUGH_MEMORY
        );
        assert!(out.is_null());
        assert_eq!(heap.mapi_free_buffer(root), FREE_OK);
    }
    assert_eq!(heap.stats(), before);
}

/// Threads add buffers to one root at once with `MAPIAllocateMore`.
fn threads_allocate_more_on_one_root<B: LinkedAllocator + Sync>(heap: &Linked<B>) {
    struct Shared(LPVOID);
    // SAFETY: the pointer is only passed to `mapi_allocate_more`, which `B: Sync`
    // allows from several threads on one live root.
    unsafe impl Sync for Shared {}
    let before = heap.stats();
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(8, &mut root), root);
    let shared = Shared(root);
    let (threads, each) = (4, iterations(200, 10));
    std::thread::scope(|s| {
        for t in 0..threads {
            let shared = &shared;
            s.spawn(move || {
                let mut mine = Vec::new();
                for i in 0..each {
                    let mut p = sentinel();
                    // SAFETY: the root is live until every thread is joined.
                    let status = unsafe { heap.mapi_allocate_more(24, shared.0, &mut p) };
                    assert_buffer(status, p);
                    fill(p, 24, t * 1000 + i);
                    mine.push(p);
                }
                for (i, p) in mine.into_iter().enumerate() {
                    check(p, 24, t * 1000 + i);
                }
            });
        }
    });
    assert_eq!(heap.stats().children, before.children + threads * each);
    // SAFETY: every thread is joined; `root` is a live root, not used afterwards.
    assert_eq!(unsafe { heap.mapi_free_buffer(root) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// Stamps the checks out for one backend: one `#[test]` per check, each calling
/// `with_heap` (a function of the backend's module that makes a fresh
/// `Linked<impl LinkedAllocator + Sync>`, hands it to its closure, then drops it).
/// After the common checks come the checks that only some backends pass, named by the
/// caller.
macro_rules! mapi_suite {
    ($with_heap:ident $(, $extra:ident)* $(,)?) => {
        mapi_suite!(@tests $with_heap;
            allocate_buffer_gives_aligned_distinct_buffers,
            null_out_pointer_is_invalid_parameter,
            null_object_is_invalid_parameter,
            free_null_is_ok,
            allocate_more_links_to_the_root,
            property_row_is_freed_with_one_call,
            threads_allocate_more_on_one_root,
            $($extra),*
        );
        /// Running out of memory is MAPI_E_NOT_ENOUGH_MEMORY with `*lppBuffer` NULL,
        /// and leaves the heap usable.
        #[test]
        fn out_of_memory_is_not_enough_memory() {
            $with_heap(|heap| super::out_of_memory_is_not_enough_memory(heap.backend()));
        }
    };
    (@tests $with_heap:ident; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $with_heap(|heap| super::$check(heap));
            }
        )*
    };
}

mod system {
    use linked_alloc::Linked;
    use linked_alloc_system::SystemHeap;

    fn with_heap(f: impl FnOnce(&Linked<SystemHeap>)) {
        f(&Linked::new(SystemHeap::new()));
    }

    // SystemHeap's `block_status` reads a tag: it tells children from roots.
    mapi_suite!(with_heap, free_child_is_refused);
}

mod mmap {
    use linked_alloc::Linked;
    use linked_alloc_mmap::MmapPages;

    fn with_heap(f: impl FnOnce(&Linked<MmapPages>)) {
        f(&Linked::new(MmapPages::new()));
    }

    // MmapPages' `block_status` tells a root from its children, for live blocks.
    mapi_suite!(with_heap, free_child_is_refused);
}

mod pool {
    use linked_alloc::Linked;
    use linked_alloc_pool::StaticPool;

    type Pool = StaticPool<{ 1 << 20 }>;

    /// A 1 MiB pool, made in place in a heap box (too large for a test thread's stack
    /// in a debug build), dropped after the check.
    fn with_heap(f: impl FnOnce(&Linked<&Pool>)) {
        let mut slot = Box::<Pool>::new_uninit();
        Pool::new_in_place(&mut slot);
        // SAFETY: `new_in_place` initialised the pool in `slot`.
        let pool = unsafe { slot.assume_init() };
        f(&Linked::new(&*pool));
    }

    // StaticPool's `block_status` is exact for any pointer, and the pool is bounded.
    mapi_suite!(
        with_heap,
        free_child_is_refused,
        bad_pointers_are_refused,
        largest_request_is_not_enough_memory,
    );
}

fn out_of_memory_is_not_enough_memory<B: LinkedAllocator>(backend: &B) {
    // Every allocation fails, until a budget is given.
    let heap = Linked::new(FailingAt::new(backend, Mode::FromThenOn, 0));
    let before = heap.stats();
    let mut out = sentinel();
    assert_eq!(
        heap.mapi_allocate_buffer(8, &mut out),
        MAPI_E_NOT_ENOUGH_MEMORY
    );
    assert!(
        out.is_null(),
        "a failed MAPIAllocateBuffer left *lppBuffer set"
    );
    assert_eq!(heap.stats(), before);

    heap.backend().fail_after(1);
    let mut root = sentinel();
    assert_buffer(heap.mapi_allocate_buffer(8, &mut root), root);
    let live = heap.stats();
    let mut more = sentinel();
    // SAFETY: `root` is a live root of `heap`.
    let status = unsafe { heap.mapi_allocate_more(8, root, &mut more) };
    assert_eq!(status, MAPI_E_NOT_ENOUGH_MEMORY);
    assert!(
        more.is_null(),
        "a failed MAPIAllocateMore left *lppBuffer set"
    );
    assert_eq!(heap.stats(), live);

    // Memory is back: the same root takes a child again, and frees it.
    heap.backend().disarm();
    // SAFETY: `root` is still live.
    assert_buffer(unsafe { heap.mapi_allocate_more(8, root, &mut more) }, more);
    // SAFETY: `root` is a live root, not used afterwards.
    assert_eq!(unsafe { heap.mapi_free_buffer(root) }, FREE_OK);
    assert_eq!(heap.stats(), before);
}

/// A backend that forwards to `SystemHeap` but keeps the default `block_status`
/// (`Unknown`): the layer must trust the caller and free roots as MAPI does.
#[derive(Debug, Default)]
struct Untold(linked_alloc_system::SystemHeap);

// SAFETY: every method forwards to `SystemHeap`, which keeps the contract.
unsafe impl LinkedAllocator for Untold {
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.0.allocate_root(layout)
    }

    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: the caller's precondition (`parent` live in it) is ours.
        unsafe { self.0.allocate_child(parent, layout) }
    }

    unsafe fn free_root(&self, root: NonNull<u8>) {
        // SAFETY: the caller's precondition (`root` a live root of it) is ours.
        unsafe { self.0.free_root(root) }
    }

    fn stats(&self) -> Stats {
        self.0.stats()
    }
}

mod untold {
    use linked_alloc::Linked;

    fn with_heap(f: impl FnOnce(&Linked<super::Untold>)) {
        f(&Linked::new(super::Untold::default()));
    }

    mapi_suite!(with_heap);
}

/// The free functions that `mapi_functions!` defines, over a `static` heap.
mod free_functions {
    use super::*;
    use linked_alloc_system::SystemHeap;

    static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());

    mod exported {
        use linked_alloc::Linked;
        use linked_alloc_system::SystemHeap;

        pub static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());
        linked_alloc::mapi_functions!(pub HEAP);
    }

    linked_alloc::mapi_functions!(HEAP);

    #[test]
    fn mapi_names_over_a_static_heap() {
        let mut row = sentinel();
        assert_buffer(MAPIAllocateBuffer(48, &mut row), row);
        assert_eq!(MAPIAllocateBuffer(48, None), MAPI_E_INVALID_PARAMETER);
        let mut name = sentinel();
        // SAFETY: `row` is a live root of HEAP, then `name` a live child of it.
        unsafe {
            assert_buffer(MAPIAllocateMore(12, row, &mut name), name);
            let mut bad = sentinel();
            assert_eq!(
                MAPIAllocateMore(12, ptr::null_mut(), &mut bad),
                MAPI_E_INVALID_PARAMETER
            );
            assert!(bad.is_null());
            assert_eq!(HEAP.stats().children, 1);
            assert_eq!(MAPIFreeBuffer(name), FREE_INVALID);
            assert_eq!(MAPIFreeBuffer(row), FREE_OK);
            assert_eq!(MAPIFreeBuffer(ptr::null_mut()), FREE_OK);
        }
        assert!(HEAP.stats().is_empty());
    }

    #[test]
    fn exported_functions_use_their_own_heap() {
        let mut row = sentinel();
        assert_buffer(exported::MAPIAllocateBuffer(8, &mut row), row);
        assert_eq!(exported::HEAP.stats().roots, 1);
        // SAFETY: `row` is a live root of `exported::HEAP`, not used afterwards.
        assert_eq!(unsafe { exported::MAPIFreeBuffer(row) }, FREE_OK);
        assert!(exported::HEAP.stats().is_empty());
    }
}
