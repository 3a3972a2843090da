//! The OS-fault workload, one body for every backend: the k-th request to the OS
//! refused (through [`os_fault`]), for every k along a workload that makes every shape
//! of block the backend has. For each k and each [`Mode`]:
//! - the failure reaches the caller: some call returns `AllocError` (exactly one with
//!   [`Mode::Once`], or at most one where the backend may serve a refused request
//!   another way: [`OsFaultSubject::MAY_ABSORB`]), and none once k is past the
//!   workload's last request;
//! - a failed call changes nothing: neither `stats()` nor what the OS has given
//!   ([`OsFaultSubject::os_side`]); and `stats()` follows a model after every call;
//! - nothing leaks: once the workload has freed what it made, `stats()` is empty and
//!   [`OsFaultSubject::assert_os_back`] holds;
//! - nothing is corrupted: every block's pattern is intact when its root is freed;
//! - the allocator stays usable: disarmed, the workload runs to the end on it again,
//!   then [`OsFaultSubject::finish`] checks what is left.
//!
//! A workload carries on after an error, skipping what needed the failed block: it is
//! written with a [`Work`], whose calls return `None` for what was refused.
//!
//! The backend supplies only what differs, by implementing [`OsFaultSubject`] in its
//! unit tests (which reach this crate as a dev-dependency); its allocator asks
//! [`os_fault::should_fail`] before each OS request and counts what it acquires and
//! releases:
//!
//! ```
//! use linked_alloc::LinkedAllocator;
//! use linked_alloc_system::SystemHeap;
//! use linked_alloc_testkit::os_fault::{self, Mode};
//! use linked_alloc_testkit::os_faults::{OsFaultSubject, Work, refuse_each_request};
//!
//! // A stand-in for a backend's own type (its unit tests implement the trait for it).
//! #[derive(Debug, Default)]
//! struct Heap(SystemHeap);
//! # // SAFETY: forwards every call to `SystemHeap` unchanged.
//! # unsafe impl LinkedAllocator for Heap {
//! #     fn allocate_root(&self, l: core::alloc::Layout) -> Result<core::ptr::NonNull<u8>, linked_alloc::AllocError> {
//! #         if os_fault::should_fail() { return Err(linked_alloc::AllocError) }
//! #         self.0.allocate_root(l)
//! #     }
//! #     unsafe fn allocate_child(&self, p: core::ptr::NonNull<u8>, l: core::alloc::Layout) -> Result<core::ptr::NonNull<u8>, linked_alloc::AllocError> {
//! #         if os_fault::should_fail() { return Err(linked_alloc::AllocError) }
//! #         // SAFETY: the caller's precondition, forwarded.
//! #         unsafe { self.0.allocate_child(p, l) }
//! #     }
//! #     // SAFETY: the caller's precondition, forwarded.
//! #     unsafe fn free_root(&self, r: core::ptr::NonNull<u8>) { unsafe { self.0.free_root(r) } }
//! #     fn stats(&self) -> linked_alloc::Stats { self.0.stats() }
//! # }
//!
//! impl OsFaultSubject for Heap {
//!     type OsSide = ();
//!     const MIN_REQUESTS: usize = 3;
//!     fn os_side(&self) {}
//!     fn shapes<'a>(&'a self, w: &mut Work<'a, Self>) -> Vec<usize> {
//!         let a = w.root(40, 8);
//!         w.children(a, 10);
//!         w.child(a, 0, 100, 16);
//!         w.child(a, 0, 0, 4096);
//!         a.into_iter().collect()
//!     }
//!     fn assert_os_back(&self, _os_base: usize, _when: &str) {}
//! }
//!
//! refuse_each_request(Mode::Once, "heap", Heap::default);
//! ```

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;
use std::vec::Vec;

use linked_alloc::conformance::pattern::{check, fill};
use linked_alloc::{AllocError, LinkedAllocator, Stats};

use crate::os_fault::{self, Mode};

/// What a backend supplies to [`refuse_each_request`]: only what differs from one
/// backend to another.
pub trait OsFaultSubject: LinkedAllocator + Sized {
    /// What the OS has given the allocator, in the figures a failed call must not
    /// change (for example [`os_fault::live`], and the allocator's own counts).
    type OsSide: PartialEq + fmt::Debug;

    /// The dry run must see at least this many OS requests: a check that the workload
    /// reaches the OS as often as it means to.
    const MIN_REQUESTS: usize;

    /// Whether a refused request may be served another way (a backend that falls back
    /// on memory it has when the OS refuses its bookkeeping): then [`Mode::Once`] gives
    /// at most one error instead of exactly one.
    const MAY_ABSORB: bool = false;

    /// What the OS has given now (see [`OsSide`](Self::OsSide)).
    fn os_side(&self) -> Self::OsSide;

    /// Makes every shape of block the backend has with `w`, and returns the roots to
    /// free in the middle of the workload (their memory then serves what the workload
    /// makes next; the rest is freed at its end).
    fn shapes<'a>(&'a self, w: &mut Work<'a, Self>) -> Vec<usize>;

    /// After a workload freed all it made (`stats()` is checked empty already): asserts
    /// that nothing the OS gave leaked; `os_base` is [`os_fault::live`] from just
    /// before this allocator was made.
    fn assert_os_back(&self, os_base: usize, when: &str);

    /// At the end of each allocator's life, after its last workload: checks what is
    /// left (gives back caches, drops it, compares [`os_fault::live`] with `os_base`).
    /// By default, drops it and checks that nothing counted is left.
    #[track_caller]
    fn finish(self, os_base: usize, when: &str) {
        drop(self);
        assert_eq!(os_fault::live(), os_base, "{when}: something leaked");
    }
}

/// A block a workload made: where, how many bytes, its alignment and its pattern seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: NonNull<u8>,
    size: usize,
    align: usize,
    seed: usize,
}

/// What a workload holds: its live roots, each with its blocks (the root first), all
/// pattern-filled, the model of `stats()`, and how many calls returned `AllocError`.
/// Every call checks `stats()` against the model; a call that needs a block that was
/// refused does nothing and returns `None`.
#[derive(Debug)]
pub struct Work<'a, B> {
    alloc: &'a B,
    /// Which run of the workload this is, for failure messages.
    when: &'a str,
    /// `None` once freed.
    roots: Vec<Option<Vec<Block>>>,
    /// What `stats()` must say: checked after every call.
    expected: Stats,
    errors: usize,
    seeds: usize,
}

impl<'a, B: OsFaultSubject> Work<'a, B> {
    /// A workload on `alloc`, named `when` in failure messages.
    pub fn new(alloc: &'a B, when: &'a str) -> Self {
        Self {
            alloc,
            when,
            roots: Vec::new(),
            expected: Stats::default(),
            errors: 0,
            seeds: 0,
        }
    }

    /// How many calls returned `AllocError` so far.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// `count` children of `root` (if it was made) of 1000 bytes and more, aligned to 8,
    /// every other one a child of the previous: enough of them fill several chunks.
    ///
    /// # Panics
    /// If `root` was freed, or on any failed check.
    pub fn children(&mut self, root: Option<usize>, count: usize) {
        let mut parent = 0;
        for i in 0..count {
            if let Some(c) = self.child(root, parent, 1000 + i, 8) {
                parent = if i % 2 == 0 { c } else { 0 };
            }
        }
    }

    /// Checks `stats()` against the model.
    #[track_caller]
    fn check_stats(&self) {
        assert_eq!(
            self.alloc.stats(),
            self.expected,
            "{}: stats() is off",
            self.when
        );
    }

    /// Makes a block with `call`; on `AllocError`, counts the error, checks that the
    /// call changed nothing (`stats()` and what the OS gave), and gives `None`.
    fn attempt(
        &mut self,
        call: impl FnOnce(&'a B) -> Result<NonNull<u8>, AllocError>,
    ) -> Option<NonNull<u8>> {
        let before = self.alloc.os_side();
        match call(self.alloc) {
            Ok(ptr) => Some(ptr),
            Err(AllocError) => {
                self.errors += 1;
                assert_eq!(
                    self.alloc.os_side(),
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

    /// A new root of `size` bytes aligned to `align`; its index, or `None` (an error
    /// counted) if the allocator refuses it.
    ///
    /// # Panics
    /// If `size` and `align` make no [`Layout`], or on any failed check.
    pub fn root(&mut self, size: usize, align: usize) -> Option<usize> {
        let layout = Layout::from_size_align(size, align).unwrap();
        let ptr = self.attempt(|a| a.allocate_root(layout))?;
        let block = self.made(ptr, layout);
        self.roots.push(Some(std::vec![block]));
        self.expected.roots += 1;
        self.expected.bytes_in_use += size;
        self.check_stats();
        Some(self.roots.len() - 1)
    }

    /// A new child of block `parent` (0: the root itself) of `root`, if the root was
    /// made; its index in the root, or `None` if the root was not made or the allocator
    /// refuses the child (an error counted).
    ///
    /// # Panics
    /// If `size` and `align` make no [`Layout`], `root` was freed, or on any failed
    /// check.
    pub fn child(
        &mut self,
        root: Option<usize>,
        parent: usize,
        size: usize,
        align: usize,
    ) -> Option<usize> {
        let layout = Layout::from_size_align(size, align).unwrap();
        let parent = self.roots[root?].as_ref().unwrap()[parent].ptr;
        // SAFETY: `parent` is a live block of a live root of `alloc`.
        let ptr = self.attempt(|a| unsafe { a.allocate_child(parent, layout) })?;
        let block = self.made(ptr, layout);
        self.expected.children += 1;
        self.expected.bytes_in_use += size;
        self.check_stats();
        let blocks = self.roots[root?].as_mut().unwrap();
        blocks.push(block);
        Some(blocks.len() - 1)
    }

    /// Grows block `index` of `root` to `new_size` in place
    /// ([`LinkedAllocator::resize_in_place`]), which must succeed (the workload grows
    /// only blocks that can), and refills it.
    ///
    /// # Panics
    /// If the block does not grow in place, or on any failed check.
    pub fn grow(&mut self, root: usize, index: usize, new_size: usize) {
        let blocks = self.roots[root].as_mut().unwrap();
        let (r, b) = (blocks[0].ptr, blocks[index]);
        let layout = Layout::from_size_align(b.size, b.align).unwrap();
        // SAFETY: `r` is a live root of `alloc` and `b` a live block of it, of `layout`.
        let grown = unsafe { self.alloc.resize_in_place(r, b.ptr, layout, new_size) };
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

    /// Resizes root `root` to `new_size` with [`LinkedAllocator::reallocate_root`],
    /// which may move it. If it says `Some`, checks the kept bytes and refills the
    /// block at its new address; if it says `None`, checks that the call changed
    /// nothing (the block, `stats()`, what the OS gave), and counts an error if it made
    /// an OS request (that request was refused; a `None` with no request is the
    /// backend declining, as for a root with children). Does nothing if `root` was not
    /// made.
    ///
    /// # Panics
    /// If `root` was freed, or on any failed check.
    pub fn reallocate(&mut self, root: Option<usize>, new_size: usize) {
        let Some(root) = root else { return };
        let b = self.roots[root].as_ref().unwrap()[0];
        let layout = Layout::from_size_align(b.size, b.align).unwrap();
        let (os_before, requests) = (self.alloc.os_side(), os_fault::requests());
        // SAFETY: `b` is a live root of `alloc`, of `layout`, used by no one else.
        match unsafe { self.alloc.reallocate_root(b.ptr, layout, new_size) } {
            Some(moved) => {
                // SAFETY: `moved` is the live root, now of `new_size` bytes; its first
                // `min(b.size, new_size)` bytes are those it had.
                unsafe { check(moved, b.size.min(new_size), b.seed) };
                let new_layout = Layout::from_size_align(new_size, b.align).unwrap();
                let moved = self.made(moved, new_layout);
                self.expected.bytes_in_use = self.expected.bytes_in_use - b.size + new_size;
                self.roots[root].as_mut().unwrap()[0] = moved;
            }
            None => {
                // SAFETY: `b` is still live, of `b.size` bytes, holding its pattern.
                unsafe { check(b.ptr, b.size, b.seed) };
                assert_eq!(
                    self.alloc.os_side(),
                    os_before,
                    "{}: a refused reallocation changed what the OS gave",
                    self.when
                );
                if os_fault::requests() != requests {
                    self.errors += 1;
                }
            }
        }
        self.check_stats();
    }

    /// Checks every block of `root` and frees it.
    ///
    /// # Panics
    /// If `root` was freed already, or on any failed check.
    pub fn free(&mut self, root: usize) {
        let blocks = self.roots[root].take().unwrap();
        for b in &blocks {
            // SAFETY: `b` is a live block of `b.size` bytes, filled with its pattern.
            unsafe { check(b.ptr, b.size, b.seed) };
            self.expected.bytes_in_use -= b.size;
        }
        // SAFETY: `blocks[0]` is a live root of `alloc`; its blocks are not used after.
        unsafe { self.alloc.free_root(blocks[0].ptr) };
        self.expected.roots -= 1;
        self.expected.children -= blocks.len() - 1;
        self.check_stats();
    }

    /// Checks and frees every root still live, oldest first.
    pub fn free_all(&mut self) {
        for root in 0..self.roots.len() {
            if self.roots[root].is_some() {
                self.free(root);
            }
        }
    }
}

/// The workload on `alloc` (named `when` in failure messages): the backend's
/// [`shapes`](OsFaultSubject::shapes), the roots it names freed, then a new root with
/// children that come from what was freed, then everything freed. Returns how many
/// calls returned `AllocError`.
fn workload<B: OsFaultSubject>(alloc: &B, when: &str) -> usize {
    let mut w = Work::new(alloc, when);
    for root in alloc.shapes(&mut w) {
        w.free(root);
    }
    let e = w.root(100, 8);
    for i in 0..30 {
        w.child(e, 0, 1500 + i, 16);
    }
    w.free_all();
    w.errors()
}

/// After a workload: nothing live, and the backend's own check of what the OS gave.
#[track_caller]
fn assert_all_back<B: OsFaultSubject>(alloc: &B, os_base: usize, when: &str) {
    assert_eq!(
        alloc.stats(),
        Stats::default(),
        "{when}: stats() did not come back"
    );
    alloc.assert_os_back(os_base, when);
}

/// For every k (a sample under Miri) along the workload's OS requests and one past
/// them, on a fresh allocator per k (made by `fresh`): refuses the k-th request
/// (`mode`), then checks what the [module docs](self) say. `label` starts every failure
/// message.
///
/// # Panics
/// On any failed check.
pub fn refuse_each_request<B: OsFaultSubject>(mode: Mode, label: &str, fresh: impl Fn() -> B) {
    // The dry run: how many OS requests the workload makes.
    let (os_base, alloc) = (os_fault::live(), fresh());
    let when = format!("{label}, {mode:?}, dry run");
    os_fault::disarm();
    let before = os_fault::requests();
    assert_eq!(workload(&alloc, &when), 0, "{when}: an error");
    let requests = os_fault::requests() - before;
    assert!(
        requests >= B::MIN_REQUESTS,
        "{when}: only {requests} requests"
    );
    assert_all_back(&alloc, os_base, &when);
    alloc.finish(os_base, &when);

    let ks: Vec<usize> = if cfg!(miri) {
        std::vec![0, requests / 2, requests - 1, requests]
    } else {
        (0..=requests).collect()
    };
    for k in ks {
        let (os_base, alloc) = (os_fault::live(), fresh());
        let when = format!("{label}, {mode:?}, k = {k} of {requests}");
        os_fault::fail_after(k, mode);
        let errors = workload(&alloc, &when);
        os_fault::disarm();
        match (k < requests, mode) {
            (false, _) => assert_eq!(errors, 0, "{when}: an error with no refusal"),
            (true, Mode::Once) if B::MAY_ABSORB => {
                assert!(errors <= 1, "{when}: one refusal, {errors} errors");
            }
            (true, Mode::Once) => assert_eq!(errors, 1, "{when}: one refusal, one error"),
            (true, Mode::FromThenOn) => assert!(errors >= 1, "{when}: refusal unseen"),
        }
        assert_all_back(&alloc, os_base, &when);
        // Still usable: the whole workload again, on the same allocator.
        let when = format!("{when}, run again");
        assert_eq!(workload(&alloc, &when), 0, "{when}: an error");
        assert_all_back(&alloc, os_base, &when);
        alloc.finish(os_base, &when);
    }
}
