//! [`FailingAt<B>`]: a backend that forwards to `B` but refuses its k-th allocation
//! request (`allocate_root`, `allocate_child`, or a growing `resize_in_place`), once,
//! from then on, or by really filling a bounded backend first ([`Mode`]). It injects
//! out-of-memory at the trait's boundary, which is what the front end, the `Root`
//! handle and the collections see; a failure inside a backend (its k-th request to the
//! OS) is [`os_fault`](crate::os_fault)'s job.
//!
//! ```
//! use core::alloc::Layout;
//! use linked_alloc::LinkedAllocator;
//! use linked_alloc_system::SystemHeap;
//! use linked_alloc_testkit::failing::{FailingAt, Mode, Refused};
//!
//! let heap = FailingAt::new(SystemHeap::new(), Mode::Once, 1);
//! let layout = Layout::new::<u64>();
//! let root = heap.allocate_root(layout)?;
//! // SAFETY: `root` is a live root of `heap`.
//! assert!(unsafe { heap.allocate_child(root, layout) }.is_err());
//! assert_eq!(heap.first_refused(), Some(Refused::Block));
//! // SAFETY: as above; nothing uses its blocks afterwards.
//! unsafe { heap.free_root(root) };
//! assert!(heap.stats().is_empty());
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```

use core::alloc::Layout;
use core::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use linked_alloc::{AllocError, BlockStatus, LinkedAllocator, Stats};

/// How [`FailingAt`] refuses requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only the k-th request fails.
    Once,
    /// The k-th request and every later one fail.
    FromThenOn,
    /// Just before the k-th request, the backend is filled with other roots until it
    /// refuses even a zero-size block; the request then goes to the full backend, and
    /// the filling roots are freed. Only for a bounded backend (a pool): it panics if
    /// the backend does not run out.
    Exhaust,
}

/// What kind of request was refused first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `allocate_root` or `allocate_child`: the caller must see an error.
    Block,
    /// A growing `resize_in_place`: the caller falls back to a new block.
    Resize,
}

/// No request is chosen to fail.
const NONE: usize = usize::MAX;

/// A backend that refuses its k-th allocation request (see [`Mode`] and the
/// [module docs](self)).
#[derive(Debug)]
pub struct FailingAt<B> {
    inner: B,
    mode: Mode,
    /// The request to refuse (0-based), [`NONE`] for none.
    fail_at: AtomicUsize,
    /// Requests so far.
    requests: AtomicUsize,
    /// Requests refused so far.
    refused: AtomicUsize,
    /// 0: none refused yet, 1: the first refused was a block, 2: a resize.
    first: AtomicUsize,
}

impl<B: LinkedAllocator> FailingAt<B> {
    /// `inner`, refusing its request number `fail_at` (0-based; `usize::MAX`: none) as
    /// `mode` says.
    ///
    /// ```
    /// use linked_alloc_system::SystemHeap;
    /// use linked_alloc_testkit::failing::{FailingAt, Mode};
    ///
    /// let never = FailingAt::new(SystemHeap::new(), Mode::Once, usize::MAX);
    /// assert_eq!(never.requests(), 0);
    /// ```
    pub fn new(inner: B, mode: Mode, fail_at: usize) -> Self {
        Self {
            inner,
            mode,
            fail_at: AtomicUsize::new(fail_at),
            requests: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            first: AtomicUsize::new(0),
        }
    }

    /// The backend it forwards to.
    ///
    /// ```
    /// use linked_alloc::LinkedAllocator;
    /// use linked_alloc_system::SystemHeap;
    /// use linked_alloc_testkit::failing::{FailingAt, Mode};
    ///
    /// let heap = FailingAt::new(SystemHeap::new(), Mode::Once, 0);
    /// assert!(heap.inner().stats().is_empty());
    /// ```
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// No more failures.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use linked_alloc::LinkedAllocator;
    /// use linked_alloc_system::SystemHeap;
    /// use linked_alloc_testkit::failing::{FailingAt, Mode};
    ///
    /// let heap = FailingAt::new(SystemHeap::new(), Mode::FromThenOn, 0);
    /// assert!(heap.allocate_root(Layout::new::<u8>()).is_err());
    /// heap.disarm();
    /// let root = heap.allocate_root(Layout::new::<u8>())?;
    /// // SAFETY: `root` is a live root of `heap`.
    /// unsafe { heap.free_root(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn disarm(&self) {
        self.fail_at.store(NONE, Relaxed);
    }

    /// Arms it again: the next `n` requests go through, and the one after them is
    /// refused as [`Mode`] says (with [`Mode::FromThenOn`], every later one too). A
    /// budget of `n` more allocations.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use linked_alloc::LinkedAllocator;
    /// use linked_alloc_system::SystemHeap;
    /// use linked_alloc_testkit::failing::{FailingAt, Mode};
    ///
    /// let heap = FailingAt::new(SystemHeap::new(), Mode::FromThenOn, 0);
    /// heap.fail_after(1);
    /// let root = heap.allocate_root(Layout::new::<u8>())?;
    /// assert!(heap.allocate_root(Layout::new::<u8>()).is_err());
    /// // SAFETY: `root` is a live root of `heap`.
    /// unsafe { heap.free_root(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn fail_after(&self, n: usize) {
        let at = self.requests.load(Relaxed).saturating_add(n);
        self.fail_at.store(at, Relaxed);
    }

    /// How many allocation requests it has seen, refused ones included (a dry run tells
    /// how many a workload makes).
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use linked_alloc::LinkedAllocator;
    /// use linked_alloc_system::SystemHeap;
    /// use linked_alloc_testkit::failing::{FailingAt, Mode};
    ///
    /// let heap = FailingAt::new(SystemHeap::new(), Mode::Once, 0);
    /// assert!(heap.allocate_root(Layout::new::<u8>()).is_err());
    /// assert_eq!((heap.requests(), heap.refused()), (1, 1));
    /// ```
    pub fn requests(&self) -> usize {
        self.requests.load(Relaxed)
    }

    /// How many requests it has refused (see [`requests`](Self::requests)).
    pub fn refused(&self) -> usize {
        self.refused.load(Relaxed)
    }

    /// What kind of request it refused first, if any (see the [module docs](self)).
    pub fn first_refused(&self) -> Option<Refused> {
        match self.first.load(Relaxed) {
            0 => None,
            1 => Some(Refused::Block),
            _ => Some(Refused::Resize),
        }
    }

    /// Counts a request; says whether to refuse it (for `Exhaust`, whether to fill the
    /// backend first).
    fn refuse(&self, kind: Refused) -> bool {
        let k = self.requests.fetch_add(1, Relaxed);
        let at = self.fail_at.load(Relaxed);
        let refuse = match self.mode {
            Mode::Once | Mode::Exhaust => k == at,
            Mode::FromThenOn => k >= at,
        };
        if refuse && self.mode != Mode::Exhaust {
            self.note(kind);
        }
        refuse
    }

    fn note(&self, kind: Refused) {
        self.refused.fetch_add(1, Relaxed);
        let code = if kind == Refused::Block { 1 } else { 2 };
        let _ = self.first.compare_exchange(0, code, Relaxed, Relaxed);
    }

    /// Runs `request` on a backend filled to the brim, then frees the filling; notes a
    /// refusal if the request failed. `failed` tells a failure from the result.
    fn on_full_backend<T>(
        &self,
        kind: Refused,
        request: impl FnOnce() -> T,
        failed: impl Fn(&T) -> bool,
    ) -> T {
        let mut filling = std::vec::Vec::new();
        let mut size = 1usize << 20;
        loop {
            match self
                .inner
                .allocate_root(Layout::from_size_align(size, 1).expect("valid"))
            {
                Ok(p) => filling.push(p),
                Err(_) if size == 0 => break,
                Err(_) => size /= 2,
            }
            assert!(
                filling.len() < 1 << 20,
                "the backend does not run out: not a pool"
            );
        }
        let result = request();
        if failed(&result) {
            self.note(kind);
        }
        for p in filling {
            // SAFETY: `p` is a live root of `inner` made just above, with no children.
            unsafe { self.inner.free_root(p) };
        }
        result
    }
}

// SAFETY: every call forwards to `inner` (which keeps the contract) with the caller's
// arguments unchanged, or refuses an allocation with `AllocError` (or a resize with
// `false`) before touching anything, which the contract allows at any time.
unsafe impl<B: LinkedAllocator> LinkedAllocator for FailingAt<B> {
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if self.refuse(Refused::Block) {
            if self.mode == Mode::Exhaust {
                return self.on_full_backend(
                    Refused::Block,
                    || self.inner.allocate_root(layout),
                    Result::is_err,
                );
            }
            return Err(AllocError);
        }
        self.inner.allocate_root(layout)
    }

    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        if self.refuse(Refused::Block) {
            if self.mode == Mode::Exhaust {
                return self.on_full_backend(
                    Refused::Block,
                    // SAFETY: the caller's precondition (`parent` live), forwarded; the
                    // filling roots are other roots, so `parent`'s root is untouched.
                    || unsafe { self.inner.allocate_child(parent, layout) },
                    Result::is_err,
                );
            }
            return Err(AllocError);
        }
        // SAFETY: the caller's precondition, forwarded.
        unsafe { self.inner.allocate_child(parent, layout) }
    }

    unsafe fn free_root(&self, root: NonNull<u8>) {
        // SAFETY: the caller's precondition, forwarded.
        unsafe { self.inner.free_root(root) }
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    unsafe fn resize_in_place(
        &self,
        root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        if new_size > layout.size() && self.refuse(Refused::Resize) {
            if self.mode == Mode::Exhaust {
                return self.on_full_backend(
                    Refused::Resize,
                    // SAFETY: the caller's precondition, forwarded; the filling roots are
                    // other roots, so `root` and `block` are untouched.
                    || unsafe { self.inner.resize_in_place(root, block, layout, new_size) },
                    |done| !done,
                );
            }
            return false;
        }
        // SAFETY: the caller's precondition, forwarded.
        unsafe { self.inner.resize_in_place(root, block, layout, new_size) }
    }

    unsafe fn reclaim_child(&self, root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's precondition, forwarded.
        unsafe { self.inner.reclaim_child(root, child, layout) }
    }

    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        // SAFETY: the caller's precondition, forwarded.
        unsafe { self.inner.block_status(block) }
    }
}
