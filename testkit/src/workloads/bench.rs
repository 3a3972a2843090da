//! The criterion side, shared by the bench files: one group per workload, one bench per
//! contender, each prepared by the workload's `warm_up` and skipped if it does not fit.

use core::alloc::GlobalAlloc;
use core::fmt;
use core::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};

use super::{Contender, Script, Visitor, Workload, for_each_contender};

/// The criterion settings of the benches: 1 s of warm-up and 3 s of measurement per
/// bench, so that a whole bench file runs in minutes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Benches each of `workloads` on every contender of [`for_each_contender`]: one
/// criterion group per workload, its throughput in operations, 10 samples for a
/// workload of more than 100 000 operations (a run takes milliseconds). Settles the C
/// heap first ([`settle_c_heap`](super::glibc::settle_c_heap)).
pub fn every_contender(c: &mut Criterion, workloads: &[Workload]) {
    super::glibc::settle_c_heap();
    for workload in workloads {
        let mut group = c.benchmark_group(workload.name());
        group.throughput(Throughput::Elements(workload.ops()));
        if workload.ops() > 100_000 {
            group.sample_size(10);
        }
        for_each_contender(&mut Group::new(group, workload));
    }
}

/// A criterion group for one workload (`W` = [`Workload`]) or one script of workload 5
/// (`W` = [`Script`]); visit the contenders with it. Dropping it ends the group.
pub struct Group<'a, 'c, W> {
    group: BenchmarkGroup<'c, WallTime>,
    workload: &'a W,
}

impl<W: fmt::Debug> fmt::Debug for Group<'_, '_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("workload", self.workload)
            .finish_non_exhaustive()
    }
}

impl<'a, 'c, W> Group<'a, 'c, W> {
    /// The benches of `workload` in `group`.
    pub fn new(group: BenchmarkGroup<'c, WallTime>, workload: &'a W) -> Self {
        Self { group, workload }
    }
}

impl Visitor for Group<'_, '_, Workload> {
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

impl Visitor for Group<'_, '_, Script> {
    fn visit<C: Contender>(&mut self, _: &C) {}

    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, alloc: &G) {
        let script = self.workload;
        if script.warm_up(alloc).is_err() {
            eprintln!("{}/{name}: out of memory, skipped", script.name());
            return;
        }
        self.group
            .bench_function(name, |b| b.iter(|| script.run(alloc)));
    }
}

/// The whole of a bench file of workloads: a function `$bench` that benches the
/// workloads `$workloads` (an expression giving `Vec<Workload>` or an array) on every
/// contender ([`every_contender`]), and the criterion group `benches` and `main` that
/// run it with the settings of [`criterion()`](criterion()). The bench file keeps only its choice of
/// workloads.
///
/// ```no_run
/// use linked_alloc_testkit::workloads::{Kind, Sizes, Workload};
///
/// linked_alloc_testkit::bench_workloads!(tree: [Workload::new(Kind::Tree(100), Sizes::fixed_64())]);
/// ```
#[macro_export]
macro_rules! bench_workloads {
    ($bench:ident: $workloads:expr) => {
        fn $bench(c: &mut ::criterion::Criterion) {
            $crate::workloads::bench::every_contender(c, &$workloads);
        }

        ::criterion::criterion_group! {
            name = benches;
            config = $crate::workloads::bench::criterion();
            targets = $bench
        }
        ::criterion::criterion_main!(benches);
    };
}
