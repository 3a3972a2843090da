//! Helpers shared by the pool's tests: a tiny PRNG, pattern fill and check.

#![allow(dead_code)]

use core::ptr::NonNull;

use linked_alloc::conformance::pattern;

/// xorshift64*: deterministic, no dependency.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// Pick the native count, or the small one under Miri.
pub const fn iterations(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// Fills `len` bytes at `p` with the pattern of `seed` (a copy: fast under Miri too).
pub fn fill(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes that only they use.
    unsafe { pattern::fill(p, len, seed) }
}

/// Checks the pattern of `seed` on `len` bytes at `p`.
#[track_caller]
pub fn check(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes, filled by `fill`.
    unsafe { pattern::check(p, len, seed) }
}

/// A live block made by a test: where, how big, its pattern seed.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub ptr: NonNull<u8>,
    pub size: usize,
    pub seed: usize,
}

/// Checks that every byte of the `len` bytes at `buf` outside `inside` still holds
/// `byte`: a pool over `inside` wrote nothing else.
///
/// # Safety
/// `buf` is valid for reads of `len` bytes, which nothing writes meanwhile.
#[track_caller]
pub unsafe fn assert_untouched(
    buf: *const u8,
    len: usize,
    inside: core::ops::Range<usize>,
    byte: u8,
) {
    for i in (0..inside.start).chain(inside.end..len) {
        // SAFETY: `i < len`: inside the bytes the caller vouches for.
        let b = unsafe { buf.add(i).read() };
        assert_eq!(b, byte, "byte {i} outside {inside:?} was written");
    }
}
