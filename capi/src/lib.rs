//! # linked-alloc-capi: MAPI's three memory calls as a C ABI
//!
//! `MAPIAllocateBuffer`, `MAPIAllocateMore` and `MAPIFreeBuffer`, exported with those
//! exact names and MAPI's signatures and status codes (declared in
//! `include/mapi_alloc.h`), over one process-wide heap, [`HEAP`], whose backend is
//! chosen at build time by a cargo feature:
//!
//! | feature            | [`Backend`]                                          |
//! |--------------------|------------------------------------------------------|
//! | `system` (default) | `linked_alloc_system::SystemHeap`                    |
//! | `mmap`             | `linked_alloc_mmap::MmapPages`                       |
//! | `pool`             | `linked_alloc_pool::StaticPool<POOL_BYTES>` (16 MiB) |
//!
//! If several are on, the most specific wins (`pool` over `mmap` over `system`). With
//! `pool`, the region is a `static` of the library, of `POOL_BYTES` bytes: 16 MiB, or
//! the decimal number in the environment variable `LINKED_ALLOC_CAPI_POOL_BYTES` when
//! the library is built. The crate builds
//! as a static library (`liblinked_alloc_capi.a`), a dynamic one
//! (`liblinked_alloc_capi.so`) and an rlib, so Rust code in the same process can share
//! the heap with C code.
//!
//! Every rule (NULL handling, status codes, `*lppBuffer` set to NULL on failure,
//! refusing children and dead pointers where the backend can tell) lives in
//! [`linked_alloc::mapi`]; the functions here only turn C's raw pointers into its
//! arguments.
//!
//! ```
//! use linked_alloc::mapi::{LPVOID, S_OK, ULONG};
//! use linked_alloc_capi::{MAPIAllocateBuffer, MAPIAllocateMore, MAPIFreeBuffer};
//!
//! let mut row: LPVOID = core::ptr::null_mut();
//! let mut name: LPVOID = core::ptr::null_mut();
//! // SAFETY: the out-pointers are valid; `row` is a live root of the heap afterwards;
//! // nothing uses the buffers after the free.
//! unsafe {
//!     assert_eq!(MAPIAllocateBuffer(64, &mut row), S_OK);
//!     assert_eq!(MAPIAllocateMore(16, row, &mut name), S_OK);
//!     assert_eq!(MAPIFreeBuffer(row), S_OK as ULONG); // `name` goes with it
//! }
//! ```
//!
//! The free Rust functions with the MAPI names (taking `&mut out` rather than raw
//! pointers) over this same heap are one macro call away:
//! `linked_alloc::mapi_functions!(linked_alloc_capi::HEAP);`.

use core::ptr;

use linked_alloc::Linked;
use linked_alloc::mapi::{LPVOID, SCODE, ULONG};

/// The size of the pool (feature `pool`): `LINKED_ALLOC_CAPI_POOL_BYTES` at build
/// time (decimal), else 16 MiB.
///
/// ```
/// assert!(linked_alloc_capi::POOL_BYTES >= 4096);
/// ```
#[cfg(feature = "pool")]
pub const POOL_BYTES: usize = match option_env!("LINKED_ALLOC_CAPI_POOL_BYTES") {
    Some(bytes) => parse_pool_bytes(bytes),
    None => 16 << 20,
};

/// `bytes` as a decimal number of at least 4096; a compile error otherwise.
#[cfg(feature = "pool")]
const fn parse_pool_bytes(bytes: &str) -> usize {
    let digits = bytes.as_bytes();
    assert!(!digits.is_empty(), "LINKED_ALLOC_CAPI_POOL_BYTES is empty");
    let mut n: usize = 0;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        assert!(
            d.is_ascii_digit(),
            "LINKED_ALLOC_CAPI_POOL_BYTES is not a decimal number"
        );
        n = match n.checked_mul(10) {
            Some(n) => match n.checked_add((d - b'0') as usize) {
                Some(n) => n,
                None => panic!("LINKED_ALLOC_CAPI_POOL_BYTES is too large"),
            },
            None => panic!("LINKED_ALLOC_CAPI_POOL_BYTES is too large"),
        };
        i += 1;
    }
    assert!(n >= 4096, "LINKED_ALLOC_CAPI_POOL_BYTES is below 4096");
    n
}

/// The backend of [`HEAP`]: `StaticPool<POOL_BYTES>` (feature `pool`).
///
/// ```
/// let _heap: &linked_alloc::Linked<linked_alloc_capi::Backend> = &linked_alloc_capi::HEAP;
/// ```
#[cfg(feature = "pool")]
pub type Backend = linked_alloc_pool::StaticPool<POOL_BYTES>;

/// The backend of [`HEAP`]: `MmapPages` (feature `mmap`).
///
/// ```
/// let _heap: &linked_alloc::Linked<linked_alloc_capi::Backend> = &linked_alloc_capi::HEAP;
/// ```
#[cfg(all(feature = "mmap", not(feature = "pool")))]
pub type Backend = linked_alloc_mmap::MmapPages;

/// The backend of [`HEAP`]: `SystemHeap` (feature `system`, the default).
///
/// ```
/// let _heap: &linked_alloc::Linked<linked_alloc_capi::Backend> = &linked_alloc_capi::HEAP;
/// ```
#[cfg(all(feature = "system", not(any(feature = "mmap", feature = "pool"))))]
pub type Backend = linked_alloc_system::SystemHeap;

#[cfg(not(any(feature = "system", feature = "mmap", feature = "pool")))]
compile_error!("linked-alloc-capi needs a backend: enable the feature `system`, `mmap` or `pool`");

/// The process-wide heap behind the exported calls. Rust code may use it directly
/// (for its [`stats`](Linked::stats), or its MAPI-status methods).
///
/// ```
/// use linked_alloc::mapi::{LPVOID, S_OK, ULONG};
/// use linked_alloc_capi::HEAP;
///
/// let before = HEAP.stats();
/// let mut buffer: LPVOID = core::ptr::null_mut();
/// assert_eq!(HEAP.mapi_allocate_buffer(10, &mut buffer), S_OK);
/// // SAFETY: `buffer` is a live root of HEAP, not used afterwards.
/// assert_eq!(unsafe { linked_alloc_capi::MAPIFreeBuffer(buffer) }, S_OK as ULONG);
/// assert_eq!(HEAP.stats(), before);
/// ```
pub static HEAP: Linked<Backend> = Linked::new(Backend::new());

/// Writes NULL to `*lpp_buffer` if it is not NULL, and gives it as a reference.
///
/// C callers often pass the address of an uninitialised `LPVOID`; writing it first
/// means no reference to uninitialised memory is ever made.
///
/// # Safety
/// `lpp_buffer` is NULL, or valid for writes of an `LPVOID` and aligned for one, and
/// not used by anything else during the call.
#[inline]
unsafe fn out_pointer<'a>(lpp_buffer: *mut LPVOID) -> Option<&'a mut LPVOID> {
    if lpp_buffer.is_null() {
        return None;
    }
    // SAFETY: not NULL, so valid for writes and aligned (the caller's precondition).
    unsafe { lpp_buffer.write(ptr::null_mut()) };
    // SAFETY: as above, and now initialised; nothing else uses it during the call.
    unsafe { lpp_buffer.as_mut() }
}

/// `SCODE MAPIAllocateBuffer(ULONG cbSize, LPVOID *lppBuffer)`: a root buffer of
/// `cbSize` bytes (0 allowed), aligned to `MIN_ALIGN`, stored in `*lppBuffer`.
///
/// Returns `S_OK`; `MAPI_E_NOT_ENOUGH_MEMORY` if memory runs out (then
/// `*lppBuffer` is NULL); `MAPI_E_INVALID_PARAMETER` if `lppBuffer` is NULL. See
/// [`Linked::mapi_allocate_buffer`].
///
/// # Safety
/// `lppBuffer` is NULL, or valid for writes of an `LPVOID` and aligned for one.
///
/// ```
/// use linked_alloc::mapi::{LPVOID, MAPI_E_INVALID_PARAMETER, S_OK};
/// use linked_alloc_capi::{MAPIAllocateBuffer, MAPIFreeBuffer};
///
/// let mut buffer: LPVOID = core::ptr::null_mut();
/// // SAFETY: `&mut buffer` is valid for writes; NULL is allowed.
/// unsafe {
///     assert_eq!(MAPIAllocateBuffer(100, &mut buffer), S_OK);
///     assert_eq!(MAPIAllocateBuffer(100, core::ptr::null_mut()), MAPI_E_INVALID_PARAMETER);
///     MAPIFreeBuffer(buffer);
/// }
/// ```
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MAPIAllocateBuffer(cbSize: ULONG, lppBuffer: *mut LPVOID) -> SCODE {
    // SAFETY: the caller's precondition on `lppBuffer` is `out_pointer`'s.
    let out = unsafe { out_pointer(lppBuffer) };
    HEAP.mapi_allocate_buffer(cbSize, out)
}

/// `SCODE MAPIAllocateMore(ULONG cbSize, LPVOID lpObject, LPVOID *lppBuffer)`: a
/// buffer of `cbSize` bytes linked to the root of `lpObject` (the root itself or any
/// buffer linked to it), freed with that root, stored in `*lppBuffer`.
///
/// Returns `S_OK`; `MAPI_E_NOT_ENOUGH_MEMORY` if memory runs out;
/// `MAPI_E_INVALID_PARAMETER` if `lpObject` or `lppBuffer` is NULL, or the backend
/// knows `lpObject` is not live. On failure `*lppBuffer` is NULL. See
/// [`Linked::mapi_allocate_more`].
///
/// # Safety
/// `lppBuffer` is NULL, or valid for writes of an `LPVOID` and aligned for one (it may
/// point into a buffer of the same root). `lpObject` is NULL or a live buffer of
/// [`HEAP`] (root or child), whose root no other thread frees during the call, as for
/// [`Linked::mapi_allocate_more`]; with the `pool` backend, whose `block_status`
/// checks any pointer, it may be any pointer (a dead one is refused).
///
/// ```
/// use linked_alloc::mapi::{LPVOID, MAPI_E_INVALID_PARAMETER, S_OK};
/// use linked_alloc_capi::{MAPIAllocateBuffer, MAPIAllocateMore, MAPIFreeBuffer};
///
/// let (mut root, mut more): (LPVOID, LPVOID) = (core::ptr::null_mut(), core::ptr::null_mut());
/// // SAFETY: the out-pointers are valid; `root` is live until the free.
/// unsafe {
///     assert_eq!(MAPIAllocateBuffer(8, &mut root), S_OK);
///     assert_eq!(MAPIAllocateMore(8, root, &mut more), S_OK);
///     assert_eq!(MAPIAllocateMore(8, core::ptr::null_mut(), &mut more),
///                MAPI_E_INVALID_PARAMETER);
///     assert!(more.is_null());
///     MAPIFreeBuffer(root);
/// }
/// ```
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MAPIAllocateMore(
    cbSize: ULONG,
    lpObject: LPVOID,
    lppBuffer: *mut LPVOID,
) -> SCODE {
    // SAFETY: the caller's precondition on `lppBuffer` is `out_pointer`'s.
    let out = unsafe { out_pointer(lppBuffer) };
    // SAFETY: the caller promises `lpObject` is NULL or a live buffer of HEAP, the
    // precondition of `mapi_allocate_more`.
    unsafe { HEAP.mapi_allocate_more(cbSize, lpObject, out) }
}

/// `ULONG MAPIFreeBuffer(LPVOID lpBuffer)`: frees the root buffer `lpBuffer` and every
/// buffer linked to it; returns `S_OK`. NULL is `S_OK` and does nothing. A buffer made
/// by `MAPIAllocateMore`, or a dead pointer, where the backend can tell, is not freed:
/// the result is then `MAPI_E_INVALID_PARAMETER`. See [`Linked::mapi_free_buffer`].
///
/// # Safety
/// `lpBuffer` is NULL, or a live root of [`HEAP`] that nothing uses afterwards, or
/// another pointer that [`Linked::mapi_free_buffer`] accepts for [`Backend`]: a live
/// child with every backend here (refused), and with `pool` any pointer (a dead or
/// foreign one is refused).
///
/// ```
/// use linked_alloc::mapi::{LPVOID, S_OK, ULONG};
/// use linked_alloc_capi::{MAPIAllocateBuffer, MAPIFreeBuffer};
///
/// let mut buffer: LPVOID = core::ptr::null_mut();
/// // SAFETY: `buffer` is a live root, not used after the free; NULL is allowed.
/// unsafe {
///     assert_eq!(MAPIAllocateBuffer(0, &mut buffer), S_OK);
///     assert_eq!(MAPIFreeBuffer(buffer), S_OK as ULONG);
///     assert_eq!(MAPIFreeBuffer(core::ptr::null_mut()), S_OK as ULONG);
/// }
/// ```
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MAPIFreeBuffer(lpBuffer: LPVOID) -> ULONG {
    // SAFETY: the caller's precondition is that of `mapi_free_buffer` for HEAP.
    unsafe { HEAP.mapi_free_buffer(lpBuffer) }
}

/// What is live in [`HEAP`] (`struct linked_alloc_stats` in C): for a C test that
/// proves nothing leaked, whatever the backend.
///
/// ```
/// let s: linked_alloc_capi::LinkedAllocStats = linked_alloc_capi::linked_alloc_stats();
/// # let _ = s.roots + s.children + s.bytes_in_use;
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkedAllocStats {
    /// Live root buffers.
    pub roots: usize,
    /// Live buffers made by `MAPIAllocateMore`.
    pub children: usize,
    /// Bytes of the live buffers, as requested.
    pub bytes_in_use: usize,
}

/// `struct linked_alloc_stats linked_alloc_stats(void)`: what is live in [`HEAP`] now.
/// An extension of this library, not a MAPI call.
///
/// ```
/// use linked_alloc::mapi::{LPVOID, S_OK};
/// use linked_alloc_capi::{linked_alloc_stats, MAPIAllocateBuffer, MAPIFreeBuffer};
///
/// let mut buffer: LPVOID = core::ptr::null_mut();
/// // SAFETY: `&mut buffer` is valid for writes.
/// assert_eq!(unsafe { MAPIAllocateBuffer(24, &mut buffer) }, S_OK);
/// assert!(linked_alloc_stats().roots >= 1);
/// // SAFETY: `buffer` is a live root, not used afterwards.
/// unsafe { MAPIFreeBuffer(buffer) };
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn linked_alloc_stats() -> LinkedAllocStats {
    let s = HEAP.stats();
    LinkedAllocStats {
        roots: s.roots,
        children: s.children,
        bytes_in_use: s.bytes_in_use,
    }
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
