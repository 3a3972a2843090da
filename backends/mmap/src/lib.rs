//! # linked-alloc-mmap: `MmapPages`, a [`LinkedAllocator`] over anonymous pages
//!
//! Made for "allocate many children, free once" (the APR-pool model): each root owns a
//! **run** of anonymous pages, its children are carved from the run by bumping a
//! pointer, and `free_root` gives the root's runs back in one step, not one free per
//! child.
//!
//! - **Runs.** A root gets a run of [`run_size`](MmapPages::run_size) bytes (64 KiB by
//!   default, [`MmapPages::with_run_size`] to choose): a header, the root block, then
//!   its children, each carved by rounding the bump pointer up to the child's alignment
//!   and adding its size (a compare and an add). When the run is full, a new run is
//!   chained to the root. A block larger than a quarter of a run (or aligned to more
//!   than a sixteenth of it) gets a mapping of its own, chained the same way.
//! - **Zero header bytes per child.** Every mapping starts at an address aligned to the
//!   run size with a small header, and every block starts within the first run-size
//!   bytes of its mapping, so the header of any block (root or child) is found in O(1)
//!   by masking the block's address. Children carry no header; blocks are only padded
//!   to [`MIN_ALIGN`](linked_alloc::MIN_ALIGN) (or their alignment) as on every backend.
//! - **Alignment.** The rules of [`linked_alloc::align`], for roots and children, up to
//!   [`max_align`](MmapPages::max_align) = half the run size (32 KiB by default, never
//!   below 8 KiB); larger alignments are [`AllocError`].
//! - **Free.** `free_root` walks the root's chain of mappings (one per run, not one per
//!   child) and puts the runs in a bounded **cache** of free runs, up to
//!   [`cache_limit`](MmapPages::cache_limit) runs (1024 by default, 64 MiB of 64 KiB
//!   runs kept mapped at most,
//!   [`MmapPages::with_cache_limit`]); runs beyond the limit and big blocks' mappings go
//!   back to the OS, always as whole mappings. So a program that makes and frees many
//!   small roots makes no system call for them once the cache is warm.
//!   [`trim_cache`](MmapPages::trim_cache) empties the cache (dropping the allocator
//!   does too).
//! - **Threads.** A root has two bump pointers, each over runs of its own:
//!   - the **owner's lane**, for the thread that made the root: only that thread writes
//!     it, so a child costs no lock and no atomic read-modify-write (plain loads and
//!     stores, through `Relaxed` atomics so that `stats()` may read the counts from
//!     another thread). An atomic read-modify-write (a lock or a compare-and-swap)
//!     costs about 4 ns on the machine this was measured on, more than the whole
//!     owner's path (about 2 ns);
//!   - the **locked lane**, for every other thread: children are carved under a `spin`
//!     lock in the root's header, not by a compare-and-swap on the bump pointer. Both
//!     cost one atomic read-modify-write uncontended, but under the lock the root's
//!     exact counts of children and bytes are plain stores, where a lock-free bump would
//!     need two more read-modify-writes per child to keep [`stats`] exact. The lock is
//!     held for a few instructions, and once per run while a run is taken from the
//!     cache or the OS. It also guards the root's chain of mappings, so the owner takes
//!     it once per run too.
//!
//!   So several threads may add children to one root at once; the thread that made
//!   the root is the fast one. A thread is told apart by a number kept in a
//!   thread-local (const-initialised, no destructor: it never allocates).
//! - **The shared lock.** The cache and the list of live roots share one `spin` lock,
//!   taken once per `allocate_root` and once per `free_root`.
//! - **Counts.** [`stats`] is exact: each root counts its children and their bytes in
//!   its header (per lane), and `stats()` sums the live roots (O(live roots), under the
//!   shared lock). [`bytes_mapped`](MmapPages::bytes_mapped) tells how many bytes are mapped
//!   from the OS now, cache included; [`bytes_cached`](MmapPages::bytes_cached) how many
//!   of them sit in the cache.
//! - **Optional hooks.** `resize_in_place` succeeds for the last block carved from a
//!   lane's current run (the owner's lane: when called by the owner thread; the root
//!   itself is the last block of the owner's lane until its first child), and within
//!   its mapping for a big root and for the newest big child (while its mapping is the
//!   last one chained to the root: a new run or big block chained after it ends that);
//!   `reclaim_child` for the last child carved from a lane's current run, likewise.
//!   Both read the root's header through the root they are given and only compare the
//!   block's address with what it holds, so a pointer valid for the block's own bytes
//!   (a `Box`'s, under Stacked Borrows) is enough. `block_status` reads the tag of the
//!   block's mapping.
//! - **Bad pointers.** `free_root` reads the tag of the mapping header in front of the
//!   pointer and refuses a child, or a root whose run is in the cache (a debug build
//!   panics, a release build ignores the call). A pointer that is not in a live
//!   mapping of this allocator at all cannot be checked.
//!
//! Costs: each mapping is mapped with up to one run size of extra address space (to
//! align its header; the extra pages are never touched, so they take no memory), and
//! every root takes at least one run of address space and one page of memory, so a
//! program of many tiny roots without children is better served by
//! `linked-alloc-system`.
//!
//! Unix only: the pages come from `mmap` through `rustix`, in one module. Under Miri,
//! rustix uses its libc backend, whose `mmap`/`munmap` Miri runs natively.
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc_mmap::MmapPages;
//!
//! static PAGES: Linked<MmapPages> = Linked::new(MmapPages::new());
//!
//! let row = PAGES.allocate_buffer(64)?;
//! // SAFETY: `row` is a live root of PAGES; nothing uses its blocks after the free.
//! unsafe {
//!     for _ in 0..1000 {
//!         PAGES.allocate_more(64, row)?; // carved from the row's runs
//!     }
//!     PAGES.free_buffer(row); // the runs go back to the cache at once
//! }
//! assert!(PAGES.stats().is_empty());
//! assert!(PAGES.backend().bytes_cached() > 0);
//! PAGES.backend().trim_cache();
//! assert_eq!(PAGES.backend().bytes_mapped(), 0);
//! # Ok::<(), linked_alloc::AllocError>(())
//! ```
//!
//! [`stats`]: LinkedAllocator::stats

#[cfg(not(unix))]
compile_error!(
    "linked-alloc-mmap needs a Unix target: it maps anonymous pages with mmap (through rustix)"
);

mod os;
#[cfg(test)]
mod os_faults;
mod run;
mod shared;
mod thread;

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use linked_alloc::align::{block_align, round_up};
use linked_alloc::{AllocError, BlockStatus, LinkedAllocator, Stats};
use spin::mutex::SpinMutex;

use crate::os::MAP_ALIGN;
use crate::run::{
    Bump, Mapped, Mapping, OwnLane, ROOT_HEADER, RUN_HEADER, RootState, TAG_BIG, TAG_FIRST_BIG,
    TAG_FIRST_RUN, TAG_FREE, TAG_RUN,
};
use crate::shared::{MappingList, Shared};

/// Anonymous pages as a [`LinkedAllocator`]: each root owns a run of pages, its
/// children are carved from it by bumping a pointer, and `free_root` gives the runs
/// back in one step. See the [crate docs](crate).
///
/// ```
/// use core::alloc::Layout;
/// use linked_alloc::LinkedAllocator;
/// use linked_alloc_mmap::MmapPages;
///
/// let pages = MmapPages::new();
/// let root = pages.allocate_root(Layout::new::<[u64; 8]>())?;
/// // SAFETY: `root` is a live root of `pages`.
/// let child = unsafe { pages.allocate_child(root, Layout::from_size_align(100, 4096).unwrap())? };
/// assert_eq!(child.as_ptr() as usize % 4096, 0);
/// assert_eq!(pages.stats().bytes_in_use, 64 + 100);
/// // SAFETY: `root` is a live root; nothing uses its blocks afterwards.
/// unsafe { pages.free_root(root) };
/// assert!(pages.stats().is_empty());
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
pub struct MmapPages {
    /// The run size `R`: a power of two; mappings' headers are aligned to it.
    run_size: usize,
    /// At most this many free runs are kept in the cache.
    cache_limit: usize,
    /// The cache of free runs and the list of live roots.
    shared: SpinMutex<Shared>,
    /// Bytes mapped from the OS now, cache included.
    mapped: AtomicUsize,
}

impl MmapPages {
    /// The run size of [`new`](Self::new): 64 KiB.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().run_size(), MmapPages::DEFAULT_RUN_SIZE);
    /// ```
    pub const DEFAULT_RUN_SIZE: usize = 64 << 10;

    /// The smallest run size: 16 KiB.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::with_run_size(1).run_size(), MmapPages::MIN_RUN_SIZE);
    /// ```
    pub const MIN_RUN_SIZE: usize = 16 << 10;

    /// The largest run size: 1 GiB on 64-bit targets, 16 MiB on others.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::with_run_size(usize::MAX).run_size(), MmapPages::MAX_RUN_SIZE);
    /// ```
    #[cfg(target_pointer_width = "64")]
    pub const MAX_RUN_SIZE: usize = 1 << 30;
    /// The largest run size: 1 GiB on 64-bit targets, 16 MiB on others.
    #[cfg(not(target_pointer_width = "64"))]
    pub const MAX_RUN_SIZE: usize = 1 << 24;

    /// The cache limit of [`new`](Self::new): 1024 runs (64 MiB of 64 KiB runs). Large
    /// enough that a workload of a thousand live roots (a MAPI row set with a root per
    /// row) or a tree of a million 64-byte children is freed and rebuilt without a
    /// system call; [`trim_cache`](Self::trim_cache) or
    /// [`with_cache_limit`](Self::with_cache_limit) bound the memory kept.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().cache_limit(), MmapPages::DEFAULT_CACHE_LIMIT);
    /// ```
    pub const DEFAULT_CACHE_LIMIT: usize = 1024;

    /// An allocator with 64 KiB runs and a cache of up to 64 free runs, nothing live
    /// and nothing mapped. `const`, for `static`s.
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc_mmap::MmapPages;
    /// static PAGES: Linked<MmapPages> = Linked::new(MmapPages::new());
    /// assert_eq!(PAGES.backend().bytes_mapped(), 0);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self::with_run_size(Self::DEFAULT_RUN_SIZE)
    }

    /// An allocator whose runs are `bytes` long, rounded up to a power of two and kept
    /// within [`MIN_RUN_SIZE`](Self::MIN_RUN_SIZE)..=[`MAX_RUN_SIZE`](Self::MAX_RUN_SIZE).
    /// Choose it for a root and its expected children: a larger run means fewer runs
    /// per root, a smaller one less memory per small root.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::with_run_size(100_000);
    /// assert_eq!(pages.run_size(), 128 << 10);
    /// ```
    #[must_use]
    pub const fn with_run_size(bytes: usize) -> Self {
        let clamped = if bytes < Self::MIN_RUN_SIZE {
            Self::MIN_RUN_SIZE
        } else if bytes > Self::MAX_RUN_SIZE {
            Self::MAX_RUN_SIZE
        } else {
            bytes
        };
        Self {
            run_size: clamped.next_power_of_two(),
            cache_limit: Self::DEFAULT_CACHE_LIMIT,
            shared: SpinMutex::new(Shared::new()),
            mapped: AtomicUsize::new(0),
        }
    }

    /// The same allocator with a cache of at most `runs` free runs (0: every freed run
    /// goes back to the OS at once).
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::with_run_size(16 << 10).with_cache_limit(4);
    /// assert_eq!((pages.run_size(), pages.cache_limit()), (16 << 10, 4));
    /// ```
    #[must_use]
    pub const fn with_cache_limit(mut self, runs: usize) -> Self {
        self.cache_limit = runs;
        self
    }

    /// The run size, in bytes: a power of two.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert!(MmapPages::new().run_size().is_power_of_two());
    /// ```
    #[must_use]
    pub const fn run_size(&self) -> usize {
        self.run_size
    }

    /// The most free runs the cache keeps.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().with_cache_limit(0).cache_limit(), 0);
    /// ```
    #[must_use]
    pub const fn cache_limit(&self) -> usize {
        self.cache_limit
    }

    /// The largest alignment served: half the run size (at least 8 KiB, so every
    /// alignment up to a page is served, as the rules require). Larger ones are
    /// [`AllocError`].
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// assert_eq!(pages.max_align(), 32 << 10);
    /// let too_aligned = Layout::from_size_align(8, 64 << 10).unwrap();
    /// assert!(pages.allocate_root(too_aligned).is_err());
    /// ```
    #[must_use]
    pub const fn max_align(&self) -> usize {
        self.run_size / 2
    }

    /// The bytes of address space a run maps: the run plus the slack that aligns it
    /// (`2 * run_size - 4096`). Pages of the slack are never touched.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().run_mapping_len(), 2 * (64 << 10) - 4096);
    /// ```
    #[must_use]
    pub const fn run_mapping_len(&self) -> usize {
        2 * self.run_size - MAP_ALIGN
    }

    /// Bytes mapped from the OS now: the runs and big blocks' mappings of live roots,
    /// and the cache. Zero once every root is freed and the cache is trimmed.
    ///
    /// ```
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// let root = pages.allocate_root(core::alloc::Layout::new::<u8>())?;
    /// assert_eq!(pages.bytes_mapped(), pages.run_mapping_len());
    /// // SAFETY: `root` is a live root of `pages`.
    /// unsafe { pages.free_root(root) };
    /// assert_eq!(pages.bytes_mapped(), pages.bytes_cached());
    /// pages.trim_cache();
    /// assert_eq!(pages.bytes_mapped(), 0);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[must_use]
    pub fn bytes_mapped(&self) -> usize {
        self.mapped.load(Relaxed)
    }

    /// Bytes mapped from the OS that sit in the cache of free runs.
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::new().bytes_cached(), 0);
    /// ```
    #[must_use]
    pub fn bytes_cached(&self) -> usize {
        self.cached_runs() * self.run_mapping_len()
    }

    /// How many free runs sit in the cache (at most [`cache_limit`](Self::cache_limit)).
    ///
    /// ```
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// let root = pages.allocate_root(core::alloc::Layout::new::<u8>())?;
    /// // SAFETY: `root` is a live root of `pages`.
    /// unsafe { pages.free_root(root) };
    /// assert_eq!(pages.cached_runs(), 1);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[must_use]
    pub fn cached_runs(&self) -> usize {
        self.shared.lock().cache.len()
    }

    /// Gives every cached run back to the OS.
    ///
    /// ```
    /// # use linked_alloc::LinkedAllocator;
    /// # use linked_alloc_mmap::MmapPages;
    /// let pages = MmapPages::new();
    /// let root = pages.allocate_root(core::alloc::Layout::new::<u8>())?;
    /// // SAFETY: `root` is a live root of `pages`.
    /// unsafe { pages.free_root(root) };
    /// pages.trim_cache();
    /// assert_eq!((pages.cached_runs(), pages.bytes_mapped()), (0, 0));
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn trim_cache(&self) {
        let runs = core::mem::replace(&mut self.shared.lock().cache, MappingList::new());
        // SAFETY: the runs were in the cache, so they are free runs of ours that no
        // root uses, and we took them off it.
        unsafe { self.unmap_all(runs) };
    }

    /// The mask that takes a block's address to its mapping's header.
    #[inline(always)]
    const fn header_mask(&self) -> usize {
        !(self.run_size - 1)
    }

    /// Whether a block of `size` bytes aligned to `align` gets a mapping of its own.
    /// Any other block fits in a fresh run after the largest header, whatever its
    /// alignment padding: `ROOT_HEADER + R/16 + R/4 < R`.
    #[inline(always)]
    const fn is_big(&self, size: usize, align: usize) -> bool {
        size > self.run_size / 4 || align > self.run_size / 16
    }

    /// The header of the mapping that holds `block`, with `block`'s provenance.
    ///
    /// # Safety
    /// `block` is a block of this allocator (live, or the caller checks the tag before
    /// trusting anything else in the header).
    #[inline(always)]
    unsafe fn mapping_of(&self, block: NonNull<u8>) -> NonNull<Mapping> {
        let header = block.as_ptr().map_addr(|a| a & self.header_mask());
        // SAFETY: every block starts less than `R` bytes after its mapping's header,
        // which is at an `R`-aligned address inside the mapping (the precondition), so
        // the masked address is that header's: inside the same mapping, not null.
        unsafe { NonNull::new_unchecked(header) }.cast()
    }

    /// The state of the root that `block` is linked to, after checking the tag of its
    /// mapping.
    ///
    /// # Safety
    /// `block` is a live block of this allocator.
    #[inline(always)]
    unsafe fn root_of<'a>(&self, block: NonNull<u8>) -> Option<(&'a Mapping, &'a RootState)> {
        // SAFETY: `block` is a live block of ours (the precondition), so its mapping's
        // header is live and readable.
        let mapping = unsafe { self.mapping_of(block).as_ref() };
        match mapping.tag.load(Relaxed) {
            TAG_FIRST_RUN | TAG_RUN | TAG_FIRST_BIG | TAG_BIG => {
                // SAFETY: a live mapping's `root` points to its root's state, in the
                // root's first mapping, mapped while any block of the root is live.
                let state = unsafe { &*mapping.root };
                Some((mapping, state))
            }
            _ => None,
        }
    }

    /// The state of `root`, reached through `root` itself, if `root` is a live root: the
    /// tag of its mapping says a root's first mapping, and that state's block is `root`.
    /// A root as `allocate_root` returned it carries the provenance of its whole first
    /// mapping, so the state is read with that, whatever the caller's other pointers.
    ///
    /// # Safety
    /// `root` is a block of this allocator in a live mapping (the tag is checked before
    /// anything else in the header is trusted).
    #[inline(always)]
    unsafe fn live_root(&self, root: NonNull<u8>) -> Option<NonNull<RootState>> {
        // SAFETY: `root` is a block of ours in a live mapping (the precondition), so its
        // mapping's header is readable.
        let first = unsafe { self.mapping_of(root) };
        // SAFETY: as above.
        let tag = unsafe { first.as_ref() }.tag.load(Relaxed);
        let state = first.cast::<RootState>();
        // SAFETY: a first mapping's tag means that a `RootState` heads the mapping; its
        // `block` is read only then (`&&`).
        let live = matches!(tag, TAG_FIRST_RUN | TAG_FIRST_BIG)
            && unsafe { state.as_ref() }.block == root.as_ptr() as usize;
        live.then_some(state)
    }

    /// The mapping of a block of `state`'s root that has a mapping of its own, found
    /// from the block's mapping address `run` (its address masked) without reading
    /// through the block's pointer: the root's first mapping for the root block of a
    /// big root (`is_root`), or the newest mapping on the root's chain if it is a big
    /// child's and is at `run`. A big child that is not the newest mapping (another
    /// run or big block was chained since) gives `None`, as does any block of a run.
    ///
    /// # Safety
    /// `state` is a live root's state, the block at `run` one of its live blocks, and
    /// the caller holds `state.bump` (the lock of the chain).
    #[inline]
    unsafe fn own_mapping_of<'a>(
        &self,
        state: &'a RootState,
        is_root: bool,
        run: usize,
    ) -> Option<&'a Mapping> {
        if is_root {
            let big = state.first.tag.load(Relaxed) == TAG_FIRST_BIG;
            return big.then_some(&state.first);
        }
        let newest = NonNull::new(state.first.next.load(Relaxed))?;
        if newest.as_ptr() as usize != run {
            return None;
        }
        // SAFETY: a mapping on a live root's chain is live and its header written (the
        // precondition); the chain's pointers carry the provenance of their mappings, and
        // the chain does not change while the caller holds its lock.
        let mapping = unsafe { newest.as_ref() };
        (mapping.tag.load(Relaxed) == TAG_BIG).then_some(mapping)
    }

    /// Maps a fresh mapping whose header is aligned to the run size with `used` bytes
    /// (`>= ROOT_HEADER`) from the header on. For `used == R`, a standard run.
    fn map_aligned(&self, used: usize) -> Result<Mapped, AllocError> {
        let r = self.run_size;
        let used = round_up(used, MAP_ALIGN).ok_or(AllocError)?;
        // The OS aligns to MAP_ALIGN: `R - MAP_ALIGN` bytes of slack reach an R-aligned
        // header with `used` bytes after it.
        let len = used.checked_add(r - MAP_ALIGN).ok_or(AllocError)?;
        if len > isize::MAX as usize {
            return Err(AllocError);
        }
        let start = os::map(len).ok_or(AllocError)?;
        self.mapped.fetch_add(len, Relaxed);
        let addr = start.as_ptr() as usize;
        // Cannot overflow: the mapping ends past `addr + len`, in the address space.
        let skip = (addr.wrapping_add(r - 1) & !(r - 1)) - addr;
        debug_assert!(skip + used <= len);
        // SAFETY: `skip <= R - MAP_ALIGN < len` (`addr` is MAP_ALIGN-aligned), so the
        // header address is inside the fresh mapping.
        let header = unsafe { start.add(skip) };
        Ok(Mapped { header, start, len })
    }

    /// A standard run: from the cache, or from the OS.
    #[inline]
    fn take_run(&self) -> Result<Mapped, AllocError> {
        let cached = self.shared.lock().cache.pop();
        match cached {
            // SAFETY: a run from the cache is a free run of ours; we took it off.
            Some(run) => Ok(unsafe { Mapped::of(run) }),
            None => self.map_aligned(self.run_size),
        }
    }

    /// Gives every mapping of `list` back to the OS.
    ///
    /// # Safety
    /// The mappings are ours, live, used by no one, and on no other list.
    unsafe fn unmap_all(&self, mut list: MappingList) {
        while let Some(m) = list.pop() {
            // SAFETY: `m` is a header of a mapping that we own (the precondition); we
            // read where the mapping is before giving it back, and never touch it after.
            let len = unsafe {
                let mapped = Mapped::of(m);
                os::unmap(mapped.start, mapped.len);
                mapped.len
            };
            self.mapped.fetch_sub(len, Relaxed);
        }
    }

    /// Writes a root of `size` bytes at `offset` in `run`, whose children are carved
    /// after it (the root is not big), and returns its state and its block. The calling
    /// thread becomes the root's owner.
    ///
    /// # Safety
    /// `run` is a standard run owned by the caller, used by no one else.
    #[inline]
    unsafe fn start_root_in_run(
        &self,
        run: Mapped,
        offset: usize,
        size: usize,
    ) -> (NonNull<RootState>, NonNull<u8>) {
        // SAFETY: `offset + size.max(1) < R` (the root is not big), so the block lies
        // in the run, after the root's header.
        let block = unsafe { run.header.add(offset) };
        let (header, addr) = (run.header.as_ptr() as usize, block.as_ptr() as usize);
        let own = OwnLane::new(
            addr + size.max(1),
            header + self.run_size,
            run.header.as_ptr(),
        );
        // SAFETY: the run is ours (the precondition) and holds `R > ROOT_HEADER` bytes
        // after its header.
        let state = unsafe { run.write_root(TAG_FIRST_RUN, addr, size, thread::id(), own) };
        (state, block)
    }

    /// `allocate_root` of a block that gets a mapping of its own.
    #[cold]
    #[inline(never)]
    fn allocate_big_root(&self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        if align > self.max_align() {
            return Err(AllocError);
        }
        // Cannot overflow: `align <= R / 2` and the header is a few words.
        let offset = round_up(ROOT_HEADER, align).ok_or(AllocError)?;
        let used = offset.checked_add(size.max(1)).ok_or(AllocError)?;
        let mapped = self.map_aligned(used)?;
        // SAFETY: `offset < R` and `used` bytes from the header are mapped.
        let block = unsafe { mapped.header.add(offset) };
        let addr = block.as_ptr() as usize;
        // An own lane with no room: the owner's first child takes a run.
        let own = OwnLane::new(0, 0, core::ptr::null_mut());
        // SAFETY: the mapping is fresh and ours, with `used >= ROOT_HEADER` bytes after
        // the header; no child is carved from it (the lane has no room).
        let state = unsafe { mapped.write_root(TAG_FIRST_BIG, addr, size, thread::id(), own) };
        // SAFETY: `state` is fresh and written, on no list.
        unsafe { self.shared.lock().link_live(state) };
        Ok(block)
    }

    /// `allocate_child` of a block that gets a mapping of its own.
    #[cold]
    #[inline(never)]
    fn allocate_big_child(
        &self,
        state: &RootState,
        size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        if align > self.max_align() {
            return Err(AllocError);
        }
        // Cannot overflow: `align <= R / 2` and the header is a few words.
        let offset = round_up(RUN_HEADER, align).ok_or(AllocError)?;
        let used = offset.checked_add(size.max(1)).ok_or(AllocError)?;
        let mapped = self.map_aligned(used)?;
        // SAFETY: the mapping is fresh and ours; nothing refers to it yet.
        let header = unsafe { mapped.write_mapping(TAG_BIG, state) };
        // SAFETY: `offset < R` and `used` bytes from the header are mapped.
        let block = unsafe { mapped.header.add(offset) };
        let _bump = state.bump.lock();
        state.link(header);
        // Big children are counted under the lock, whichever thread made them.
        RootState::bump_count(&state.children, 1);
        RootState::bump_count(&state.child_bytes, size);
        Ok(block)
    }

    /// `allocate_child` by the owner thread when its lane's run is full: chains a new
    /// run to the root (under the lock of the chain) and carves the child from it.
    #[cold]
    #[inline(never)]
    fn own_carve_from_new_run(
        &self,
        state: &RootState,
        size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        let run = self.take_run()?;
        // SAFETY: the run is ours (fresh or off the cache); nothing refers to it.
        let header = unsafe { run.write_mapping(TAG_RUN, state) };
        {
            let _chain = state.bump.lock();
            state.link(header);
        }
        let start = run.header.as_ptr() as usize;
        let lane = &state.own;
        lane.restart(
            run.header.as_ptr(),
            start + RUN_HEADER,
            start + self.run_size,
        );
        // Fits: the block is not big, so it fits in a fresh run after its header.
        let block = lane.carve(size.max(1), align).ok_or(AllocError)?;
        RootState::bump_count(&lane.children, 1);
        RootState::bump_count(&lane.bytes, size);
        // SAFETY: `carve` returns an address inside the run, which is not null.
        Ok(unsafe { NonNull::new_unchecked(block) })
    }

    /// `allocate_child` by a thread other than the root's owner: carves under the
    /// root's lock; when the run is full (or there is none yet), chains a new run to the
    /// root, holding the lock while the run is taken (once per run).
    #[inline(never)]
    fn locked_carve(
        &self,
        state: &RootState,
        size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        let mut bump = state.bump.lock();
        loop {
            // The second turn always fits: the block is not big, the run is fresh.
            if let Some(block) = bump.carve(size.max(1), align) {
                RootState::bump_count(&state.children, 1);
                RootState::bump_count(&state.child_bytes, size);
                drop(bump);
                // SAFETY: `carve` returns an address inside the run, which is not null.
                return Ok(unsafe { NonNull::new_unchecked(block) });
            }
            let run = self.take_run()?;
            // SAFETY: the run is ours (fresh or off the cache); nothing refers to it.
            let header = unsafe { run.write_mapping(TAG_RUN, state) };
            state.link(header);
            let start = run.header.as_ptr() as usize;
            *bump = Bump {
                cur: start + RUN_HEADER,
                end: start + self.run_size,
                run: run.header.as_ptr(),
            };
        }
    }
}

// A block that is not big fits in a fresh run after the largest header, whatever its
// alignment padding (see `MmapPages::is_big`), for the smallest run size.
const _: () = assert!(
    ROOT_HEADER + MmapPages::MIN_RUN_SIZE / 16 + MmapPages::MIN_RUN_SIZE / 4
        < MmapPages::MIN_RUN_SIZE
);

impl Default for MmapPages {
    /// As [`MmapPages::new`].
    ///
    /// ```
    /// # use linked_alloc_mmap::MmapPages;
    /// assert_eq!(MmapPages::default().run_size(), MmapPages::DEFAULT_RUN_SIZE);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MmapPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmapPages")
            .field("run_size", &self.run_size)
            .field("cache_limit", &self.cache_limit)
            .field("bytes_mapped", &self.bytes_mapped())
            .finish_non_exhaustive()
    }
}

impl Drop for MmapPages {
    /// Gives the cached runs back to the OS. Live roots stay mapped (their blocks may
    /// still be in use): a root must be freed before its allocator goes.
    fn drop(&mut self) {
        self.trim_cache();
    }
}

/// A pointer that is not what the call needs is the caller's error; this reports it.
#[cold]
#[inline(never)]
#[track_caller]
fn bad_pointer(call: &str, what: &str) {
    if cfg!(debug_assertions) {
        panic!("linked-alloc-mmap: {call} was given {what}");
    }
}

// SAFETY: every block is carved from a mapping of ours at an address rounded up to
// `block_align(layout)` (checked, up to `max_align() >= 4096`), with `max(size, 1)`
// bytes that no other block uses: each of a root's two bump pointers moves only within
// runs of its own (the owner's lane, written by the owner thread alone; the locked
// lane, under the root's lock), it moves back only over the last block of its run
// (the hooks), and big blocks have mappings of their own. Sizes are checked
// (`checked_add`, `isize::MAX`). `free_root` walks the chain of mappings (one per run)
// iteratively, reading each link before giving the mapping back. Stats are counted
// per root and lane and summed over the live roots. `free_root` checks the tag of the
// mapping in front of the pointer.
unsafe impl LinkedAllocator for MmapPages {
    #[inline]
    fn allocate_root(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let (size, align) = (layout.size(), block_align(layout));
        if self.is_big(size, align) {
            return self.allocate_big_root(size, align);
        }
        // Cannot overflow: the root is not big, so `align <= R / 16`.
        let offset = (ROOT_HEADER + align - 1) & !(align - 1);
        let mut shared = self.shared.lock();
        if let Some(run) = shared.cache.pop() {
            // SAFETY: a run off the cache is a free run of ours, used by no one.
            let (state, block) = unsafe { self.start_root_in_run(Mapped::of(run), offset, size) };
            // SAFETY: `state` is fresh and written, on no list.
            unsafe { shared.link_live(state) };
            return Ok(block);
        }
        drop(shared);
        let run = self.map_aligned(self.run_size)?;
        // SAFETY: the run is fresh and ours.
        let (state, block) = unsafe { self.start_root_in_run(run, offset, size) };
        // SAFETY: `state` is fresh and written, on no list.
        unsafe { self.shared.lock().link_live(state) };
        Ok(block)
    }

    #[inline]
    unsafe fn allocate_child(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        let (size, align) = (layout.size(), block_align(layout));
        // SAFETY: the caller promises `parent` is a live block of ours.
        let Some((_, state)) = (unsafe { self.root_of(parent) }) else {
            bad_pointer("allocate_child", "a parent that is not a live block");
            return Err(AllocError);
        };
        if self.is_big(size, align) {
            return self.allocate_big_child(state, size, align);
        }
        if state.owner != thread::id() {
            return self.locked_carve(state, size, align);
        }
        // The owner thread: its own lane, no lock, no read-modify-write.
        let lane = &state.own;
        match lane.carve(size.max(1), align) {
            Some(block) => {
                RootState::bump_count(&lane.children, 1);
                RootState::bump_count(&lane.bytes, size);
                // SAFETY: `carve` returns an address inside the run, not null.
                Ok(unsafe { NonNull::new_unchecked(block) })
            }
            None => self.own_carve_from_new_run(state, size, align),
        }
    }

    unsafe fn free_root(&self, root: NonNull<u8>) {
        // SAFETY: the caller promises `root` is a live root of ours, so its mapping is
        // live.
        let Some(state) = (unsafe { self.live_root(root) }) else {
            bad_pointer(
                "free_root",
                "a pointer that is not a live root (a child, or freed)",
            );
            return;
        };
        // The state begins with the first mapping's header (`repr(C)`).
        let first = state.cast::<Mapping>();
        // Sort the root's mappings into runs for the cache and mappings to unmap,
        // retiring each tag; reads each link before relinking its mapping.
        let run_len = self.run_mapping_len();
        let (mut runs, mut others) = (MappingList::new(), MappingList::new());
        let mut current = Some(first);
        while let Some(m) = current {
            // SAFETY: every mapping on the chain is live and ours; no other thread
            // touches the chain now (the caller's precondition).
            let mr = unsafe { m.as_ref() };
            current = NonNull::new(mr.next.load(Relaxed));
            mr.tag.store(TAG_FREE, Relaxed);
            // SAFETY: `m` is ours, off the chain (its link was read), on no list.
            unsafe {
                if mr.len == run_len {
                    runs.push(m);
                } else {
                    others.push(m);
                }
            }
        }
        {
            let mut shared = self.shared.lock();
            // SAFETY: `state` is a live root's state, on the live list since it was made.
            unsafe { shared.unlink_live(state) };
            let room = self.cache_limit.saturating_sub(shared.cache.len());
            let kept = runs.take_front(room);
            shared.cache.splice(kept);
        }
        others.splice(runs);
        // SAFETY: these mappings were the root's, which no one uses any more, and they
        // are on no other list.
        unsafe { self.unmap_all(others) };
    }

    #[inline]
    fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// Reaches the root's state through `root`, and decides from `block`'s address
    /// alone (compared with the runs and mappings that the state points to): `block`'s
    /// own pointer is never read through.
    #[inline]
    unsafe fn resize_in_place(
        &self,
        root: NonNull<u8>,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        if Layout::from_size_align(new_size, layout.align()).is_err() {
            return false;
        }
        // SAFETY: the caller promises `root` is a live root of ours, as `allocate_root`
        // returned it, so its mapping is live.
        let Some(state) = (unsafe { self.live_root(root) }) else {
            return false;
        };
        // SAFETY: a live root's state stays mapped while the root is live, which the
        // caller promises for the whole call; its fields are atomics, locked or fixed.
        let state = unsafe { state.as_ref() };
        let addr = block.as_ptr() as usize;
        let (old_need, new_need) = (layout.size().max(1), new_size.max(1));
        let is_root = addr == state.block;
        let run = addr & self.header_mask();
        // The last block carved from the owner's lane, by the owner thread (the root
        // itself until its first child).
        if state.owner == thread::id() && state.own.run.load(Relaxed) as usize == run {
            let lane = &state.own;
            let last = addr + old_need == lane.cur.load(Relaxed);
            if !last || new_need > lane.end.load(Relaxed) - addr {
                return false;
            }
            lane.cur.store(addr + new_need, Relaxed);
            if is_root {
                state.size.store(new_size, Relaxed);
            } else {
                RootState::drop_count(&lane.bytes, layout.size());
                RootState::bump_count(&lane.bytes, new_size);
            }
            return true;
        }
        let mut bump = state.bump.lock();
        // SAFETY: `state` is the live root's of `block`, a live block at `run` (the
        // caller's precondition), and we hold the `bump` lock.
        if let Some(mapping) = unsafe { self.own_mapping_of(state, is_root, run) } {
            // The block is its mapping's only block: it may grow to the mapping's end.
            let room = mapping.start.as_ptr() as usize + mapping.len - addr;
            if new_need > room {
                return false;
            }
            if is_root {
                state.size.store(new_size, Relaxed);
            } else {
                RootState::drop_count(&state.child_bytes, layout.size());
                RootState::bump_count(&state.child_bytes, new_size);
            }
            return true;
        }
        // The last block carved under the lock.
        let last = bump.run as usize == run && addr + old_need == bump.cur;
        if !last || new_need > bump.end - addr {
            return false;
        }
        bump.cur = addr + new_need;
        RootState::drop_count(&state.child_bytes, layout.size());
        RootState::bump_count(&state.child_bytes, new_size);
        true
    }

    /// Reaches the root's state through `root`, and compares `child`'s address with the
    /// lanes' current runs: `child`'s own pointer is never read through.
    #[inline]
    unsafe fn reclaim_child(&self, root: NonNull<u8>, child: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller promises `root` is a live root of ours, as `allocate_root`
        // returned it, so its mapping is live.
        let Some(state) = (unsafe { self.live_root(root) }) else {
            return false;
        };
        // SAFETY: a live root's state stays mapped while the root is live, which the
        // caller promises for the whole call; its fields are atomics, locked or fixed.
        let state = unsafe { state.as_ref() };
        let addr = child.as_ptr() as usize;
        if addr == state.block {
            return false;
        }
        // Only standard runs are ever a lane's run: a big child's masked address is its
        // own mapping's header, never a lane's run, so it is refused below.
        let (run, end) = (addr & self.header_mask(), addr + layout.size().max(1));
        if state.owner == thread::id() && state.own.run.load(Relaxed) as usize == run {
            let lane = &state.own;
            if end != lane.cur.load(Relaxed) {
                return false;
            }
            lane.cur.store(addr, Relaxed);
            RootState::drop_count(&lane.children, 1);
            RootState::drop_count(&lane.bytes, layout.size());
            return true;
        }
        let mut bump = state.bump.lock();
        if bump.run as usize != run || end != bump.cur {
            return false;
        }
        bump.cur = addr;
        RootState::drop_count(&state.children, 1);
        RootState::drop_count(&state.child_bytes, layout.size());
        true
    }

    /// Reads the tag of `block`'s mapping, and compares `block` with its root's address.
    #[inline]
    unsafe fn block_status(&self, block: NonNull<u8>) -> BlockStatus {
        // SAFETY: the caller promises `block` is a live block of ours.
        match unsafe { self.root_of(block) } {
            Some((_, state)) if state.block == block.as_ptr() as usize => BlockStatus::Root,
            Some(_) => BlockStatus::Child,
            None => BlockStatus::NotLive,
        }
    }
}
