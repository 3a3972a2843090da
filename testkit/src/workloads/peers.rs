//! The peers written in Rust or found in libc: `malloc`/`free`, and bumpalo. (talloc is
//! in `talloc.rs`, behind the feature `talloc`.)

use core::alloc::Layout;
use core::cell::RefCell;
use core::ffi::c_void;
use core::ptr::NonNull;

use bumpalo::Bump;

use super::contender::{AllocUser, Contender};

// SAFETY: the C library's `malloc` and `free`, with their C signatures; std links it.
unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
}

/// The alignment `malloc` gives on the platforms we measure on (glibc, 64-bit).
const MALLOC_ALIGN: usize = 16;

/// Plain `malloc`/`free`, the reference of every ratio. It has no links, so a root keeps
/// its children's pointers in a `Vec` (8 bytes each, counted in its memory figure) and
/// frees them one by one: the work a program on `malloc` alone has to do. The `Vec`s
/// are reused from root to root (as a program would reuse its lists), so that after the
/// first run their growth is not timed.
#[derive(Debug, Default)]
pub struct Malloc {
    /// Emptied lists of freed roots, for the next roots.
    spare: RefCell<Vec<Vec<NonNull<u8>>>>,
}

/// A `malloc` root: its block and its children.
#[derive(Debug)]
pub struct MallocRoot {
    block: NonNull<u8>,
    children: Vec<NonNull<u8>>,
}

/// One `malloc`, `None` on failure or for an alignment `malloc` does not promise.
#[inline]
fn malloc_layout(layout: Layout) -> Option<NonNull<u8>> {
    if layout.align() > MALLOC_ALIGN {
        return None;
    }
    // SAFETY: `malloc` accepts any size; the result is null or a fresh block.
    let p = NonNull::new(unsafe { malloc(layout.size()) }.cast::<u8>())?;
    debug_assert_eq!(p.as_ptr() as usize % layout.align(), 0);
    Some(p)
}

impl Contender for Malloc {
    type Root = MallocRoot;

    fn name(&self) -> String {
        "malloc".to_owned()
    }

    #[inline]
    fn root(&self, layout: Layout) -> Option<MallocRoot> {
        let block = malloc_layout(layout)?;
        Some(MallocRoot {
            block,
            children: Vec::new(),
        })
    }

    #[inline]
    fn block(root: &MallocRoot) -> NonNull<u8> {
        root.block
    }

    #[inline]
    unsafe fn child(&self, root: &mut MallocRoot, layout: Layout) -> Option<NonNull<u8>> {
        let p = malloc_layout(layout)?;
        if root.children.capacity() == 0 {
            // The first child: take a list of an earlier root (a root with no children,
            // as in workload 1, stays a plain `malloc` and `free`).
            root.children = self.spare.borrow_mut().pop().unwrap_or_default();
        }
        root.children.push(p);
        Some(p)
    }

    #[inline]
    unsafe fn free(&self, root: MallocRoot) {
        let MallocRoot {
            block,
            mut children,
        } = root;
        if children.capacity() != 0 {
            for p in children.drain(..) {
                // SAFETY: `p` came from `malloc` and is freed once (the root is consumed).
                unsafe { free(p.as_ptr().cast()) };
            }
            self.spare.borrow_mut().push(children);
        }
        // SAFETY: as above, for the root's own block.
        unsafe { free(block.as_ptr().cast()) };
    }

    fn with_allocator<U: AllocUser>(&self, user: U) -> Option<U::Output> {
        // The global allocator of the bench binaries is `System`: `malloc`/`realloc`.
        Some(user.run(allocator_api2::alloc::Global))
    }
}

/// bumpalo: a root is a `Bump` arena (its chunks come from the global allocator,
/// `malloc`); children are bumped from it; freeing the root drops the arena.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bumpalo;

/// A bumpalo root: the arena and the root's block in it.
#[derive(Debug)]
pub struct BumpRoot {
    bump: Bump,
    block: NonNull<u8>,
}

impl Contender for Bumpalo {
    type Root = BumpRoot;

    fn name(&self) -> String {
        "bumpalo".to_owned()
    }

    #[inline]
    fn root(&self, layout: Layout) -> Option<BumpRoot> {
        let bump = Bump::new();
        let block = bump.try_alloc_layout(layout).ok()?;
        Some(BumpRoot { bump, block })
    }

    #[inline]
    fn block(root: &BumpRoot) -> NonNull<u8> {
        root.block
    }

    #[inline]
    unsafe fn child(&self, root: &mut BumpRoot, layout: Layout) -> Option<NonNull<u8>> {
        root.bump.try_alloc_layout(layout).ok()
    }

    #[inline]
    unsafe fn free(&self, root: BumpRoot) {
        drop(root.bump);
    }

    fn with_allocator<U: AllocUser>(&self, user: U) -> Option<U::Output> {
        let bump = Bump::new();
        Some(user.run(&bump))
    }
}
