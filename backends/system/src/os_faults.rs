//! System-heap failures inside the backend: the k-th `System.alloc` refused (through
//! [`fault`]), for every k along a workload that makes every shape of block (roots,
//! children, children of children, big and over-aligned blocks; each is one `System`
//! allocation). For each k and each [`Mode`]:
//! - the failure reaches the caller: some call returns `AllocError` (exactly one with
//!   [`Mode::Once`]), and none once k is past the workload's last request;
//! - a failed call changes nothing: neither `stats()` nor the `System` allocations
//!   live; and `stats()` follows a model after every call;
//! - nothing leaks: once the workload has freed what it made, `stats()` is empty and
//!   as many `System` allocations are live as before;
//! - nothing is corrupted: every block's pattern is intact when its root is freed;
//! - the allocator stays usable: disarmed, the workload runs to the end on it again.
//!
//! The workload carries on after an error, skipping what needed the failed block.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::vec::Vec;

use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{AllocError, LinkedAllocator, Stats};

use crate::SystemHeap;
use crate::fault::{self, Mode};

/// A block the workload made: where, how many bytes, and its pattern seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: NonNull<u8>,
    size: usize,
    seed: usize,
}

/// What the workload holds: its live roots, each with its blocks (the root first), all
/// pattern-filled, the model of `stats()`, and how many calls returned `AllocError`.
struct Work<'a> {
    heap: &'a SystemHeap,
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
    fn new(heap: &'a SystemHeap, when: &'a str) -> Self {
        Self {
            heap,
            when,
            roots: Vec::new(),
            expected: Stats::default(),
            errors: 0,
            seeds: 0,
        }
    }

    /// What the system heap has given: `System` allocations live.
    fn os_side(&self) -> usize {
        fault::live()
    }

    /// Checks `stats()` against the model.
    #[track_caller]
    fn check_stats(&self) {
        assert_eq!(
            self.heap.stats(),
            self.expected,
            "{}: stats() is off",
            self.when
        );
    }

    /// Makes a block with `call`; on `AllocError`, counts the error, checks that the
    /// call changed nothing (`stats()` and the live allocations), and gives `None`.
    fn attempt(
        &mut self,
        call: impl FnOnce(&'a SystemHeap) -> Result<NonNull<u8>, AllocError>,
    ) -> Option<NonNull<u8>> {
        let before = self.os_side();
        match call(self.heap) {
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
        // SAFETY: `parent` is a live block of a live root of `heap`.
        let ptr = self.attempt(|a| unsafe { a.allocate_child(parent, layout) })?;
        let block = self.made(ptr, layout);
        self.expected.children += 1;
        self.expected.bytes_in_use += size;
        self.check_stats();
        let blocks = self.roots[root?].as_mut().unwrap();
        blocks.push(block);
        Some(blocks.len() - 1)
    }

    /// Checks every block of `root` and frees it.
    fn free(&mut self, root: usize) {
        let blocks = self.roots[root].take().unwrap();
        for b in &blocks {
            // SAFETY: `b` is a live block of `b.size` bytes, filled with its pattern.
            unsafe { check(b.ptr, b.size, b.seed) };
            self.expected.bytes_in_use -= b.size;
        }
        // SAFETY: `blocks[0]` is a live root of `heap`; its blocks are not used after.
        unsafe { self.heap.free_root(blocks[0].ptr) };
        self.expected.roots -= 1;
        self.expected.children -= blocks.len() - 1;
        self.check_stats();
    }
}

/// The largest alignment the workload asks for: the heap has no limit of its own, and
/// 64 KiB is the most the fuzz targets ask.
const MAX_ALIGN: usize = 64 << 10;

/// A big block (in a `malloc` of its own mapping natively): 1 MiB, 128 KiB under Miri.
const BIG: usize = if cfg!(miri) { 128 << 10 } else { 1 << 20 };

/// Makes every shape of block, frees everything, and returns how many calls returned
/// `AllocError`. It goes on after an error, skipping what needed the block that was
/// refused.
fn workload(heap: &SystemHeap, when: &str) -> usize {
    let mut w = Work::new(heap, when);
    let a = w.root(40, 8);
    // Children, every other one a child of the previous child.
    let mut parent = 0;
    for i in 0..40 {
        if let Some(c) = w.child(a, parent, 1000 + i, 8) {
            parent = if i % 2 == 0 { c } else { 0 };
        }
    }
    // Over-aligned children, up to the most, and a big child.
    for align in [1024, 1024, 4096, MAX_ALIGN] {
        w.child(a, 0, 100, align);
    }
    w.child(a, 0, BIG, 8);
    // A big root with a child, a root aligned to the most with an over-aligned child,
    // and zero-size blocks.
    let b = w.root(BIG, 16);
    w.child(b, 0, 300, 16);
    let c = w.root(8, MAX_ALIGN);
    w.child(c, 0, 5000, 4096);
    let d = w.root(0, 1);
    w.child(d, 0, 0, 1);
    // Free the first root in the middle, then more.
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

/// After a workload: nothing live, no `System` allocation left behind.
#[track_caller]
fn assert_all_back(heap: &SystemHeap, live_before: usize, when: &str) {
    assert_eq!(
        heap.stats(),
        Stats::default(),
        "{when}: stats() did not come back"
    );
    let live = fault::live();
    assert_eq!(
        live, live_before,
        "{when}: a System allocation leaked (live, before)"
    );
}

/// For every k (a sample under Miri) along the workload's requests and one past them, on
/// a fresh allocator per k: refuses the k-th request (`mode`), then checks what the
/// [module docs](self) say.
fn refuse_each_request(mode: Mode) {
    let live = fault::live();
    // The dry run: how many requests the workload makes.
    let heap = SystemHeap::new();
    let when = format!("{mode:?}, dry run");
    fault::disarm();
    let before = fault::requests();
    assert_eq!(workload(&heap, &when), 0, "{when}: an error");
    let requests = fault::requests() - before;
    assert!(requests >= 80, "{when}: only {requests} requests");
    assert_all_back(&heap, live, &when);

    let ks: Vec<usize> = if cfg!(miri) {
        std::vec![0, requests / 2, requests - 1, requests]
    } else {
        (0..=requests).collect()
    };
    for k in ks {
        let heap = SystemHeap::new();
        let when = format!("{mode:?}, k = {k} of {requests}");
        fault::fail_after(k, mode);
        let errors = workload(&heap, &when);
        fault::disarm();
        match (k < requests, mode) {
            (false, _) => assert_eq!(errors, 0, "{when}: an error with no refusal"),
            (true, Mode::Once) => assert_eq!(errors, 1, "{when}: one refusal, one error"),
            (true, Mode::FromThenOn) => assert!(errors >= 1, "{when}: refusal unseen"),
        }
        assert_all_back(&heap, live, &when);
        // Still usable: the whole workload again, on the same allocator.
        let when = format!("{when}, run again");
        assert_eq!(workload(&heap, &when), 0, "{when}: an error");
        assert_all_back(&heap, live, &when);
    }
}

#[test]
fn system_alloc_refused_once_at_each_request() {
    refuse_each_request(Mode::Once);
}

#[test]
fn system_alloc_refused_from_then_on_at_each_request() {
    refuse_each_request(Mode::FromThenOn);
}
