//! Pattern-filled blocks, for tests of allocators: fill a block when it is made, check
//! it before it is freed, and an overwrite anywhere in it (by the allocator handing out
//! overlapping blocks, or writing its metadata into a block) shows as a wrong byte.
//!
//! The pattern of a seed is a run of pseudo-random bytes taken from a table made at
//! compile time, so [`fill`] is a copy and [`check`] a compare: fast natively, and
//! single steps under Miri, which interprets a byte loop a thousand times slower. Every
//! byte is filled and checked. The pattern of a block is a prefix of the pattern of the
//! same seed at any greater length, so a block that shrank (or grew, for its old bytes)
//! checks at its new size.
//!
//! ```
//! use core::ptr::NonNull;
//! use linked_alloc::conformance::pattern;
//!
//! let mut block = vec![0u8; 100];
//! let p = NonNull::new(block.as_mut_ptr()).unwrap();
//! // SAFETY: `p` is valid for reads and writes of 100 bytes, used by nobody else.
//! unsafe {
//!     pattern::fill(p, 100, 7);
//!     pattern::check(p, 100, 7);
//!     pattern::check(p, 40, 7); // a prefix agrees
//! }
//! block[50] ^= 1;
//! // SAFETY: as above.
//! let overwritten = std::panic::catch_unwind(|| unsafe { pattern::check(p, 100, 7) });
//! assert!(overwritten.is_err());
//! // SAFETY: as above. The bytes after the changed one still agree.
//! unsafe { pattern::check_from(p, 100, 7, 51) };
//! ```

use core::fmt;
use core::ptr::NonNull;

/// The pattern repeats every `PERIOD` bytes.
const PERIOD: usize = 1 << 16;
/// How many seeds have distinct patterns (a prime, so that nearby seeds and seeds that
/// differ by a power of two start far apart in the table).
const STARTS: usize = 4093;

/// Pseudo-random bytes (xorshift), made at compile time.
static TABLE: [u8; PERIOD + STARTS] = {
    let mut t = [0u8; PERIOD + STARTS];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut i = 0;
    while i < t.len() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[i] = (x >> 32) as u8;
        i += 1;
    }
    t
};

/// The pattern of `seed`, `len` bytes long, as `(offset, bytes)` pieces of at most
/// `PERIOD` bytes.
fn pieces(seed: usize, len: usize) -> impl Iterator<Item = (usize, &'static [u8])> {
    let start = seed % STARTS;
    let period = &TABLE[start..start + PERIOD];
    (0..len.div_ceil(PERIOD)).map(move |k| {
        let at = k * PERIOD;
        (at, &period[..(len - at).min(PERIOD)])
    })
}

/// Fills the `len` bytes at `p` with the pattern of `seed`.
///
/// # Safety
/// `p` is valid for writes of `len` bytes, and nothing else reads or writes them during
/// the call.
pub unsafe fn fill(p: NonNull<u8>, len: usize, seed: usize) {
    for (at, part) in pieces(seed, len) {
        // SAFETY: `at + part.len() <= len`, and the caller's precondition makes those
        // `len` bytes at `p` writable by us alone; `part` is in a static, so the two
        // ranges do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(part.as_ptr(), p.as_ptr().add(at), part.len()) };
    }
}

/// Checks that the `len` bytes at `p` hold the pattern of `seed`.
///
/// # Panics
/// At the first byte that differs, naming the block, its length and the byte.
///
/// # Safety
/// `p` is valid for reads of `len` initialized bytes, and nothing writes them during
/// the call.
#[track_caller]
pub unsafe fn check(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: the caller's precondition is `check_from`'s.
    unsafe { check_from(p, len, seed, 0) }
}

/// Checks that bytes `from..len` of the block at `p` (filled with the pattern of `seed`
/// at length `len` or more) still hold it: for a block whose first bytes were changed
/// on purpose.
///
/// # Panics
/// At the first byte that differs, naming the block, its length and the byte.
///
/// # Safety
/// `p` is valid for reads of `len` bytes, of which `from..len` are initialized, and
/// nothing writes them during the call.
#[track_caller]
pub unsafe fn check_from(p: NonNull<u8>, len: usize, seed: usize, from: usize) {
    // SAFETY: the caller's precondition is `first_difference`'s.
    if let Some((at, got, expected)) = unsafe { first_difference(p, len, seed, from) } {
        overwritten(format_args!("block {seed}"), p, len, at, got, expected);
    }
}

/// Checks, as [`check`] does, that the `len` bytes at `p` hold the pattern of `seed`,
/// and names the check with `what` (a step, a call) in the panic message.
///
/// ```
/// use core::ptr::NonNull;
/// use linked_alloc::conformance::pattern;
///
/// let mut block = [0u8; 16];
/// let p = NonNull::new(block.as_mut_ptr()).unwrap();
/// // SAFETY: `p` is valid for reads and writes of 16 bytes, used by nobody else.
/// unsafe {
///     pattern::fill(p, 16, 3);
///     pattern::check_named(p, 16, 3, format_args!("step {}", 1));
/// }
/// ```
///
/// # Panics
/// At the first byte that differs: "`what`: block at … was overwritten at byte …".
///
/// # Safety
/// As for [`check`]: `p` is valid for reads of `len` initialized bytes, and nothing
/// writes them during the call.
#[track_caller]
pub unsafe fn check_named(p: NonNull<u8>, len: usize, seed: usize, what: fmt::Arguments<'_>) {
    // SAFETY: the caller's precondition is `first_difference`'s, with `from` = 0.
    if let Some((at, got, expected)) = unsafe { first_difference(p, len, seed, 0) } {
        overwritten(what, p, len, at, got, expected);
    }
}

/// The first byte of `from..len` at `p` that is not the pattern of `seed`: its offset,
/// the byte found and the byte expected.
///
/// # Safety
/// `p` is valid for reads of `len` bytes, of which `from..len` are initialized, and
/// nothing writes them during the call.
unsafe fn first_difference(
    p: NonNull<u8>,
    len: usize,
    seed: usize,
    from: usize,
) -> Option<(usize, u8, u8)> {
    for (at, part) in pieces(seed, len) {
        let skip = from.saturating_sub(at).min(part.len());
        let part = &part[skip..];
        // SAFETY: `at + skip + part.len() <= len` and `at + skip >= from`: inside the
        // initialized bytes `from..len` at `p` of the caller's precondition, which nobody
        // writes meanwhile.
        let got = unsafe { core::slice::from_raw_parts(p.as_ptr().add(at + skip), part.len()) };
        if got != part {
            let i = (0..part.len()).find(|&i| got[i] != part[i]).unwrap_or(0);
            return Some((at + skip + i, got[i], part[i]));
        }
    }
    None
}

/// Reports an overwritten byte.
#[cold]
#[inline(never)]
#[track_caller]
fn overwritten(
    what: fmt::Arguments<'_>,
    p: NonNull<u8>,
    len: usize,
    at: usize,
    got: u8,
    expected: u8,
) -> ! {
    panic!(
        "{what} at {p:p} ({len} bytes) was overwritten at byte {at}: {got:#04x}, expected {expected:#04x}"
    );
}
