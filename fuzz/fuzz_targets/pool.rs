//! Fuzzes `StaticPool` against the shadow model (see the crate docs and
//! `linked_alloc_fuzz::targets::pool`): a 256 KiB pool, so that requests both fit and
//! run out; exhaustion must be a clean `AllocError`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| linked_alloc_fuzz::targets::pool(data));
