//! Fuzzes `StaticPool` against the shadow model (see the crate docs): a 256 KiB pool, so
//! that requests both fit and run out; exhaustion must be a clean `AllocError`. The
//! pool's own `check_integrity` runs after every action, and when all is freed the pool
//! must be one free block again.
#![no_main]

use linked_alloc::Linked;
use linked_alloc_fuzz::{Config, decode, run_checked};
use linked_alloc_pool::StaticPool;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut slot = Box::new_uninit();
    let pool: &StaticPool<{ 256 << 10 }> = StaticPool::new_in_place(&mut slot);
    run_checked(
        &Linked::new(pool),
        Config::EXHAUSTIBLE,
        &decode(data),
        |p| {
            p.check_integrity().expect("pool integrity");
        },
    );
    assert_eq!(
        pool.free_bytes(),
        pool.capacity(),
        "the pool did not coalesce back"
    );
});
