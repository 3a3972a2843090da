//! [`StaticPool<N>`]: a pool whose `N` bytes are inside the value.

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr::{NonNull, addr_of_mut};

use crate::lock::{PoolLock, SpinLock};
use crate::pool::{PoolCore, Region};

/// The bytes of a [`StaticPool`], aligned for any granule. Never read before the pool
/// wrote them, so they may start uninitialized (a `static` puts them in `.bss`).
#[repr(C, align(16))]
struct Bytes<const N: usize>(MaybeUninit<[u8; N]>);

/// A pool of `N` bytes held inside the value: no OS, no init call, `const fn new`, so
/// it can be a `static` (and the `#[global_allocator]`, through
/// [`Linked`](linked_alloc::Linked)). See the [crate docs](crate) for the design and
/// the time bounds.
///
/// The first call lays out the tables in the first bytes of the region (the live map,
/// one bit per [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) granule: `N / 128` bytes on
/// 64-bit targets, `N / 64` on 32-bit ones; and the list heads, 64 bytes per power of
/// two of `N`); [`capacity`](Self::capacity) tells what is left for blocks.
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_pool::StaticPool;
///
/// static HEAP: Linked<StaticPool<4096>> = Linked::new(StaticPool::new());
///
/// let row = HEAP.allocate_buffer(32)?;
/// // SAFETY: `row` is a live root of HEAP; nothing uses its blocks after the free.
/// unsafe {
///     HEAP.allocate_more(100, row)?;
///     HEAP.free_buffer(row);
/// }
/// assert!(HEAP.stats().is_empty());
/// assert_eq!(HEAP.backend().free_bytes(), HEAP.backend().capacity());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
///
/// Moving a pool moves its blocks with it: pointers taken before the move dangle (the
/// pool itself stays consistent, its state holds offsets only). A pool in a `static`
/// never moves; one in a `let` is moved only while nothing borrows it.
///
/// `L` is the [lock policy](crate::lock): [`SpinLock`] by default;
/// [`CriticalSectionLock`](crate::CriticalSectionLock) (feature `critical-section`) to
/// allocate from interrupt handlers; [`TryLock`](crate::TryLock) for allocations that
/// fail at once when the pool is busy.
pub struct StaticPool<const N: usize, L = SpinLock> {
    core: PoolCore<L>,
    bytes: UnsafeCell<Bytes<N>>,
}

// SAFETY: the pool's own bytes (tables, headers) are touched only under the lock of
// `core` (a `PoolLock`: closures never overlap); the payload of a block is touched only
// by whoever holds the block, which the contract of `LinkedAllocator` hands to one owner
// at a time.
unsafe impl<const N: usize, L: PoolLock> Sync for StaticPool<N, L> {}

impl<const N: usize, L: PoolLock> StaticPool<N, L> {
    /// An empty pool of `N` bytes. `const`, for `static`s: nothing to call before use.
    ///
    /// ```
    /// # use linked_alloc_pool::StaticPool;
    /// static POOL: StaticPool<1024> = StaticPool::new();
    /// assert!(POOL.capacity() > 0);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            core: PoolCore::new(),
            bytes: UnsafeCell::new(Bytes(MaybeUninit::uninit())),
        }
    }

    /// Makes an empty pool in `slot`, in place: for pools too large for the stack,
    /// such as one in a leaked `Box` (`StaticPool::new()` would be built on the stack
    /// first in a debug build).
    ///
    /// ```
    /// use linked_alloc_pool::StaticPool;
    ///
    /// let mut slot = Box::<StaticPool<{ 1 << 20 }>>::new_uninit();
    /// let pool: &StaticPool<{ 1 << 20 }> = StaticPool::new_in_place(&mut slot);
    /// assert!(pool.capacity() > 1_000_000);
    /// // For a pool that lives as long as the program: `Box::leak(Box::new_uninit())`.
    /// ```
    pub fn new_in_place(slot: &mut MaybeUninit<Self>) -> &mut Self {
        let this = slot.as_mut_ptr();
        // SAFETY: `this` points to the slot, valid for writes; `addr_of_mut!` makes no
        // reference to the uninitialized value.
        unsafe { addr_of_mut!((*this).core).write(PoolCore::new()) };
        // SAFETY: `core` is written; `bytes` is an `UnsafeCell` of `MaybeUninit` bytes,
        // valid uninitialized. So the whole value is initialized.
        unsafe { slot.assume_init_mut() }
    }

    #[inline]
    fn region(&self) -> Region {
        // SAFETY: `UnsafeCell::get` gives a pointer derived from `&self`, never null.
        let base = unsafe { NonNull::new_unchecked(self.bytes.get().cast::<u8>()) };
        // SAFETY: the `N` bytes of `self.bytes` are valid for reads and writes through
        // the `UnsafeCell` while `self` lives; they are this pool's alone (private
        // field), and they move only together with `core`.
        unsafe { Region::new(base, N) }
    }
}

// The inspection methods: the logic is in `pool.rs`, the docs here.
crate::pool::inspection_over_core! {
    impl[const N: usize, L: PoolLock] StaticPool<N, L>;
    /// Bytes the blocks can take, headers included: `N` less the tables. Takes the lock
    /// (and lays out the pool if this is its first call).
    ///
    /// ```
    /// # use linked_alloc_pool::StaticPool;
    /// let pool = StaticPool::<65536>::new();
    /// assert!(pool.capacity() <= 65536 && pool.capacity() > 60_000);
    /// ```
    capacity;

    /// Bytes in free blocks, headers included: [`capacity`](Self::capacity) when
    /// nothing is live. O(1).
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
    free_bytes;

    /// The high-water mark: the most bytes the blocks ever took at once, headers
    /// included (`capacity - free_bytes` at its highest since the pool was made). Size a
    /// firmware's heap from it after a test run. O(1).
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
    peak_used;

    /// The payload bytes of the largest free block (0 if none): with
    /// [`free_bytes`](Self::free_bytes), the measure of fragmentation. A request of
    /// this size with [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) succeeds when that block
    /// is among the first 16 of its size class's list, always when it is the only
    /// block of its class (as when the pool is empty). Scans the list of the top size
    /// class.
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
    largest_free_block;

    /// Walks every block (O(n)) and checks the pool's invariants: blocks tile the
    /// heap, free blocks never touch, the free lists and counts agree, the live map
    /// marks exactly the used blocks. Returns the number of free blocks (1 when the pool
    /// is empty: everything has coalesced), or what is broken. For tests and self-tests.
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
    check_integrity;
}

impl<const N: usize, L: PoolLock> Default for StaticPool<N, L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, L: PoolLock> fmt::Debug for StaticPool<N, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPool")
            .field("bytes", &N)
            .field("stats", &self.core.try_stats())
            .finish_non_exhaustive()
    }
}

// The `LinkedAllocator` impl: every call goes to `PoolCore` over `region()`.
crate::pool::linked_allocator_over_core!(impl[const N: usize, L: PoolLock] StaticPool<N, L>);
