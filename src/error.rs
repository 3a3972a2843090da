//! The one error of the allocation calls.

use core::fmt;

/// An allocation failed: memory is exhausted, or the size (with header and alignment
/// padding) would pass `isize::MAX`, or the alignment is larger than the backend serves.
///
/// Zero-sized, never allocates, and leaves the allocator fully usable. Converts into
/// [`allocator_api2::alloc::AllocError`] for the collections.
///
/// ```
/// use linked_alloc::AllocError;
/// let e = AllocError;
/// assert_eq!(e.to_string(), "memory allocation failed");
/// let _: &dyn core::error::Error = &e;
/// assert_eq!(core::mem::size_of::<AllocError>(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllocError;

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory allocation failed")
    }
}

impl core::error::Error for AllocError {}

impl From<AllocError> for allocator_api2::alloc::AllocError {
    #[inline]
    fn from(_: AllocError) -> Self {
        allocator_api2::alloc::AllocError
    }
}

impl From<allocator_api2::alloc::AllocError> for AllocError {
    #[inline]
    fn from(_: allocator_api2::alloc::AllocError) -> Self {
        AllocError
    }
}
