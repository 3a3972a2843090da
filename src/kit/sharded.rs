//! Exact live counts without a shared hot spot: one cache line of counters per shard,
//! summed on read.

use core::fmt;
use core::sync::atomic::Ordering::Relaxed;

use super::atomic::AtomicIsize;

use crate::Stats;

/// Which shard of a [`ShardedStats`] a call updates, chosen by the backend for the
/// calling thread (the core crate is `no_std` and cannot tell threads apart itself): a
/// number per thread, a hash of the thread, a CPU number. Any number is fine (it is
/// taken modulo [`ShardedStats::SHARDS`]); threads on different shards write different
/// cache lines, threads on one shard stay exact (the updates are atomic
/// read-modify-writes) and only share its line.
///
/// ```
/// use linked_alloc::kit::{Shard, ShardedStats};
/// assert_eq!(Shard::new(7), Shard::new(7 + ShardedStats::SHARDS));
/// assert_ne!(Shard::new(0), Shard::new(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    /// The index into the shards, `< SHARDS`.
    index: usize,
}

impl Shard {
    /// Shard number `n` modulo [`ShardedStats::SHARDS`].
    ///
    /// ```
    /// # use linked_alloc::kit::Shard;
    /// let mine = Shard::new(3);
    /// # let _ = mine;
    /// ```
    #[inline]
    #[must_use]
    pub const fn new(n: usize) -> Self {
        Self {
            index: n % ShardedStats::SHARDS,
        }
    }
}

/// One shard's counters, alone on their cache lines (128 bytes: a line and the one
/// that the adjacent-line prefetcher of x86 pulls with it).
#[repr(C, align(128))]
#[derive(Debug)]
struct Counters {
    roots: AtomicIsize,
    children: AtomicIsize,
    bytes: AtomicIsize,
}

impl Counters {
    const fn new() -> Self {
        Self {
            roots: AtomicIsize::new(0),
            children: AtomicIsize::new(0),
            bytes: AtomicIsize::new(0),
        }
    }
}

/// Adds `by` (two's complement: a removal is a wrapping negative) to `cell`.
///
/// An atomic read-modify-write even for a shard that one thread alone updates: a plain
/// load and store were measured slower (the next update of the same counter waits for
/// the store to be forwarded), and they would lose counts if two threads shared it.
#[inline(always)]
fn bump(cell: &AtomicIsize, by: usize) {
    cell.fetch_add(by as isize, Relaxed);
}

/// Live roots, children and bytes, counted per shard and summed on read, for
/// [`LinkedAllocator::stats`](crate::LinkedAllocator::stats): the drop-in for
/// [`StatsCounter`](super::StatsCounter) where many threads allocate, so that the hot
/// path writes no cache line that every thread writes.
///
/// Each call names the [`Shard`] it updates; a block may be counted in on one shard
/// and out on another (a root freed by another thread): a shard's counts may go
/// negative, the sum stays exact. [`snapshot`](Self::snapshot) sums every shard: it is
/// exact whenever the allocator is quiet (every call on every thread happened before
/// it), and while other threads allocate it may mix counts from before and after
/// their calls (a sum that would be negative shows as 0).
///
/// [`SHARDS`](Self::SHARDS) shards of 128 bytes: 8 KiB.
///
/// ```
/// use linked_alloc::kit::{Shard, ShardedStats};
///
/// let stats = ShardedStats::new();
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         let stats = &stats;
///         s.spawn(move || {
///             stats.add_root(Shard::new(t), 100);
///             stats.add_child(Shard::new(t), 20);
///         });
///     }
/// });
/// // A root and its child freed on yet another shard.
/// stats.remove(Shard::new(9), 1, 1, 120);
/// let s = stats.snapshot();
/// assert_eq!((s.roots, s.children, s.bytes_in_use), (3, 3, 360));
/// ```
pub struct ShardedStats {
    shards: [Counters; ShardedStats::SHARDS],
}

impl ShardedStats {
    /// How many shards there are: threads on different shards (up to this many at
    /// once) write different cache lines.
    pub const SHARDS: usize = 64;

    /// All counts at zero. `const`, for `static`s.
    ///
    /// ```
    /// # use linked_alloc::kit::ShardedStats;
    /// static STATS: ShardedStats = ShardedStats::new();
    /// assert!(STATS.snapshot().is_empty());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            shards: [const { Counters::new() }; Self::SHARDS],
        }
    }

    #[inline(always)]
    fn at(&self, shard: Shard) -> &Counters {
        // `Shard::new` keeps `index < SHARDS`; the compiler sees the modulo (a mask)
        // and drops the bounds check.
        &self.shards[shard.index % Self::SHARDS]
    }

    /// Counts a new root of `bytes`, on `shard`.
    ///
    /// ```
    /// # use linked_alloc::kit::{Shard, ShardedStats};
    /// let stats = ShardedStats::new();
    /// stats.add_root(Shard::new(0), 8);
    /// assert_eq!(stats.snapshot().bytes_in_use, 8);
    /// ```
    #[inline]
    pub fn add_root(&self, shard: Shard, bytes: usize) {
        let c = self.at(shard);
        bump(&c.roots, 1);
        bump(&c.bytes, bytes);
    }

    /// Counts a new child of `bytes`, on `shard`.
    ///
    /// ```
    /// # use linked_alloc::kit::{Shard, ShardedStats};
    /// let stats = ShardedStats::new();
    /// stats.add_child(Shard::new(0), 8);
    /// assert_eq!(stats.snapshot().children, 1);
    /// ```
    #[inline]
    pub fn add_child(&self, shard: Shard, bytes: usize) {
        let c = self.at(shard);
        bump(&c.children, 1);
        bump(&c.bytes, bytes);
    }

    /// Counts `bytes` more in use without a new block (a block that grew), on `shard`.
    ///
    /// ```
    /// # use linked_alloc::kit::{Shard, ShardedStats};
    /// let stats = ShardedStats::new();
    /// stats.add_bytes(Shard::new(0), 8);
    /// assert_eq!(stats.snapshot().bytes_in_use, 8);
    /// ```
    #[inline]
    pub fn add_bytes(&self, shard: Shard, bytes: usize) {
        bump(&self.at(shard).bytes, bytes);
    }

    /// Removes `roots` roots, `children` children and `bytes` bytes (a freed root and
    /// its chain, or a block that shrank), on `shard`.
    ///
    /// ```
    /// # use linked_alloc::kit::{Shard, ShardedStats};
    /// let stats = ShardedStats::new();
    /// stats.add_root(Shard::new(0), 8);
    /// stats.remove(Shard::new(1), 1, 0, 8);
    /// assert!(stats.snapshot().is_empty());
    /// ```
    #[inline]
    pub fn remove(&self, shard: Shard, roots: usize, children: usize, bytes: usize) {
        let c = self.at(shard);
        if roots != 0 {
            bump(&c.roots, roots.wrapping_neg());
        }
        if children != 0 {
            bump(&c.children, children.wrapping_neg());
        }
        if bytes != 0 {
            bump(&c.bytes, bytes.wrapping_neg());
        }
    }

    /// The counts now: every shard summed.
    ///
    /// ```
    /// # use linked_alloc::kit::ShardedStats;
    /// assert!(ShardedStats::new().snapshot().is_empty());
    /// ```
    #[must_use]
    pub fn snapshot(&self) -> Stats {
        let (mut roots, mut children, mut bytes) = (0isize, 0isize, 0isize);
        for c in &self.shards {
            roots = roots.wrapping_add(c.roots.load(Relaxed));
            children = children.wrapping_add(c.children.load(Relaxed));
            bytes = bytes.wrapping_add(c.bytes.load(Relaxed));
        }
        // Live counts and bytes never pass `isize::MAX`; a negative sum is a snapshot
        // taken in the middle of other threads' calls.
        let count = |n: isize| usize::try_from(n).unwrap_or(0);
        Stats {
            roots: count(roots),
            children: count(children),
            bytes_in_use: count(bytes),
        }
    }
}

impl Default for ShardedStats {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ShardedStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedStats")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}
