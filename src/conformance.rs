//! The conformance suite: the checks that every [`LinkedAllocator`] must pass, generic
//! over the backend, public (feature `conformance`) so that a backend written outside
//! this repository runs the very same suite.
//!
//! Stamp it out in a test file with [`conformance_suite!`](crate::conformance_suite),
//! giving an expression that makes a fresh backend for each test:
//!
//! ```ignore
//! // tests/conformance.rs of your backend crate
//! mod my_heap {
//!     linked_alloc::conformance_suite!(my_crate::MyHeap::new());
//! }
//! ```
//!
//! The expression may also give a `&'static B` (for a backend too large for the stack,
//! such as a big pool): `&B` is a [`LinkedAllocator`] too.
//!
//! Every check pattern-fills each block it makes and checks the pattern before the
//! block's root is freed, checks alignment on every block, and ends with
//! [`stats()`](LinkedAllocator::stats) back where it started (nothing leaked).
//! Iteration counts are cut under Miri.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::vec::Vec;

use crate::align::{MAX_GUARANTEED_ALIGN, block_align, is_aligned};
use crate::{BlockStatus, Linked, LinkedAllocator, MIN_ALIGN, Stats};

pub mod pattern;

/// Stamps out one `#[test]` per check of the suite, each on a fresh backend made by the
/// given expression. Put it inside a module named after the backend.
///
/// ```ignore
/// mod system {
///     linked_alloc::conformance_suite!(linked_alloc_system::SystemHeap::new());
/// }
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            alignment_rules,
            mapi_sizes_get_min_align,
            large_alignments_never_misalign,
            child_of_child_joins_the_root,
            blocks_never_overlap,
            free_root_with_no_children,
            free_root_with_one_child,
            free_root_with_many_children,
            zero_size_blocks_are_distinct,
            size_overflow_is_an_error,
            stats_are_exact,
            threads_add_children_to_one_root,
            threads_make_their_own_roots,
            global_alloc_alloc_dealloc,
            global_alloc_realloc_keeps_data_and_alignment,
            global_alloc_zeroed,
            block_status_tells_roots_from_children,
            optional_hooks_keep_the_rules,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}

/// Pick the native count, or the small one under Miri.
const fn iterations(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// Fills `len` bytes at `p` with the pattern of `seed` ([`pattern::fill`]).
fn fill(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes, that only they use.
    unsafe { pattern::fill(p, len, seed) }
}

/// Checks that `len` bytes at `p` still hold the pattern of `seed` ([`pattern::check`]).
#[track_caller]
fn check(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes, filled by `fill`.
    unsafe { pattern::check(p, len, seed) }
}

/// Checks the alignment rule on a block of `layout`.
#[track_caller]
fn check_aligned(p: NonNull<u8>, layout: Layout) {
    assert!(
        is_aligned(p.as_ptr() as usize, block_align(layout)),
        "{p:p} is not aligned to {} (layout {layout:?})",
        block_align(layout)
    );
}

/// A block made by the suite: where, how large, and its pattern seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: NonNull<u8>,
    size: usize,
    seed: usize,
}

/// A root and the blocks under it, pattern-filled, with the model of what `stats()`
/// should say.
struct Tree<'a, B: LinkedAllocator> {
    backend: &'a B,
    root: NonNull<u8>,
    blocks: Vec<Block>,
    bytes: usize,
}

impl<'a, B: LinkedAllocator> Tree<'a, B> {
    #[track_caller]
    fn new(backend: &'a B, layout: Layout, seed: usize) -> Self {
        let root = backend.allocate_root(layout).expect("allocate_root failed");
        check_aligned(root, layout);
        fill(root, layout.size(), seed);
        let blocks = std::vec![Block {
            ptr: root,
            size: layout.size(),
            seed
        }];
        Self {
            backend,
            root,
            blocks,
            bytes: layout.size(),
        }
    }

    /// Adds a child of `layout` under the block at `parent_index`.
    #[track_caller]
    fn child(&mut self, parent_index: usize, layout: Layout) -> NonNull<u8> {
        let parent = self.blocks[parent_index].ptr;
        // SAFETY: `parent` is a live block of this tree's root in `backend`.
        let p =
            unsafe { self.backend.allocate_child(parent, layout) }.expect("allocate_child failed");
        check_aligned(p, layout);
        // Wrapping: on 32-bit targets the product passes `usize::MAX` for the seeds of the
        // thread tests; any seed has a pattern.
        let seed = self.blocks[0]
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(self.blocks.len());
        fill(p, layout.size(), seed);
        self.blocks.push(Block {
            ptr: p,
            size: layout.size(),
            seed,
        });
        self.bytes += layout.size();
        p
    }

    #[track_caller]
    fn check_all(&self) {
        for b in &self.blocks {
            check(b.ptr, b.size, b.seed);
        }
    }

    /// Checks every block, frees the root, and returns how many blocks it had.
    #[track_caller]
    fn free(self) -> usize {
        self.check_all();
        // SAFETY: `root` is a live root of `backend`; its blocks are not used after.
        unsafe { self.backend.free_root(self.root) };
        self.blocks.len()
    }
}

/// Runs `f` and checks that `stats()` is back where it was.
#[track_caller]
fn no_leak<B: LinkedAllocator>(backend: &B, f: impl FnOnce()) {
    let before = backend.stats();
    f();
    assert_eq!(
        backend.stats(),
        before,
        "stats() did not come back: something leaked"
    );
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("test layouts are valid")
}

/// All powers of two from 1 to [`MAX_GUARANTEED_ALIGN`] (under Miri, which looks for
/// undefined behaviour rather than for each value, a spread of them).
fn alignments() -> impl Iterator<Item = usize> {
    (0..=MAX_GUARANTEED_ALIGN.trailing_zeros())
        .filter(|s| !cfg!(miri) || [0, 1, 4, 5, 8, 12].contains(s))
        .map(|s| 1usize << s)
}

/// Sizes to try with every alignment: all of `0..=4100` natively, a spread under Miri.
fn sizes() -> Vec<usize> {
    if cfg!(miri) {
        std::vec![0, 1, 7, 16, 17, 33, 100, 4097]
    } else {
        (0..=4100).collect()
    }
}

/// Every power-of-two alignment up to 4096 and every size in `0..=4100`, for roots and
/// for children, is aligned to `max(align, MIN_ALIGN)`, usable, and kept intact.
pub fn alignment_rules<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let sizes = sizes();
        for align in alignments() {
            // Roots of every size, each freed at once.
            for &size in &sizes {
                Tree::new(backend, layout(size, align), size).free();
            }
            // Children of every size under one root.
            let mut tree = Tree::new(backend, layout(8, align), align);
            for &size in &sizes {
                tree.child(0, layout(size, align));
            }
            tree.free();
        }
    });
}

/// The MAPI-style byte-size calls give [`MIN_ALIGN`] blocks.
pub fn mapi_sizes_get_min_align<B: LinkedAllocator>(backend: &B) {
    let linked = Linked::new(backend);
    no_leak(backend, || {
        for size in [0, 1, 3, 8, 13, 64, 1000] {
            let root = linked
                .allocate_buffer(size)
                .expect("allocate_buffer failed");
            assert!(is_aligned(root.as_ptr() as usize, MIN_ALIGN));
            fill(root, size, 1);
            // SAFETY: `root` is a live root of `linked`.
            let more = unsafe { linked.allocate_more(size, root) }.expect("allocate_more failed");
            assert!(is_aligned(more.as_ptr() as usize, MIN_ALIGN));
            fill(more, size, 2);
            check(root, size, 1);
            check(more, size, 2);
            // SAFETY: `root` is a live root; not used afterwards.
            unsafe { linked.free_buffer(root) };
        }
        assert!(linked.allocate_buffer(usize::MAX).is_err());
        assert!(linked.allocate_buffer(isize::MAX as usize).is_err());
    });
}

/// Alignments past 4096 either work or give `AllocError`, never a misaligned pointer.
pub fn large_alignments_never_misalign<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        for shift in 13..=iterations(20, 14) as u32 {
            let l = layout(64, 1 << shift);
            if let Ok(root) = backend.allocate_root(l) {
                check_aligned(root, l);
                fill(root, 64, shift as usize);
                // SAFETY: `root` is a live root of `backend`.
                if let Ok(child) = unsafe { backend.allocate_child(root, l) } {
                    check_aligned(child, l);
                    fill(child, 64, 7);
                    check(child, 64, 7);
                }
                check(root, 64, shift as usize);
                // SAFETY: `root` is a live root of `backend`.
                unsafe { backend.free_root(root) };
            }
        }
    });
}

/// A child of a child joins the root: freeing the root frees all of them.
pub fn child_of_child_joins_the_root<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let base = backend.stats();
        let mut tree = Tree::new(backend, layout(32, 8), 1);
        let depth = iterations(1000, 20);
        for i in 0..depth {
            // Each new block is a child of the previous one, and every third one of
            // the root: all join the root's chain.
            let parent = if i % 3 == 2 { 0 } else { i };
            tree.child(parent, layout(16 + i % 40, 8));
        }
        let now = backend.stats();
        assert_eq!(now.roots, base.roots + 1);
        assert_eq!(now.children, base.children + depth);
        assert_eq!(now.bytes_in_use, base.bytes_in_use + tree.bytes);
        assert_eq!(tree.free(), depth + 1);
    });
}

/// Pattern-filled blocks of many sizes in many roots never overlap and are never
/// overwritten by the allocator.
pub fn blocks_never_overlap<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let roots = iterations(20, 3);
        let per_root = iterations(300, 15);
        let mut trees: Vec<Tree<'_, B>> = Vec::new();
        for r in 0..roots {
            let mut tree = Tree::new(backend, layout(1 + r * 37 % 500, 1 << (r % 7)), r + 1);
            for i in 0..per_root {
                let size = (i * 7919 + r * 13) % 700;
                let parent = (i * 31) % tree.blocks.len();
                tree.child(parent, layout(size, 1 << (i % 8)));
            }
            trees.push(tree);
        }
        // No two live blocks share a byte.
        let mut spans: Vec<(usize, usize)> = trees
            .iter()
            .flat_map(|t| t.blocks.iter().map(|b| (b.ptr.as_ptr() as usize, b.size)))
            .collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(
                w[0].0 + w[0].1 <= w[1].0,
                "blocks {:#x}+{} and {:#x} overlap",
                w[0].0,
                w[0].1,
                w[1].0
            );
            assert_ne!(w[0].0, w[1].0, "two blocks at {:#x}", w[0].0);
        }
        // Free every other root, then check the rest, then make more, then free all.
        let mut kept = Vec::new();
        for (i, t) in trees.into_iter().enumerate() {
            if i % 2 == 0 {
                t.free();
            } else {
                kept.push(t);
            }
        }
        for t in &kept {
            t.check_all();
        }
        for r in 0..roots {
            let mut tree = Tree::new(backend, layout(r * 3, 16), 100 + r);
            for i in 0..per_root / 2 {
                tree.child(i % tree.blocks.len(), layout(i % 300, 8));
            }
            kept.push(tree);
        }
        for t in kept {
            t.free();
        }
    });
}

fn free_root_with_children<B: LinkedAllocator>(backend: &B, children: usize) {
    no_leak(backend, || {
        let base = backend.stats();
        let mut tree = Tree::new(backend, layout(64, 16), 9);
        for i in 0..children {
            tree.child(i % 4, layout(64, 16));
        }
        let now = backend.stats();
        assert_eq!(now.children, base.children + children);
        assert_eq!(now.bytes_in_use, base.bytes_in_use + 64 * (children + 1));
        assert_eq!(tree.free(), children + 1);
    });
}

/// `free_root` of a root with no children.
pub fn free_root_with_no_children<B: LinkedAllocator>(backend: &B) {
    free_root_with_children(backend, 0);
}

/// `free_root` of a root with one child.
pub fn free_root_with_one_child<B: LinkedAllocator>(backend: &B) {
    free_root_with_children(backend, 1);
}

/// `free_root` of a root with 100 000 children (100 under Miri): one call frees them
/// all, with constant stack.
pub fn free_root_with_many_children<B: LinkedAllocator>(backend: &B) {
    free_root_with_children(backend, iterations(100_000, 100));
}

/// Zero-size roots and children are distinct, aligned, non-null pointers.
pub fn zero_size_blocks_are_distinct<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let n = iterations(1000, 20);
        let mut seen = Vec::new();
        let mut roots = Vec::new();
        for i in 0..n {
            let l = layout(0, 1 << (i % 13));
            let root = backend.allocate_root(l).expect("zero-size root failed");
            check_aligned(root, l);
            // SAFETY: `root` is a live root of `backend`.
            let child = unsafe { backend.allocate_child(root, l) }.expect("zero-size child failed");
            check_aligned(child, l);
            seen.push(root.as_ptr() as usize);
            seen.push(child.as_ptr() as usize);
            roots.push(root);
        }
        let stats = backend.stats();
        assert!(stats.roots >= n && stats.children >= n);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            2 * n,
            "two live zero-size blocks share an address"
        );
        for root in roots {
            // SAFETY: each is a live root of `backend`, freed once.
            unsafe { backend.free_root(root) };
        }
    });
}

/// A size whose total would pass `isize::MAX` is `AllocError`, for roots and children,
/// and the allocator stays usable.
pub fn size_overflow_is_an_error<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let mut huge = std::vec![
            layout(isize::MAX as usize, 1),
            layout(isize::MAX as usize - 15, 16),
            layout(isize::MAX as usize - 4095, 4096),
        ];
        // Sizes that fit in `isize::MAX` with a header or a page's rounding, but that no
        // 64-bit machine has the memory for. On a 32-bit target they are 1 and 2 GiB,
        // which a backend over the platform heap may well be given.
        if cfg!(target_pointer_width = "64") {
            huge.push(layout(isize::MAX as usize - 4095, 1));
            huge.push(layout((isize::MAX as usize) / 2 + 1, 8));
        }
        for &l in &huge {
            assert!(
                backend.allocate_root(l).is_err(),
                "allocate_root({l:?}) did not fail"
            );
        }
        let mut tree = Tree::new(backend, layout(40, 8), 3);
        for &l in &huge {
            // SAFETY: the tree's root is a live root of `backend`.
            let r = unsafe { backend.allocate_child(tree.root, l) };
            assert!(r.is_err(), "allocate_child({l:?}) did not fail");
        }
        // Still usable: more children, another root, all intact.
        for i in 0..10 {
            tree.child(0, layout(i * 10, 8));
        }
        Tree::new(backend, layout(100, 64), 4).free();
        tree.free();
    });
}

/// `stats()` follows every call exactly.
pub fn stats_are_exact<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let base = backend.stats();
        let mut model = base;
        let mut trees = Vec::new();
        for r in 0..iterations(10, 3) {
            let size = r * 11;
            let mut tree = Tree::new(backend, layout(size, 8), r);
            model.roots += 1;
            model.bytes_in_use += size;
            assert_eq!(backend.stats(), model);
            for c in 0..r * 5 {
                tree.child(c % tree.blocks.len(), layout(c + 1, 4));
                model.children += 1;
                model.bytes_in_use += c + 1;
                assert_eq!(backend.stats(), model);
            }
            trees.push(tree);
        }
        while let Some(tree) = trees.pop() {
            let (bytes, blocks) = (tree.bytes, tree.blocks.len());
            tree.free();
            model.roots -= 1;
            model.children -= blocks - 1;
            model.bytes_in_use -= bytes;
            assert_eq!(backend.stats(), model);
        }
        assert_eq!(model, base);
        let _: Stats = model;
    });
}

/// A raw pointer that may cross threads in the suite's tests.
#[derive(Clone, Copy)]
struct SendPtr(NonNull<u8>);
// SAFETY: the suite hands each block to one thread at a time; the allocator is `Sync`.
unsafe impl Send for SendPtr {}
// SAFETY: as above: threads only read the root pointer to link children to it.
unsafe impl Sync for SendPtr {}

/// Several threads add children to one root at once; every block is intact, and one
/// `free_root` frees them all.
pub fn threads_add_children_to_one_root<B: LinkedAllocator + Sync>(backend: &B) {
    no_leak(backend, || {
        let threads = iterations(4, 2);
        let per_thread = iterations(20_000, 30);
        let l = layout(48, 16);
        let root = SendPtr(backend.allocate_root(l).expect("allocate_root failed"));
        fill(root.0, 48, usize::MAX);
        let all: Vec<Vec<Block>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let root = root;
                        let mut mine: Vec<Block> = Vec::with_capacity(per_thread);
                        for i in 0..per_thread {
                            // Alternate: child of the root, child of my last child.
                            let parent = match mine.last() {
                                Some(b) if i % 2 == 1 => b.ptr,
                                _ => root.0,
                            };
                            let size = 8 + (i % 9) * 8;
                            // SAFETY: `parent` is a live block under `root`, which no
                            // thread frees until all are joined.
                            let p = unsafe { backend.allocate_child(parent, layout(size, 8)) }
                                .expect("allocate_child failed");
                            check_aligned(p, layout(size, 8));
                            let seed = t * 1_000_000 + i;
                            fill(p, size, seed);
                            mine.push(Block { ptr: p, size, seed });
                        }
                        mine.iter()
                            .map(|b| (SendPtr(b.ptr), b.size, b.seed))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .expect("a thread panicked")
                        .into_iter()
                        .map(|(p, size, seed)| Block {
                            ptr: p.0,
                            size,
                            seed,
                        })
                        .collect()
                })
                .collect()
        });
        assert!(backend.stats().children >= threads * per_thread);
        for b in all.iter().flatten() {
            check(b.ptr, b.size, b.seed);
        }
        check(root.0, 48, usize::MAX);
        // SAFETY: `root` is a live root; every thread is joined.
        unsafe { backend.free_root(root.0) };
    });
}

/// Several threads make, fill, check and free roots of their own at once.
pub fn threads_make_their_own_roots<B: LinkedAllocator + Sync>(backend: &B) {
    no_leak(backend, || {
        let threads = iterations(4, 2);
        let rounds = iterations(2_000, 10);
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    for r in 0..rounds {
                        let mut tree = Tree::new(backend, layout(r % 200, 8), t * 100_000 + r);
                        for c in 0..(r % 7) {
                            tree.child(c / 2, layout(c * 16, 16));
                        }
                        tree.free();
                    }
                });
            }
        });
    });
}

/// `GlobalAlloc` on `Linked<B>`: alloc makes a root, dealloc frees it.
pub fn global_alloc_alloc_dealloc<B: LinkedAllocator>(backend: &B) {
    let linked = Linked::new(backend);
    no_leak(backend, || {
        let base = backend.stats().bytes_in_use;
        for align in alignments() {
            let l = layout(100, align);
            // SAFETY: `l` has a non-zero size.
            let p = unsafe { linked.alloc(l) };
            let p = NonNull::new(p).expect("GlobalAlloc::alloc failed");
            check_aligned(p, l);
            fill(p, 100, align);
            assert_eq!(backend.stats().bytes_in_use, base + 100);
            check(p, 100, align);
            // SAFETY: `p` came from `alloc` with `l`.
            unsafe { linked.dealloc(p.as_ptr(), l) };
        }
        // Exhaustion or overflow is null, not a panic.
        let l = layout(isize::MAX as usize - 4095, 4096);
        // SAFETY: `l` has a non-zero size.
        assert!(unsafe { linked.alloc(l) }.is_null());
    });
}

/// `realloc` keeps the data (up to the smaller size) and the alignment, both ways.
pub fn global_alloc_realloc_keeps_data_and_alignment<B: LinkedAllocator>(backend: &B) {
    let linked = Linked::new(backend);
    no_leak(backend, || {
        let base = backend.stats().bytes_in_use;
        for align in [1, 8, 16, 64, 4096] {
            let l = layout(64, align);
            // SAFETY: `l` has a non-zero size.
            let mut p = NonNull::new(unsafe { linked.alloc(l) }).expect("alloc failed");
            fill(p, 64, 5);
            let mut size = 64;
            for new_size in [128, 1000, 5000, 33, 7, 2000] {
                // SAFETY: `p` is live with layout (`size`, `align`); `new_size` is small.
                let q = unsafe { linked.realloc(p.as_ptr(), layout(size, align), new_size) };
                let q = NonNull::new(q).expect("realloc failed");
                check_aligned(q, layout(new_size, align));
                check(q, size.min(new_size), 5);
                fill(q, new_size, 5);
                assert_eq!(backend.stats().bytes_in_use, base + new_size);
                p = q;
                size = new_size;
            }
            // SAFETY: `p` is live with layout (`size`, `align`).
            unsafe { linked.dealloc(p.as_ptr(), layout(size, align)) };
        }
    });
}

/// `alloc_zeroed` gives zeroed memory, even where a dirty block was freed just before.
pub fn global_alloc_zeroed<B: LinkedAllocator>(backend: &B) {
    let linked = Linked::new(backend);
    no_leak(backend, || {
        let sizes: &[usize] = if cfg!(miri) {
            &[1, 100, 4096]
        } else {
            &[1, 16, 100, 4096, 10_000]
        };
        for &size in sizes {
            let l = layout(size, 16);
            // SAFETY: `l` has a non-zero size.
            let dirty = NonNull::new(unsafe { linked.alloc(l) }).expect("alloc failed");
            fill(dirty, size, 0xff);
            // SAFETY: `dirty` came from `alloc` with `l`.
            unsafe { linked.dealloc(dirty.as_ptr(), l) };
            // SAFETY: `l` has a non-zero size.
            let p = NonNull::new(unsafe { linked.alloc_zeroed(l) }).expect("alloc_zeroed failed");
            // SAFETY: `p` is a live block of `size` bytes.
            let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "alloc_zeroed gave a non-zero byte"
            );
            // SAFETY: `p` came from `alloc_zeroed` with `l`.
            unsafe { linked.dealloc(p.as_ptr(), l) };
        }
    });
}

/// `block_status` never calls a root a child or the reverse (it may say `Unknown`).
pub fn block_status_tells_roots_from_children<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let mut tree = Tree::new(backend, layout(24, 8), 1);
        let child = tree.child(0, layout(24, 8));
        let grandchild = tree.child(1, layout(0, 4096));
        // SAFETY: all three are live blocks of `backend`.
        unsafe {
            let root = backend.block_status(tree.root);
            assert!(
                matches!(root, BlockStatus::Root | BlockStatus::Unknown),
                "root: {root:?}"
            );
            for c in [child, grandchild] {
                let s = backend.block_status(c);
                assert!(
                    matches!(s, BlockStatus::Child | BlockStatus::Unknown),
                    "child: {s:?}"
                );
            }
        }
        tree.free();
    });
}

/// The optional hooks (`resize_in_place`, `reclaim_child`) keep the data, the
/// alignment and the stats exact whether or not the backend supports them.
pub fn optional_hooks_keep_the_rules<B: LinkedAllocator>(backend: &B) {
    no_leak(backend, || {
        let mut tree = Tree::new(backend, layout(16, 16), 1);
        for round in 0..iterations(50, 5) {
            let l = layout(32, 1 << (round % 8));
            let index = tree.blocks.len();
            let p = tree.child(0, l);
            let mut size = 32;
            for new_size in [64, 200, 16, 0, 100] {
                let before = backend.stats();
                // SAFETY: `p` is a live block of `backend`, of (`size`, align), linked to
                // the live root `tree.root`, as `allocate_root` returned it.
                let resized = unsafe {
                    backend.resize_in_place(tree.root, p, layout(size, l.align()), new_size)
                };
                if resized {
                    check(p, size.min(new_size), tree.blocks[index].seed);
                    let after = backend.stats();
                    assert_eq!(after.bytes_in_use + size, before.bytes_in_use + new_size);
                    tree.bytes = tree.bytes + new_size - size;
                    size = new_size;
                    fill(p, size, tree.blocks[index].seed);
                    tree.blocks[index].size = size;
                } else {
                    assert_eq!(backend.stats(), before, "a refused resize changed stats");
                }
            }
            if round % 2 == 0 {
                let before = backend.stats();
                // SAFETY: `p` is a live child of `backend`, of (`size`, align), linked to
                // `tree.root` (as `allocate_root` returned it); it is not used again if
                // reclaimed (it is dropped from the tree).
                if unsafe { backend.reclaim_child(tree.root, p, layout(size, l.align())) } {
                    let after = backend.stats();
                    assert_eq!(after.children + 1, before.children);
                    assert_eq!(after.bytes_in_use + size, before.bytes_in_use);
                    tree.blocks.pop();
                    tree.bytes -= size;
                } else {
                    assert_eq!(backend.stats(), before, "a refused reclaim changed stats");
                }
            }
            tree.check_all();
        }
        tree.free();
    });
}
