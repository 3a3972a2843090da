//! [`Root`]: a safe RAII handle to a root, and the allocator of collections whose
//! every allocation is a child of that root.

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::Acquire;

use crate::kit::atomic::AtomicPtr;

use crate::nested::Node;
use crate::{AllocError, Linked, LinkedAllocator};

/// A live root of a [`Linked<B>`]; dropping it frees the root and all its children.
///
/// `&Root` implements allocator-api2's `Allocator` (0.2, the version hashbrown and
/// bumpalo use; 0.4 too with the feature `allocator-api2-04`): every allocation is a
/// **child** of this root, so a whole object graph (`Vec`s, `Box`es, hashbrown
/// `HashMap`s, nested) lives under one root and goes in one step when the `Root` drops.
///
/// ```
/// use core::alloc::Layout;
/// use allocator_api2::vec::Vec;
/// use linked_alloc::Linked;
/// use linked_alloc_system::SystemHeap;
///
/// let heap = Linked::new(SystemHeap::new());
/// {
///     let root = heap.root(Layout::new::<u64>())?;
///     let mut names: Vec<&str, _> = Vec::new_in(&root);
///     names.extend(["Subject", "From", "To"]);
///     let mut index = hashbrown::HashMap::new_in(&root);
///     for (i, n) in names.iter().enumerate() {
///         index.insert(*n, i);
///     }
///     assert_eq!(index["From"], 1);
///     assert!(heap.stats().children >= 2);
/// } // `root` drops here: the vector, the map and the root go in one call
/// assert!(heap.stats().is_empty());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
///
/// # Memory behaviour
/// A child cannot be freed alone in the MAPI model. When a collection frees or moves a
/// buffer, the backend reclaims it where it can do so cheaply (the last block of an
/// arena run, see [`LinkedAllocator::reclaim_child`]); otherwise the old buffer stays
/// until the root is freed. So a `Vec` that grows by doubling to `n` elements may keep
/// about `2n` elements' worth of old buffers alive under a backend that cannot reclaim
/// (the system heap) — reserve the capacity up front when you know it. Growing and
/// shrinking happen in place where the backend can ([`LinkedAllocator::resize_in_place`]).
///
/// # Borrowing
/// Collections borrow the root, so the borrow checker stops them from outliving it:
///
/// ```compile_fail
/// use core::alloc::Layout;
/// use linked_alloc::Linked;
/// use linked_alloc_system::SystemHeap;
///
/// let heap = Linked::new(SystemHeap::new());
/// let root = heap.root(Layout::new::<u8>()).unwrap();
/// let v = allocator_api2::vec::Vec::<u8, _>::new_in(&root);
/// drop(root); // error: `root` is borrowed by `v`
/// drop(v);
/// ```
pub struct Root<'a, B: LinkedAllocator> {
    pub(crate) linked: &'a Linked<B>,
    pub(crate) ptr: NonNull<u8>,
    pub(crate) layout: Layout,
    /// The root's node record (sub-roots, destructors), null until first needed; see
    /// [`nested`](crate::nested).
    pub(crate) node: AtomicPtr<Node>,
    /// The handle owns the root: it is neither `Copy` nor `Clone`.
    pub(crate) _owns: PhantomData<*mut u8>,
}

// SAFETY: a `Root` is an owned root of a `Linked<B>`; moving it to another thread and
// freeing it there, or allocating children through `&Root` from several threads, is
// allowed by the contract when `B` is `Sync` (roots and children from many threads).
unsafe impl<B: LinkedAllocator + Sync> Send for Root<'_, B> {}
// SAFETY: `&Root` only allocates children (allowed concurrently when `B: Sync`) and
// reads the root's address and layout, which never change.
unsafe impl<B: LinkedAllocator + Sync> Sync for Root<'_, B> {}

impl<B: LinkedAllocator> fmt::Debug for Root<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("ptr", &self.ptr)
            .field("layout", &self.layout)
            .finish()
    }
}

impl<B: LinkedAllocator> Linked<B> {
    /// Allocates a root of `layout` and returns its RAII handle.
    ///
    /// # Errors
    /// [`AllocError`] as [`allocate_root`](Self::allocate_root).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<[u32; 4]>())?;
    /// assert_eq!(heap.stats().roots, 1);
    /// drop(root);
    /// assert_eq!(heap.stats().roots, 0);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub fn root(&self, layout: Layout) -> Result<Root<'_, B>, AllocError> {
        let ptr = self.allocate_root(layout)?;
        Ok(Root {
            linked: self,
            ptr,
            layout,
            node: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        })
    }
}

impl<'a, B: LinkedAllocator> Root<'a, B> {
    /// The root's block: `layout().size()` bytes aligned to at least `layout().align()`.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u64>())?;
    /// assert_eq!(root.as_ptr().as_ptr() as usize % 8, 0);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The layout the root was allocated with.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u64>())?;
    /// assert_eq!(root.layout(), Layout::new::<u64>());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The root's bytes, for writing (they start uninitialized).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut root = heap.root(Layout::new::<[u8; 4]>())?;
    /// for b in root.bytes_mut() {
    ///     b.write(7);
    /// }
    /// // SAFETY: all 4 bytes were written just above.
    /// assert_eq!(unsafe { root.as_ptr().cast::<[u8; 4]>().read() }, [7; 4]);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: the root is live while `self` exists and has `layout.size()` bytes;
        // `&mut self` makes this the only access to them for the borrow's length.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.layout.size()) }
    }

    /// The front end this root belongs to.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// assert!(core::ptr::eq(root.linked(), &heap));
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn linked(&self) -> &'a Linked<B> {
        self.linked
    }

    /// Allocates a child of this root (safe: the root is live while `self` exists).
    ///
    /// # Errors
    /// [`AllocError`] as [`Linked::allocate_child`].
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let child = root.allocate_child(Layout::new::<[u64; 8]>())?;
    /// assert_eq!(child.as_ptr() as usize % 8, 0);
    /// assert_eq!(heap.stats().children, 1);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub fn allocate_child(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let node = self.node.load(Acquire);
        // SAFETY: a non-null node of this handle is live while the handle is.
        if !node.is_null() && unsafe { crate::nested::is_accounted(node) } {
            return self.allocate_child_accounted(node, layout);
        }
        // SAFETY: `self.ptr` is a live root of `self.linked` for as long as `self` lives.
        unsafe { self.linked.allocate_child(self.ptr, layout) }
    }

    /// Gives up the handle without freeing: the root must then be freed by
    /// [`Linked::free_root`] (or `free_buffer`), or taken back with
    /// [`from_raw`](Self::from_raw). For handing a root to MAPI-style code.
    ///
    /// A root with [sub-roots, values or accounting](crate::nested) keeps them: the
    /// raw layer records its node, so [`Linked::free_root`] frees its tree and drops its
    /// values, and `from_raw` takes them back. A sub-root given up this way may be
    /// freed by `free_root` at any time, or goes with its parent. (Should the raw
    /// layer's table fail to grow, memory being exhausted, the node is not recorded:
    /// the root's sub-roots and values then go, undropped, only with an ancestor, or
    /// leak.)
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u64>())?;
    /// root.alloc(String::from("dropped by free_buffer"));
    /// let _kept = root.sub_root(Layout::new::<u64>())?.into_raw();
    /// let root = root.into_raw();
    /// // SAFETY: `root` is a live root of `heap`, freed once; its sub-root goes with it.
    /// unsafe { heap.free_buffer(root) };
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    #[must_use = "the root leaks unless it is freed or taken back with `from_raw`"]
    pub fn into_raw(self) -> NonNull<u8> {
        let this = ManuallyDrop::new(self);
        let node = this.node_ptr();
        // A root with a node (sub-roots, values, accounting) is recorded for the raw
        // layer; if the table cannot grow, the node is lost to it (see above).
        if !node.is_null() {
            let _ = this.linked.register_raw(this.ptr, node);
        }
        this.ptr
    }

    /// Takes ownership of a live root again.
    ///
    /// # Safety
    /// `ptr` is a live root of `linked`, allocated with `layout`, as `allocate_root` (or
    /// [`into_raw`](Self::into_raw)) returned it, that nothing else will free (the handle
    /// frees it on drop); see [the contract](LinkedAllocator#the-contract). A sub-root
    /// (of `into_raw` or [`Linked::allocate_sub_root`]) may be taken back; its handle
    /// must then be dropped (or given up again) before its parent is freed.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::{Linked, Root};
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let raw = heap.allocate_buffer(32)?;
    /// let layout = Layout::from_size_align(32, linked_alloc::MIN_ALIGN).unwrap();
    /// // SAFETY: `raw` is a live root of `heap` made with `layout`, owned by no one else.
    /// let root = unsafe { Root::from_raw(&heap, raw, layout) };
    /// drop(root);
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[inline]
    pub unsafe fn from_raw(linked: &'a Linked<B>, ptr: NonNull<u8>, layout: Layout) -> Self {
        Root {
            linked,
            ptr,
            layout,
            node: AtomicPtr::new(linked.take_raw_entry(ptr)),
            _owns: PhantomData,
        }
    }

    /// `Allocator::allocate`: a new child.
    #[inline]
    fn alloc_slice(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let p = self.allocate_child(layout)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    /// `Allocator::deallocate`: reclaim the child if the backend can, else keep it
    /// until the root goes.
    ///
    /// # Safety
    /// `ptr` is a live child of this root allocated (or last resized) with `layout`, not
    /// used afterwards.
    #[inline]
    unsafe fn dealloc_child(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's precondition; `self.ptr` is its live root, as
        // `allocate_root` returned it (the handle keeps it as is). A refusal leaves the
        // child live, which is fine: it goes with the root.
        if unsafe { self.linked.backend().reclaim_child(self.ptr, ptr, layout) } {
            self.reclaimed(layout.size());
        }
    }

    /// `Allocator::grow` / `shrink`: in place where the backend can, else a new child,
    /// a copy, and the old one reclaimed where possible.
    ///
    /// # Safety
    /// `ptr` is a live child of this root allocated with `old`; `new.align()` is a power
    /// of two (a `Layout`); the caller's `Allocator` preconditions on sizes hold.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if new.align() == old.align() {
            // An accounted root charges a growth first (its limit may refuse it).
            let more = new.size().saturating_sub(old.size());
            let charged = if more == 0 {
                None
            } else {
                self.charge_growth(more)?.map(|node| (node, more))
            };
            // SAFETY: `ptr` is a live child allocated with `old` (the precondition), and
            // `self.ptr` its live root, as `allocate_root` returned it.
            if unsafe {
                self.linked
                    .backend()
                    .resize_in_place(self.ptr, ptr, old, new.size())
            } {
                self.resized(None, old.size().saturating_sub(new.size()));
                return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
            }
            self.resized(charged, 0);
        }
        let fresh = self.allocate_child(new)?;
        // SAFETY: `ptr` holds `old.size()` bytes, `fresh` at least `new.size()`; both are
        // distinct live blocks, so they do not overlap; then the old one goes.
        unsafe {
            ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), old.size().min(new.size()));
            self.dealloc_child(ptr, old);
        }
        Ok(NonNull::slice_from_raw_parts(fresh, new.size()))
    }
}

impl<B: LinkedAllocator> Drop for Root<'_, B> {
    fn drop(&mut self) {
        let node = *self.node.get_mut();
        if !node.is_null() {
            self.free_tree(node);
            return;
        }
        // SAFETY: the handle owns a live root of `self.linked` (made by `Linked::root`
        // or handed over by `from_raw`); the borrow checker ensures that no collection
        // allocated from `&self` outlives it.
        unsafe { self.linked.free_root(self.ptr) }
    }
}

/// `Allocator::grow` and `Allocator::shrink` of an allocator-api2 version, written
/// once: both go to `Root::resize`, which serves either direction.
macro_rules! grow_and_shrink {
    ($api:ident: $($method:ident),+) => {
        $(
            #[inline]
            unsafe fn $method(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $api::alloc::AllocError> {
                // SAFETY: `Allocator::grow`'s and `Allocator::shrink`'s caller passes a
                // live block of ours with `old`, and a `new.size()` on the side of
                // `old.size()` that the method's name says; `resize` serves either.
                unsafe { self.resize(ptr, old, new) }.map_err(|_| $api::alloc::AllocError)
            }
        )+
    };
}

/// Implements an allocator-api2 version's `Allocator` for `&Root` by forwarding to the
/// one implementation above (so 0.2 and 0.4 share every line of logic).
macro_rules! impl_allocator {
    ($api:ident) => {
        // SAFETY: every block is a child of this root, live until `deallocate` reclaims
        // it or the `Root` (which every `&Root` borrows) drops; blocks follow the
        // contract (aligned to `max(align, MIN_ALIGN)`, `size` bytes, disjoint).
        // Copies of `&Root` are the same allocator. `grow`/`shrink` keep the first
        // `min(old, new)` bytes.
        unsafe impl<B: LinkedAllocator> $api::alloc::Allocator for &Root<'_, B> {
            #[inline]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $api::alloc::AllocError> {
                self.alloc_slice(layout)
                    .map_err(|_| $api::alloc::AllocError)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: `Allocator`'s caller passes a block this allocator returned
                // with `layout` (a child of this root) that it does not use again.
                unsafe { self.dealloc_child(ptr, layout) }
            }

            grow_and_shrink!($api: grow, shrink);
        }
    };
}

impl_allocator!(allocator_api2);
#[cfg(feature = "allocator-api2-04")]
impl_allocator!(allocator_api2_04);
