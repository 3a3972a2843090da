//! Memory figures, measured: the bytes an allocator holds from the system now. The
//! per-child overhead is the growth of this figure over N children, divided by N.
//!
//! - Heap-based allocators (`malloc`, `SystemHeap`, talloc, bumpalo's chunks): glibc's
//!   `mallinfo2()`, bytes in use in the arenas plus the bytes of mmap'd chunks.
//! - Our other backends report their own figure (see [`BackendFootprint`]):
//!   `MmapPages` its bytes mapped, `StaticPool` its capacity less its free bytes.
//! - And, for every contender, the growth of the process's resident memory ([`resident`],
//!   `VmRSS`), a cross-check that counts pages actually touched.

pub use super::glibc::{heap_in_use, trim_heap};

use linked_alloc_mmap::MmapPages;
use linked_alloc_pool::StaticPool;
use linked_alloc_system::SystemHeap;

/// How a backend tells the bytes it holds. The default is the C heap's figure, right
/// for a backend that takes its blocks from `malloc`; a backend that maps its own pages
/// or owns a fixed region reports its own. Also the backend's name in the tables.
pub trait BackendFootprint {
    /// The bytes held from the system now, or `None`.
    fn footprint(&self) -> Option<usize> {
        heap_in_use()
    }

    /// The backend's name in the benches' tables: its type's short name by default.
    fn name(&self) -> String {
        super::contender::short_type_name::<Self>()
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

    /// `StaticPool`, the name users write (an alias: the type's own name is `Pool`).
    fn name(&self) -> String {
        "StaticPool".to_owned()
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
