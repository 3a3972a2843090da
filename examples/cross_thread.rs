//! Two threads, roots made on one and freed on the other: the throughput of each
//! allocator through `GlobalAlloc`, side by side in one run.
//!
//! `cargo run --release --example cross_thread [-- ROUNDS]`
//!
//! A producer thread allocates 64-byte blocks (`GlobalAlloc::alloc`, a root each on our
//! backends), writes their first byte, and sends them in batches of 256 through a
//! bounded channel; a consumer thread checks the byte and frees every block
//! (`GlobalAlloc::dealloc`), so that every free is of a block that the other thread
//! allocated. Each allocator runs `ROUNDS` rounds (default 5) of 4 M blocks, the
//! allocators interleaved round by round; the table gives the best round's wall time per
//! block and the ratio to `malloc` (std's `System`). A fresh instance of each backend
//! serves all its rounds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_system::SystemHeap;
use linked_alloc_testkit::measure::{arg, best_of};

/// Blocks per round.
const BLOCKS: usize = 4 << 20;
/// Blocks per message.
const BATCH: usize = 256;

/// A batch of blocks on their way to the consumer.
struct Batch([*mut u8; BATCH]);

// SAFETY: the blocks are handed over whole: the producer never touches a block after
// sending it, and the allocators under test are `Sync`.
unsafe impl Send for Batch {}

/// One round on `alloc`: the wall time per block, in nanoseconds.
fn round<G: GlobalAlloc + Sync>(alloc: &G) -> f64 {
    let layout = Layout::from_size_align(64, 8).expect("a valid layout");
    let (tx, rx) = sync_channel::<Batch>(64);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            for _ in 0..BLOCKS / BATCH {
                let mut batch = Batch([std::ptr::null_mut(); BATCH]);
                for slot in &mut batch.0 {
                    // SAFETY: a valid, non-zero layout.
                    let p = unsafe { alloc.alloc(layout) };
                    assert!(!p.is_null(), "out of memory");
                    // SAFETY: `p` is a fresh block of 64 bytes.
                    unsafe { p.write(0x5a) };
                    *slot = p;
                }
                tx.send(batch).expect("the consumer is there");
            }
        });
        s.spawn(move || {
            for batch in rx {
                for p in batch.0 {
                    // SAFETY: `p` is a live block of `layout` from `alloc`, written by
                    // the producer before it was sent, and used by no one else.
                    unsafe {
                        assert_eq!(p.read(), 0x5a);
                        alloc.dealloc(p, layout);
                    }
                }
            }
        });
    });
    start.elapsed().as_secs_f64() * 1e9 / BLOCKS as f64
}

fn main() {
    let rounds = arg(1, 5, "ROUNDS");
    let system_heap = Linked::new(SystemHeap::new());
    let mmap_pages = Linked::new(MmapPages::new());
    let best = best_of(
        rounds,
        [&|| round(&System), &|| round(&system_heap), &|| {
            round(&mmap_pages)
        }],
    );
    println!(
        "| allocator | ns per block (best of {rounds}) | blocks per second | ratio to malloc |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for (name, ns) in ["malloc", "SystemHeap", "MmapPages"].iter().zip(best) {
        println!(
            "| {name} | {ns:.1} | {:.1} M | {:.2}x |",
            1e3 / ns,
            ns / best[0]
        );
    }
    assert!(system_heap.stats().is_empty() && mmap_pages.stats().is_empty());
}
