//! # linked-alloc-mmap: `MmapPages`, a [`LinkedAllocator`] over anonymous pages
//!
//! A general-purpose allocator in the manner of mimalloc (segments, pages of one size
//! class, per-thread heaps, free lists local to a page), with the MAPI model on top:
//! a root's children are bumped from a growing arena of chunks, and `free_root` gives
//! the root and its chunks back in one step. It serves as well as the
//! `#[global_allocator]` of a whole program as for trees of children.
//!
//! ```text
//!  MmapPages ──► Control (own mapping: heaps, segment cache, figures)
//!                  │
//!        ┌─────────┴──────────┐ one Heap per thread (thread-local, no lock)
//!        ▼                    ▼
//!      Heap ── segments (4 MiB, aligned) ── pages (64 KiB): blocks of one size class,
//!                                                           or spans of large blocks
//!  a root   = one block: [16-byte header][payload]        (a 64-byte root takes 80)
//!  children = bumped from the root's chunks: 512 B, doubling to 1 MiB; a child over
//!             256 KiB gets a block of its own; children carry no header
//!  huge block (over 2 MiB) = a mapping of its own
//! ```
//!
//! - **Small roots share pages.** A root is one block of its size class, with a 16-byte
//!   header (its arena pointer, size, alignment and a tag); a 64-byte root without
//!   children costs 80 bytes. Size classes step by 16 bytes up to 128, then four per
//!   doubling up to 16 KiB; larger blocks take contiguous pages ("spans"), up to 2 MiB;
//!   larger ones get a mapping of their own.
//! - **Children.** A root's first child makes its arena, in a first chunk of 512 bytes;
//!   each further chunk doubles, up to 1 MiB. A child is carved by rounding a bump
//!   pointer up to its alignment and adding its size. Chunks and big children are
//!   chained to the root and given back by `free_root`, which reads no child.
//! - **Threads.** Each thread holds a heap of its own (found through a thread-local),
//!   so roots are made and freed with no lock and no atomic read-modify-write; a block
//!   freed by another thread goes onto its page's atomic list (one compare-and-swap),
//!   which the owner collects. A thread that exits hands its heap back, and the next new
//!   thread adopts it with its memory. A root's children are bumped without a lock by
//!   the thread that made its first child, and under the root's lock by the others.
//! - **O(1) lookup.** Segments are aligned to their size, so masking an address finds
//!   its segment's header, and its page's metadata tells where the block starts (a
//!   multiply for small blocks). The block's header says whether it is a root, or names
//!   the root of a chunk: that is how `allocate_child` finds the root of any parent, and
//!   how `free_root` refuses a child or a freed root.
//! - **Alignment.** The rules of [`linked_alloc::align`], for roots and children, up to
//!   [`MmapPages::MAX_ALIGN`] (64 KiB); larger alignments are [`AllocError`].
//! - **Memory back to the OS.** A segment whose pages are all free goes to a cache of
//!   at most [`cache_limit`](MmapPages::cache_limit) segments (256 by default on 64-bit
//!   targets); beyond that it is unmapped at once. Up to four freed huge blocks'
//!   mappings are cached too, for the next huge block. The memory of free pages, of
//!   cached segments and of cached huge mappings goes back to the OS
//!   (`madvise(MADV_DONTNEED)`, `MEM_RESET` on Windows: they stay mapped, as address
//!   space) when they have not
//!   been used again for 100 ms; the check runs on the allocator's slow paths, so an
//!   idle thread's heap keeps its pages until it allocates again or
//!   [`trim_cache`](MmapPages::trim_cache) runs. `trim_cache` unmaps the caches, after
//!   collecting the empty pages of the calling thread's heap and of exited threads'
//!   heaps. Free pages inside a segment that is still in use stay mapped (purged) until
//!   the segment empties.
//! - **A bounded number of mappings.** The OS sees one mapping per segment (4 MiB), per
//!   huge block, per heap and one for the allocator's own state, never one per root.
//!   A `munmap` that the OS refuses (the kernel's limit on mappings) is counted in
//!   [`unmap_failures`](MmapPages::unmap_failures); the memory stays mapped, counted in
//!   [`bytes_mapped`](MmapPages::bytes_mapped), and is reused or tried again later.
//! - **Counts.** [`stats`] is exact whenever the allocator is quiet: each heap keeps
//!   its share, written by its thread alone, and `stats()` adds them up.
//! - **Optional hooks.** `resize_in_place` grows or shrinks a root within its block's
//!   room (its size class, its span or its mapping), and the last child carved from a
//!   lane while the caller may use that lane; `reclaim_child` takes back the last child
//!   of such a lane. Both read the root's header through the root they are given and
//!   only compare the block's address, so a pointer valid for the block's own bytes (a
//!   `Box`'s, under Stacked Borrows) is enough. `block_status` reads the block's header.
//! - **Bad pointers.** `free_root` and `allocate_child` find the block's header from
//!   its address and refuse a child, a freed root or the inside of a root (a debug
//!   build panics, a release build ignores the call), as long as the pointer lies in a
//!   segment of this allocator. A freed root whose block was handed out again cannot be
//!   told from the new root.
//!
//! Unix and Windows: the pages come from `mmap` through `rustix` on Unix, from
//! `VirtualAlloc` through `windows-sys` on Windows, in one module. The differences:
//! Windows has no `mremap`, so a huge root without children that grows is copied
//! instead of moved; a purge there is `MEM_RESET` (the memory can be taken, the pages
//! stay committed); and an aligned segment is mapped by reserving an over-sized range,
//! freeing it and mapping the aligned part of it. Under Miri, rustix uses its libc
//! backend, whose `mmap`/`munmap` Miri runs natively (segments are 256 KiB and pages
//! 16 KiB there, to keep Miri's memory small).
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc_mmap::MmapPages;
//!
//! static PAGES: Linked<MmapPages> = Linked::new(MmapPages::new());
//!
//! let row = PAGES.allocate_buffer(64)?;
//! // SAFETY: `row` is a live root of PAGES; nothing uses its blocks after the free.
//! unsafe {
//!     for _ in 0..1000 {
//!         PAGES.allocate_more(64, row)?; // bumped from the row's chunks
//!     }
//!     PAGES.free_buffer(row); // the chunks go with it
//! }
//! assert!(PAGES.stats().is_empty());
//! PAGES.backend().trim_cache();
//! assert_eq!(PAGES.backend().bytes_mapped(), 0);
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```
//!
//! [`stats`]: LinkedAllocator::stats

#[cfg(not(any(unix, windows)))]
compile_error!(
    "linked-alloc-mmap needs a Unix or Windows target: it maps pages with mmap (through rustix) or VirtualAlloc (through windows-sys)"
);

mod control;
mod heap;
mod local;
mod os;
#[cfg(test)]
mod os_faults;
mod roots;
mod segment;

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use linked_alloc::align::block_align;
use linked_alloc::{AllocError, BlockStatus, LinkedAllocator, Stats};

use crate::control::Control;
use crate::heap::Heap;

/// Anonymous pages as a [`LinkedAllocator`]: roots are blocks of size-class pages in
/// per-thread heaps, their children are bumped from chunks, and `free_root` gives a root
/// and its chunks back in one step. See the [crate docs](crate).
///
/// ```
/// use core::alloc::Layout;
/// use linked_alloc::LinkedAllocator;
/// use linked_alloc_mmap::MmapPages;
///
/// let pages = MmapPages::new();
/// let root = pages.allocate_root(Layout::new::<[u64; 8]>())?;
/// // SAFETY: `root` is a live root of `pages`.
/// let child = unsafe { pages.allocate_child(root, Layout::from_size_align(100, 4096).unwrap())? };
/// assert_eq!(child.as_ptr() as usize % 4096, 0);
/// assert_eq!(pages.stats().bytes_in_use, 64 + 100);
/// // SAFETY: `root` is a live root; nothing uses its blocks afterwards.
/// unsafe { pages.free_root(root) };
/// assert!(pages.stats().is_empty());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
pub struct MmapPages {
    /// The id of `control`, 0 until the first use.
    id: AtomicUsize,
    /// The shared state, mapped on the first use.
    control: AtomicPtr<Control>,
    cache_limit: usize,
}

/// The allocator's figures, each a getter over a table of names and readers of the
/// shared state; every one is zero on an allocator not used yet (which its doc checks).
macro_rules! figures {
    ($($(#[$doc:meta])* $name:ident: $read:path,)*) => {$(
        $(#[$doc])*
        ///
        /// ```
        /// # use linked_alloc_mmap::MmapPages;
        #[doc = concat!("assert_eq!(MmapPages::new().", stringify!($name), "(), 0);")]
        /// ```
        #[must_use]
        pub fn $name(&self) -> usize {
            self.with_control($read)
        }
    )*};
}

impl MmapPages {
    /// The size of a segment, the unit mapped from the OS: 4 MiB (256 KiB under Miri).
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert!(MmapPages::SEGMENT_SIZE.is_power_of_two());
    /// ```
    pub const SEGMENT_SIZE: usize = segment::SEGMENT_SIZE;

    /// The bytes of address space a segment maps: [`SEGMENT_SIZE`](Self::SEGMENT_SIZE)
    /// natively (the slack that aligns it is unmapped at once); under Miri, which only
    /// unmaps whole mappings, the slack stays: `2 * SEGMENT_SIZE - 4096`.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert!(MmapPages::SEGMENT_MAPPED >= MmapPages::SEGMENT_SIZE);
    /// ```
    pub const SEGMENT_MAPPED: usize = if cfg!(miri) {
        2 * segment::SEGMENT_SIZE - os::MAP_ALIGN
    } else {
        segment::SEGMENT_SIZE
    };

    /// The size of a page, the unit of a segment that holds blocks of one size class:
    /// 64 KiB (16 KiB under Miri).
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::SEGMENT_SIZE % MmapPages::PAGE_SIZE, 0);
    /// ```
    pub const PAGE_SIZE: usize = segment::PAGE_SIZE;

    /// The largest alignment served: a page (64 KiB; 16 KiB under Miri). Larger ones are
    /// [`AllocError`].
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// let too_aligned = Layout::from_size_align(8, MmapPages::MAX_ALIGN * 2).unwrap();
    /// assert!(pages.allocate_root(too_aligned).is_err());
    /// ```
    pub const MAX_ALIGN: usize = roots::MAX_ALIGN;

    /// The cache limit of [`new`](Self::new): 256 free segments (1 GiB of address
    /// space) on 64-bit targets, 8 (32 MiB) on others. The cache costs address space,
    /// not memory, once its segments are purged (100 ms after they were freed); a
    /// program that frees a large structure and builds it again within that time finds
    /// its pages still resident.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().cache_limit(), MmapPages::DEFAULT_CACHE_LIMIT);
    /// ```
    pub const DEFAULT_CACHE_LIMIT: usize = if cfg!(target_pointer_width = "64") {
        256
    } else {
        8
    };

    /// An allocator with nothing live and nothing mapped. `const`, for `static`s.
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc_mmap::MmapPages;
    /// static PAGES: Linked<MmapPages> = Linked::new(MmapPages::new());
    /// assert_eq!(PAGES.backend().bytes_mapped(), 0);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            id: AtomicUsize::new(0),
            control: AtomicPtr::new(core::ptr::null_mut()),
            cache_limit: Self::DEFAULT_CACHE_LIMIT,
        }
    }

    /// The same allocator with a cache of at most `segments` free segments (0: a
    /// segment goes back to the OS as soon as its last block is freed, unless it is its
    /// heap's only one). Takes effect only before the first allocation.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new().with_cache_limit(4);
    /// assert_eq!(pages.cache_limit(), 4);
    /// ```
    #[must_use]
    pub const fn with_cache_limit(mut self, segments: usize) -> Self {
        self.cache_limit = segments;
        self
    }

    /// The most free segments the cache keeps.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().with_cache_limit(0).cache_limit(), 0);
    /// ```
    #[must_use]
    pub const fn cache_limit(&self) -> usize {
        self.cache_limit
    }

    /// The largest alignment served; see [`MAX_ALIGN`](Self::MAX_ALIGN).
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert!(MmapPages::new().max_align() >= 4096);
    /// ```
    #[must_use]
    pub const fn max_align(&self) -> usize {
        Self::MAX_ALIGN
    }

    figures! {
        /// Bytes of segments and huge blocks' mappings mapped from the OS now, the cache
        /// included (not the allocator's own bookkeeping: see
        /// [`bytes_metadata`](Self::bytes_metadata)). Zero once every root is freed and
        /// the cache is trimmed by the thread that allocated.
        ///
        /// ```
        /// # use linked_alloc::LinkedAllocator;
        /// # use linked_alloc_mmap::MmapPages;
        /// let pages = MmapPages::new();
        /// let root = pages.allocate_root(core::alloc::Layout::new::<u8>())?;
        /// assert_eq!(pages.bytes_mapped(), MmapPages::SEGMENT_MAPPED);
        /// assert!(pages.bytes_metadata() > 0);
        /// // SAFETY: `root` is a live root of `pages`.
        /// unsafe { pages.free_root(root) };
        /// pages.trim_cache();
        /// assert_eq!(pages.bytes_mapped(), 0);
        /// # Ok::<(), linked_alloc::AllocError>(())
        /// ```
        bytes_mapped: Control::mapped,
        /// Bytes mapped from the OS that sit in the cache of free segments (or that the
        /// OS refused to unmap, kept to try again).
        bytes_cached: Control::cached,
        /// Bytes of the allocator's own bookkeeping mappings: one page or so for its
        /// shared state, and one per thread that used it (its heap): none before the
        /// first allocation, and kept until the allocator is dropped. The example of
        /// [`bytes_mapped`](Self::bytes_mapped) follows both figures.
        bytes_metadata: Control::metadata,
        /// How many `munmap` calls the OS has refused (the kernel's limit on the number
        /// of mappings, `vm.max_map_count`); their memory stayed mapped and counted.
        unmap_failures: Control::unmap_failures,
    }

    /// Gives memory back to the OS: collects the empty pages and segments of the calling
    /// thread's heap and of the heaps of threads that have exited, then unmaps the cache
    /// of free segments. Other live threads keep what their heaps hold.
    ///
    /// ```
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// let root = pages.allocate_root(core::alloc::Layout::new::<[u8; 100]>())?;
    /// // SAFETY: `root` is a live root of `pages`.
    /// unsafe { pages.free_root(root) };
    /// pages.trim_cache();
    /// assert_eq!((pages.bytes_mapped(), pages.bytes_cached()), (0, 0));
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn trim_cache(&self) {
        let Some(control) = self.control() else {
            return;
        };
        let tid = local::thread_id();
        control.for_each_heap(|h| {
            let owner = h.owner.load(Relaxed);
            if owner == tid {
                // SAFETY: this thread holds the heap.
                unsafe { h.trim() };
            } else if owner == heap::ABANDONED
                && h.owner
                    .compare_exchange(heap::ABANDONED, tid, Acquire, Relaxed)
                    .is_ok()
            {
                // SAFETY: this thread holds the heap until it abandons it again.
                unsafe { h.trim() };
                h.owner.store(heap::ABANDONED, Release);
            } else if owner == heap::FALLBACK {
                let _lock = control.fallback_lock.lock();
                // SAFETY: the fallback lock makes us its holder.
                unsafe { h.trim() };
            }
        });
        control.trim();
    }

    /// The shared state, if the allocator has been used.
    #[inline(always)]
    fn control(&self) -> Option<&Control> {
        // SAFETY: a published control lives until the allocator is dropped.
        NonNull::new(self.control.load(Acquire)).map(|c| unsafe { c.as_ref() })
    }

    fn with_control(&self, f: impl FnOnce(&Control) -> usize) -> usize {
        self.control().map_or(0, f)
    }

    /// The shared state, made on the first use.
    #[cold]
    #[inline(never)]
    fn control_or_init(&self) -> Result<&Control, AllocError> {
        if let Some(c) = self.control() {
            return Ok(c);
        }
        let new = Control::create(self.cache_limit).ok_or(AllocError)?;
        let c = match self.control.compare_exchange(
            core::ptr::null_mut(),
            new.as_ptr(),
            AcqRel,
            Acquire,
        ) {
            Ok(_) => {
                // SAFETY: the control is live and on no registry; `Drop` unregisters it.
                unsafe { local::register(new) };
                // SAFETY: just published; lives until the allocator is dropped.
                let c = unsafe { new.as_ref() };
                self.id.store(c.id, Release);
                c
            }
            Err(other) => {
                // SAFETY: ours, never published; `destroy` unmaps it (it has no heaps).
                unsafe { Control::destroy(new) };
                // SAFETY: the winner's control, published.
                unsafe { &*other }
            }
        };
        Ok(c)
    }

    /// Runs `f` with the heap the calling thread holds (or the fallback heap, under its
    /// lock).
    #[inline(always)]
    fn with_heap<R>(&self, f: impl FnOnce(&Heap) -> R) -> Result<R, AllocError> {
        if let Some(heap) = local::cached_heap(self.id.load(Relaxed)) {
            // SAFETY: the thread-local cache holds the heap this thread holds in this
            // allocator (ids are never reused), which lives as long as the allocator.
            return Ok(f(unsafe { heap.as_ref() }));
        }
        self.with_heap_slow(f)
    }

    #[cold]
    #[inline(never)]
    fn with_heap_slow<R>(&self, f: impl FnOnce(&Heap) -> R) -> Result<R, AllocError> {
        let control = self.control_or_init()?;
        match local::acquire_heap(control) {
            // SAFETY: the heap is held by this thread and lives as long as the allocator.
            Some(heap) => Ok(f(unsafe { heap.as_ref() })),
            None => {
                let _lock = control.fallback_lock.lock();
                Ok(f(&control.fallback))
            }
        }
    }

    /// The control pointer for lookups (null before the first use).
    #[inline(always)]
    fn control_ptr(&self) -> *const Control {
        self.control.load(Acquire)
    }
}

impl Default for MmapPages {
    /// As [`MmapPages::new`].
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::default().cache_limit(), MmapPages::DEFAULT_CACHE_LIMIT);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MmapPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmapPages")
            .field("cache_limit", &self.cache_limit)
            .field("bytes_mapped", &self.bytes_mapped())
            .field("bytes_cached", &self.bytes_cached())
            .finish_non_exhaustive()
    }
}

impl Drop for MmapPages {
    /// Gives everything back to the OS if no root is live; otherwise gives back only the
    /// cache, and leaves the rest mapped (live roots' blocks may still be in use: a
    /// root must be freed before its allocator goes).
    fn drop(&mut self) {
        let Some(control) = NonNull::new(*self.control.get_mut()) else {
            return;
        };
        // SAFETY: the control was registered when it was published.
        unsafe { local::unregister(control) };
        // SAFETY: the control is live.
        let c = unsafe { control.as_ref() };
        if c.counts() == (0, 0, 0) {
            // SAFETY: nothing is live, `&mut self` means no thread uses the allocator,
            // and the control is off the registry. Threads' caches that name it are never
            // matched again (ids are not reused).
            unsafe { Control::destroy(control) };
        } else {
            c.trim();
        }
    }
}

/// A pointer that is not what the call needs is the caller's error; this reports it.
#[cold]
#[inline(never)]
#[track_caller]
fn bad_pointer(call: &str, what: &str) {
    if cfg!(debug_assertions) {
        panic!("linked-alloc-mmap: {call} was given {what}");
    }
}

/// Checks a layout against what the allocator serves: `(size, align)`.
#[inline(always)]
fn checked(layout: Layout) -> Result<(usize, usize), AllocError> {
    let align = block_align(layout);
    if align > MmapPages::MAX_ALIGN || layout.size() > roots::MAX_SIZE {
        return Err(AllocError);
    }
    Ok((layout.size(), align))
}

// SAFETY: every block is handed out by a heap of this allocator: small blocks from
// pages of their size class (each block handed out once until given back), spans and
// huge mappings whole; roots are placed in their block at an address rounded up to
// `block_align(layout)` (up to MAX_ALIGN, checked) with `size` bytes inside it; children
// are bumped from chunks, each lane moving only forward within a chunk of its own (the
// own lane by the holder of its heap, the shared lane under its lock), moving back only
// over its last block (the hooks). Sizes are checked. `free_root` walks the root's list
// of chunks iteratively, reading each link before giving the chunk back. Counts are
// kept per heap and summed. `free_root` and `allocate_child` check the tag of the
// header of the block that holds the pointer.
unsafe impl LinkedAllocator for MmapPages {
    #[inline]
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let (size, align) = checked(layout)?;
        // SAFETY: `with_heap` runs the closure with a heap this thread holds.
        self.with_heap(|heap| unsafe { roots::alloc_root(heap, size, align) })?
            .ok_or(AllocError)
    }

    #[inline]
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        let (size, align) = checked(layout)?;
        let control = self.control_ptr();
        // SAFETY: the caller promises `parent` is a live block of ours (so the control
        // exists), with the provenance we gave it.
        let Some(root) = (unsafe { roots::root_of(control, parent) }) else {
            bad_pointer("allocate_child", "a parent that is not a live block");
            return Err(AllocError);
        };
        // SAFETY: `root` is the live root of `parent`, not freed during the call (the
        // caller's precondition), and the closure runs with a heap this thread holds.
        self.with_heap(|heap| unsafe { roots::alloc_child(heap, root, size, align) })?
            .ok_or(AllocError)
    }

    #[inline]
    unsafe fn free_root(&self, root: NonNull<u8>) {
        let control = self.control_ptr();
        // SAFETY: the caller promises `root` is a live root of ours, with its provenance.
        let found = (!control.is_null())
            .then(|| unsafe { roots::root_block(control, root) })
            .flatten();
        let Some(found) = found else {
            bad_pointer(
                "free_root",
                "a pointer that is not a live root (a child, or freed)",
            );
            return;
        };
        // SAFETY: `root` is a live root (checked), none of its blocks is used afterwards
        // and no thread allocates under it (the caller's precondition); the closure runs
        // with a heap this thread holds. The control exists, so `with_heap` cannot fail.
        let _ = self.with_heap(|heap| unsafe { roots::free_root(heap, found, root) });
    }

    #[inline]
    fn stats(&self) -> Stats {
        let Some(control) = self.control() else {
            return Stats::default();
        };
        let (roots, children, bytes) = control.counts();
        Stats {
            roots: roots as usize,
            children: children as usize,
            bytes_in_use: bytes as usize,
        }
    }

    /// Reaches the root's header through `root`, and decides from `block`'s address
    /// alone: `block`'s own pointer is never read through.
    #[inline]
    unsafe fn resize_in_place(
        &self,
        root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        if Layout::from_size_align(new_size, layout.align()).is_err() {
            return false;
        }
        let control = self.control_ptr();
        // SAFETY: the caller promises `root` is the live root of `block`, as we gave it.
        let Some(found) = (unsafe { roots::root_block(control, root) }) else {
            return false;
        };
        // SAFETY: as above; `block` is live, of `layout`, used by no other thread now.
        self.with_heap(|heap| unsafe {
            roots::resize(heap, found, root, block, layout.size(), new_size)
        })
        .unwrap_or(false)
    }

    /// Moves a huge root without children to a mapping of the new size with `mremap`
    /// (Linux; no copy). Other roots, and every root elsewhere: `None`.
    #[inline]
    unsafe fn reallocate_root(
        &self,
        root: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let control = self.control_ptr();
        // SAFETY: the caller promises `root` is a live root of ours, as we gave it.
        let found = unsafe { roots::root_block(control, root) }?;
        // SAFETY: as above; the root is used by no other thread during the call.
        self.with_heap(|heap| unsafe {
            roots::reallocate(heap, found, root, layout.size(), new_size)
        })
        .ok()
        .flatten()
    }

    /// Reaches the root's header through `root`, and compares `child`'s address with the
    /// lanes' bump pointers: `child`'s own pointer is never read through.
    #[inline]
    unsafe fn reclaim_child(&self, root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller promises `child` is a live child of the live root `root`.
        self.with_heap(|heap| unsafe { roots::reclaim(heap, root, child, layout.size()) })
            .unwrap_or(false)
    }

    /// Reads the header of the block that holds `block`.
    #[inline]
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        let control = self.control_ptr();
        if control.is_null() {
            return BlockStatus::NotLive;
        }
        // SAFETY: the caller promises `block` is a live block of ours.
        match unsafe { roots::status(control, block) } {
            Some(true) => BlockStatus::Root,
            Some(false) => BlockStatus::Child,
            None => BlockStatus::NotLive,
        }
    }
}
