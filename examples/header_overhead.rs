//! Bytes per block against plain `malloc`, for requests of 8..=512 bytes (glibc).
//!
//! `cargo run --release --example header_overhead`
//!
//! For each request size, `malloc_usable_size` of a plain `malloc` of the request and
//! of the `System` allocation under a `SystemHeap` root of the same size (its header
//! and payload); glibc's chunk is that plus 8 bytes (its size field). Prints one row
//! per size class boundary that the header moves, and the totals.

use core::alloc::Layout;
use std::alloc::{GlobalAlloc, System};

use linked_alloc::LinkedAllocator;
use linked_alloc_system::SystemHeap;

// SAFETY: glibc's `malloc_usable_size`, with its C signature.
unsafe extern "C" {
    fn malloc_usable_size(ptr: *mut u8) -> usize;
}

fn main() {
    let heap = SystemHeap::new();
    let (mut plain_total, mut ours_total, mut rows) = (0usize, 0usize, 0usize);
    let mut by_extra = std::collections::BTreeMap::<usize, usize>::new();
    println!("| request | malloc chunk | SystemHeap chunk | extra |");
    println!("| ---: | ---: | ---: | ---: |");
    for size in 8..=512 {
        let layout = Layout::from_size_align(size, 8).expect("a valid layout");
        // SAFETY: a non-zero size.
        let plain = unsafe { System.alloc(layout) };
        assert!(!plain.is_null());
        let root = heap.allocate_root(layout).expect("out of memory");
        // SAFETY: `plain` is a live `malloc` block; the root's `System` allocation
        // starts `HEADER_BYTES` before its payload (a MIN_ALIGN request).
        let (p, o) = unsafe {
            (
                malloc_usable_size(plain) + 8,
                malloc_usable_size(root.as_ptr().sub(SystemHeap::HEADER_BYTES)) + 8,
            )
        };
        plain_total += p;
        ours_total += o;
        *by_extra.entry(o - p).or_default() += 1;
        if size % 64 == 8 || size <= 40 && size % 8 == 0 {
            println!("| {size} | {p} | {o} | {} |", o - p);
            rows += 1;
        }
        // SAFETY: both are live blocks of their allocators.
        unsafe {
            System.dealloc(plain, layout);
            heap.free_root(root);
        }
    }
    let n = 505;
    println!(
        "\nover {n} request sizes 8..=512 ({rows} shown): malloc {:.1} B per block, SystemHeap {:.1} B ({:+.1} B, {:.2}x)",
        plain_total as f64 / n as f64,
        ours_total as f64 / n as f64,
        (ours_total as f64 - plain_total as f64) / n as f64,
        ours_total as f64 / plain_total as f64
    );
    for (extra, count) in by_extra {
        println!("extra {extra} B: {count} request sizes");
    }
}
