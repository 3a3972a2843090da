//! # linked-alloc-system: `SystemHeap`, a [`LinkedAllocator`] over the platform heap
//!
//! Every block, root or child, is one allocation from [`std::alloc::System`] (`malloc`
//! on Unix) with the kit's 16-byte [`Header`] in front of the payload (on 64-bit, for
//! [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) requests; over-aligned blocks pad the front
//! to their alignment). The header holds the chain link, the size and alignment, the
//! kind and a tag.
//!
//! - `allocate_child` is O(1): the new block is linked right after its parent with one
//!   compare-and-swap (lock-free, so threads may add children to one root at once).
//! - `free_root` walks the root's chain iteratively and gives every block back to the
//!   system heap, reading each link before freeing its block (a root with no children,
//!   such as every `GlobalAlloc` block, is freed without a walk).
//! - `reallocate_root` (what `GlobalAlloc::realloc` of
//!   [`Linked`](linked_alloc::Linked) uses) hands a root with no children to the
//!   platform's `realloc`, header and all, which grows or shrinks it where it lies or
//!   moves it (glibc moves big blocks with `mremap`, without copying); a root with
//!   children never moves.
//! - `stats()` is exact, counted in per-thread shards of the kit's [`ShardedStats`]
//!   and summed on read, so that threads allocating at once write no shared cache line.
//!
//! The header costs one size class of glibc's heap: a chunk of 16 bytes more than
//! `malloc` of the same request, for every request of 9 bytes or more (the payload must
//! stay 16-aligned, so a header in front is 0 or 16 bytes;
//! `cargo run --release --example header_overhead` prints the figures).
//! - A pointer whose header has no live root tag (a child, a block freed already while
//!   its bytes are unchanged) given to `free_root` is refused: a debug build panics, a
//!   release build ignores the call. This is a check against mistakes, not a proof (it
//!   reads the header in front of the pointer, see [`Header::kind`]).
//!
//! Use it when blocks are large or few, when roots are freed one by one in any order,
//! or as the reference to measure other backends against.
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc_system::SystemHeap;
//!
//! static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());
//!
//! let root = HEAP.allocate_buffer(64)?;
//! // SAFETY: `root` is a live root of HEAP; nothing uses its blocks after the free.
//! unsafe {
//!     for _ in 0..10 {
//!         HEAP.allocate_more(24, root)?;
//!     }
//!     HEAP.free_buffer(root);
//! }
//! assert!(HEAP.stats().is_empty());
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::alloc::System;

use linked_alloc::kit::{Header, Kind, ShardedStats, chain};
use linked_alloc::{AllocError, BlockStatus, LinkedAllocator, Stats};

/// The platform heap as a [`LinkedAllocator`]: one system allocation per block, with a
/// 16-byte header (64-bit) and an intrusive chain per root. See the
/// [crate docs](crate).
///
/// ```
/// use core::alloc::Layout;
/// use linked_alloc::LinkedAllocator;
/// use linked_alloc_system::SystemHeap;
///
/// let heap = SystemHeap::new();
/// let root = heap.allocate_root(Layout::new::<u64>())?;
/// assert_eq!(heap.stats().roots, 1);
/// // SAFETY: `root` is a live root of `heap`.
/// unsafe { heap.free_root(root) };
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
#[derive(Debug, Default)]
pub struct SystemHeap {
    stats: ShardedStats,
}

impl SystemHeap {
    /// A system heap with nothing live. `const`, for `static`s.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            stats: ShardedStats::new(),
        }
    }

    /// The bytes each block takes in front of its payload for a [`MIN_ALIGN`] request
    /// (the header): 16 on 64-bit targets. The system heap adds its own (`malloc`'s
    /// chunk header) on top.
    ///
    /// [`MIN_ALIGN`]: linked_alloc::MIN_ALIGN
    ///
    /// ```
    /// # use linked_alloc_system::SystemHeap;
    /// #[cfg(target_pointer_width = "64")]
    /// assert_eq!(SystemHeap::HEADER_BYTES, 16);
    /// ```
    pub const HEADER_BYTES: usize = {
        let header = core::mem::size_of::<Header>();
        match linked_alloc::align::round_up(header, linked_alloc::MIN_ALIGN) {
            Some(bytes) => bytes,
            None => panic!("a header is a few words"),
        }
    };

    /// Allocates a block of `layout` with a live header of `kind`.
    #[inline]
    fn allocate_block(&self, layout: Layout, kind: Kind) -> Result<NonNull<Header>, AllocError> {
        let block = Header::block_layout(layout)?;
        #[cfg(test)]
        if fault::should_fail() {
            return Err(AllocError);
        }
        // SAFETY: `block.layout` has a non-zero size: it holds at least the header.
        let start = unsafe { System.alloc(block.layout) };
        let start = NonNull::new(start).ok_or(AllocError)?;
        #[cfg(test)]
        fault::acquired(1);
        // SAFETY: `block.offset <= block.layout.size()` (the payload follows the header
        // inside the allocation), so the payload pointer is in bounds.
        let payload = unsafe { start.add(block.offset) };
        // SAFETY: `payload` is the payload of a `Header::block_layout` allocation that we
        // own, so the header bytes before it are ours, aligned and writable;
        // `block_layout` checked `layout.size() <= Header::MAX_SIZE`.
        Ok(unsafe { Header::write(payload, layout, kind) })
    }

    /// Gives a block back to the system heap.
    ///
    /// # Safety
    /// `header` heads a live block made by `allocate_block`, off every chain that will
    /// still be walked; the block is not used afterwards.
    #[inline]
    unsafe fn deallocate_block(header: NonNull<Header>, layout: Layout) {
        // Cannot fail: the same maths succeeded when the block was made.
        let Ok(block) = Header::block_layout(layout) else {
            return;
        };
        // SAFETY: `header` was written by `allocate_block` (the precondition), so the
        // payload follows it and the allocation starts `block.offset` bytes before the
        // payload, with layout `block.layout`; retiring first leaves no live tag behind.
        unsafe {
            let start = Header::payload(header).sub(block.offset);
            Header::retire(header);
            System.dealloc(start.as_ptr(), block.layout);
        }
        #[cfg(test)]
        fault::released(1);
    }
}

/// A root or child pointer that is not live is the caller's error; this reports it.
#[cold]
#[inline(never)]
#[track_caller]
fn bad_pointer(call: &str, what: &str) {
    if cfg!(debug_assertions) {
        panic!("linked-alloc-system: {call} was given {what}");
    }
}

// SAFETY: blocks come from `System` with `Header::block_layout`, which aligns the
// payload to `max(align, MIN_ALIGN)` and checks the size; each block is its own
// allocation, so live blocks never overlap. `free_root` drains the chain iteratively,
// reading each link before freeing its block. Stats are counted on every path.
// `free_root` refuses a pointer whose header has no live root tag.
unsafe impl LinkedAllocator for SystemHeap {
    #[inline]
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let header = self.allocate_block(layout, Kind::Root)?;
        self.stats.add_root(shard::current(), layout.size());
        // SAFETY: `header` was just written by `allocate_block`.
        Ok(unsafe { Header::payload(header) })
    }

    #[inline]
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: the caller promises `parent` is a live block of this allocator, so a
        // kit header lies just before it.
        let parent = unsafe { Header::of(parent) };
        // SAFETY: as above: the header of a live block is readable.
        if unsafe { parent.as_ref() }.kind().is_none() {
            bad_pointer("allocate_child", "a parent that is not a live block");
            return Err(AllocError);
        }
        let header = self.allocate_block(layout, Kind::Child)?;
        // SAFETY: `parent` is live and its root is not being freed (the caller's
        // precondition); `header` is fresh and on no chain.
        unsafe { chain::link_after(parent, header) };
        self.stats.add_child(shard::current(), layout.size());
        // SAFETY: `header` was written by `allocate_block`.
        Ok(unsafe { Header::payload(header) })
    }

    unsafe fn free_root(&self, root: NonNull<u8>) {
        // SAFETY: the caller promises `root` is a live root of this allocator.
        let root = unsafe { Header::of(root) };
        // SAFETY: as above: its header is readable.
        if unsafe { root.as_ref() }.kind() != Some(Kind::Root) {
            bad_pointer(
                "free_root",
                "a pointer that is not a live root (a child, or freed)",
            );
            return;
        }
        // SAFETY: as above: its header is readable, and no other thread links to it
        // during the call (the caller's precondition).
        let root_header = unsafe { root.as_ref() };
        if chain::is_last(root_header) {
            // No children (every `GlobalAlloc` block): the root alone, no walk.
            let layout = root_header.layout();
            // SAFETY: `root` heads a live block made by `allocate_block`, on no chain
            // but its own (which ends at it); nothing uses it afterwards (the caller's
            // precondition).
            unsafe { Self::deallocate_block(root, layout) };
            self.stats.remove(shard::current(), 1, 0, layout.size());
            return;
        }
        let (mut children, mut bytes) = (0usize, 0usize);
        // SAFETY: `root` heads the chain of its live blocks, and no other thread links
        // to it meanwhile (the caller's precondition). `drain` reads each link before
        // handing the header over, so freeing it in the closure is fine.
        unsafe {
            chain::drain(root, |header| {
                let layout = header.as_ref().layout();
                bytes += layout.size();
                children += usize::from(header != root);
                Self::deallocate_block(header, layout);
            });
        }
        self.stats.remove(shard::current(), 1, children, bytes);
    }

    #[inline]
    fn stats(&self) -> Stats {
        self.stats.snapshot()
    }

    /// A root with no children is moved by the platform's `realloc` (header and all),
    /// which may grow or shrink it where it lies, or move big blocks without copying
    /// (glibc's `mremap`); a root with children says `None` (its chain starts at its
    /// header, which must not move). A refused `realloc` says `None` and leaves the
    /// block as it was.
    unsafe fn reallocate_root(
        &self,
        root: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller promises `root` is a live root of this allocator, so a kit
        // header lies just before it.
        let header = unsafe { Header::of(root) };
        // SAFETY: as above: its header is readable, and no other thread links a child
        // to it during the call (the caller's precondition).
        let h = unsafe { header.as_ref() };
        if h.kind() != Some(Kind::Root) {
            bad_pointer("reallocate_root", "a pointer that is not a live root");
            return None;
        }
        if !chain::is_last(h) {
            return None;
        }
        let old = Header::block_layout(layout).ok()?;
        let new_layout = Layout::from_size_align(new_size, layout.align()).ok()?;
        let new = Header::block_layout(new_layout).ok()?;
        // `System.realloc` keeps the alignment of `old.layout`, and the payload must stay
        // at the same offset: both hold when the payload's alignment is the same (it is),
        // checked here so that the maths can never disagree.
        if new.offset != old.offset || new.layout.align() != old.layout.align() {
            return None;
        }
        #[cfg(test)]
        if fault::should_fail() {
            return None;
        }
        // SAFETY: the allocation starts `old.offset` bytes before the payload (the
        // header was written by `allocate_block` with this layout's maths).
        let start = unsafe { root.sub(old.offset) };
        // SAFETY: `start` is a live `System` allocation of `old.layout` (made by
        // `allocate_block`), used by no one else during the call; `new.layout.size()` is
        // non-zero (it holds the header) and was checked not to pass `isize::MAX` when
        // rounded to the alignment (`block_layout`).
        let moved = unsafe { System.realloc(start.as_ptr(), old.layout, new.layout.size()) };
        let moved = NonNull::new(moved)?;
        // SAFETY: `moved` is a `System` allocation of `new.layout`: `new.offset` bytes of
        // header room (aligned for a header), then `new_size` bytes of payload; the old
        // header's bytes came along, and a root with no children has a null `next`,
        // which `write` writes again. `block_layout` checked `new_size <= MAX_SIZE`.
        let payload = unsafe {
            let payload = moved.add(new.offset);
            Header::payload(Header::write(payload, new_layout, Kind::Root))
        };
        if new_size >= layout.size() {
            self.stats
                .add_bytes(shard::current(), new_size - layout.size());
        } else {
            self.stats
                .remove(shard::current(), 0, 0, layout.size() - new_size);
        }
        Some(payload)
    }

    /// Reads the tag of the header in front of `block`: tells a root from a child.
    #[inline]
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        // SAFETY: the caller promises `block` is a live block of this allocator, so a
        // kit header lies just before it and is readable.
        let header = unsafe { Header::of(block).as_ref() };
        match header.kind() {
            Some(Kind::Root) => BlockStatus::Root,
            Some(Kind::Child) => BlockStatus::Child,
            None => BlockStatus::NotLive,
        }
    }
}

// Refused system-heap requests, for the crate's own tests only: `allocate_block` asks
// `fault::should_fail` just before it would call `System.alloc`, and returns
// `AllocError` (as for a null from the heap) when told to; `allocate_block` and
// `deallocate_block` count the `System` allocations live.
#[cfg(test)]
use linked_alloc_testkit::os_fault as fault;

#[cfg(test)]
mod os_faults;

mod shard;

#[cfg(test)]
mod reallocate;

#[cfg(test)]
mod threads;
