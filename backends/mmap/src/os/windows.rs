//! The OS calls on Windows: committed read-write pages with `VirtualAlloc`, through
//! windows-sys.
//!
//! `VirtualFree` gives back only whole allocations, so an aligned mapping cannot be
//! trimmed as on Unix: [`map_aligned`] reserves an over-sized range to learn an aligned
//! address inside it, frees it, and maps exactly the aligned range there; if another
//! thread took that address in between, it tries again, and after a few tries keeps an
//! over-sized mapping (address space, no memory). There is no `mremap`: [`remap`] is
//! always `Err`, and the callers copy instead.

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, MEM_RESET, PAGE_READWRITE, VirtualAlloc, VirtualFree,
};

use super::{MAP_ALIGN, Mapping, map_unchecked, refused, release};

/// How many times [`map_aligned`] tries to map at an aligned address it found free
/// before it keeps an over-sized mapping.
const ALIGNED_TRIES: usize = 4;

/// Reserves and commits `len` bytes of fresh, zero-filled, read-write pages, at `hint`
/// if that range is free (null: anywhere). `None` if Windows refuses.
pub(super) fn map_pages(hint: *mut u8, len: usize) -> Option<NonNull<u8>> {
    // SAFETY: `VirtualAlloc` only reserves a range that is free (it fails otherwise),
    // so it replaces nothing that anything else uses; it has no other precondition.
    let start = unsafe {
        VirtualAlloc(
            hint.cast::<c_void>().cast_const(),
            len,
            MEM_RESERVE | MEM_COMMIT,
            PAGE_READWRITE,
        )
    };
    NonNull::new(start.cast::<u8>())
}

/// Releases the allocation that starts at `start`. `Err` if Windows refused (it is
/// then still mapped).
///
/// # Safety
/// `[start, start + len)` is a whole live mapping of ours, as [`map_pages`] gave it,
/// that nothing uses afterwards if this returns `Ok`.
pub(super) unsafe fn unmap_pages(start: NonNull<u8>, len: usize) -> Result<(), ()> {
    let _ = len; // MEM_RELEASE takes the whole allocation, with a length of 0.
    // SAFETY: the caller's precondition: `start` is the base of a whole allocation of
    // ours that no one uses.
    let ok = unsafe { VirtualFree(start.as_ptr().cast::<c_void>(), 0, MEM_RELEASE) };
    if ok != 0 { Ok(()) } else { Err(()) }
}

/// Maps `len` bytes (a multiple of [`MAP_ALIGN`]) starting at an address aligned to
/// `align` (a power of two, at least [`MAP_ALIGN`]). Returns the aligned start and the
/// mapping to give back: exactly `len` bytes at the start, or, if the aligned range
/// was taken by another thread [`ALIGNED_TRIES`] times, an over-sized mapping whose
/// slack stays untouched (address space, no memory touched).
pub(crate) fn map_aligned(len: usize, align: usize) -> Option<(NonNull<u8>, Mapping)> {
    debug_assert!(align.is_power_of_two() && align >= MAP_ALIGN);
    let total = len.checked_add(align - MAP_ALIGN)?;
    // One request, however many calls it takes (see `refused`).
    if refused(total) {
        return None;
    }
    for _ in 0..ALIGNED_TRIES {
        let (base, start) = map_over(total, align)?;
        // SAFETY: `[base, base + total)` is the whole fresh mapping that `map_over`
        // just made, which nothing uses.
        if unsafe { release(base, total) }.is_err() {
            return Some((start, Mapping { base, len: total }));
        }
        if let Some(p) = map_unchecked(start.as_ptr(), len) {
            if p == start {
                return Some((start, Mapping { base: start, len }));
            }
            // Windows rounds the address down to its 64 KiB granularity, which leaves
            // an aligned one as it is: another address is not expected; if one comes,
            // it goes back (and if Windows refuses that, the request fails).
            // SAFETY: `p` is the whole fresh mapping just made, which nothing uses.
            if unsafe { release(p, len) }.is_err() {
                return None;
            }
        }
    }
    let (base, start) = map_over(total, align)?;
    Some((start, Mapping { base, len: total }))
}

/// Maps `total` bytes and finds the first address aligned to `align` in it: the base
/// and that address.
fn map_over(total: usize, align: usize) -> Option<(NonNull<u8>, NonNull<u8>)> {
    let base = map_unchecked(ptr::null_mut(), total)?;
    let lead = base.as_ptr().addr().wrapping_neg() & (align - 1);
    // SAFETY: `lead <= align - MAP_ALIGN` (both are multiples of MAP_ALIGN), and the
    // caller's `total` leaves at least that much before the aligned range ends.
    Some((base, unsafe { base.add(lead) }))
}

/// Whether [`remap`] can succeed: never on Windows.
pub(crate) const CAN_REMAP: bool = false;

/// No `mremap` on Windows: always `Err`, and the callers fall back to a copy.
///
/// # Safety
/// None needed; `unsafe` for the same signature as on Unix, where `old` and `new` are
/// whole live mappings of ours.
pub(crate) unsafe fn remap(old: Mapping, new: Mapping) -> Result<(), ()> {
    let _ = (old, new);
    Err(())
}

/// Tells Windows that the pages of `[start, start + len)` hold nothing needed
/// (`MEM_RESET`): they stay committed and mapped, are not written to the paging file,
/// and their memory can be taken; until written again they read as zeros or as their
/// old bytes. A refusal is ignored (the pages simply stay resident).
///
/// # Safety
/// `[start, start + len)` lies in a live mapping of ours, page-aligned, and holds
/// nothing that anyone still needs.
pub(super) unsafe fn purge_pages(start: NonNull<u8>, len: usize) {
    // SAFETY: the caller's precondition: the pages are ours, committed, and unused;
    // MEM_RESET changes no protection and maps nothing new.
    let _ = unsafe {
        VirtualAlloc(
            start.as_ptr().cast::<c_void>().cast_const(),
            len,
            MEM_RESET,
            PAGE_READWRITE,
        )
    };
}
