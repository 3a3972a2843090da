//! Criterion benches of the workloads (1: root alloc + free, 2: one root with 1M
//! children, 3: a forest freed in random order, 4: a row set, 5: random alloc/free as a
//! `GlobalAlloc`, 6: `Vec` growth), each
//! one generic body (`workloads/bodies.rs`) run on every contender of
//! `workloads::for_each_contender`: our backends and the peers, in one binary and run.
//!
//! `cargo bench --bench mapi [--features talloc]`; HTML reports in
//! `$CARGO_TARGET_DIR/criterion/report/index.html`.

use std::alloc::GlobalAlloc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

mod workloads;

use workloads::{Contender, Script, Visitor, Workload, for_each_contender, for_each_global};

/// One criterion group (one workload): a bench per contender.
struct Group<'a, 'c> {
    group: BenchmarkGroup<'c, WallTime>,
    workload: &'a Workload,
}

impl Visitor for Group<'_, '_> {
    fn visit<C: Contender>(&mut self, contender: &C) {
        let workload = self.workload;
        if workload.warm_up(contender).is_err() {
            eprintln!(
                "{}/{}: out of memory, skipped",
                workload.name(),
                contender.name()
            );
            return;
        }
        self.group
            .bench_function(contender.name(), |b| b.iter(|| workload.run(contender)));
    }
}

/// One criterion group (workload 5): a bench per global allocator.
struct GlobalGroup<'a, 'c> {
    group: BenchmarkGroup<'c, WallTime>,
    script: &'a Script,
}

impl Visitor for GlobalGroup<'_, '_> {
    fn visit<C: Contender>(&mut self, _: &C) {}

    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, alloc: &G) {
        let script = self.script;
        if script.warm_up(alloc).is_err() {
            eprintln!("{}/{name}: out of memory, skipped", script.name());
            return;
        }
        self.group
            .bench_function(name, |b| b.iter(|| script.run(alloc)));
    }
}

/// Every workload on every contender.
fn mapi(c: &mut Criterion) {
    workloads::glibc::settle_c_heap();
    for workload in Workload::all() {
        let mut group = c.benchmark_group(workload.name());
        group.throughput(Throughput::Elements(workload.ops()));
        if workload.ops() > 100_000 {
            // A run takes milliseconds: fewer, longer samples.
            group.sample_size(10).warm_up_time(Duration::from_secs(1));
        }
        let mut visitor = Group {
            group,
            workload: &workload,
        };
        for_each_contender(&mut visitor);
        visitor.group.finish();
    }
    for script in Script::all() {
        let mut group = c.benchmark_group(script.name());
        group.throughput(Throughput::Elements(script.ops()));
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        let mut visitor = GlobalGroup {
            group,
            script: &script,
        };
        for_each_global(&mut visitor);
        visitor.group.finish();
    }
}

criterion_group!(benches, mapi);
criterion_main!(benches);
