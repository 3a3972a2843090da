//! What every pool shares, whatever holds its bytes: the lock, the TLSF state, the
//! live counts, and the [`LinkedAllocator`] logic (checks, chains, stats).
//!
//! [`LinkedAllocator`]: linked_alloc::LinkedAllocator

use core::alloc::Layout;
use core::ptr::NonNull;

use core::cell::UnsafeCell;
use linked_alloc::align::block_align;
use linked_alloc::{AllocError, BlockStatus, Stats};

use crate::lock::PoolLock;

use crate::tlsf::{BlockKind, HEADER, Heap, LiveBlock, Tlsf};

/// The bytes a pool manages: `len` bytes at `base`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    len: usize,
}

impl Region {
    /// # Safety
    /// `base` is valid for reads and writes of `len` bytes for as long as the pool
    /// that passes this region lives; the bytes belong to that pool alone (apart from
    /// the payloads of its live blocks), and they are the bytes of every earlier call
    /// with the same [`PoolCore`] (the same place, or moved together with it).
    #[inline]
    pub(crate) const unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        Self { base, len }
    }
}

/// What the lock guards: the TLSF state and the live counts (plain integers: updated
/// under the lock anyway, so no atomic read-modify-write on the hot path).
#[derive(Debug)]
struct Locked {
    tlsf: Tlsf,
    stats: Stats,
    /// The most bytes the blocks ever took at once, headers included (the high-water
    /// mark of `capacity - free_bytes`).
    peak: usize,
}

/// The lock, the TLSF state and the live counts of one pool.
#[derive(Debug)]
pub(crate) struct PoolCore<L> {
    lock: L,
    locked: UnsafeCell<Locked>,
}

// SAFETY: `locked` is touched only inside the closures given to `lock` (see `with`),
// which the `PoolLock` contract keeps from overlapping, on any thread.
unsafe impl<L: PoolLock> Sync for PoolCore<L> {}

/// How a locked call goes when the lock is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// As the lock's policy says ([`PoolLock::lock`]): a call that can fail.
    Policy,
    /// Always wait ([`PoolLock::wait`]): a call that cannot fail.
    Always,
}

/// Why `PoolCore::allocate` refused a block.
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

impl<L: PoolLock> PoolCore<L> {
    pub(crate) const fn new() -> Self {
        Self {
            lock: L::UNLOCKED,
            locked: UnsafeCell::new(Locked {
                tlsf: Tlsf::new(),
                stats: Stats {
                    roots: 0,
                    children: 0,
                    bytes_in_use: 0,
                },
                peak: 0,
            }),
        }
    }

    /// Locks the state and binds it to `region`; `f` works on the heap and the counts.
    /// `None` only for [`Wait::Policy`] with a lock that found the pool busy.
    #[inline]
    fn with<R>(
        &self,
        region: Region,
        wait: Wait,
        f: impl FnOnce(&mut Heap<'_>, &mut Stats) -> R,
    ) -> Option<R> {
        let locked = || {
            // SAFETY: this closure runs under the lock, which (`PoolLock`'s contract)
            // no other closure of this pool holds at the same time: the only access to
            // `locked` now.
            let Locked { tlsf, stats, peak } = unsafe { &mut *self.locked.get() };
            // SAFETY: `region` was made by `Region::new`, whose precondition is that of
            // `Tlsf::view` (valid bytes of this pool alone, the same on every call);
            // the lock makes this view the only one.
            let mut heap = unsafe { tlsf.view(region.base, region.len) };
            let r = f(&mut heap, stats);
            // Only allocations and growth raise it; two loads and a compare otherwise.
            *peak = (*peak).max(heap.capacity() - heap.free_bytes());
            r
        };
        match wait {
            Wait::Policy => self.lock.lock(locked),
            Wait::Always => Some(self.lock.wait(locked)),
        }
    }

    /// [`with`](Self::with) for a call that cannot fail: waits for the lock.
    #[inline]
    fn with_wait<R>(&self, region: Region, f: impl FnOnce(&mut Heap<'_>, &mut Stats) -> R) -> R {
        match self.with(region, Wait::Always, f) {
            Some(r) => r,
            None => unreachable!("Wait::Always gives Some"),
        }
    }

    /// The pointer to the payload at offset `off` of `heap` (a view that exists only
    /// while the lock is held: see [`with`](Self::with)).
    ///
    /// # Safety
    /// `off` is the payload offset of a block of `heap`: inside the heap or, for a
    /// zero-size block at its very end, one past it.
    #[inline]
    unsafe fn pointer(heap: &Heap<'_>, off: usize) -> NonNull<u8> {
        // SAFETY: `off` is the payload offset of a block (the precondition), inside (or
        // one past) the heap, which lies in the region.
        unsafe { heap.mem().add(off) }
    }

    /// Allocates a root (no `parent`) or a child linked to `parent`'s root.
    #[inline]
    pub(crate) fn allocate(
        &self,
        region: Region,
        layout: Layout,
        parent: Option<NonNull<u8>>,
    ) -> Result<NonNull<u8>, AllocError> {
        let align = block_align(layout);
        let result = self.with(region, Wait::Policy, |heap, stats| {
            let after = match parent {
                None => None,
                Some(p) => match heap.live_block(p.as_ptr() as usize) {
                    Some(LiveBlock { header, .. }) => Some(header),
                    None => return Err(Refusal::NotLiveParent),
                },
            };
            let kind = match after {
                None => BlockKind::Root,
                Some(_) => BlockKind::Child,
            };
            let off = heap
                .allocate(layout.size(), align, kind)
                .ok_or(Refusal::OutOfMemory)?;
            match after {
                Some(after) => {
                    heap.link_after(after, off - HEADER);
                    stats.children += 1;
                }
                None => stats.roots += 1,
            }
            stats.bytes_in_use += layout.size();
            // SAFETY: `heap.allocate` returned `off`, the payload offset of a block.
            Ok(unsafe { Self::pointer(heap, off) })
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

    /// Frees a live root and its chain; refuses anything else.
    #[inline]
    pub(crate) fn free_root(&self, region: Region, root: NonNull<u8>) {
        let freed = self.with_wait(region, |heap, stats| {
            match heap.live_block(root.as_ptr() as usize) {
                Some(LiveBlock {
                    header,
                    kind: BlockKind::Root,
                }) => {
                    let (children, bytes) = heap.free_chain(header);
                    stats.roots -= 1;
                    stats.children -= children;
                    stats.bytes_in_use -= bytes;
                    Ok(())
                }
                Some(LiveBlock {
                    kind: BlockKind::Child,
                    ..
                }) => Err("a child, not a root"),
                None => Err("a pointer that is not a live block of this pool"),
            }
        });
        if let Err(what) = freed {
            bad_pointer("free_root", what);
        }
    }

    /// Resizes a live block in place if it can (see `Heap::resize`).
    pub(crate) fn resize_in_place(
        &self,
        region: Region,
        block: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        let done = self.with(region, Wait::Policy, |heap, stats| {
            let b = heap.live_block(block.as_ptr() as usize).ok_or(())?.header;
            let old = heap.requested(b);
            debug_assert_eq!(old, layout.size(), "resize_in_place: wrong layout");
            let resized = heap.resize(b, new_size);
            if resized {
                stats.bytes_in_use = stats.bytes_in_use - old + new_size;
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

    /// Frees a live child before its root: O(1), the chain is doubly linked.
    pub(crate) fn reclaim_child(&self, region: Region, child: NonNull<u8>, layout: Layout) -> bool {
        let done = self.with(region, Wait::Policy, |heap, stats| {
            match heap.live_block(child.as_ptr() as usize) {
                Some(LiveBlock {
                    header: b,
                    kind: BlockKind::Child,
                }) => {
                    debug_assert_eq!(
                        heap.requested(b),
                        layout.size(),
                        "reclaim_child: wrong layout"
                    );
                    stats.children -= 1;
                    stats.bytes_in_use -= heap.free_child(b);
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

    /// What `block` is: exact for any pointer.
    pub(crate) fn block_status(&self, region: Region, block: NonNull<u8>) -> BlockStatus {
        self.with_wait(region, |heap, _| {
            match heap.live_block(block.as_ptr() as usize) {
                Some(LiveBlock { kind, .. }) => match kind {
                    BlockKind::Root => BlockStatus::Root,
                    BlockKind::Child => BlockStatus::Child,
                },
                None => BlockStatus::NotLive,
            }
        })
    }

    /// The live counts: exact, read under the lock.
    #[inline]
    pub(crate) fn stats(&self) -> Stats {
        // SAFETY: under the lock: the only access to `locked` (see `with`).
        self.lock.wait(|| unsafe { (*self.locked.get()).stats })
    }

    /// The live counts if the lock is free now (for `Debug`, which must not wait).
    pub(crate) fn try_stats(&self) -> Option<Stats> {
        // SAFETY: under the lock: the only access to `locked` (see `with`).
        self.lock.try_lock(|| unsafe { (*self.locked.get()).stats })
    }

    pub(crate) fn capacity(&self, region: Region) -> usize {
        self.with_wait(region, |heap, _| heap.capacity())
    }

    pub(crate) fn free_bytes(&self, region: Region) -> usize {
        self.with_wait(region, |heap, _| heap.free_bytes())
    }

    pub(crate) fn peak_used(&self, region: Region) -> usize {
        // Through `with`, so that the first call lays the pool out as the others do.
        self.with_wait(region, |_, _| ());
        // SAFETY: under the lock: the only access to `locked` (see `with`).
        self.lock.wait(|| unsafe { (*self.locked.get()).peak })
    }

    pub(crate) fn largest_free_block(&self, region: Region) -> usize {
        self.with_wait(region, |heap, _| heap.largest_free().saturating_sub(HEADER))
    }

    pub(crate) fn check(&self, region: Region) -> Result<usize, &'static str> {
        self.with_wait(region, |heap, _| heap.check())
    }
}

/// Implements the inspection methods (`capacity`, `free_bytes`, `peak_used`, `largest_free_block`,
/// `check_integrity`) of a pool type (with its generic parameters in brackets) that has
/// a field `core: PoolCore` and a method `region(&self) -> Region`, each with the docs
/// written before its name (each type keeps its own docs and examples; the logic is
/// here once).
macro_rules! inspection_over_core {
    (
        impl[$($generics:tt)*] $pool:ty;
        $(#[$capacity:meta])* capacity;
        $(#[$free_bytes:meta])* free_bytes;
        $(#[$peak_used:meta])* peak_used;
        $(#[$largest_free_block:meta])* largest_free_block;
        $(#[$check_integrity:meta])* check_integrity;
    ) => {
        impl<$($generics)*> $pool {
            $(#[$capacity])*
            pub fn capacity(&self) -> usize {
                self.core.capacity(self.region())
            }

            $(#[$free_bytes])*
            pub fn free_bytes(&self) -> usize {
                self.core.free_bytes(self.region())
            }

            $(#[$peak_used])*
            pub fn peak_used(&self) -> usize {
                self.core.peak_used(self.region())
            }

            $(#[$largest_free_block])*
            pub fn largest_free_block(&self) -> usize {
                self.core.largest_free_block(self.region())
            }

            $(#[$check_integrity])*
            pub fn check_integrity(&self) -> Result<usize, &'static str> {
                self.core.check(self.region())
            }
        }
    };
}
pub(crate) use inspection_over_core;

/// Implements [`LinkedAllocator`](linked_alloc::LinkedAllocator) for a pool type (with
/// its generic parameters in brackets) that has a field `core: PoolCore` and a method
/// `region(&self) -> Region` giving the same valid region on every call: every call
/// goes to [`PoolCore`] over that region. `StaticPool` and `PoolRegion` differ only in
/// where their bytes are.
macro_rules! linked_allocator_over_core {
    (impl[$($generics:tt)*] $pool:ty) => {
        // SAFETY: `PoolCore` keeps the contract over the region (TLSF blocks aligned to
        // `block_align`, disjoint, exact stats, iterative `free_root`, every pointer
        // checked exactly against the live map before use); the region is valid and the
        // same on every call (the macro's requirement on `region`).
        unsafe impl<$($generics)*> linked_alloc::LinkedAllocator for $pool {
            #[inline]
            fn allocate_root(
                &self,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<u8>, linked_alloc::AllocError> {
                self.core.allocate(self.region(), layout, None)
            }

            #[inline]
            unsafe fn allocate_child(
                &self,
                parent: core::ptr::NonNull<u8>,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<u8>, linked_alloc::AllocError> {
                self.core.allocate(self.region(), layout, Some(parent))
            }

            #[inline]
            unsafe fn free_root(&self, root: core::ptr::NonNull<u8>) {
                self.core.free_root(self.region(), root);
            }

            #[inline]
            fn stats(&self) -> linked_alloc::Stats {
                self.core.stats()
            }

            /// Checks `block` against the live map (any pointer); `root` is not needed.
            #[inline]
            unsafe fn resize_in_place(
                &self,
                _root: core::ptr::NonNull<u8>,
                block: core::ptr::NonNull<u8>,
                layout: core::alloc::Layout,
                new_size: usize,
            ) -> bool {
                self.core
                    .resize_in_place(self.region(), block, layout, new_size)
            }

            /// Checks `child` against the live map (any pointer); `root` is not needed.
            #[inline]
            unsafe fn reclaim_child(
                &self,
                _root: core::ptr::NonNull<u8>,
                child: core::ptr::NonNull<u8>,
                layout: core::alloc::Layout,
            ) -> bool {
                self.core.reclaim_child(self.region(), child, layout)
            }

            /// Exact for **any** pointer (not only live blocks): the pool knows its
            /// range and marks the payload of every live block in its live map.
            #[inline]
            unsafe fn block_status(
                &self,
                block: core::ptr::NonNull<u8>,
            ) -> linked_alloc::BlockStatus {
                self.core.block_status(self.region(), block)
            }
        }
    };
}
pub(crate) use linked_allocator_over_core;
