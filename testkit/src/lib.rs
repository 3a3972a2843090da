//! # linked-alloc-testkit: what the tests, benches, examples and fuzzer share
//!
//! Not published: a workspace member that the other crates reach as a dev-dependency,
//! so that each piece of test machinery is written once and has one owner.
//!
//! - [`clock`]: the calling thread's CPU time, for measurements on a shared machine.
//! - [`failing`]: [`FailingAt<B>`](failing::FailingAt), a backend wrapper that refuses
//!   its k-th allocation request: out-of-memory at the trait's boundary.
//! - [`mapi_rows`]: the MAPI row structs (`SPropValue`, `SRow`) that the row-set
//!   workload and `examples/tour.rs` build.
//! - [`measure`]: the measuring examples' arguments and best-of-rounds loop.
//! - [`os_fault`]: the countdown that refuses the k-th request a backend makes to the
//!   OS, which a backend asks in its `#[cfg(test)]` builds; and [`os_faults`], the one
//!   workload that runs it over any backend, the backend supplying only what differs.
//! - [`pattern`]: the pattern fill and check of blocks (the core crate's
//!   `conformance::pattern`, re-exported, so that there is one copy).
//! - [`workloads`]: the benchmark workloads and contenders, shared by `benches/` and
//!   `benches/examples/compare.rs`.
//!
//! Features: `talloc`, the C library talloc as a peer in the workloads; `bench`, the
//! criterion side of the workloads (`workloads::bench`), which only the benches crate
//! turns on (criterion builds C, which the Miri runs on other targets cannot).
//!
//! ```
//! use core::alloc::Layout;
//! use linked_alloc::LinkedAllocator;
//! use linked_alloc_system::SystemHeap;
//! use linked_alloc_testkit::failing::{FailingAt, Mode};
//! use linked_alloc_testkit::pattern;
//!
//! let heap = FailingAt::new(SystemHeap::new(), Mode::Once, usize::MAX);
//! let root = heap.allocate_root(Layout::new::<[u8; 32]>())?;
//! // SAFETY: `root` is a live root of `heap`, 32 bytes that only we use; not used after
//! // the free.
//! unsafe {
//!     pattern::fill(root, 32, 1);
//!     pattern::check(root, 32, 1);
//!     heap.free_root(root);
//! }
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```

pub mod clock;
pub mod failing;
pub mod mapi_rows;
pub mod measure;
pub mod os_fault;
pub mod os_faults;
pub mod workloads;

pub use linked_alloc::conformance::pattern;
