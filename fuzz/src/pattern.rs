//! The pattern every block the model owns is filled with.

use core::fmt;
use core::ptr::NonNull;

/// The pattern source: pseudo-random bytes. The block of seed `s` holds
/// `TABLE[offset(s)..][..len]`, so fill and check are a copy and a compare.
pub(crate) const TABLE_LEN: usize = PATTERN_OFFSETS + 65536;
pub(crate) const PATTERN_OFFSETS: usize = 4093;
pub(crate) static TABLE: [u8; TABLE_LEN] = {
    let mut t = [0u8; TABLE_LEN];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut i = 0;
    while i < TABLE_LEN {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[i] = (x >> 32) as u8;
        i += 1;
    }
    t
};

/// The pattern of `seed`, `len` bytes long, in pieces (it repeats every 65536 bytes).
pub(crate) fn pattern(seed: u64, len: usize) -> impl Iterator<Item = &'static [u8]> {
    let start = (seed % PATTERN_OFFSETS as u64) as usize;
    let chunk = &TABLE[start..start + 65536];
    (0..len.div_ceil(65536)).map(move |k| &chunk[..(len - k * 65536).min(65536)])
}

/// Fills the `len` bytes at `addr` with the pattern of `seed`.
///
/// # Safety
/// `addr` is a live block of at least `len` bytes that only the caller uses.
pub(crate) unsafe fn fill(addr: NonNull<u8>, len: usize, seed: u64) {
    // SAFETY: the caller's precondition: `len` writable bytes owned by the caller.
    let bytes = unsafe { core::slice::from_raw_parts_mut(addr.as_ptr(), len) };
    let mut at = 0;
    for part in pattern(seed, len) {
        bytes[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
}

/// Checks that the `len` bytes at `addr` hold the pattern of `seed`.
///
/// # Safety
/// `addr` is a live block of at least `len` initialized bytes.
#[track_caller]
pub(crate) unsafe fn check_pattern(
    addr: NonNull<u8>,
    len: usize,
    seed: u64,
    what: fmt::Arguments<'_>,
) {
    // SAFETY: the caller's precondition: `len` readable, initialized bytes.
    let bytes = unsafe { core::slice::from_raw_parts(addr.as_ptr(), len) };
    let mut at = 0;
    for part in pattern(seed, len) {
        let got = &bytes[at..at + part.len()];
        if got != part {
            let i = (0..part.len()).find(|&i| got[i] != part[i]).unwrap_or(0);
            panic!(
                "{what}: block at {addr:p} ({len} bytes) was overwritten at byte {}: {:#04x} != {:#04x}",
                at + i,
                got[i],
                part[i]
            );
        }
        at += part.len();
    }
}
