//! Roots and their children: block headers, a root's arena of chunks, and the MAPI
//! operations over a [`Heap`].
//!
//! ```text
//!  a root without children (a small block of its size class):
//!    [Header: arena = null | ROOT, size, align][payload ...]
//!  a root aligned past 16 bytes:
//!    [Header: PADDED, link = payload][...padding...][Header: ROOT][payload]
//!  its first child makes the arena, in the root's first chunk:
//!    [ChunkHeader: CHUNK, link = root | next][Arena: owner, lanes, chunks][children ...]
//!  further chunks (doubling, up to MAX_CHUNK) and big children:
//!    [ChunkHeader: CHUNK or BIG, link = root | next][children, or the one big child]
//! ```
//!
//! Every block starts with a 16-byte [`Header`] whose tag says what it is, so any
//! block's root is found in O(1): `Segment::lookup` gives the start of the block that
//! holds an address, and its header is the root's (ROOT, PADDED) or names the root
//! (CHUNK, BIG). A root's own header is always the 16 bytes before its payload.
//!
//! A root's arena has two bump lanes: the **own lane**, used by the thread that holds
//! the heap that made the root (no lock, no atomic read-modify-write), and the
//! **shared lane**, used under a lock by every other thread. Each lane keeps its share
//! of the root's counts, which `free_root` adds up.

use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{
    AtomicPtr, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use spin::mutex::SpinMutex;

use crate::control::Control;
use crate::heap::Heap;
use crate::segment::{Found, PAGE_SIZE, Segment};

/// The header at the start of every block, and before every root's payload.
#[repr(C, align(16))]
#[derive(Debug)]
pub(crate) struct Header {
    /// ROOT: its arena (null until the first child); PADDED, CHUNK, BIG: the root.
    link: AtomicPtr<u8>,
    /// `size << 16 | log2(align) << 11 | kind << 8 | MAGIC`; 0 when not live.
    meta: AtomicU64,
}

const HEADER: usize = size_of::<Header>();
const _: () = assert!(HEADER == 16);

const MAGIC: u64 = 0xa7;
const KIND_ROOT: u64 = 1;
const KIND_PADDED: u64 = 2;
const KIND_CHUNK: u64 = 3;
const KIND_BIG: u64 = 4;

/// The largest payload a header records: 2⁴⁸ − 1 bytes.
pub(crate) const MAX_SIZE: usize = ((1u64 << 48) - 1) as usize;
/// The largest alignment served: a page.
pub(crate) const MAX_ALIGN: usize = PAGE_SIZE;
/// A root's first chunk (its arena and first children).
const FIRST_CHUNK: usize = 512;
/// The largest chunk: chunks double up to it.
const MAX_CHUNK: usize = if cfg!(miri) { 64 << 10 } else { 1 << 20 };
/// A child that needs more than this gets a block of its own.
pub(crate) const BIG_CHILD: usize = MAX_CHUNK / 4;

impl Header {
    #[inline(always)]
    fn meta(size: usize, align: usize, kind: u64) -> u64 {
        ((size as u64) << 16) | (u64::from(align.trailing_zeros()) << 11) | (kind << 8) | MAGIC
    }

    /// The kind, if the header is live.
    #[inline(always)]
    fn kind(&self) -> Option<u64> {
        let m = self.meta.load(Relaxed);
        (m & 0xff == MAGIC).then_some((m >> 8) & 7)
    }

    #[inline(always)]
    fn size(&self) -> usize {
        (self.meta.load(Relaxed) >> 16) as usize
    }

    #[inline(always)]
    fn set_size(&self, size: usize) {
        let m = self.meta.load(Relaxed);
        self.meta
            .store((m & 0xffff) | ((size as u64) << 16), Relaxed);
    }

    /// Writes a header at `at`.
    ///
    /// # Safety
    /// `at` is 16-aligned and the 16 bytes there are ours to write.
    #[inline(always)]
    unsafe fn write(at: NonNull<u8>, link: *mut u8, meta: u64) -> NonNull<Header> {
        let h = at.cast::<Header>();
        // SAFETY: the caller's precondition.
        unsafe {
            h.write(Header {
                link: AtomicPtr::new(link),
                meta: AtomicU64::new(meta),
            })
        };
        h
    }

    /// The header before a root's payload.
    ///
    /// # Safety
    /// `root` is a root's payload (so a header lies just before it, in the same block).
    #[inline(always)]
    unsafe fn of_root<'a>(root: NonNull<u8>) -> &'a Header {
        // SAFETY: the caller's precondition.
        unsafe { root.cast::<Header>().sub(1).as_ref() }
    }
}

/// The header of a chunk or of a big child's block.
#[repr(C, align(16))]
#[derive(Debug)]
struct ChunkHeader {
    head: Header,
    /// The root's previous chunk (older), or null.
    next: *mut ChunkHeader,
}

const CHUNK_HEADER: usize = size_of::<ChunkHeader>();
const _: () = assert!(CHUNK_HEADER == 32);

/// A bump lane: `[cur, end)` of its current chunk, and its share of the counts.
#[derive(Debug)]
struct Lane {
    cur: *mut u8,
    end: usize,
    children: usize,
    bytes: usize,
    /// The size of the lane's next chunk.
    next_size: usize,
}

// SAFETY: a lane's pointer is into its root's chunks, which any thread that may use the
// root may use; the lane is only reached by its owner or under its lock.
unsafe impl Send for Lane {}

impl Lane {
    const EMPTY: Lane = Lane {
        cur: ptr::null_mut(),
        end: 0,
        children: 0,
        bytes: 0,
        next_size: FIRST_CHUNK * 2,
    };

    /// Carves `size` bytes (at least 1) aligned to `align` from the current chunk.
    #[inline(always)]
    fn carve(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let start = (self.cur.addr() + align - 1) & !(align - 1);
        let end = start.checked_add(size.max(1))?;
        if end > self.end {
            return None;
        }
        self.cur = self.cur.with_addr(end);
        self.children += 1;
        self.bytes += size;
        NonNull::new(self.cur.with_addr(start))
    }
}

/// A root's arena: in its first chunk, after the chunk header.
#[repr(C)]
#[derive(Debug)]
struct Arena {
    /// The heap whose holder uses the own lane.
    owner: *const Heap,
    own: UnsafeCell<Lane>,
    shared: SpinMutex<Lane>,
    /// The newest chunk or big child (a list through their `next`).
    chunks: AtomicPtr<ChunkHeader>,
}

impl Arena {
    /// The arena of the live root whose header is `rh`, if it has children.
    ///
    /// # Safety
    /// `rh` is the header of a live root; the arena is not used after the root is freed.
    #[inline(always)]
    unsafe fn of<'a>(rh: &Header) -> Option<&'a Arena> {
        // SAFETY: a live root's arena lives as long as the root (the caller's promise).
        unsafe { rh.link.load(Acquire).cast::<Arena>().as_ref() }
    }

    /// Runs `f` on the lane the holder of `heap` may use without a lock (the own lane,
    /// when `heap` is the owner) and then, if `f` declined there, on the shared lane
    /// under its lock. What `f` does to a lane must be valid in either lane.
    ///
    /// # Safety
    /// The calling thread holds `heap`.
    #[inline]
    unsafe fn try_lanes(&self, heap: &Heap, mut f: impl FnMut(&mut Lane) -> bool) -> bool {
        // SAFETY: only the holder of `owner` uses the own lane, and the caller holds
        // `heap`, which is the owner when the first operand is evaluated.
        (ptr::eq(self.owner, heap) && f(unsafe { &mut *self.own.get() }))
            || f(&mut self.shared.lock())
    }
}

const ARENA_END: usize = (CHUNK_HEADER + size_of::<Arena>()).next_multiple_of(16);
const _: () = assert!(ARENA_END + 64 <= FIRST_CHUNK);

/// `p` rounded up to `align` (a power of two), with `p`'s provenance; the caller
/// makes sure the result stays in `p`'s block.
#[inline(always)]
fn align_up(p: NonNull<u8>, align: usize) -> NonNull<u8> {
    let up = p.as_ptr().map_addr(|a| (a + align - 1) & !(align - 1));
    // SAFETY: rounding a non-null address up (inside a block, so with no overflow)
    // gives a non-null address.
    unsafe { NonNull::new_unchecked(up) }
}

/// Allocates a root of `size` bytes aligned to `align` (`16 <= align <= MAX_ALIGN`,
/// `size <= MAX_SIZE`).
///
/// # Safety
/// The calling thread holds `heap`.
#[inline(always)]
pub(crate) unsafe fn alloc_root(heap: &Heap, size: usize, align: usize) -> Option<NonNull<u8>> {
    // At least one byte, so that the payload lies inside the block (and is unique).
    let raw = size
        .max(1)
        .checked_add(if align <= HEADER { HEADER } else { align })?;
    // SAFETY: the caller holds the heap.
    let found = unsafe { heap.alloc(raw)? };
    let block = found.block;
    let root = if align <= HEADER {
        // SAFETY: the block has `size + 16` bytes.
        unsafe { block.add(HEADER) }
    } else {
        // SAFETY: the block has `size + align` bytes and starts 16-aligned, so the
        // payload rounded up from `block + 16` ends inside it.
        let root = align_up(unsafe { block.add(HEADER) }, align);
        if root.as_ptr().addr() != block.as_ptr().addr() + HEADER {
            // SAFETY: there are at least 32 bytes before the payload: ours to write.
            unsafe { Header::write(block, root.as_ptr(), Header::meta(0, 16, KIND_PADDED)) };
        }
        root
    };
    // SAFETY: the 16 bytes before the payload are in the block, 16-aligned.
    unsafe {
        Header::write(
            root.cast::<Header>().sub(1).cast(),
            ptr::null_mut(),
            Header::meta(size, align, KIND_ROOT),
        )
    };
    heap.count(1, 0, size as isize);
    Some(root)
}

/// The root of the live block `parent`, if `parent` is a root or points into a chunk or
/// a big child of one; `None` if it is neither (a freed block, or the inside of a root).
///
/// # Safety
/// `parent` points into a segment of the allocator whose control is `control`, with the
/// provenance the allocator gave it.
#[inline(always)]
pub(crate) unsafe fn root_of(control: *const Control, parent: NonNull<u8>) -> Option<NonNull<u8>> {
    // SAFETY: the caller's precondition.
    let found = unsafe { Segment::lookup(parent, control)? };
    // SAFETY: a block found in a live page starts with a header (or with the free-list
    // link and a dead tag, or zeros, which `kind` tells apart).
    let h = unsafe { found.block.cast::<Header>().as_ref() };
    match h.kind()? {
        KIND_ROOT => {
            (found.block.as_ptr().addr() + HEADER == parent.as_ptr().addr()).then_some(parent)
        }
        KIND_PADDED => ptr::eq(h.link.load(Relaxed), parent.as_ptr()).then_some(parent),
        KIND_CHUNK | KIND_BIG => NonNull::new(h.link.load(Relaxed)),
        _ => None,
    }
}

/// The block of the live root `root`, or `None` if `root` is not a live root.
///
/// # Safety
/// As [`root_of`].
#[inline(always)]
pub(crate) unsafe fn root_block(control: *const Control, root: NonNull<u8>) -> Option<Found> {
    // SAFETY: the caller's precondition.
    let found = unsafe { Segment::lookup(root, control)? };
    // SAFETY: as in `root_of`.
    let h = unsafe { found.block.cast::<Header>().as_ref() };
    let ok = match h.kind()? {
        KIND_ROOT => found.block.as_ptr().addr() + HEADER == root.as_ptr().addr(),
        KIND_PADDED => ptr::eq(h.link.load(Relaxed), root.as_ptr()),
        _ => false,
    };
    ok.then_some(found)
}

/// Allocates a child of `size` bytes aligned to `align` under the live `root`.
///
/// # Safety
/// The calling thread holds `heap`; `root` is a live root of the allocator of `heap`,
/// that no thread frees during the call.
#[inline(always)]
pub(crate) unsafe fn alloc_child(
    heap: &Heap,
    root: NonNull<u8>,
    size: usize,
    align: usize,
) -> Option<NonNull<u8>> {
    // SAFETY: `root` is a live root.
    let rh = unsafe { Header::of_root(root) };
    // SAFETY: `root` is live, and no thread frees it during this call.
    let Some(a) = (unsafe { Arena::of(rh) }) else {
        // SAFETY: the caller's precondition.
        return unsafe { first_child(heap, root, size, align) };
    };
    if ptr::eq(a.owner, heap) {
        // SAFETY: only the holder of `owner` uses the own lane, and we hold it.
        let lane = unsafe { &mut *a.own.get() };
        if let Some(p) = lane.carve(size, align) {
            heap.count(0, 1, size as isize);
            return Some(p);
        }
        // SAFETY: as above.
        return unsafe { refill(heap, a, lane, root, size, align) };
    }
    let mut lane = a.shared.lock();
    if let Some(p) = lane.carve(size, align) {
        drop(lane);
        heap.count(0, 1, size as isize);
        return Some(p);
    }
    // SAFETY: we hold the shared lane's lock and the heap.
    unsafe { refill(heap, a, &mut lane, root, size, align) }
}

/// A fresh block of at least `len` bytes for `root`'s children, 16-aligned, with its
/// header written: a chunk (`KIND_CHUNK`, `align` 16) or a big child's block
/// (`KIND_BIG`, the child's `align`). Not yet on the root's list of chunks.
///
/// # Safety
/// The calling thread holds `heap`.
#[inline(always)]
unsafe fn child_block(
    heap: &Heap,
    root: NonNull<u8>,
    len: usize,
    align: usize,
    kind: u64,
) -> Option<Found> {
    // SAFETY: the caller holds the heap.
    let found = unsafe { heap.alloc(len)? };
    // SAFETY: the fresh block is ours, 16-aligned, at least `len` bytes.
    unsafe {
        Header::write(
            found.block,
            root.as_ptr(),
            Header::meta(found.room, align, kind),
        )
    };
    Some(found)
}

/// The first child of `root`: makes the arena in a first chunk, then carves the child.
///
/// # Safety
/// As [`alloc_child`].
#[cold]
#[inline(never)]
unsafe fn first_child(
    heap: &Heap,
    root: NonNull<u8>,
    size: usize,
    align: usize,
) -> Option<NonNull<u8>> {
    // SAFETY: the caller holds the heap.
    let found = unsafe { child_block(heap, root, FIRST_CHUNK, 16, KIND_CHUNK)? };
    let chunk = found.block;
    // SAFETY: the fresh chunk is ours, at least FIRST_CHUNK bytes, its header written.
    unsafe { (*chunk.cast::<ChunkHeader>().as_ptr()).next = ptr::null_mut() };
    // SAFETY: as above: the arena fits after the chunk header.
    let arena = unsafe { chunk.add(CHUNK_HEADER) }.cast::<Arena>();
    let own = Lane {
        // SAFETY: `ARENA_END < FIRST_CHUNK <= room`.
        cur: unsafe { chunk.add(ARENA_END) }.as_ptr(),
        end: chunk.as_ptr().addr() + found.room,
        ..Lane::EMPTY
    };
    // SAFETY: as above.
    // The own lane is for the thread that made the root: the holder of the heap that
    // owns the root's segment (a huge root's segment has no heap: then ours).
    let root_heap = Segment::of(root);
    // SAFETY: the root's segment is live; its header is reached through `root`'s
    // provenance.
    let owner = unsafe { root_heap.as_ref().heap.load(Relaxed) };
    let owner = if owner.is_null() {
        ptr::from_ref(heap)
    } else {
        owner.cast_const()
    };
    // SAFETY: as above.
    unsafe {
        arena.write(Arena {
            owner,
            own: UnsafeCell::new(own),
            shared: SpinMutex::new(Lane::EMPTY),
            chunks: AtomicPtr::new(chunk.cast().as_ptr()),
        })
    };
    // SAFETY: `root` is live.
    let rh = unsafe { Header::of_root(root) };
    if let Err(_other) =
        rh.link
            .compare_exchange(ptr::null_mut(), arena.as_ptr().cast(), AcqRel, Acquire)
    {
        // Another thread made the arena first: give ours back and use theirs.
        // SAFETY: our chunk was never published.
        unsafe {
            retire(chunk);
            heap.free(chunk);
        }
    }
    // SAFETY: the arena exists now; the caller's precondition holds.
    unsafe { alloc_child(heap, root, size, align) }
}

/// Carves a child from a new chunk of `lane` (or gives it a block of its own).
///
/// # Safety
/// The calling thread holds `heap` and `lane` (the own lane as holder of its heap, or
/// the shared lane under its lock); `root` is a live root whose arena is `arena`.
#[cold]
#[inline(never)]
unsafe fn refill(
    heap: &Heap,
    arena: &Arena,
    lane: &mut Lane,
    root: NonNull<u8>,
    size: usize,
    align: usize,
) -> Option<NonNull<u8>> {
    let need = CHUNK_HEADER
        .checked_add(size.max(1))?
        .checked_add(align.saturating_sub(16))?;
    if need > BIG_CHILD {
        // SAFETY: the caller holds the heap.
        let block = unsafe { child_block(heap, root, need, align, KIND_BIG)? }.block;
        // SAFETY: as above; the child ends inside the block.
        let child = align_up(unsafe { block.add(CHUNK_HEADER) }, align);
        // SAFETY: the chunk header is ours until published.
        unsafe { push_chunk(arena, block.cast()) };
        lane.children += 1;
        lane.bytes += size;
        heap.count(0, 1, size as isize);
        return Some(child);
    }
    let len = lane.next_size.max(need.next_power_of_two());
    lane.next_size = (len * 2).min(MAX_CHUNK);
    // SAFETY: the caller holds the heap.
    let found = unsafe { child_block(heap, root, len, 16, KIND_CHUNK)? };
    let chunk = found.block;
    // SAFETY: as above.
    unsafe { push_chunk(arena, chunk.cast()) };
    // SAFETY: CHUNK_HEADER < room.
    lane.cur = unsafe { chunk.add(CHUNK_HEADER) }.as_ptr();
    lane.end = chunk.as_ptr().addr() + found.room;
    // Fits: `need <= len <= room`.
    let p = lane.carve(size, align)?;
    heap.count(0, 1, size as isize);
    Some(p)
}

/// Pushes a chunk (or big child) onto the root's list.
///
/// # Safety
/// `chunk` is a fresh chunk header of the root of `arena`, not yet on the list.
unsafe fn push_chunk(arena: &Arena, chunk: NonNull<ChunkHeader>) {
    let mut head = arena.chunks.load(Relaxed);
    loop {
        // SAFETY: the chunk is ours until the exchange publishes it.
        unsafe { (*chunk.as_ptr()).next = head };
        match arena
            .chunks
            .compare_exchange_weak(head, chunk.as_ptr(), Release, Relaxed)
        {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// Marks a block's header dead, before the block is given back.
///
/// # Safety
/// `block` starts a block of ours whose header we may write.
#[inline(always)]
unsafe fn retire(block: NonNull<u8>) {
    // SAFETY: the caller's precondition.
    unsafe { block.cast::<Header>().as_ref().meta.store(0, Relaxed) };
}

/// Frees the live root `root` (whose block is `found`) and all its children.
///
/// # Safety
/// The calling thread holds `heap`; `root` is a live root of the allocator of `heap`,
/// found by [`root_block`]; none of its blocks is used afterwards, and no other thread
/// allocates under it during the call.
#[inline(always)]
pub(crate) unsafe fn free_root(heap: &Heap, found: Found, root: NonNull<u8>) {
    // SAFETY: `root` is live.
    let rh = unsafe { Header::of_root(root) };
    let mut bytes = rh.size();
    let mut children = 0;
    let arena = rh.link.load(Acquire).cast::<Arena>();
    if !arena.is_null() {
        // SAFETY: the arena lives in the root's first chunk, live until freed below; no
        // other thread uses the lanes now (the caller's precondition).
        let mut chunk = unsafe {
            let a = &*arena;
            let own = &*a.own.get();
            let shared = a.shared.lock();
            children = own.children + shared.children;
            bytes += own.bytes + shared.bytes;
            a.chunks.load(Acquire)
        };
        while let Some(c) = NonNull::new(chunk) {
            // SAFETY: chunks on the list are live blocks of the root; the link is read
            // before the chunk (maybe the arena's) is given back.
            unsafe {
                chunk = (*c.as_ptr()).next;
                retire(c.cast());
                heap.free(c.cast());
            }
        }
    }
    // SAFETY: the root's headers are ours; the block is dead from here.
    unsafe {
        rh.meta.store(0, Relaxed);
        if found.block.as_ptr().addr() + HEADER != root.as_ptr().addr() {
            // The padding header in front.
            retire(found.block);
        }
        heap.free(found.block);
    }
    heap.count(-1, -(children as isize), -(bytes as isize));
}

/// The `resize_in_place` hook. See the crate docs for when it succeeds.
///
/// # Safety
/// The calling thread holds `heap`; `root` is a live root (its block `found`), `block`
/// a live block of it (or `root`) of `old` bytes, used by no other thread now.
pub(crate) unsafe fn resize(
    heap: &Heap,
    found: Found,
    root: NonNull<u8>,
    block: NonNull<u8>,
    old: usize,
    new: usize,
) -> bool {
    if new > MAX_SIZE {
        return false;
    }
    // SAFETY: `root` is live.
    let rh = unsafe { Header::of_root(root) };
    let addr = block.as_ptr().addr();
    if addr == root.as_ptr().addr() {
        let offset = addr - found.block.as_ptr().addr();
        if new > found.room - offset {
            // A span of ours grows over the free pages after it.
            let grown = offset
                .checked_add(new)
                // SAFETY: the caller holds the heap; `found.block` starts a live block.
                .and_then(|bytes| unsafe { heap.grow_span(found.block, bytes) });
            if grown.is_none() {
                return false;
            }
        }
        rh.set_size(new);
        heap.count(0, 0, new as isize - old as isize);
        return true;
    }
    // SAFETY: `root` is live, and the arena is used only during this call.
    let Some(a) = (unsafe { Arena::of(rh) }) else {
        return false;
    };
    let (old_end, new_end) = (addr + old.max(1), addr.checked_add(new.max(1)));
    let Some(new_end) = new_end else { return false };
    // SAFETY: the caller holds the heap.
    let done = unsafe {
        a.try_lanes(heap, |lane| {
            if lane.cur.addr() != old_end || new_end > lane.end {
                return false;
            }
            lane.cur = lane.cur.with_addr(new_end);
            lane.bytes = lane.bytes - old + new;
            true
        })
    };
    if done {
        heap.count(0, 0, new as isize - old as isize);
    }
    done
}

/// The `reallocate_root` hook: moves a huge root without children to a mapping of the
/// new size, with `mremap` (no copy). `None` for any other root.
///
/// # Safety
/// The calling thread holds `heap`; `root` is a live root (its block `found`) of `old`
/// bytes, used by no other thread now; on `Some`, `root` is not used afterwards.
pub(crate) unsafe fn reallocate(
    heap: &Heap,
    found: Found,
    root: NonNull<u8>,
    old: usize,
    new: usize,
) -> Option<NonNull<u8>> {
    // SAFETY: `root` is live.
    let rh = unsafe { Header::of_root(root) };
    let seg = Segment::of(found.block);
    // SAFETY: the root's segment is live, reached through the root's provenance.
    let s = unsafe { seg.as_ref() };
    if new > MAX_SIZE || !rh.link.load(Acquire).is_null() || !s.is_huge() {
        return None;
    }
    let offset = root.as_ptr().addr() - found.block.as_ptr().addr();
    // SAFETY: a huge segment of ours with a live root, used by this thread only.
    let moved = unsafe { (*s.control).remap_huge(seg, offset.checked_add(new)?)? };
    // SAFETY: the block keeps its offset from the segment's start in the new mapping.
    let root = unsafe {
        moved
            .cast::<u8>()
            .add(root.as_ptr().addr() - seg.as_ptr().addr())
    };
    // SAFETY: the root's header moved with it.
    unsafe { Header::of_root(root) }.set_size(new);
    heap.count(0, 0, new as isize - old as isize);
    Some(root)
}

/// The `reclaim_child` hook: gives back the last child carved from a lane.
///
/// # Safety
/// As [`resize`], with `child` a child (not the root) of `size` bytes.
pub(crate) unsafe fn reclaim(
    heap: &Heap,
    root: NonNull<u8>,
    child: NonNull<u8>,
    size: usize,
) -> bool {
    // SAFETY: `root` is live.
    let rh = unsafe { Header::of_root(root) };
    // SAFETY: `root` is live, and the arena is used only during this call.
    let Some(a) = (unsafe { Arena::of(rh) }) else {
        return false;
    };
    if child == root {
        return false;
    }
    let (addr, end) = (child.as_ptr().addr(), child.as_ptr().addr() + size.max(1));
    // SAFETY: the caller holds the heap.
    let done = unsafe {
        a.try_lanes(heap, |lane| {
            if lane.cur.addr() != end || lane.children == 0 {
                return false;
            }
            lane.cur = lane.cur.with_addr(addr);
            lane.children -= 1;
            lane.bytes -= size;
            true
        })
    };
    if done {
        heap.count(0, -1, -(size as isize));
    }
    done
}

/// Whether `block` is a live root (`Some(true)`), in a live child's block
/// (`Some(false)`), or not live (`None`).
///
/// # Safety
/// As [`root_of`].
pub(crate) unsafe fn status(control: *const Control, block: NonNull<u8>) -> Option<bool> {
    // SAFETY: the caller's precondition.
    let root = unsafe { root_of(control, block)? };
    Some(root == block)
}
