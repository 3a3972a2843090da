//! The atomics of the kit: `core`'s where the target has compare-and-swap (the fast,
//! lock-free paths), `portable-atomic`'s where it has not (ARMv6-M: Cortex-M0/M0+),
//! which emulates the read-modify-writes inside a `critical-section` (the firmware
//! provides the implementation, such as `cortex-m`'s `critical-section-single-core`).

#[cfg(target_has_atomic = "ptr")]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize};
#[cfg(not(target_has_atomic = "ptr"))]
pub(crate) use portable_atomic::{AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize};
