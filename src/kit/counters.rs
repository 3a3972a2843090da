//! Exact live counts, with atomics.

use core::sync::atomic::Ordering::Relaxed;

use super::atomic::AtomicUsize;

use crate::Stats;

/// Live roots, children and bytes, counted with atomics, for
/// [`LinkedAllocator::stats`](crate::LinkedAllocator::stats).
///
/// Each counter is exact; a [`snapshot`](Self::snapshot) taken while other threads
/// allocate may mix counts from just before and just after their calls (the three
/// are read one by one), and is exact whenever the allocator is quiet.
///
/// ```
/// use linked_alloc::kit::StatsCounter;
/// let c = StatsCounter::new();
/// c.add_root(100);
/// c.add_child(20);
/// c.add_child(30);
/// assert_eq!(c.snapshot().bytes_in_use, 150);
/// c.remove(1, 2, 150);
/// assert!(c.snapshot().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct StatsCounter {
    roots: AtomicUsize,
    children: AtomicUsize,
    bytes: AtomicUsize,
}

impl StatsCounter {
    /// All counts at zero.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            roots: AtomicUsize::new(0),
            children: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// Counts a new root of `bytes`.
    #[inline]
    pub fn add_root(&self, bytes: usize) {
        self.roots.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts a new child of `bytes`.
    #[inline]
    pub fn add_child(&self, bytes: usize) {
        self.children.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts `bytes` more in use without a new block (a block that grew in place).
    #[inline]
    pub fn add_bytes(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Relaxed);
    }

    /// Removes `roots` roots, `children` children and `bytes` bytes (a freed root and
    /// its chain, or a block that shrank or was reclaimed).
    #[inline]
    pub fn remove(&self, roots: usize, children: usize, bytes: usize) {
        if roots != 0 {
            self.roots.fetch_sub(roots, Relaxed);
        }
        if children != 0 {
            self.children.fetch_sub(children, Relaxed);
        }
        if bytes != 0 {
            self.bytes.fetch_sub(bytes, Relaxed);
        }
    }

    /// The counts now.
    #[inline]
    #[must_use]
    pub fn snapshot(&self) -> Stats {
        Stats {
            roots: self.roots.load(Relaxed),
            children: self.children.load(Relaxed),
            bytes_in_use: self.bytes.load(Relaxed),
        }
    }
}
