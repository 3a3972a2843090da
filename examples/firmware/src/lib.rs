//! What the two programs of this package share: the firmware (src/main.rs) and the size
//! probe (src/bin/size.rs, `bash scripts/firmware-size.sh`). Both run on the same two
//! QEMU boards (the Cortex-M3 `lm3s6965evb`, and with the feature `microbit` the
//! Cortex-M0 `microbit`) with a heap of the same size, fill and check their blocks with
//! the same pattern, and end the same way: a result line over semihosting, then QEMU's
//! exit status.
#![no_std]

use core::fmt::{Arguments, Display};

use cortex_m_semihosting::{debug, hprintln};

/// The heap: 32 KiB of the lm3s6965's 64 KiB of RAM, in `.bss`.
#[cfg(not(feature = "microbit"))]
pub const HEAP_BYTES: usize = 32 * 1024;
/// The heap: 8 KiB of the nRF51's 16 KiB of RAM, in `.bss`.
#[cfg(feature = "microbit")]
pub const HEAP_BYTES: usize = 8 * 1024;

/// The board's name, for the report.
pub const BOARD: &str = if cfg!(feature = "microbit") {
    "microbit (Cortex-M0)"
} else {
    "lm3s6965evb (Cortex-M3)"
};

/// Why a check failed.
pub type Failure = &'static str;

/// The byte of the pattern of `seed` at `i`.
pub fn pattern(seed: u32, i: usize) -> u8 {
    (seed as usize).wrapping_add(i * 7) as u8
}

/// Fills `len` bytes at `p` with the pattern of `seed`.
///
/// # Safety
/// `p` is a live block of at least `len` bytes that only the caller uses.
pub unsafe fn fill(p: *mut u8, len: usize, seed: u32) {
    for i in 0..len {
        // SAFETY: `i < len`, inside the block (the caller's precondition).
        unsafe { p.add(i).write(pattern(seed, i)) };
    }
}

/// Whether `len` bytes at `p` still hold the pattern of `seed`.
///
/// # Safety
/// `p` is a live block of at least `len` bytes.
pub unsafe fn intact(p: *const u8, len: usize, seed: u32) -> bool {
    // SAFETY: `i < len`, inside the block (the caller's precondition).
    (0..len).all(|i| unsafe { p.add(i).read() } == pattern(seed, i))
}

/// Says `<program>: OK: <summary>` over semihosting and exits with `EXIT_SUCCESS`.
pub fn pass(program: &str, summary: Arguments<'_>) -> ! {
    hprintln!("{}: OK: {}", program, summary);
    exit(debug::EXIT_SUCCESS)
}

/// Says `<program>: FAILED: <why>` over semihosting and exits with `EXIT_FAILURE`.
pub fn fail(program: &str, why: impl Display) -> ! {
    hprintln!("{}: FAILED: {}", program, why);
    exit(debug::EXIT_FAILURE)
}

/// Ends the run: QEMU exits with `status` (semihosting); the core sleeps should it not.
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}
