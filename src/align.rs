//! The alignment rules, in one place, for every backend.
//!
//! * [`MIN_ALIGN`] is `2 * size_of::<usize>()` (16 on 64-bit targets, 8 on 32-bit ones),
//!   the alignment of C's `max_align_t` that `malloc` gives.
//! * Every block, root or child, of every backend, is aligned to
//!   [`block_align(layout)`](block_align) = `max(layout.align(), MIN_ALIGN)`.
//! * Every backend accepts every power-of-two alignment up to at least
//!   [`MAX_GUARANTEED_ALIGN`] (4096, a page). Larger ones may give
//!   [`AllocError`], never a misaligned pointer.
//! * Size 0 is valid: a unique, aligned, non-null pointer, freed like any other block.
//! * A size whose total (with header and padding) would pass `isize::MAX` is
//!   [`AllocError`], never a wrapped size. All the maths here is checked.
//!
//! ```
//! use core::alloc::Layout;
//! use linked_alloc::align::{block_align, MIN_ALIGN};
//!
//! assert_eq!(MIN_ALIGN, 2 * core::mem::size_of::<usize>());
//! assert_eq!(block_align(Layout::new::<u8>()), MIN_ALIGN);
//! assert_eq!(block_align(Layout::from_size_align(8, 4096).unwrap()), 4096);
//! ```

use core::alloc::Layout;
use core::mem::size_of;

use static_assertions::const_assert;

use crate::AllocError;

/// The smallest alignment of every block: `2 * size_of::<usize>()`, as `malloc` gives.
///
/// ```
/// # use linked_alloc::MIN_ALIGN;
/// #[cfg(target_pointer_width = "64")]
/// assert_eq!(MIN_ALIGN, 16);
/// ```
pub const MIN_ALIGN: usize = 2 * size_of::<usize>();

/// Every backend serves every power-of-two alignment up to this one (a page).
///
/// ```
/// # use linked_alloc::align::MAX_GUARANTEED_ALIGN;
/// assert_eq!(MAX_GUARANTEED_ALIGN, 4096);
/// ```
pub const MAX_GUARANTEED_ALIGN: usize = 4096;

const_assert!(MIN_ALIGN.is_power_of_two());
const_assert!(MIN_ALIGN >= core::mem::align_of::<u64>());
const_assert!(MIN_ALIGN >= core::mem::align_of::<f64>());
const_assert!(MIN_ALIGN >= core::mem::align_of::<usize>());
const_assert!(MIN_ALIGN >= 2 * core::mem::align_of::<*const u8>());
const_assert!(MAX_GUARANTEED_ALIGN.is_power_of_two());
const_assert!(MAX_GUARANTEED_ALIGN > MIN_ALIGN);

/// The alignment a block of `layout` gets: `max(layout.align(), MIN_ALIGN)`.
///
/// ```
/// # use core::alloc::Layout;
/// # use linked_alloc::align::block_align;
/// assert_eq!(block_align(Layout::from_size_align(3, 64).unwrap()), 64);
/// ```
#[inline]
#[must_use]
pub const fn block_align(layout: Layout) -> usize {
    if layout.align() > MIN_ALIGN {
        layout.align()
    } else {
        MIN_ALIGN
    }
}

/// The layout of a block that carries a header of type `H` in front of its payload.
///
/// `offset` is where the payload starts, counted from the start of `layout`; the header
/// lies in the `size_of::<H>()` bytes just before the payload, so that it is found from
/// the payload pointer alone (`payload - size_of::<H>()`).
///
/// ```
/// # use core::alloc::Layout;
/// # use linked_alloc::align::HeaderedLayout;
/// # use linked_alloc::MIN_ALIGN;
/// // A 16-byte header and a 64-byte payload aligned to 4096.
/// let b = HeaderedLayout::new::<[usize; 2]>(Layout::from_size_align(64, 4096).unwrap()).unwrap();
/// assert_eq!(b.offset, 4096);
/// assert_eq!(b.layout.align(), 4096);
/// assert_eq!(b.layout.size(), 4096 + 64);
/// // The same header before a byte-aligned payload: the payload gets MIN_ALIGN.
/// let s = HeaderedLayout::new::<[usize; 2]>(Layout::from_size_align(64, 1).unwrap()).unwrap();
/// assert_eq!(s.offset, MIN_ALIGN);
/// assert_eq!(s.layout.align(), MIN_ALIGN);
/// // An impossible total is an error, not a wrapped size.
/// let huge = Layout::from_size_align(isize::MAX as usize - 15, 16).unwrap();
/// assert!(HeaderedLayout::new::<[usize; 2]>(huge).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderedLayout {
    /// What to ask the underlying allocator for.
    pub layout: Layout,
    /// The payload's offset from the start of the allocation (a multiple of the block's
    /// alignment, and at least `size_of::<H>()`).
    pub offset: usize,
}

impl HeaderedLayout {
    /// The layout of header `H` followed by a payload of `payload`, with the payload
    /// aligned to [`block_align(payload)`](block_align). Checked: an overflow or a total
    /// past `isize::MAX` is [`AllocError`].
    #[inline]
    pub fn new<H>(payload: Layout) -> Result<Self, AllocError> {
        let align = block_align(payload);
        let header = Layout::new::<H>();
        // The header's padded size: the payload starts at the next multiple of `align`.
        let offset = round_up(header.size(), align.max(header.align())).ok_or(AllocError)?;
        let size = offset.checked_add(payload.size()).ok_or(AllocError)?;
        let layout =
            Layout::from_size_align(size, align.max(header.align())).map_err(|_| AllocError)?;
        Ok(Self { layout, offset })
    }
}

/// `n` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
///
/// ```
/// # use linked_alloc::align::round_up;
/// assert_eq!(round_up(17, 16), Some(32));
/// assert_eq!(round_up(usize::MAX, 16), None);
/// ```
#[inline]
#[must_use]
pub const fn round_up(n: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    match n.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Whether `addr` is a multiple of `align` (a power of two).
///
/// ```
/// # use linked_alloc::align::is_aligned;
/// assert!(is_aligned(4096, 4096));
/// assert!(!is_aligned(4104, 16));
/// ```
#[inline]
#[must_use]
pub const fn is_aligned(addr: usize, align: usize) -> bool {
    addr & (align - 1) == 0
}
