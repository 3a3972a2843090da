//! The OS calls on Unix: anonymous private pages with `mmap`, through rustix. Under
//! Miri, rustix uses its libc backend, whose `mmap`/`munmap` Miri runs natively.

use core::ptr::NonNull;

use rustix::mm::{Advice, MapFlags, ProtFlags, madvise, mmap_anonymous, munmap};

use super::{MAP_ALIGN, Mapping, map, release};

/// Maps `len` bytes of fresh, private, zero-filled, read-write anonymous pages, at
/// `hint` if the kernel takes it (null: anywhere). `None` if the kernel refuses.
pub(super) fn map_pages(hint: *mut u8, len: usize) -> Option<NonNull<u8>> {
    // SAFETY: without `MAP_FIXED` the address is only a hint: the kernel never replaces
    // a mapping that anything else uses; `mmap_anonymous` has no other precondition.
    let start = unsafe {
        mmap_anonymous(
            hint.cast(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .ok()?;
    NonNull::new(start.cast::<u8>())
}

/// Unmaps `[start, start + len)`. `Err` if the kernel refused (it is then still mapped).
///
/// # Safety
/// `[start, start + len)` is a page-aligned part of a live mapping of ours (the whole
/// mapping under Miri) that nothing uses afterwards if this returns `Ok`.
pub(super) unsafe fn unmap_pages(start: NonNull<u8>, len: usize) -> Result<(), ()> {
    // SAFETY: the caller's precondition is all `munmap` asks.
    unsafe { munmap(start.as_ptr().cast(), len) }.map_err(|_| ())
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
        if lead > 0 && release(base, lead).is_err() {
            return Some((start, Mapping { base, len: total }));
        }
        if tail > 0 && release(start.add(len), tail).is_err() {
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

/// Whether [`remap`] can succeed: on Linux, outside Miri.
pub(crate) const CAN_REMAP: bool = cfg!(all(
    any(target_os = "linux", target_os = "android"),
    not(miri)
));

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
            super::fault::released(old.len);
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
/// until written again. A refusal is ignored (the pages simply stay resident).
///
/// # Safety
/// `[start, start + len)` lies in a live mapping of ours, page-aligned, and holds
/// nothing that anyone still needs.
pub(super) unsafe fn purge_pages(start: NonNull<u8>, len: usize) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let advice = Advice::LinuxDontNeed;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let advice = Advice::DontNeed;
    // SAFETY: the caller's precondition: the pages are ours and unused.
    let _ = unsafe { madvise(start.as_ptr().cast(), len, advice) };
}
