//! Memory figures, measured: the bytes an allocator holds from the system now. The
//! per-child overhead is the growth of this figure over N children, divided by N.
//!
//! - Heap-based allocators (`malloc`, `SystemHeap`, talloc, bumpalo's chunks): glibc's
//!   `mallinfo2()`, bytes in use in the arenas plus the bytes of mmap'd chunks.
//! - Our other backends report their own figure (see [`BackendFootprint`]):
//!   `MmapPages` its bytes mapped, `StaticPool` its capacity less its free bytes.
//! - And, for every contender, the growth of the process's resident memory ([`resident`],
//!   `VmRSS`), a cross-check that counts pages actually touched.

use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;

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

// SAFETY: `mallinfo2` (glibc >= 2.33) takes nothing and returns the struct by value;
// `malloc_trim` takes the bytes to leave at the top of the heap and returns 0 or 1.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallinfo2() -> Mallinfo2;
    fn malloc_trim(pad: usize) -> core::ffi::c_int;
}

/// Gives the C heap's free memory back to the OS (`malloc_trim(0)`), so that the next
/// growth of [`resident`] counts new blocks, not reused free ones.
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

/// How a backend tells the bytes it holds. The default is the C heap's figure, right
/// for a backend that takes its blocks from `malloc`; a backend that maps its own pages
/// or owns a fixed region reports its own.
pub trait BackendFootprint {
    /// The bytes held from the system now, or `None`.
    fn footprint(&self) -> Option<usize> {
        heap_in_use()
    }
}

impl BackendFootprint for SystemHeap {}

impl BackendFootprint for MmapPages {
    /// Address space mapped, cache included (each run maps about twice its size to
    /// align it; the slack is never touched, see [`resident`] for memory).
    fn footprint(&self) -> Option<usize> {
        Some(self.bytes_mapped())
    }
}

impl<const N: usize> BackendFootprint for &StaticPool<N> {
    /// The pool's bytes in blocks (headers and padding included).
    fn footprint(&self) -> Option<usize> {
        Some(self.capacity() - self.free_bytes())
    }
}

/// The resident memory of this process (`VmRSS` of `/proc/self/status`), in bytes;
/// `None` where there is no such file.
pub fn resident() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
