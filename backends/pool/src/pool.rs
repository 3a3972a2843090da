//! What every pool shares, whatever holds its bytes: the lock, the TLSF state, the
//! live counts, and the [`LinkedAllocator`] logic (checks, chains, stats).
//!
//! [`LinkedAllocator`]: linked_alloc::LinkedAllocator

use core::alloc::Layout;
use core::ptr::NonNull;

use linked_alloc::align::block_align;
use linked_alloc::{AllocError, BlockStatus, Stats};
use spin::mutex::{SpinMutex, SpinMutexGuard};

use crate::tlsf::{HEADER, Heap, Tlsf};

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
}

/// The lock, the TLSF state and the live counts of one pool.
#[derive(Debug)]
pub(crate) struct PoolCore {
    locked: SpinMutex<Locked>,
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

impl PoolCore {
    pub(crate) const fn new() -> Self {
        Self {
            locked: SpinMutex::new(Locked {
                tlsf: Tlsf::new(),
                stats: Stats {
                    roots: 0,
                    children: 0,
                    bytes_in_use: 0,
                },
            }),
        }
    }

    /// Locks the state and binds it to `region`; `f` works on the heap and the counts.
    #[inline]
    fn with<R>(&self, region: Region, f: impl FnOnce(&mut Heap<'_>, &mut Stats) -> R) -> R {
        let mut guard: SpinMutexGuard<'_, Locked> = self.locked.lock();
        let Locked { tlsf, stats } = &mut *guard;
        // SAFETY: `region` was made by `Region::new`, whose precondition is that of
        // `Tlsf::view` (valid bytes of this pool alone, the same on every call); the
        // guard makes this view the only one.
        let mut heap = unsafe { tlsf.view(region.base, region.len) };
        f(&mut heap, stats)
    }

    /// The pointer to the payload at offset `off` of `heap`.
    #[inline]
    fn pointer(heap: &Heap<'_>, off: usize) -> NonNull<u8> {
        // SAFETY: `off` is the payload offset of a block, inside (or, for a zero-size
        // block at the very end, one past) the heap, which lies in the region.
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
        let result = self.with(region, |heap, stats| {
            let after = match parent {
                None => None,
                Some(p) => match heap.live_block(p.as_ptr() as usize) {
                    Some((b, _)) => Some(b),
                    None => return Err(true),
                },
            };
            let off = heap
                .allocate(layout.size(), align, after.is_none())
                .ok_or(false)?;
            match after {
                Some(after) => {
                    heap.link_after(after, off - HEADER);
                    stats.children += 1;
                }
                None => stats.roots += 1,
            }
            stats.bytes_in_use += layout.size();
            Ok(Self::pointer(heap, off))
        });
        result.map_err(|bad| {
            if bad {
                bad_pointer("allocate_child", "a parent that is not a live block");
            }
            AllocError
        })
    }

    /// Frees a live root and its chain; refuses anything else.
    #[inline]
    pub(crate) fn free_root(&self, region: Region, root: NonNull<u8>) {
        let freed = self.with(region, |heap, stats| {
            match heap.live_block(root.as_ptr() as usize) {
                Some((b, true)) => {
                    let (children, bytes) = heap.free_chain(b);
                    stats.roots -= 1;
                    stats.children -= children;
                    stats.bytes_in_use -= bytes;
                    Ok(())
                }
                Some((_, false)) => Err("a child, not a root"),
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
        let done = self.with(region, |heap, stats| {
            let (b, _) = heap.live_block(block.as_ptr() as usize).ok_or(())?;
            let old = heap.requested(b);
            debug_assert_eq!(old, layout.size(), "resize_in_place: wrong layout");
            let resized = heap.resize(b, new_size);
            if resized {
                stats.bytes_in_use = stats.bytes_in_use - old + new_size;
            }
            Ok(resized)
        });
        done.unwrap_or_else(|()| {
            bad_pointer("resize_in_place", "a pointer that is not a live block");
            false
        })
    }

    /// Frees a live child before its root: O(1), the chain is doubly linked.
    pub(crate) fn reclaim_child(&self, region: Region, child: NonNull<u8>, layout: Layout) -> bool {
        let done = self.with(region, |heap, stats| {
            match heap.live_block(child.as_ptr() as usize) {
                Some((b, false)) => {
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
        if !done {
            bad_pointer("reclaim_child", "a pointer that is not a live child");
        }
        done
    }

    /// What `block` is: exact for any pointer.
    pub(crate) fn block_status(&self, region: Region, block: NonNull<u8>) -> BlockStatus {
        self.with(region, |heap, _| {
            match heap.live_block(block.as_ptr() as usize) {
                Some((_, true)) => BlockStatus::Root,
                Some((_, false)) => BlockStatus::Child,
                None => BlockStatus::NotLive,
            }
        })
    }

    /// The live counts: exact, read under the lock.
    #[inline]
    pub(crate) fn stats(&self) -> Stats {
        self.locked.lock().stats
    }

    /// The live counts if the lock is free now (for `Debug`, which must not wait).
    pub(crate) fn try_stats(&self) -> Option<Stats> {
        self.locked.try_lock().map(|locked| locked.stats)
    }

    pub(crate) fn capacity(&self, region: Region) -> usize {
        self.with(region, |heap, _| heap.capacity())
    }

    pub(crate) fn free_bytes(&self, region: Region) -> usize {
        self.with(region, |heap, _| heap.free_bytes())
    }

    pub(crate) fn largest_free_block(&self, region: Region) -> usize {
        self.with(region, |heap, _| heap.largest_free().saturating_sub(HEADER))
    }

    pub(crate) fn check(&self, region: Region) -> Result<usize, &'static str> {
        self.with(region, |heap, _| heap.check())
    }
}
