//! `GlobalAlloc` over a fixed arena, as in firmware: `Linked<StaticPool<N>>` against
//! the `no_std` peers talc (`TalcLock` over a claimed arena) and embedded-alloc
//! (`LlffHeap`, linked-list first fit; `TlsfHeap`, rlsf's TLSF), each over an arena of
//! the same `ARENA` bytes, with `malloc` as a reference.
//!
//! The workload is one script, drawn once with a fixed seed: allocate until `WINDOW`
//! objects are live, then alternately free a random live object and allocate a new
//! one, `STEPS` steps in all; sizes are uniform in 8..=512 bytes, aligned to 8. A run
//! frees what is left, so every run starts from an empty arena.
//!
//! Before timing, the fragmentation figure is printed for each: after the script (with
//! its `WINDOW` objects still live), the largest block that can still be allocated,
//! found by binary search of successful allocations.
//!
//! `cargo bench --bench global_alloc`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::Once;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use linked_alloc::Linked;
use linked_alloc_pool::StaticPool;

/// The bytes of every arena.
const ARENA: usize = 1 << 20;
/// Live objects in the steady state (about half the arena at the mean size of 260 B).
const WINDOW: usize = 2000;
/// Steps of the script: allocations and frees.
const STEPS: usize = 100_000;

/// One step of the script.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Allocate this many bytes (aligned to 8).
    Alloc(u32),
    /// Free the live object at this index of the live list (`swap_remove`).
    Free(u32),
}

/// xorshift64*, fixed seed: the same script for every allocator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn script() -> Vec<Op> {
    let mut rng = Rng(0x5EED_0FA1_1C00);
    let mut live = 0usize;
    let mut ops = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        if live == WINDOW {
            ops.push(Op::Free(rng.below(live) as u32));
            live -= 1;
        } else {
            ops.push(Op::Alloc(8 + rng.below(505) as u32));
            live += 1;
        }
    }
    ops
}

/// Runs `ops` on `g`; the live objects are left in `live`. `Err(step)` if an allocation
/// failed.
fn run<G: GlobalAlloc>(
    g: &G,
    ops: &[Op],
    live: &mut Vec<(NonNull<u8>, Layout)>,
) -> Result<(), usize> {
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Alloc(size) => {
                // Cannot fail: a small size, alignment 8.
                let layout = Layout::from_size_align(size as usize, 8).unwrap();
                // SAFETY: `layout` has a non-zero size.
                let p = NonNull::new(unsafe { g.alloc(layout) }).ok_or(step)?;
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

/// Frees everything in `live`.
fn free_all<G: GlobalAlloc>(g: &G, live: &mut Vec<(NonNull<u8>, Layout)>) {
    for (p, layout) in live.drain(..) {
        // SAFETY: each was allocated by `g` with `layout` and is freed once.
        unsafe { g.dealloc(p.as_ptr(), layout) };
    }
}

/// The largest size (aligned to 8) that `g` can allocate now: binary search.
fn largest_allocatable<G: GlobalAlloc>(g: &G) -> usize {
    let fits = |size: usize| {
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
    let (mut lo, mut hi) = (0usize, ARENA + 1);
    if !fits(1) {
        return 0;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    lo
}

/// An arena, aligned as the pool's own bytes are.
#[repr(C, align(16))]
struct Arena([u8; ARENA]);

static POOL: Linked<StaticPool<ARENA>> = Linked::new(StaticPool::new());

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

fn figures(ops: &[Op]) {
    fn one<G: GlobalAlloc>(name: &str, g: &G, ops: &[Op]) {
        let mut live = Vec::with_capacity(WINDOW);
        let empty = largest_allocatable(g);
        match run(g, ops, &mut live) {
            Ok(()) => {
                let live_bytes: usize = live.iter().map(|(_, l)| l.size()).sum();
                let largest = largest_allocatable(g);
                println!(
                    "fragmentation {name:<22} largest allocatable: empty {empty:>8} B, after the \
                     workload {largest:>8} B ({:.1}% of the arena; {} objects, {live_bytes} B live)",
                    100.0 * largest as f64 / ARENA as f64,
                    live.len()
                );
            }
            Err(step) => println!("fragmentation {name:<22} out of memory at step {step}"),
        }
        free_all(g, &mut live);
    }
    one("StaticPool", &POOL, ops);
    one("talc", &TALC, ops);
    one("embedded-alloc LLFF", &LLFF, ops);
    one("embedded-alloc TLSF", &TLSF, ops);
}

fn global_alloc(c: &mut Criterion) {
    init_peers();
    let ops = script();
    figures(&ops);
    let mut group = c.benchmark_group("global_alloc_random_8_512");
    group.throughput(Throughput::Elements(ops.len() as u64));
    fn bench<G: GlobalAlloc>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
        g: &G,
        ops: &[Op],
    ) {
        let mut live = Vec::with_capacity(WINDOW);
        if let Err(step) = run(g, ops, &mut live) {
            free_all(g, &mut live);
            eprintln!("{name}: out of memory at step {step}, skipped");
            return;
        }
        free_all(g, &mut live);
        group.bench_function(name, |b| {
            b.iter(|| {
                run(g, ops, &mut live).expect("the warm-up run fitted");
                free_all(g, &mut live);
            })
        });
    }
    bench(&mut group, "StaticPool", &POOL, &ops);
    bench(&mut group, "talc", &TALC, &ops);
    bench(&mut group, "embedded-alloc LLFF", &LLFF, &ops);
    bench(&mut group, "embedded-alloc TLSF", &TLSF, &ops);
    bench(&mut group, "malloc (reference)", &System, &ops);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = global_alloc
}
criterion_main!(benches);
