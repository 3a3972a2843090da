//! Workload 5: allocators as `GlobalAlloc`, under random allocations and frees of mixed
//! lifetimes (which fragments their free space): our backends through `Linked<B>`
//! (a block is a root), and the peers `malloc` (`std::alloc::System`), talc and
//! embedded-alloc (TLSF and linked-list first fit), the last two over a fixed region as
//! in firmware.
//!
//! The script is drawn before timing: `GLOBAL_STEPS` times, a random slot of
//! `GLOBAL_SLOTS` is picked; an empty slot gets a new block, a full one is freed. So
//! about half the slots are live at any time, with random lifetimes; at the end the
//! rest is freed.

use core::alloc::{GlobalAlloc, Layout};
use core::hint::black_box;
use core::ptr::NonNull;
use std::alloc::System;
use std::sync::OnceLock;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_system::SystemHeap;

use super::bodies::warm_up;
use super::contender::{OutOfMemory, Visitor, short_type_name};
use super::sizes::{Rng, Sizes};

/// Slots of the script: at most this many blocks are live at once.
pub const GLOBAL_SLOTS: usize = 10_000;
/// Steps of the script (each an allocation or a free).
pub const GLOBAL_STEPS: usize = 250_000;
/// The bytes of the fixed regions of talc and embedded-alloc: far more than the live
/// blocks need (at most `GLOBAL_SLOTS` of at most 512 bytes), as the pool has.
pub const REGION_BYTES: usize = 64 << 20;

/// The script of workload 5: which slot each step touches, and the layouts (the sizes
/// of [`Sizes`], aligned to 8 as most Rust values are).
#[derive(Clone, Debug)]
pub struct Script {
    slots: Vec<u32>,
    sizes: Sizes,
    ops: u64,
}

impl Script {
    /// The script with objects of `sizes`.
    pub fn new(sizes: Sizes) -> Self {
        let mut rng = Rng::new(0x6C0B_A11C);
        let slots: Vec<u32> = (0..GLOBAL_STEPS)
            .map(|_| rng.below(GLOBAL_SLOTS) as u32)
            .collect();
        let mut live = vec![false; GLOBAL_SLOTS];
        for &s in &slots {
            live[s as usize] = !live[s as usize];
        }
        let left = live.iter().filter(|&&l| l).count();
        Self {
            slots,
            sizes,
            ops: (GLOBAL_STEPS + left) as u64,
        }
    }

    /// The sizes.
    pub fn sizes(&self) -> &Sizes {
        &self.sizes
    }

    /// The operations of one run: every allocation and every free.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// The layout of step `i`.
    #[inline(always)]
    fn layout(&self, i: usize) -> Layout {
        let size = self.sizes.layout(i).size();
        // Cannot fail: a small size, a power-of-two alignment.
        Layout::from_size_align(size, 8).unwrap()
    }

    /// A short name: `5_global_random_250k_64B`.
    pub fn name(&self) -> String {
        format!("5_global_random_250k_{}", self.sizes.name())
    }

    /// Every script: 64 B objects and mixed sizes.
    pub fn all() -> Vec<Self> {
        vec![Self::new(Sizes::fixed_64()), Self::new(Sizes::mixed())]
    }

    /// Prepares a measurement of `g` (see [`warm_up`]).
    ///
    /// # Errors
    /// [`OutOfMemory`] if the script does not fit `g`.
    pub fn warm_up<G: GlobalAlloc>(&self, g: &G) -> Result<(), OutOfMemory> {
        warm_up(|| self.run(g))
    }

    /// Runs the script on `g`; returns the operations done.
    ///
    /// # Errors
    /// [`OutOfMemory`] if an allocation failed (everything made is freed first).
    #[inline(never)]
    pub fn run<G: GlobalAlloc>(&self, g: &G) -> Result<u64, OutOfMemory> {
        let mut slots: Vec<Option<(NonNull<u8>, Layout)>> = vec![None; GLOBAL_SLOTS];
        let mut done = Ok(self.ops);
        for (i, &s) in self.slots.iter().enumerate() {
            let slot = &mut slots[s as usize];
            match slot.take() {
                // SAFETY: `p` was allocated by `g` with `layout` and is freed once.
                Some((p, layout)) => unsafe { g.dealloc(p.as_ptr(), layout) },
                None => {
                    let layout = self.layout(i);
                    // SAFETY: `layout` has a non-zero size (at least 8 bytes).
                    let Some(p) = NonNull::new(unsafe { g.alloc(layout) }) else {
                        done = Err(OutOfMemory);
                        break;
                    };
                    // SAFETY: a fresh block of at least 8 bytes.
                    unsafe { p.as_ptr().write(i as u8) };
                    *slot = Some((black_box(p), layout));
                }
            }
        }
        for (p, layout) in slots.into_iter().flatten() {
            // SAFETY: every live block was allocated by `g` with `layout`.
            unsafe { g.dealloc(p.as_ptr(), layout) };
        }
        done
    }
}

/// talc over a fixed region, locked with a spin lock (as a `#[global_allocator]` is).
pub type Talc = talc::TalcLock<spinning_top::RawSpinlock, talc::source::Manual>;

/// A zeroed region of `REGION_BYTES` that lives for the rest of the process (its pages
/// are mapped lazily, like a firmware's RAM is there from the start).
fn leak_region() -> &'static mut [u8] {
    vec![0u8; REGION_BYTES].leak()
}

/// The talc of the benches, made once.
pub fn bench_talc() -> &'static Talc {
    static TALC: OnceLock<Talc> = OnceLock::new();
    TALC.get_or_init(|| {
        let talc = Talc::new(talc::source::Manual);
        let region = leak_region();
        // SAFETY: the region is ours alone, for the rest of the process.
        let claimed = unsafe { talc.lock().claim(region.as_mut_ptr(), region.len()) };
        assert!(claimed.is_some(), "talc refused its region");
        talc
    })
}

/// The embedded-alloc TLSF heap of the benches, made once.
pub fn bench_embedded_tlsf() -> &'static embedded_alloc::TlsfHeap {
    static HEAP: OnceLock<embedded_alloc::TlsfHeap> = OnceLock::new();
    HEAP.get_or_init(|| {
        let heap = embedded_alloc::TlsfHeap::empty();
        let region = leak_region();
        // SAFETY: the region is valid memory, ours alone for the rest of the process;
        // `init` is called once, on a heap not used before.
        unsafe { heap.init(region.as_mut_ptr() as usize, region.len()) };
        heap
    })
}

/// The embedded-alloc linked-list first-fit heap of the benches, made once.
pub fn bench_embedded_llff() -> &'static embedded_alloc::LlffHeap {
    static HEAP: OnceLock<embedded_alloc::LlffHeap> = OnceLock::new();
    HEAP.get_or_init(|| {
        let heap = embedded_alloc::LlffHeap::empty();
        let region = leak_region();
        // SAFETY: as for the TLSF heap.
        unsafe { heap.init(region.as_mut_ptr() as usize, region.len()) };
        heap
    })
}

/// Calls `visitor` on every `GlobalAlloc` contender, `malloc` first.
///
/// To measure your own backend here too, add
/// `visitor.visit_global(&short_type_name::<MyBackend>(), &Linked::new(MyBackend::new()));`.
pub fn for_each_global(visitor: &mut impl Visitor) {
    visitor.visit_global("malloc", &System);
    visitor.visit_global(
        &short_type_name::<SystemHeap>(),
        &Linked::new(SystemHeap::new()),
    );
    visitor.visit_global(
        &short_type_name::<MmapPages>(),
        &Linked::new(MmapPages::new()),
    );
    visitor.visit_global("StaticPool", &Linked::new(super::bench_pool()));
    visitor.visit_global("talc", bench_talc());
    visitor.visit_global("embedded-alloc TLSF", bench_embedded_tlsf());
    visitor.visit_global("embedded-alloc LLFF", bench_embedded_llff());
}
