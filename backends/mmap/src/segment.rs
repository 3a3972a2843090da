//! Segments and pages: where every block lives, and how any block's start is found from
//! an address in O(1).
//!
//! ```text
//!  segment (SEGMENT_SIZE, aligned to it)                     one OS mapping
//!  ┌──────────────┬──────────────┬──────────────┬─────┬──────────────┐
//!  │ page 0       │ page 1       │ page 2       │ ... │ page P-1     │
//!  │ Segment      │ small page:  │ span head ─┐ │     │ small page   │
//!  │ header +     │ blocks of one│ span tail ◄┘ │     │ (other class)│
//!  │ Page metas   │ size class   │ (one block)  │     │              │
//!  └──────────────┴──────────────┴──────────────┴─────┴──────────────┘
//!   addr & !(SEGMENT_SIZE - 1)  -> the Segment header
//!   (addr - segment) >> PAGE_SHIFT -> its Page meta (a span's tail names its head)
//!   small page: block = page + ((addr - page) * magic >> 32) * block_size
//!
//!  huge segment (a block larger than a span): one mapping, aligned to SEGMENT_SIZE,
//!  the Segment header in its first page and the block's start right after that page.
//! ```
//!
//! A segment belongs to one [`Heap`](crate::heap::Heap) (one thread's): only the owner
//! writes its bitmap of free pages and its pages' free lists; other threads give blocks
//! back through each page's atomic `thread_free` list (see `heap`).

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering::Relaxed};
use core::time::Duration;
use std::time::Instant;

use crate::control::Control;
use crate::heap::{Block, Heap};
use crate::os::Mapping;

/// log2 of [`PAGE_SIZE`]: 64 KiB pages (16 KiB under Miri, to keep its memory small).
pub(crate) const PAGE_SHIFT: u32 = if cfg!(miri) { 14 } else { 16 };
/// The size of a page: the unit of a segment that holds blocks of one size class, or a
/// part of one large block.
pub(crate) const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// log2 of [`SEGMENT_SIZE`]: 4 MiB segments (256 KiB under Miri).
pub(crate) const SEGMENT_SHIFT: u32 = if cfg!(miri) { 18 } else { 22 };
/// The size and alignment of a segment.
pub(crate) const SEGMENT_SIZE: usize = 1 << SEGMENT_SHIFT;
/// Pages per segment; page 0 holds the header.
pub(crate) const PAGES: usize = SEGMENT_SIZE / PAGE_SIZE;
/// The bitmap of a segment whose pages (all but page 0) are free.
pub(crate) const ALL_FREE: u64 = if PAGES == 64 {
    !1
} else {
    ((1 << PAGES) - 1) & !1
};
/// How long a free page keeps its memory before it goes back to the OS
/// (`MADV_DONTNEED`): pages used again within this time are reused without page
/// faults; pages left free longer stop counting in the process's resident memory.
pub(crate) const PURGE_DELAY: Duration = Duration::from_millis(100);
/// The most pages a span (one large block inside a segment) takes: half a segment.
pub(crate) const MAX_SPAN_PAGES: usize = PAGES / 2;

const _: () = assert!(PAGES <= 64 && PAGES >= 8);
const _: () = assert!(core::mem::size_of::<Segment>() <= PAGE_SIZE);

/// Tag of a segment that holds pages.
const TAG_NORMAL: usize = 0x5345_474e;
/// Tag of a huge segment: one block.
const TAG_HUGE: usize = 0x5345_4748;
/// Tag of a segment in the cache or on its way back to the OS.
const TAG_FREE: usize = 0x5345_4746;

/// What a page holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PageKind {
    /// Nothing: the page is free in its segment's bitmap (or is page 0).
    Free = 0,
    /// Blocks of one size class.
    Small = 1,
    /// The first page of a span: one block over `span_pages` pages.
    SpanHead = 2,
    /// A further page of a span; `span_head` names the first.
    SpanTail = 3,
}

/// The metadata of one page, in its segment's header.
///
/// The atomics are read by any thread that looks up a live block in the page (they
/// were written before the block was handed out, and change only once the page is free
/// again) or gives a block back from another thread (`thread_free`). The `Cell`s belong
/// to the heap that owns the segment: only the thread that holds that heap touches them.
///
/// One cache line per page (`align(64)`), the fields of the hot paths first.
#[repr(C, align(64))]
#[derive(Debug)]
pub(crate) struct Page {
    kind: AtomicU8,
    /// SpanTail: index of the head page; SpanHead: number of pages.
    span: AtomicU8,
    /// Small: the size class.
    pub(crate) class: Cell<u8>,
    /// Owner: on the heap's list of full pages (else on its class's queue).
    pub(crate) in_full: Cell<bool>,
    /// Small: the size class's block size.
    block_size: AtomicU32,
    /// Small: `ceil(2^32 / block_size)`: block index = `offset * magic >> 32`.
    magic: AtomicU32,
    /// Owner: blocks handed out and not back on `free` (those on `thread_free` count).
    pub(crate) used: Cell<u32>,
    /// Owner: the page's free list.
    pub(crate) free: Cell<*mut Block>,
    /// Owner: blocks past `bump` (up to `end`) were never handed out.
    pub(crate) bump: Cell<*mut u8>,
    /// Owner: the end of the page's blocks.
    pub(crate) end: Cell<usize>,
    /// Blocks given back by other threads, or [`FULL`] (then they go to the heap's
    /// list instead). Null, FULL, or a list of blocks.
    pub(crate) thread_free: AtomicPtr<Block>,
    /// Owner: the queue's links.
    pub(crate) next: Cell<*mut Page>,
    pub(crate) prev: Cell<*mut Page>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Page>() == 64);

/// What `thread_free` holds while the page sits on its heap's list of full pages: other
/// threads then give their blocks to the heap (whose list the owner drains) instead of
/// to the page, so that the owner learns that the page has room again.
pub(crate) const FULL: *mut Block = ptr::without_provenance_mut(1);

/// The header of a segment, at its aligned start.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Segment {
    tag: AtomicUsize,
    /// The allocator the segment belongs to (never changes).
    pub(crate) control: *const Control,
    /// The heap that owns the segment (normal segments, while not in the cache).
    pub(crate) heap: AtomicPtr<Heap>,
    /// What to give back to the OS.
    pub(crate) mapping: Mapping,
    /// Huge: the bytes from the block's start to the end of the mapping.
    pub(crate) huge_room: usize,
    /// Owner: bit `i` set when page `i` is free.
    pub(crate) free_pages: Cell<u64>,
    /// Owner: bit `i` set when page `i` is free but its memory not yet given back to
    /// the OS (see [`purge`](Self::purge)).
    dirty: Cell<u64>,
    /// Owner: when the dirty pages are due to be purged (none while none are dirty).
    pub(crate) purge_at: Cell<Option<Instant>>,
    /// Owner (or the cache's lock): links of the heap's list or of the cache.
    pub(crate) next: Cell<*mut Segment>,
    pub(crate) prev: Cell<*mut Segment>,
    pub(crate) pages: [Page; PAGES],
}

/// What `lookup` finds at an address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// The start of the block that holds the address (its header), with the provenance
    /// of the pointer given to `lookup`.
    pub(crate) block: NonNull<u8>,
    /// The bytes from `block` to the end of the block's room.
    pub(crate) room: usize,
}

impl Page {
    const fn new() -> Self {
        Self {
            kind: AtomicU8::new(PageKind::Free as u8),
            span: AtomicU8::new(0),
            block_size: AtomicU32::new(0),
            magic: AtomicU32::new(0),
            class: Cell::new(0),
            thread_free: AtomicPtr::new(ptr::null_mut()),
            free: Cell::new(ptr::null_mut()),
            bump: Cell::new(ptr::null_mut()),
            end: Cell::new(0),
            used: Cell::new(0),
            in_full: Cell::new(false),
            next: Cell::new(ptr::null_mut()),
            prev: Cell::new(ptr::null_mut()),
        }
    }

    /// The page's kind.
    #[inline]
    pub(crate) fn kind(&self) -> PageKind {
        match self.kind.load(Relaxed) {
            1 => PageKind::Small,
            2 => PageKind::SpanHead,
            3 => PageKind::SpanTail,
            _ => PageKind::Free,
        }
    }

    /// Small: the block size.
    #[inline]
    pub(crate) fn block_size(&self) -> usize {
        self.block_size.load(Relaxed) as usize
    }

    /// SpanHead: the span's pages.
    #[inline]
    pub(crate) fn span_pages(&self) -> usize {
        self.span.load(Relaxed) as usize
    }

    /// Whether the page has a block to hand out without collecting.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        !self.free.get().is_null() || self.bump.get().addr() < self.end.get()
    }

    /// Hands out a block of the page (owner only), or `None` if none is free.
    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<NonNull<u8>> {
        let free = self.free.get();
        if let Some(block) = NonNull::new(free) {
            // SAFETY: a block on the free list is a free block of this page; its first
            // word holds the next free block (written when it was freed).
            self.free.set(unsafe { (*free).next });
            self.used.set(self.used.get() + 1);
            return Some(block.cast());
        }
        let bump = self.bump.get();
        let size = self.block_size();
        if bump.addr() < self.end.get() {
            // SAFETY: `bump + size <= end` (the end of the last whole block), inside
            // the page.
            self.bump.set(unsafe { bump.add(size) });
            self.used.set(self.used.get() + 1);
            // SAFETY: `bump` points into the page, so it is not null.
            return Some(unsafe { NonNull::new_unchecked(bump) });
        }
        None
    }
}

impl Segment {
    /// Writes a fresh segment header at `start` (aligned to [`SEGMENT_SIZE`]): every page
    /// free, owned by `heap` (null for a huge segment).
    ///
    /// # Safety
    /// `start` is the aligned start of a mapping of ours of at least [`PAGE_SIZE`]
    /// bytes that nothing else uses.
    pub(crate) unsafe fn init(
        start: NonNull<u8>,
        mapping: Mapping,
        control: *const Control,
        huge_room: usize,
    ) -> NonNull<Segment> {
        let seg = start.cast::<Segment>();
        let header = Segment {
            tag: AtomicUsize::new(if huge_room > 0 { TAG_HUGE } else { TAG_NORMAL }),
            control,
            heap: AtomicPtr::new(ptr::null_mut()),
            mapping,
            huge_room,
            free_pages: Cell::new(ALL_FREE),
            dirty: Cell::new(0),
            purge_at: Cell::new(None),
            next: Cell::new(ptr::null_mut()),
            prev: Cell::new(ptr::null_mut()),
            pages: [const { Page::new() }; PAGES],
        };
        // SAFETY: the caller promises the header's bytes are ours, aligned, unused.
        unsafe { seg.write(header) };
        seg
    }

    /// Whether this is a huge segment.
    #[inline]
    pub(crate) fn is_huge(&self) -> bool {
        self.tag.load(Relaxed) == TAG_HUGE
    }

    /// Marks the segment as no longer live (in the cache, or on its way to the OS).
    pub(crate) fn retire(&self) {
        self.tag.store(TAG_FREE, Relaxed);
    }

    /// Marks a cached segment live again (`huge`: as a huge segment).
    pub(crate) fn revive(&self, huge: bool) {
        self.tag
            .store(if huge { TAG_HUGE } else { TAG_NORMAL }, Relaxed);
    }

    /// The segment that holds `p`, with `p`'s provenance.
    #[inline(always)]
    pub(crate) fn of(p: NonNull<u8>) -> NonNull<Segment> {
        // SAFETY: masking a non-null address of a mapping (aligned to SEGMENT_SIZE, so
        // at least that large) cannot give 0.
        unsafe { NonNull::new_unchecked(p.as_ptr().map_addr(|a| a & !(SEGMENT_SIZE - 1))).cast() }
    }

    /// The start of page `i`, with the provenance of `seg`.
    #[inline(always)]
    pub(crate) fn page_start(seg: NonNull<Segment>, i: usize) -> NonNull<u8> {
        // SAFETY: `i < PAGES`, so the page lies in the segment's mapping.
        unsafe { seg.cast::<u8>().add(i << PAGE_SHIFT) }
    }

    /// The index of the page `p` points into.
    #[inline(always)]
    pub(crate) fn page_index(seg: NonNull<Segment>, p: *const u8) -> usize {
        (p.addr() - seg.as_ptr().addr()) >> PAGE_SHIFT
    }

    /// Sets page `i` up as a small page of `class` with blocks of `block_size` bytes.
    pub(crate) fn init_small(seg: NonNull<Segment>, i: usize, class: usize, block_size: usize) {
        // SAFETY: `seg` is a live segment header (the callers' precondition).
        let page = unsafe { &seg.as_ref().pages[i] };
        let start = Self::page_start(seg, i);
        page.kind.store(PageKind::Small as u8, Relaxed);
        page.block_size.store(block_size as u32, Relaxed);
        page.magic
            .store(((1u64 << 32) / block_size as u64 + 1) as u32, Relaxed);
        page.class.set(class as u8);
        page.thread_free.store(ptr::null_mut(), Relaxed);
        page.free.set(ptr::null_mut());
        page.bump.set(start.as_ptr());
        // The end of the last whole block: `bump < end` means a block is left.
        page.end
            .set(start.as_ptr().addr() + PAGE_SIZE / block_size * block_size);
        page.used.set(0);
        page.in_full.set(false);
        page.next.set(ptr::null_mut());
        page.prev.set(ptr::null_mut());
    }

    /// Sets pages `i..i + n` up as one span.
    pub(crate) fn init_span(seg: NonNull<Segment>, i: usize, n: usize) {
        // SAFETY: `seg` is a live segment header (the callers' precondition).
        let pages = unsafe { &seg.as_ref().pages };
        let head = &pages[i];
        head.kind.store(PageKind::SpanHead as u8, Relaxed);
        head.span.store(n as u8, Relaxed);
        // Other threads give the block to the heap, never to the page.
        head.thread_free.store(FULL, Relaxed);
        for tail in &pages[i + 1..i + n] {
            tail.kind.store(PageKind::SpanTail as u8, Relaxed);
            tail.span.store(i as u8, Relaxed);
        }
    }

    /// Extends the span of `n` pages at page `i` to `need` pages, if the pages after it
    /// are free (owner only).
    pub(crate) fn extend_span(seg: &Segment, i: usize, n: usize, need: usize) -> bool {
        let bits = ((1u64 << (need - n)) - 1) << (i + n);
        if seg.free_pages.get() & bits != bits {
            return false;
        }
        seg.free_pages.set(seg.free_pages.get() & !bits);
        seg.dirty.set(seg.dirty.get() & !bits);
        for tail in &seg.pages[i + n..i + need] {
            tail.span.store(i as u8, Relaxed);
            tail.kind.store(PageKind::SpanTail as u8, Relaxed);
        }
        seg.pages[i].span.store(need as u8, Relaxed);
        true
    }

    /// Marks pages `i..i + n` free (kind and bitmap), and dirty: their memory goes back
    /// to the OS after [`PURGE_DELAY`] unless they are used again before. Returns when
    /// that is due.
    pub(crate) fn release_pages(seg: &Segment, i: usize, n: usize) -> Instant {
        for page in &seg.pages[i..i + n] {
            page.kind.store(PageKind::Free as u8, Relaxed);
        }
        let bits = if n == 64 { !0 } else { ((1u64 << n) - 1) << i };
        debug_assert_eq!(seg.free_pages.get() & bits, 0);
        seg.free_pages.set(seg.free_pages.get() | bits);
        seg.dirty.set(seg.dirty.get() | bits);
        match seg.purge_at.get() {
            Some(at) => at,
            None => {
                let at = Instant::now() + PURGE_DELAY;
                seg.purge_at.set(Some(at));
                at
            }
        }
    }

    /// Marks every page of a free segment dirty (on its way to the cache), purge due
    /// after [`PURGE_DELAY`].
    pub(crate) fn dirty_all(seg: &Segment) -> Instant {
        seg.dirty.set(ALL_FREE);
        let at = Instant::now() + PURGE_DELAY;
        seg.purge_at.set(Some(at));
        at
    }

    /// Gives the memory of a cached huge segment's block back to the OS (it stays
    /// mapped), if its purge is due at `now`. Returns when it is due, if later.
    ///
    /// # Safety
    /// The caller holds the cache of huge segments that `seg` is on.
    pub(crate) unsafe fn purge_huge(seg: NonNull<Segment>, now: Instant) -> Option<Instant> {
        // SAFETY: the caller's precondition.
        let s = unsafe { seg.as_ref() };
        let at = s.purge_at.get()?;
        if at > now {
            return Some(at);
        }
        // SAFETY: the block's pages follow the header page, in the mapping; nothing
        // in them is needed.
        unsafe { crate::os::purge(Self::page_start(seg, 1), s.huge_room) };
        s.purge_at.set(None);
        None
    }

    /// Gives the memory of the segment's dirty pages back to the OS (they stay mapped
    /// and free), if their purge is due at `now`. Returns when the next one is due.
    ///
    /// # Safety
    /// The caller owns the segment (holds its heap, or the cache's lock), and `seg` has
    /// the provenance of its mapping.
    pub(crate) unsafe fn purge(seg: NonNull<Segment>, now: Instant) -> Option<Instant> {
        // SAFETY: the caller's precondition.
        let s = unsafe { seg.as_ref() };
        let at = s.purge_at.get()?;
        if at > now {
            return Some(at);
        }
        let mut dirty = s.dirty.get() & s.free_pages.get();
        while dirty != 0 {
            let i = dirty.trailing_zeros() as usize;
            let n = (!(dirty >> i)).trailing_zeros() as usize;
            // SAFETY: pages `i..i + n` are free pages of the segment: nothing in them is
            // needed, and they lie in its mapping.
            unsafe { crate::os::purge(Self::page_start(seg, i), n << PAGE_SHIFT) };
            dirty &= if i + n >= 64 { 0 } else { !0 << (i + n) };
        }
        s.dirty.set(0);
        s.purge_at.set(None);
        None
    }

    /// Takes `n` contiguous free pages of the segment (owner only): the first page's
    /// index, or `None`.
    pub(crate) fn take_pages(seg: &Segment, n: usize) -> Option<usize> {
        let free = seg.free_pages.get();
        // Bits where a run of `n` free pages starts.
        let mut starts = free;
        for k in 1..n {
            starts &= free >> k;
        }
        if starts == 0 {
            return None;
        }
        let i = starts.trailing_zeros() as usize;
        let bits = if n == 64 { !0 } else { ((1u64 << n) - 1) << i };
        seg.free_pages.set(free & !bits);
        // Used again before its purge: nothing to give back for these pages.
        seg.dirty.set(seg.dirty.get() & !bits);
        Some(i)
    }

    /// The block that holds `p` and its room, if `p` lies in a live block's page of a
    /// live segment of `control`; `None` for an address that is not in one.
    ///
    /// # Safety
    /// `p` points into a segment of an allocator (live, or in the cache) and carries the
    /// provenance of that segment's mapping (as the pointers this crate hands out do).
    #[inline(always)]
    pub(crate) unsafe fn lookup(p: NonNull<u8>, control: *const Control) -> Option<Found> {
        let seg = Self::of(p);
        // SAFETY: the caller promises `p` lies in a segment, whose header is at `seg`.
        let s = unsafe { seg.as_ref() };
        if s.control != control {
            return None;
        }
        let tag = s.tag.load(Relaxed);
        if tag == TAG_HUGE {
            return Some(Found {
                block: Self::page_start(seg, 1),
                room: s.huge_room,
            });
        }
        if tag != TAG_NORMAL {
            return None;
        }
        let mut i = Self::page_index(seg, p.as_ptr());
        if i == 0 {
            return None;
        }
        let mut page = &s.pages[i];
        match page.kind() {
            PageKind::Small => {
                let start = Self::page_start(seg, i);
                let offset = p.as_ptr().addr() - start.as_ptr().addr();
                let size = page.block_size();
                let index = (offset as u64 * u64::from(page.magic.load(Relaxed))) >> 32;
                let at = index as usize * size;
                if at + size > PAGE_SIZE {
                    return None;
                }
                Some(Found {
                    // SAFETY: `at + size <= PAGE_SIZE`: inside the page.
                    block: unsafe { start.add(at) },
                    room: size,
                })
            }
            PageKind::SpanTail => {
                i = page.span.load(Relaxed) as usize;
                page = &s.pages[i];
                (page.kind() == PageKind::SpanHead).then(|| Found {
                    block: Self::page_start(seg, i),
                    room: page.span_pages() << PAGE_SHIFT,
                })
            }
            PageKind::SpanHead => Some(Found {
                block: Self::page_start(seg, i),
                room: page.span_pages() << PAGE_SHIFT,
            }),
            PageKind::Free => None,
        }
    }
}

/// Size classes of small blocks: 16-byte steps up to 128 bytes, then four classes per
/// doubling, up to [`SMALL_MAX`] (a quarter of a page).
pub(crate) mod class {
    use super::PAGE_SIZE;

    /// The largest small block (header included).
    pub(crate) const SMALL_MAX: usize = PAGE_SIZE / 4;
    /// The number of classes.
    pub(crate) const COUNT: usize = of(SMALL_MAX) + 1;

    /// The class of a block of `size` bytes (`size <= SMALL_MAX`).
    #[inline(always)]
    pub(crate) const fn of(size: usize) -> usize {
        if size <= 128 {
            return size.saturating_sub(1) / 16;
        }
        let w = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
        8 + (w - 7) * 4 + (((size - 1) >> (w - 2)) & 3)
    }

    /// The block size of class `c`.
    #[inline(always)]
    pub(crate) const fn size(c: usize) -> usize {
        if c < 8 {
            return (c + 1) * 16;
        }
        let (g, r) = ((c - 8) / 4, (c - 8) % 4);
        (128 << g) + (r + 1) * (32 << g)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn classes_cover_every_size_tightly() {
            for n in 0..=SMALL_MAX {
                let c = of(n);
                assert!(c < COUNT);
                assert!(size(c) >= n.max(1), "size {n}");
                assert_eq!(size(c) % 16, 0);
                if c > 0 {
                    assert!(size(c - 1) < n.max(1), "size {n} not tight");
                }
            }
            assert_eq!(size(COUNT - 1), SMALL_MAX);
            assert_eq!(of(80), 4);
            assert_eq!(size(of(80)), 80);
        }
    }
}
