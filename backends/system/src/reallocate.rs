//! `reallocate_root`: roots without children move with the platform's `realloc`, roots
//! with children never move, a refused `realloc` leaves the block as it was.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{Linked, LinkedAllocator, Stats};
use linked_alloc_testkit::os_fault::{self, Mode};

use crate::SystemHeap;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn only_root(bytes: usize) -> Stats {
    Stats {
        roots: 1,
        children: 0,
        bytes_in_use: bytes,
    }
}

#[test]
fn a_root_grown_and_shrunk_through_global_alloc_keeps_its_bytes() {
    let big = if cfg!(miri) { 64 << 10 } else { 4 << 20 };
    for align in [1, 16, 64, 4096] {
        let heap = Linked::new(SystemHeap::new());
        // SAFETY: a non-zero size.
        let mut p = NonNull::new(unsafe { heap.alloc(layout(24, align)) }).unwrap();
        // SAFETY: `p` is a fresh block of 24 bytes.
        unsafe { fill(p, 24, 7) };
        let mut size = 24;
        for new_size in [40, 1000, big, big * 2, 300, 8, 0, 64] {
            // SAFETY: `p` is a live root of `heap` with layout (`size`, `align`).
            let q = unsafe { heap.realloc(p.as_ptr(), layout(size, align), new_size) };
            let q = NonNull::new(q).expect("realloc failed");
            assert_eq!(q.as_ptr() as usize % align.max(linked_alloc::MIN_ALIGN), 0);
            // SAFETY: `q` is the live root, of `new_size` bytes that only we use.
            unsafe {
                check(q, size.min(new_size), 7);
                fill(q, new_size, 7);
            }
            assert_eq!(heap.stats(), only_root(new_size));
            (p, size) = (q, new_size);
        }
        // SAFETY: `p` is a live root with layout (`size`, `align`).
        unsafe { heap.dealloc(p.as_ptr(), layout(size, align)) };
        assert!(heap.stats().is_empty());
    }
}

#[test]
fn a_root_with_children_is_never_moved() {
    let heap = SystemHeap::new();
    let root = heap.allocate_root(layout(64, 8)).unwrap();
    // SAFETY: `root` is a fresh block of 64 bytes.
    unsafe { fill(root, 64, 1) };
    // SAFETY: `root` is a live root of `heap`.
    let child = unsafe { heap.allocate_child(root, layout(32, 8)) }.unwrap();
    // SAFETY: `child` is a fresh block of 32 bytes.
    unsafe { fill(child, 32, 2) };
    let before = heap.stats();
    for new_size in [8, 64, 100, 1 << 16] {
        // SAFETY: `root` is a live root of layout (64, 8); nothing else uses it.
        let moved = unsafe { heap.reallocate_root(root, layout(64, 8), new_size) };
        assert_eq!(moved, None);
        assert_eq!(heap.stats(), before);
    }
    // SAFETY: both blocks are live, unmoved, of these sizes.
    unsafe {
        check(root, 64, 1);
        check(child, 32, 2);
    }
    // SAFETY: `root` is a live root; its blocks are not used afterwards.
    unsafe { heap.free_root(root) };
    assert!(heap.stats().is_empty());
}

#[test]
fn a_refused_realloc_leaves_the_block_intact() {
    let heap = SystemHeap::new();
    let live = os_fault::live();
    let root = heap.allocate_root(layout(100, 8)).unwrap();
    // SAFETY: `root` is a fresh block of 100 bytes.
    unsafe { fill(root, 100, 3) };
    os_fault::fail_after(0, Mode::Once);
    // SAFETY: `root` is a live root of layout (100, 8); nothing else uses it.
    let moved = unsafe { heap.reallocate_root(root, layout(100, 8), 10_000) };
    os_fault::disarm();
    assert_eq!(moved, None);
    assert_eq!(heap.stats(), only_root(100));
    assert_eq!(os_fault::live(), live + 1);
    // SAFETY: the refused call left `root` live, of 100 bytes.
    unsafe { check(root, 100, 3) };
    // Still a live root: it moves once the heap says yes, and frees.
    // SAFETY: as above.
    let root = unsafe { heap.reallocate_root(root, layout(100, 8), 10_000) }.unwrap();
    // SAFETY: `root` is the live root, of 10 000 bytes; the first 100 were kept.
    unsafe { check(root, 100, 3) };
    assert_eq!(heap.stats(), only_root(10_000));
    // SAFETY: `root` is a live root.
    unsafe { heap.free_root(root) };
    assert_eq!(os_fault::live(), live);
    assert!(heap.stats().is_empty());
}
