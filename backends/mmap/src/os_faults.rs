//! OS failures inside the backend: the k-th `mmap` refused (through [`fault`]), for every
//! k along a workload that maps every way `MmapPages` does (its own state and the
//! thread's heap, segments for small blocks and spans, huge blocks in mappings of their
//! own, the cache in between); and `munmap` refused, as the kernel does at its limit of
//! mappings. For each k and each [`Mode`], with a cache limit of 0 and of 2 segments:
//! - the failure reaches the caller: some call returns `AllocError` (at most one with
//!   [`Mode::Once`]: a refused mapping for the thread's heap is absorbed by the
//!   allocator's fallback heap), and none once k is past the workload's last request;
//! - a failed call changes nothing: neither `stats()` nor what is mapped for blocks (as
//!   `os` counts it less the allocator's own bookkeeping, `bytes_mapped()`, the cache);
//!   and `stats()` follows a model after every call;
//! - nothing leaks: once the workload has freed what it made, `stats()` is empty,
//!   `bytes_mapped()` plus `bytes_metadata()` is what `os` saw mapped and not unmapped,
//!   and trimming the cache leaves nothing mapped but the bookkeeping (dropping the
//!   allocator, nothing at all);
//! - nothing is corrupted: every block's pattern is intact when its root is freed;
//! - the allocator stays usable: disarmed, the workload runs to the end on it again.
//!
//! The workload carries on after an error, skipping what needed the failed block, so a
//! refusal in its middle is followed by requests served from segments already mapped,
//! from the cache, and (with [`Mode::Once`]) from the OS again. Only the owner thread's paths
//! are taken: the countdown is per thread.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::vec::Vec;

use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{AllocError, LinkedAllocator, Stats};

use crate::MmapPages;
use crate::os::fault::{self, Mode};
use crate::roots::BIG_CHILD;
use crate::segment::{PAGE_SIZE, SEGMENT_SIZE};

/// A block the workload made: where, how many bytes, and its pattern seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: NonNull<u8>,
    size: usize,
    align: usize,
    seed: usize,
}

/// What the workload holds: its live roots, each with its blocks (the root first), all
/// pattern-filled, the model of `stats()`, and how many calls returned `AllocError`.
struct Work<'a> {
    pages: &'a MmapPages,
    /// Which run of the workload this is, for failure messages.
    when: &'a str,
    /// `None` once freed.
    roots: Vec<Option<Vec<Block>>>,
    /// What `stats()` must say: checked after every call.
    expected: Stats,
    errors: usize,
    seeds: usize,
}

impl<'a> Work<'a> {
    fn new(pages: &'a MmapPages, when: &'a str) -> Self {
        Self {
            pages,
            when,
            roots: Vec::new(),
            expected: Stats::default(),
            errors: 0,
            seeds: 0,
        }
    }

    /// What the OS has given for blocks: bytes mapped (as `os` counted them, less the
    /// allocator's bookkeeping, and as the allocator did), and bytes in the cache.
    fn os_side(&self) -> (usize, usize, usize) {
        let pages = self.pages;
        (
            fault::live() - pages.bytes_metadata(),
            pages.bytes_mapped(),
            pages.bytes_cached(),
        )
    }

    /// Checks `stats()` against the model.
    #[track_caller]
    fn check_stats(&self) {
        assert_eq!(
            self.pages.stats(),
            self.expected,
            "{}: stats() is off",
            self.when
        );
    }

    /// Makes a block with `call`; on `AllocError`, counts the error, checks that the
    /// call changed nothing (`stats()` and what is mapped), and gives `None`.
    fn attempt(
        &mut self,
        call: impl FnOnce(&'a MmapPages) -> Result<NonNull<u8>, AllocError>,
    ) -> Option<NonNull<u8>> {
        let before = self.os_side();
        match call(self.pages) {
            Ok(ptr) => Some(ptr),
            Err(AllocError) => {
                self.errors += 1;
                assert_eq!(
                    self.os_side(),
                    before,
                    "{}: a failed call changed what the OS gave",
                    self.when
                );
                self.check_stats();
                None
            }
        }
    }

    /// Records a fresh block of `layout` at `ptr`: checks its alignment, fills it.
    fn made(&mut self, ptr: NonNull<u8>, layout: Layout) -> Block {
        let align = layout.align().max(linked_alloc::MIN_ALIGN);
        let misaligned = ptr.as_ptr() as usize % align;
        assert_eq!(misaligned, 0, "{}: {layout:?} misaligned", self.when);
        self.seeds += 1;
        let block = Block {
            ptr,
            size: layout.size(),
            align: layout.align(),
            seed: self.seeds,
        };
        // SAFETY: `ptr` is a fresh block of `layout.size()` bytes that only we use.
        unsafe { fill(ptr, block.size, block.seed) };
        block
    }

    /// A new root; `None` (an error counted) if the allocator refuses it.
    fn root(&mut self, size: usize, align: usize) -> Option<usize> {
        let layout = Layout::from_size_align(size, align).unwrap();
        let ptr = self.attempt(|a| a.allocate_root(layout))?;
        let block = self.made(ptr, layout);
        self.roots.push(Some(std::vec![block]));
        self.expected.roots += 1;
        self.expected.bytes_in_use += size;
        self.check_stats();
        Some(self.roots.len() - 1)
    }

    /// A new child of block `parent` of `root` (if the root was made); `None` if the
    /// root was not made or the allocator refuses the child (an error counted).
    fn child(
        &mut self,
        root: Option<usize>,
        parent: usize,
        size: usize,
        align: usize,
    ) -> Option<usize> {
        let layout = Layout::from_size_align(size, align).unwrap();
        let parent = self.roots[root?].as_ref().unwrap()[parent].ptr;
        // SAFETY: `parent` is a live block of a live root of `pages`.
        let ptr = self.attempt(|a| unsafe { a.allocate_child(parent, layout) })?;
        let block = self.made(ptr, layout);
        self.expected.children += 1;
        self.expected.bytes_in_use += size;
        self.check_stats();
        let blocks = self.roots[root?].as_mut().unwrap();
        blocks.push(block);
        Some(blocks.len() - 1)
    }

    /// Grows block `index` of `root` to `new_size` in place, which must succeed (the
    /// workload grows only blocks that can: see [`workload`]), and refills it.
    fn grow(&mut self, root: usize, index: usize, new_size: usize) {
        let blocks = self.roots[root].as_mut().unwrap();
        let (r, b) = (blocks[0].ptr, blocks[index]);
        let layout = Layout::from_size_align(b.size, b.align).unwrap();
        // SAFETY: `r` is a live root of `pages` and `b` a live block of it, of `layout`.
        let grown = unsafe { self.pages.resize_in_place(r, b.ptr, layout, new_size) };
        let when = self.when;
        assert!(
            grown,
            "{when}: block {index} of root {root} did not grow in place"
        );
        // SAFETY: `b` is live, now of `new_size` bytes that only we use; its first
        // `b.size` hold its pattern.
        unsafe {
            check(b.ptr, b.size, b.seed);
            fill(b.ptr, new_size, b.seed);
        }
        blocks[index].size = new_size;
        self.expected.bytes_in_use = self.expected.bytes_in_use - b.size + new_size;
        self.check_stats();
    }

    /// Checks every block of `root` and frees it.
    fn free(&mut self, root: usize) {
        let blocks = self.roots[root].take().unwrap();
        for b in &blocks {
            // SAFETY: `b` is a live block of `b.size` bytes, filled with its pattern.
            unsafe { check(b.ptr, b.size, b.seed) };
            self.expected.bytes_in_use -= b.size;
        }
        // SAFETY: `blocks[0]` is a live root of `pages`; its blocks are not used after.
        unsafe { self.pages.free_root(blocks[0].ptr) };
        self.expected.roots -= 1;
        self.expected.children -= blocks.len() - 1;
        self.check_stats();
    }
}

/// Maps every way `MmapPages` does (small blocks, chunks of children that double, big
/// children and span roots in pages of a segment, huge blocks in mappings of their own),
/// grows blocks in place where that is certain to work, frees everything, and returns
/// how many calls returned `AllocError`. It goes on after an error, skipping what needed
/// the block that was refused.
fn workload(pages: &MmapPages, when: &str) -> usize {
    let max_align = pages.max_align();
    let huge = SEGMENT_SIZE / 2 + PAGE_SIZE;
    let span = PAGE_SIZE * 3;
    let mut w = Work::new(pages, when);
    // A small root, grown within its block (40 bytes and the header take 64).
    let a = w.root(40, 8);
    if let Some(a) = a {
        w.grow(a, 0, 48);
    }
    // Children filling several chunks, every other one a child of the previous child.
    let mut parent = 0;
    for i in 0..60 {
        if let Some(c) = w.child(a, parent, 1000 + i, 8) {
            parent = if i % 2 == 0 { c } else { 0 };
        }
    }
    // Over-aligned children, up to the most of all.
    for _ in 0..3 {
        w.child(a, 0, 100, 1024);
    }
    w.child(a, 0, 10, max_align);
    // A big child (a block of its own, in pages of a segment) and a huge one.
    w.child(a, 0, BIG_CHILD + 1, 8);
    w.child(a, 0, huge, 8);
    // A span root, grown within its pages, then a child: its first chunk.
    let b = w.root(span - 100, 16);
    if let Some(b) = b {
        w.grow(b, 0, span - 16);
    }
    w.child(b, 0, 300, 16);
    // A huge root, grown within its mapping.
    let h = w.root(huge, 16);
    if let Some(h) = h {
        w.grow(h, 0, huge + 100);
    }
    // A root aligned to the most, and a child aligned to a page.
    let c = w.root(8, max_align);
    w.child(c, 0, 5000, 4096);
    // A zero-size root whose first child grows while it is the last one of its lane.
    let d = w.root(0, 1);
    if let (Some(d), Some(y)) = (d, w.child(d, 0, 64, 8)) {
        w.grow(d, y, 200);
    }
    // Free the first roots: their pages go back, segments to the cache (up to the
    // limit), then a new root and its chunks come from what is mapped first.
    for r in [a, h].into_iter().flatten() {
        w.free(r);
    }
    let e = w.root(100, 8);
    for i in 0..30 {
        w.child(e, 0, 1500 + i, 16);
    }
    for root in 0..w.roots.len() {
        if w.roots[root].is_some() {
            w.free(root);
        }
    }
    w.errors
}

/// After a workload: nothing live; once the cache is trimmed, nothing mapped for blocks,
/// and what `os` saw mapped since `os_base` is the allocator's bookkeeping.
#[track_caller]
fn assert_all_back(pages: &MmapPages, os_base: usize, when: &str) {
    assert_eq!(
        pages.stats(),
        Stats::default(),
        "{when}: stats() did not come back"
    );
    assert!(pages.bytes_cached() <= pages.cache_limit() * SEGMENT_SIZE);
    let os_mapped = fault::live().wrapping_sub(os_base);
    assert_eq!(
        os_mapped,
        pages.bytes_mapped() + pages.bytes_metadata(),
        "{when}: the OS and the allocator disagree"
    );
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0, "{when}: a mapping leaked");
    assert_eq!(
        fault::live().wrapping_sub(os_base),
        pages.bytes_metadata(),
        "{when}: the OS and the allocator disagree after trimming"
    );
}

/// For every k (a sample under Miri) along the workload's OS requests and one past
/// them, on a fresh allocator per k: refuses the k-th request (`mode`), then checks
/// what the [module docs](self) say.
fn refuse_each_request(mode: Mode) {
    for cache_limit in [0, 2] {
        let fresh = || MmapPages::new().with_cache_limit(cache_limit);
        // The dry run: how many OS requests the workload makes.
        let (os_base, pages) = (fault::live(), fresh());
        let when = format!("cache limit {cache_limit}, {mode:?}, dry run");
        fault::disarm();
        let before = fault::requests();
        assert_eq!(workload(&pages, &when), 0, "{when}: an error");
        let requests = fault::requests() - before;
        assert!(requests >= 5, "{when}: only {requests} requests");
        assert_all_back(&pages, os_base, &when);
        drop(pages);
        assert_eq!(fault::live(), os_base, "{when}: dropping leaked a mapping");

        let ks: Vec<usize> = if cfg!(miri) {
            std::vec![0, requests / 2, requests - 1, requests]
        } else {
            (0..=requests).collect()
        };
        for k in ks {
            let (os_base, pages) = (fault::live(), fresh());
            let when = format!("cache limit {cache_limit}, {mode:?}, k = {k} of {requests}");
            fault::fail_after(k, mode);
            let errors = workload(&pages, &when);
            fault::disarm();
            match (k < requests, mode) {
                (false, _) => assert_eq!(errors, 0, "{when}: an error with no refusal"),
                // A refused heap mapping is absorbed: the thread uses the fallback heap.
                (true, Mode::Once) => assert!(errors <= 1, "{when}: one refusal, {errors} errors"),
                (true, Mode::FromThenOn) => assert!(errors >= 1, "{when}: refusal unseen"),
            }
            assert_all_back(&pages, os_base, &when);
            // Still usable: the whole workload again, on the same allocator.
            let when = format!("{when}, run again");
            assert_eq!(workload(&pages, &when), 0, "{when}: an error");
            assert_all_back(&pages, os_base, &when);
            drop(pages);
            assert_eq!(fault::live(), os_base, "{when}: a mapping leaked");
        }
    }
}

#[test]
fn mmap_refused_once_at_each_request() {
    refuse_each_request(Mode::Once);
}

#[test]
fn mmap_refused_from_then_on_at_each_request() {
    refuse_each_request(Mode::FromThenOn);
}

/// `munmap` refused (as the kernel does once the process holds `vm.max_map_count`
/// areas): the memory stays mapped and counted, is reused, and goes back later.
#[test]
fn a_refused_munmap_keeps_the_memory_counted_and_reused() {
    let os_base = fault::live();
    let pages = MmapPages::new().with_cache_limit(0);
    let huge = SEGMENT_SIZE / 2 + PAGE_SIZE;
    let big = Layout::from_size_align(SEGMENT_SIZE / 2 - PAGE_SIZE, 8).unwrap();
    // Two segments: freeing the second one's root empties it, and with no cache it
    // would be unmapped, but the OS refuses.
    let a = pages.allocate_root(big).unwrap();
    let b = pages.allocate_root(big).unwrap();
    let c = pages.allocate_root(big).unwrap();
    let h = pages
        .allocate_root(Layout::from_size_align(huge, 8).unwrap())
        .unwrap();
    let mapped = pages.bytes_mapped();
    fault::refuse_unmaps(2);
    // SAFETY: live roots, not used afterwards.
    unsafe {
        pages.free_root(c);
        pages.free_root(h);
    }
    assert_eq!(pages.unmap_failures(), 2);
    assert_eq!(
        pages.bytes_mapped(),
        mapped,
        "the refused mappings stay counted"
    );
    assert!(pages.bytes_cached() >= SEGMENT_SIZE + huge);
    assert_eq!(
        fault::live() - os_base,
        pages.bytes_mapped() + pages.bytes_metadata()
    );
    // The kept segment serves the next request: no new mapping.
    let requests = fault::requests();
    let d = pages.allocate_root(big).unwrap();
    assert_eq!(fault::requests(), requests, "reused, not mapped again");
    // SAFETY: live roots, not used afterwards.
    unsafe {
        pages.free_root(a);
        pages.free_root(b);
        pages.free_root(d);
    }
    // Trimming tries again, and this time the OS takes everything back.
    pages.trim_cache();
    assert_eq!((pages.bytes_mapped(), pages.bytes_cached()), (0, 0));
    drop(pages);
    assert_eq!(fault::live(), os_base);
}
