//! Fuzzes `MmapPages` against the shadow model (see the crate docs). An odd first byte
//! picks the smallest runs (16 KiB, a cache of 2 runs), so that runs chain and blocks
//! get mappings of their own more often; an even one the defaults.
#![no_main]

use linked_alloc::Linked;
use linked_alloc_fuzz::{Config, decode, run_checked};
use linked_alloc_mmap::MmapPages;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let pages = match data.first() {
        Some(b) if b % 2 == 1 => MmapPages::new().with_cache_limit(2),
        _ => MmapPages::new(),
    };
    run_checked(&Linked::new(pages), Config::UNBOUNDED, &decode(data), |p| {
        assert!(
            p.bytes_cached() <= p.bytes_mapped(),
            "cache larger than the mappings"
        );
    });
});
