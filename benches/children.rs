//! "Allocate many children, free once": one root, `N` children of 64 bytes, then one
//! `free_root`, with one generic body ([`one_root_many_children`]) run on each backend
//! by changing only the type, and `std`'s `Box<[u8; 64]>` per object (allocated, then
//! each dropped) as the baseline.
//!
//! Criterion reports the time of one whole round (root, `N` children, free) and, from
//! the throughput of `N` elements, children per second: the time per child, including
//! its share of the root and of the free, is the round's time divided by `N`.
//!
//! `cargo bench --bench children [-- --warm-up-time 1 --measurement-time 3]`
//!
//! To add a backend, add one line to [`backends`]; to add a workload, write another
//! generic body and a function like [`children`] that runs it over [`backends`].

use std::alloc::Layout;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use linked_alloc::LinkedAllocator;
use linked_alloc_mmap::MmapPages;
use linked_alloc_system::SystemHeap;

/// Every object of the workload: 64 bytes (aligned to `MIN_ALIGN` by the rules).
const OBJECT: Layout = Layout::new::<[u8; 64]>();

/// How many children per root: 64 KB of children (one 64 KiB run of `MmapPages`),
/// 640 KB (ten runs), and 6.4 MB (about 100 runs: more than its run cache keeps, so
/// part of every round maps fresh pages and gives them back).
const COUNTS: [usize; 3] = [1_000, 10_000, 100_000];

/// The body: one root, `n` children of [`OBJECT`] under it, then one `free_root`.
///
/// # Panics
/// If the backend runs out of memory.
#[inline(never)]
fn one_root_many_children<B: LinkedAllocator>(backend: &B, n: usize) {
    let root = backend.allocate_root(OBJECT).expect("allocate_root failed");
    for _ in 0..n {
        // SAFETY: `root` is a live root of `backend`, freed only below.
        let child = unsafe { backend.allocate_child(black_box(root), OBJECT) }
            .expect("allocate_child failed");
        black_box(child);
    }
    // SAFETY: `root` is a live root of `backend`; none of its blocks is used afterwards.
    unsafe { backend.free_root(root) };
}

/// The baseline: `n` boxes of 64 bytes from the global allocator, then each dropped.
/// `boxes` is kept between rounds, so its own buffer is not part of the time.
#[inline(never)]
fn boxes(boxes: &mut Vec<Box<MaybeUninit<[u8; 64]>>>, n: usize) {
    for _ in 0..n {
        boxes.push(black_box(Box::new_uninit()));
    }
    boxes.clear();
}

/// Runs [`one_root_many_children`] on `backend` in `group`.
fn bench_backend<B: LinkedAllocator>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    backend: B,
    n: usize,
) {
    group.bench_function(name, |b| b.iter(|| one_root_many_children(&backend, n)));
    assert!(backend.stats().is_empty(), "{name} leaked");
}

/// Every backend of the comparison: change only the type to add one.
fn backends(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    bench_backend(group, "SystemHeap", SystemHeap::new(), n);
    bench_backend(group, "MmapPages", MmapPages::new(), n);
}

/// The workload at each of [`COUNTS`], on every backend and the `Box` baseline.
fn children(c: &mut Criterion) {
    for n in COUNTS {
        let mut group = c.benchmark_group(format!("one_root_{n}_children_of_64B"));
        group.throughput(Throughput::Elements(n as u64));
        backends(&mut group, n);
        let mut store = Vec::with_capacity(n);
        group.bench_function("Box<[u8; 64]>", |b| b.iter(|| boxes(&mut store, n)));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = children
}
criterion_main!(benches);
