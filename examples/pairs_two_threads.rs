//! Two threads, each allocating and freeing its own 64-byte roots through `GlobalAlloc`
//! (no hand-over): the throughput beside `malloc`, in one run.
//!
//! `cargo run --release --example pairs_two_threads [-- ROUNDS]`
//!
//! Each thread makes 4 M alloc+free pairs (a batch of 16 blocks allocated, written, then
//! freed); each allocator runs `ROUNDS` rounds (default 5), interleaved round by round.
//! The table gives, for the best round, the wall time per pair and thread (from the
//! start of both threads to the end of both) and the CPU time per pair (both threads'
//! CPU time summed, on Linux: on a machine shared with other jobs the wall time counts
//! the time a thread waits for a core, the CPU time does not, and it still counts what
//! two threads running at once cost each other).

use linked_alloc_testkit::clock::thread_cpu_ns;
use linked_alloc_testkit::measure::arg;
use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

use linked_alloc::Linked;
use linked_alloc_system::SystemHeap;

/// Alloc+free pairs per thread and round.
const PAIRS: usize = 4 << 20;
/// Blocks live at once per thread.
const BATCH: usize = 16;

/// One round on `alloc`: wall ns per pair and thread, CPU ns per pair.
fn round<G: GlobalAlloc + Sync>(alloc: &G) -> (f64, f64) {
    let layout = Layout::from_size_align(64, 8).expect("a valid layout");
    let start = Instant::now();
    let cpu: u64 = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    let cpu = thread_cpu_ns().unwrap_or(0);
                    let mut live = [std::ptr::null_mut::<u8>(); BATCH];
                    for _ in 0..PAIRS / BATCH {
                        for slot in &mut live {
                            // SAFETY: a valid, non-zero layout.
                            let p = unsafe { alloc.alloc(layout) };
                            assert!(!p.is_null(), "out of memory");
                            // SAFETY: `p` is a fresh block of 64 bytes.
                            unsafe { p.write(1) };
                            let p = std::hint::black_box(p);
                            *slot = p;
                        }
                        for &p in &live {
                            // SAFETY: `p` is a live block of `layout` from `alloc`.
                            unsafe { alloc.dealloc(p, layout) };
                        }
                    }
                    thread_cpu_ns().unwrap_or(0) - cpu
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .sum()
    });
    let wall = start.elapsed().as_secs_f64() * 1e9 / PAIRS as f64;
    (wall, cpu as f64 / (2 * PAIRS) as f64)
}

fn main() {
    let rounds = arg(1, 5, "ROUNDS");
    let heap = Linked::new(SystemHeap::new());
    let (mut wall, mut cpu) = ([f64::MAX; 2], [f64::MAX; 2]);
    for _ in 0..rounds {
        for (i, (w, c)) in [round(&System), round(&heap)].into_iter().enumerate() {
            wall[i] = wall[i].min(w);
            cpu[i] = cpu[i].min(c);
        }
    }
    println!(
        "| allocator | wall ns per pair and thread (best of {rounds}) | ratio | CPU ns per pair (best of {rounds}) | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (i, name) in ["malloc", "SystemHeap"].iter().enumerate() {
        println!(
            "| {name} | {:.1} | {:.2}x | {:.1} | {:.2}x |",
            wall[i],
            wall[i] / wall[0],
            cpu[i],
            cpu[i] / cpu[0]
        );
    }
    assert!(heap.stats().is_empty());
}
