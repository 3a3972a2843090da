//! The talloc peer (Samba's hierarchical allocator, `libtalloc`), by FFI to the C
//! library: build with `--features talloc` (Debian: `libtalloc-dev`). The exported
//! functions are used, not the header's macros (`talloc_new`, `talloc_free`, ...).

use core::alloc::Layout;
use core::ffi::{CStr, c_char, c_int, c_void};
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};

use super::contender::{AllocUser, Contender};

#[link(name = "talloc")]
// SAFETY: the signatures are those of `/usr/include/talloc.h` (talloc 2.x).
unsafe extern "C" {
    fn talloc_named_const(context: *const c_void, size: usize, name: *const c_char) -> *mut c_void;
    fn _talloc_free(ptr: *mut c_void, location: *const c_char) -> c_int;
    fn _talloc_realloc(
        context: *const c_void,
        ptr: *mut c_void,
        size: usize,
        name: *const c_char,
    ) -> *mut c_void;
}

/// The name of every block (talloc keeps the pointer, so it must be `'static`).
const NAME: &CStr = c"linked-alloc bench";

/// The alignment of talloc's blocks: its chunk header is 16-byte aligned after a
/// 16-byte aligned `malloc` block.
const TALLOC_ALIGN: usize = 16;

/// `talloc_named_const(parent, size)`, `None` on failure or for a larger alignment.
#[inline]
fn allocate(parent: *const c_void, layout: Layout) -> Option<NonNull<u8>> {
    if layout.align() > TALLOC_ALIGN {
        return None;
    }
    // SAFETY: `parent` is null or a live talloc block (the callers'); `NAME` is static.
    let p = NonNull::new(unsafe { talloc_named_const(parent, layout.size(), NAME.as_ptr()) })?;
    debug_assert_eq!(p.as_ptr() as usize % layout.align(), 0);
    Some(p.cast())
}

/// talloc: a root is a block with no parent, a child a block whose parent is the
/// root, and `talloc_free(root)` frees the tree.
#[derive(Clone, Copy, Debug, Default)]
pub struct Talloc;

impl Contender for Talloc {
    type Root = NonNull<u8>;

    fn name(&self) -> String {
        "talloc".to_owned()
    }

    #[inline]
    fn root(&self, layout: Layout) -> Option<NonNull<u8>> {
        allocate(ptr::null(), layout)
    }

    #[inline]
    fn block(root: &NonNull<u8>) -> NonNull<u8> {
        *root
    }

    #[inline]
    unsafe fn child(&self, root: &mut NonNull<u8>, layout: Layout) -> Option<NonNull<u8>> {
        allocate(root.as_ptr().cast(), layout)
    }

    #[inline]
    unsafe fn free(&self, root: NonNull<u8>) {
        // SAFETY: `root` is a live talloc block with no parent (the caller's
        // precondition); talloc frees its children with it.
        unsafe { _talloc_free(root.as_ptr().cast(), NAME.as_ptr()) };
    }

    fn with_allocator<U: AllocUser>(&self, user: U) -> Option<U::Output> {
        let context = TallocContext(allocate(ptr::null(), Layout::new::<u64>())?);
        Some(user.run(&context))
    }
}

/// A talloc context as an allocator-api2 allocator: blocks are its children, freed
/// alone by `talloc_free`, resized by `talloc_realloc`; dropping it frees the rest.
#[derive(Debug)]
struct TallocContext(NonNull<u8>);

impl Drop for TallocContext {
    fn drop(&mut self) {
        // SAFETY: the context is a live root block owned by `self`.
        unsafe { _talloc_free(self.0.as_ptr().cast(), NAME.as_ptr()) };
    }
}

impl TallocContext {
    /// `talloc_realloc` of `ptr` to `new`, for `grow` and `shrink`.
    ///
    /// # Safety
    /// `ptr` is a live child of this context.
    unsafe fn resize(&self, ptr: NonNull<u8>, new: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if new.align() > TALLOC_ALIGN {
            return Err(AllocError);
        }
        // SAFETY: `ptr` is a live child of the context (the precondition); talloc
        // copies the contents and keeps the parent.
        let p = unsafe {
            _talloc_realloc(
                self.0.as_ptr().cast(),
                ptr.as_ptr().cast(),
                new.size(),
                NAME.as_ptr(),
            )
        };
        let p = NonNull::new(p.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, new.size()))
    }
}

/// `Allocator::grow` and `Allocator::shrink`, written once: both are `talloc_realloc`
/// ([`TallocContext::resize`]), which serves either direction.
macro_rules! grow_and_shrink_by_realloc {
    ($($method:ident),+) => {
        $(
            unsafe fn $method(
                &self,
                ptr: NonNull<u8>,
                _old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, AllocError> {
                // SAFETY: `Allocator::grow`'s and `Allocator::shrink`'s caller passes a
                // live block of ours.
                unsafe { self.resize(ptr, new) }
            }
        )+
    };
}

// SAFETY: blocks are distinct live talloc children of the context, aligned to 16
// (larger alignments are refused), live until deallocated or the context drops (which
// every `&TallocContext` borrow precedes); `talloc_realloc` keeps the contents.
unsafe impl Allocator for &TallocContext {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = allocate(self.0.as_ptr().cast(), layout).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: `Allocator`'s caller passes a live block of ours, not used again.
        unsafe { _talloc_free(ptr.as_ptr().cast(), NAME.as_ptr()) };
    }

    grow_and_shrink_by_realloc!(grow, shrink);
}
