//! The block header of the kit: 16 bytes on 64-bit targets, in front of the payload.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use super::atomic::AtomicPtr;

use static_assertions::const_assert;

use crate::AllocError;
use crate::align::HeaderedLayout;

/// Which kind of block a [`Header`] heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A block made by `allocate_root`.
    Root,
    /// A block made by `allocate_child`.
    Child,
}

/// The header that the kit puts in the bytes just before each payload.
///
/// It records the block's chain link (the next block of the same root), the payload's
/// size and alignment (so the block can be given back with its exact layout), whether
/// the block is a root or a child, and a tag. The tag tells a live header of this kit
/// from other bytes (a child, a freed block, a foreign pointer) in most cases; it is a
/// check against mistakes, not a proof: see [`Header::kind`].
///
/// Layout (64-bit): `next: AtomicPtr<Header>` and one word that packs
/// `size << 16 | tag`, so the size is limited to [`Header::MAX_SIZE`] (2⁴⁸ − 1 bytes).
/// On 32-bit targets the size and the tag take a word each (12 bytes, padded to 16 by
/// the payload's alignment).
///
/// ```
/// use linked_alloc::kit::Header;
/// #[cfg(target_pointer_width = "64")]
/// assert_eq!(core::mem::size_of::<Header>(), 16);
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// The next block of the same root's chain, or null at the end.
    pub(super) next: AtomicPtr<Header>,
    #[cfg(target_pointer_width = "64")]
    meta: usize,
    #[cfg(not(target_pointer_width = "64"))]
    size: usize,
    #[cfg(not(target_pointer_width = "64"))]
    tag: usize,
}

#[cfg(not(any(target_pointer_width = "64", target_pointer_width = "32")))]
compile_error!("linked-alloc's kit supports 32-bit and 64-bit targets");

#[cfg(target_pointer_width = "64")]
const_assert!(core::mem::size_of::<Header>() == 16);
const_assert!(core::mem::size_of::<Header>() <= crate::MIN_ALIGN * 2);

/// Low 16 bits of the tag: bits 0..6 hold log2(align), bit 6 is set for a root, bits
/// 7..16 hold [`MAGIC`].
const ALIGN_BITS: usize = 0x3f;
const ROOT_BIT: usize = 1 << 6;
const MAGIC: usize = 0x1a5 << 7;
const MAGIC_MASK: usize = 0x1ff << 7;
const TAG_BITS: u32 = 16;
const TAG_MASK: usize = (1 << TAG_BITS) - 1;
/// What a retired header holds in place of its tag: no magic, so `kind()` is `None`.
const RETIRED: usize = 0;
const_assert!(MAGIC & MAGIC_MASK == MAGIC);
const_assert!(MAGIC & !TAG_MASK == 0);
const_assert!(ALIGN_BITS & ROOT_BIT == 0);

impl Header {
    /// The largest payload size a header records: 2⁴⁸ − 1 on 64-bit targets,
    /// `isize::MAX` on 32-bit ones. Larger requests are [`AllocError`].
    #[cfg(target_pointer_width = "64")]
    pub const MAX_SIZE: usize = (1 << 48) - 1;
    /// The largest payload size a header records (`isize::MAX` on 32-bit targets).
    #[cfg(not(target_pointer_width = "64"))]
    pub const MAX_SIZE: usize = isize::MAX as usize;

    /// The layout to request for a block of `payload` with a header in front of it,
    /// checked: a size past [`MAX_SIZE`](Self::MAX_SIZE) or a total past `isize::MAX` is
    /// [`AllocError`].
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::{kit::Header, MIN_ALIGN};
    /// let b = Header::block_layout(Layout::new::<[u8; 64]>()).unwrap();
    /// assert_eq!(b.offset, MIN_ALIGN.max(core::mem::size_of::<Header>()));
    /// assert!(Header::block_layout(Layout::from_size_align(usize::MAX / 2, 1).unwrap()).is_err());
    /// ```
    #[inline]
    pub fn block_layout(payload: Layout) -> Result<HeaderedLayout, AllocError> {
        if payload.size() > Self::MAX_SIZE {
            return Err(AllocError);
        }
        HeaderedLayout::new::<Self>(payload)
    }

    /// Writes a live header for a block of `layout` and `kind` just before `payload`,
    /// with no next block, and returns a pointer to it.
    ///
    /// # Safety
    /// The `size_of::<Header>()` bytes before `payload` are writable, belong to the
    /// caller, and are aligned for a `Header` (true when `payload` is the payload of a
    /// [`block_layout`](Self::block_layout) allocation); `layout.size() <= MAX_SIZE`.
    #[inline]
    pub unsafe fn write(payload: NonNull<u8>, layout: Layout, kind: Kind) -> NonNull<Header> {
        debug_assert!(layout.size() <= Self::MAX_SIZE);
        // SAFETY: the caller promises the header bytes before `payload` are ours and
        // aligned, so stepping back one header stays inside the same allocation.
        let h = unsafe { Self::of(payload) };
        let tag = MAGIC
            | layout.align().trailing_zeros() as usize
            | if kind == Kind::Root { ROOT_BIT } else { 0 };
        let header = Header {
            next: AtomicPtr::new(ptr::null_mut()),
            #[cfg(target_pointer_width = "64")]
            meta: (layout.size() << TAG_BITS) | tag,
            #[cfg(not(target_pointer_width = "64"))]
            size: layout.size(),
            #[cfg(not(target_pointer_width = "64"))]
            tag,
        };
        // SAFETY: `h` is aligned and writable for a `Header` (the caller's precondition).
        unsafe { h.write(header) };
        h
    }

    /// The header of a block, from its payload pointer (`payload - size_of::<Header>()`).
    ///
    /// # Safety
    /// `payload` is the payload of a block laid out by
    /// [`block_layout`](Self::block_layout) (so the header bytes before it belong to the
    /// same allocation).
    #[inline]
    pub unsafe fn of(payload: NonNull<u8>) -> NonNull<Header> {
        // SAFETY: the caller promises the header lies in the same allocation, just before.
        unsafe { payload.cast::<Header>().sub(1) }
    }

    /// The payload of the block that `header` heads.
    ///
    /// # Safety
    /// `header` was returned by [`write`](Self::write) (so the payload follows it in the
    /// same allocation).
    #[inline]
    pub unsafe fn payload(header: NonNull<Header>) -> NonNull<u8> {
        // SAFETY: `write` placed the header right before the payload, in one allocation.
        unsafe { header.add(1).cast() }
    }

    #[inline]
    fn tag(&self) -> usize {
        #[cfg(target_pointer_width = "64")]
        return self.meta & TAG_MASK;
        #[cfg(not(target_pointer_width = "64"))]
        return self.tag & TAG_MASK;
    }

    /// The kind of this block if the header carries a live tag, `None` if it does not
    /// (a retired header, or bytes that were never a header of this kit).
    ///
    /// A `None` is certain; a `Some` is very likely but not a proof (other bytes can
    /// match the 9-bit magic by chance).
    #[inline]
    #[must_use]
    pub fn kind(&self) -> Option<Kind> {
        let tag = self.tag();
        if tag & MAGIC_MASK != MAGIC {
            None
        } else if tag & ROOT_BIT != 0 {
            Some(Kind::Root)
        } else {
            Some(Kind::Child)
        }
    }

    /// The payload's layout as given to [`write`](Self::write).
    #[inline]
    #[must_use]
    pub fn layout(&self) -> Layout {
        #[cfg(target_pointer_width = "64")]
        let size = self.meta >> TAG_BITS;
        #[cfg(not(target_pointer_width = "64"))]
        let size = self.size;
        let align = 1usize << (self.tag() & ALIGN_BITS);
        // `write` recorded a layout that existed, so size and align are valid together.
        debug_assert!(Layout::from_size_align(size, align).is_ok());
        // SAFETY: the header is live (callers read `layout()` only from headers that
        // `write` made), so the pair came from a valid `Layout`.
        unsafe { Layout::from_size_align_unchecked(size, align) }
    }

    /// Marks the header as no longer live, just before its block is given back, so that
    /// a second free of the same block sees no live tag (while the bytes stay unused).
    ///
    /// # Safety
    /// `header` is a header written by [`write`](Self::write), still owned by the caller.
    #[inline]
    pub unsafe fn retire(header: NonNull<Header>) {
        // SAFETY: the caller owns the header, so writing its tag word is fine.
        unsafe {
            #[cfg(target_pointer_width = "64")]
            ptr::addr_of_mut!((*header.as_ptr()).meta).write(RETIRED);
            #[cfg(not(target_pointer_width = "64"))]
            ptr::addr_of_mut!((*header.as_ptr()).tag).write(RETIRED);
        }
    }
}
