//! The generic front end: [`Linked<B>`].

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use crate::{AllocError, LinkedAllocator, MIN_ALIGN, Stats};

/// The front end over any backend `B`: MAPI-style calls, Layout-based calls, and
/// [`GlobalAlloc`].
///
/// `Linked<B>` is `Sync` when `B` is, and `const fn new` makes it usable in a `static`:
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_system::SystemHeap;
///
/// #[global_allocator]
/// static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());
///
/// let v: Vec<u32> = (0..100).collect(); // a root of HEAP, freed by `drop`
/// assert_eq!(v.iter().sum::<u32>(), 4950);
/// assert!(HEAP.stats().roots >= 1);
/// ```
///
/// The MAPI model, by byte sizes (every buffer aligned to [`MIN_ALIGN`]):
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_system::SystemHeap;
///
/// let heap = Linked::new(SystemHeap::new());
/// let row = heap.allocate_buffer(64)?;                   // MAPIAllocateBuffer
/// // SAFETY: `row` is a live root of `heap`.
/// let name = unsafe { heap.allocate_more(32, row)? };    // MAPIAllocateMore
/// // SAFETY: `name` is a live block of 32 bytes.
/// unsafe { name.as_ptr().write_bytes(b'x', 32) };
/// assert_eq!(heap.stats().children, 1);
/// // SAFETY: `row` is a live root; neither block is used afterwards.
/// unsafe { heap.free_buffer(row) };                      // MAPIFreeBuffer: both go
/// assert!(heap.stats().is_empty());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
#[derive(Debug, Default)]
pub struct Linked<B> {
    backend: B,
    /// The raw layer's node records (sub-roots); see [`crate::nested`].
    pub(crate) nodes: crate::nested::RawNodes,
}

impl<B> Linked<B> {
    /// The front end over `backend`.
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());
    /// # let _ = &HEAP;
    /// ```
    #[inline]
    pub const fn new(backend: B) -> Self {
        Self {
            backend,
            nodes: crate::nested::RawNodes::new(),
        }
    }

    /// The backend, for its own methods (overhead figures, tuning).
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let _backend: &SystemHeap = heap.backend();
    /// ```
    #[inline]
    pub const fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, by value.
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let backend: SystemHeap = Linked::new(SystemHeap::new()).into_backend();
    /// # let _ = backend;
    /// ```
    #[inline]
    pub fn into_backend(self) -> B {
        self.backend
    }
}

/// The layout of a MAPI-style buffer of `size` bytes.
#[inline]
fn buffer_layout(size: usize) -> Result<Layout, AllocError> {
    Layout::from_size_align(size, MIN_ALIGN).map_err(|_| AllocError)
}

impl<B: LinkedAllocator> Linked<B> {
    /// Allocates a root buffer of `size` bytes, aligned to [`MIN_ALIGN`]
    /// (MAPI: `MAPIAllocateBuffer`).
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted or `size` is too large.
    ///
    /// ```
    /// # use linked_alloc::{Linked, MIN_ALIGN};
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.allocate_buffer(10)?;
    /// assert_eq!(root.as_ptr() as usize % MIN_ALIGN, 0);
    /// assert!(heap.allocate_buffer(usize::MAX).is_err());
    /// // SAFETY: `root` is a live root of `heap`.
    /// unsafe { heap.free_buffer(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[doc(alias = "MAPIAllocateBuffer")]
    #[inline]
    pub fn allocate_buffer(&self, size: usize) -> Result<NonNull<u8>, AllocError> {
        self.backend.allocate_root(buffer_layout(size)?)
    }

    /// Allocates a buffer of `size` bytes, aligned to [`MIN_ALIGN`], linked to the root
    /// of `parent` (MAPI: `MAPIAllocateMore`). `parent` may be the root or any buffer
    /// already linked to it.
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted or `size` is too large.
    ///
    /// # Safety
    /// `parent` is a live block of this allocator; see
    /// [the contract](LinkedAllocator#the-contract).
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.allocate_buffer(8)?;
    /// // SAFETY: `root` is live, then `a` is live and linked to it.
    /// let a = unsafe { heap.allocate_more(8, root)? };
    /// let b = unsafe { heap.allocate_more(8, a)? }; // joins `root` too
    /// # let _ = b;
    /// assert_eq!(heap.stats().children, 2);
    /// // SAFETY: `root` is a live root.
    /// unsafe { heap.free_buffer(root) };
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[doc(alias = "MAPIAllocateMore")]
    #[inline]
    pub unsafe fn allocate_more(
        &self,
        size: usize,
        parent: NonNull<u8>,
    ) -> Result<NonNull<u8>, AllocError> {
        let layout = buffer_layout(size)?;
        // SAFETY: the caller promises `parent` is a live block of this allocator.
        unsafe { self.backend.allocate_child(parent, layout) }
    }

    /// [`free_root`](Self::free_root) under its MAPI-style name (MAPI:
    /// `MAPIFreeBuffer`), so that the byte-size calls read as a set with
    /// [`allocate_buffer`](Self::allocate_buffer) and
    /// [`allocate_more`](Self::allocate_more): the same call, nothing else.
    ///
    /// # Safety
    /// As [`free_root`](Self::free_root).
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.allocate_buffer(8)?;
    /// // SAFETY: `root` is a live root; nothing uses it afterwards.
    /// unsafe { heap.free_buffer(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub unsafe fn free_buffer(&self, root: NonNull<u8>) {
        // SAFETY: the caller's precondition is `free_root`'s.
        unsafe { self.free_root(root) }
    }

    /// Allocates a root of `layout` (aligned to `max(layout.align(), MIN_ALIGN)`).
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted, the size overflows, or the alignment is
    /// larger than the backend serves (never below 4096).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let page = heap.allocate_root(Layout::from_size_align(100, 4096).unwrap())?;
    /// assert_eq!(page.as_ptr() as usize % 4096, 0);
    /// // SAFETY: `page` is a live root.
    /// unsafe { heap.free_root(page) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.backend.allocate_root(layout)
    }

    /// Allocates a child of `layout`, linked to the root of `parent`.
    ///
    /// # Errors
    /// As [`allocate_root`](Self::allocate_root).
    ///
    /// # Safety
    /// `parent` is a live block of this allocator; see
    /// [the contract](LinkedAllocator#the-contract).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.allocate_root(Layout::new::<u64>())?;
    /// // SAFETY: `root` is a live root of `heap`.
    /// let child = unsafe { heap.allocate_child(root, Layout::new::<[u16; 3]>())? };
    /// # let _ = child;
    /// // SAFETY: `root` is a live root.
    /// unsafe { heap.free_root(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: the caller promises `parent` is a live block of this allocator.
        unsafe { self.backend.allocate_child(parent, layout) }
    }

    /// Frees `root` and every block linked to it, in one call (MAPI: `MAPIFreeBuffer`;
    /// [`free_buffer`](Self::free_buffer) is the same call under the MAPI-style name).
    ///
    /// # Safety
    /// `root` is a live root of this allocator (not a child), none of its blocks is used
    /// afterwards, and no thread allocates under it meanwhile; see
    /// [the contract](LinkedAllocator#the-contract).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.allocate_root(Layout::new::<u64>())?;
    /// // SAFETY: `root` is a live root.
    /// unsafe { heap.free_root(root) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[doc(alias = "MAPIFreeBuffer")]
    #[inline]
    pub unsafe fn free_root(&self, root: NonNull<u8>) {
        // A root with sub-roots on the raw layer goes with its tree (the hook is there
        // only while the table of `nested` has entries).
        if let Some(free_tree) = self.nodes.free_hook() {
            // SAFETY: the hook was set by this front end for its own type; the caller
            // promises `root` is a live root of this allocator, given up.
            if unsafe { free_tree(ptr::from_ref(self).cast(), root) } {
                return;
            }
        }
        // SAFETY: as above.
        unsafe { self.backend.free_root(root) }
    }

    /// What is live now (the backend's [`LinkedAllocator::stats`]).
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// assert!(heap.stats().is_empty());
    /// ```
    #[inline]
    pub fn stats(&self) -> Stats {
        self.backend.stats()
    }
}

/// `alloc` makes a root, `dealloc` frees it (with any children linked to it), `realloc`
/// resizes in place where the backend can ([`LinkedAllocator::resize_in_place`]), then
/// lets the backend move the root where it can do better than a copy
/// ([`LinkedAllocator::reallocate_root`]), and otherwise moves the data to a new root of
/// the same alignment; `alloc_zeroed` zeroes a new root.
///
/// Null is returned, never a panic, when the backend fails.
// SAFETY: every pointer handed out is a root of `B`, which keeps the contract
// (alignment `>= layout.align()`, `layout.size()` usable bytes, no overlap); `dealloc`
// and `realloc` receive only pointers that `alloc*` returned (GlobalAlloc's caller
// precondition), which are live roots of `B`.
unsafe impl<B: LinkedAllocator> GlobalAlloc for Linked<B> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.backend.allocate_root(layout) {
            Ok(p) => p.as_ptr(),
            Err(_) => ptr::null_mut(),
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.backend.allocate_root(layout) {
            Ok(p) => {
                // SAFETY: a fresh root has `layout.size()` writable bytes (the contract).
                unsafe { p.as_ptr().write_bytes(0, layout.size()) };
                p.as_ptr()
            }
            Err(_) => ptr::null_mut(),
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        let guard = AbortOnUnwind;
        // SAFETY: GlobalAlloc's caller passes a pointer that `alloc*` returned here and
        // that is still allocated: a live, non-null root of `B`, given up. `free_root`
        // (one load more than the backend's) also frees the tree of a root that has
        // sub-roots on the raw layer.
        unsafe { self.free_root(NonNull::new_unchecked(ptr)) }
        core::mem::forget(guard);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's caller promises `new_size`, rounded up to
        // `layout.align()`, does not overflow `isize`, and `layout.align()` is a power of
        // two (it came from a `Layout`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `ptr` is non-null and a live root of `layout` (the caller's
        // precondition), used by no one else during the call.
        let root = unsafe { NonNull::new_unchecked(ptr) };
        let guard = AbortOnUnwind;
        // SAFETY: as above, and the block is a root, so it is its own root, the pointer
        // that `alloc*` returned; the hook keeps the data and alignment if it says `true`.
        if unsafe { self.backend.resize_in_place(root, root, layout, new_size) } {
            core::mem::forget(guard);
            return ptr;
        }
        // SAFETY: as above: a live root of `layout`, as `alloc*` returned it; `new_size`
        // is valid for `layout.align()` (GlobalAlloc's caller precondition).
        if let Some(moved) = unsafe { self.backend.reallocate_root(root, layout, new_size) } {
            core::mem::forget(guard);
            return moved.as_ptr();
        }
        let Ok(new) = self.backend.allocate_root(new_layout) else {
            core::mem::forget(guard);
            return ptr::null_mut();
        };
        // SAFETY: `ptr` is a live root of `layout.size()` bytes (the caller's
        // precondition), `new` a fresh root of `new_size` bytes; they are distinct live
        // blocks, so they do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(ptr, new.as_ptr(), layout.size().min(new_size));
            self.free_root(root);
        }
        core::mem::forget(guard);
        new.as_ptr()
    }
}

/// Turns a panic inside a `GlobalAlloc` method into an abort: a global allocator must
/// not unwind, but a backend's debug check (a bad pointer given to `free_root`) panics.
/// Dropped only while unwinding (it is forgotten on the normal path), where its own
/// panic makes the runtime abort.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    #[cold]
    fn drop(&mut self) {
        panic!(
            "linked-alloc: a backend panicked inside GlobalAlloc; aborting (a global allocator must not unwind)"
        );
    }
}
