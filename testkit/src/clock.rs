//! The calling thread's CPU time, for measurements on a machine shared with other jobs:
//! the time the thread waits for a core is not counted.

/// `struct timespec` on 64-bit Linux.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[repr(C)]
#[derive(Debug, Default)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
// SAFETY: the C library's `clock_gettime`, with its C signature (64-bit Linux).
unsafe extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// The calling thread's CPU time in nanoseconds (user and system,
/// `CLOCK_THREAD_CPUTIME_ID`), or `None` where there is no such clock (anything but
/// 64-bit Linux, or an interpreter such as Miri that does not offer it).
///
/// ```
/// if let Some(t) = linked_alloc_testkit::clock::thread_cpu_ns() {
///     assert!(linked_alloc_testkit::clock::thread_cpu_ns().unwrap() >= t);
/// }
/// ```
#[must_use]
pub fn thread_cpu_ns() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        /// `CLOCK_THREAD_CPUTIME_ID` on Linux.
        const THREAD_CPUTIME: i32 = 3;
        let mut t = Timespec::default();
        // SAFETY: `t` is a valid `timespec` to write; the clock id exists on Linux.
        let ok = unsafe { clock_gettime(THREAD_CPUTIME, &mut t) } == 0;
        ok.then(|| t.sec as u64 * 1_000_000_000 + t.nsec as u64)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    None
}
