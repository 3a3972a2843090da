//! A thread's heap: its segments, a queue of pages per size class, and its share of the
//! counts. Blocks ("raw blocks": a header and what follows) come from here.
//!
//! - **Small blocks** (up to a quarter of a page) are handed out from the pages of
//!   their size class: the first page of the class's queue pops its free list, or bumps
//!   over the part of the page never handed out yet (so a fresh page is touched only as
//!   far as it is used). A page with nothing left moves to the list of full pages.
//! - **Spans**: a block of up to half a segment takes contiguous pages of a segment.
//! - **Huge blocks** get a mapping of their own (see [`Control`]).
//!
//! Only the thread that holds a heap (its owner, or a thread holding the allocator's
//! fallback lock) touches its queues and its pages' free lists: no lock and no atomic
//! read-modify-write on the owner's paths. A block given back by another thread goes
//! onto its page's atomic `thread_free` list (one compare-and-swap), which the owner
//! collects when the page runs dry; if the page is full (its `thread_free` holds
//! [`FULL`]), or the block is a span, the block goes onto the heap's `delayed` list
//! instead, which the owner drains on its slow paths, so a full page learns that it has
//! room again. The owner marks a page full by a compare-and-swap of `thread_free` from
//! null to `FULL`, so a block is never left on a full page's list.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{
    AtomicIsize, AtomicPtr, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use std::time::Instant;

use crate::control::Control;
use crate::os::Mapping;
use crate::segment::{
    ALL_FREE, FULL, Found, MAX_SPAN_PAGES, PAGE_SHIFT, PAGE_SIZE, PURGE_DELAY, Page, PageKind,
    Segment, class,
};

/// A free block: its first word links the next one.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) next: *mut Block,
}

/// The slow paths read the clock for purges once in this many calls.
const PURGE_EVERY: u32 = 32;

/// Whose a heap is: a thread's number, [`ABANDONED`], or [`FALLBACK`].
pub(crate) const ABANDONED: usize = 0;
/// The owner of the allocator's fallback heap (used under its lock).
pub(crate) const FALLBACK: usize = usize::MAX;

/// One thread's heap. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Heap {
    /// The thread that holds the heap, [`ABANDONED`] or [`FALLBACK`].
    pub(crate) owner: AtomicUsize,
    /// The allocator.
    pub(crate) control: *const Control,
    /// The next heap of the allocator's list (set before the heap is published).
    pub(crate) next: AtomicPtr<Heap>,
    /// The heap's own mapping (none for the fallback heap, which lives in the control).
    pub(crate) mapping: Option<Mapping>,
    /// Per class: the first page of the queue of pages that may have room.
    queues: [Cell<*mut Page>; class::COUNT],
    /// Pages with no room.
    full: Cell<*mut Page>,
    /// Per class: an empty page kept aside (on no list), so that a class whose pages
    /// empty and fill again does not give a page back and take it again each time.
    spare: [Cell<*mut Page>; class::COUNT],
    /// The segments the heap owns (a list through their links).
    segments: Cell<*mut Segment>,
    /// Blocks of this heap's pages given back by other threads (see the module docs).
    delayed: AtomicPtr<Block>,
    /// When the first of our segments' dirty pages is due to be purged.
    next_purge: Cell<Option<Instant>>,
    /// Slow paths taken: the clock is read for purges on one in [`PURGE_EVERY`].
    ticks: Cell<u32>,
    /// This heap's share of the counts (`stats` sums the heaps'): written by the holder
    /// only, with a load and a store.
    roots: AtomicIsize,
    children: AtomicIsize,
    bytes: AtomicIsize,
}

impl Heap {
    /// An empty heap of `control`, held by `owner`.
    pub(crate) const fn new(
        control: *const Control,
        owner: usize,
        mapping: Option<Mapping>,
    ) -> Self {
        Self {
            owner: AtomicUsize::new(owner),
            control,
            next: AtomicPtr::new(ptr::null_mut()),
            mapping,
            queues: [const { Cell::new(ptr::null_mut()) }; class::COUNT],
            full: Cell::new(ptr::null_mut()),
            spare: [const { Cell::new(ptr::null_mut()) }; class::COUNT],
            segments: Cell::new(ptr::null_mut()),
            delayed: AtomicPtr::new(ptr::null_mut()),
            next_purge: Cell::new(None),
            ticks: Cell::new(0),
            roots: AtomicIsize::new(0),
            children: AtomicIsize::new(0),
            bytes: AtomicIsize::new(0),
        }
    }

    /// Adds to this heap's share of the counts (the holder only).
    #[inline(always)]
    pub(crate) fn count(&self, roots: isize, children: isize, bytes: isize) {
        let add = |c: &AtomicIsize, d: isize| c.store(c.load(Relaxed).wrapping_add(d), Relaxed);
        if roots != 0 {
            add(&self.roots, roots);
        }
        if children != 0 {
            add(&self.children, children);
        }
        if bytes != 0 {
            add(&self.bytes, bytes);
        }
    }

    /// This heap's share of the counts: (roots, children, bytes).
    pub(crate) fn counts(&self) -> (isize, isize, isize) {
        (
            self.roots.load(Relaxed),
            self.children.load(Relaxed),
            self.bytes.load(Relaxed),
        )
    }

    /// A block of at least `size` bytes (`size >= 16`), aligned to 16, or `None` if
    /// memory is exhausted.
    ///
    /// # Safety
    /// The calling thread holds this heap (it is its owner, or holds the fallback lock).
    #[inline(always)]
    pub(crate) unsafe fn alloc(&self, size: usize) -> Option<Found> {
        if size <= class::SMALL_MAX {
            let c = class::of(size);
            let page = self.queues[c].get();
            if !page.is_null() {
                // SAFETY: pages on our queues are live pages of our segments.
                if let Some(block) = unsafe { (*page).pop() } {
                    return Some(Found {
                        block,
                        room: class::size(c),
                    });
                }
            }
            // SAFETY: the caller holds this heap.
            return unsafe { self.alloc_small_slow(c) };
        }
        // SAFETY: the caller holds this heap.
        unsafe { self.alloc_large(size) }
    }

    /// A block of class `c` when the first page of its queue has none.
    ///
    /// # Safety
    /// As [`alloc`](Self::alloc).
    #[cold]
    #[inline(never)]
    unsafe fn alloc_small_slow(&self, c: usize) -> Option<Found> {
        // SAFETY: the caller holds this heap.
        unsafe {
            self.drain_delayed();
            self.maybe_purge(None);
        }
        let room = class::size(c);
        let mut page = self.queues[c].get();
        while !page.is_null() {
            // SAFETY: pages on our queues are live pages of our segments.
            let p = unsafe { &*page };
            Self::collect(p);
            if p.has_room() {
                self.unlink(p);
                self.push_front(c, page);
                return p.pop().map(|block| Found { block, room });
            }
            let next = p.next.get();
            // No room: mark it full, unless another thread just gave a block back.
            if p.thread_free
                .compare_exchange(ptr::null_mut(), FULL, AcqRel, Relaxed)
                .is_ok()
            {
                self.unlink(p);
                p.in_full.set(true);
                p.next.set(self.full.get());
                if let Some(f) = NonNull::new(self.full.get()) {
                    // SAFETY: pages on our full list are live pages of our segments.
                    unsafe { f.as_ref().prev.set(page) };
                }
                self.full.set(page);
                page = next;
            }
        }
        if let Some(spare) = NonNull::new(self.spare[c].replace(ptr::null_mut())) {
            self.push_front(c, spare.as_ptr());
            // SAFETY: the spare is an empty page of ours, of class `c`.
            return unsafe { spare.as_ref() }
                .pop()
                .map(|block| Found { block, room });
        }
        // SAFETY: the caller holds this heap.
        let (seg, i) = unsafe { self.take_pages(1)? };
        Segment::init_small(seg, i, c, room);
        // SAFETY: page `i` of our segment `seg` was just set up.
        let page = unsafe { ptr::addr_of!((*seg.as_ptr()).pages[i]).cast_mut() };
        self.push_front(c, page);
        // SAFETY: as above.
        unsafe { &*page }.pop().map(|block| Found { block, room })
    }

    /// A span, or a huge block.
    ///
    /// # Safety
    /// As [`alloc`](Self::alloc).
    #[cold]
    unsafe fn alloc_large(&self, size: usize) -> Option<Found> {
        let pages = size.checked_add(PAGE_SIZE - 1)? >> PAGE_SHIFT;
        if pages > MAX_SPAN_PAGES {
            // SAFETY: the control outlives its heaps.
            return unsafe { (*self.control).alloc_huge(size) };
        }
        // SAFETY: the caller holds this heap.
        unsafe {
            self.drain_delayed();
            self.maybe_purge(None);
        }
        // SAFETY: the caller holds this heap.
        let (seg, i) = unsafe { self.take_pages(pages)? };
        Segment::init_span(seg, i, pages);
        Some(Found {
            block: Segment::page_start(seg, i),
            room: pages << PAGE_SHIFT,
        })
    }

    /// Gives back a block that [`alloc`](Self::alloc) of any heap of this allocator
    /// returned; its start is `block`.
    ///
    /// # Safety
    /// The calling thread holds this heap; `block` is the start of a live block of this
    /// allocator, with the provenance of its segment's mapping, not used afterwards.
    #[inline]
    pub(crate) unsafe fn free(&self, block: NonNull<u8>) {
        let seg = Segment::of(block);
        // SAFETY: a live block lies in a live segment, whose header is at `seg`.
        let s = unsafe { seg.as_ref() };
        if s.is_huge() {
            // SAFETY: the block is the huge segment's only block, which dies now.
            if let Some(at) = unsafe { (*s.control).free_huge(seg) } {
                self.note_purge(at);
            }
            return;
        }
        let i = Segment::page_index(seg, block.as_ptr());
        let page = &s.pages[i];
        let owner = s.heap.load(Relaxed);
        if ptr::eq(owner, self) {
            // SAFETY: our page, our block (the caller's precondition).
            unsafe { self.free_local(seg, i, block) };
            return;
        }
        let block = block.cast::<Block>().as_ptr();
        if page.kind() == PageKind::Small {
            // SAFETY: the page lives while its block is not given back, and the block
            // is ours to give back, its first word free (the caller's precondition).
            // The page is not touched once the block is pushed: its owner may free it.
            if unsafe { push(&raw const page.thread_free, block, Some(FULL)) } {
                return;
            }
        }
        // SAFETY: heaps live as long as their allocator, and the segment's owner heap
        // does not change while one of its blocks is live.
        let owner = unsafe { &*owner };
        // SAFETY: as above; with no `stop`, the block is pushed.
        unsafe { push(&raw const owner.delayed, block, None) };
    }

    /// Gives back a block of one of our pages.
    ///
    /// # Safety
    /// The calling thread holds this heap, `seg` is ours, and `block` is a live block of
    /// page `i` of it, not used afterwards.
    #[inline]
    unsafe fn free_local(&self, seg: NonNull<Segment>, i: usize, block: NonNull<u8>) {
        // SAFETY: `seg` is our live segment.
        let s = unsafe { seg.as_ref() };
        let page = &s.pages[i];
        if page.kind() != PageKind::Small {
            let n = page.span_pages();
            self.note_purge(Segment::release_pages(s, i, n));
            // SAFETY: we hold the heap and own the segment.
            unsafe { self.maybe_release_segment(seg, false) };
            return;
        }
        let b = block.cast::<Block>().as_ptr();
        // SAFETY: the block is ours and dead; its first word links the free list.
        unsafe { (*b).next = page.free.get() };
        page.free.set(b);
        let used = page.used.get() - 1;
        page.used.set(used);
        // The page's pointer for the lists, with the segment's provenance.
        // SAFETY: page `i` lies in the segment.
        let ptr = unsafe { &raw mut (*seg.as_ptr()).pages[i] };
        if page.in_full.get() {
            // Back from the full list: other threads may give to the page again.
            self.unlink(page);
            page.thread_free.store(ptr::null_mut(), Release);
            self.push_second(page.class.get() as usize, ptr);
        } else if used == 0 && self.queues[page.class.get() as usize].get() != ptr {
            self.unlink(page);
            let spare = &self.spare[page.class.get() as usize];
            if spare.get().is_null() {
                spare.set(ptr);
                return;
            }
            self.note_purge(Segment::release_pages(s, i, 1));
            // SAFETY: we hold the heap and own the segment.
            unsafe { self.maybe_release_segment(seg, false) };
        }
    }

    /// Grows the span that starts at `block` (a block of ours, of a span) over the free
    /// pages that follow it, to at least `bytes`; returns its new room, or `None` if it
    /// cannot (not our segment, not a span, too large, or the pages are not free).
    ///
    /// # Safety
    /// The calling thread holds this heap; `block` is the start of a live block of this
    /// allocator, with its segment's provenance.
    pub(crate) unsafe fn grow_span(&self, block: NonNull<u8>, bytes: usize) -> Option<usize> {
        let seg = Segment::of(block);
        // SAFETY: a live block lies in a live segment.
        let s = unsafe { seg.as_ref() };
        if s.is_huge() || !ptr::eq(s.heap.load(Relaxed), self) {
            return None;
        }
        let i = Segment::page_index(seg, block.as_ptr());
        let head = &s.pages[i];
        if head.kind() != PageKind::SpanHead {
            return None;
        }
        let n = head.span_pages();
        let need = bytes.checked_add(PAGE_SIZE - 1)? >> PAGE_SHIFT;
        if need <= n || need > MAX_SPAN_PAGES || i + need > crate::segment::PAGES {
            return None;
        }
        Segment::extend_span(s, i, n, need).then_some(need << PAGE_SHIFT)
    }

    /// Moves the blocks other threads gave back onto the page's free list.
    #[inline]
    fn collect(page: &Page) {
        let tf = page.thread_free.load(Relaxed);
        if tf.is_null() || tf == FULL {
            return;
        }
        let list = page.thread_free.swap(ptr::null_mut(), Acquire);
        let (mut n, mut tail) = (1, list);
        // SAFETY: the list holds blocks of this page that other threads gave back; their
        // first words link it (written before the release that we acquired).
        unsafe {
            while !(*tail).next.is_null() {
                tail = (*tail).next;
                n += 1;
            }
            (*tail).next = page.free.get();
        }
        page.free.set(list);
        page.used.set(page.used.get() - n);
    }

    /// Frees the blocks of the `delayed` list.
    ///
    /// # Safety
    /// The calling thread holds this heap.
    unsafe fn drain_delayed(&self) {
        if self.delayed.load(Relaxed).is_null() {
            return;
        }
        let mut b = self.delayed.swap(ptr::null_mut(), Acquire);
        while let Some(block) = NonNull::new(b) {
            // SAFETY: the list holds dead blocks of our pages, linked by their first words.
            b = unsafe { (*b).next };
            let seg = Segment::of(block.cast());
            let i = Segment::page_index(seg, block.as_ptr().cast());
            // SAFETY: as above; we hold the heap.
            unsafe { self.free_local(seg, i, block.cast()) };
        }
    }

    /// Takes `n` contiguous free pages from our segments, or from a new segment.
    ///
    /// # Safety
    /// The calling thread holds this heap.
    unsafe fn take_pages(&self, n: usize) -> Option<(NonNull<Segment>, usize)> {
        let mut seg = self.segments.get();
        while let Some(s) = NonNull::new(seg) {
            // SAFETY: our segments are live.
            let r = unsafe { s.as_ref() };
            if let Some(i) = Segment::take_pages(r, n) {
                return Some((s, i));
            }
            seg = r.next.get();
        }
        // SAFETY: the control outlives its heaps.
        let s = unsafe { (*self.control).take_segment()? };
        // SAFETY: a segment off the cache or fresh is ours alone now.
        let r = unsafe { s.as_ref() };
        r.heap.store(ptr::from_ref(self).cast_mut(), Relaxed);
        r.prev.set(ptr::null_mut());
        r.next.set(self.segments.get());
        if let Some(head) = NonNull::new(self.segments.get()) {
            // SAFETY: our segments are live.
            unsafe { head.as_ref().prev.set(s.as_ptr()) };
        }
        self.segments.set(s.as_ptr());
        if let Some(at) = r.purge_at.get() {
            self.note_purge(at);
        }
        let i = Segment::take_pages(r, n)?;
        Some((s, i))
    }

    /// Gives a segment whose pages are all free back to the allocator's cache, unless it
    /// is the heap's only one (kept, so that a heap that empties and fills again makes
    /// no trip to the cache) and `all` is false.
    ///
    /// # Safety
    /// The calling thread holds this heap, and `seg` is one of its segments.
    unsafe fn maybe_release_segment(&self, seg: NonNull<Segment>, all: bool) {
        // SAFETY: our segment is live.
        let s = unsafe { seg.as_ref() };
        if s.free_pages.get() != ALL_FREE {
            return;
        }
        let only = s.prev.get().is_null() && s.next.get().is_null();
        if only && !all {
            return;
        }
        // SAFETY: the neighbours are our live segments.
        unsafe {
            match NonNull::new(s.prev.get()) {
                Some(p) => p.as_ref().next.set(s.next.get()),
                None => self.segments.set(s.next.get()),
            }
            if let Some(n) = NonNull::new(s.next.get()) {
                n.as_ref().prev.set(s.prev.get());
            }
        }
        s.heap.store(ptr::null_mut(), Relaxed);
        // SAFETY: the segment has no live block and is off our list.
        if let Some(at) = unsafe { (*self.control).give_segment(seg) } {
            self.note_purge(at);
        }
    }

    /// Gives back what the heap holds without using it: collects the blocks other
    /// threads gave back, frees empty pages, and gives empty segments to the cache.
    ///
    /// # Safety
    /// The calling thread holds this heap.
    pub(crate) unsafe fn trim(&self) {
        // SAFETY: the caller holds this heap.
        unsafe { self.drain_delayed() };
        for c in 0..class::COUNT {
            if let Some(spare) = NonNull::new(self.spare[c].replace(ptr::null_mut())) {
                // Back on the queue, to be freed with the queue's empty pages below.
                self.push_front(c, spare.as_ptr());
            }
            let mut page = self.queues[c].get();
            while let Some(raw) = NonNull::new(page) {
                // SAFETY: pages on our queues are live pages of our segments.
                let p = unsafe { raw.as_ref() };
                page = p.next.get();
                Self::collect(p);
                if p.used.get() == 0 {
                    self.unlink(p);
                    // Through the list's pointer, which has the segment's provenance.
                    let seg = Segment::of(raw.cast());
                    let i = (ptr::from_ref(p).addr()
                        - seg.as_ptr().addr()
                        - core::mem::offset_of!(Segment, pages))
                        / size_of::<Page>();
                    // SAFETY: our live segment.
                    self.note_purge(Segment::release_pages(unsafe { seg.as_ref() }, i, 1));
                }
            }
        }
        let mut seg = self.segments.get();
        while let Some(s) = NonNull::new(seg) {
            // SAFETY: our segments are live; the next link is read before a release.
            seg = unsafe { s.as_ref().next.get() };
            // SAFETY: we hold the heap and own the segment.
            unsafe { self.maybe_release_segment(s, true) };
        }
        // Every free page's memory back to the OS now.
        // SAFETY: the caller holds this heap.
        unsafe { self.maybe_purge(Some(Instant::now() + PURGE_DELAY)) };
    }

    /// Remembers when a purge is due.
    #[inline]
    fn note_purge(&self, at: Instant) {
        if self.next_purge.get().is_none_or(|t| at < t) {
            self.next_purge.set(Some(at));
        }
    }

    /// Purges the dirty pages of our segments whose purge is due at `now` (the clock's
    /// now if `None`), and the cache's.
    ///
    /// # Safety
    /// The calling thread holds this heap.
    unsafe fn maybe_purge(&self, now: Option<Instant>) {
        let Some(due) = self.next_purge.get() else {
            return;
        };
        let now = match now {
            Some(now) => now,
            None => {
                // Reading the clock costs as much as a few allocations: not every time.
                let ticks = self.ticks.get().wrapping_add(1);
                self.ticks.set(ticks);
                if ticks % PURGE_EVERY != 0 {
                    return;
                }
                Instant::now()
            }
        };
        if now < due {
            return;
        }
        let mut next: Option<Instant> = None;
        let mut seg = self.segments.get();
        while let Some(s) = NonNull::new(seg) {
            // SAFETY: our segments are live, and we own them.
            unsafe {
                if let Some(t) = Segment::purge(s, now) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
                seg = s.as_ref().next.get();
            }
        }
        self.next_purge.set(next);
        // SAFETY: the control outlives its heaps.
        unsafe { (*self.control).purge_cache(now) };
    }

    /// The segments the heap owns, for the allocator's drop.
    pub(crate) fn segments(&self) -> *mut Segment {
        self.segments.get()
    }

    fn push_front(&self, c: usize, page: *mut Page) {
        // SAFETY: `page` is a live page of ours, on no list.
        let p = unsafe { &*page };
        p.in_full.set(false);
        p.prev.set(ptr::null_mut());
        let head = self.queues[c].get();
        p.next.set(head);
        if let Some(h) = NonNull::new(head) {
            // SAFETY: pages on our queues are live.
            unsafe { h.as_ref().prev.set(page) };
        }
        self.queues[c].set(page);
    }

    /// Puts a page on its class's queue right after the first page (or first, if the
    /// queue is empty): a page that has room again does not displace the page being
    /// allocated from, so a page that gets one block back is not taken up for that one
    /// block, then found full again, over and over.
    fn push_second(&self, c: usize, page: *mut Page) {
        let Some(head) = NonNull::new(self.queues[c].get()) else {
            self.push_front(c, page);
            return;
        };
        // SAFETY: `page` is a live page of ours, on no list; `head` and its next are
        // live pages on our queue.
        unsafe {
            let p = &*page;
            let h = head.as_ref();
            p.in_full.set(false);
            p.prev.set(head.as_ptr());
            p.next.set(h.next.get());
            if let Some(n) = NonNull::new(h.next.get()) {
                n.as_ref().prev.set(page);
            }
            h.next.set(page);
        }
    }

    /// Takes a page off its queue or off the full list.
    fn unlink(&self, p: &Page) {
        let (prev, next) = (p.prev.get(), p.next.get());
        // SAFETY: the neighbours are live pages on the same list.
        unsafe {
            match NonNull::new(prev) {
                Some(q) => q.as_ref().next.set(next),
                None if p.in_full.get() => self.full.set(next),
                None => self.queues[p.class.get() as usize].set(next),
            }
            if let Some(n) = NonNull::new(next) {
                n.as_ref().prev.set(prev);
            }
        }
        p.next.set(ptr::null_mut());
        p.prev.set(ptr::null_mut());
    }
}

/// Pushes `block` onto the atomic list whose head is at `list` (a page's `thread_free`
/// or a heap's `delayed`), by compare-and-swap, unless its head is `stop` (or becomes it
/// before the push lands). Returns whether it pushed.
///
/// `list` is a pointer, not a reference: once the block is pushed, the list's owner may
/// free the page that holds the list before this call returns.
///
/// # Safety
/// `list` is valid until the block is pushed (it lives while `block` is not given
/// back); `block` is a block of this allocator that the caller gives back, its first
/// word free.
#[inline]
unsafe fn push(list: *const AtomicPtr<Block>, block: *mut Block, stop: Option<*mut Block>) -> bool {
    // SAFETY: the block is not pushed yet, so `list` is valid (the caller's
    // precondition).
    let mut head = unsafe { (*list).load(Relaxed) };
    while Some(head) != stop {
        // SAFETY: the block's first word is free (the caller's precondition).
        unsafe { (*block).next = head };
        // SAFETY: as for the load: the block is not pushed yet.
        match unsafe { (*list).compare_exchange_weak(head, block, Release, Relaxed) } {
            // `list` is not touched after this.
            Ok(_) => return true,
            Err(now) => head = now,
        }
    }
    false
}
