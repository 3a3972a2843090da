//! # linked-alloc-pool: a fixed region for `no_std` firmware
//!
//! [`StaticPool<N>`] holds `N` bytes inside the value: with `const fn new` it is a
//! `static`, with no init call, and serves the roots and children of
//! [`LinkedAllocator`](linked_alloc::LinkedAllocator) from them, under the same
//! [alignment rules](linked_alloc::align) as every backend. [`PoolRegion`] is the same
//! pool over a `&'static mut [u8]` the user hands in (a linker-placed RAM section), or
//! over the memory between two pointers ([`PoolRegion::from_raw_range`]: between linker
//! symbols, soundly); a region too small for the tables is refused with
//! [`RegionTooSmall`]. Both names are one type, [`Pool`], over two
//! [storages](storage): every method is written once, for both.
//!
//! A pool serves from **several regions**: [`Pool::add_region`] (or the raw-range
//! [`Pool::add_region_raw`]) gives it another one at run time, SRAM2 beside SRAM1, up to
//! [`MAX_REGIONS`] in all. Each region is a TLSF heap of its own (no block spans two),
//! a request goes to the first region that has a fit, and a root's children may lie in
//! any region: `free_root` frees them all. Beside the live counts,
//! [`free_bytes`](Pool::free_bytes), [`largest_free_block`](Pool::largest_free_block)
//! and [`peak_used`](Pool::peak_used) (the high-water mark) tell how full the pool is
//! and was, over all its regions.
//! No OS, no `alloc` crate; `Sync` through a lock whose policy the user picks (see
//! [`lock`]): a spin lock by default, an interrupt-safe `critical-section` lock, or a
//! try-lock whose allocations fail at once when the pool is busy.
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc_pool::StaticPool;
//!
//! // In firmware: `#[global_allocator]` on this static.
//! static HEAP: Linked<StaticPool<{ 16 * 1024 }>> = Linked::new(StaticPool::new());
//!
//! let row = HEAP.allocate_buffer(48)?;                  // MAPIAllocateBuffer
//! // SAFETY: `row` is a live root of HEAP; nothing uses its blocks after the free.
//! unsafe {
//!     let name = HEAP.allocate_more(20, row)?;          // MAPIAllocateMore
//!     name.as_ptr().write_bytes(b'a', 20);
//!     HEAP.free_buffer(row);                            // MAPIFreeBuffer: both go
//! }
//! assert!(HEAP.stats().is_empty());
//! assert_eq!(HEAP.backend().free_bytes(), HEAP.backend().capacity());
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```
//!
//! ## Design: two-level segregated fits (TLSF)
//! - **Blocks.** Roots and children alike are blocks of one heap, each with a 16-byte
//!   header in front of its payload (size and flags, two links, the requested size).
//!   A child is linked into its root's chain right after its parent; the chain is
//!   doubly linked, so a child can also be given back on its own
//!   ([`reclaim_child`](linked_alloc::LinkedAllocator::reclaim_child), O(1)).
//!   Children are not carved from space reserved with their root: every block has the
//!   same O(1) path, and freed children's space is reused at once.
//! - **Free space.** Free blocks sit in segregated lists: first level by power of two,
//!   second level 16 classes within it (one class per [`MIN_ALIGN`] granule below 256
//!   bytes on 64-bit targets, 128 on 32-bit ones), with one bitmap per level. A freed
//!   block merges with a free neighbour on either side at once (boundary tags), so two
//!   free blocks never touch, and when every root is freed the heap is one block again.
//! - **Alignment.** Every block is aligned to `max(align, MIN_ALIGN)`. Any power of two
//!   is served while a free block has room for it (4096 needs 4096 + 16 bytes of slack
//!   in the search); the gap before an over-aligned block becomes a free block of its
//!   own, so it is not lost.
//! - **Regions.** The first region's state is in the pool value; a region added with
//!   [`add_region`](Pool::add_region) keeps its state in its own first bytes, then its
//!   tables, sized from its own length. Each region ends where its heap ends, so blocks
//!   never merge across regions. A used block's two chain links are `u32` offsets in
//!   its region with the region's index in their low bits (offsets are multiples of
//!   the granule, 8 or 16): hence at most [`MAX_REGIONS`] (8) regions, and chains that
//!   run across regions freely.
//! - **Bad pointers.** A bitmap with one bit per granule (the *live map*) of each
//!   region marks the payload start of every live block. Any pointer given to
//!   `free_root`, `allocate_child`, `resize_in_place`, `reclaim_child` or `block_status`
//!   is checked exactly against each region's range, the granule and this bit: a pointer outside
//!   the region, an interior pointer, a child given to `free_root`, or a second free
//!   changes nothing (a debug build panics with a message saying so; a release build
//!   ignores the call; `allocate_child` returns `AllocError`). The hooks do not need
//!   the `root` they are given, and do not read it.
//!   [`block_status`](linked_alloc::LinkedAllocator::block_status) accepts **any**
//!   pointer.
//!
//! ## Time bounds
//! With R regions (1 unless regions were added; at most [`MAX_REGIONS`]):
//! - `allocate_root` / `allocate_child`: O(1) per region tried, O(R) at most: two bit
//!   scans find the first non-empty class that fits every block in it ("good fit", the
//!   request rounded up to the next class boundary); only if that finds nothing, at
//!   most 16 free blocks of the classes just below are examined. Then at most two
//!   splits, each O(1). The regions are tried in the order they were given.
//! - `free_root`: O(R + k) for a root with k blocks, O(1) per block (unlink from two
//!   neighbours, merge, push), with constant stack: the chain is walked in a loop.
//! - `reclaim_child`, `resize_in_place` (shrink always; grow into a free next block),
//!   `block_status`: O(R) to find the block's region, O(1) then; `stats`: O(1);
//!   `free_bytes`: O(R).
//! - The first call lays out the first region's tables: O(N / 256) word writes at most,
//!   once; [`add_region`](Pool::add_region) lays out its region's at once.
//! - [`largest_free_block`](Pool::largest_free_block) scans one list (the top class)
//!   per region; [`check_integrity`](Pool::check_integrity) walks every region.
//!
//! All of it runs under one lock, of the policy the pool was given (see [`lock`]): with
//! the default [`SpinLock`], do not allocate from an interrupt handler that may preempt
//! an allocation (it would spin forever on a single core); use [`CriticalSectionLock`]
//! (feature `critical-section`) or [`TryLock`] there.
//!
//! ## Features
//! - `std`: the spin lock yields its time slice (`std::thread::yield_now`) after a brief
//!   spin, so threads do not burn their slice on a holder that was preempted.
//! - `critical-section`: [`CriticalSectionLock`], over the `critical-section` crate.
//!
//! ## Memory
//! Per block: the 16-byte header, and the payload rounded up to [`MIN_ALIGN`]. Per
//! region of N bytes: the list heads (`64 × (log2(N) − 6)` bytes on 64-bit targets) and
//! the live map (`N / 128` bytes on 64-bit targets, `N / 64` on 32-bit ones), laid in
//! the region's first bytes; an added region's state takes about 200 bytes more there
//! (about 160 on 32-bit targets). Each region is managed up to 4 GiB.
//!
//! [`MIN_ALIGN`]: linked_alloc::MIN_ALIGN
#![no_std]

#[cfg(feature = "std")]
extern crate std;

mod heaps;
pub mod lock;
mod pool;
mod region;
mod static_pool;
pub mod storage;
mod tlsf;

pub use heaps::MAX_REGIONS;
#[cfg(feature = "critical-section")]
pub use lock::CriticalSectionLock;
pub use lock::{PoolLock, SpinLock, TryLock};
pub use pool::Pool;
pub use region::{AddRegionError, PoolRegion, RegionTooSmall};
pub use static_pool::StaticPool;
