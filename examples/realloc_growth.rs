//! `GlobalAlloc::realloc` on roots: blocks grown step by step, side by side with
//! `malloc`/`realloc` (std's `System`), in one run.
//!
//! `cargo run --release --example realloc_growth [-- ROUNDS]`
//!
//! Two shapes, each a round of many blocks: *small*, a block grown from 8 to 512 bytes
//! by 8 bytes at a time (a `String` built by pushes without doubling); *big*, a block
//! grown from 64 KiB to 8 MiB by 64 KiB at a time (glibc grows a block of its own
//! mapping with `mremap`). Every step writes the new last byte and checks the first.
//! The table gives the best round's time per `realloc` and the ratio to `malloc`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

use linked_alloc::Linked;
use linked_alloc_system::SystemHeap;
use linked_alloc_testkit::measure::{arg, best_of};

/// One block grown from `from` to `to` by `step` bytes, `blocks` times: ns per realloc.
fn round<G: GlobalAlloc>(alloc: &G, from: usize, to: usize, step: usize, blocks: usize) -> f64 {
    let mut reallocs = 0usize;
    let start = Instant::now();
    for _ in 0..blocks {
        let mut layout = Layout::from_size_align(from, 8).expect("a valid layout");
        // SAFETY: a valid, non-zero layout.
        let mut p = unsafe { alloc.alloc(layout) };
        assert!(!p.is_null(), "out of memory");
        // SAFETY: `p` is a live block of `layout.size()` bytes.
        unsafe { p.write(0x5a) };
        let mut size = from;
        while size < to {
            size += step;
            // SAFETY: `p` is a live block of `layout` from `alloc`; `size` is valid.
            p = unsafe { alloc.realloc(p, layout, size) };
            assert!(!p.is_null(), "out of memory");
            layout = Layout::from_size_align(size, 8).expect("a valid layout");
            // SAFETY: `p` has `size` bytes; realloc kept the first.
            unsafe {
                p.add(size - 1).write(1);
                assert_eq!(p.read(), 0x5a);
            }
            reallocs += 1;
        }
        // SAFETY: `p` is a live block of `layout` from `alloc`.
        unsafe { alloc.dealloc(p, layout) };
    }
    start.elapsed().as_secs_f64() * 1e9 / reallocs as f64
}

fn main() {
    let rounds = arg(1, 5, "ROUNDS");
    let heap = Linked::new(SystemHeap::new());
    let shapes: [(&str, usize, usize, usize, usize); 2] = [
        ("small: 8 B to 512 B by 8 B", 8, 512, 8, 20_000),
        (
            "big: 64 KiB to 8 MiB by 64 KiB",
            64 << 10,
            8 << 20,
            64 << 10,
            20,
        ),
    ];
    println!("| shape | malloc ns per realloc | SystemHeap ns per realloc | ratio to malloc |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, from, to, step, blocks) in shapes {
        let best = best_of(
            rounds,
            [&|| round(&System, from, to, step, blocks), &|| {
                round(&heap, from, to, step, blocks)
            }],
        );
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}x |",
            best[0],
            best[1],
            best[1] / best[0]
        );
    }
    assert!(heap.stats().is_empty());
}
