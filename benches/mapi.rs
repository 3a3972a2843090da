//! Criterion benches of the MAPI workloads other than the big tree (`children.rs`) and
//! the `GlobalAlloc` script (`global_alloc.rs`): 1, root alloc + free; 3, a forest of
//! roots freed in random order; 4, a MAPI row set; 6, `Vec` growth in a root. Each is
//! one generic body (`linked_alloc_testkit::workloads::bodies`) run on every contender of
//! `linked_alloc_testkit::workloads::for_each_contender` (our backends and the peers) in one binary and run.
//!
//! `cargo bench --bench mapi [--features talloc]`; HTML reports in
//! `$CARGO_TARGET_DIR/criterion/report/index.html`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use linked_alloc_testkit::workloads;
use workloads::{Kind, Workload, for_each_contender};

/// Every workload but the tree, on every contender.
fn mapi(c: &mut Criterion) {
    workloads::glibc::settle_c_heap();
    for workload in Workload::all()
        .iter()
        .filter(|w| !matches!(w.kind(), Kind::Tree(_)))
    {
        let mut group = c.benchmark_group(workload.name());
        group.throughput(Throughput::Elements(workload.ops()));
        if workload.ops() > 100_000 {
            // A run takes milliseconds: fewer samples.
            group.sample_size(10);
        }
        for_each_contender(&mut workloads::bench::Group::new(group, workload));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = mapi
}
criterion_main!(benches);
