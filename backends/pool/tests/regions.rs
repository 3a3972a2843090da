//! Pools over memory handed in: a region too small for the tables is refused with
//! `RegionTooSmall` (never a corrupt pool), a range between two pointers (as between
//! linker symbols) is served exactly inside its bounds.

mod common;

use core::alloc::Layout;

use linked_alloc::LinkedAllocator;
use linked_alloc_pool::{PoolRegion, RegionTooSmall, SpinLock};

const OUTSIDE: u8 = 0xA5;

#[test]
fn every_range_is_refused_or_served_inside_its_bounds() {
    static mut BUF: [u8; 1024] = [0; 1024];
    let buf = (&raw mut BUF).cast::<u8>();
    let step = if cfg!(miri) { 37 } else { 1 };
    let (mut refused, mut served) = (0, 0);
    for offset in [0, 1, 8] {
        for len in (0..=(1024 - 8)).step_by(step) {
            // SAFETY: `buf` points to BUF's 1024 bytes, used by this test alone.
            unsafe { buf.write_bytes(OUTSIDE, 1024) };
            let start = buf.wrapping_add(offset);
            let end = start.wrapping_add(len);
            // SAFETY: start..end lies in BUF, used by nothing else while the pool lives.
            match unsafe { PoolRegion::<SpinLock>::from_raw_range(start, end) } {
                Err(e) => {
                    assert_eq!(e, RegionTooSmall { len }, "offset {offset}");
                    // The infallible constructor over the same range: a pool that
                    // refuses every request, and writes nothing.
                    // SAFETY: as above; no other reference to these bytes exists.
                    let pool = PoolRegion::new(unsafe {
                        &mut *core::ptr::slice_from_raw_parts_mut(start, len)
                    });
                    assert_eq!(pool.capacity(), 0);
                    assert!(pool.allocate_root(Layout::new::<()>()).is_err());
                    refused += 1;
                }
                Ok(pool) => {
                    let largest = pool.largest_free_block();
                    let root = pool
                        .allocate_root(Layout::from_size_align(largest, 1).unwrap())
                        .expect("the largest free block is served");
                    // SAFETY: `root` is a live block of `largest` bytes.
                    unsafe { root.as_ptr().write_bytes(0x3C, largest) };
                    // SAFETY: `root` is a live root of `pool`, not used afterwards.
                    unsafe { pool.free_root(root) };
                    assert_eq!(pool.check_integrity(), Ok(1), "len {len}");
                    served += 1;
                }
            }
            // Nothing outside the range was written.
            // SAFETY: BUF's 1024 bytes, which the pool (dropped) no longer uses.
            unsafe { common::assert_untouched(buf, 1024, offset..offset + len, OUTSIDE) };
        }
    }
    assert!(
        refused > 0 && served > 0,
        "{refused} refused, {served} served"
    );
}

#[test]
fn a_range_that_ends_before_it_starts_is_refused() {
    static mut BUF: [u8; 64] = [0; 64];
    let start = (&raw mut BUF).cast::<u8>().wrapping_add(32);
    let end = start.wrapping_sub(16);
    // SAFETY: both point into BUF, used by this test alone.
    let refused = unsafe { PoolRegion::<SpinLock>::from_raw_range(start, end) };
    assert_eq!(refused.err(), Some(RegionTooSmall { len: 0 }));
    assert!(format!("{}", RegionTooSmall { len: 8 }).contains("8 bytes is too small"));
}
