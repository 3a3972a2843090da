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
    fault::mapped(len);
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
    fault::unmapped(len);
}

/// Refused OS requests, for the crate's own tests only: [`map`] asks [`should_fail`]
/// just before it would call `mmap`, and returns `None` (as for an OS out of memory)
/// when told to. [`map`] and [`unmap`] also count the bytes mapped, so that a test can
/// tell that none leaked without trusting the allocator's own count.
///
/// The countdown and the counts are thread-local, so that tests running on parallel
/// threads do not disturb each other: a request, a mapping or an unmapping counts on
/// the thread that makes it.
///
/// [`should_fail`]: fault::should_fail
#[cfg(test)]
pub(crate) mod fault {
    use core::cell::Cell;

    /// Which requests an armed countdown refuses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Mode {
        /// Only the chosen request; the countdown is disarmed after it.
        Once,
        /// The chosen request and every later one, until [`disarm`].
        FromThenOn,
    }

    std::thread_local! {
        /// OS requests this thread has made, refused ones included.
        static REQUESTS: Cell<usize> = const { Cell::new(0) };
        /// Requests still to let through before refusing one, and how; `None`: disarmed.
        static ARMED: Cell<Option<(usize, Mode)>> = const { Cell::new(None) };
        /// Bytes this thread has mapped, less those it has unmapped.
        static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
    }

    /// Arms the countdown: the next `n` requests go through and the one after them is
    /// refused (0-based: `fail_after(0, _)` refuses the very next request), and with
    /// [`Mode::FromThenOn`] every later one too.
    pub(crate) fn fail_after(n: usize, mode: Mode) {
        ARMED.set(Some((n, mode)));
    }

    /// No more refusals.
    pub(crate) fn disarm() {
        ARMED.set(None);
    }

    /// How many OS requests this thread has made so far (a dry run tells how many a
    /// workload makes).
    pub(crate) fn requests() -> usize {
        REQUESTS.get()
    }

    /// Counts a request and says whether to refuse it.
    pub(crate) fn should_fail() -> bool {
        REQUESTS.set(REQUESTS.get().wrapping_add(1));
        match ARMED.get() {
            None => false,
            Some((0, Mode::Once)) => {
                disarm();
                true
            }
            Some((0, Mode::FromThenOn)) => true,
            Some((left, mode)) => {
                ARMED.set(Some((left - 1, mode)));
                false
            }
        }
    }

    /// Counts `len` bytes mapped.
    pub(crate) fn mapped(len: usize) {
        LIVE_BYTES.set(LIVE_BYTES.get().wrapping_add(len));
    }

    /// Counts `len` bytes unmapped.
    pub(crate) fn unmapped(len: usize) {
        LIVE_BYTES.set(LIVE_BYTES.get().wrapping_sub(len));
    }

    /// Bytes mapped and not unmapped yet, as this thread counted them.
    pub(crate) fn live_bytes() -> usize {
        LIVE_BYTES.get()
    }
}
