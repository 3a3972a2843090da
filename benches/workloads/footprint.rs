//! Memory figures, measured: the bytes an allocator holds from the system now. The
//! per-child overhead is the growth of this figure over N children, divided by N.
//!
//! - Heap-based allocators (`malloc`, `SystemHeap`, talloc, bumpalo's chunks): glibc's
//!   `mallinfo2()`, bytes in use in the arenas plus the bytes of mmap'd chunks.
//! - Our other backends report their own figure (see [`BackendFootprint`]).

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

// SAFETY: `mallinfo2` (glibc >= 2.33) takes nothing and returns the struct by value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallinfo2() -> Mallinfo2;
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
