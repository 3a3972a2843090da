//! The tracked allocator: `&Root` as a collection's allocator, seen through the model.

use core::alloc::Layout;
use core::cell::RefCell;
use core::fmt;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError as ApiAllocError, Allocator};
use linked_alloc::align::block_align;
use linked_alloc::{LinkedAllocator, Root};

use crate::shadow::{Content, Shadow};

/// `&Root` as a collection's allocator, with every call checked against the model.
/// Copies for one root are the same allocator: all forward to that `&Root`.
pub(crate) struct Tracked<'r, 'a, B: LinkedAllocator> {
    pub(crate) root: &'r Root<'a, B>,
    pub(crate) id: u64,
    pub(crate) shadow: &'r RefCell<Shadow>,
}

impl<B: LinkedAllocator> fmt::Debug for Tracked<'_, '_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked").field("root", &self.id).finish()
    }
}

impl<B: LinkedAllocator> Tracked<'_, '_, B> {
    #[track_caller]
    pub(crate) fn check_stats(&self, shadow: &Shadow, call: &str) {
        assert_eq!(
            self.root.linked().stats(),
            shadow.expected,
            "step {}: stats() after {call} differ from the model",
            shadow.step
        );
    }

    /// After a block was given back with `deallocate` (or replaced by `grow`/`shrink`):
    /// the backend either reclaimed it (one child and its bytes fewer) or kept it.
    #[track_caller]
    pub(crate) fn settle_old(&self, shadow: &mut Shadow, addr: usize, call: &str) {
        let now = self.root.linked().stats();
        let size = shadow.blocks[&addr].size;
        if now == shadow.expected {
            shadow.blocks.get_mut(&addr).expect("known").content = Content::Dead;
        } else {
            shadow.remove_child(addr);
            assert_eq!(
                now, shadow.expected,
                "step {}: after {call}, stats() show neither the old block ({size} bytes) kept nor reclaimed",
                shadow.step
            );
        }
    }

    #[track_caller]
    pub(crate) fn resized(
        &self,
        result: Result<NonNull<[u8]>, linked_alloc::AllocError>,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        call: &str,
    ) -> Result<NonNull<[u8]>, ApiAllocError> {
        let mut shadow = self.shadow.borrow_mut();
        let old_addr = shadow.known_size(ptr, old.size(), call, "old layout");
        match result {
            Err(_) => {
                shadow.failed_in(self.id, new, new.size(), call);
                self.check_stats(&shadow, call);
                Err(ApiAllocError)
            }
            Ok(slice) => {
                assert!(slice.len() >= new.size(), "{call}: short block");
                let fresh = slice.cast::<u8>();
                // In place, only a growth is charged; moved, the whole new block.
                match (fresh == ptr, new.size().checked_sub(old.size())) {
                    (true, None | Some(0)) => shadow.succeeded(new, call),
                    (true, Some(more)) => shadow.succeeded_in(self.id, new, more, call),
                    (false, _) => shadow.succeeded_in(self.id, new, new.size(), call),
                }
                if fresh == ptr {
                    // In place: the same block, with its new size.
                    assert!(
                        (fresh.as_ptr() as usize).is_multiple_of(block_align(new)),
                        "{call}: in place but misaligned"
                    );
                    shadow.check_free_range(old_addr, new.size(), Some(old_addr));
                    let b = shadow.blocks.get_mut(&old_addr).expect("known");
                    b.size = new.size();
                    shadow.uncount(self.id, 0, old.size());
                    shadow.count(self.id, 0, new.size());
                    self.check_stats(&shadow, call);
                } else {
                    shadow.insert(fresh, new, self.id, Content::Vec);
                    shadow.count(self.id, 1, new.size());
                    self.settle_old(&mut shadow, old_addr, call);
                }
                Ok(slice)
            }
        }
    }
}

/// `Allocator::grow` and `Allocator::shrink` (each with what it requires of the sizes):
/// forwarded to `&Root` unchanged, the result checked by [`Tracked::resized`].
macro_rules! forward_resize {
    ($($method:ident: $sizes:literal,)*) => {$(
        #[doc = concat!(
            "Forwarded to `&Root`, whose caller passes a live block of this allocator ",
            "with `old` and ", $sizes, "; the result checked by `Tracked::resized`."
        )]
        unsafe fn $method(
            &self,
            ptr: NonNull<u8>,
            old: Layout,
            new: Layout,
        ) -> Result<NonNull<[u8]>, ApiAllocError> {
            // SAFETY: the caller of this method passes a live block of this allocator
            // with `old`, and a `new` whose size is as the method requires (in its doc
            // above): forwarded unchanged to the same method of `&Root`.
            let result = unsafe { Allocator::$method(&self.root, ptr, old, new) };
            self.resized(
                result.map_err(|_| linked_alloc::AllocError),
                ptr,
                old,
                new,
                concat!("Allocator::", stringify!($method)),
            )
        }
    )*};
}

// SAFETY: every call forwards to `&Root`'s `Allocator` (which keeps the trait's
// promises) with the caller's arguments unchanged; the model only observes. All
// `Tracked` for one root forward to the same `&Root`, so they are one allocator.
unsafe impl<B: LinkedAllocator> Allocator for Tracked<'_, '_, B> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, ApiAllocError> {
        let result = Allocator::allocate(&self.root, layout);
        let mut shadow = self.shadow.borrow_mut();
        match result {
            Ok(slice) => {
                shadow.succeeded_in(self.id, layout, layout.size(), "Allocator::allocate");
                assert!(slice.len() >= layout.size(), "allocate: short block");
                shadow.insert(slice.cast(), layout, self.id, Content::Vec);
                shadow.count(self.id, 1, layout.size());
            }
            Err(_) => shadow.failed_in(self.id, layout, layout.size(), "Allocator::allocate"),
        }
        self.check_stats(&shadow, "Allocator::allocate");
        result
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: `Allocator::deallocate`'s caller passes a block of this allocator
        // (this root) with its layout, not used again: our precondition is theirs.
        unsafe { Allocator::deallocate(&self.root, ptr, layout) };
        if std::thread::panicking() {
            // A vector dropped while a failed check unwinds: no second panic.
            return;
        }
        let mut shadow = self.shadow.borrow_mut();
        let addr = shadow.known_size(ptr, layout.size(), "deallocate", "layout");
        self.settle_old(&mut shadow, addr, "Allocator::deallocate");
    }

    forward_resize! {
        grow: "`new.size() >= old.size()`",
        shrink: "`new.size() <= old.size()`",
    }
}
