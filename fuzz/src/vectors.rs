//! The vectors that live in roots, and their operations.

use core::alloc::Layout;
use core::cell::RefCell;
use core::fmt;
use core::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use allocator_api2::vec::Vec as AVec;
use linked_alloc::LinkedAllocator;

use crate::input::VecOp;
use crate::shadow::{Content, Shadow};
use crate::tracked::Tracked;

/// An element type of the fuzzed vectors: the element at index `i` of the vector of
/// `seed` is always `make(seed, i)`.
pub(crate) trait Elem: Copy + PartialEq + fmt::Debug {
    fn make(seed: u64, i: usize) -> Self;
}

impl Elem for u64 {
    fn make(seed: u64, i: usize) -> Self {
        seed.wrapping_mul(0x1000_0000_01b3) ^ (i as u64).wrapping_mul(0x9e37_79b9)
    }
}

/// A 64-byte-aligned element, so that the vector's blocks ask for more than `MIN_ALIGN`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(64))]
pub(crate) struct Wide(u64, u32);

impl Elem for Wide {
    fn make(seed: u64, i: usize) -> Self {
        Wide(u64::make(seed, i), i as u32)
    }
}

/// A vector's raw parts between actions (it borrows its root only during one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawVec {
    pub(crate) ptr: *mut u8,
    pub(crate) len: usize,
    pub(crate) cap: usize,
    pub(crate) seed: u64,
}

/// Checks every element of `v`, and that its buffer is the model's block of exactly its
/// capacity.
#[track_caller]
pub(crate) fn check_vec<T: Elem, B: LinkedAllocator>(
    v: &AVec<T, Tracked<'_, '_, B>>,
    seed: u64,
    shadow: &RefCell<Shadow>,
) {
    let shadow = shadow.borrow();
    for (i, x) in v.iter().enumerate() {
        assert_eq!(
            *x,
            T::make(seed, i),
            "step {}: vector element {i}",
            shadow.step
        );
    }
    if v.capacity() > 0 {
        let addr = v.as_ptr() as usize;
        let block = shadow.blocks.get(&addr).unwrap_or_else(|| {
            panic!(
                "step {}: the vector's buffer {addr:#x} is no live block",
                shadow.step
            )
        });
        assert_eq!(
            block.content,
            Content::Vec,
            "step {}: vector buffer",
            shadow.step
        );
        assert_eq!(
            block.size,
            v.capacity() * size_of::<T>(),
            "step {}: vector block size",
            shadow.step
        );
    }
}

/// Checks the elements of a vector kept as raw parts (before its root is freed).
pub(crate) fn check_raw<T: Elem>(raw: Option<RawVec>, step: usize) {
    let Some(r) = raw else { return };
    // SAFETY: the parts describe a live vector of `T` whose first `len` elements are
    // initialized (they come from `into_raw_parts_with_alloc`, and its root is live).
    let elems = unsafe { core::slice::from_raw_parts(r.ptr.cast::<T>(), r.len) };
    for (i, x) in elems.iter().enumerate() {
        assert_eq!(
            *x,
            T::make(r.seed, i),
            "step {step}: vector element {i} before its root is freed"
        );
    }
}

/// Runs `op` on the vector `raw` (or a new one) of `alloc`'s root; returns its raw parts,
/// or `None` if it was dropped.
pub(crate) fn vec_op<T: Elem, B: LinkedAllocator>(
    raw: Option<RawVec>,
    alloc: Tracked<'_, '_, B>,
    op: VecOp,
) -> Option<RawVec> {
    let shadow = alloc.shadow;
    let (mut v, seed) = match raw {
        // SAFETY: the parts come from `into_raw_parts_with_alloc` of a vector of `T`
        // whose allocator was a `Tracked` of this same root (the same allocator), and
        // the root is still live (the model drops the parts when it frees the root).
        Some(r) => (
            unsafe { AVec::from_raw_parts_in(r.ptr.cast::<T>(), r.len, r.cap, alloc) },
            r.seed,
        ),
        None => {
            let seed = shadow.borrow_mut().seed() as u64;
            (AVec::new_in(alloc), seed)
        }
    };
    let try_reserve = |v: &mut AVec<T, _>, n: usize, exact: bool| {
        let before = (v.as_ptr(), v.capacity());
        let r = if exact {
            v.try_reserve_exact(n)
        } else {
            v.try_reserve(n)
        };
        if r.is_err() {
            // The allocator already checked that a failure was allowed.
            assert_eq!(
                before,
                (v.as_ptr(), v.capacity()),
                "a failed try_reserve changed the vector"
            );
        }
        r.is_ok()
    };
    match op {
        VecOp::Push(n) => {
            for _ in 0..n % 64 {
                if !try_reserve(&mut v, 1, false) {
                    break;
                }
                let i = v.len();
                v.push(T::make(seed, i));
            }
        }
        VecOp::Extend(n) => {
            let n = usize::from(n);
            if try_reserve(&mut v, n, true) {
                let start = v.len();
                v.extend((start..start + n).map(|i| T::make(seed, i)));
            }
        }
        VecOp::Truncate(k) => {
            let len = usize::from(k) % (v.len() + 1);
            v.truncate(len);
        }
        VecOp::Clear => v.clear(),
        VecOp::TryReserve(n) => {
            try_reserve(&mut v, usize::from(n), false);
        }
        VecOp::TryReserveHuge(k) => {
            let n = (isize::MAX as usize / size_of::<T>()) - usize::from(k);
            let r = v.try_reserve(n);
            assert!(
                r.is_err(),
                "try_reserve({n}) of {}-byte elements succeeded",
                size_of::<T>()
            );
        }
        VecOp::Shrink(k) => {
            let target = (v.len() + usize::from(k % 8)).min(v.capacity());
            let exhaustible = {
                let shadow = shadow.borrow();
                shadow.config.exhaustible || shadow.limited(v.allocator().id)
            };
            if !exhaustible {
                // `Vec::shrink_to` cannot report a failure (it aborts), so only where
                // the backend cannot run out and no limit can refuse a new block.
                v.shrink_to(target);
            } else if target < v.capacity() && v.capacity() > 0 {
                // Through `Allocator::shrink`, which reports failure.
                let (ptr, len, cap, alloc) = v.into_raw_parts_with_alloc();
                let old = Layout::array::<T>(cap).expect("a live vector's layout");
                let new = Layout::array::<T>(target).expect("smaller than a valid one");
                // SAFETY: `ptr` is the vector's live buffer, allocated by `alloc` with
                // `old`; `new` is not larger and has the same alignment.
                let r =
                    unsafe { alloc.shrink(NonNull::new(ptr).expect("cap > 0").cast(), old, new) };
                let (ptr, cap) = match r {
                    Ok(p) => (p.cast::<T>().as_ptr(), target),
                    Err(_) => (ptr, cap),
                };
                // SAFETY: `ptr` is a buffer of `cap` elements of `alloc` (the old one, or
                // the shrunk one that holds the first `len <= target` elements).
                v = unsafe { AVec::from_raw_parts_in(ptr, len, cap, alloc) };
            }
        }
        VecOp::Drop => {
            check_vec(&v, seed, shadow);
            drop(v);
            return None;
        }
    }
    check_vec(&v, seed, shadow);
    let (ptr, len, cap, _alloc) = v.into_raw_parts_with_alloc();
    Some(RawVec {
        ptr: ptr.cast(),
        len,
        cap,
        seed,
    })
}
