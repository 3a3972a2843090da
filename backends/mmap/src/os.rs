//! The one module that calls the OS: anonymous read-write pages in, whole mappings out.
//!
//! Everything else in the crate goes through [`map`] and [`unmap`]. Every mapping is
//! given back whole, exactly as [`map`] returned it (Miri and some platforms require
//! that; partial unmapping is never used).

use core::ptr::{self, NonNull};

use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous, munmap};

/// The least alignment of every address that [`map`] returns: no Unix target this crate
/// supports has pages smaller than 4096 bytes.
pub(crate) const MAP_ALIGN: usize = 4096;

/// The longest mapping asked of Miri's `mmap` (1 GiB); see [`map`].
const MIRI_MAX_LEN: usize = 1 << 30;

/// Maps `len` bytes (`len > 0`) of fresh, private, zero-filled, read-write anonymous
/// pages, aligned to at least [`MAP_ALIGN`]. `None` if the OS refuses (out of memory or
/// address space, or a length it does not take).
#[inline]
pub(crate) fn map(len: usize) -> Option<NonNull<u8>> {
    debug_assert!(len > 0);
    // Miri stops the program with "resource exhaustion" where an OS returns ENOMEM, so
    // under Miri this module refuses what no test needs, as an OS out of memory would.
    if cfg!(miri) && len > MIRI_MAX_LEN {
        return None;
    }
    #[cfg(test)]
    if fault::should_fail() {
        return None;
    }
    // SAFETY: a null address hint lets the OS choose where to put the mapping, so it
    // replaces no memory that anything else uses; `mmap_anonymous` has no other
    // precondition.
    let start = unsafe {
        mmap_anonymous(
            ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .ok()?;
    let start = NonNull::new(start.cast::<u8>())?;
    debug_assert_eq!(start.as_ptr() as usize % MAP_ALIGN, 0);
    #[cfg(test)]
    fault::acquired(len);
    Some(start)
}

/// Gives a whole mapping back to the OS.
///
/// # Safety
/// `start` and `len` are exactly a pointer that [`map`] returned and the length it was
/// given, not unmapped yet; nothing reads or writes the mapping afterwards, and no
/// reference into it is alive.
#[inline]
pub(crate) unsafe fn unmap(start: NonNull<u8>, len: usize) {
    // SAFETY: the caller promises `start`/`len` are a whole live mapping of ours that no
    // one uses any more, which is all `munmap` asks.
    let result = unsafe { munmap(start.as_ptr().cast(), len) };
    // `munmap` of a whole mapping of ours does not fail; if it ever did, the pages stay
    // mapped (a leak of address space), which is safe.
    debug_assert!(
        result.is_ok(),
        "munmap of a whole mapping failed: {result:?}"
    );
    #[cfg(test)]
    fault::released(len);
}

/// Refused OS requests, for the crate's own tests only: [`map`] asks
/// `fault::should_fail` just before it would call `mmap`, and returns `None` (as for an
/// OS out of memory) when told to; [`map`] and [`unmap`] count the bytes mapped.
#[cfg(test)]
#[path = "../../os_fault.rs"]
pub(crate) mod fault;
