//! # linked-alloc: the MAPI memory model for Rust, over interchangeable backends
//!
//! Windows MAPI has three memory calls: `MAPIAllocateBuffer` makes a *root* buffer,
//! `MAPIAllocateMore(size, root)` makes a buffer *linked* to that root, and
//! `MAPIFreeBuffer(root)` frees the root and every linked buffer in one call. This crate
//! brings that model to Rust:
//!
//! - [`LinkedAllocator`]: the backend contract (allocate a root, allocate a child
//!   linked to a root, free a root with all its children), with the same
//!   [alignment rules](align) for every backend;
//! - [`Linked<B>`]: the one front end over any backend: MAPI-style calls, the
//!   Layout-based calls and [`GlobalAlloc`](core::alloc::GlobalAlloc);
//! - [`kit`]: the parts of a backend that puts a header in front of every block
//!   (header, chain, counters), as `linked-alloc-system` does, public for backends
//!   written elsewhere; `conformance` (feature `conformance`): the suite that every
//!   backend must pass.
//!
//! The backends are crates of their own: `linked-alloc-system` (`SystemHeap`, the
//! platform heap), `linked-alloc-mmap` (`MmapPages`, segments of anonymous pages with
//! per-thread heaps) and `linked-alloc-pool` (`StaticPool<N>`, a fixed region for
//! `no_std` firmware).
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc_system::SystemHeap;
//!
//! let heap = Linked::new(SystemHeap::new());
//! let row = heap.allocate_buffer(16)?;
//! // SAFETY: `row` is a live root of `heap`; nothing uses its blocks after the free.
//! unsafe {
//!     heap.allocate_more(100, row)?;
//!     heap.free_buffer(row); // the child goes with it
//! }
//! assert!(heap.stats().is_empty());
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```
//!
//! ## Features
//! - `alloc`, `std`: additive conveniences; no feature changes which traits are
//!   implemented. The crate is `#![no_std]` and builds without `alloc`.
//! - `conformance` (implies `std`): the public conformance suite.
//! - `allocator-api2-04`: `&Root` also implements allocator-api2 0.4's `Allocator`
//!   (0.2's is always implemented).
#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod align;
#[cfg(feature = "conformance")]
pub mod conformance;
mod contract;
mod error;
pub mod kit;
mod linked;
pub mod mapi;
pub mod nested;
mod root;

pub use align::MIN_ALIGN;
pub use contract::{BlockStatus, LinkedAllocator, Stats};
pub use error::AllocError;
pub use linked::Linked;
pub use root::Root;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
