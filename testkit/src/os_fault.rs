//! Refused OS requests, for the backends' own unit tests: a backend asks
//! [`should_fail`] just before each request to the OS (an `mmap`, a `System.alloc`),
//! under `#[cfg(test)]` only, and fails it as the OS would when told to, and reports
//! what it got and gave back ([`acquired`], [`released`]), so that a test can tell that
//! nothing leaked without trusting the allocator's own figures.
//!
//! A backend crate reaches this module from its unit tests through a dev-dependency on
//! this crate: `#[cfg(test)] use linked_alloc_testkit::os_fault as fault;` in the
//! backend, and [`os_faults`](crate::os_faults) runs the workload that refuses every
//! request in turn.
//!
//! The countdown and the counts are thread-local, so that tests running on parallel
//! threads do not disturb each other: a request, an acquisition or a release counts on
//! the thread that makes it.
//!
//! ```
//! use linked_alloc_testkit::os_fault::{self, Mode};
//!
//! os_fault::fail_after(1, Mode::Once);
//! assert!(!os_fault::should_fail()); // the first request goes through
//! assert!(os_fault::should_fail()); // the second is refused
//! assert!(!os_fault::should_fail()); // and only that one
//! ```

use core::cell::Cell;

/// Which requests an armed countdown refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
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
    /// What this thread has acquired from the OS, less what it has released (in the
    /// backend's unit: bytes mapped, or allocations).
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// Arms the countdown: the next `n` requests go through and the one after them is
/// refused (0-based: `fail_after(0, _)` refuses the very next request), and with
/// [`Mode::FromThenOn`] every later one too.
///
/// ```
/// use linked_alloc_testkit::os_fault::{self, Mode};
///
/// os_fault::fail_after(0, Mode::FromThenOn);
/// assert!(os_fault::should_fail() && os_fault::should_fail());
/// os_fault::disarm();
/// assert!(!os_fault::should_fail());
/// ```
pub fn fail_after(n: usize, mode: Mode) {
    ARMED.set(Some((n, mode)));
}

/// No more refusals.
///
/// ```
/// use linked_alloc_testkit::os_fault::{self, Mode};
///
/// os_fault::fail_after(0, Mode::Once);
/// os_fault::disarm();
/// assert!(!os_fault::should_fail());
/// ```
pub fn disarm() {
    ARMED.set(None);
}

/// How many OS requests this thread has made so far (a dry run tells how many a
/// workload makes).
///
/// ```
/// use linked_alloc_testkit::os_fault;
///
/// let before = os_fault::requests();
/// os_fault::should_fail();
/// assert_eq!(os_fault::requests() - before, 1);
/// ```
pub fn requests() -> usize {
    REQUESTS.get()
}

/// Counts a request and says whether to refuse it. A backend calls it just before each
/// request to the OS, in test builds.
///
/// ```
/// use linked_alloc_testkit::os_fault;
///
/// os_fault::disarm();
/// assert!(!os_fault::should_fail());
/// ```
pub fn should_fail() -> bool {
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

/// Counts `n` units acquired from the OS.
///
/// ```
/// use linked_alloc_testkit::os_fault;
///
/// let before = os_fault::live();
/// os_fault::acquired(3);
/// assert_eq!(os_fault::live() - before, 3);
/// os_fault::released(3);
/// assert_eq!(os_fault::live(), before);
/// ```
pub fn acquired(n: usize) {
    LIVE.set(LIVE.get().wrapping_add(n));
}

/// Counts `n` units given back to the OS (see [`acquired`]).
pub fn released(n: usize) {
    LIVE.set(LIVE.get().wrapping_sub(n));
}

/// Units acquired and not given back yet, as this thread counted them (see
/// [`acquired`]).
pub fn live() -> usize {
    LIVE.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_counts_and_refuses() {
        disarm();
        let start = requests();
        fail_after(1, Mode::Once);
        assert_eq!([(); 3].map(|()| should_fail()), [false, true, false]);
        fail_after(2, Mode::FromThenOn);
        assert_eq!([(); 4].map(|()| should_fail()), [false, false, true, true]);
        disarm();
        assert!(!should_fail());
        assert_eq!(requests() - start, 8);
    }
}
