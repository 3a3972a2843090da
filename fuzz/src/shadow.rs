//! The shadow: every live block, by address, and what `stats()` must say.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};

use linked_alloc::Stats;
use linked_alloc::align::{MAX_GUARANTEED_ALIGN, block_align};

use crate::input::{Config, ORDINARY_SIZE};
use linked_alloc::conformance::pattern::check_named;

/// What the model knows of a block's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// Filled with the pattern of this seed.
    Pattern(usize),
    /// The buffer of a vector (which checks its own elements).
    Vec,
    /// Given back with `Allocator::deallocate` but not reclaimed by the backend: still
    /// live (it goes with its root), its bytes are nobody's.
    Dead,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    pub(crate) size: usize,
    pub(crate) root: u64,
    pub(crate) content: Content,
}

/// Every live block, by address, with the counts `stats()` must report.
#[derive(Debug)]
pub(crate) struct Shadow {
    pub(crate) config: Config,
    pub(crate) blocks: BTreeMap<usize, Block>,
    /// The addresses of each root's blocks; the root's own block first.
    pub(crate) by_root: HashMap<u64, Vec<usize>>,
    pub(crate) expected: Stats,
    pub(crate) next_seed: usize,
    pub(crate) step: usize,
}

impl Shadow {
    /// The end of a block for the overlap check: a zero-size block counts as one byte.
    pub(crate) fn end(addr: usize, size: usize) -> usize {
        addr + size.max(1)
    }

    pub(crate) fn seed(&mut self) -> usize {
        self.next_seed += 1;
        self.next_seed
    }

    /// Checks alignment and overlap of a new block and records it.
    #[track_caller]
    pub(crate) fn insert(
        &mut self,
        addr: NonNull<u8>,
        layout: Layout,
        root: u64,
        content: Content,
    ) {
        let a = addr.as_ptr() as usize;
        assert!(
            a.is_multiple_of(block_align(layout)),
            "step {}: block {addr:p} of {layout:?} is not aligned to {}",
            self.step,
            block_align(layout)
        );
        self.check_free_range(a, layout.size(), None);
        self.blocks.insert(
            a,
            Block {
                size: layout.size(),
                root,
                content,
            },
        );
        self.by_root.entry(root).or_default().push(a);
    }

    /// Checks that `[addr, addr + size)` overlaps no live block but `except`.
    #[track_caller]
    pub(crate) fn check_free_range(&self, addr: usize, size: usize, except: Option<usize>) {
        let end = Self::end(addr, size);
        let mut before = self.blocks.range(..end).rev();
        let mut last = before.next();
        if last.map(|(&a, _)| Some(a)) == Some(except) {
            last = before.next();
        }
        if let Some((&a, b)) = last {
            assert!(
                Self::end(a, b.size) <= addr,
                "step {}: new block [{addr:#x}, +{size}) overlaps live block [{a:#x}, +{}) of root {}",
                self.step,
                b.size,
                b.root
            );
        }
    }

    /// The address of `ptr`, a block given back by `call`, after checking that the
    /// model knows it with `size` bytes (`what`, in the failure message, names the
    /// layout that says so).
    #[track_caller]
    pub(crate) fn known_size(
        &self,
        ptr: NonNull<u8>,
        size: usize,
        call: &str,
        what: &str,
    ) -> usize {
        let addr = ptr.as_ptr() as usize;
        assert_eq!(self.blocks[&addr].size, size, "{call}: {what}");
        addr
    }

    /// Removes a child that the backend reclaimed.
    pub(crate) fn remove_child(&mut self, addr: usize) {
        let b = self.blocks.remove(&addr).expect("a known block");
        let list = self.by_root.get_mut(&b.root).expect("a known root");
        let i = list.iter().position(|&x| x == addr).expect("listed");
        list.swap_remove(i);
        self.expected.children -= 1;
        self.expected.bytes_in_use -= b.size;
    }

    /// Checks every pattern of `root`'s blocks.
    #[track_caller]
    pub(crate) fn check_root(&self, root: u64) {
        for &a in &self.by_root[&root] {
            let b = self.blocks[&a];
            if let Content::Pattern(seed) = b.content {
                // SAFETY: the model lists only live blocks of `b.size` bytes, and it
                // filled this one with the pattern of `seed`.
                unsafe {
                    check_named(
                        NonNull::new(a as *mut u8).expect("non-null"),
                        b.size,
                        seed,
                        format_args!("step {}, root {root}", self.step),
                    )
                };
            }
        }
    }

    /// Checks a root's patterns and forgets all its blocks (about to be freed).
    #[track_caller]
    pub(crate) fn forget_root(&mut self, root: u64) {
        self.check_root(root);
        self.drop_root(root);
    }

    /// Forgets all the blocks of a root (freed already).
    pub(crate) fn drop_root(&mut self, root: u64) {
        let list = self.by_root.remove(&root).expect("a known root");
        self.expected.roots -= 1;
        self.expected.children -= list.len() - 1;
        for a in list {
            let b = self.blocks.remove(&a).expect("listed blocks are known");
            self.expected.bytes_in_use -= b.size;
        }
    }

    /// Whether a failed request of `layout` is allowed.
    pub(crate) fn may_fail(&self, layout: Layout) -> bool {
        self.config.exhaustible
            || layout.size() > ORDINARY_SIZE
            || layout.align() > MAX_GUARANTEED_ALIGN
    }

    /// Checks that a request that failed was allowed to.
    #[track_caller]
    pub(crate) fn failed(&self, layout: Layout, call: &str) {
        assert!(
            self.may_fail(layout),
            "step {}: {call} failed for an ordinary {layout:?}",
            self.step
        );
    }

    /// Checks that a request that succeeded was possible at all.
    #[track_caller]
    pub(crate) fn succeeded(&self, layout: Layout, call: &str) {
        assert!(
            layout.size() <= isize::MAX as usize / 2,
            "step {}: {call} succeeded for an impossible {layout:?}",
            self.step
        );
    }
}
