//! Nested roots, values with destructors and reset, beside plain roots and children
//! and beside the peers (talloc's sub-contexts with `--features talloc`, bumpalo's
//! `reset`):
//!
//! - `root/<backend>`: a plain root (the handle) made and dropped; `raw_root`: the same
//!   through the raw layer; `sub_root`: a sub-root of a live root made and dropped;
//! - `children_100/<backend>`: a root, 100 plain children of 24 bytes, dropped;
//!   `values_100`: a root, 100 values with `Drop` of 24 bytes, dropped;
//!   `accounted_children_100`: an accounted root, a sub-root, 100 children of the
//!   sub-root (each charged to both), dropped;
//! - `reset_<n>/<backend>`: reset of a root that holds `n` children (filled before
//!   each reset, not timed; each reset is timed alone, with the clock's overhead).
//!
//! `cargo bench -p linked-alloc-benches --bench nested [--features talloc] [-- --warm-up-time 1
//! --measurement-time 3]`

use core::alloc::Layout;
use core::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use linked_alloc::{Linked, LinkedAllocator};
use linked_alloc_pool::StaticPool;

const ROOT: Layout = Layout::new::<[u64; 8]>();
const CHILD: Layout = Layout::new::<[u64; 3]>();

/// A value of 24 bytes with a destructor.
struct Value(#[allow(dead_code)] String);

static POOL: StaticPool<{ 64 << 20 }> = StaticPool::new();

/// The benches of one backend, named `group/name`.
fn backend<B: LinkedAllocator>(c: &mut Criterion, name: &str, heap: &Linked<B>) {
    c.bench_function(&format!("raw_root/{name}"), |b| {
        b.iter(|| {
            let r = heap.allocate_root(ROOT).unwrap();
            // SAFETY: a live root, freed once.
            unsafe { heap.free_root(black_box(r)) }
        })
    });
    c.bench_function(&format!("root/{name}"), |b| {
        b.iter(|| drop(black_box(heap.root(ROOT).unwrap())))
    });
    let parent = heap.root(ROOT).unwrap();
    c.bench_function(&format!("sub_root/{name}"), |b| {
        b.iter(|| drop(black_box(parent.sub_root(ROOT).unwrap())))
    });
    drop(parent);
    // 100 children of a plain root, then of a sub-root of an accounted root (each
    // child charged to both).
    for accounted in [false, true] {
        let label = if accounted {
            "accounted_children_100"
        } else {
            "children_100"
        };
        c.bench_function(&format!("{label}/{name}"), |b| {
            b.iter(|| {
                let (r, sub);
                let target = if accounted {
                    r = heap.accounted_root(ROOT).unwrap();
                    sub = r.sub_root(ROOT).unwrap();
                    &sub
                } else {
                    r = heap.root(ROOT).unwrap();
                    &r
                };
                for _ in 0..100 {
                    black_box(target.allocate_child(CHILD).unwrap());
                }
            })
        });
    }
    c.bench_function(&format!("values_100/{name}"), |b| {
        b.iter(|| {
            let r = heap.root(ROOT).unwrap();
            for _ in 0..100 {
                black_box(r.alloc(Value(String::new())));
            }
        })
    });
    for n in [10, 1000] {
        c.bench_function(&format!("reset_{n}/{name}"), |b| {
            let mut r = heap.root(ROOT).unwrap();
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..n {
                        black_box(r.allocate_child(CHILD).unwrap());
                    }
                    let t0 = Instant::now();
                    r.reset();
                    timed += t0.elapsed();
                }
                timed
            });
        });
    }
}

fn benches(c: &mut Criterion) {
    backend(
        c,
        "system",
        &Linked::new(linked_alloc_system::SystemHeap::new()),
    );
    backend(c, "mmap", &Linked::new(linked_alloc_mmap::MmapPages::new()));
    backend(c, "pool", &Linked::new(&POOL));

    for n in [10, 1000] {
        c.bench_function(&format!("reset_{n}/bumpalo"), |b| {
            let mut bump = bumpalo::Bump::new();
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..n {
                        black_box(bump.alloc_layout(CHILD));
                    }
                    let t0 = Instant::now();
                    bump.reset();
                    timed += t0.elapsed();
                }
                timed
            });
        });
    }

    #[cfg(feature = "talloc")]
    {
        use linked_alloc_testkit::workloads::Contender;
        use linked_alloc_testkit::workloads::talloc::Talloc;
        let mut top = Talloc.root(ROOT).unwrap();
        c.bench_function("sub_root/talloc", |b| {
            b.iter(|| {
                // SAFETY: `top` is a live context; the new one is freed once.
                unsafe {
                    let sub = Talloc.child(&mut top, ROOT).unwrap();
                    Talloc.free(black_box(sub));
                }
            })
        });
        c.bench_function("raw_root/talloc", |b| {
            b.iter(|| {
                let r = Talloc.root(ROOT).unwrap();
                // SAFETY: a live context, freed once.
                unsafe { Talloc.free(black_box(r)) }
            })
        });
        // SAFETY: a live context, freed once.
        unsafe { Talloc.free(top) };
    }
}

criterion_group! {
    name = nested;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(nested);
