//! The engine: two-level segregated fits (TLSF) over one region of bytes, with
//! immediate coalescing and an exact map of the live payloads.
//!
//! # Layout of the region
//! ```text
//! [skip][heads: fl_count × 16 × u32][live map: 1 bit per granule][heap: blocks ...]
//! ```
//! `skip` brings the start to a multiple of [`GRANULE`] ([`MIN_ALIGN`]); every offset
//! below counts from there and is a multiple of the granule. The heap is tiled by
//! blocks, each starting with a 16-byte header of four `u32` words:
//!
//! | word | used block                        | free block                 |
//! |------|-----------------------------------|----------------------------|
//! | 0    | size \| `PREV_FREE` \| `ROOT`     | size \| `FREE`             |
//! | 1    | next block of the root's chain    | next block of the free list|
//! | 2    | previous block of the chain       | previous block of the list |
//! | 3    | requested size (for exact stats)  | (unused)                   |
//!
//! A free block also ends with a footer word holding its size, so that the block
//! after it (flagged `PREV_FREE`) finds its start to merge with it. The payload of a
//! used block starts right after its header. Two free blocks are never adjacent.
//!
//! # Size classes
//! Sizes below `16 × GRANULE` map to first level 0, one class per granule; above, the
//! first level is the power of two and the second level splits it into 16 classes. A
//! bitmap per level finds the first non-empty class at or above a given one with two
//! bit scans. The search rounds the request up to the next class boundary ("good fit"),
//! so that the head of any list found fits without a scan; if that finds nothing, at
//! most [`SCAN_LIMIT`] blocks of the lower classes that may still fit are examined.

use core::ptr::NonNull;

use linked_alloc::MIN_ALIGN;

/// Whether a live block is a root or a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// A root: `free_root` frees it with its chain.
    Root,
    /// A child, linked into its root's chain.
    Child,
}

/// A live block found by [`Heap::live_block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LiveBlock {
    /// The offset of its header in the heap.
    pub(crate) header: usize,
    /// Root or child.
    pub(crate) kind: BlockKind,
}

/// Every block size and offset is a multiple of this: [`MIN_ALIGN`].
pub(crate) const GRANULE: usize = MIN_ALIGN;
const GRANULE_LOG2: u32 = GRANULE.trailing_zeros();
/// Bytes in front of every payload: four `u32` words.
pub(crate) const HEADER: usize = 16;
const SL_LOG2: u32 = 4;
const SL_COUNT: usize = 1 << SL_LOG2;
const FL_SHIFT: u32 = SL_LOG2 + GRANULE_LOG2;
/// Sizes below this map linearly to first level 0.
const LINEAR: usize = 1 << FL_SHIFT;
/// First-level classes needed for every size below 2³².
const FL_MAX: usize = (u32::BITS - FL_SHIFT + 1) as usize;
/// The largest span of the region that is managed (offsets and sizes fit in a `u32`).
pub(crate) const MAX_SPAN: usize = ((u32::MAX as usize) & !(GRANULE - 1)) - GRANULE;
/// At most this many free blocks are examined when the good-fit search finds nothing.
pub(crate) const SCAN_LIMIT: usize = 16;

/// "No block" in a list or chain link, and in a list head: offset 0, where the list
/// heads lie (`heap_start > 0`), so no block's header is ever there. Zero, so that the
/// tables start as zeros: one fill at set-up (no `memset` of another byte pulled in).
pub(crate) const NONE: u32 = 0;
const FREE: u32 = 1;
const PREV_FREE: u32 = 2;
const ROOT: u32 = 4;
const FLAGS: u32 = FREE | PREV_FREE | ROOT;

// Header words.
const SIZE: usize = 0;
const NEXT: usize = 4;
const PREV: usize = 8;
const AUX: usize = 12;

const _: () = assert!(
    GRANULE.is_power_of_two() && GRANULE >= 8,
    "flags need 3 low bits"
);
const _: () = assert!(HEADER % GRANULE == 0 && HEADER == 4 * core::mem::size_of::<u32>());
const _: () = assert!(FL_MAX < 32, "the first-level bitmap is a u32");
const _: () = assert!(SL_COUNT <= 32, "a second-level bitmap is a u32");

/// The size class `(first level, second level)` of a block size.
#[inline]
fn class_of(size: usize) -> (usize, usize) {
    if size < LINEAR {
        (0, size >> GRANULE_LOG2)
    } else {
        let msb = usize::BITS - 1 - size.leading_zeros();
        let fl = (msb - FL_SHIFT + 1) as usize;
        let sl = (size >> (msb - SL_LOG2)) & (SL_COUNT - 1);
        (fl, sl)
    }
}

/// `size` rounded up to the lower bound of the next class, unless it is one already:
/// every block of the class of the result, and of any class above, is `>= size`.
#[inline]
fn good_fit(size: usize) -> Option<usize> {
    if size < LINEAR {
        Some(size)
    } else {
        let msb = usize::BITS - 1 - size.leading_zeros();
        size.checked_add((1usize << (msb - SL_LOG2)) - 1)
    }
}

/// The class after `(fl, sl)`.
#[inline]
fn successor((fl, sl): (usize, usize)) -> (usize, usize) {
    if sl + 1 < SL_COUNT {
        (fl, sl + 1)
    } else {
        (fl + 1, 0)
    }
}

#[inline]
fn link(v: u32) -> Option<usize> {
    (v != NONE).then_some(v as usize)
}

/// `n` rounded up to the granule; callers keep `n <= MAX_SPAN`, so this cannot wrap.
#[inline]
fn granules(n: usize) -> usize {
    (n + GRANULE - 1) & !(GRANULE - 1)
}

/// The state of one pool: where its tables and heap lie in the region, the class
/// bitmaps and the free byte count. It holds offsets only, never addresses, so a pool
/// that is moved as a whole (state and region together) stays consistent.
#[derive(Debug)]
pub(crate) struct Tlsf {
    ready: bool,
    /// Bytes from the region's start to its first granule-aligned byte.
    skip: usize,
    /// Bytes managed from there (a multiple of the granule, at most [`MAX_SPAN`]).
    span: usize,
    /// Offset of the list heads: `fl_count × SL_COUNT` words.
    heads: usize,
    /// Offset of the live map: one bit per granule of `0..=heap_end`.
    live: usize,
    heap_start: usize,
    heap_end: usize,
    fl_count: usize,
    fl_bitmap: u32,
    sl_bitmap: [u32; FL_MAX],
    free_bytes: usize,
}

impl Tlsf {
    /// A state that lays itself out over its region on first use.
    pub(crate) const fn new() -> Self {
        Self {
            ready: false,
            skip: 0,
            span: 0,
            heads: 0,
            live: 0,
            heap_start: 0,
            heap_end: 0,
            fl_count: 0,
            fl_bitmap: 0,
            sl_bitmap: [0; FL_MAX],
            free_bytes: 0,
        }
    }

    /// A view of the heap over the region `base..base + len`, laying out the tables
    /// and one free block over the whole heap on the first call.
    ///
    /// # Safety
    /// `base` is valid for reads and writes of `len` bytes while the view lives; those
    /// bytes belong to this state alone (apart from the payloads of the live blocks it
    /// handed out, which it never touches), and they are the bytes of every earlier
    /// call with this state (the same place, or moved together with the state). No
    /// other view of this state exists meanwhile (`&mut self`).
    #[inline]
    pub(crate) unsafe fn view(&mut self, base: NonNull<u8>, len: usize) -> Heap<'_> {
        if !self.ready {
            // SAFETY: the caller's precondition is `set_up`'s.
            unsafe { self.set_up(base, len) };
        }
        // SAFETY: `lay_out` keeps `skip + span <= len`, so `base + skip` stays inside
        // (or one past the end of) the region, which is valid (the precondition).
        let mem = unsafe { base.add(self.skip) };
        Heap { st: self, mem }
    }

    /// Lays out the tables and one free block over the whole heap, once (out of line:
    /// every view but the first skips it).
    ///
    /// # Safety
    /// As for [`view`](Self::view).
    #[cold]
    #[inline(never)]
    unsafe fn set_up(&mut self, base: NonNull<u8>, len: usize) {
        self.lay_out(base.as_ptr() as usize, len);
        // SAFETY: `lay_out` keeps `skip + span <= len`, so `base + skip` stays inside
        // (or one past the end of) the region, which is valid (the precondition).
        let mem = unsafe { base.add(self.skip) };
        Heap { st: self, mem }.format();
    }

    /// Whether a region at `addr` of `len` bytes holds the tables and one block (of a
    /// zero-size payload); if not, every request to a pool over it would fail.
    pub(crate) fn fits(addr: usize, len: usize) -> bool {
        let (_, span, _, heap_start) = Self::tables(addr, len);
        span >= heap_start + HEADER
    }

    /// Where the tables and the heap lie in a region at `addr` of `len` bytes: `(skip,
    /// span, fl_count, heap_start)`.
    fn tables(addr: usize, len: usize) -> (usize, usize, usize, usize) {
        let skip = addr.wrapping_neg() & (GRANULE - 1);
        let span = len.saturating_sub(skip).min(MAX_SPAN) & !(GRANULE - 1);
        let fl_count = class_of(span).0 + 1;
        let heads_bytes = fl_count * SL_COUNT * 4;
        let live_words = (span / GRANULE + 1).div_ceil(32);
        let heap_start = granules(heads_bytes + live_words * 4);
        (skip, span, fl_count, heap_start)
    }

    /// Computes where the tables and the heap lie in a region at `addr` of `len` bytes.
    fn lay_out(&mut self, addr: usize, len: usize) {
        let (skip, span, fl_count, heap_start) = Self::tables(addr, len);
        let heads_bytes = fl_count * SL_COUNT * 4;
        if span < heap_start + HEADER {
            // Too small for the tables and one block: an empty layout (no tables, no
            // heap), so that every request fails. Field by field: assigning
            // `Self::new()` would link a `memset` for its arrays.
            (self.skip, self.span, self.heads, self.live) = (0, 0, 0, 0);
            (self.heap_start, self.heap_end, self.fl_count) = (0, 0, 0);
            return;
        }
        self.skip = skip;
        self.span = span;
        self.heads = 0;
        self.live = heads_bytes;
        self.heap_start = heap_start;
        self.heap_end = span;
        self.fl_count = fl_count;
    }
}

/// The heap of one pool, bound to its region for the time of one locked call. All
/// offsets count from `mem`, the region's first granule-aligned byte.
pub(crate) struct Heap<'a> {
    st: &'a mut Tlsf,
    mem: NonNull<u8>,
}

impl Heap<'_> {
    #[inline]
    fn rd(&self, off: usize) -> u32 {
        debug_assert!(off % 4 == 0 && off + 4 <= self.st.span);
        // SAFETY: every metadata offset is a multiple of 4 inside the span (the
        // invariants of the layout: tables below `heap_start`, headers and footers
        // inside blocks that tile the heap), and `mem` is granule-aligned; the region
        // is valid for reads (the precondition of `Tlsf::view`).
        unsafe { self.mem.add(off).cast::<u32>().read() }
    }

    #[inline]
    fn wr(&mut self, off: usize, v: u32) {
        debug_assert!(off % 4 == 0 && off + 4 <= self.st.span);
        // SAFETY: as in `rd`; metadata bytes belong to this state alone, and the view
        // is the only one (`&mut`), so writing them races with nothing.
        unsafe { self.mem.add(off).cast::<u32>().write(v) }
    }

    /// Writes the tables and one free block over the whole heap.
    fn format(&mut self) {
        // The list heads (all `NONE`, which is 0) and the live map (all clear) lie
        // together from `heads` to `heap_start`.
        const _: () = assert!(NONE == 0);
        debug_assert!(self.st.heads == 0 && self.st.live == self.st.fl_count * SL_COUNT * 4);
        // Volatile stores, one word at a time: a plain loop (or `write_bytes`) becomes a
        // call to a word-aligned `memset`, ~170 B of code that a firmware image would
        // link for this one call. Speed does not matter here: this runs once.
        let mut off = self.st.heads;
        while off < self.st.heap_start {
            debug_assert!(off % 4 == 0 && off + 4 <= self.st.span);
            // SAFETY: `heads..heap_start` lies in the span (the layout keeps it below
            // `heap_start < span`), word-aligned from the granule-aligned `mem`; the span
            // is valid for writes and this state's alone (the precondition of
            // `Tlsf::view`), and this view is the only one (`&mut`).
            unsafe { self.mem.add(off).cast::<u32>().write_volatile(0) };
            off += 4;
        }
        self.st.ready = true;
        if self.st.heap_end > self.st.heap_start {
            self.push_free_out_of_line(self.st.heap_start, self.st.heap_end - self.st.heap_start);
        }
    }

    /// The region's first managed byte, where offsets count from.
    #[inline]
    pub(crate) fn mem(&self) -> NonNull<u8> {
        self.mem
    }

    /// The same view, borrowed again for a shorter time.
    #[inline]
    pub(crate) fn reborrow(&mut self) -> Heap<'_> {
        Heap {
            st: &mut *self.st,
            mem: self.mem,
        }
    }

    /// Bytes the blocks can take, headers included.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.st.heap_end - self.st.heap_start
    }

    /// Bytes in free blocks, headers included.
    #[inline]
    pub(crate) fn free_bytes(&self) -> usize {
        self.st.free_bytes
    }

    #[inline]
    fn size_of(&self, b: usize) -> usize {
        (self.rd(b + SIZE) & !FLAGS) as usize
    }

    #[inline]
    fn head_off(&self, (fl, sl): (usize, usize)) -> usize {
        debug_assert!(fl < self.st.fl_count && sl < SL_COUNT);
        self.st.heads + 4 * (fl * SL_COUNT + sl)
    }

    #[inline]
    fn set_live(&mut self, payload: usize, live: bool) {
        let bit = payload / GRANULE;
        let word = self.st.live + 4 * (bit / 32);
        let mask = 1u32 << (bit % 32);
        let w = self.rd(word);
        self.wr(word, if live { w | mask } else { w & !mask });
    }

    #[inline]
    fn is_live(&self, payload: usize) -> bool {
        let bit = payload / GRANULE;
        self.rd(self.st.live + 4 * (bit / 32)) & (1 << (bit % 32)) != 0
    }

    /// Sets or clears `PREV_FREE` on the block at `b`, if there is a block there.
    #[inline]
    fn mark_prev_free(&mut self, b: usize, prev_free: bool) {
        if b < self.st.heap_end {
            let w = self.rd(b + SIZE);
            self.wr(
                b + SIZE,
                if prev_free {
                    w | PREV_FREE
                } else {
                    w & !PREV_FREE
                },
            );
        }
    }

    /// [`push_free`](Self::push_free), out of line: for the calls that are not the hot
    /// path's (the gap before an over-aligned block, the rest of a block grown in place,
    /// the first free block), which share this copy; an allocation's split and a free
    /// inline theirs.
    #[inline(never)]
    fn push_free_out_of_line(&mut self, b: usize, size: usize) {
        self.push_free(b, size);
    }

    /// Makes `b..b + size` a free block at the head of its class's list. The caller
    /// sets `PREV_FREE` on the block after it.
    #[inline(always)]
    fn push_free(&mut self, b: usize, size: usize) {
        debug_assert!(size >= HEADER && size % GRANULE == 0 && b + size <= self.st.heap_end);
        let class = class_of(size);
        let head_off = self.head_off(class);
        let head = self.rd(head_off);
        self.wr(b + SIZE, size as u32 | FREE);
        self.wr(b + NEXT, head);
        self.wr(b + PREV, NONE);
        self.wr(b + size - 4, size as u32);
        if let Some(h) = link(head) {
            self.wr(h + PREV, b as u32);
        }
        self.wr(head_off, b as u32);
        self.st.fl_bitmap |= 1 << class.0;
        self.st.sl_bitmap[class.0] |= 1 << class.1;
        self.st.free_bytes += size;
    }

    /// [`unlink_free`](Self::unlink_free), out of line: for the merges of a free and
    /// a resize, which share this copy; an allocation inlines its own.
    #[inline(never)]
    fn unlink_free_out_of_line(&mut self, b: usize) {
        self.unlink_free(b);
    }

    /// Takes the free block at `b` off its list. The caller fixes the flags around it.
    #[inline(always)]
    fn unlink_free(&mut self, b: usize) {
        let size = self.size_of(b);
        let class = class_of(size);
        let next = self.rd(b + NEXT);
        let prev = self.rd(b + PREV);
        match link(prev) {
            Some(p) => self.wr(p + NEXT, next),
            None => {
                let head_off = self.head_off(class);
                self.wr(head_off, next);
                if next == NONE {
                    self.st.sl_bitmap[class.0] &= !(1 << class.1);
                    if self.st.sl_bitmap[class.0] == 0 {
                        self.st.fl_bitmap &= !(1 << class.0);
                    }
                }
            }
        }
        if let Some(n) = link(next) {
            self.wr(n + PREV, prev);
        }
        self.st.free_bytes -= size;
    }

    /// The first non-empty class at or above `(fl, sl)`: two bit scans.
    #[inline]
    fn first_nonempty(&self, (fl, sl): (usize, usize)) -> Option<(usize, usize)> {
        // `get`, not indexing: no panic path. Past `fl_count` the classes are empty
        // (their bits are never set), so `None` comes out as it should.
        let here = self.st.sl_bitmap.get(fl)? & (u32::MAX << sl);
        if here != 0 {
            return Some((fl, here.trailing_zeros() as usize));
        }
        // `fl + 1 <= FL_MAX < 32`: the shift is in range.
        let above = self.st.fl_bitmap & (u32::MAX << (fl + 1));
        if above == 0 {
            return None;
        }
        let f = above.trailing_zeros() as usize;
        Some((f, self.st.sl_bitmap.get(f)?.trailing_zeros() as usize))
    }

    /// Where a payload of a block of `need` bytes (header included) aligned to `align`
    /// would start in the free block at `b`: the gap before its header, or `None` if
    /// it does not fit. A gap is 0 or at least a header, so it can be a free block.
    #[inline]
    fn fit(&self, b: usize, need: usize, align: usize) -> Option<usize> {
        let size = self.size_of(b);
        let gap = if align <= GRANULE {
            0
        } else {
            let payload = self.mem.as_ptr() as usize + b + HEADER;
            let mut gap = payload.wrapping_neg() & (align - 1);
            if gap != 0 && gap < HEADER {
                gap += align;
            }
            gap
        };
        (gap.checked_add(need)? <= size).then_some(gap)
    }

    /// Finds a free block for `need` bytes aligned to `align`: the good-fit class
    /// search (O(1)), then at most [`SCAN_LIMIT`] blocks of the classes below it.
    #[inline]
    fn find(&self, need: usize, align: usize) -> Option<(usize, usize)> {
        // The most a gap can take: `align - GRANULE`, or that plus `align` when the
        // natural gap is shorter than a header.
        let search = if align <= GRANULE {
            Some(need)
        } else {
            need.checked_add(align)?.checked_add(HEADER)
        };
        let limit = match search.filter(|&s| s <= MAX_SPAN).and_then(good_fit) {
            Some(rounded) => {
                let class = class_of(rounded);
                if let Some(found) = self.first_nonempty(class) {
                    let b = self.rd(self.head_off(found)) as usize;
                    if let Some(gap) = self.fit(b, need, align) {
                        return Some((b, gap));
                    }
                    debug_assert!(false, "a good-fit head did not fit");
                }
                class
            }
            None => (self.st.fl_count, 0),
        };
        let mut class = class_of(need);
        let mut budget = SCAN_LIMIT;
        while let Some(found) = self.first_nonempty(class) {
            if found >= limit {
                break;
            }
            let mut next = link(self.rd(self.head_off(found)));
            while let Some(b) = next {
                if budget == 0 {
                    return None;
                }
                budget -= 1;
                if let Some(gap) = self.fit(b, need, align) {
                    return Some((b, gap));
                }
                next = link(self.rd(b + NEXT));
            }
            class = successor(found);
        }
        None
    }

    /// Allocates a block with a payload of `size` bytes aligned to `align` (a power of
    /// two), marked as a block of `kind`: returns the payload's offset. The block is on
    /// no chain yet.
    #[inline(never)]
    pub(crate) fn allocate(&mut self, size: usize, align: usize, kind: BlockKind) -> Option<usize> {
        if size > MAX_SPAN - HEADER || align > MAX_SPAN {
            return None;
        }
        let need = HEADER + granules(size);
        if need > self.capacity() {
            return None;
        }
        let (start, gap) = self.find(need, align)?;
        let total = self.size_of(start);
        self.unlink_free(start);
        let b = start + gap;
        let avail = total - gap;
        let mut flags = 0;
        if gap > 0 {
            // The block before `start` is used (free blocks never touch), so the gap
            // is a free block of its own.
            // Rare (an over-aligned request): the out-of-line copy.
            self.push_free_out_of_line(start, gap);
            flags |= PREV_FREE;
        }
        let rest = avail - need;
        let block = if rest >= HEADER {
            // The block after the tail already has `PREV_FREE` (it followed `start`).
            self.push_free(b + need, rest);
            need
        } else {
            self.mark_prev_free(b + avail, false);
            avail
        };
        if kind == BlockKind::Root {
            flags |= ROOT;
        }
        self.wr(b + SIZE, block as u32 | flags);
        self.wr(b + NEXT, NONE);
        self.wr(b + PREV, NONE);
        self.wr(b + AUX, size as u32);
        self.set_live(b + HEADER, true);
        Some(b + HEADER)
    }

    /// Gives the used block at `b` back, merging it with free neighbours: O(1). The
    /// caller has taken it off its chain (or frees its whole chain).
    ///
    /// Out of line: every free goes through this one copy (a root, its children, a
    /// child reclaimed, the tail of a shrink). A call per block costs a few
    /// instructions; a copy per caller cost about 450 B of firmware code each.
    #[inline(never)]
    pub(crate) fn free_block(&mut self, b: usize) {
        let w = self.rd(b + SIZE);
        let size = (w & !FLAGS) as usize;
        self.set_live(b + HEADER, false);
        let mut start = b;
        let mut total = size;
        if w & PREV_FREE != 0 {
            let prev_size = self.rd(b - 4) as usize;
            start = b - prev_size;
            self.unlink_free_out_of_line(start);
            total += prev_size;
        }
        let next = b + size;
        if next < self.st.heap_end && self.rd(next + SIZE) & FREE != 0 {
            total += self.size_of(next);
            self.unlink_free_out_of_line(next);
        }
        self.push_free(start, total);
        self.mark_prev_free(start + total, true);
    }

    /// The live block whose payload is at address `addr`: its header's offset and
    /// whether it is a root. Exact for any address: `None` for anything else.
    #[inline]
    pub(crate) fn live_block(&self, addr: usize) -> Option<LiveBlock> {
        let off = addr.wrapping_sub(self.mem.as_ptr() as usize);
        if addr < self.mem.as_ptr() as usize
            || off < self.st.heap_start + HEADER
            || off > self.st.heap_end
            || off % GRANULE != 0
            || !self.is_live(off)
        {
            return None;
        }
        let b = off - HEADER;
        let kind = if self.rd(b + SIZE) & ROOT != 0 {
            BlockKind::Root
        } else {
            BlockKind::Child
        };
        Some(LiveBlock { header: b, kind })
    }

    /// The requested size of the live block at `b`.
    #[inline]
    pub(crate) fn requested(&self, b: usize) -> usize {
        self.rd(b + AUX) as usize
    }

    /// Links the fresh block `new` into the chain right after the live block `after`,
    /// for a pool of one region, whose chain links are plain offsets.
    #[inline]
    pub(crate) fn link_after(&mut self, after: usize, new: usize) {
        let next = self.rd(after + NEXT);
        self.wr(new + NEXT, next);
        self.wr(new + PREV, after as u32);
        if let Some(n) = link(next) {
            self.wr(n + PREV, new as u32);
        }
        self.wr(after + NEXT, new as u32);
    }

    /// The chain's link to the next block, in the header of the used block at `b`
    /// (opaque here: the links are written by the pool, over all its regions).
    #[inline]
    pub(crate) fn chain_next(&self, b: usize) -> u32 {
        self.rd(b + NEXT)
    }

    /// The chain's link to the previous block, in the header of the used block at `b`.
    #[inline]
    pub(crate) fn chain_prev(&self, b: usize) -> u32 {
        self.rd(b + PREV)
    }

    /// Sets the chain's link to the next block in the header of the used block at `b`.
    #[inline]
    pub(crate) fn set_chain_next(&mut self, b: usize, link: u32) {
        self.wr(b + NEXT, link);
    }

    /// Sets the chain's link to the previous block in the header of the used block at
    /// `b`.
    #[inline]
    pub(crate) fn set_chain_prev(&mut self, b: usize, link: u32) {
        self.wr(b + PREV, link);
    }

    /// The kind of the used block whose header is at offset `b`, or `None` if there is
    /// none there (exact for any offset: inside the heap, on a granule, its payload
    /// marked in the live map).
    pub(crate) fn used_kind(&self, b: usize) -> Option<BlockKind> {
        let used = b >= self.st.heap_start
            && b + HEADER <= self.st.heap_end
            && b % GRANULE == 0
            && self.is_live(b + HEADER);
        used.then(|| {
            if self.rd(b + SIZE) & ROOT != 0 {
                BlockKind::Root
            } else {
                BlockKind::Child
            }
        })
    }

    /// The first used block after the block at `after` (from the heap's start for
    /// `None`), in address order: its header offset and kind. The blocks must tile the
    /// heap (checked first by [`check`](Self::check)).
    pub(crate) fn next_used(&self, after: Option<usize>) -> Option<(usize, BlockKind)> {
        let mut b = match after {
            Some(a) => a + self.size_of(a),
            None => self.st.heap_start,
        };
        while b < self.st.heap_end {
            let w = self.rd(b + SIZE);
            if w & FREE == 0 {
                let kind = if w & ROOT != 0 {
                    BlockKind::Root
                } else {
                    BlockKind::Child
                };
                return Some((b, kind));
            }
            b += (w & !FLAGS) as usize;
        }
        None
    }

    /// Resizes the live block at `b` to a payload of `new_size` bytes without moving
    /// it: shrinking always works (the tail goes back if it can hold a header), growing
    /// works when the block after it is free and large enough. O(1).
    #[inline]
    pub(crate) fn resize(&mut self, b: usize, new_size: usize) -> bool {
        if new_size > MAX_SPAN - HEADER {
            return false;
        }
        let w = self.rd(b + SIZE);
        let size = (w & !FLAGS) as usize;
        let flags = w & FLAGS;
        let need = HEADER + granules(new_size);
        let next = b + size;
        if need <= size {
            let rest = size - need;
            if rest >= HEADER {
                // The tail becomes a used block of its own (no flags: the block before
                // it is used), freed at once: merged with a free block after it, listed.
                // Its payload start is inside `b`'s payload, so not marked live.
                self.wr(b + SIZE, need as u32 | flags);
                self.wr(b + need + SIZE, rest as u32);
                self.free_block(b + need);
            }
        } else {
            if next >= self.st.heap_end || self.rd(next + SIZE) & FREE == 0 {
                return false;
            }
            let total = size + self.size_of(next);
            if total < need {
                return false;
            }
            self.unlink_free_out_of_line(next);
            let rest = total - need;
            if rest >= HEADER {
                // The block after `next` keeps `PREV_FREE`: the tail is free.
                self.wr(b + SIZE, need as u32 | flags);
                self.push_free_out_of_line(b + need, rest);
            } else {
                self.wr(b + SIZE, total as u32 | flags);
                self.mark_prev_free(b + total, false);
            }
        }
        self.wr(b + AUX, new_size as u32);
        true
    }

    /// The size of the largest free block (header included), 0 if none: a scan of
    /// the top non-empty class's list.
    pub(crate) fn largest_free(&self) -> usize {
        if self.st.fl_bitmap == 0 {
            return 0;
        }
        let fl = (31 - self.st.fl_bitmap.leading_zeros()) as usize;
        let sl = (31 - self.st.sl_bitmap[fl].leading_zeros()) as usize;
        let mut largest = 0;
        let mut next = link(self.rd(self.head_off((fl, sl))));
        while let Some(b) = next {
            largest = largest.max(self.size_of(b));
            next = link(self.rd(b + NEXT));
        }
        largest
    }

    /// Walks every block of the heap and checks the invariants: blocks tile the heap,
    /// flags and footers agree, no two free blocks touch, the free lists and the byte
    /// count match. O(n); for tests and debugging. Returns the number of free blocks.
    pub(crate) fn check(&self) -> Result<usize, &'static str> {
        let (mut b, mut prev_free, mut free_blocks, mut free_bytes) =
            (self.st.heap_start, false, 0, 0);
        while b < self.st.heap_end {
            let w = self.rd(b + SIZE);
            let size = (w & !FLAGS) as usize;
            if size < HEADER || size % GRANULE != 0 || b + size > self.st.heap_end {
                return Err("a block size is out of bounds");
            }
            if (w & PREV_FREE != 0) != prev_free {
                return Err("a PREV_FREE flag disagrees with the block before");
            }
            let free = w & FREE != 0;
            if free {
                if prev_free {
                    return Err("two free blocks touch");
                }
                if self.rd(b + size - 4) as usize != size {
                    return Err("a free block's footer disagrees with its size");
                }
                if self.is_live(b + HEADER) {
                    return Err("a free block is marked live");
                }
                free_blocks += 1;
                free_bytes += size;
            } else if !self.is_live(b + HEADER) {
                return Err("a used block is not marked live");
            }
            prev_free = free;
            b += size;
        }
        if b != self.st.heap_end && self.st.heap_end != self.st.heap_start {
            return Err("the blocks do not end at the heap's end");
        }
        if free_bytes != self.st.free_bytes {
            return Err("the free byte count is wrong");
        }
        let mut listed = 0;
        for fl in 0..self.st.fl_count {
            for sl in 0..SL_COUNT {
                let mut next = link(self.rd(self.head_off((fl, sl))));
                let nonempty = next.is_some();
                if nonempty != (self.st.sl_bitmap[fl] & (1 << sl) != 0) {
                    return Err("a second-level bit disagrees with its list");
                }
                while let Some(f) = next {
                    if self.rd(f + SIZE) & FREE == 0 || class_of(self.size_of(f)) != (fl, sl) {
                        return Err("a listed block is used or in the wrong class");
                    }
                    listed += 1;
                    next = link(self.rd(f + NEXT));
                }
            }
            if (self.st.sl_bitmap[fl] != 0) != (self.st.fl_bitmap & (1 << fl) != 0) {
                return Err("a first-level bit disagrees with its classes");
            }
        }
        if listed != free_blocks {
            return Err("the free lists do not hold every free block");
        }
        Ok(free_blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_monotonic_and_good_fit_rounds_to_a_boundary() {
        let mut last = (0, 0);
        let step = if cfg!(miri) { 13 * GRANULE } else { GRANULE };
        for size in (HEADER..1 << 20).step_by(step) {
            let c = class_of(size);
            assert!(c >= last, "class of {size} went down");
            last = c;
            let r = good_fit(size).unwrap();
            assert!(r >= size);
            // Every size of the class of `r` is at least `size`.
            let (fl, sl) = class_of(r);
            let lower = if fl == 0 {
                sl << GRANULE_LOG2
            } else {
                let msb = fl as u32 + FL_SHIFT - 1;
                (1 << msb) + (sl << (msb - SL_LOG2))
            };
            assert!(lower >= size, "class lower bound {lower} < {size}");
            assert!(lower <= r);
        }
        assert!(class_of(MAX_SPAN).0 < FL_MAX);
    }
}
