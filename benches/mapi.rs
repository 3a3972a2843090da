//! Criterion benches of the MAPI workloads other than the big tree (`children.rs`) and
//! the `GlobalAlloc` script (`global_alloc.rs`): 1, root alloc + free; 3, a forest of
//! roots freed in random order; 4, a MAPI row set; 6, `Vec` growth in a root. Each is
//! one generic body (`linked_alloc_testkit::workloads::bodies`) run on every contender of
//! `linked_alloc_testkit::workloads::for_each_contender` (our backends and the peers) in one binary and run.
//!
//! `cargo bench -p linked-alloc-benches --bench mapi [--features talloc]`; HTML reports in
//! `$CARGO_TARGET_DIR/criterion/report/index.html`.

use linked_alloc_testkit::workloads::{Kind, Workload};

/// Every workload but the tree.
fn mapi_workloads() -> Vec<Workload> {
    Workload::all()
        .into_iter()
        .filter(|w| !matches!(w.kind(), Kind::Tree(_)))
        .collect()
}

// Benches them on every contender.
linked_alloc_testkit::bench_workloads!(mapi: mapi_workloads());
