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
//! Every block the model owns is pattern-filled when it is made, and every pattern of
//! a root is checked before the root is freed (and on [`Action::Check`]); the
//! vectors check their elements after every operation.
//!
//! One generic body, [`run`]; each target in `fuzz_targets/` is a few lines that pick
//! the backend and its [`Config`]. The modules: `input` (the actions and how bytes
//! decode), `model` (the live roots and how each action runs), `shadow` (every live
//! block and the expected `stats()`), `tracked` (`&Root` as a collection's allocator,
//! seen through the model), `vectors` (the vectors in roots), `pattern` (block contents).

mod input;
mod model;
mod pattern;
mod shadow;
mod tracked;
mod vectors;

pub use input::{
    Action, Align, ChildVia, Config, FreeVia, ORDINARY_SIZE, RootVia, Size, VecOp, decode,
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
