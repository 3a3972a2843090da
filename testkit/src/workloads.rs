//! The benchmark workloads, written once and run on every contender: our backends
//! (through the one front end [`Linked<B>`](linked_alloc::Linked)) and the peers
//! (`malloc`, bumpalo, talloc). The criterion benches (`benches/`) and
//! `benches/examples/compare.rs` share this module, so the numbers of both come from the same
//! code.
//!
//! - [`Contender`]: what a workload needs (a root, a child of it, free the root, a
//!   collections allocator, a memory figure). Every `Linked<B>` is one, whatever `B`.
//! - [`for_each_contender`]: the list. **Add your backend there, in one line.**
//! - [`Workload`]: the bodies ([`bodies`]), each generic over the contender.
//! - Workload 5 ([`Script`], [`global`]) runs on `GlobalAlloc`s instead, listed by
//!   [`for_each_global`].
//!
//! Each bench file and the example use a part of it only.

#[cfg(feature = "bench")]
pub mod bench;
pub mod bodies;
pub mod contender;
pub mod footprint;
pub mod glibc;
pub mod global;
pub mod peers;
pub mod sizes;
#[cfg(feature = "talloc")]
pub mod talloc;

pub use bodies::{Kind, Workload};
pub use contender::{AllocUser, Contender, Only, OutOfMemory, Visitor};
pub use global::{Script, for_each_global};
pub use sizes::Sizes;

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;

/// The bytes of the benches' pool: room for the largest workload (a million children
/// of up to 512 bytes live at once). Its pages are touched only as they are used.
pub const POOL_BYTES: usize = 512 << 20;

/// The pool of the benches: too large for a `static` in the binary or for the stack,
/// so made in place in a leaked heap block, once.
pub fn bench_pool() -> &'static StaticPool<POOL_BYTES> {
    static POOL: OnceLock<&'static StaticPool<POOL_BYTES>> = OnceLock::new();
    POOL.get_or_init(|| {
        let slot: &'static mut MaybeUninit<StaticPool<POOL_BYTES>> = Box::leak(Box::new_uninit());
        StaticPool::new_in_place(slot)
    })
}

/// Calls `visitor` on every contender, `malloc` (the reference of the ratios) first.
///
/// To measure your own backend `MyBackend: LinkedAllocator`, add
/// `visitor.visit(&Linked::new(MyBackend::new()));` here (and, for its memory figure,
/// `impl footprint::BackendFootprint for MyBackend {}` in `footprint.rs`).
pub fn for_each_contender(visitor: &mut impl Visitor) {
    visitor.visit(&peers::Malloc::default());
    visitor.visit(&Linked::new(SystemHeap::new()));
    visitor.visit(&Linked::new(MmapPages::new()));
    visitor.visit(&Linked::new(bench_pool()));
    visitor.visit(&peers::Bumpalo);
    #[cfg(feature = "talloc")]
    visitor.visit(&talloc::Talloc);
}
