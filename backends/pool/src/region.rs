//! [`PoolRegion`]: a pool over a region of memory handed in by the user.

use core::fmt;
use core::ptr::NonNull;

use crate::lock::{PoolLock, SpinLock};
use crate::pool::Pool;
use crate::storage::External;

/// A pool over a `&'static mut [u8]` that the user hands in: a linker-placed RAM
/// section, a second RAM bank, a leaked buffer. A [`Pool`] over [`External`] storage:
/// the same code as [`StaticPool`](crate::StaticPool), the same bounds, the same checks,
/// the same methods (`capacity`, `free_bytes`, `peak_used`, `largest_free_block`,
/// `check_integrity`, [`add_region`](Pool::add_region)). The region may have any
/// address and length: the pool aligns its start and lays its tables in its first
/// bytes. `const fn new`, so it can be a `static`:
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_pool::PoolRegion;
///
/// // In firmware: `#[unsafe(link_section = ".ram2")]` on this array.
/// static mut RAM2: [u8; 8192] = [0; 8192];
/// // SAFETY: RAM2 is used by nothing else: the pool owns it from now on.
/// static HEAP: Linked<PoolRegion> = Linked::new(PoolRegion::new(unsafe { &mut *(&raw mut RAM2) }));
///
/// let row = HEAP.allocate_buffer(64)?;
/// // SAFETY: `row` is a live root of HEAP.
/// unsafe { HEAP.free_buffer(row) };
/// assert!(HEAP.stats().is_empty());
/// assert_eq!(HEAP.backend().check_integrity(), Ok(1));
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
///
/// `L` is the [lock policy](crate::lock), [`SpinLock`] by default, as for
/// [`StaticPool`](crate::StaticPool).
pub type PoolRegion<L = SpinLock> = Pool<External, L>;

impl Pool<External, SpinLock> {
    /// A pool over `region`, with the default [`SpinLock`], which it owns from now on.
    /// Nothing is written before the first call. For another lock policy:
    /// [`with_lock`](PoolRegion::with_lock).
    ///
    /// ```
    /// # use linked_alloc_pool::PoolRegion;
    /// static mut BYTES: [u8; 10_000] = [0; 10_000];
    /// // SAFETY: BYTES is used by nothing else: the pool owns it from now on.
    /// let pool = PoolRegion::new(unsafe { &mut *(&raw mut BYTES) });
    /// assert!(pool.capacity() > 9_000);
    /// ```
    #[must_use]
    pub const fn new(region: &'static mut [u8]) -> Self {
        Self::with_lock(region)
    }
}

impl<L: PoolLock> Pool<External, L> {
    /// A pool over `region` with the lock policy `L` (see [`lock`](crate::lock)), which
    /// it owns from now on. Nothing is written before the first call.
    ///
    /// ```
    /// use linked_alloc_pool::{PoolRegion, TryLock};
    /// static mut BYTES: [u8; 4096] = [0; 4096];
    /// // SAFETY: BYTES is used by nothing else: the pool owns it from now on.
    /// let pool = PoolRegion::<TryLock>::with_lock(unsafe { &mut *(&raw mut BYTES) });
    /// assert!(pool.capacity() > 3_000);
    /// ```
    #[must_use]
    pub const fn with_lock(region: &'static mut [u8]) -> Self {
        let len = region.len();
        let base = match NonNull::new(region.as_mut_ptr()) {
            Some(base) => base,
            None => NonNull::dangling(),
        };
        // SAFETY: the bytes of a `&'static mut [u8]`, which this call takes: valid for
        // reads and writes forever, used by nothing else from now on.
        Self::from_storage(unsafe { External::new(base, len) })
    }

    /// A pool over `region`, or [`RegionTooSmall`] if it cannot hold the pool's tables
    /// and one block (with [`new`](PoolRegion::new) every request would then fail).
    ///
    /// ```
    /// use linked_alloc_pool::{PoolRegion, RegionTooSmall, SpinLock};
    /// static mut TINY: [u8; 32] = [0; 32];
    /// static mut ENOUGH: [u8; 1024] = [0; 1024];
    /// // SAFETY: TINY and ENOUGH are used by nothing else: the pools own them.
    /// let tiny = PoolRegion::<SpinLock>::try_new(unsafe { &mut *(&raw mut TINY) });
    /// assert_eq!(tiny.err(), Some(RegionTooSmall { len: 32 }));
    /// // SAFETY: as above.
    /// let pool = PoolRegion::<SpinLock>::try_new(unsafe { &mut *(&raw mut ENOUGH) })?;
    /// assert!(pool.capacity() > 0);
    /// # Ok::<(), RegionTooSmall>(())
    /// ```
    ///
    /// # Errors
    /// [`RegionTooSmall`] when the region cannot hold the tables and one block.
    pub fn try_new(region: &'static mut [u8]) -> Result<Self, RegionTooSmall> {
        let base = region.as_mut_ptr();
        let len = region.len();
        let pool = Self::with_lock(region);
        match NonNull::new(base) {
            Some(base) => check_fits(base, len).map(|()| pool),
            None => Err(RegionTooSmall { len }),
        }
    }

    /// A pool over the memory from `start` to `end` (excluded): the sound way to build
    /// a pool between two linker symbols, or over any memory known only by address.
    ///
    /// Build the pointers with `&raw mut` (or `addr_of_mut!`) on the symbols, declared
    /// as `static mut` in an `unsafe extern "C"` block: no reference to them is ever
    /// made. (embedded-alloc's earlier documented init, `HEAP.init(HEAP_MEM.as_ptr() as
    /// usize, SIZE)` over a `static mut` array, was undefined behaviour: `as_ptr` on the
    /// `static mut` makes a shared reference to it, and the allocator then writes
    /// through a pointer derived from that shared reference; and the `usize` address
    /// carried no provenance. Here the pointers keep the provenance of `&raw mut`, no
    /// `&`/`&mut` to the memory is made, and the pool writes only through them.)
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc_pool::{PoolRegion, SpinLock};
    ///
    /// // In firmware, the symbols come from the linker script:
    /// // unsafe extern "C" { static mut __sheap: u8; static mut __eheap: u8; }
    /// // Here an array stands in for that memory.
    /// static mut RAM: [u8; 4096] = [0; 4096];
    /// let start = (&raw mut RAM).cast::<u8>();
    /// let end = start.wrapping_add(4096);
    /// // SAFETY: start..end is RAM, valid for reads and writes forever and used by
    /// // nothing else from now on.
    /// let pool = unsafe { PoolRegion::<SpinLock>::from_raw_range(start, end) }?;
    /// let heap = Linked::new(pool);
    /// let root = heap.allocate_buffer(100).unwrap();
    /// // SAFETY: `root` is a live root of `heap`.
    /// unsafe { heap.free_buffer(root) };
    /// # Ok::<(), linked_alloc_pool::RegionTooSmall>(())
    /// ```
    ///
    /// # Safety
    /// The bytes from `start` to `end` are valid for reads and writes while the pool
    /// lives (and its blocks are used), and nothing else reads or writes them meanwhile
    /// except through the pool (the payloads of its blocks); `start` and `end` are
    /// derived from the same memory (the same allocation or the same linker-placed
    /// section).
    ///
    /// # Errors
    /// [`RegionTooSmall`] when `end` is before `start` (with `len: 0`), or when the
    /// range cannot hold the tables and one block.
    pub unsafe fn from_raw_range(start: *mut u8, end: *mut u8) -> Result<Self, RegionTooSmall> {
        let Some(len) = end.addr().checked_sub(start.addr()) else {
            return Err(RegionTooSmall { len: 0 });
        };
        let Some(base) = NonNull::new(start) else {
            return Err(RegionTooSmall { len: 0 });
        };
        // SAFETY: the caller's precondition: valid for reads and writes while the pool
        // lives, used by nothing else meanwhile.
        let storage = unsafe { External::new(base, len) };
        check_fits(base, len)?;
        Ok(Self::from_storage(storage))
    }
}

/// `Ok` if a region of `len` bytes at `base` holds the tables and one block.
fn check_fits(base: NonNull<u8>, len: usize) -> Result<(), RegionTooSmall> {
    if crate::tlsf::Tlsf::fits(base.as_ptr().addr(), len) {
        Ok(())
    } else {
        Err(RegionTooSmall { len })
    }
}

/// A region too small for a pool's tables and one block, refused by
/// [`PoolRegion::try_new`] or [`PoolRegion::from_raw_range`] (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionTooSmall {
    /// The length of the region refused, in bytes (0 for a range that ends before it
    /// starts).
    pub len: usize,
}

impl fmt::Display for RegionTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a region of {} bytes is too small for the pool's tables and one block",
            self.len
        )
    }
}

impl core::error::Error for RegionTooSmall {}

/// Why [`add_region`](Pool::add_region) or [`add_region_raw`](Pool::add_region_raw)
/// refused a region (nothing was written, the pool is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddRegionError {
    /// The region cannot hold its state, its tables and one block.
    TooSmall(RegionTooSmall),
    /// The pool has [`MAX_REGIONS`](crate::MAX_REGIONS) regions already.
    TooMany,
    /// The range overlaps a region of the pool (only `add_region_raw` can be given one;
    /// its precondition forbids it).
    Overlaps,
}

impl From<RegionTooSmall> for AddRegionError {
    fn from(e: RegionTooSmall) -> Self {
        Self::TooSmall(e)
    }
}

impl fmt::Display for AddRegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSmall(e) => e.fmt(f),
            Self::TooMany => write!(f, "the pool has {} regions already", crate::MAX_REGIONS),
            Self::Overlaps => f.write_str("the range overlaps a region of the pool"),
        }
    }
}

impl core::error::Error for AddRegionError {}
