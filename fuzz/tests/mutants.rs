//! The model must catch a broken backend: each mutant below breaks one promise of the
//! contract (in ways that stay memory-safe for the test itself), and the fuzz body must
//! panic on some of the pseudo-random inputs that the real backends pass.

use core::alloc::Layout;
use core::cell::{Cell, RefCell};
use core::ptr::NonNull;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use linked_alloc::{AllocError, Linked, LinkedAllocator, Stats};
use linked_alloc_fuzz::{Action, Config, decode, pseudo_random_input, run};
use linked_alloc_system::SystemHeap;

/// Which promise the mutant breaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bug {
    /// `stats()` counts one byte too many once a root has a child.
    StatsOff,
    /// A child no larger than the previous child gets the previous child's address.
    Overlap,
    /// Each new child writes one byte into the previous child.
    Scribble,
    /// `reclaim_child` keeps the child but counts its bytes as given back.
    ReclaimMiscounts,
    /// Roots made with an alignment of 256 or more come back only 16-aligned.
    Misalign,
}

#[derive(Debug)]
struct Mutant {
    inner: SystemHeap,
    bug: Bug,
    last_child: Cell<Option<(NonNull<u8>, usize)>>,
    uncounted: Cell<usize>,
    /// The roots handed out 16 bytes in (`Misalign`), as handed out: the front end may
    /// pass one back (`accounted_root` makes a child of it) before the model sees it.
    shifted: RefCell<HashSet<usize>>,
}

impl Mutant {
    /// The root `inner` made, for a root pointer this mutant handed out.
    fn unshift(&self, root: NonNull<u8>) -> NonNull<u8> {
        if self.shifted.borrow().contains(&(root.as_ptr() as usize)) {
            // SAFETY: `root` was handed out as a root of `inner` plus 16 bytes.
            unsafe { root.sub(16) }
        } else {
            root
        }
    }
}

// SAFETY: not a correct backend on purpose (see `Bug`); every pointer it returns is
// inside a live block of `inner` with at least the requested bytes, so the test's
// writes stay in bounds. It is used only by the test below, single-threaded.
unsafe impl LinkedAllocator for Mutant {
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.last_child.set(None);
        if self.bug == Bug::Misalign && layout.align() >= 256 {
            // A block of `align` more bytes, handed out 16 bytes in.
            let big = Layout::from_size_align(layout.size() + layout.align(), layout.align())
                .map_err(|_| AllocError)?;
            let p = self.inner.allocate_root(big)?;
            // SAFETY: `p` has `size + align >= size + 16` bytes.
            let shifted = unsafe { p.add(16) };
            self.shifted.borrow_mut().insert(shifted.as_ptr() as usize);
            return Ok(shifted);
        }
        self.inner.allocate_root(layout)
    }

    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: the caller's precondition, forwarded (a shifted root as `inner` made it).
        let p = unsafe { self.inner.allocate_child(self.unshift(parent), layout)? };
        let last = self.last_child.replace(Some((p, layout.size())));
        match (self.bug, last) {
            (Bug::Overlap, Some((q, n))) if layout.size() <= n && layout.size() > 0 => {
                self.last_child.set(Some((q, n)));
                Ok(q)
            }
            (Bug::Scribble, Some((q, n))) if n > 0 => {
                // SAFETY: `q` is the last child made, of `n > 0` bytes; `last_child` is
                // cleared whenever a root is freed, so its root, and `q`, are live.
                unsafe { q.as_ptr().write(q.as_ptr().read() ^ 0x55) };
                Ok(p)
            }
            _ => Ok(p),
        }
    }

    unsafe fn free_root(&self, root: NonNull<u8>) {
        self.last_child.set(None);
        let inner = self.unshift(root);
        self.shifted.borrow_mut().remove(&(root.as_ptr() as usize));
        // SAFETY: the caller's precondition, forwarded (a shifted root as `inner` made it).
        unsafe { self.inner.free_root(inner) }
    }

    fn stats(&self) -> Stats {
        let mut s = self.inner.stats();
        if self.bug == Bug::StatsOff && s.children > 0 {
            s.bytes_in_use += 1;
        }
        s.bytes_in_use -= self.uncounted.get();
        s
    }

    unsafe fn reclaim_child(
        &self,
        _root: NonNull<u8>,
        _child: NonNull<u8>,
        layout: Layout,
    ) -> bool {
        if self.bug == Bug::ReclaimMiscounts {
            self.uncounted.set(self.uncounted.get() + layout.size());
        }
        false
    }
}

/// Whether the body panics on any of the first `inputs` pseudo-random inputs.
fn caught(bug: Bug, inputs: u64) -> bool {
    (0..inputs).any(|seed| {
        let data = pseudo_random_input(seed, (seed as usize * 37) % 2000);
        let heap = Linked::new(Mutant {
            inner: SystemHeap::new(),
            bug,
            last_child: Cell::new(None),
            uncounted: Cell::new(0),
            shifted: RefCell::new(HashSet::new()),
        });
        let mut actions = decode(&data);
        if matches!(bug, Bug::Overlap | Bug::Scribble) {
            // These break blocks the front end itself uses (node records, value
            // headers) where the sub-root actions make them: the test would then be
            // unsound. The actions on plain roots give the model every block.
            actions.retain(|a| !nested(a));
        }
        let r = catch_unwind(AssertUnwindSafe(|| run(&heap, Config::UNBOUNDED, &actions)));
        // A panicked run leaves roots live in `heap`: they leak, which is fine here.
        r.is_err()
    })
}

/// Whether an action uses the front end's tree (sub-roots, values, reset, accounting).
fn nested(a: &Action) -> bool {
    matches!(
        a,
        Action::SubRoot { .. }
            | Action::AccountedRoot { .. }
            | Action::Value { .. }
            | Action::Reset { .. }
            | Action::SetLimit { .. }
            | Action::MoveUnder { .. }
            | Action::ForgetSubRoot { .. }
    )
}

const INPUTS: u64 = if cfg!(miri) { 4 } else { 200 };

/// One test per mutant: the body must catch it.
macro_rules! mutant_tests {
    ($($test:ident: $bug:ident,)*) => {$(
        #[test]
        fn $test() {
            assert!(caught(Bug::$bug, INPUTS));
        }
    )*};
}

mutant_tests! {
    wrong_stats_are_caught: StatsOff,
    overlapping_blocks_are_caught: Overlap,
    overwritten_blocks_are_caught: Scribble,
    a_miscounting_reclaim_is_caught: ReclaimMiscounts,
    misaligned_blocks_are_caught: Misalign,
}
