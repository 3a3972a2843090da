//! Where the first region of a [`Pool`](crate::Pool) is: inside the pool value
//! ([`Inline`], the storage of [`StaticPool`](crate::StaticPool)), or memory handed in
//! ([`External`], the storage of [`PoolRegion`](crate::PoolRegion)). Both are built by
//! those two names' constructors; everything else about a pool is the same code.

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

/// Where a pool's first region is: [`Inline`] or [`External`] (sealed).
pub trait Storage: sealed::Sealed {}

pub(crate) mod sealed {
    use core::ptr::NonNull;

    /// The bytes a pool's first region spans: `len` bytes at `base`.
    #[derive(Clone, Copy, Debug)]
    pub struct Region {
        pub(crate) base: NonNull<u8>,
        pub(crate) len: usize,
    }

    /// What a [`Storage`](super::Storage) gives the pool.
    pub trait Sealed {
        /// The pool's name, for `Debug`.
        const NAME: &'static str;

        /// The first region. Each call gives the same bytes: valid for reads and
        /// writes while the storage lives, the pool's alone (apart from the payloads of
        /// its live blocks), in the same place or moved together with the pool's state.
        fn region(&self) -> Region;
    }
}

/// The bytes of an [`Inline`] storage, aligned for any granule. Never read before the
/// pool wrote them, so they may start uninitialized (a `static` puts them in `.bss`).
#[repr(C, align(16))]
struct Bytes<const N: usize>(MaybeUninit<[u8; N]>);

/// `N` bytes inside the pool value: the storage of [`StaticPool`](crate::StaticPool).
pub struct Inline<const N: usize>(UnsafeCell<Bytes<N>>);

impl<const N: usize> Inline<N> {
    pub(crate) const fn new() -> Self {
        Self(UnsafeCell::new(Bytes(MaybeUninit::uninit())))
    }
}

impl<const N: usize> Storage for Inline<N> {}

impl<const N: usize> sealed::Sealed for Inline<N> {
    const NAME: &'static str = "StaticPool";

    #[inline]
    fn region(&self) -> sealed::Region {
        // SAFETY: `UnsafeCell::get` gives a pointer derived from `&self`, never null.
        let base = unsafe { NonNull::new_unchecked(self.0.get().cast::<u8>()) };
        // The `N` bytes are valid for reads and writes through the `UnsafeCell` while
        // `self` lives; they are the pool's alone (a private field of its private
        // field), and they move only together with the pool.
        sealed::Region { base, len: N }
    }
}

impl<const N: usize> fmt::Debug for Inline<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inline").field("bytes", &N).finish()
    }
}

/// Memory handed in (a `&'static mut [u8]`, or a range between two pointers), which
/// the pool owns from then on: the storage of [`PoolRegion`](crate::PoolRegion).
pub struct External {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the storage owns its bytes (it took them for good: a `&'static mut` or a
// range that the caller of the unsafe constructor gave up), so sending it to another
// thread sends their only user.
unsafe impl Send for External {}

impl External {
    /// The storage of `len` bytes at `base`.
    ///
    /// # Safety
    /// `base` is valid for reads and writes of `len` bytes for as long as the pool
    /// lives (and its blocks are used), and nothing else reads or writes them meanwhile
    /// except through the pool.
    pub(crate) const unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        Self { base, len }
    }
}

impl Storage for External {}

impl sealed::Sealed for External {
    const NAME: &'static str = "PoolRegion";

    #[inline]
    fn region(&self) -> sealed::Region {
        // `base..base + len` is valid and the pool's alone (the precondition of
        // `External::new`), and the fields never change.
        sealed::Region {
            base: self.base,
            len: self.len,
        }
    }
}

impl fmt::Debug for External {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("External")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}
