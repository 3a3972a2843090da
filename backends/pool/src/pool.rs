//! [`Pool`]: the one pool type, whatever holds its first region's bytes: the lock, the
//! TLSF state of every region, the live counts, the [`LinkedAllocator`] logic (checks,
//! chains, stats) and the inspection methods. [`StaticPool`](crate::StaticPool) and
//! [`PoolRegion`](crate::PoolRegion) are its two storages' names and constructors.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::NonNull;

use linked_alloc::align::block_align;
use linked_alloc::{AllocError, BlockStatus, LinkedAllocator, Stats};

use crate::heaps::{Extra, Extras, Heaps, MAX_REGIONS};
use crate::lock::{PoolLock, SpinLock};
use crate::region::{AddRegionError, RegionTooSmall};
use crate::storage::Storage;
use crate::tlsf::{BlockKind, HEADER, Tlsf};

/// What the lock guards: the TLSF state of the first region, the regions added, and
/// the live counts (plain integers: updated under the lock anyway, so no atomic
/// read-modify-write on the hot path).
#[derive(Debug)]
struct Locked {
    first: Tlsf,
    extras: Extras,
    counts: Counts,
}

/// The live counts and the high-water mark.
#[derive(Debug)]
struct Counts {
    stats: Stats,
    /// The most bytes the blocks ever took at once, headers included (the high-water
    /// mark of `capacity - free_bytes`).
    peak: usize,
}

impl Counts {
    /// Raises the high-water mark to what the blocks take now: after an allocation or
    /// a growth, the only calls that can raise it (O(1) per region).
    #[inline]
    fn raise_peak(&mut self, heaps: &mut Heaps<'_>) {
        self.peak = self.peak.max(heaps.used());
    }
}

/// The lock and what it guards.
#[derive(Debug)]
struct State<L> {
    lock: L,
    locked: UnsafeCell<Locked>,
}

impl<L: PoolLock> State<L> {
    const fn new() -> Self {
        Self {
            lock: L::UNLOCKED,
            locked: UnsafeCell::new(Locked {
                first: Tlsf::new(),
                extras: Extras::new(),
                counts: Counts {
                    stats: Stats {
                        roots: 0,
                        children: 0,
                        bytes_in_use: 0,
                    },
                    peak: 0,
                },
            }),
        }
    }
}

/// A TLSF pool for `no_std` firmware over one or more regions of memory: the type
/// behind [`StaticPool`](crate::StaticPool) (`S` = [`Inline<N>`](crate::storage::Inline),
/// the bytes inside the value) and [`PoolRegion`](crate::PoolRegion) (`S` =
/// [`External`](crate::storage::External), memory handed in). Build it through those
/// two names; every method below serves both. See the [crate docs](crate) for the
/// design and the time bounds.
///
/// `L` is the [lock policy](crate::lock): [`SpinLock`] by default;
/// [`CriticalSectionLock`](crate::CriticalSectionLock) (feature `critical-section`) to
/// allocate from interrupt handlers; [`TryLock`](crate::TryLock) for allocations that
/// fail at once when the pool is busy.
///
/// # Several regions
/// [`add_region`](Self::add_region) gives the pool more memory at run time (SRAM2 beside
/// SRAM1): up to [`MAX_REGIONS`] regions in all, each a TLSF heap of its own (tables
/// sized from its own length, blocks never merged across regions). A request is served
/// by the first region, in the order they were given, that has a fit; roots and
/// children link across regions, and `free_root` frees a root's chain wherever its
/// blocks lie. The inspection methods count every region.
pub struct Pool<S, L = SpinLock> {
    state: State<L>,
    storage: S,
}

// SAFETY: the pool's own bytes (tables, headers, the state of every region) are touched
// only under the lock (a `PoolLock`: closures never overlap, on any thread); the
// payload of a block is touched only by whoever holds the block, which the contract of
// `LinkedAllocator` hands to one owner at a time.
unsafe impl<S: Storage, L: PoolLock> Sync for Pool<S, L> {}

// SAFETY: the pool owns every region it serves from (the storage, and the regions added
// through `&'static mut` or a range the caller gave up), so sending the pool to another
// thread sends their only user; the storage and the lock are `Send` themselves.
unsafe impl<S: Storage + Send, L: PoolLock + Send> Send for Pool<S, L> {}

/// How a locked call goes when the lock is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// As the lock's policy says ([`PoolLock::lock`]): a call that can fail.
    Policy,
    /// Always wait ([`PoolLock::wait`]): a call that cannot fail.
    Always,
}

/// Why an allocation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// The parent given is not a live block of this pool: the caller's error.
    NotLiveParent,
    /// No free block fits: out of memory, no error of the caller's.
    OutOfMemory,
}

/// Says that a pointer is not what a call needs: a debug build panics (the pool is
/// unchanged, the lock released); a release build lets the call do nothing.
#[cold]
#[inline(never)]
#[track_caller]
fn bad_pointer(call: &'static str, what: &'static str) {
    if cfg!(debug_assertions) {
        panic!("linked-alloc-pool: {call} was given {what}; the pool is left unchanged");
    }
}

impl<S: Storage, L: PoolLock> Pool<S, L> {
    /// A pool over `storage`, laid out on its first call.
    pub(crate) const fn from_storage(storage: S) -> Self {
        Self {
            state: State::new(),
            storage,
        }
    }

    /// Writes an empty state (lock, tables' state, counts) into the pool at `this`,
    /// and nothing else: for `StaticPool::new_in_place`, whose storage is valid
    /// uninitialized.
    ///
    /// # Safety
    /// `this` points to a pool's place, valid for writes.
    pub(crate) unsafe fn init_state(this: *mut Self) {
        // SAFETY: `this` is valid for writes (the precondition); `addr_of_mut!` makes
        // no reference to the possibly uninitialized value.
        unsafe { core::ptr::addr_of_mut!((*this).state).write(State::new()) };
    }

    /// Locks the state and binds it to the pool's regions; `f` works on their heaps
    /// and the counts. `None` only for [`Wait::Policy`] with a lock that found the pool
    /// busy.
    #[inline]
    fn with<R>(&self, wait: Wait, f: impl FnOnce(&mut Heaps<'_>, &mut Counts) -> R) -> Option<R> {
        let region = self.storage.region();
        let locked = || {
            // SAFETY: this closure runs under the lock, which (`PoolLock`'s contract)
            // no other closure of this pool holds at the same time: the only access to
            // `locked` now.
            let Locked {
                first,
                extras,
                counts,
            } = unsafe { &mut *self.state.locked.get() };
            // SAFETY: `Storage::region` gives valid bytes of this pool alone, the same
            // on every call (the contract of the sealed trait), which is `Tlsf::view`'s
            // precondition; the lock makes this view the only one.
            let first = unsafe { first.view(region.base, region.len) };
            // SAFETY: every region in `extras` was placed by `Extra::place` over
            // memory the pool owns for good (`add_region`); the lock makes these views
            // the only ones.
            let mut heaps = unsafe { Heaps::new(first, extras) };
            f(&mut heaps, counts)
        };
        match wait {
            Wait::Policy => self.state.lock.lock(locked),
            Wait::Always => Some(self.state.lock.wait(locked)),
        }
    }

    /// [`with`](Self::with) for a call that cannot fail: waits for the lock.
    #[inline]
    fn with_wait<R>(&self, f: impl FnOnce(&mut Heaps<'_>, &mut Counts) -> R) -> R {
        match self.with(Wait::Always, f) {
            Some(r) => r,
            None => unreachable!("Wait::Always gives Some"),
        }
    }

    /// Reads a field of the locked state, waiting for the lock.
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Locked) -> R) -> R {
        // SAFETY: under the lock: the only access to `locked` (see `with`).
        self.state
            .lock
            .wait(|| f(unsafe { &*self.state.locked.get() }))
    }

    /// Allocates a root (no `parent`) or a child linked to `parent`'s root.
    #[inline]
    fn allocate(
        &self,
        layout: Layout,
        parent: Option<NonNull<u8>>,
    ) -> Result<NonNull<u8>, AllocError> {
        let align = block_align(layout);
        let result = self.with(Wait::Policy, |heaps, counts| {
            let after = match parent {
                None => None,
                Some(p) => match heaps.live_block(p.as_ptr() as usize) {
                    Some((block, _)) => Some(block),
                    None => return Err(Refusal::NotLiveParent),
                },
            };
            let kind = match after {
                None => BlockKind::Root,
                Some(_) => BlockKind::Child,
            };
            let (block, ptr) = heaps
                .allocate(layout.size(), align, kind)
                .ok_or(Refusal::OutOfMemory)?;
            match after {
                Some(after) => {
                    heaps.link_after(after, block);
                    counts.stats.children += 1;
                }
                None => counts.stats.roots += 1,
            }
            counts.stats.bytes_in_use += layout.size();
            counts.raise_peak(heaps);
            Ok(ptr)
        });
        // A busy pool under a lock that does not wait: refused, as out of memory.
        let result = result.unwrap_or(Err(Refusal::OutOfMemory));
        result.map_err(|refusal| {
            if refusal == Refusal::NotLiveParent {
                bad_pointer("allocate_child", "a parent that is not a live block");
            }
            AllocError
        })
    }

    /// Bytes the blocks can take, headers included, in every region: each region less
    /// the alignment of its start and its tables (for a [`StaticPool<N>`]: `N` less the
    /// tables, until a region is added). Takes the lock (and lays out the pool if this
    /// is its first call).
    ///
    /// ```
    /// # use linked_alloc_pool::StaticPool;
    /// let pool = StaticPool::<65536>::new();
    /// assert!(pool.capacity() <= 65536 && pool.capacity() > 60_000);
    /// ```
    ///
    /// [`StaticPool<N>`]: crate::StaticPool
    pub fn capacity(&self) -> usize {
        self.with_wait(|heaps, _| heaps.capacity())
    }

    /// Bytes in free blocks, headers included, in every region:
    /// [`capacity`](Self::capacity) when nothing is live. O(1) per region.
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_pool::StaticPool;
    /// let heap = Linked::new(StaticPool::<4096>::new());
    /// let full = heap.backend().free_bytes();
    /// let root = heap.allocate_buffer(100)?;
    /// assert!(heap.backend().free_bytes() <= full - 100);
    /// // SAFETY: `root` is a live root of `heap`.
    /// unsafe { heap.free_buffer(root) };
    /// assert_eq!(heap.backend().free_bytes(), full);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn free_bytes(&self) -> usize {
        self.with_wait(|heaps, _| heaps.free_bytes())
    }

    /// The high-water mark: the most bytes the blocks ever took at once, headers
    /// included (`capacity - free_bytes` at its highest since the pool was made, over
    /// every region). Size a firmware's heap from it after a test run. O(1) per region.
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_pool::StaticPool;
    /// let heap = Linked::new(StaticPool::<4096>::new());
    /// assert_eq!(heap.backend().peak_used(), 0);
    /// let a = heap.allocate_buffer(1000)?;
    /// let b = heap.allocate_buffer(1000)?;
    /// // SAFETY: `a` and `b` are live roots of `heap`.
    /// unsafe { heap.free_buffer(a); heap.free_buffer(b) };
    /// let small = heap.allocate_buffer(10)?;
    /// // SAFETY: `small` is a live root of `heap`.
    /// unsafe { heap.free_buffer(small) };
    /// // Both large roots at once, with their headers: still the peak.
    /// assert!(heap.backend().peak_used() >= 2000);
    /// assert_eq!(heap.backend().free_bytes(), heap.backend().capacity());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn peak_used(&self) -> usize {
        // Through `with`, so that the first call lays the pool out as the others do.
        self.with_wait(|_, _| ());
        self.read(|locked| locked.counts.peak)
    }

    /// The payload bytes of the largest free block of any region (0 if none): with
    /// [`free_bytes`](Self::free_bytes), the measure of fragmentation. A request of
    /// this size with [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) succeeds when that block
    /// is among the first 16 of its size class's list, always when it is the only
    /// block of its class in its region (as when the pool is empty). Scans the list of
    /// the top size class of each region.
    ///
    /// ```
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_pool::StaticPool;
    /// let heap = Linked::new(StaticPool::<4096>::new());
    /// let largest = heap.backend().largest_free_block();
    /// let all = heap.allocate_buffer(largest)?;
    /// assert_eq!(heap.backend().largest_free_block(), 0);
    /// // SAFETY: `all` is a live root of `heap`.
    /// unsafe { heap.free_buffer(all) };
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn largest_free_block(&self) -> usize {
        self.with_wait(|heaps, _| heaps.largest_free().saturating_sub(HEADER))
    }

    /// Walks every block of every region (O(n)) and checks the pool's invariants:
    /// blocks tile each region's heap, free blocks never touch, the free lists and
    /// counts agree, the live map marks exactly the used blocks, and every chain link
    /// (within a region or across two) names a used child that links back. Returns the
    /// number of free blocks (one per region when nothing is live: everything has
    /// coalesced), or what is broken. For tests and self-tests.
    ///
    /// ```
    /// # use linked_alloc_pool::StaticPool;
    /// let pool = StaticPool::<4096>::new();
    /// assert_eq!(pool.check_integrity(), Ok(1));
    /// ```
    ///
    /// # Errors
    /// A description of the first broken invariant found (only after undefined
    /// behaviour, such as a write past the end of a block).
    pub fn check_integrity(&self) -> Result<usize, &'static str> {
        self.with_wait(|heaps, _| heaps.check())
    }

    /// The number of regions the pool serves from: 1, and one more for each region
    /// [added](Self::add_region).
    pub fn regions(&self) -> usize {
        self.read(|locked| 1 + locked.extras.count())
    }

    /// Gives the pool one more region, `region`, which it owns from now on: later
    /// requests are served from it when the regions before it have no room. The
    /// region's first bytes take its state and tables (as for the first region, plus a
    /// few words); a region too small for them and one block is refused, and so is a
    /// region past [`MAX_REGIONS`]. Nothing is written when it is refused.
    ///
    /// Blocks never merge across regions (each has its own end), but the children of a
    /// root may lie in any region, and `free_root` frees them all.
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc_pool::StaticPool;
    ///
    /// // In firmware: each array in its own RAM bank, e.g. with
    /// // `#[unsafe(link_section = ".sram2")]`.
    /// static HEAP: Linked<StaticPool<1024>> = Linked::new(StaticPool::new());
    /// static mut SRAM2: [u8; 4096] = [0; 4096];
    ///
    /// let first = HEAP.backend().capacity();
    /// assert!(HEAP.allocate_buffer(2000).is_err()); // more than the first region has
    /// // SAFETY: SRAM2 is used by nothing else: the pool owns it from now on.
    /// HEAP.backend().add_region(unsafe { &mut *(&raw mut SRAM2) })?;
    /// assert_eq!(HEAP.backend().regions(), 2);
    /// let row = HEAP.allocate_buffer(2000)?;                  // from SRAM2
    /// // SAFETY: `row` is a live root of HEAP; nothing uses its blocks after the free.
    /// unsafe {
    ///     HEAP.allocate_more(100, row)?;                      // from the first region
    ///     HEAP.free_buffer(row);                              // both go
    /// }
    /// assert!(HEAP.backend().capacity() > first + 3000);
    /// assert_eq!(HEAP.backend().free_bytes(), HEAP.backend().capacity());
    /// assert_eq!(HEAP.backend().check_integrity(), Ok(2)); // one free block per region
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AddRegionError::TooSmall`] when the region cannot hold its state, its tables
    /// and one block; [`AddRegionError::TooMany`] when the pool has [`MAX_REGIONS`]
    /// already.
    pub fn add_region(&self, region: &'static mut [u8]) -> Result<(), AddRegionError> {
        let len = region.len();
        let start = region.as_mut_ptr();
        // SAFETY: the bytes of a `&'static mut [u8]`, which this call takes: valid for
        // reads and writes forever, used by nothing else from now on.
        unsafe { self.add_raw(start, len) }
    }

    /// [`add_region`](Self::add_region) over the memory from `start` to `end`
    /// (excluded): for a region between two linker symbols (see
    /// [`PoolRegion::from_raw_range`](crate::PoolRegion::from_raw_range) for how to
    /// take their addresses soundly), or memory that starts uninitialized.
    ///
    /// ```
    /// use linked_alloc_pool::StaticPool;
    /// use core::mem::MaybeUninit;
    ///
    /// static POOL: StaticPool<1024> = StaticPool::new();
    /// // In firmware: `unsafe extern "C" { static mut __sram2_start: u8; ... }`.
    /// static mut SRAM2: [MaybeUninit<u8>; 4096] = [MaybeUninit::uninit(); 4096];
    /// let start = (&raw mut SRAM2).cast::<u8>();
    /// // SAFETY: start..end is SRAM2, valid for reads and writes forever and used by
    /// // nothing else from now on.
    /// unsafe { POOL.add_region_raw(start, start.wrapping_add(4096)) }?;
    /// assert!(POOL.capacity() > 4000);
    /// # Ok::<(), linked_alloc_pool::AddRegionError>(())
    /// ```
    ///
    /// # Safety
    /// The bytes from `start` to `end` are valid for reads and writes while the pool
    /// lives (and its blocks are used), nothing else reads or writes them meanwhile
    /// except through the pool (the payloads of its blocks), and they are none of the
    /// pool's regions; `start` and `end` are derived from the same memory (the same
    /// allocation or the same linker-placed section).
    ///
    /// # Errors
    /// As [`add_region`](Self::add_region); also [`AddRegionError::TooSmall`] (with
    /// `len: 0`) when `end` is before `start` or `start` is null, and
    /// [`AddRegionError::Overlaps`] when the range overlaps a region of the pool (a
    /// broken precondition caught; nothing is written).
    pub unsafe fn add_region_raw(
        &self,
        start: *mut u8,
        end: *mut u8,
    ) -> Result<(), AddRegionError> {
        let Some(len) = end.addr().checked_sub(start.addr()) else {
            return Err(RegionTooSmall { len: 0 }.into());
        };
        // SAFETY: the caller's precondition is `add_raw`'s.
        unsafe { self.add_raw(start, len) }
    }

    /// Adds the region of `len` bytes at `start`.
    ///
    /// # Safety
    /// The bytes from `start` to `start + len` are valid for reads and writes while the
    /// pool lives, and nothing else reads or writes them meanwhile except through the
    /// pool (they may overlap a region of the pool: that is refused).
    unsafe fn add_raw(&self, start: *mut u8, len: usize) -> Result<(), AddRegionError> {
        let Some(start) = NonNull::new(start) else {
            return Err(RegionTooSmall { len: 0 }.into());
        };
        let (lo, hi) = (
            start.as_ptr().addr(),
            start.as_ptr().addr().saturating_add(len),
        );
        let own = self.storage.region();
        self.with_wait(|heaps, _| {
            let overlaps = |(addr, n): (usize, usize)| addr < hi && lo < addr.saturating_add(n);
            if overlaps((own.base.as_ptr().addr(), own.len)) || heaps.any_extra(overlaps) {
                return Err(AddRegionError::Overlaps);
            }
            if heaps.count() >= MAX_REGIONS {
                return Err(AddRegionError::TooMany);
            }
            // SAFETY: the bytes are valid and the pool's alone from now on (the
            // precondition), and none of another region's (just checked).
            let region = unsafe { Extra::place(start, len) }.ok_or(RegionTooSmall { len })?;
            // SAFETY: `region` was just placed by `Extra::place`, over bytes that are
            // the pool's for as long as it lives (the precondition) and in none of its
            // regions (checked above).
            let kept = unsafe { heaps.push(region) };
            debug_assert!(kept, "the count was checked above");
            Ok(())
        })
    }
}

impl<S: Storage, L: PoolLock> fmt::Debug for Pool<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = self.state.lock.try_lock(|| {
            // SAFETY: under the lock: the only access to `locked` (see `with`).
            let locked = unsafe { &*self.state.locked.get() };
            (locked.counts.stats, 1 + locked.extras.count())
        });
        let region = self.storage.region();
        f.debug_struct(S::NAME)
            .field("base", &region.base)
            .field("bytes", &region.len)
            .field("stats", &now.map(|(stats, _)| stats))
            .field("regions", &now.map(|(_, regions)| regions))
            .finish_non_exhaustive()
    }
}

// SAFETY: every block is a TLSF block of one of the pool's regions, aligned to
// `block_align` and disjoint from every other live block; the stats are exact (updated
// with every block under the lock); `free_root` walks the chain in a loop (constant
// stack); every pointer is checked exactly against the live maps of the regions before
// use, so a pointer that is not a live block changes nothing.
unsafe impl<S: Storage, L: PoolLock> LinkedAllocator for Pool<S, L> {
    #[inline]
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.allocate(layout, None)
    }

    #[inline]
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        self.allocate(layout, Some(parent))
    }

    /// Frees a live root and its chain, in whichever regions its blocks lie; refuses
    /// anything else.
    #[inline]
    unsafe fn free_root(&self, root: NonNull<u8>) {
        let freed =
            self.with_wait(
                |heaps, counts| match heaps.live_block(root.as_ptr() as usize) {
                    Some((block, BlockKind::Root)) => {
                        let (children, bytes) = heaps.free_chain(block);
                        counts.stats.roots -= 1;
                        counts.stats.children -= children;
                        counts.stats.bytes_in_use -= bytes;
                        Ok(())
                    }
                    Some((_, BlockKind::Child)) => Err("a child, not a root"),
                    None => Err("a pointer that is not a live block of this pool"),
                },
            );
        if let Err(what) = freed {
            bad_pointer("free_root", what);
        }
    }

    #[inline]
    fn stats(&self) -> Stats {
        self.read(|locked| locked.counts.stats)
    }

    /// Checks `block` against the live maps (any pointer); `root` is not needed.
    /// Shrinking always works; growing works when the block after it is free and large
    /// enough.
    unsafe fn resize_in_place(
        &self,
        _root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        let done = self.with(Wait::Policy, |heaps, counts| {
            let (b, _) = heaps.live_block(block.as_ptr() as usize).ok_or(())?;
            let old = heaps.requested(b);
            debug_assert_eq!(old, layout.size(), "resize_in_place: wrong layout");
            let resized = heaps.resize(b, new_size);
            if resized {
                counts.stats.bytes_in_use = counts.stats.bytes_in_use - old + new_size;
                counts.raise_peak(heaps);
            }
            Ok(resized)
        });
        // A busy pool under a lock that does not wait: not resized.
        let Some(done) = done else { return false };
        done.unwrap_or_else(|()| {
            bad_pointer("resize_in_place", "a pointer that is not a live block");
            false
        })
    }

    /// Checks `child` against the live maps (any pointer); `root` is not needed. O(1):
    /// the chain is doubly linked.
    unsafe fn reclaim_child(&self, _root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        let done = self.with(Wait::Policy, |heaps, counts| {
            match heaps.live_block(child.as_ptr() as usize) {
                Some((b, BlockKind::Child)) => {
                    debug_assert_eq!(
                        heaps.requested(b),
                        layout.size(),
                        "reclaim_child: wrong layout"
                    );
                    counts.stats.children -= 1;
                    counts.stats.bytes_in_use -= heaps.free_child(b);
                    true
                }
                _ => false,
            }
        });
        // A busy pool under a lock that does not wait: the child stays with its root.
        let Some(done) = done else { return false };
        if !done {
            bad_pointer("reclaim_child", "a pointer that is not a live child");
        }
        done
    }

    /// Exact for **any** pointer (not only live blocks): the pool knows the range of
    /// each region and marks the payload of every live block in its live map.
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        self.with_wait(|heaps, _| match heaps.live_block(block.as_ptr() as usize) {
            Some((_, BlockKind::Root)) => BlockStatus::Root,
            Some((_, BlockKind::Child)) => BlockStatus::Child,
            None => BlockStatus::NotLive,
        })
    }
}
