//! The exact MAPI calls: `MAPIAllocateBuffer`, `MAPIAllocateMore` and `MAPIFreeBuffer`
//! with their status codes ([`SCODE`]), over any backend.
//!
//! Code ported from MAPI (or written against `mapix.h`) expects three calls with fixed
//! signatures and status codes. This module gives them, as methods of every
//! [`Linked<B>`], and the [`mapi_functions!`](crate::mapi_functions) macro defines the
//! free functions with the MAPI names over a `static` heap of your choice. The C ABI
//! (crate `linked-alloc-capi`, header `mapi_alloc.h`) calls these very methods.
//!
//! | MAPI (`mapix.h`)                                         | here                                             |
//! |----------------------------------------------------------|--------------------------------------------------|
//! | `SCODE MAPIAllocateBuffer(ULONG, LPVOID *)`              | [`Linked::mapi_allocate_buffer`]                 |
//! | `SCODE MAPIAllocateMore(ULONG, LPVOID, LPVOID *)`        | [`Linked::mapi_allocate_more`] (`unsafe`)        |
//! | `ULONG MAPIFreeBuffer(LPVOID)`                           | [`Linked::mapi_free_buffer`] (`unsafe`)          |
//!
//! # The rules (Microsoft's reference and Wine's `mapi32`)
//! - `cbSize` is a 32-bit [`ULONG`]; 0 is valid. Every buffer is aligned to
//!   [`MIN_ALIGN`](crate::MIN_ALIGN).
//! - [`S_OK`] and a buffer on success; [`MAPI_E_NOT_ENOUGH_MEMORY`] if memory runs out;
//!   [`MAPI_E_INVALID_PARAMETER`] if `lppBuffer` is NULL (`None`), or if `lpObject` of
//!   `MAPIAllocateMore` is NULL.
//! - `MAPIAllocateMore` links the new buffer to the chain of `lpObject`'s root, whether
//!   `lpObject` is the root or a buffer already made by `MAPIAllocateMore`. It is O(1)
//!   when the backend's `allocate_child` is (every backend of this repository).
//! - Whenever `lppBuffer` is not NULL and the call fails, `*lppBuffer` is set to NULL:
//!   it never keeps an old or freed pointer.
//! - `MAPIFreeBuffer` frees the buffer and every buffer linked to it, in one call, and
//!   returns `S_OK`. `MAPIFreeBuffer(NULL)` returns `S_OK` and does nothing.
//!
//! # Beyond MAPI: bad pointers are refused, not freed
//! Before it uses a pointer, the layer asks the backend's
//! [`block_status`](LinkedAllocator::block_status):
//! - `MAPIAllocateMore` on a pointer the backend knows is not live
//!   ([`BlockStatus::NotLive`]) returns [`MAPI_E_INVALID_PARAMETER`] and allocates
//!   nothing.
//! - `MAPIFreeBuffer` on a buffer made by `MAPIAllocateMore` ([`BlockStatus::Child`]) or
//!   on a pointer the backend knows is not live ([`BlockStatus::NotLive`]) frees
//!   nothing and returns `MAPI_E_INVALID_PARAMETER` (as a `ULONG`), as the contract's
//!   [bad-input rules](LinkedAllocator#bad-input) ask: real MAPI returns `S_OK` there after corrupting its heap, so code that
//!   checks the status keeps working, and a mistake becomes visible.
//! - Where the backend cannot tell ([`BlockStatus::Unknown`]), the pointer is trusted,
//!   as MAPI does: that is why the pointer-taking calls are `unsafe`, with the
//!   precondition of `block_status` forwarded in their `# Safety` sections.
//!
//! ```
//! use linked_alloc::Linked;
//! use linked_alloc::mapi::{LPVOID, MAPI_E_INVALID_PARAMETER, S_OK, ULONG};
//! use linked_alloc_system::SystemHeap;
//!
//! let heap = Linked::new(SystemHeap::new());
//! let mut row: LPVOID = core::ptr::null_mut();
//! assert_eq!(heap.mapi_allocate_buffer(64, &mut row), S_OK);
//! let mut name: LPVOID = core::ptr::null_mut();
//! // SAFETY: `row` is a live buffer of `heap`; `name` is a live child afterwards.
//! unsafe {
//!     assert_eq!(heap.mapi_allocate_more(6, row, &mut name), S_OK);
//!     name.cast::<[u8; 6]>().write(*b"Alice\0");
//!     // A child is refused by MAPIFreeBuffer: SystemHeap tells children apart.
//!     assert_eq!(heap.mapi_free_buffer(name), MAPI_E_INVALID_PARAMETER as ULONG);
//!     assert_eq!(heap.mapi_free_buffer(row), S_OK as ULONG); // both go
//! }
//! assert!(heap.stats().is_empty());
//! ```

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use crate::{BlockStatus, Linked, LinkedAllocator};

/// A MAPI status code (`LONG`, 32 bits): `0` is success, a set high bit is failure.
///
/// ```
/// use linked_alloc::mapi::{SCODE, S_OK};
/// let status: SCODE = S_OK;
/// assert!(status >= 0); // MAPI's SUCCEEDED(status)
/// ```
#[allow(clippy::upper_case_acronyms)] // MAPI's own name, kept for porting
pub type SCODE = i32;

/// MAPI's `ULONG`: an unsigned 32-bit integer (the buffer sizes, and what
/// `MAPIFreeBuffer` returns).
///
/// ```
/// use linked_alloc::mapi::ULONG;
/// let largest: ULONG = ULONG::MAX; // a 4 GiB - 1 request
/// # let _ = largest;
/// ```
#[allow(clippy::upper_case_acronyms)] // MAPI's own name, kept for porting
pub type ULONG = u32;

/// MAPI's `LPVOID`: an untyped buffer pointer, NULL allowed.
///
/// ```
/// use linked_alloc::mapi::LPVOID;
/// let nothing: LPVOID = core::ptr::null_mut();
/// assert!(nothing.is_null());
/// ```
#[allow(clippy::upper_case_acronyms)] // MAPI's own name, kept for porting
pub type LPVOID = *mut c_void;

/// Success (`S_OK`, 0).
///
/// ```
/// assert_eq!(linked_alloc::mapi::S_OK, 0);
/// ```
pub const S_OK: SCODE = 0;

/// Memory ran out (`MAPI_E_NOT_ENOUGH_MEMORY`, `E_OUTOFMEMORY`, `0x8007000E`).
///
/// ```
/// use linked_alloc::mapi::MAPI_E_NOT_ENOUGH_MEMORY;
/// assert_eq!(MAPI_E_NOT_ENOUGH_MEMORY as u32, 0x8007_000E);
/// assert!(MAPI_E_NOT_ENOUGH_MEMORY < 0); // MAPI's FAILED(status)
/// ```
pub const MAPI_E_NOT_ENOUGH_MEMORY: SCODE = 0x8007_000E_u32 as SCODE;

/// A parameter is invalid: a NULL `lppBuffer` or `lpObject`, or a pointer that the
/// backend knows is not what the call needs (`MAPI_E_INVALID_PARAMETER`,
/// `E_INVALIDARG`, `0x80070057`).
///
/// ```
/// use linked_alloc::mapi::MAPI_E_INVALID_PARAMETER;
/// assert_eq!(MAPI_E_INVALID_PARAMETER as u32, 0x8007_0057);
/// ```
pub const MAPI_E_INVALID_PARAMETER: SCODE = 0x8007_0057_u32 as SCODE;

/// `cbSize` in bytes; a size that does not fit a `usize` (16-bit targets) cannot be
/// served.
#[inline]
fn byte_size(cb_size: ULONG) -> Option<usize> {
    usize::try_from(cb_size).ok()
}

impl<B: LinkedAllocator> Linked<B> {
    /// `MAPIAllocateBuffer`: allocates a root buffer of `cb_size` bytes, aligned to
    /// [`MIN_ALIGN`](crate::MIN_ALIGN), and stores it in `*lpp_buffer`.
    ///
    /// `lpp_buffer` is where the pointer goes: pass `&mut out`, or `None` for MAPI's
    /// NULL, or `raw.as_mut()` for a raw `*mut LPVOID`.
    ///
    /// Returns [`S_OK`]; [`MAPI_E_NOT_ENOUGH_MEMORY`] if memory runs out;
    /// [`MAPI_E_INVALID_PARAMETER`] if `lpp_buffer` is `None`. On failure `*lpp_buffer`
    /// (if any) is NULL.
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc::mapi::{LPVOID, MAPI_E_INVALID_PARAMETER, S_OK, ULONG};
    /// use linked_alloc_system::SystemHeap;
    ///
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut buffer: LPVOID = core::ptr::null_mut();
    /// assert_eq!(heap.mapi_allocate_buffer(0, &mut buffer), S_OK); // 0 is valid
    /// assert!(!buffer.is_null());
    /// assert_eq!(heap.mapi_allocate_buffer(8, None), MAPI_E_INVALID_PARAMETER);
    /// // SAFETY: `buffer` is a live root of `heap`.
    /// assert_eq!(unsafe { heap.mapi_free_buffer(buffer) }, S_OK as ULONG);
    /// ```
    #[doc(alias = "MAPIAllocateBuffer")]
    pub fn mapi_allocate_buffer<'a>(
        &self,
        cb_size: ULONG,
        lpp_buffer: impl Into<Option<&'a mut LPVOID>>,
    ) -> SCODE {
        let Some(out) = lpp_buffer.into() else {
            return MAPI_E_INVALID_PARAMETER;
        };
        *out = ptr::null_mut();
        let Some(size) = byte_size(cb_size) else {
            return MAPI_E_NOT_ENOUGH_MEMORY;
        };
        match self.allocate_buffer(size) {
            Ok(buffer) => {
                *out = buffer.as_ptr().cast();
                S_OK
            }
            Err(_) => MAPI_E_NOT_ENOUGH_MEMORY,
        }
    }

    /// `MAPIAllocateMore`: allocates a buffer of `cb_size` bytes, aligned to
    /// [`MIN_ALIGN`](crate::MIN_ALIGN), linked to the root of `lp_object` (the root
    /// itself or any buffer already linked to it), and stores it in `*lpp_buffer`. It is
    /// freed with that root, never on its own.
    ///
    /// `lpp_buffer` may point into a buffer of the same root (the MAPI idiom of storing a
    /// string's pointer inside the array that owns it).
    ///
    /// Returns [`S_OK`]; [`MAPI_E_NOT_ENOUGH_MEMORY`] if memory runs out;
    /// [`MAPI_E_INVALID_PARAMETER`] if `lpp_buffer` is `None`, `lp_object` is NULL, or
    /// the backend's [`block_status`](LinkedAllocator::block_status) says `lp_object`
    /// is not live (and then nothing is allocated). On failure `*lpp_buffer` (if any)
    /// is NULL.
    ///
    /// # Safety
    /// `lp_object` is NULL, or a live block (root or child) of this allocator, whose
    /// root no other thread frees during the call; see
    /// [the contract](LinkedAllocator#the-contract). It may also be any pointer at all
    /// if `B`'s [`block_status`](LinkedAllocator::block_status) documents that it
    /// checks any pointer (that is the precondition of `block_status`, forwarded).
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc::mapi::{LPVOID, MAPI_E_INVALID_PARAMETER, S_OK, ULONG};
    /// use linked_alloc_system::SystemHeap;
    ///
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut root: LPVOID = core::ptr::null_mut();
    /// assert_eq!(heap.mapi_allocate_buffer(16, &mut root), S_OK);
    /// let (mut a, mut b): (LPVOID, LPVOID) = (core::ptr::null_mut(), core::ptr::null_mut());
    /// // SAFETY: `root` is live, then `a` is live and linked to it; NULL is allowed.
    /// unsafe {
    ///     assert_eq!(heap.mapi_allocate_more(8, root, &mut a), S_OK);
    ///     assert_eq!(heap.mapi_allocate_more(8, a, &mut b), S_OK); // joins `root`
    ///     let mut c: LPVOID = root; // failure sets the out-pointer to NULL
    ///     assert_eq!(heap.mapi_allocate_more(8, core::ptr::null_mut(), &mut c),
    ///                MAPI_E_INVALID_PARAMETER);
    ///     assert!(c.is_null());
    ///     assert_eq!(heap.stats().children, 2);
    ///     assert_eq!(heap.mapi_free_buffer(root), S_OK as ULONG); // all three go
    /// }
    /// assert!(heap.stats().is_empty());
    /// ```
    #[doc(alias = "MAPIAllocateMore")]
    pub unsafe fn mapi_allocate_more<'a>(
        &self,
        cb_size: ULONG,
        lp_object: LPVOID,
        lpp_buffer: impl Into<Option<&'a mut LPVOID>>,
    ) -> SCODE {
        let Some(out) = lpp_buffer.into() else {
            return MAPI_E_INVALID_PARAMETER;
        };
        *out = ptr::null_mut();
        let Some(parent) = NonNull::new(lp_object.cast::<u8>()) else {
            return MAPI_E_INVALID_PARAMETER;
        };
        // SAFETY: the caller promises `parent` is a live block of this allocator, or
        // that `B::block_status` checks any pointer: `block_status`'s precondition.
        if unsafe { self.backend().block_status(parent) } == BlockStatus::NotLive {
            return MAPI_E_INVALID_PARAMETER;
        }
        let Some(size) = byte_size(cb_size) else {
            return MAPI_E_NOT_ENOUGH_MEMORY;
        };
        // SAFETY: `parent` is not `NotLive`, so by the caller's precondition it is a
        // live block of this allocator whose root nobody frees meanwhile (a backend
        // that checks any pointer said `NotLive` for everything else).
        match unsafe { self.allocate_more(size, parent) } {
            Ok(buffer) => {
                *out = buffer.as_ptr().cast();
                S_OK
            }
            Err(_) => MAPI_E_NOT_ENOUGH_MEMORY,
        }
    }

    /// `MAPIFreeBuffer`: frees the root buffer `lp_buffer` and every buffer linked to
    /// it, in one call, and returns [`S_OK`] (as a [`ULONG`]). NULL is [`S_OK`] and does
    /// nothing.
    ///
    /// If the backend's [`block_status`](LinkedAllocator::block_status) says
    /// `lp_buffer` is a child (made by `MAPIAllocateMore`) or not live, nothing is freed
    /// and the result is [`MAPI_E_INVALID_PARAMETER`] (as a `ULONG`), as the contract's
    /// [bad-input rules](LinkedAllocator#bad-input) ask, where MAPI would return `S_OK` after corrupting its heap.
    ///
    /// # Safety
    /// `lp_buffer` is one of:
    /// - NULL;
    /// - a live root of this allocator: none of its buffers is used after the call, and
    ///   no other thread allocates under it during the call;
    /// - a live child of this allocator, if `B`'s `block_status` tells children apart
    ///   (returns [`BlockStatus::Child`] for them, as `SystemHeap` does); otherwise a
    ///   child would be freed as a root;
    /// - any pointer, if `B`'s `block_status` documents that it checks any pointer.
    ///
    /// See [the contract](LinkedAllocator#the-contract) and
    /// [`LinkedAllocator::block_status`], whose precondition this forwards.
    ///
    /// ```
    /// use linked_alloc::Linked;
    /// use linked_alloc::mapi::{LPVOID, S_OK, ULONG};
    /// use linked_alloc_system::SystemHeap;
    ///
    /// let heap = Linked::new(SystemHeap::new());
    /// // SAFETY: NULL is allowed and does nothing.
    /// assert_eq!(unsafe { heap.mapi_free_buffer(core::ptr::null_mut()) }, S_OK as ULONG);
    /// let mut root: LPVOID = core::ptr::null_mut();
    /// assert_eq!(heap.mapi_allocate_buffer(100, &mut root), S_OK);
    /// // SAFETY: `root` is a live root of `heap`, not used afterwards.
    /// assert_eq!(unsafe { heap.mapi_free_buffer(root) }, S_OK as ULONG);
    /// assert!(heap.stats().is_empty());
    /// ```
    #[doc(alias = "MAPIFreeBuffer")]
    pub unsafe fn mapi_free_buffer(&self, lp_buffer: LPVOID) -> ULONG {
        let Some(root) = NonNull::new(lp_buffer.cast::<u8>()) else {
            return S_OK as ULONG;
        };
        // SAFETY: the caller promises `root` is a live block of this allocator, or that
        // `B::block_status` checks any pointer: `block_status`'s precondition.
        match unsafe { self.backend().block_status(root) } {
            BlockStatus::Root | BlockStatus::Unknown => {
                // SAFETY: by the caller's precondition, a pointer that is neither a
                // child `block_status` recognised nor `NotLive` is a live root of this
                // allocator, unused afterwards, with no thread allocating under it.
                unsafe { self.free_buffer(root) };
                S_OK as ULONG
            }
            BlockStatus::Child | BlockStatus::NotLive => MAPI_E_INVALID_PARAMETER as ULONG,
        }
    }
}

/// Defines the free functions `MAPIAllocateBuffer`, `MAPIAllocateMore` and
/// `MAPIFreeBuffer`, with MAPI's names and status codes, over a `static` heap of your
/// choice (any `Linked<B>`), in the module where it is invoked: the process-wide
/// default heap of ported MAPI code.
///
/// The core crate cannot name a backend (the backends depend on it), so you pick one:
/// `mapi_functions!(HEAP)` for private functions, `mapi_functions!(pub HEAP)` (any
/// visibility) to export them. The functions forward to
/// [`Linked::mapi_allocate_buffer`], [`Linked::mapi_allocate_more`] and
/// [`Linked::mapi_free_buffer`], with the same rules and `# Safety` sections. For the
/// C ABI, with a default heap over `SystemHeap`, see the crate `linked-alloc-capi`.
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc::mapi::{LPVOID, S_OK, ULONG};
/// use linked_alloc_system::SystemHeap;
///
/// static HEAP: Linked<SystemHeap> = Linked::new(SystemHeap::new());
/// linked_alloc::mapi_functions!(HEAP);
///
/// let mut row: LPVOID = core::ptr::null_mut();
/// assert_eq!(MAPIAllocateBuffer(32, &mut row), S_OK);
/// let mut more: LPVOID = core::ptr::null_mut();
/// // SAFETY: `row` is a live root of HEAP; nothing uses either buffer after the free.
/// unsafe {
///     assert_eq!(MAPIAllocateMore(10, row, &mut more), S_OK);
///     assert_eq!(MAPIFreeBuffer(row), S_OK as ULONG);
/// }
/// assert!(HEAP.stats().is_empty());
/// ```
#[macro_export]
macro_rules! mapi_functions {
    ($vis:vis $heap:path) => {
        $crate::mapi_functions! { @forward $heap, MAPIAllocateBuffer, mapi_allocate_buffer,
            "a root buffer of `cbSize` bytes in `*lppBuffer`", [],
            $vis fn MAPIAllocateBuffer<'a>(
                cbSize: $crate::mapi::ULONG,
                lppBuffer: impl ::core::convert::Into<
                    ::core::option::Option<&'a mut $crate::mapi::LPVOID>,
                >,
            ) -> $crate::mapi::SCODE {
                $heap.mapi_allocate_buffer(cbSize, lppBuffer)
            }
        }
        $crate::mapi_functions! { @forward $heap, MAPIAllocateMore, mapi_allocate_more,
            "a buffer of `cbSize` bytes linked to `lpObject`'s root, in `*lppBuffer`",
            ["`lpObject` is NULL or a live buffer of `", "` (any pointer if its backend's ",
                "`block_status` checks any pointer), as for ",
                "`linked_alloc::Linked::mapi_allocate_more`."],
            $vis unsafe fn MAPIAllocateMore<'a>(
                cbSize: $crate::mapi::ULONG,
                lpObject: $crate::mapi::LPVOID,
                lppBuffer: impl ::core::convert::Into<
                    ::core::option::Option<&'a mut $crate::mapi::LPVOID>,
                >,
            ) -> $crate::mapi::SCODE {
                // SAFETY: the caller's precondition is that of `mapi_allocate_more`.
                unsafe { $heap.mapi_allocate_more(cbSize, lpObject, lppBuffer) }
            }
        }
        $crate::mapi_functions! { @forward $heap, MAPIFreeBuffer, mapi_free_buffer,
            "frees a root buffer and every buffer linked to it",
            ["`lpBuffer` is NULL or a live root of `", "`, unused afterwards (or what ",
                "`linked_alloc::Linked::mapi_free_buffer` also accepts for its backend)."],
            $vis unsafe fn MAPIFreeBuffer(lpBuffer: $crate::mapi::LPVOID) -> $crate::mapi::ULONG {
                // SAFETY: the caller's precondition is that of `mapi_free_buffer`.
                unsafe { $heap.mapi_free_buffer(lpBuffer) }
            }
        }
    };
    // One function: `$name` over `$heap`, forwarding to `Linked::$method`; its doc says
    // what it does and, for an unsafe one, its `# Safety` (the heap's name between the
    // first literal and the rest).
    (@forward $heap:path, $name:ident, $method:ident, $what:literal,
        [$($before_heap:literal $(, $after_heap:literal)*)?], $function:item) => {
        #[doc = ::core::concat!(
            "`", ::core::stringify!($name), "` over `", ::core::stringify!($heap), "`: ",
            $what, "; see `linked_alloc::Linked::", ::core::stringify!($method), "`.",
            $("\n\n# Safety\n", $before_heap, ::core::stringify!($heap), $($after_heap),*)?
        )]
        #[allow(non_snake_case, dead_code)]
        #[inline]
        $function
    };
}
