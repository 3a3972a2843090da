//! The kit for backend authors whose blocks each come from a source that allocates and
//! deallocates with a layout (the platform heap, a general-purpose allocator): a header
//! in front of every block, a chain through the headers, exact counters. Public so that
//! such a backend, written outside this repository, is built the way
//! `linked-alloc-system` is (it is made of these parts alone).
//!
//! Not every backend needs it: a backend that manages its own memory keeps its metadata
//! its own way. `linked-alloc-pool` (TLSF over one region) has 16-byte headers of
//! 32-bit offsets and an exact map of live blocks; `linked-alloc-mmap` keeps per-page
//! metadata in its segments' headers and a header of its own on roots and chunks. Both
//! use only the alignment rules of [`align`](crate::align), which every backend shares
//! (and the mmap crate none of the kit's counters: its heaps count per thread).
//!
//! - [`align`](crate::align): the alignment rules and the checked layout maths
//!   ([`HeaderedLayout`](crate::align::HeaderedLayout)).
//! - [`Header`]: a 16-byte (on 64-bit) block header that records the block's chain link,
//!   size, alignment, kind (root or child) and a tag that tells a live header of this
//!   kit from other bytes.
//! - [`chain`]: an intrusive singly linked chain of headers, with a lock-free
//!   [`link_after`](chain::link_after) so that several threads may add children to one
//!   root at once, and an iterative [`drain`](chain::drain) that never reads a header
//!   after handing it to the caller to free.
//! - [`StatsCounter`]: exact live counts with atomics, for [`LinkedAllocator::stats`](crate::LinkedAllocator::stats).
//! - [`ShardedStats`]: the same counts in per-thread shards (the backend names the
//!   [`Shard`] of the calling thread), summed on read, so that threads allocating at
//!   once write no shared cache line.
//!
//! # Writing a backend with the kit
//! A backend over any "allocate / deallocate with a layout" source puts a [`Header`]
//! in front of every block, links each child after its parent, and drains the root's
//! chain on `free_root`. The system-heap backend (`linked-alloc-system`) is about 150
//! lines built this way; here is the same shape over a toy source, with every block
//! checked by the conformance suite (`linked_alloc::conformance`) when the `conformance`
//! feature is on:
//!
//! ```
//! use core::alloc::Layout;
//! use core::ptr::NonNull;
//! use linked_alloc::kit::{chain, Header, Kind, StatsCounter};
//! use linked_alloc::{AllocError, LinkedAllocator, Stats};
//!
//! #[derive(Debug, Default)]
//! struct MyHeap { stats: StatsCounter }
//!
//! impl MyHeap {
//!     fn block(&self, layout: Layout, kind: Kind) -> Result<NonNull<Header>, AllocError> {
//!         let b = Header::block_layout(layout)?;
//!         // SAFETY: `b.layout` has a non-zero size (it holds the header).
//!         let start = NonNull::new(unsafe { std::alloc::alloc(b.layout) }).ok_or(AllocError)?;
//!         // SAFETY: `b.offset <= b.layout.size()` and `b.offset >= size_of::<Header>()`.
//!         let payload = unsafe { start.add(b.offset) };
//!         // SAFETY: the header bytes before `payload` are ours, aligned and writable.
//!         Ok(unsafe { Header::write(payload, layout, kind) })
//!     }
//! }
//!
//! // SAFETY: blocks come from `std::alloc` with `Header::block_layout`, so they are aligned
//! // and disjoint; `free_root` drains the chain iteratively; stats are exact.
//! unsafe impl LinkedAllocator for MyHeap {
//!     fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
//!         let h = self.block(layout, Kind::Root)?;
//!         self.stats.add_root(layout.size());
//!         // SAFETY: `h` was written by `Header::write`.
//!         Ok(unsafe { Header::payload(h) })
//!     }
//!     unsafe fn allocate_child(&self, parent: NonNull<u8>, layout: Layout) -> Result<NonNull<u8>, AllocError> {
//!         // SAFETY: the caller promises `parent` is a live block of ours.
//!         let parent = unsafe { Header::of(parent) };
//!         let h = self.block(layout, Kind::Child)?;
//!         // SAFETY: both headers are live and `h` is not linked yet.
//!         unsafe { chain::link_after(parent, h) };
//!         self.stats.add_child(layout.size());
//!         // SAFETY: `h` was written by `Header::write`.
//!         Ok(unsafe { Header::payload(h) })
//!     }
//!     unsafe fn free_root(&self, root: NonNull<u8>) {
//!         // SAFETY: the caller promises `root` is a live root of ours.
//!         let root = unsafe { Header::of(root) };
//!         let (mut children, mut bytes) = (0, 0);
//!         // SAFETY: `root` heads a chain of live headers that nobody else touches now.
//!         unsafe {
//!             chain::drain(root, |h| {
//!                 let layout = h.as_ref().layout();
//!                 if h != root { children += 1; }
//!                 bytes += layout.size();
//!                 let b = Header::block_layout(layout).unwrap();
//!                 Header::retire(h);
//!                 std::alloc::dealloc(Header::payload(h).as_ptr().sub(b.offset), b.layout);
//!             })
//!         };
//!         self.stats.remove(1, children, bytes);
//!     }
//!     fn stats(&self) -> Stats { self.stats.snapshot() }
//! }
//!
//! let heap = linked_alloc::Linked::new(MyHeap::default());
//! let root = heap.allocate_buffer(100)?;
//! // SAFETY: `root` is a live root of `heap`.
//! unsafe {
//!     heap.allocate_more(20, root)?;
//!     heap.free_buffer(root);
//! }
//! assert!(heap.stats().is_empty());
//! # Ok::<(), AllocError>(())
//! ```

pub(crate) mod atomic;
pub mod chain;
mod counters;
mod header;
mod sharded;

pub use counters::StatsCounter;
pub use header::{Header, Kind};
pub use sharded::{Shard, ShardedStats};
