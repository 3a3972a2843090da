//! Workload 5: allocators as `GlobalAlloc` over a fixed arena, as in firmware, under
//! random allocations and frees (which fragments their free space):
//! `Linked<StaticPool<ARENA>>` against the `no_std` peers talc (`TalcLock` over a
//! claimed arena) and embedded-alloc (`TlsfHeap`, rlsf's TLSF; `LlffHeap`, linked-list
//! first fit), each over an arena of the same [`ARENA`] bytes; with `malloc`
//! (`std::alloc::System`), and our other backends through `Linked<B>` (a block is a
//! root), as references.
//!
//! The script is drawn once with a fixed seed: allocate until [`WINDOW`] objects are
//! live, then alternately free a random live object and allocate a new one, [`STEPS`]
//! steps in all; sizes from [`Sizes`] (64 B, or uniform in 8..=512 B), aligned to 8. A
//! run frees what is left, so every run starts from an empty arena.
//!
//! The fragmentation figure ([`Script::fragmentation`]): after the script (with its
//! `WINDOW` objects still live), the largest block that can still be allocated, found by
//! binary search of successful allocations.

use core::alloc::{GlobalAlloc, Layout};
use core::hint::black_box;
use core::ptr::NonNull;
use std::alloc::System;
use std::sync::Once;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;

use super::bodies::warm_up;
use super::contender::{OutOfMemory, Visitor};
use super::sizes::{Rng, Sizes};

/// The bytes of every arena.
pub const ARENA: usize = 1 << 20;
/// Live objects in the steady state (about half the arena at the mean size of 260 B).
pub const WINDOW: usize = 2000;
/// Steps of the script: allocations and frees.
pub const STEPS: usize = 100_000;

/// One step of the script.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Allocate an object of this layout.
    Alloc(Layout),
    /// Free the live object at this index of the live list (`swap_remove`).
    Free(u32),
}

/// The live objects of a run: pointer and layout.
type Live = Vec<(NonNull<u8>, Layout)>;

/// The script of workload 5.
#[derive(Clone, Debug)]
pub struct Script {
    ops: Vec<Op>,
    sizes: Sizes,
}

/// What [`Script::fragmentation`] found.
#[derive(Clone, Copy, Debug)]
pub struct Fragmentation {
    /// The largest allocatable block of the empty arena.
    pub empty: usize,
    /// The largest allocatable block after the script, `WINDOW` objects live.
    pub after: usize,
    /// The bytes of those live objects.
    pub live_bytes: usize,
}

impl Script {
    /// The script with objects of `sizes`.
    pub fn new(sizes: Sizes) -> Self {
        let mut rng = Rng::new(0x5EED_0FA1_1C00);
        let mut live = 0usize;
        let ops = (0..STEPS)
            .map(|i| {
                if live == WINDOW {
                    live -= 1;
                    Op::Free(rng.below(WINDOW) as u32)
                } else {
                    live += 1;
                    // Cannot fail: a small size, alignment 8.
                    Op::Alloc(Layout::from_size_align(sizes.layout(i).size(), 8).unwrap())
                }
            })
            .collect();
        Self { ops, sizes }
    }

    /// Every script: 64 B objects and mixed sizes.
    pub fn all() -> Vec<Self> {
        vec![Self::new(Sizes::fixed_64()), Self::new(Sizes::mixed())]
    }

    /// A short name: `5_global_random_100k_64B`.
    pub fn name(&self) -> String {
        format!("5_global_random_100k_{}", self.sizes.name())
    }

    /// The operations of one run: every allocation and every free.
    pub fn ops(&self) -> u64 {
        let allocs = self
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Alloc(_)))
            .count();
        (2 * allocs) as u64
    }

    /// Prepares a measurement of `g` (see [`warm_up`]).
    ///
    /// # Errors
    /// [`OutOfMemory`] if the script does not fit `g`.
    pub fn warm_up<G: GlobalAlloc>(&self, g: &G) -> Result<(), OutOfMemory> {
        warm_up(|| self.run(g))
    }

    /// Runs the script on `g`, then frees what is left; returns the operations done.
    ///
    /// # Errors
    /// [`OutOfMemory`] if an allocation failed (everything made is freed first).
    #[inline(never)]
    pub fn run<G: GlobalAlloc>(&self, g: &G) -> Result<u64, OutOfMemory> {
        let mut live = Vec::with_capacity(WINDOW);
        let done = self.steps(g, &mut live);
        free_all(g, &mut live);
        done.map(|()| self.ops())
    }

    /// The steps of the script on `g`; the live objects are left in `live`.
    fn steps<G: GlobalAlloc>(&self, g: &G, live: &mut Live) -> Result<(), OutOfMemory> {
        for (step, op) in self.ops.iter().enumerate() {
            match *op {
                Op::Alloc(layout) => {
                    // SAFETY: `layout` has a non-zero size (at least 8 bytes).
                    let p = NonNull::new(unsafe { g.alloc(layout) }).ok_or(OutOfMemory)?;
                    // SAFETY: a fresh block of at least 8 bytes.
                    unsafe { p.as_ptr().write(step as u8) };
                    live.push((black_box(p), layout));
                }
                Op::Free(i) => {
                    let (p, layout) = live.swap_remove(i as usize);
                    // SAFETY: `p` is live, allocated by `g` with `layout`, freed once.
                    unsafe { g.dealloc(p.as_ptr(), layout) };
                }
            }
        }
        Ok(())
    }

    /// The fragmentation figure of `g`, or `None` if `g` is not bound to an arena of
    /// [`ARENA`] bytes (it can allocate more than that) or the script does not fit.
    pub fn fragmentation<G: GlobalAlloc>(&self, g: &G) -> Option<Fragmentation> {
        let empty = largest_allocatable(g)?;
        let mut live = Vec::with_capacity(WINDOW);
        let done = self.steps(g, &mut live);
        let after = largest_allocatable(g);
        let live_bytes = live.iter().map(|(_, l)| l.size()).sum();
        free_all(g, &mut live);
        done.ok()?;
        Some(Fragmentation {
            empty,
            after: after.unwrap_or(0),
            live_bytes,
        })
    }
}

/// Frees everything in `live`.
fn free_all<G: GlobalAlloc>(g: &G, live: &mut Live) {
    for (p, layout) in live.drain(..) {
        // SAFETY: each was allocated by `g` with `layout` and is freed once.
        unsafe { g.dealloc(p.as_ptr(), layout) };
    }
}

/// The largest size (aligned to 8) that `g` can allocate now, by binary search; `None`
/// if `g` can allocate more than [`ARENA`] bytes (it has no arena).
fn largest_allocatable<G: GlobalAlloc>(g: &G) -> Option<usize> {
    let fits = |size: usize| {
        // Cannot fail: a size below `isize::MAX`, alignment 8.
        let layout = Layout::from_size_align(size.max(1), 8).unwrap();
        // SAFETY: a non-zero size; a success is freed at once.
        let p = unsafe { g.alloc(layout) };
        if p.is_null() {
            false
        } else {
            // SAFETY: `p` was allocated by `g` with `layout`.
            unsafe { g.dealloc(p, layout) };
            true
        }
    };
    if fits(ARENA + 1) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, ARENA + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// An arena, aligned as the pool's own bytes are.
#[repr(C, align(16))]
struct Arena([u8; ARENA]);

/// The pool of workload 5: an arena of [`ARENA`] bytes, like the peers'.
static POOL: Linked<StaticPool<ARENA>> = Linked::new(StaticPool::new());

/// talc over a claimed arena, locked with a spin lock (as a `#[global_allocator]` is).
type Talc = talc::TalcLock<spinning_top::RawSpinlock, talc::source::Manual>;
static TALC: Talc = Talc::new(talc::source::Manual);
static mut TALC_ARENA: Arena = Arena([0; ARENA]);

static LLFF: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();
static mut LLFF_ARENA: Arena = Arena([0; ARENA]);

static TLSF: embedded_alloc::TlsfHeap = embedded_alloc::TlsfHeap::empty();
static mut TLSF_ARENA: Arena = Arena([0; ARENA]);

/// Gives the peers their arenas, once.
fn init_peers() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: each arena is used by its allocator alone, for the rest of the
        // process; each allocator gets its arena once, before any use.
        unsafe {
            let claimed = TALC.lock().claim((&raw mut TALC_ARENA).cast::<u8>(), ARENA);
            assert!(claimed.is_some(), "talc refused its arena");
            LLFF.init((&raw mut LLFF_ARENA) as usize, ARENA);
            TLSF.init((&raw mut TLSF_ARENA) as usize, ARENA);
        }
    });
}

/// Calls `visitor` on every `GlobalAlloc` contender, `malloc` first.
///
/// To measure your own backend here too, add
/// `visitor.visit_global("MyBackend", &Linked::new(MyBackend::new()));`.
pub fn for_each_global(visitor: &mut impl Visitor) {
    init_peers();
    visitor.visit_global("malloc", &System);
    visitor.visit_global("SystemHeap", &Linked::new(SystemHeap::new()));
    visitor.visit_global("MmapPages", &Linked::new(MmapPages::new()));
    visitor.visit_global("StaticPool", &POOL);
    visitor.visit_global("talc", &TALC);
    visitor.visit_global("embedded-alloc TLSF", &TLSF);
    visitor.visit_global("embedded-alloc LLFF", &LLFF);
}
