//! What the benches ask of glibc's `malloc`: its counters (`mallinfo2`), giving free
//! memory back (`malloc_trim`), and fixed thresholds (`mallopt`). Elsewhere, nothing.

/// glibc's `struct mallinfo2` (`man 3 mallinfo2`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[repr(C)]
#[derive(Debug, Default)]
struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

// SAFETY: the glibc functions with their C signatures: `mallinfo2` (glibc >= 2.33)
// returns the struct by value; `malloc_trim` takes the bytes to leave at the top of the
// heap; `mallopt` takes a parameter number and a value; both return 0 or 1.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallinfo2() -> Mallinfo2;
    fn malloc_trim(pad: usize) -> core::ffi::c_int;
    fn mallopt(param: core::ffi::c_int, value: core::ffi::c_int) -> core::ffi::c_int;
}

/// glibc's own upper bound for its dynamic mmap threshold on 64-bit targets
/// (`DEFAULT_MMAP_THRESHOLD_MAX`): blocks at least this large are always mmap'd (and
/// unmapped when freed).
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Makes the C heap keep the memory it gets: the mmap threshold at its maximum
/// ([`MMAP_THRESHOLD`]) and no automatic trimming, fixed (not glibc's dynamic rule,
/// under which freeing a large block changes both for the rest of the process). So the
/// heap-based contenders (`malloc`, `SystemHeap`, talloc, bumpalo's chunks) run in warm
/// memory after their first run, whatever ran before them, as the pool does (it keeps
/// its region) and as APR pools do: the benches compare allocators, not page faults.
/// `MmapPages` keeps what its own cache keeps. Call it once, first thing.
pub fn settle_c_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use core::ffi::c_int;
        /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` of `<malloc.h>`.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        // SAFETY: `mallopt` only sets the allocator's parameters; the values fit `int`.
        let ok = unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD as c_int)
                & mallopt(M_TRIM_THRESHOLD, c_int::MAX)
        };
        assert_eq!(ok, 1, "mallopt refused a threshold");
    }
}

/// Gives the C heap's free memory back to the OS (`malloc_trim(0)`), so that the next
/// growth of the resident memory counts new blocks, not reused free ones.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the C heap.
    unsafe {
        malloc_trim(0);
    }
}

/// Bytes the C heap has handed out and not taken back: chunks in use in all arenas
/// (their malloc headers and padding included) plus mmap'd chunks. `None` off glibc.
pub fn heap_in_use() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` only reads the allocator's counters.
        let info = unsafe { mallinfo2() };
        Some(info.uordblks + info.hblkhd)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}
