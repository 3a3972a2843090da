//! Several regions, one pool: each region is a TLSF heap of its own (its own tables,
//! sized from its own length, and its own end, so that blocks never merge across
//! regions); the chains of roots and children run across them.
//!
//! The first region is the pool's own (the bytes of a `StaticPool`, or the region a
//! `PoolRegion` was made over), with its state in the pool value. A region added later
//! keeps its state ([`Extra`]) in its own first bytes, so the pool value stays small and
//! the same size whatever the number of regions.
//!
//! # Chain links across regions
//! A used block's header holds two chain links (`u32` words). Here a link is the
//! header offset of the block in its region, with the region's index in the low bits:
//! offsets are multiples of the granule (at least 8), so the low three bits are free,
//! and a pool has at most [`MAX_REGIONS`] regions. 0 stays "none" (`tlsf::NONE`: no
//! block's header is at offset 0 of its region, where the tables are). The free lists
//! stay inside each region and keep plain offsets.

use core::ptr::NonNull;

use crate::tlsf::{BlockKind, GRANULE, HEADER, Heap, LiveBlock, NONE, Tlsf};

/// The most regions one pool serves from: its own and up to seven added with
/// [`add_region`](crate::Pool::add_region).
pub const MAX_REGIONS: usize = 8;

const _: () = assert!(
    MAX_REGIONS.is_power_of_two() && MAX_REGIONS <= GRANULE,
    "the region index sits in the low bits of a granule-aligned offset"
);

const TAG: u32 = (MAX_REGIONS - 1) as u32;

/// A block of the pool: the index of its region and the offset of its header there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRef {
    pub(crate) region: usize,
    pub(crate) header: usize,
}

impl BlockRef {
    /// The chain link to this block.
    #[inline]
    fn link(self) -> u32 {
        debug_assert!(self.region < MAX_REGIONS && self.header % GRANULE == 0);
        self.header as u32 | self.region as u32
    }

    /// The block a chain link names, if any.
    #[inline]
    fn from_link(link: u32) -> Option<Self> {
        (link != NONE).then_some(Self {
            region: (link & TAG) as usize,
            header: (link & !TAG) as usize,
        })
    }
}

/// The state of a region added to a pool, in the region's first bytes (aligned for
/// it); the bytes after it are the region's tables and heap.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Extra {
    tlsf: Tlsf,
    /// Bytes from the end of this value to the region's end.
    len: usize,
    /// The address and length of the whole region, as it was given.
    given: (usize, usize),
}

impl Extra {
    /// Places the state of a region `start..start + len` in its first bytes and lays out
    /// its tables and one free block: the region's state, or `None` (nothing written)
    /// if it cannot hold the state, the tables and one block.
    ///
    /// # Safety
    /// `start` is valid for reads and writes of `len` bytes for as long as the pool that
    /// keeps the result lives, and nothing else reads or writes them meanwhile (apart
    /// from the payloads of the blocks the pool hands out).
    pub(crate) unsafe fn place(start: NonNull<u8>, len: usize) -> Option<NonNull<Self>> {
        let pad = start.as_ptr().align_offset(align_of::<Self>());
        let after = pad.checked_add(size_of::<Self>())?;
        let rest = len.checked_sub(after)?;
        // SAFETY: `after <= len`: both stay inside the region (or one past its end).
        let (this, heap) = unsafe { (start.add(pad).cast::<Self>(), start.add(after)) };
        if !Tlsf::fits(heap.as_ptr().addr(), rest) {
            return None;
        }
        // SAFETY: `this` is aligned for `Self` and its `size_of::<Self>()` bytes lie in
        // the region, valid for writes and the pool's alone (the precondition).
        unsafe {
            this.write(Self {
                tlsf: Tlsf::new(),
                len: rest,
                given: (start.as_ptr().addr(), len),
            });
        };
        // Lays the region out now: its tables and one free block over its heap.
        // SAFETY: the state was just written; the bytes after it are the region's
        // (the precondition), and nothing else views this state yet.
        let _ = unsafe { Self::view(this) };
        Some(this)
    }

    /// The region's heap (laid out on the first call).
    ///
    /// # Safety
    /// `this` was returned by [`place`](Self::place), whose precondition still holds,
    /// and no other view of this region exists while the result lives.
    #[inline]
    unsafe fn view<'a>(this: NonNull<Self>) -> Heap<'a> {
        let p = this.as_ptr();
        // SAFETY: `place` wrote a `Self` at `this` and the bytes after it are the
        // region's (its precondition); no other view exists (the precondition), so the
        // `&mut` to the state is the only reference to it.
        unsafe {
            let len = (*p).len;
            let heap = this.add(1).cast::<u8>();
            (*p).tlsf.view(heap, len)
        }
    }
}

/// The regions added to a pool, in the pool's locked state: the first `count` slots
/// are `Some`. All zeros when empty, so that a pool in a `static` stays in `.bss`.
#[derive(Debug)]
pub(crate) struct Extras {
    regions: [Option<NonNull<Extra>>; MAX_REGIONS - 1],
    count: usize,
}

impl Extras {
    pub(crate) const fn new() -> Self {
        Self {
            regions: [None; MAX_REGIONS - 1],
            count: 0,
        }
    }

    /// Regions added so far.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Keeps `region` (from [`Extra::place`]) as the pool's next region; `false` if the
    /// pool has [`MAX_REGIONS`] already.
    pub(crate) fn push(&mut self, region: NonNull<Extra>) -> bool {
        match self.regions.get_mut(self.count) {
            Some(slot) => {
                *slot = Some(region);
                self.count += 1;
                true
            }
            None => false,
        }
    }
}

/// A region index past the pool's regions: only from a chain link overwritten (a
/// write past the end of a block).
#[cold]
#[inline(never)]
fn no_region() -> ! {
    panic!("linked-alloc-pool: a chain link names no region of the pool (a block was overrun)")
}

/// Every region of one pool, for the time of one locked call.
pub(crate) struct Heaps<'a> {
    first: Heap<'a>,
    extras: &'a mut Extras,
}

impl<'a> Heaps<'a> {
    /// The pool's heaps: its own region's, and those of `extras`.
    ///
    /// # Safety
    /// Every region of `extras` came from [`Extra::place`] whose precondition still
    /// holds, and no other view of them exists while the result lives (the pool's
    /// lock is held).
    #[inline]
    pub(crate) unsafe fn new(first: Heap<'a>, extras: &'a mut Extras) -> Self {
        Self { first, extras }
    }

    /// Regions of the pool.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        1 + self.extras.count
    }

    /// Keeps `region` as the pool's next region; `false` (and nothing kept) if the
    /// pool has [`MAX_REGIONS`] already.
    ///
    /// # Safety
    /// `region` came from [`Extra::place`], whose precondition holds for as long as the
    /// pool lives, and it is none of the pool's regions yet.
    pub(crate) unsafe fn push(&mut self, region: NonNull<Extra>) -> bool {
        self.extras.push(region)
    }

    /// Whether `f` holds for the address and length of a region added to the pool (as
    /// it was given).
    pub(crate) fn any_extra(&self, mut f: impl FnMut((usize, usize)) -> bool) -> bool {
        self.extras.regions.iter().flatten().any(|p| {
            // SAFETY: a region placed by `Extra::place` (`Heaps::new`'s precondition);
            // `given` is read through the pointer, and no `&mut` to it exists while
            // `&self` is borrowed (heaps are handed out only through `&mut self`).
            f(unsafe { (*p.as_ptr()).given })
        })
    }

    /// The heap of region `r` (`r < count()`).
    #[inline]
    pub(crate) fn heap(&mut self, r: usize) -> Heap<'_> {
        match r.checked_sub(1) {
            None => self.first.reborrow(),
            Some(i) => self.extra_heap(i),
        }
    }

    /// The heap of the added region `i` (region `i + 1`): out of line, so that the
    /// common case, the first region, stays small wherever it is inlined.
    #[inline(never)]
    fn extra_heap(&mut self, i: usize) -> Heap<'_> {
        match self.extras.regions.get(i).copied().flatten() {
            // SAFETY: a region of the pool (`Heaps::new`'s precondition), with no other
            // view: the result borrows `self` mutably, so no other heap of `self` lives.
            Some(region) => unsafe { Extra::view(region) },
            None => no_region(),
        }
    }

    /// Allocates a block with a payload of `size` bytes aligned to `align`, from the
    /// first region that has room (in the order they were added): the block and its
    /// payload's address. O(1) per region tried.
    #[inline]
    pub(crate) fn allocate(
        &mut self,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Option<(BlockRef, NonNull<u8>)> {
        // The first region straight away: the common case, and the only one of a pool
        // given no other region.
        match Self::allocate_in(&mut self.first, 0, size, align, kind) {
            Some(found) => Some(found),
            None if self.extras.count > 0 => self.allocate_in_extras(size, align, kind),
            None => None,
        }
    }

    /// [`allocate`](Self::allocate) in the added regions, in order.
    #[inline(never)]
    fn allocate_in_extras(
        &mut self,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Option<(BlockRef, NonNull<u8>)> {
        (1..self.count()).find_map(|r| Self::allocate_in(&mut self.heap(r), r, size, align, kind))
    }

    /// Allocates from `heap`, region `r`.
    #[inline]
    fn allocate_in(
        heap: &mut Heap<'_>,
        r: usize,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Option<(BlockRef, NonNull<u8>)> {
        let off = heap.allocate(size, align, kind)?;
        // SAFETY: `off` is the payload offset of a block of `heap`, inside (or, for an
        // empty payload at the very end, one past) its region.
        let ptr = unsafe { heap.mem().add(off) };
        let header = off - HEADER;
        Some((BlockRef { region: r, header }, ptr))
    }

    /// The live block whose payload is at `addr`, in any region: exact for any
    /// address.
    #[inline]
    pub(crate) fn live_block(&mut self, addr: usize) -> Option<(BlockRef, BlockKind)> {
        match self.first.live_block(addr) {
            Some(LiveBlock { header, kind }) => Some((BlockRef { region: 0, header }, kind)),
            None if self.extras.count > 0 => self.live_block_in_extras(addr),
            None => None,
        }
    }

    /// [`live_block`](Self::live_block) in the added regions.
    #[inline(never)]
    fn live_block_in_extras(&mut self, addr: usize) -> Option<(BlockRef, BlockKind)> {
        (1..self.count()).find_map(|r| {
            let LiveBlock { header, kind } = self.heap(r).live_block(addr)?;
            Some((BlockRef { region: r, header }, kind))
        })
    }

    /// The requested size of the live block `b`.
    #[inline]
    pub(crate) fn requested(&mut self, b: BlockRef) -> usize {
        self.heap(b.region).requested(b.header)
    }

    /// Resizes the live block `b` in place (see `Heap::resize`).
    #[inline]
    pub(crate) fn resize(&mut self, b: BlockRef, new_size: usize) -> bool {
        self.heap(b.region).resize(b.header, new_size)
    }

    /// Links the fresh block `new` into the chain right after the live block `after`
    /// (in any regions).
    #[inline]
    pub(crate) fn link_after(&mut self, after: BlockRef, new: BlockRef) {
        if self.extras.count == 0 {
            // One region: every link is a plain offset (region 0 in its low bits).
            return self.first.link_after(after.header, new.header);
        }
        self.link_after_across(after, new);
    }

    /// [`link_after`](Self::link_after) in a pool of several regions.
    #[inline(never)]
    fn link_after_across(&mut self, after: BlockRef, new: BlockRef) {
        let next = self.heap(after.region).chain_next(after.header);
        {
            let mut heap = self.heap(new.region);
            heap.set_chain_next(new.header, next);
            heap.set_chain_prev(new.header, after.link());
        }
        if let Some(n) = BlockRef::from_link(next) {
            self.heap(n.region).set_chain_prev(n.header, new.link());
        }
        self.heap(after.region)
            .set_chain_next(after.header, new.link());
    }

    /// Frees the live root `root` and every block of its chain, in whichever region
    /// each lies: O(1) per block, with constant stack. Returns (children, bytes
    /// requested). The root is freed here (the only block of a `GlobalAlloc` root),
    /// its children, if any, out of line.
    #[inline]
    pub(crate) fn free_chain(&mut self, root: BlockRef) -> (usize, usize) {
        let mut heap = self.heap(root.region);
        // Read the link first: freeing a block may merge its header into a free block.
        let next = heap.chain_next(root.header);
        let bytes = heap.requested(root.header);
        heap.free_block(root.header);
        match BlockRef::from_link(next) {
            None => (0, bytes),
            Some(first) => {
                let (children, more) = self.free_children(first);
                (children, bytes + more)
            }
        }
    }

    /// Frees the rest of a chain from its block `first` on (the children of a root
    /// just freed), in any regions. Returns (blocks, bytes requested).
    #[inline(never)]
    fn free_children(&mut self, first: BlockRef) -> (usize, usize) {
        let (mut children, mut bytes) = (0, 0);
        let mut next = Some(first);
        while let Some(c) = next {
            let mut heap = self.heap(c.region);
            // Read the link first: freeing `c` may merge its header into a free block.
            next = BlockRef::from_link(heap.chain_next(c.header));
            bytes += heap.requested(c.header);
            children += 1;
            heap.free_block(c.header);
        }
        (children, bytes)
    }

    /// Takes the live child `b` off its chain and frees it: O(1). Returns its
    /// requested size.
    #[inline]
    pub(crate) fn free_child(&mut self, b: BlockRef) -> usize {
        let (prev, next) = {
            let heap = self.heap(b.region);
            (heap.chain_prev(b.header), heap.chain_next(b.header))
        };
        let prev_block = BlockRef::from_link(prev);
        debug_assert!(
            prev_block.is_some(),
            "a child always follows its root or a sibling"
        );
        if let Some(p) = prev_block {
            self.heap(p.region).set_chain_next(p.header, next);
        }
        if let Some(n) = BlockRef::from_link(next) {
            self.heap(n.region).set_chain_prev(n.header, prev);
        }
        let mut heap = self.heap(b.region);
        let bytes = heap.requested(b.header);
        heap.free_block(b.header);
        bytes
    }

    /// Bytes the blocks of every region can take, headers included.
    pub(crate) fn capacity(&mut self) -> usize {
        (0..self.count()).map(|r| self.heap(r).capacity()).sum()
    }

    /// Bytes in free blocks of every region, headers included.
    pub(crate) fn free_bytes(&mut self) -> usize {
        (0..self.count()).map(|r| self.heap(r).free_bytes()).sum()
    }

    /// Bytes the blocks take now, headers included: `capacity - free_bytes`.
    #[inline]
    pub(crate) fn used(&mut self) -> usize {
        let used = self.first.capacity() - self.first.free_bytes();
        if self.extras.count == 0 {
            used
        } else {
            used + self.used_in_extras()
        }
    }

    /// [`used`](Self::used) in the added regions.
    #[inline(never)]
    fn used_in_extras(&mut self) -> usize {
        (1..self.count())
            .map(|r| {
                let heap = self.heap(r);
                heap.capacity() - heap.free_bytes()
            })
            .sum()
    }

    /// The size of the largest free block of any region (header included), 0 if none.
    pub(crate) fn largest_free(&mut self) -> usize {
        (0..self.count())
            .map(|r| self.heap(r).largest_free())
            .max()
            .unwrap_or(0)
    }

    /// Checks every region (see `Heap::check`), then every chain link of every used
    /// block: it names a used block of the pool that links back, a root has no block
    /// before it and a child has one. O(n). Returns the number of free blocks of all
    /// regions.
    pub(crate) fn check(&mut self) -> Result<usize, &'static str> {
        let mut free_blocks = 0;
        for r in 0..self.count() {
            free_blocks += self.heap(r).check()?;
        }
        for r in 0..self.count() {
            let mut at = None;
            while let Some((b, kind)) = self.heap(r).next_used(at) {
                at = Some(b);
                let this = BlockRef {
                    region: r,
                    header: b,
                };
                let (prev, next) = {
                    let heap = self.heap(r);
                    (heap.chain_prev(b), heap.chain_next(b))
                };
                match (kind, BlockRef::from_link(prev)) {
                    (BlockKind::Root, None) | (BlockKind::Child, Some(_)) => {}
                    _ => return Err("a root has a block before it, or a child has none"),
                }
                if let Some(n) = BlockRef::from_link(next) {
                    if n.region >= self.count()
                        || self.heap(n.region).used_kind(n.header) != Some(BlockKind::Child)
                    {
                        return Err("a chain link names no used child");
                    }
                    if self.heap(n.region).chain_prev(n.header) != this.link() {
                        return Err("a chain's next block does not link back");
                    }
                }
            }
        }
        Ok(free_blocks)
    }
}
