//! Workload 5, `GlobalAlloc` over a fixed arena, as in firmware: `Linked<StaticPool<N>>`
//! against the `no_std` peers talc (`TalcLock` over a claimed arena) and embedded-alloc
//! (`TlsfHeap`, rlsf's TLSF; `LlffHeap`, linked-list first fit), each over an arena of
//! the same `ARENA` bytes, with `malloc` and our other backends as references. The
//! script and the contenders are in `linked_alloc_testkit::workloads::global` (shared with
//! `benches/examples/compare.rs`).
//!
//! Before timing, the fragmentation figure is printed for each allocator bound to an
//! arena: after the script (with its `WINDOW` objects still live), the largest block
//! that can still be allocated, found by binary search of successful allocations.
//!
//! `cargo bench -p linked-alloc-benches --bench global_alloc`

use std::alloc::GlobalAlloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use linked_alloc_testkit::workloads;
use workloads::global::{ARENA, WINDOW};
use workloads::{Contender, Script, Visitor, for_each_global};

/// Prints the fragmentation figure of each allocator bound to an arena.
struct Figures<'a>(&'a Script);

impl Visitor for Figures<'_> {
    fn visit<C: Contender>(&mut self, _: &C) {}

    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, alloc: &G) {
        let Some(f) = self.0.fragmentation(alloc) else {
            return;
        };
        println!(
            "fragmentation {} {name:<20} largest allocatable: empty {:>8} B, after the \
             workload {:>8} B ({:.1}% of the arena; {WINDOW} objects, {} B live)",
            self.0.name(),
            f.empty,
            f.after,
            100.0 * f.after as f64 / ARENA as f64,
            f.live_bytes,
        );
    }
}

fn global_alloc(c: &mut Criterion) {
    workloads::glibc::settle_c_heap();
    let scripts = Script::all();
    for script in &scripts {
        for_each_global(&mut Figures(script));
    }
    for script in &scripts {
        let mut group = c.benchmark_group(script.name());
        group.throughput(Throughput::Elements(script.ops()));
        for_each_global(&mut workloads::bench::Group::new(group, script));
    }
}

criterion_group! {
    name = benches;
    config = workloads::bench::criterion().sample_size(20);
    targets = global_alloc
}
criterion_main!(benches);
