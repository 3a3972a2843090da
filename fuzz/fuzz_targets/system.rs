//! Fuzzes `SystemHeap` against the shadow model (see the crate docs).
#![no_main]

use linked_alloc::Linked;
use linked_alloc_fuzz::{Config, decode, run};
use linked_alloc_system::SystemHeap;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    run(
        &Linked::new(SystemHeap::new()),
        Config::UNBOUNDED,
        &decode(data),
    );
});
