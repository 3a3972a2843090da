//! Criterion benches of the MAPI workloads other than the big tree (`children.rs`) and
//! the `GlobalAlloc` script (`global_alloc.rs`): 1, root alloc + free; 3, a forest of
//! roots freed in random order; 4, a MAPI row set; 6, `Vec` growth in a root. Each is
//! one generic body (`linked_alloc_testkit::workloads::bodies`) run on every contender of
//! `linked_alloc_testkit::workloads::for_each_contender` (our backends and the peers) in one binary and run.
//!
//! `cargo bench --bench mapi [--features talloc]`; HTML reports in
//! `$CARGO_TARGET_DIR/criterion/report/index.html`.

use criterion::{Criterion, criterion_group, criterion_main};

use linked_alloc_testkit::workloads::{Kind, Workload, bench};

/// Every workload but the tree, on every contender.
fn mapi(c: &mut Criterion) {
    let all: Vec<Workload> = Workload::all()
        .into_iter()
        .filter(|w| !matches!(w.kind(), Kind::Tree(_)))
        .collect();
    bench::every_contender(c, &all);
}

criterion_group! {
    name = benches;
    config = bench::criterion();
    targets = mapi
}
criterion_main!(benches);
