//! What lies at the start of every mapping: the [`Mapping`] header, and in a root's
//! first mapping the [`RootState`] that holds the root's bump pointer, its chain of
//! mappings and its counts.
//!
//! Every mapping's header sits at an address aligned to the run size `R`, and every
//! block starts less than `R` bytes after the header of its mapping, so the header of
//! any block is found by masking the block's address: `addr & !(R - 1)`.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed};

use linked_alloc::MIN_ALIGN;
use linked_alloc::align::round_up;
use spin::mutex::SpinMutex;

/// Tag of a root's first mapping when it is a standard run: a [`RootState`] heads it,
/// the root block follows, and children are bumped after the root.
pub(crate) const TAG_FIRST_RUN: usize = 0x4c41_4d31;
/// Tag of a root's first mapping when the root has a mapping of its own (a big root): a
/// [`RootState`] heads it and the root block is its only block.
pub(crate) const TAG_FIRST_BIG: usize = 0x4c41_4d32;
/// Tag of a further run of a root: a [`Mapping`] heads it, children are bumped after.
pub(crate) const TAG_RUN: usize = 0x4c41_4d33;
/// Tag of a big child's own mapping: a [`Mapping`] heads it, the child is its only block.
pub(crate) const TAG_BIG: usize = 0x4c41_4d34;
/// Tag of a run in the cache of free runs, or of a mapping on its way back to the OS.
pub(crate) const TAG_FREE: usize = 0x4c41_4d30;

/// The header at the start (the `R`-aligned address) of every mapping.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Mapping {
    /// One of the `TAG_*` constants: what this mapping is now.
    pub(crate) tag: AtomicUsize,
    /// The root that owns this mapping (a live mapping only).
    pub(crate) root: *const RootState,
    /// The next mapping on the root's chain, or on the cache's list (null at the end).
    pub(crate) next: AtomicPtr<Mapping>,
    /// What the OS returned: the mapping to give back, whole.
    pub(crate) start: NonNull<u8>,
    /// The length given to the OS.
    pub(crate) len: usize,
}

/// Where a root bumps its children: `[cur, end)` of the run at `run` (null before the
/// root has a run for children; then `cur == end == 0`).
#[derive(Debug)]
pub(crate) struct Bump {
    /// The next free address.
    pub(crate) cur: usize,
    /// The end of the run.
    pub(crate) end: usize,
    /// The run's header: the provenance that every block carved from it carries.
    pub(crate) run: *mut u8,
}

impl Bump {
    /// A bump with no room, that any request sends to the slow path.
    pub(crate) const EMPTY: Bump = Bump {
        cur: 0,
        end: 0,
        run: ptr::null_mut(),
    };

    /// Carves `need` bytes (`need > 0`) aligned to `align` (a power of two) from the run,
    /// or `None` if they do not fit. A compare and an add: the fast path of every child.
    #[inline(always)]
    pub(crate) fn carve(&mut self, need: usize, align: usize) -> Option<*mut u8> {
        let start = self.cur.checked_add(align - 1)? & !(align - 1);
        let new_cur = start.checked_add(need)?;
        if new_cur > self.end {
            return None;
        }
        self.cur = new_cur;
        Some(self.run.with_addr(start))
    }
}

/// The bump pointer of the thread that made a root, and its counts: written by that
/// thread only (so no lock and no read-modify-write), read by `stats()` and by
/// `free_root` (which the contract orders after every allocation under the root).
///
/// Atomics with `Relaxed` loads and stores: the same instructions as plain fields, and
/// no data race when `stats()` reads them from another thread.
#[derive(Debug)]
pub(crate) struct OwnLane {
    /// The next free address.
    pub(crate) cur: AtomicUsize,
    /// The end of the run.
    pub(crate) end: AtomicUsize,
    /// The run's header: the provenance that every block carved from it carries.
    pub(crate) run: AtomicPtr<u8>,
    /// Live children carved from this lane.
    pub(crate) children: AtomicUsize,
    /// Their bytes, as requested.
    pub(crate) bytes: AtomicUsize,
}

impl OwnLane {
    /// A lane over `[cur, end)` of the run at `run`.
    pub(crate) const fn new(cur: usize, end: usize, run: *mut u8) -> Self {
        Self {
            cur: AtomicUsize::new(cur),
            end: AtomicUsize::new(end),
            run: AtomicPtr::new(run),
            children: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// As [`Bump::carve`], for the owner thread only.
    #[inline(always)]
    pub(crate) fn carve(&self, need: usize, align: usize) -> Option<*mut u8> {
        let cur = self.cur.load(Relaxed);
        let start = cur.checked_add(align - 1)? & !(align - 1);
        let new_cur = start.checked_add(need)?;
        if new_cur > self.end.load(Relaxed) {
            return None;
        }
        self.cur.store(new_cur, Relaxed);
        Some(self.run.load(Relaxed).with_addr(start))
    }

    /// Moves the lane to a fresh run whose header is at `run`.
    #[inline]
    pub(crate) fn restart(&self, run: *mut u8, first_free: usize, end: usize) {
        self.run.store(run, Relaxed);
        self.cur.store(first_free, Relaxed);
        self.end.store(end, Relaxed);
    }
}

/// The state of a root, in the header of its first mapping (after its [`Mapping`]).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct RootState {
    /// The first mapping's header; `first.root` points back here, and `first.next`
    /// starts the chain of the root's other mappings.
    pub(crate) first: Mapping,
    /// The thread that made the root ([`crate::thread::id`]): the only one that uses
    /// `own`.
    pub(crate) owner: usize,
    /// The owner thread's bump pointer and counts (no lock).
    pub(crate) own: OwnLane,
    /// The bump pointer of the other threads, and the lock of the chain (`first.next`).
    pub(crate) bump: SpinMutex<Bump>,
    /// Live children carved under the `bump` lock, and big children (written under it).
    pub(crate) children: AtomicUsize,
    /// Bytes of those children, as requested (written under the `bump` lock).
    pub(crate) child_bytes: AtomicUsize,
    /// The root block's size, as requested (changes only by `resize_in_place`).
    pub(crate) size: AtomicUsize,
    /// The root block's address.
    pub(crate) block: usize,
    /// The previous root on the allocator's list of live roots (written under its lock).
    pub(crate) live_prev: AtomicPtr<RootState>,
    /// The next root on the allocator's list of live roots (written under its lock).
    pub(crate) live_next: AtomicPtr<RootState>,
}

/// The bytes from a further run's header to its first block: the header, padded to
/// [`MIN_ALIGN`].
pub(crate) const RUN_HEADER: usize = padded(size_of::<Mapping>());

/// The bytes from a first mapping's header to where its root block may start: the
/// [`RootState`], padded to [`MIN_ALIGN`].
pub(crate) const ROOT_HEADER: usize = padded(size_of::<RootState>());

const fn padded(bytes: usize) -> usize {
    match round_up(bytes, MIN_ALIGN) {
        Some(b) => b,
        None => panic!("a header is a few words"),
    }
}

/// A fresh mapping: its `R`-aligned header address (with the mapping's provenance), and
/// what to give back to the OS.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapped {
    /// The `R`-aligned address inside the mapping where the header goes.
    pub(crate) header: NonNull<u8>,
    /// What the OS returned.
    pub(crate) start: NonNull<u8>,
    /// The length given to the OS.
    pub(crate) len: usize,
}

impl Mapped {
    /// The mapping a header describes (for a run taken from the cache).
    ///
    /// # Safety
    /// `header` is a [`Mapping`] header written by this crate and owned by the caller.
    #[inline]
    pub(crate) unsafe fn of(header: NonNull<Mapping>) -> Self {
        // SAFETY: the caller owns a written header, so reading it is fine.
        let m = unsafe { header.as_ref() };
        Mapped {
            header: header.cast(),
            start: m.start,
            len: m.len,
        }
    }

    /// Writes a [`Mapping`] header of `tag`, owned by `root`, and returns it.
    ///
    /// # Safety
    /// The mapping is live and owned by the caller, nothing else uses its header bytes,
    /// and no reference to them is alive.
    #[inline]
    pub(crate) unsafe fn write_mapping(
        self,
        tag: usize,
        root: *const RootState,
    ) -> NonNull<Mapping> {
        let header = self.header.cast::<Mapping>();
        // SAFETY: the header address is `R`-aligned (so aligned for `Mapping`) inside
        // a live mapping of at least `R` bytes that the caller owns.
        unsafe {
            header.write(Mapping {
                tag: AtomicUsize::new(tag),
                root,
                next: AtomicPtr::new(ptr::null_mut()),
                start: self.start,
                len: self.len,
            });
        }
        header
    }

    /// Writes a [`RootState`] for a root block at `block` (`block_size` bytes as
    /// requested), made by thread `owner`, whose children bump in `own`, and returns it.
    ///
    /// # Safety
    /// As [`write_mapping`](Self::write_mapping); the mapping holds at least
    /// [`ROOT_HEADER`] bytes after the header address.
    #[inline]
    pub(crate) unsafe fn write_root(
        self,
        tag: usize,
        block: usize,
        block_size: usize,
        owner: usize,
        own: OwnLane,
    ) -> NonNull<RootState> {
        let state = self.header.cast::<RootState>();
        // SAFETY: the header address is `R`-aligned, `R >= ROOT_HEADER` bytes follow it
        // in a live mapping that the caller owns, and nothing else refers to them.
        unsafe {
            state.write(RootState {
                first: Mapping {
                    tag: AtomicUsize::new(tag),
                    root: state.as_ptr(),
                    next: AtomicPtr::new(ptr::null_mut()),
                    start: self.start,
                    len: self.len,
                },
                owner,
                own,
                bump: SpinMutex::new(Bump::EMPTY),
                children: AtomicUsize::new(0),
                child_bytes: AtomicUsize::new(0),
                size: AtomicUsize::new(block_size),
                block,
                live_prev: AtomicPtr::new(ptr::null_mut()),
                live_next: AtomicPtr::new(ptr::null_mut()),
            });
        }
        state
    }
}

impl RootState {
    /// Links `mapping` (fresh, owned by this root) onto the root's chain.
    ///
    /// Call with the `bump` lock held (the chain is written only under it).
    #[inline]
    pub(crate) fn link(&self, mapping: NonNull<Mapping>) {
        let old = self.first.next.load(Relaxed);
        // SAFETY: `mapping` is a fresh header that only this thread knows so far.
        unsafe { mapping.as_ref() }.next.store(old, Relaxed);
        self.first.next.store(mapping.as_ptr(), Relaxed);
    }

    /// Adds `delta` to a counter written only under the `bump` lock: a load and a store,
    /// no read-modify-write instruction.
    #[inline(always)]
    pub(crate) fn bump_count(counter: &AtomicUsize, delta: usize) {
        counter.store(counter.load(Relaxed).wrapping_add(delta), Relaxed);
    }

    /// Subtracts `delta` from a counter written only under the `bump` lock.
    #[inline(always)]
    pub(crate) fn drop_count(counter: &AtomicUsize, delta: usize) {
        counter.store(counter.load(Relaxed).wrapping_sub(delta), Relaxed);
    }
}
