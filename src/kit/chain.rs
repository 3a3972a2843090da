//! An intrusive singly linked chain of [`Header`]s: every block of a root, starting
//! at the root. Insertion is lock-free; freeing walks the chain iteratively.
//!
//! A new child is linked right after its parent (the root or any child of it), which
//! is O(1) and keeps every block of the root on the one chain that starts at the root:
//! no walk to the end (Wine's `MAPIAllocateMore` walks, which is O(n²) for n
//! children), and no pointer to the root needed in each child's header.

use core::ptr::NonNull;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::Header;

/// Links `new` into the chain right after `after`. Lock-free: any number of threads may
/// link blocks after the same or different headers of one chain at once.
///
/// # Safety
/// `after` is a live header on a chain that is not being drained; `new` is a live
/// header that is on no chain yet and that no other thread uses until this returns.
#[inline]
pub unsafe fn link_after(after: NonNull<Header>, new: NonNull<Header>) {
    // SAFETY: both headers are live (the caller's precondition); the `next` fields are
    // atomics, so shared references to them are fine while other threads use them.
    let (after_next, new_next) = unsafe { (&(*after.as_ptr()).next, &(*new.as_ptr()).next) };
    let mut current = after_next.load(Relaxed);
    loop {
        new_next.store(current, Relaxed);
        // Release: whoever reads `new` from this link (the drain, with Acquire) sees
        // its header and its `next` as written above.
        match after_next.compare_exchange_weak(current, new.as_ptr(), Release, Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// Walks the chain that starts at `first`, calling `f` on each header (`first` too),
/// in chain order. Reads each header's link *before* calling `f` on it, so `f` may
/// free the block; uses constant stack whatever the length.
///
/// # Safety
/// `first` heads a chain of live headers, and no other thread links to or reads that
/// chain during the call. After `f(h)`, the walk does not touch `h` again.
#[inline]
pub unsafe fn drain(first: NonNull<Header>, mut f: impl FnMut(NonNull<Header>)) {
    let mut current = Some(first);
    while let Some(h) = current {
        // SAFETY: `h` is a live header of the chain (precondition), not yet given to `f`.
        let next = unsafe { (*h.as_ptr()).next.load(Acquire) };
        current = NonNull::new(next);
        f(h);
    }
}

/// Whether `header` is the last block of its chain: for a root, whether it has no
/// children. A backend asks it before moving a root (a root with children must not
/// move: its chain starts at its header).
///
/// The answer holds while no thread links a block after `header`; for a root, that is
/// while no thread allocates a child under it (the caller's side of the contract for
/// [`reallocate_root`](crate::LinkedAllocator::reallocate_root)).
///
/// ```
/// use core::alloc::Layout;
/// use core::ptr::NonNull;
/// use linked_alloc::kit::{chain, Header, Kind};
///
/// // Two blocks of 16-byte header + 16-byte payload, in a buffer aligned for headers.
/// #[repr(C, align(16))]
/// struct Blocks([u8; 64]);
/// let mut blocks = Blocks([0; 64]);
/// let base = NonNull::from(&mut blocks).cast::<u8>();
/// let layout = Layout::from_size_align(16, 16).unwrap();
/// // SAFETY: each payload has 16 writable, aligned bytes before it, in `blocks`.
/// let (root, child) = unsafe {
///     (Header::write(base.add(16), layout, Kind::Root),
///      Header::write(base.add(48), layout, Kind::Child))
/// };
/// // SAFETY: `root` is live; nothing else uses the headers.
/// assert!(chain::is_last(unsafe { root.as_ref() }));
/// // SAFETY: both are live; `child` is on no chain.
/// unsafe { chain::link_after(root, child) };
/// // SAFETY: as above.
/// assert!(!chain::is_last(unsafe { root.as_ref() }));
/// ```
#[inline]
#[must_use]
pub fn is_last(header: &Header) -> bool {
    // Acquire, as `drain`: pairs with the Release of `link_after` on another thread.
    header.next.load(Acquire).is_null()
}
