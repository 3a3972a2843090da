//! The one module that calls the OS: read-write pages in, mappings out.
//!
//! Everything else in the crate goes through [`map`], [`map_aligned`], [`unmap`],
//! [`remap`] and [`purge`]. This file holds what every platform shares (the checks, the
//! fault injection of the tests, the counting); the calls themselves are in
//! `unix.rs` (`mmap` through rustix) and `windows.rs` (`VirtualAlloc` through
//! windows-sys), which each give the same five functions.
//!
//! A mapping is given back whole, exactly as it was mapped (Miri requires that, and so
//! does `VirtualFree`), except that on Unix [`map_aligned`] trims the slack around an
//! aligned mapping right after mapping it (outside Miri): trimming the ends of a fresh
//! mapping never splits an area of the kernel's, so it cannot hit the limit on the
//! number of mappings.
//!
//! Giving a mapping back **can fail**: on Linux the kernel keeps adjacent anonymous
//! mappings as one area, and unmapping a piece out of the middle of an area splits it
//! in two; once the process holds `vm.max_map_count` areas, that split is refused with
//! `ENOMEM`. [`unmap`] reports the failure, and the callers keep the memory (counted,
//! and reused) instead of forgetting it.

use core::ptr::{self, NonNull};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

pub(crate) use sys::{CAN_REMAP, map_aligned, remap};

/// The least alignment of every address that [`map`] returns: no target this crate
/// supports has pages smaller than 4096 bytes (Windows aligns every allocation to
/// 64 KiB).
pub(crate) const MAP_ALIGN: usize = 4096;

/// The longest mapping asked of Miri's `mmap` (1 GiB); see [`map`].
const MIRI_MAX_LEN: usize = 1 << 30;

/// A mapping as the OS gave it: what [`unmap`] needs to give it back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    /// The first byte the OS mapped.
    pub(crate) base: NonNull<u8>,
    /// Its length, a multiple of [`MAP_ALIGN`].
    pub(crate) len: usize,
}

/// Maps `len` bytes (`len > 0`, a multiple of [`MAP_ALIGN`]) of fresh, private,
/// zero-filled, read-write pages, aligned to at least [`MAP_ALIGN`]. `None` if the OS
/// refuses (out of memory or address space, or a length it does not take).
#[inline]
pub(crate) fn map(len: usize) -> Option<NonNull<u8>> {
    map_at(ptr::null_mut(), len)
}

/// As [`map`], at `hint` if the OS takes it (null: anywhere). Where the mapping lands
/// is up to the OS: the caller compares.
fn map_at(hint: *mut u8, len: usize) -> Option<NonNull<u8>> {
    if refused(len) {
        return None;
    }
    map_unchecked(hint, len)
}

/// Whether to refuse a request for `len` bytes before asking the OS: under Miri beyond
/// what any test needs, in the crate's tests when the fault injection says so. One
/// request of the crate asks this once, however many OS calls it takes (Windows'
/// [`map_aligned`] takes a varying number), so that the tests count requests exactly.
fn refused(len: usize) -> bool {
    debug_assert!(len > 0 && len % MAP_ALIGN == 0);
    // Miri stops the program with "resource exhaustion" where an OS returns ENOMEM, so
    // under Miri this module refuses what no test needs, as an OS out of memory would.
    if cfg!(miri) && len > MIRI_MAX_LEN {
        return true;
    }
    #[cfg(test)]
    if fault::should_fail() {
        return true;
    }
    false
}

/// As [`map_at`], without asking [`refused`]: for the second and later OS calls of one
/// request.
fn map_unchecked(hint: *mut u8, len: usize) -> Option<NonNull<u8>> {
    let start = sys::map_pages(hint, len)?;
    debug_assert_eq!(start.as_ptr() as usize % MAP_ALIGN, 0);
    #[cfg(test)]
    fault::acquired(len);
    Some(start)
}

/// Gives `[start, start + len)` back to the OS, counting it as given back.
///
/// # Safety
/// As `sys::unmap_pages`'s: on Unix a page-aligned part of a live mapping of ours, on
/// Windows a whole one; nothing uses it afterwards if this returns `Ok`.
unsafe fn release(start: NonNull<u8>, len: usize) -> Result<(), ()> {
    // SAFETY: the caller's precondition is `sys::unmap_pages`'s.
    let result = unsafe { sys::unmap_pages(start, len) };
    #[cfg(test)]
    if result.is_ok() {
        fault::released(len);
    }
    result
}

/// Gives a whole mapping back to the OS. `Err` if the OS refused (the mapping is then
/// still mapped, and the caller keeps it).
///
/// # Safety
/// `mapping` is exactly a live mapping of ours (as [`map`] or [`map_aligned`] described
/// it), not unmapped yet; nothing reads or writes it afterwards if this returns `Ok`,
/// and no reference into it is alive.
#[inline]
pub(crate) unsafe fn unmap(mapping: Mapping) -> Result<(), ()> {
    #[cfg(test)]
    if fault::should_fail_unmap() {
        return Err(());
    }
    // SAFETY: the caller promises `mapping` is a whole live mapping of ours that no one
    // uses any more.
    unsafe { release(mapping.base, mapping.len) }
}

/// Gives the memory of `[start, start + len)` back to the OS while keeping it mapped:
/// the pages take no memory until written again, and what they hold until then is
/// unspecified (zeros on Linux; zeros or their old bytes on Windows, or after a refusal
/// the OS is free to make). Nothing in the crate reads a purged page before writing it.
/// Under Miri, which has neither `madvise` nor `VirtualAlloc`, nothing happens.
///
/// # Safety
/// `[start, start + len)` lies in a live mapping of ours, page-aligned, and holds
/// nothing that anyone still needs.
pub(crate) unsafe fn purge(start: NonNull<u8>, len: usize) {
    if cfg!(miri) {
        return;
    }
    // SAFETY: the caller's precondition is `sys::purge_pages`'s.
    unsafe { sys::purge_pages(start, len) }
}

/// Refused OS requests, for the crate's own tests only: [`map`] asks
/// `fault::should_fail` just before it would call `mmap`, and returns `None` (as for an
/// OS out of memory) when told to; [`unmap`] asks `fault::should_fail_unmap`, as for a
/// `munmap` refused with `ENOMEM`; both count the bytes mapped.
#[cfg(test)]
pub(crate) mod fault {
    use core::cell::Cell;

    pub(crate) use linked_alloc_testkit::os_fault::*;

    std::thread_local! {
        /// Unmaps still to refuse on this thread.
        static REFUSE_UNMAPS: Cell<usize> = const { Cell::new(0) };
    }

    /// Refuses the next `n` unmaps of this thread.
    pub(crate) fn refuse_unmaps(n: usize) {
        REFUSE_UNMAPS.set(n);
    }

    /// Whether to refuse this unmap.
    pub(crate) fn should_fail_unmap() -> bool {
        let n = REFUSE_UNMAPS.get();
        if n > 0 {
            REFUSE_UNMAPS.set(n - 1);
        }
        n > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every platform's aligned mappings: the start is aligned, `len` bytes from it lie
    /// in the mapping and keep what is written there (also after a purge and a write
    /// again), and giving the mapping back gives back all that was mapped.
    #[test]
    fn aligned_mappings_hold_their_bytes_and_go_back_whole() {
        let live0 = fault::live();
        let rounds = if cfg!(miri) { 2 } else { 8 };
        for align in [MAP_ALIGN, 1 << 16, 1 << 18, 1 << 22] {
            let mut mappings = std::vec::Vec::new();
            for round in 0..rounds {
                let len = MAP_ALIGN * (1 + round);
                let (start, mapping) = map_aligned(len, align).expect("map_aligned failed");
                assert_eq!(start.as_ptr().addr() % align, 0, "misaligned start");
                let (s, b) = (start.as_ptr().addr(), mapping.base.as_ptr().addr());
                assert!(
                    b <= s && s + len <= b + mapping.len,
                    "start outside its mapping"
                );
                // SAFETY: `[start, start + len)` is in the fresh mapping, which only this
                // test uses.
                let bytes = unsafe { core::slice::from_raw_parts_mut(start.as_ptr(), len) };
                assert!(
                    bytes.iter().all(|&x| x == 0),
                    "a fresh mapping is not zeroed"
                );
                bytes.fill(round as u8 + 1);
                // SAFETY: the pages are ours, page-aligned, and what they hold is not needed.
                unsafe { purge(start, len) };
                // SAFETY: as above; purged pages stay mapped and writable.
                let bytes = unsafe { core::slice::from_raw_parts_mut(start.as_ptr(), len) };
                bytes.fill(round as u8 + 7);
                mappings.push((start, len, round as u8 + 7, mapping));
            }
            for (start, len, byte, mapping) in mappings {
                // SAFETY: as above: ours, live, not given back yet.
                let bytes = unsafe { core::slice::from_raw_parts(start.as_ptr(), len) };
                assert!(bytes.iter().all(|&x| x == byte), "a mapping lost its bytes");
                // SAFETY: the whole mapping, as `map_aligned` described it; no one uses it.
                assert!(unsafe { unmap(mapping) }.is_ok(), "unmap refused");
            }
        }
        assert_eq!(fault::live(), live0, "bytes mapped and not given back");
    }
}
