//! Many live roots: 100 000 roots of 64 bytes made through `GlobalAlloc::alloc`, each
//! written, then freed in a shuffled (fixed-seed) order; the time per root (its
//! allocation and its free), beside `malloc` (std's `System`) in the same run.
//!
//! `cargo run --release --example live_roots [-- ROUNDS [ROOTS]]`
//!
//! Each allocator runs `ROUNDS` rounds (default 20), interleaved round by round; the
//! table gives the best round. One instance of each backend serves all its rounds, so
//! every round after the first reuses the memory the one before gave back.

use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_system::SystemHeap;
use linked_alloc_testkit::measure::arg;
use linked_alloc_testkit::workloads::sizes::Rng;

/// One round: nanoseconds per root.
fn round<G: GlobalAlloc>(alloc: &G, roots: &mut [*mut u8], order: &[usize]) -> f64 {
    let layout = Layout::from_size_align(64, 8).expect("a valid layout");
    let start = Instant::now();
    for slot in roots.iter_mut() {
        // SAFETY: a valid, non-zero layout.
        let p = unsafe { alloc.alloc(layout) };
        assert!(!p.is_null(), "out of memory");
        // SAFETY: `p` is a fresh block of 64 bytes.
        unsafe { p.write(1) };
        *slot = p;
    }
    for &i in order {
        // SAFETY: `roots[i]` is a live block of `layout` from `alloc`, freed once.
        unsafe { alloc.dealloc(roots[i], layout) };
    }
    start.elapsed().as_secs_f64() * 1e9 / roots.len() as f64
}

fn main() {
    let rounds = arg(1, 20, "ROUNDS");
    let n = arg(2, 100_000, "ROOTS");
    let order = Rng::new(0x9e37_79b9).permutation(n);
    let mut roots = vec![std::ptr::null_mut(); n];
    let system_heap = Linked::new(SystemHeap::new());
    let mmap_pages = Linked::new(MmapPages::new());
    let mut best = [f64::MAX; 3];
    for _ in 0..rounds {
        best[0] = best[0].min(round(&System, &mut roots, &order));
        best[1] = best[1].min(round(&system_heap, &mut roots, &order));
        best[2] = best[2].min(round(&mmap_pages, &mut roots, &order));
    }
    println!(
        "{n} live 64-byte roots freed in a shuffled order (best of {rounds} rounds, wall time)\n"
    );
    println!("| allocator | ns per root | ratio to malloc |");
    println!("| --- | ---: | ---: |");
    for (name, ns) in ["malloc", "SystemHeap", "MmapPages"].iter().zip(best) {
        println!("| {name} | {ns:.1} | {:.2}x |", ns / best[0]);
    }
}
