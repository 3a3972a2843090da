//! Workload 2, "allocate many children, free once": one root, `N` children, then one
//! `free_root`, for several `N`, with the one generic body of `linked_alloc_testkit::workloads::bodies` run
//! on every contender of `linked_alloc_testkit::workloads::for_each_contender` (our backends by changing only
//! the type, and the peers: `malloc` per object, as `Box` does, bumpalo, talloc).
//!
//! Criterion reports the time of one whole round (root, `N` children, free) and, from
//! the throughput of `N + 1` elements, allocations per second: the time per child,
//! including its share of the root and of the free, is the round's time divided by
//! `N + 1`.
//!
//! `cargo bench -p linked-alloc-benches --bench children [--features talloc] [-- --warm-up-time 1
//! --measurement-time 3]`

use linked_alloc_testkit::workloads::{Kind, Sizes, Workload};

/// How many children per root, of 64 bytes: 64 KB, 640 KB, 6.4 MB and 64 MB (the
/// standard count of `compare`, also with mixed sizes).
const COUNTS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// The workload at each of [`COUNTS`] (and mixed sizes at the largest).
fn children_workloads() -> Vec<Workload> {
    let mut all: Vec<Workload> = COUNTS
        .iter()
        .map(|&n| Workload::new(Kind::Tree(n), Sizes::fixed_64()))
        .collect();
    all.push(Workload::new(Kind::Tree(COUNTS[3]), Sizes::mixed()));
    all
}

// Benches them on every contender.
linked_alloc_testkit::bench_workloads!(children: children_workloads());
