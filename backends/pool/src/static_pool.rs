//! [`StaticPool<N>`]: a pool whose `N` bytes are inside the value.

use core::mem::MaybeUninit;

use crate::lock::{PoolLock, SpinLock};
use crate::pool::Pool;
use crate::storage::Inline;

/// A pool of `N` bytes held inside the value: no OS, no init call, `const fn new`, so
/// it can be a `static` (and the `#[global_allocator]`, through
/// [`Linked`](linked_alloc::Linked)). A [`Pool`] over [`Inline<N>`] storage: every
/// method is [`Pool`]'s (`capacity`, `free_bytes`, `peak_used`, `largest_free_block`,
/// `check_integrity`, [`add_region`](Pool::add_region)). See the [crate docs](crate) for
/// the design and the time bounds.
///
/// The first call lays out the tables in the first bytes of the region (the live map,
/// one bit per [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) granule: `N / 128` bytes on
/// 64-bit targets, `N / 64` on 32-bit ones; and the list heads, 64 bytes per power of
/// two of `N`); [`capacity`](Pool::capacity) tells what is left for blocks.
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
/// pool itself stays consistent, its state holds offsets only; blocks of regions
/// [added](Pool::add_region) do not move). A pool in a `static` never moves; one in a
/// `let` is moved only while nothing borrows it.
///
/// `L` is the [lock policy](crate::lock): [`SpinLock`] by default;
/// [`CriticalSectionLock`](crate::CriticalSectionLock) (feature `critical-section`) to
/// allocate from interrupt handlers; [`TryLock`](crate::TryLock) for allocations that
/// fail at once when the pool is busy.
pub type StaticPool<const N: usize, L = SpinLock> = Pool<Inline<N>, L>;

impl<const N: usize, L: PoolLock> Pool<Inline<N>, L> {
    /// An empty pool of `N` bytes. `const`, for `static`s: nothing to call before use.
    ///
    /// ```
    /// # use linked_alloc_pool::StaticPool;
    /// static POOL: StaticPool<1024> = StaticPool::new();
    /// assert!(POOL.capacity() > 0);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self::from_storage(Inline::new())
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
        // SAFETY: `as_mut_ptr` points to the slot, valid for writes.
        unsafe { Self::init_state(slot.as_mut_ptr()) };
        // SAFETY: the state is written; the storage is an `UnsafeCell` of
        // `MaybeUninit` bytes, valid uninitialized. So the whole value is initialized.
        unsafe { slot.assume_init_mut() }
    }
}

impl<const N: usize, L: PoolLock> Default for Pool<Inline<N>, L> {
    fn default() -> Self {
        Self::new()
    }
}
