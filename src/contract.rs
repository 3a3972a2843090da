//! The backend contract: [`LinkedAllocator`] and its [`Stats`].

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::AllocError;

/// The plug between the front end [`Linked`](crate::Linked) and a backend: allocate a
/// root, allocate a child linked to a root, free a root with all its children.
///
/// # The contract
///
/// ## Vocabulary
/// - A **block** is memory returned by [`allocate_root`](Self::allocate_root) or
///   [`allocate_child`](Self::allocate_child): `layout.size()` bytes, writable and
///   readable, starting at the returned pointer.
/// - A **root** is a block made by `allocate_root` (MAPI: `MAPIAllocateBuffer`).
/// - A **child** is a block made by `allocate_child(parent, layout)` (MAPI:
///   `MAPIAllocateMore`). It is **linked** to exactly one root: the root of `parent`,
///   where `parent` is that root itself or any child already linked to it. Linking is
///   flat: a child of a child joins the same root's chain.
/// - A block is **live** from the call that made it until its root is passed to
///   [`free_root`](Self::free_root) (MAPI: `MAPIFreeBuffer`), which frees the root and
///   every child linked to it, in one call. A child is never freed on its own.
///
/// ## What the implementor promises
/// - Every block is aligned to `max(layout.align(), MIN_ALIGN)`
///   ([`align::block_align`](crate::align::block_align)); every power-of-two alignment up
///   to [`MAX_GUARANTEED_ALIGN`](crate::align::MAX_GUARANTEED_ALIGN) (4096) is served.
///   Larger alignments may give [`AllocError`], never a misaligned pointer.
/// - Live blocks never overlap, and a block's bytes change only through the caller.
///   A zero-size block is a unique, aligned, non-null pointer, freed like any block.
/// - A size whose total (with header and padding) would pass `isize::MAX`, and exhausted
///   memory, give [`AllocError`] and leave the allocator fully usable.
/// - `free_root` uses constant stack, whatever the number of children (no recursion),
///   and never reads a block after giving it back.
/// - [`stats`](Self::stats) tells exactly what is live now (see [`Stats`]).
/// - If the type is `Sync`, every method may be called from several threads at once:
///   roots from many threads, and children of one root from many threads.
/// - Where the backend can tell that a pointer given to `free_root` is not one of its
///   live roots, it does not corrupt its state: a debug build panics with a message that
///   says so, a release build ignores the call.
///
/// ## What the caller promises
/// - `parent` (of `allocate_child`) and `root` (of `free_root`) come from this very
///   allocator and are live; `root` is a root, not a child. They are pointers as the
///   allocator returned them, with their provenance: a backend may read its metadata
///   next to the block through them, so a pointer narrowed to the block's bytes (by a
///   reference or a `Box`) is not enough under Miri's Stacked Borrows. The collections'
///   handle ([`Root`](crate::Root)) keeps that promise for the blocks a `Box` or a `Vec`
///   owns: it passes the root it holds, never theirs.
/// - The `root` given to the optional hooks ([`resize_in_place`](Self::resize_in_place),
///   [`reclaim_child`](Self::reclaim_child)) is the live root of the block, the pointer
///   that `allocate_root` returned, as it returned it (with its provenance).
/// - No block of a root is used after the root is freed, and no thread allocates a
///   child under a root while another frees that root (as in MAPI).
///
/// ## Bad input
/// Nothing an allocator can detect is undefined behaviour:
/// - size overflow and exhausted memory give [`AllocError`] and leave the allocator
///   fully usable;
/// - where a backend can tell that a pointer is not one of its live roots (a pool knows
///   its range; a header can carry a tag), `free_root` on it does not corrupt its state:
///   a debug build panics with a message that says so, a release build ignores the
///   call, and the MAPI-status layer ([`mapi`](crate::mapi)) returns
///   `MAPI_E_INVALID_PARAMETER` (it asks [`block_status`](Self::block_status) first).
///
/// # Safety
/// Implementors must keep every promise in [The contract](#the-contract): callers
/// (the front end, `GlobalAlloc`, the collections) rely on them for memory safety.
///
/// # Example: a backend used through the front end
/// ```
/// use core::alloc::Layout;
/// use linked_alloc::{Linked, LinkedAllocator};
/// use linked_alloc_system::SystemHeap;
///
/// let heap = Linked::new(SystemHeap::new());
/// let root = heap.allocate_root(Layout::new::<[u64; 4]>())?;
/// // SAFETY: `root` is a live root of `heap`.
/// let child = unsafe { heap.allocate_child(root, Layout::new::<u32>())? };
/// // SAFETY: `child` is live, so a child of it joins the same root.
/// let grandchild = unsafe { heap.allocate_child(child, Layout::new::<u8>())? };
/// assert_eq!(heap.stats().children, 2);
/// # let _ = grandchild;
/// // SAFETY: `root` is a live root; nothing uses its blocks afterwards.
/// unsafe { heap.free_root(root) };
/// assert_eq!(heap.stats(), linked_alloc::Stats::default());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
pub unsafe trait LinkedAllocator {
    /// Allocates a new root of `layout`, with no children yet.
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted, the size overflows, or the alignment is
    /// larger than this backend serves (never below 4096).
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError>;

    /// Allocates a new child of `layout`, linked to the root of `parent`.
    ///
    /// # Errors
    /// As [`allocate_root`](Self::allocate_root).
    ///
    /// # Safety
    /// `parent` is a live block (root or child) of this allocator, and its root is not
    /// being freed by another thread; see [the contract](LinkedAllocator#the-contract).
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError>;

    /// Frees `root` and every child linked to it, with constant stack use.
    ///
    /// # Safety
    /// `root` is a live root (not a child) of this allocator; none of its blocks is used
    /// afterwards, and no other thread allocates under it during the call; see
    /// [the contract](LinkedAllocator#the-contract).
    unsafe fn free_root(&self, root: NonNull<u8>);

    /// What is live now: counts of roots and children, and their bytes.
    fn stats(&self) -> Stats;

    /// Optional hook: resizes the live block at `block` (of `layout`), linked to the root
    /// at `root`, to `new_size` bytes without moving it, if the backend can do that
    /// cheaply (for example the last block of an arena run). Returns `true` if it did:
    /// the block now has `new_size` bytes (the first `min(old, new)` unchanged) and
    /// `stats().bytes_in_use` follows. Returns `false`, changing nothing, if it cannot.
    /// The default always says `false`.
    ///
    /// The collections' handle ([`Root`](crate::Root)) uses it for `grow` and `shrink`,
    /// `GlobalAlloc::realloc` for roots (then `block` is `root`).
    ///
    /// `root` is there so that a backend reaches its bookkeeping through the root's
    /// pointer, which carries the provenance that `allocate_root` gave it, and never
    /// through `block`: a caller's pointer to a block (say, from a `Box`) may be valid
    /// for the block's own bytes only, as under Stacked Borrows.
    ///
    /// # Safety
    /// `block` is a live block of this allocator whose current size and alignment are
    /// those of `layout`, and no other thread uses it during the call; `root` is the live
    /// root that `block` is linked to (or `block` itself, if `block` is a root), the
    /// pointer that [`allocate_root`](Self::allocate_root) returned, as it returned it;
    /// see [the contract](LinkedAllocator#the-contract).
    #[inline]
    unsafe fn resize_in_place(
        &self,
        root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        let _ = (root, block, layout, new_size);
        false
    }

    /// Optional hook: gives the live **child** at `child` (of `layout`), linked to the
    /// root at `root`, back before its root is freed, if the backend can do that cheaply
    /// (for example the last block of an arena run). Returns `true` if it did: the child
    /// is no longer live and `stats()` counts it no more. Returns `false`, changing
    /// nothing, if it cannot: the child stays live until its root is freed. The default
    /// always says `false`.
    ///
    /// `root` is there for the reason given at
    /// [`resize_in_place`](Self::resize_in_place): the backend reaches its bookkeeping
    /// through it, not through `child`.
    ///
    /// # Safety
    /// `child` is a live child (not a root) of this allocator whose size and alignment
    /// are those of `layout`; it is not used after a `true`; no other thread uses it
    /// during the call; `root` is the live root that `child` is linked to, the pointer
    /// that [`allocate_root`](Self::allocate_root) returned, as it returned it; see
    /// [the contract](LinkedAllocator#the-contract).
    #[inline]
    unsafe fn reclaim_child(&self, root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        let _ = (root, child, layout);
        false
    }

    /// Optional hook: resizes the live root `root` (of `layout`) to `new_size` bytes of
    /// the same alignment, **moving it** if the backend can do that more cheaply than a
    /// new root and a copy (the platform's `realloc`; `mremap`, which moves pages
    /// without copying them). Returns the root's address afterwards: its first
    /// `min(layout.size(), new_size)` bytes are those the root had, `root` itself is no
    /// longer valid if the address differs, and `stats().bytes_in_use` follows. Returns
    /// `None`, changing nothing, if it cannot (a root with children, whose chain must
    /// not move, always can say so): the caller then makes a new root and copies. The
    /// default always says `None`.
    ///
    /// `GlobalAlloc::realloc` of [`Linked`](crate::Linked) calls it when
    /// [`resize_in_place`](Self::resize_in_place) says `false`.
    ///
    /// # Safety
    /// `root` is a live root of this allocator whose size and alignment are those of
    /// `layout`, the pointer that [`allocate_root`](Self::allocate_root) returned, as it
    /// returned it; no other thread uses it during the call; `new_size` rounded up to
    /// `layout.align()` does not pass `isize::MAX`; see
    /// [the contract](LinkedAllocator#the-contract).
    #[inline]
    unsafe fn reallocate_root(
        &self,
        root: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let _ = (root, layout, new_size);
        None
    }

    /// Optional hook: what this backend can tell about `block` without corrupting
    /// anything: whether it is a live root, a live child, not live, or it cannot tell.
    /// The MAPI-status layer uses it to refuse a child or a stale pointer with
    /// `MAPI_E_INVALID_PARAMETER` instead of freeing it. The default says
    /// [`BlockStatus::Unknown`].
    ///
    /// # Safety
    /// `block` is a live block of this allocator, unless the backend documents that it
    /// checks any pointer (a pool that knows its range can); see
    /// [the contract](LinkedAllocator#the-contract).
    #[inline]
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        let _ = block;
        BlockStatus::Unknown
    }
}

/// What a backend can tell about a pointer; see [`LinkedAllocator::block_status`].
///
/// ```
/// use linked_alloc::BlockStatus;
/// assert_ne!(BlockStatus::Root, BlockStatus::Child);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockStatus {
    /// A live root of this allocator.
    Root,
    /// A live child of this allocator.
    Child,
    /// Not a live block of this allocator (freed, interior, or foreign).
    NotLive,
    /// The backend cannot tell.
    Unknown,
}

/// What is live in an allocator now.
///
/// `bytes_in_use` is the sum of the `layout.size()` of the live blocks, as the caller
/// asked for them: it is the same on every backend, so that a test can prove that
/// nothing leaked. Backends report their own overhead (headers, pages, free space) by
/// methods of their own.
///
/// ```
/// use linked_alloc::Stats;
/// let s = Stats::default();
/// assert_eq!((s.roots, s.children, s.bytes_in_use), (0, 0, 0));
/// assert!(s.is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Live roots.
    pub roots: usize,
    /// Live children, of all roots.
    pub children: usize,
    /// Bytes of the live blocks, as requested (`layout.size()` summed).
    pub bytes_in_use: usize,
}

impl Stats {
    /// Whether nothing is live.
    ///
    /// ```
    /// # use linked_alloc::Stats;
    /// assert!(!Stats { roots: 1, children: 0, bytes_in_use: 0 }.is_empty());
    /// ```
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.roots == 0 && self.children == 0 && self.bytes_in_use == 0
    }
}

// SAFETY: every method forwards to `B`, which keeps the contract (`B: LinkedAllocator`);
// the callers' preconditions are passed on unchanged.
unsafe impl<B: LinkedAllocator + ?Sized> LinkedAllocator for &B {
    #[inline]
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        (**self).allocate_root(layout)
    }

    #[inline]
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: the caller's precondition (`parent` live in this allocator) is ours.
        unsafe { (**self).allocate_child(parent, layout) }
    }

    #[inline]
    unsafe fn free_root(&self, root: NonNull<u8>) {
        // SAFETY: the caller's precondition (`root` a live root of it) is ours.
        unsafe { (**self).free_root(root) }
    }

    #[inline]
    fn stats(&self) -> Stats {
        (**self).stats()
    }

    #[inline]
    unsafe fn resize_in_place(
        &self,
        root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        // SAFETY: the caller's precondition (`block` live, of `layout`, linked to the
        // live root `root`) is ours.
        unsafe { (**self).resize_in_place(root, block, layout, new_size) }
    }

    #[inline]
    unsafe fn reclaim_child(&self, root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's precondition (`child` a live child, of `layout`, linked to
        // the live root `root`) is ours.
        unsafe { (**self).reclaim_child(root, child, layout) }
    }

    #[inline]
    unsafe fn reallocate_root(
        &self,
        root: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's precondition (`root` a live root of `layout`) is ours.
        unsafe { (**self).reallocate_root(root, layout, new_size) }
    }

    #[inline]
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        // SAFETY: the caller's precondition on `block` is ours.
        unsafe { (**self).block_status(block) }
    }
}
