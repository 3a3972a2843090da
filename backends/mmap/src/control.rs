//! The allocator's shared state: its heaps, the cache of free segments, huge blocks,
//! and the figures of what is mapped.
//!
//! It lives in a mapping of its own, made on the allocator's first use, so that an
//! `MmapPages` may be moved (it holds only a pointer to it) and heaps and segments may
//! point back to it. Everything here is off the hot paths: a lock is taken when a
//! thread first uses the allocator, when a segment goes to or comes from the cache, and
//! for huge blocks.
//!
//! **What goes back to the OS, and when.** A segment whose pages are all free leaves
//! its heap (unless it is the heap's only one) for the cache; the cache keeps up to
//! `cache_limit` segments and unmaps the rest at once. Up to [`HUGE_CACHE`] freed huge
//! blocks' mappings wait for the next huge block; the others are unmapped when freed.
//! Cached memory is purged (`madvise`; `MEM_RESET` on Windows) 100 ms after it was freed, unless used again.
//! `trim_cache` unmaps the caches, after giving them the empty pages and segments of the
//! calling thread's heap and of heaps whose threads have exited. A `munmap` that the OS
//! refuses (see `os`) leaves the memory mapped and counted: the segment stays in the
//! cache (past its limit) and a huge mapping on a list, to be tried again by the next
//! `trim_cache`.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use std::time::Instant;

use spin::mutex::SpinMutex;

use crate::heap::{ABANDONED, FALLBACK, Heap};
use crate::os::{self, MAP_ALIGN, Mapping};
use crate::segment::{Found, PAGE_SIZE, PURGE_DELAY, SEGMENT_SIZE, Segment};

/// The most freed huge mappings the cache keeps.
const HUGE_CACHE: usize = 4;

/// Ids of allocators: each control gets the next, never 0.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A list of segments through their links (the cache, or huge mappings to unmap).
#[derive(Debug)]
struct SegmentList {
    head: *mut Segment,
    len: usize,
    /// When the first purge of a segment on the list is due.
    purge_at: Option<Instant>,
}

// SAFETY: the list is only reached under its lock; the segments it links are mappings
// of ours that no thread uses while they are on it.
unsafe impl Send for SegmentList {}

impl SegmentList {
    const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            len: 0,
            purge_at: None,
        }
    }

    fn push(&mut self, seg: NonNull<Segment>) {
        // SAFETY: a segment put on a list is ours and used by no one.
        unsafe { seg.as_ref().next.set(self.head) };
        self.head = seg.as_ptr();
        self.len += 1;
    }

    fn pop(&mut self) -> Option<NonNull<Segment>> {
        let seg = NonNull::new(self.head)?;
        // SAFETY: segments on the list are live mappings of ours.
        self.head = unsafe { seg.as_ref().next.get() };
        self.len -= 1;
        Some(seg)
    }

    /// If the list's first purge is due at `now`: purges its segments with `purge`
    /// (which gives back what is due and says when the segment's next purge is), and
    /// notes when the next one on the list is due. Returns whether it was due.
    ///
    /// # Safety
    /// The caller holds the list's lock, and `purge`'s precondition holds for every
    /// segment on the list while that lock is held (it is the purge of this kind of
    /// list: [`Segment::purge`] for the cache, [`Segment::purge_huge`] for huge blocks).
    unsafe fn purge_due(
        &mut self,
        now: Instant,
        purge: unsafe fn(NonNull<Segment>, Instant) -> Option<Instant>,
    ) -> bool {
        if self.purge_at.is_none_or(|t| now < t) {
            return false;
        }
        let mut next: Option<Instant> = None;
        let mut seg = self.head;
        while let Some(s) = NonNull::new(seg) {
            // SAFETY: the caller holds the list's lock, under which `purge` may be
            // called on each segment of it; listed segments are live mappings of ours.
            unsafe {
                if let Some(t) = purge(s, now) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
                seg = s.as_ref().next.get();
            }
        }
        self.purge_at = next;
        true
    }
}

/// The allocator's shared state. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Control {
    /// Unique among the allocators of the process, never 0.
    pub(crate) id: usize,
    cache_limit: usize,
    /// The heaps, newest first; a heap is never removed (until the allocator goes).
    heaps: AtomicPtr<Heap>,
    heaps_lock: SpinMutex<()>,
    /// Held while a thread that has no heap of its own uses `fallback`.
    pub(crate) fallback_lock: SpinMutex<()>,
    /// The heap of threads that cannot have their own (while their thread-local state
    /// is being set up or torn down, or when no memory is left for a heap).
    pub(crate) fallback: Heap,
    cache: SpinMutex<SegmentList>,
    /// Freed huge blocks' mappings, kept for reuse (at most [`HUGE_CACHE`], and no more
    /// bytes than the segment cache's limit).
    huge_cache: SpinMutex<SegmentList>,
    /// Huge mappings that the OS refused to unmap, to try again.
    stuck: SpinMutex<SegmentList>,
    /// Bytes of segments and huge mappings mapped now (cache included).
    mapped: AtomicUsize,
    /// Bytes of those in the cache (or stuck).
    cached: AtomicUsize,
    /// Bytes of this control's and the heaps' own mappings.
    metadata: AtomicUsize,
    /// `munmap` calls the OS refused.
    unmap_failures: AtomicUsize,
    /// This control's own mapping.
    mapping: Mapping,
    /// Links of the registry of live allocators (under the registry's lock).
    pub(crate) registry_next: Cell<*mut Control>,
}

impl Control {
    /// Maps and writes a new control, or `None` if the OS refuses.
    pub(crate) fn create(cache_limit: usize) -> Option<NonNull<Control>> {
        let len = size_of::<Control>().next_multiple_of(MAP_ALIGN);
        let base = os::map(len)?;
        let c = base.cast::<Control>();
        let control = Control {
            id: NEXT_ID.fetch_add(1, Relaxed),
            cache_limit,
            heaps: AtomicPtr::new(ptr::null_mut()),
            heaps_lock: SpinMutex::new(()),
            fallback_lock: SpinMutex::new(()),
            fallback: Heap::new(c.as_ptr(), FALLBACK, None),
            cache: SpinMutex::new(SegmentList::new()),
            huge_cache: SpinMutex::new(SegmentList::new()),
            stuck: SpinMutex::new(SegmentList::new()),
            mapped: AtomicUsize::new(0),
            cached: AtomicUsize::new(0),
            metadata: AtomicUsize::new(len),
            unmap_failures: AtomicUsize::new(0),
            mapping: Mapping { base, len },
            registry_next: Cell::new(ptr::null_mut()),
        };
        // SAFETY: the fresh mapping is ours, page-aligned and large enough.
        unsafe { c.write(control) };
        Some(c)
    }

    /// The heap of thread `tid`: the one it holds, an abandoned one (adopted), or a new
    /// one. `None` if no memory is left for a new heap.
    pub(crate) fn heap_for(&self, tid: usize) -> Option<NonNull<Heap>> {
        let _lock = self.heaps_lock.lock();
        let mut abandoned = None;
        let mut h = self.heaps.load(Acquire);
        while let Some(heap) = NonNull::new(h) {
            // SAFETY: heaps on the list live as long as the control.
            let r = unsafe { heap.as_ref() };
            match r.owner.load(Relaxed) {
                owner if owner == tid => return Some(heap),
                ABANDONED if abandoned.is_none() => abandoned = Some(heap),
                _ => {}
            }
            h = r.next.load(Relaxed);
        }
        if let Some(heap) = abandoned {
            // SAFETY: as above.
            let r = unsafe { heap.as_ref() };
            // Acquire: what the last holder wrote before abandoning it (Release).
            if r.owner
                .compare_exchange(ABANDONED, tid, Acquire, Relaxed)
                .is_ok()
            {
                return Some(heap);
            }
        }
        let len = size_of::<Heap>().next_multiple_of(MAP_ALIGN);
        let base = os::map(len)?;
        let heap = base.cast::<Heap>();
        let new = Heap::new(ptr::from_ref(self), tid, Some(Mapping { base, len }));
        new.next.store(self.heaps.load(Relaxed), Relaxed);
        // SAFETY: the fresh mapping is ours, aligned and large enough for a heap.
        unsafe { heap.write(new) };
        self.heaps.store(heap.as_ptr(), Release);
        self.metadata.fetch_add(len, Relaxed);
        Some(heap)
    }

    /// Calls `f` with each heap and the fallback heap.
    pub(crate) fn for_each_heap(&self, mut f: impl FnMut(&Heap)) {
        let mut h = self.heaps.load(Acquire);
        while let Some(heap) = NonNull::new(h) {
            // SAFETY: heaps on the list live as long as the control.
            let r = unsafe { heap.as_ref() };
            f(r);
            h = r.next.load(Relaxed);
        }
        f(&self.fallback);
    }

    /// Marks every heap that thread `tid` holds as abandoned (the thread is exiting).
    pub(crate) fn abandon(&self, tid: usize) {
        self.for_each_heap(|h| {
            // Release: the next holder sees what this thread wrote.
            let _ = h.owner.compare_exchange(tid, ABANDONED, AcqRel, Relaxed);
        });
    }

    /// A free segment for a heap: off the cache, or freshly mapped.
    pub(crate) fn take_segment(&self) -> Option<NonNull<Segment>> {
        if let Some(seg) = self.cache.lock().pop() {
            // SAFETY: a cached segment is ours and used by no one.
            self.cached
                .fetch_sub(unsafe { seg.as_ref().mapping.len }, Relaxed);
            // SAFETY: a cached segment is ours and used by no one; its header is intact
            // and every page free.
            unsafe { seg.as_ref().revive(false) };
            return Some(seg);
        }
        let (start, mapping) = os::map_aligned(SEGMENT_SIZE, SEGMENT_SIZE)?;
        self.mapped.fetch_add(mapping.len, Relaxed);
        // SAFETY: the fresh mapping is ours, aligned to SEGMENT_SIZE.
        Some(unsafe { Segment::init(start, mapping, self, 0) })
    }

    /// Takes a segment whose pages are all free: into the cache (then returns when its
    /// memory is due to be purged), or back to the OS.
    ///
    /// # Safety
    /// `seg` is a normal segment of ours with no live block, on no heap's list, used by
    /// no one afterwards.
    pub(crate) unsafe fn give_segment(&self, seg: NonNull<Segment>) -> Option<Instant> {
        // SAFETY: the caller's precondition.
        let s = unsafe { seg.as_ref() };
        s.retire();
        let mut cache = self.cache.lock();
        if cache.len < self.cache_limit {
            // Its memory goes back to the OS unless a heap takes it again soon.
            let at = Segment::dirty_all(s);
            cache.purge_at = Some(cache.purge_at.map_or(at, |t| t.min(at)));
            cache.push(seg);
            self.cached.fetch_add(s.mapping.len, Relaxed);
            return Some(at);
        }
        drop(cache);
        let mapping = s.mapping;
        // SAFETY: the whole segment is ours and unused (the caller's precondition).
        if unsafe { os::unmap(mapping) }.is_ok() {
            self.mapped.fetch_sub(mapping.len, Relaxed);
        } else {
            // Kept, counted, and reused: past the limit, in the cache.
            self.unmap_failures.fetch_add(1, Relaxed);
            self.cache.lock().push(seg);
            self.cached.fetch_add(mapping.len, Relaxed);
        }
        None
    }

    /// Purges the cached segments whose purge is due at `now` (skipped if another thread
    /// holds the cache).
    pub(crate) fn purge_cache(&self, now: Instant) {
        let Some(mut cache) = self.cache.try_lock() else {
            return;
        };
        // SAFETY: we hold the cache's lock; its segments are ours, used by no one.
        if !unsafe { cache.purge_due(now, Segment::purge) } {
            return;
        }
        drop(cache);
        let Some(mut huge) = self.huge_cache.try_lock() else {
            return;
        };
        // SAFETY: we hold the lock of the cache of huge segments.
        unsafe { huge.purge_due(now, Segment::purge_huge) };
    }

    /// A huge block of at least `size` bytes in a mapping of its own.
    pub(crate) fn alloc_huge(&self, size: usize) -> Option<Found> {
        let len = size
            .checked_add(PAGE_SIZE + MAP_ALIGN - 1)
            .filter(|&n| n <= isize::MAX as usize / 2)?
            & !(MAP_ALIGN - 1);
        if let Some(found) = self.reuse_huge(len - PAGE_SIZE) {
            return Some(found);
        }
        let (start, mapping) = os::map_aligned(len, SEGMENT_SIZE)?;
        self.mapped.fetch_add(mapping.len, Relaxed);
        let room = len - PAGE_SIZE;
        // SAFETY: the fresh mapping is ours, aligned to SEGMENT_SIZE, longer than a page.
        let seg = unsafe { Segment::init(start, mapping, self, room) };
        Some(Found {
            block: Segment::page_start(seg, 1),
            room,
        })
    }

    /// A cached huge mapping with room for `room` bytes, and not more than four times
    /// that (so a block that doubles grows into it without moving).
    fn reuse_huge(&self, room: usize) -> Option<Found> {
        let mut cache = self.huge_cache.lock();
        let mut link: *mut *mut Segment = &raw mut cache.head;
        // SAFETY: segments on the list are ours, used by no one; we hold its lock.
        unsafe {
            while let Some(seg) = NonNull::new(*link) {
                let s = seg.as_ref();
                if s.huge_room >= room && s.huge_room / 4 <= room {
                    *link = s.next.get();
                    cache.len -= 1;
                    self.cached.fetch_sub(s.mapping.len, Relaxed);
                    s.revive(true);
                    s.purge_at.set(None);
                    return Some(Found {
                        block: Segment::page_start(seg, 1),
                        room: s.huge_room,
                    });
                }
                link = s.next.as_ptr();
            }
        }
        None
    }

    /// Moves a huge block's pages to a new mapping of `size` bytes of block (aligned to
    /// the segment size, so its header stays at the masked address), without copying
    /// them; returns the new segment, or `None` (nothing changed) if the OS cannot.
    ///
    /// # Safety
    /// `seg` is a huge segment of ours whose block is live and used by no other thread
    /// during the call; on `Some`, nothing uses the old address afterwards.
    pub(crate) unsafe fn remap_huge(
        &self,
        seg: NonNull<Segment>,
        size: usize,
    ) -> Option<NonNull<Segment>> {
        if !os::CAN_REMAP {
            // Windows, Miri: no mapping made and given back again for nothing; the
            // caller copies.
            return None;
        }
        let len = size
            .checked_add(PAGE_SIZE + MAP_ALIGN - 1)
            .filter(|&n| n <= isize::MAX as usize / 2)?
            & !(MAP_ALIGN - 1);
        // SAFETY: the caller's precondition.
        let old = unsafe { seg.as_ref().mapping };
        let (start, new) = os::map_aligned(len, SEGMENT_SIZE)?;
        if new.base != start {
            // The slack could not be trimmed: the pages would not land at `start`.
            // SAFETY: the fresh mapping is ours and unused.
            let _ = unsafe { os::unmap(new) };
            return None;
        }
        // SAFETY: `old` is the huge block's whole mapping, `new` a fresh one of ours.
        if unsafe { os::remap(old, new) }.is_err() {
            // SAFETY: as above.
            let _ = unsafe { os::unmap(new) };
            return None;
        }
        self.mapped.fetch_add(new.len, Relaxed);
        self.mapped.fetch_sub(old.len, Relaxed);
        let moved = start.cast::<Segment>();
        // SAFETY: the header moved with the first page; the segment is ours alone during
        // the call (the caller's precondition), and the fields are written before any
        // other thread can learn the new address.
        unsafe {
            (*moved.as_ptr()).mapping = new;
            (*moved.as_ptr()).huge_room = len - PAGE_SIZE;
        }
        Some(moved)
    }

    /// Gives a huge block's mapping back.
    ///
    /// # Safety
    /// `seg` is a huge segment of ours whose block is dead and unused afterwards.
    pub(crate) unsafe fn free_huge(&self, seg: NonNull<Segment>) -> Option<Instant> {
        // SAFETY: the caller's precondition.
        let s = unsafe { seg.as_ref() };
        s.retire();
        let mapping = s.mapping;
        if self.cache_limit > 0 && mapping.len <= self.cache_limit * SEGMENT_SIZE {
            let mut cache = self.huge_cache.lock();
            if cache.len < HUGE_CACHE {
                // Its memory goes back to the OS unless a block takes it again soon.
                let at = Instant::now() + PURGE_DELAY;
                s.purge_at.set(Some(at));
                cache.purge_at = Some(cache.purge_at.map_or(at, |t| t.min(at)));
                cache.push(seg);
                self.cached.fetch_add(mapping.len, Relaxed);
                return Some(at);
            }
        }
        // SAFETY: the whole mapping is ours and unused.
        if unsafe { os::unmap(mapping) }.is_ok() {
            self.mapped.fetch_sub(mapping.len, Relaxed);
        } else {
            self.unmap_failures.fetch_add(1, Relaxed);
            self.cached.fetch_add(mapping.len, Relaxed);
            self.stuck.lock().push(seg);
        }
        None
    }

    /// Unmaps the cache and the stuck huge mappings. What the OS refuses stays.
    pub(crate) fn trim(&self) {
        let (cache, huge, stuck) = {
            let mut c = self.cache.lock();
            let mut h = self.huge_cache.lock();
            let mut s = self.stuck.lock();
            (
                core::mem::replace(&mut *c, SegmentList::new()),
                core::mem::replace(&mut *h, SegmentList::new()),
                core::mem::replace(&mut *s, SegmentList::new()),
            )
        };
        for (mut list, is_cache) in [(cache, true), (huge, false), (stuck, false)] {
            while let Some(seg) = list.pop() {
                // SAFETY: segments on these lists are ours and used by no one.
                let mapping = unsafe { seg.as_ref().mapping };
                let bytes = mapping.len;
                // SAFETY: as above: the whole mapping, unused.
                if unsafe { os::unmap(mapping) }.is_ok() {
                    self.mapped.fetch_sub(mapping.len, Relaxed);
                    self.cached.fetch_sub(bytes, Relaxed);
                } else {
                    self.unmap_failures.fetch_add(1, Relaxed);
                    if is_cache {
                        self.cache.lock().push(seg);
                    } else {
                        self.stuck.lock().push(seg);
                    }
                }
            }
        }
    }

    /// Bytes of segments and huge mappings mapped now.
    pub(crate) fn mapped(&self) -> usize {
        self.mapped.load(Relaxed)
    }

    /// Bytes of those in the cache (or stuck after a refused unmap).
    pub(crate) fn cached(&self) -> usize {
        self.cached.load(Relaxed)
    }

    /// Bytes of the allocator's own bookkeeping mappings (this control and the heaps).
    pub(crate) fn metadata(&self) -> usize {
        self.metadata.load(Relaxed)
    }

    /// `munmap` calls the OS refused so far.
    pub(crate) fn unmap_failures(&self) -> usize {
        self.unmap_failures.load(Relaxed)
    }

    /// The sum of the heaps' counts.
    pub(crate) fn counts(&self) -> (isize, isize, isize) {
        let mut sum = (0isize, 0isize, 0isize);
        self.for_each_heap(|h| {
            let (r, c, b) = h.counts();
            sum = (
                sum.0.wrapping_add(r),
                sum.1.wrapping_add(c),
                sum.2.wrapping_add(b),
            );
        });
        sum
    }

    /// Unmaps everything: every segment of every heap, the cache, the heaps and the
    /// control itself.
    ///
    /// # Safety
    /// No block of the allocator is live or used again, no thread uses the allocator
    /// during or after the call, and the control is off the registry.
    pub(crate) unsafe fn destroy(control: NonNull<Control>) {
        // SAFETY: the caller's precondition: the control is ours alone now.
        let c = unsafe { control.as_ref() };
        c.for_each_heap(|h| {
            let mut seg = h.segments();
            while let Some(s) = NonNull::new(seg) {
                // SAFETY: the heap's segments are live and unused; the link is read first.
                let mapping = unsafe {
                    seg = s.as_ref().next.get();
                    s.as_ref().mapping
                };
                // SAFETY: no block is live; the mapping is unused.
                let _ = unsafe { os::unmap(mapping) };
            }
        });
        c.trim();
        let mut h = c.heaps.load(Acquire);
        while let Some(heap) = NonNull::new(h) {
            // SAFETY: the heap is unused (the caller's precondition); its link is read
            // before it is unmapped.
            let mapping = unsafe {
                h = heap.as_ref().next.load(Relaxed);
                heap.as_ref().mapping
            };
            if let Some(m) = mapping {
                // SAFETY: as above.
                let _ = unsafe { os::unmap(m) };
            }
        }
        let own = c.mapping;
        // SAFETY: nothing uses the control any more.
        let _ = unsafe { os::unmap(own) };
    }
}
