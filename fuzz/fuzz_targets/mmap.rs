//! Fuzzes `MmapPages` against the shadow model (see the crate docs and
//! `linked_alloc_fuzz::targets::mmap`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| linked_alloc_fuzz::targets::mmap(data));
