//! The shared body of the fuzz targets: a sequence of [`Action`]s run against any
//! [`LinkedAllocator`] (through its front end [`Linked<B>`]) and checked, step by step,
//! against a shadow model that knows every live block, its root, its range and its
//! contents.
//!
//! After every action, and after every call a collection makes to its allocator:
//! - every block returned is aligned to `max(align, MIN_ALIGN)`
//!   ([`block_align`](linked_alloc::align::block_align));
//! - no live block overlaps another (a [`BTreeMap`](std::collections::BTreeMap) of
//!   ranges; a zero-size block counts as one byte, so that its address is unique and
//!   inside no other block);
//! - [`stats()`](LinkedAllocator::stats) equals the model exactly;
//! - a failed request (`AllocError`, a null from `GlobalAlloc`, an error from
//!   `try_reserve`) changes nothing, and is allowed only where the backend may fail:
//!   sizes near `isize::MAX` must fail, alignments past 4096 may, and an
//!   [`exhaustible`](Config::exhaustible) backend (a fixed pool) may fail anything.
//!
//! The tree of roots (`nest`): sub-roots, values that record their drops, reset,
//! accounted roots, limits and moves; `Root::stats()` of every accounted handle equals
//! the model's subtree figures after every action, values are dropped exactly once when
//! their root goes or resets, and no success passes a limit.
//!
//! Every block the model owns is pattern-filled when it is made, and every pattern of
//! a root is checked before the root is freed (and on [`Action::Check`]); the
//! vectors check their elements after every operation.
//!
//! One generic body, [`run`]; each target in `fuzz_targets/` is a few lines that pick
//! the backend and its [`Config`]. The modules: `input` (the actions and how bytes
//! decode), `model` (the live roots and how each action runs), `nest` (the actions on
//! the tree of roots), `shadow` (every live block, each root's place in the tree and
//! the expected `stats()`), `tracked` (`&Root` as a collection's allocator,
//! seen through the model), `vectors` (the vectors in roots); block contents are the core's
//! `conformance::pattern`.

mod input;
mod model;
mod nest;
mod shadow;
mod tracked;
mod vectors;

pub use input::{
    Action, Align, ChildVia, Config, FreeVia, LimitOp, ORDINARY_SIZE, RootVia, Size, ValueKind,
    VecOp, decode,
};

use linked_alloc::{Linked, LinkedAllocator};
use model::Model;

/// Runs `actions` on `linked`, checking everything against the model, then frees
/// what is left and checks that `stats()` is back to the start.
///
/// # Panics
/// On any difference between the backend and the model (that is the point).
pub fn run<B: LinkedAllocator>(linked: &Linked<B>, config: Config, actions: &[Action]) {
    run_checked(linked, config, actions, |_| {});
}

/// [`run`], also calling `check` on the backend after every action (a backend's own
/// integrity check, such as the pool's `check_integrity`).
///
/// # Panics
/// As [`run`], and where `check` panics.
pub fn run_checked<B: LinkedAllocator>(
    linked: &Linked<B>,
    config: Config,
    actions: &[Action],
    check: impl Fn(&B),
) {
    let mut model = Model::new(linked, config);
    for (step, action) in actions.iter().enumerate() {
        model.step = step;
        model.apply(*action);
        model.check_stats("after the action");
        model.check_step();
        check(linked.backend());
    }
    model.free_all();
    check(linked.backend());
    assert_eq!(
        linked.stats(),
        model.base,
        "stats() did not come back to the start after freeing everything"
    );
}

/// The bodies of the fuzz targets (`fuzz_targets/*.rs`), which `tests/replay.rs`
/// replays on stable: one copy of each, so that a replay runs exactly what the target
/// runs. Each makes a fresh backend and runs [`run`] or [`run_checked`] on the input.
pub mod targets {
    use linked_alloc::Linked;
    use linked_alloc_mmap::MmapPages;
    use linked_alloc_pool::{CriticalSectionLock, PoolLock, SpinLock, StaticPool, TryLock};
    use linked_alloc_system::SystemHeap;

    use crate::{Config, decode, run, run_checked};

    /// `SystemHeap` against the shadow model.
    pub fn system(data: &[u8]) {
        run(
            &Linked::new(SystemHeap::new()),
            Config::UNBOUNDED,
            &decode(data),
        );
    }

    /// `MmapPages` against the shadow model. An odd first byte picks no cache at all
    /// (every empty segment and freed huge block goes back to the OS at once), an even
    /// one the defaults. After every action the allocator's figures must hold together;
    /// once all is freed and the cache trimmed, nothing may stay mapped.
    pub fn mmap(data: &[u8]) {
        let pages = match data.first() {
            Some(b) if b % 2 == 1 => MmapPages::new().with_cache_limit(0),
            _ => MmapPages::new(),
        };
        let linked = Linked::new(pages);
        run_checked(&linked, Config::UNBOUNDED, &decode(data), |p| {
            assert!(
                p.bytes_cached() <= p.bytes_mapped(),
                "cache larger than the mappings"
            );
        });
        assert!(linked.stats().is_empty(), "the model freed everything");
        linked.backend().trim_cache();
        assert_eq!(linked.backend().bytes_mapped(), 0, "a mapping leaked");
    }

    /// `StaticPool` against the shadow model: a 256 KiB pool, so that requests both fit
    /// and run out; exhaustion must be a clean `AllocError`. The pool's own
    /// `check_integrity` runs after every action, and when all is freed the pool must be
    /// one free block again. The first byte picks the lock policy (spin, try-lock,
    /// critical section), so every policy is fuzzed.
    pub fn pool(data: &[u8]) {
        match data.first().map_or(0, |b| b % 3) {
            0 => pool_with::<SpinLock>(data),
            1 => pool_with::<TryLock>(data),
            _ => pool_with::<CriticalSectionLock>(data),
        }
    }

    fn pool_with<L: PoolLock>(data: &[u8]) {
        let mut slot = Box::new_uninit();
        let pool: &StaticPool<{ 256 << 10 }, L> = StaticPool::new_in_place(&mut slot);
        run_checked(
            &Linked::new(pool),
            Config {
                capacity: pool.capacity(),
                ..Config::EXHAUSTIBLE
            },
            &decode(data),
            |p| {
                p.check_integrity().expect("pool integrity");
            },
        );
        assert_eq!(
            pool.free_bytes(),
            pool.capacity(),
            "the pool did not coalesce back"
        );
    }
}

/// `len` pseudo-random bytes (xorshift) from `seed`: the same input on every run, for
/// the tests that replay inputs without a fuzzer (`tests/replay.rs`, `tests/mutants.rs`).
pub fn pseudo_random_input(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
