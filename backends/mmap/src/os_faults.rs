//! OS failures inside the backend: the k-th `mmap` refused (through [`fault`]), for every
//! k along a workload that maps every way `MmapPages` does (a root's run, further runs
//! of children, big children and big roots in mappings of their own, the cache in
//! between). For each k and each [`Mode`], with a cache limit of 0 and of 2 runs:
//! - the failure reaches the caller: some call returns `AllocError` (exactly one with
//!   [`Mode::Once`]), and none once k is past the workload's last request;
//! - a failed call changes nothing: neither `stats()` nor what is mapped (as `os`
//!   counts it, `bytes_mapped()`, the cache); and `stats()` follows a model after
//!   every call;
//! - nothing leaks: once the workload has freed what it made, `stats()` is empty, every
//!   mapped byte is in the cache (none with a cache limit of 0), `bytes_mapped()` is
//!   what `os` saw mapped and not unmapped, and trimming the cache leaves nothing
//!   mapped;
//! - nothing is corrupted: every block's pattern is intact when its root is freed;
//! - the allocator stays usable: disarmed, the workload runs to the end on it again.
//!
//! The workload carries on after an error, skipping what needed the failed block, so a
//! refusal in its middle is followed by requests served from runs already mapped, from
//! the cache, and (with [`Mode::Once`]) from the OS again. Only the owner thread's paths
//! are taken: the countdown is per thread.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::vec::Vec;

use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{AllocError, LinkedAllocator, Stats};

use crate::MmapPages;
use crate::os::fault::{self, Mode};

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

    /// What the OS has given: bytes mapped (as `os` counted them, and as the allocator
    /// did), and runs in the cache.
    fn os_side(&self) -> (usize, usize, usize) {
        let pages = self.pages;
        (fault::live(), pages.bytes_mapped(), pages.cached_runs())
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

/// Maps every way `MmapPages` does (for 16 KiB runs: blocks over 4 KiB or aligned to
/// more than 1 KiB are big), grows blocks in place where that is certain to work, frees
/// everything, and returns how many calls returned `AllocError`. It goes on after an
/// error, skipping what needed the block that was refused.
fn workload(pages: &MmapPages, when: &str) -> usize {
    assert_eq!(pages.run_size(), 16 << 10);
    let max_align = pages.max_align();
    let mut w = Work::new(pages, when);
    // A root in a run of its own, grown while it is the last block of its run.
    let a = w.root(40, 8);
    if let Some(a) = a {
        w.grow(a, 0, 400);
    }
    // Children filling three runs, every other one a child of the previous child.
    let mut parent = 0;
    for i in 0..40 {
        if let Some(c) = w.child(a, parent, 1000 + i, 8) {
            parent = if i % 2 == 0 { c } else { 0 };
        }
    }
    // Over-aligned children: the most a run carves (1 KiB), and the most of all.
    for _ in 0..3 {
        w.child(a, 0, 100, 1024);
    }
    w.child(a, 0, 10, max_align);
    // A big child, grown within its mapping (8 KiB of pages) while that is the newest of
    // its root.
    if let (Some(a), Some(c)) = (a, w.child(a, 0, 6000, 8)) {
        w.grow(a, c, 8000);
    }
    // A big root, grown within its mapping (the header and 18 000 bytes take 20 KiB of
    // pages, which are certain to follow the header), then a child: its first run.
    let b = w.root(18_000, 16);
    if let Some(b) = b {
        w.grow(b, 0, 20_000);
    }
    w.child(b, 0, 300, 16);
    // A root aligned to the most, and a big child aligned to a page.
    let c = w.root(8, max_align);
    w.child(c, 0, 5000, 4096);
    // A zero-size root whose first child grows while it is the last block of the run.
    let d = w.root(0, 1);
    if let (Some(d), Some(y)) = (d, w.child(d, 0, 64, 8)) {
        w.grow(d, y, 2000);
    }
    // Free the first root: its runs go to the cache (up to the limit), then a new root
    // and its runs come from the cache first, the OS next.
    if let Some(a) = a {
        w.free(a);
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

/// After a workload: nothing live, every mapped byte in the cache (within the limit),
/// and the allocator's count of mapped bytes is what `os` saw mapped since `os_base`.
#[track_caller]
fn assert_all_back(pages: &MmapPages, os_base: usize, when: &str) {
    assert_eq!(
        pages.stats(),
        Stats::default(),
        "{when}: stats() did not come back"
    );
    let (mapped, cached) = (pages.bytes_mapped(), pages.bytes_cached());
    assert_eq!(mapped, cached, "{when}: a mapping leaked (mapped, cached)");
    let os_mapped = fault::live().wrapping_sub(os_base);
    assert_eq!(
        os_mapped, mapped,
        "{when}: the OS and the allocator disagree"
    );
    assert!(pages.cached_runs() <= pages.cache_limit());
}

/// For every k (a sample under Miri) along the workload's OS requests and one past
/// them, on a fresh allocator per k: refuses the k-th request (`mode`), then checks
/// what the [module docs](self) say.
fn refuse_each_request(mode: Mode) {
    for cache_limit in [0, 2] {
        let fresh = || MmapPages::with_run_size(16 << 10).with_cache_limit(cache_limit);
        // The dry run: how many OS requests the workload makes.
        let (os_base, pages) = (fault::live(), fresh());
        let when = format!("cache limit {cache_limit}, {mode:?}, dry run");
        fault::disarm();
        let before = fault::requests();
        assert_eq!(workload(&pages, &when), 0, "{when}: an error");
        let requests = fault::requests() - before;
        assert!(requests >= 10, "{when}: only {requests} requests");
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
                (true, Mode::Once) => assert_eq!(errors, 1, "{when}: one refusal, one error"),
                (true, Mode::FromThenOn) => assert!(errors >= 1, "{when}: refusal unseen"),
            }
            assert_all_back(&pages, os_base, &when);
            if cache_limit == 0 {
                assert_eq!(pages.bytes_mapped(), 0, "{when}: a mapping leaked");
            }
            // Still usable: the whole workload again, on the same allocator.
            let when = format!("{when}, run again");
            assert_eq!(workload(&pages, &when), 0, "{when}: an error");
            assert_all_back(&pages, os_base, &when);
            pages.trim_cache();
            assert_eq!(pages.bytes_mapped(), 0, "{when}: a mapping leaked");
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
