//! The one module that calls the OS: anonymous read-write pages in, mappings out.
//!
//! Everything else in the crate goes through [`map`], [`map_aligned`] and [`unmap`].
//! A mapping is given back whole, exactly as it was mapped (Miri requires that), except
//! that [`map_aligned`] trims the slack around an aligned mapping right after mapping it
//! (outside Miri): trimming the ends of a fresh mapping never splits an area of the
//! kernel's, so it cannot hit the limit on the number of mappings.
//!
//! `munmap` **can fail**: the kernel keeps adjacent anonymous mappings as one area, and
//! unmapping a piece out of the middle of an area splits it in two; once the process
//! holds `vm.max_map_count` areas, that split is refused with `ENOMEM`. [`unmap`]
//! reports the failure, and the callers keep the memory (counted, and reused) instead of
//! forgetting it.

use core::ptr::{self, NonNull};

use rustix::mm::{Advice, MapFlags, ProtFlags, madvise, mmap_anonymous, munmap};

/// The least alignment of every address that [`map`] returns: no Unix target this crate
/// supports has pages smaller than 4096 bytes.
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
/// zero-filled, read-write anonymous pages, aligned to at least [`MAP_ALIGN`]. `None`
/// if the OS refuses (out of memory or address space, or a length it does not take).
#[inline]
pub(crate) fn map(len: usize) -> Option<NonNull<u8>> {
    debug_assert!(len > 0 && len % MAP_ALIGN == 0);
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

/// Maps `len` bytes (a multiple of [`MAP_ALIGN`]) starting at an address aligned to
/// `align` (a power of two, at least [`MAP_ALIGN`]). Returns the aligned start and the
/// mapping to give back: outside Miri the slack before and after is unmapped at once
/// (so the mapping is exactly `len` bytes); under Miri, which only unmaps whole
/// mappings, the slack stays mapped and untouched (address space, no memory).
pub(crate) fn map_aligned(len: usize, align: usize) -> Option<(NonNull<u8>, Mapping)> {
    debug_assert!(align.is_power_of_two() && align >= MAP_ALIGN);
    let total = len.checked_add(align - MAP_ALIGN)?;
    let base = map(total)?;
    let lead = base.as_ptr().addr().wrapping_neg() & (align - 1);
    // SAFETY: `lead < align` and `lead + len <= total`, so the start stays in the mapping.
    let start = unsafe { base.add(lead) };
    if cfg!(miri) {
        return Some((start, Mapping { base, len: total }));
    }
    let tail = total - lead - len;
    // SAFETY: `[base, base + lead)` and `[start + len, base + total)` are the ends of the
    // fresh mapping, which nothing uses; unmapping an end shrinks the kernel's area
    // without splitting it.
    unsafe {
        if lead > 0 && trim(base, lead).is_err() {
            return Some((start, Mapping { base, len: total }));
        }
        if tail > 0 && trim(start.add(len), tail).is_err() {
            return Some((
                start,
                Mapping {
                    base: start,
                    len: total - lead,
                },
            ));
        }
    }
    Some((start, Mapping { base: start, len }))
}

/// Unmaps an end of a fresh mapping, counting it as given back.
///
/// # Safety
/// `[start, start + len)` is the first or the last part of a live mapping of ours that
/// nothing uses.
unsafe fn trim(start: NonNull<u8>, len: usize) -> Result<(), ()> {
    // SAFETY: the caller's precondition is all `munmap` asks.
    let result = unsafe { munmap(start.as_ptr().cast(), len) };
    #[cfg(test)]
    if result.is_ok() {
        fault::released(len);
    }
    result.map_err(|_| ())
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
    // uses any more, which is all `munmap` asks.
    let result = unsafe { munmap(mapping.base.as_ptr().cast(), mapping.len) };
    #[cfg(test)]
    if result.is_ok() {
        fault::released(mapping.len);
    }
    result.map_err(|_| ())
}

/// Moves the pages of `old` to `new` (a fresh mapping of ours, at least as long), with
/// `mremap`: the kernel moves page tables, nothing is copied. Linux only (elsewhere, and
/// under Miri, `Err`). On `Ok`, `old` is unmapped and `new` holds its pages (then
/// zeros).
///
/// # Safety
/// `old` and `new` are whole live mappings of ours (as [`map`] or [`map_aligned`]
/// described them), disjoint; nothing uses `new`, and nothing uses `old` afterwards
/// unless this returns `Err`.
pub(crate) unsafe fn remap(old: Mapping, new: Mapping) -> Result<(), ()> {
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    {
        use rustix::mm::{MremapFlags, mremap_fixed};
        // SAFETY: the caller's precondition: both are whole mappings of ours; moving
        // `old` onto `new` replaces only `new`, which nothing uses.
        let moved = unsafe {
            mremap_fixed(
                old.base.as_ptr().cast(),
                old.len,
                new.len,
                MremapFlags::MAYMOVE,
                new.base.as_ptr().cast(),
            )
        };
        if moved.is_ok() {
            #[cfg(test)]
            fault::released(old.len);
            return Ok(());
        }
        Err(())
    }
    #[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
    {
        let _ = (old, new);
        Err(())
    }
}

/// Gives the memory of `[start, start + len)` back to the OS while keeping it mapped
/// (`madvise(MADV_DONTNEED)`): the pages read as zeros afterwards and take no memory
/// until written again. A refusal is ignored (the pages simply stay resident). Under
/// Miri, which has no `madvise`, nothing happens.
///
/// # Safety
/// `[start, start + len)` lies in a live mapping of ours, page-aligned, and holds
/// nothing that anyone still needs.
pub(crate) unsafe fn purge(start: NonNull<u8>, len: usize) {
    if cfg!(miri) {
        return;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let advice = Advice::LinuxDontNeed;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let advice = Advice::DontNeed;
    // SAFETY: the caller's precondition: the pages are ours and unused.
    let _ = unsafe { madvise(start.as_ptr().cast(), len, advice) };
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
