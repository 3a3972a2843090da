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
    /// The values of a block with destructors (checked through the root's
    /// [`RootInfo::values`]); the block's header before them is not in the map.
    Values,
}

/// A block of values that count their drops, in a root.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ValueBlock {
    /// The first value (dangling for an empty slice).
    pub(crate) first: *const crate::nest::Counted,
    /// Its sequence number: blocks are dropped newest first.
    pub(crate) seq: u64,
    /// How many values.
    pub(crate) len: u32,
}

/// What the model knows of a live root beyond its blocks: its place in the tree, its
/// accounting, and its own figures.
#[derive(Clone, Debug)]
pub(crate) struct RootInfo {
    /// The parent root, for a sub-root.
    pub(crate) parent: Option<u64>,
    /// Made by `accounted_root` or below an accounted root.
    pub(crate) accounted: bool,
    /// The limit set on it (accounted roots only).
    pub(crate) limit: Option<usize>,
    /// Its own blocks as the backend counts them: one root, its children (the node
    /// record of a top root and each value block included) and all their bytes.
    pub(crate) own: Stats,
    /// Whether the root has a node record (a plain top root makes one lazily).
    pub(crate) has_node: bool,
    /// Its blocks of values that count their drops.
    pub(crate) values: Vec<ValueBlock>,
    /// The highest `peak_bytes()` seen (accounted roots only).
    pub(crate) peak: usize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    /// The block as the backend gave it (the map's key is its address): the model
    /// reads and writes through it, never through a pointer made from an integer.
    pub(crate) ptr: NonNull<u8>,
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
    /// Every live root's place in the tree and its own figures.
    pub(crate) infos: HashMap<u64, RootInfo>,
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
        self.insert_aligned(addr, layout.size(), block_align(layout), root, content);
    }

    /// [`insert`](Self::insert) of `size` bytes that must be aligned to `align`.
    #[track_caller]
    pub(crate) fn insert_aligned(
        &mut self,
        addr: NonNull<u8>,
        size: usize,
        align: usize,
        root: u64,
        content: Content,
    ) {
        let a = addr.as_ptr() as usize;
        assert!(
            a.is_multiple_of(align),
            "step {}: block {addr:p} of {size} bytes is not aligned to {align}",
            self.step,
        );
        self.check_free_range(a, size, None);
        self.blocks.insert(
            a,
            Block {
                ptr: addr,
                size,
                root,
                content,
            },
        );
        self.by_root.entry(root).or_default().push(a);
    }

    /// Counts `children` more children and `bytes` more bytes in `root`.
    pub(crate) fn count(&mut self, root: u64, children: usize, bytes: usize) {
        let own = &mut self.infos.get_mut(&root).expect("a known root").own;
        own.children += children;
        own.bytes_in_use += bytes;
        self.expected.children += children;
        self.expected.bytes_in_use += bytes;
    }

    /// Counts `children` fewer children and `bytes` fewer bytes in `root`.
    pub(crate) fn uncount(&mut self, root: u64, children: usize, bytes: usize) {
        let own = &mut self.infos.get_mut(&root).expect("a known root").own;
        own.children -= children;
        own.bytes_in_use -= bytes;
        self.expected.children -= children;
        self.expected.bytes_in_use -= bytes;
    }

    /// Records a new root (its block is inserted by the caller) of `bytes` bytes in
    /// all (a sub-root's node record included).
    pub(crate) fn add_info(&mut self, id: u64, parent: Option<u64>, accounted: bool, bytes: usize) {
        let own = Stats {
            roots: 1,
            children: 0,
            bytes_in_use: bytes,
        };
        self.expected.roots += 1;
        self.expected.bytes_in_use += bytes;
        self.infos.insert(
            id,
            RootInfo {
                parent,
                accounted,
                limit: None,
                own,
                has_node: parent.is_some(),
                values: Vec::new(),
                peak: 0,
            },
        );
    }

    /// Whether `a` is `x` or an ancestor of it.
    pub(crate) fn is_under(&self, mut x: u64, a: u64) -> bool {
        loop {
            if x == a {
                return true;
            }
            match self.infos[&x].parent {
                Some(p) => x = p,
                None => return false,
            }
        }
    }

    /// `root` and its ancestors, nearest first.
    pub(crate) fn chain(&self, mut x: u64) -> Vec<u64> {
        let mut out = vec![x];
        while let Some(p) = self.infos[&x].parent {
            out.push(p);
            x = p;
        }
        out
    }

    /// The figures of every live root's subtree (itself and everything below).
    pub(crate) fn subtrees(&self) -> HashMap<u64, Stats> {
        let mut out: HashMap<u64, Stats> = HashMap::new();
        for (&id, info) in &self.infos {
            for a in self.chain(id) {
                let s = out.entry(a).or_default();
                s.roots += info.own.roots;
                s.children += info.own.children;
                s.bytes_in_use += info.own.bytes_in_use;
            }
        }
        out
    }

    /// The figures of `root`'s subtree.
    pub(crate) fn subtree(&self, root: u64) -> Stats {
        let mut s = Stats::default();
        for (&id, info) in &self.infos {
            if self.is_under(id, root) {
                s.roots += info.own.roots;
                s.children += info.own.children;
                s.bytes_in_use += info.own.bytes_in_use;
            }
        }
        s
    }

    /// The live roots under `root` (not itself), deepest first.
    pub(crate) fn descendants(&self, root: u64) -> Vec<u64> {
        let mut out: Vec<(usize, u64)> = self
            .infos
            .keys()
            .filter(|&&x| x != root && self.is_under(x, root))
            .map(|&x| (self.chain(x).len(), x))
            .collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out.into_iter().map(|(_, x)| x).collect()
    }

    /// Whether `bytes` more in `root` pass no limit of it or of an ancestor.
    pub(crate) fn fits(&self, root: u64, bytes: usize) -> bool {
        self.chain(root)
            .into_iter()
            .all(|a| match self.infos[&a].limit {
                None => true,
                Some(limit) => self
                    .subtree(a)
                    .bytes_in_use
                    .checked_add(bytes)
                    .is_some_and(|b| b <= limit),
            })
    }

    /// Whether `root` or an ancestor has a limit.
    pub(crate) fn limited(&self, root: u64) -> bool {
        self.chain(root)
            .into_iter()
            .any(|a| self.infos[&a].limit.is_some())
    }

    /// Checks that a request of `layout`, charging `bytes` to the accounted `root` (if
    /// accounted), that failed was allowed to: a limit refuses it or the backend may.
    #[track_caller]
    pub(crate) fn failed_in(&self, root: u64, layout: Layout, bytes: usize, call: &str) {
        assert!(
            self.may_fail(layout) || !self.fits(root, bytes),
            "step {}: {call} failed for an ordinary {layout:?} that passes no limit",
            self.step
        );
    }

    /// Checks that a request of `layout` that succeeded, charging `bytes` to `root`
    /// (before the model counts it), was possible and passed no limit.
    #[track_caller]
    pub(crate) fn succeeded_in(&self, root: u64, layout: Layout, bytes: usize, call: &str) {
        self.succeeded(layout, call);
        assert!(
            self.fits(root, bytes),
            "step {}: {call} of {layout:?} ({bytes} bytes) passed a limit of root {root} or above",
            self.step
        );
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
        self.uncount(b.root, 1, b.size);
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
                        b.ptr,
                        b.size,
                        seed,
                        format_args!("step {}, root {root}", self.step),
                    )
                };
            }
        }
        crate::nest::check_values(root, &self.infos[&root].values, self.step);
    }

    /// Checks a root's patterns and forgets all its blocks (about to be freed).
    #[track_caller]
    pub(crate) fn forget_root(&mut self, root: u64) -> RootInfo {
        self.check_root(root);
        self.drop_root(root)
    }

    /// Forgets all the blocks of a root (freed already), and the root.
    pub(crate) fn drop_root(&mut self, root: u64) -> RootInfo {
        let list = self.by_root.remove(&root).expect("a known root");
        for a in list {
            self.blocks.remove(&a).expect("listed blocks are known");
        }
        let info = self.infos.remove(&root).expect("a known root");
        self.expected.roots -= info.own.roots;
        self.expected.children -= info.own.children;
        self.expected.bytes_in_use -= info.own.bytes_in_use;
        info
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
