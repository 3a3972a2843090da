//! The model: the live roots with their handles and vectors, and how each action runs.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::RefCell;
use core::fmt;
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};

use linked_alloc::{Linked, LinkedAllocator, MIN_ALIGN, Root, Stats};

use crate::input::{Action, Align, ChildVia, Config, FreeVia, RootVia, Size, VecOp};
use crate::nest::DropLog;
use crate::shadow::{Content, RootInfo, Shadow};
use crate::tracked::Tracked;
use crate::vectors::{RawVec, Wide, check_raw, vec_op};
use linked_alloc::conformance::pattern::{check_named, fill};

/// A live root: its handle (which frees it on drop; `None` once a sub-root's handle
/// is given up: its parent frees it), its two vectors. Its place in the tree is in the
/// shadow's [`RootInfo`](crate::shadow::RootInfo).
pub(crate) struct RootEntry<'a, B: LinkedAllocator> {
    pub(crate) id: u64,
    pub(crate) handle: Option<Root<'a, B>>,
    pub(crate) narrow: Option<RawVec>,
    pub(crate) wide: Option<RawVec>,
}

/// One run of the body: the front end under test, its live roots, the shadow of every
/// live block, and `stats()` at the start.
pub(crate) struct Model<'a, B: LinkedAllocator> {
    pub(crate) linked: &'a Linked<B>,
    pub(crate) roots: Vec<RootEntry<'a, B>>,
    pub(crate) shadow: RefCell<Shadow>,
    pub(crate) base: Stats,
    pub(crate) next_id: u64,
    pub(crate) step: usize,
    /// Where the values that count their drops record them.
    pub(crate) log: DropLog,
    /// The next sequence number of a block of such values.
    pub(crate) next_seq: u64,
}

impl<'a, B: LinkedAllocator> Model<'a, B> {
    pub(crate) fn new(linked: &'a Linked<B>, config: Config) -> Self {
        let base = linked.stats();
        Model {
            linked,
            roots: Vec::new(),
            shadow: RefCell::new(Shadow {
                config,
                blocks: BTreeMap::new(),
                by_root: HashMap::new(),
                infos: HashMap::new(),
                expected: base,
                next_seed: 0,
                step: 0,
            }),
            base,
            next_id: 0,
            step: 0,
            log: DropLog::default(),
            next_seq: 0,
        }
    }

    #[track_caller]
    pub(crate) fn check_stats(&self, when: &str) {
        let shadow = self.shadow.borrow();
        assert_eq!(
            self.linked.stats(),
            shadow.expected,
            "step {}: stats() {when} differ from the model",
            self.step
        );
    }

    pub(crate) fn full(&self) -> bool {
        let shadow = self.shadow.borrow();
        shadow
            .expected
            .bytes_in_use
            .saturating_sub(self.base.bytes_in_use)
            > shadow.config.max_live_bytes
    }

    /// The root that `i` picks if it has a live handle: its index, id and handle.
    pub(crate) fn pick_live(&self, i: u16) -> Option<(usize, u64, &Root<'a, B>)> {
        let r = self.pick(i)?;
        let entry = &self.roots[r];
        Some((r, entry.id, entry.handle.as_ref()?))
    }

    pub(crate) fn pick(&self, i: u16) -> Option<usize> {
        (!self.roots.is_empty()).then(|| usize::from(i) % self.roots.len())
    }

    pub(crate) fn apply(&mut self, action: Action) {
        self.shadow.borrow_mut().step = self.step;
        match action {
            Action::NewRoot { size, align, via } => self.new_root(size, align, via),
            Action::Child {
                root,
                block,
                size,
                align,
                via,
            } => self.child(root, block, size, align, via),
            Action::Children { root, count } => {
                for k in 0..count {
                    // The newest block of the root is the parent.
                    let size = Size::Tiny(k.wrapping_mul(7));
                    self.child(root, u16::MAX, size, Align(3), ChildVia::Raw);
                }
            }
            Action::Free { root, via } => self.free(root, via),
            Action::Realloc { root, size } => self.realloc(root, size),
            Action::Vec { root, wide, op } => self.vec(root, wide, op),
            Action::Check { root } => {
                if let Some(i) = self.pick(root) {
                    self.shadow.borrow().check_root(self.roots[i].id);
                }
            }
            Action::SubRoot {
                parent,
                size,
                align,
            } => self.sub_root(parent, size, align),
            Action::AccountedRoot { size, align } => self.accounted_root(size, align),
            Action::Value { root, kind } => self.value(root, kind),
            Action::Reset { root } => self.reset(root),
            Action::SetLimit { root, limit } => self.set_limit(root, limit),
            Action::MoveUnder { root, parent } => self.move_under(root, parent),
            Action::ForgetSubRoot { root } => self.forget_sub_root(root),
        }
    }

    /// Records a new root block and its handle, filled with a fresh pattern.
    pub(crate) fn add_root(&mut self, ptr: NonNull<u8>, layout: Layout, zeroed: bool) {
        if zeroed {
            // SAFETY: `ptr` is a fresh root of `layout.size()` bytes, zeroed by the call.
            let bytes = unsafe { core::slice::from_raw_parts(ptr.as_ptr(), layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "step {}: alloc_zeroed gave non-zero bytes",
                self.step
            );
        }
        // SAFETY: `ptr` is a live root of `self.linked` made with `layout` (by one of
        // its calls); the handle is its only owner from now on.
        let handle = unsafe { Root::from_raw(self.linked, ptr, layout) };
        self.add_tree_root(handle, None, false, layout.size());
    }

    pub(crate) fn new_root(&mut self, size: Size, align: Align, via: RootVia) {
        if self.full() {
            return;
        }
        let align = match via {
            RootVia::Buffer => MIN_ALIGN,
            _ => align.bytes(),
        };
        let layout = size.layout(align);
        let mut zeroed = false;
        let (result, call) = match via {
            RootVia::Handle => (self.linked.root(layout).map(Root::into_raw), "Linked::root"),
            RootVia::Raw => (self.linked.allocate_root(layout), "allocate_root"),
            RootVia::Buffer => (
                self.linked.allocate_buffer(layout.size()),
                "allocate_buffer",
            ),
            RootVia::Global | RootVia::GlobalZeroed if layout.size() > 0 => {
                zeroed = matches!(via, RootVia::GlobalZeroed);
                // SAFETY: `layout` has a non-zero size.
                let p = unsafe {
                    if zeroed {
                        GlobalAlloc::alloc_zeroed(self.linked, layout)
                    } else {
                        GlobalAlloc::alloc(self.linked, layout)
                    }
                };
                (
                    NonNull::new(p).ok_or(linked_alloc::AllocError),
                    "GlobalAlloc::alloc",
                )
            }
            RootVia::Global | RootVia::GlobalZeroed => {
                (self.linked.allocate_root(layout), "allocate_root")
            }
        };
        match result {
            Ok(ptr) => {
                self.shadow.borrow().succeeded(layout, call);
                self.add_root(ptr, layout, zeroed);
            }
            Err(_) => self.shadow.borrow().failed(layout, call),
        }
    }

    pub(crate) fn child(&mut self, root: u16, block: u16, size: Size, align: Align, via: ChildVia) {
        if self.full() {
            return;
        }
        let Some(r) = self.pick(root) else { return };
        let entry = &self.roots[r];
        let Some(handle) = entry.handle.as_ref() else {
            return;
        };
        let id = entry.id;
        // An accounted root counts only what its handle makes: no raw children.
        let accounted = self.shadow.borrow().infos[&id].accounted;
        let via = if accounted { ChildVia::Handle } else { via };
        let parent = {
            let shadow = self.shadow.borrow();
            let list = &shadow.by_root[&id];
            let i = if block == u16::MAX {
                list.len() - 1
            } else {
                usize::from(block) % list.len()
            };
            // A block of values is listed by its first value, not its start: the root
            // is the parent then.
            let i = if shadow.blocks[&list[i]].content == Content::Values {
                0
            } else {
                i
            };
            shadow.blocks[&list[i]].ptr
        };
        let align = match via {
            ChildVia::More => MIN_ALIGN,
            _ => align.bytes(),
        };
        let layout = size.layout(align);
        let (result, call) = match via {
            ChildVia::Handle => (handle.allocate_child(layout), "Root::allocate_child"),
            // SAFETY: `parent` is a live block of this root (the model lists only live
            // blocks), and nothing frees the root meanwhile.
            ChildVia::Raw => (
                unsafe { self.linked.allocate_child(parent, layout) },
                "allocate_child",
            ),
            // SAFETY: as above.
            ChildVia::More => (
                unsafe { self.linked.allocate_more(layout.size(), parent) },
                "allocate_more",
            ),
        };
        let mut shadow = self.shadow.borrow_mut();
        match result {
            Ok(ptr) => {
                shadow.succeeded_in(id, layout, layout.size(), call);
                let seed = shadow.seed();
                // SAFETY: `ptr` is a fresh child of `layout.size()` bytes only we use.
                unsafe { fill(ptr, layout.size(), seed) };
                shadow.insert(ptr, layout, id, Content::Pattern(seed));
                shadow.count(id, 1, layout.size());
            }
            Err(_) => shadow.failed_in(id, layout, layout.size(), call),
        }
        drop(shadow);
        self.check_stats(call);
    }

    pub(crate) fn free(&mut self, root: u16, via: FreeVia) {
        let Some(r) = self.pick(root) else { return };
        if self.roots[r].handle.is_none() {
            return;
        }
        let id = self.roots[r].id;
        // The raw layer knows nothing of sub-roots and values: a root is given to it
        // only if it is a top root with no sub-root and no value to drop.
        let raw_ok = {
            let shadow = self.shadow.borrow();
            let info = &shadow.infos[&id];
            info.parent.is_none() && info.values.is_empty() && shadow.descendants(id).is_empty()
        };
        let via = if raw_ok { via } else { FreeVia::Drop };
        let mut retired = self.retire_below(id);
        let r = self.index(id);
        let mut entry = self.roots.swap_remove(r);
        retired.push((id, self.retire(&entry)));
        let handle = entry.handle.take().expect("checked above");
        let layout = handle.layout();
        match via {
            FreeVia::Drop => drop(handle),
            FreeVia::FreeRoot => {
                let p = handle.into_raw();
                // SAFETY: `p` is a live root of `self.linked` (taken from its handle);
                // the model forgot all its blocks and vectors.
                unsafe { self.linked.free_root(p) };
            }
            FreeVia::FreeBuffer => {
                let p = handle.into_raw();
                // SAFETY: as above.
                unsafe { self.linked.free_buffer(p) };
            }
            FreeVia::Dealloc => {
                let p = handle.into_raw();
                if layout.size() > 0 {
                    // SAFETY: `p` is a live root of `self.linked`, which `GlobalAlloc`
                    // hands out for `layout` (`alloc` is `allocate_root`), non-zero size.
                    unsafe { GlobalAlloc::dealloc(self.linked, p.as_ptr(), layout) };
                } else {
                    // SAFETY: as for `FreeRoot`.
                    unsafe { self.linked.free_root(p) };
                }
            }
        }
        self.expect_drops(&retired, "after free");
        self.check_stats("after free");
    }

    pub(crate) fn realloc(&mut self, root: u16, size: Size) {
        let Some((r, id, handle)) = self.pick_live(root) else {
            return;
        };
        {
            // `GlobalAlloc` knows nothing of nodes: a top root without one only.
            let shadow = self.shadow.borrow();
            let info = &shadow.infos[&id];
            if info.parent.is_some() || info.has_node {
                return;
            }
        }
        let layout = handle.layout();
        let new_size = size.bytes(layout.align()).max(1);
        if layout.size() == 0 || (self.full() && new_size > layout.size()) {
            return;
        }
        let old = handle.as_ptr();
        check_raw::<u64>(self.roots[r].narrow, self.step);
        check_raw::<Wide>(self.roots[r].wide, self.step);
        let seed = {
            let shadow = self.shadow.borrow();
            shadow.check_root(id);
            match shadow.blocks[&(old.as_ptr() as usize)].content {
                Content::Pattern(seed) => seed,
                c => unreachable!("a root holds a pattern, not {c:?}"),
            }
        };
        // SAFETY: `old` is a live root of `self.linked`, made with `layout` (non-zero
        // size); `new_size > 0` and, rounded up to the alignment, fits in `isize`
        // (`Size::bytes` leaves room for the alignment).
        let new = unsafe { GlobalAlloc::realloc(self.linked, old.as_ptr(), layout, new_size) };
        let new_layout = Layout::from_size_align(new_size, layout.align()).expect("valid");
        let Some(new) = NonNull::new(new) else {
            self.shadow
                .borrow()
                .failed(new_layout, "GlobalAlloc::realloc");
            self.check_stats("after a failed realloc");
            return;
        };
        self.shadow
            .borrow()
            .succeeded(new_layout, "GlobalAlloc::realloc");
        let kept = layout.size().min(new_size);
        if new == old {
            // Resized in place: the same root, its children still linked to it.
            let mut shadow = self.shadow.borrow_mut();
            let a = old.as_ptr() as usize;
            shadow.check_free_range(a, new_size, Some(a));
            shadow.blocks.get_mut(&a).expect("known").size = new_size;
            shadow.uncount(id, 0, layout.size());
            shadow.count(id, 0, new_size);
            // SAFETY: `new` is the live root, now of `new_size >= kept` bytes, whose first
            // `kept` bytes are kept; only the model uses it.
            unsafe { check_kept_and_refill(new, kept, new_size, seed, self.step, " in place") };
            drop(shadow);
            let entry = &mut self.roots[r];
            let old_handle = entry.handle.replace(
                // SAFETY: `new` is a live root of `self.linked`, now of `new_layout`; the
                // old handle of the same root is given up just below, unfreed.
                unsafe { Root::from_raw(self.linked, new, new_layout) },
            );
            let _same_root = old_handle.map(Root::into_raw);
            self.check_stats("after realloc in place");
            return;
        }
        // Moved: the old root and all its blocks are gone; its handle must not free it.
        let entry = self.roots.swap_remove(r);
        let _freed = entry.handle.map(Root::into_raw);
        let mut shadow = self.shadow.borrow_mut();
        shadow.drop_root(id);
        // SAFETY: `new` is a fresh root of `new_size >= kept` bytes that only the model
        // uses; realloc copied the first `kept` bytes of the old root, which held the
        // pattern of `seed`.
        unsafe { check_kept_and_refill(new, kept, new_size, seed, self.step, "'s copy") };
        let id = self.next_id;
        self.next_id += 1;
        shadow.insert(new, new_layout, id, Content::Pattern(seed));
        shadow.add_info(id, None, false, new_size);
        drop(shadow);
        self.roots.push(RootEntry {
            id,
            // SAFETY: `new` is a live root of `self.linked` made (by `realloc`, which
            // allocates a root) with `new_layout`; this handle is its only owner.
            handle: Some(unsafe { Root::from_raw(self.linked, new, new_layout) }),
            narrow: None,
            wide: None,
        });
        self.check_stats("after realloc");
    }

    pub(crate) fn vec(&mut self, root: u16, wide: bool, op: VecOp) {
        let Some(r) = self.pick(root) else { return };
        if self.full()
            && !matches!(
                op,
                VecOp::Drop | VecOp::Clear | VecOp::Truncate(_) | VecOp::Shrink(_)
            )
        {
            return;
        }
        let entry = &mut self.roots[r];
        let Some(handle) = entry.handle.as_ref() else {
            return;
        };
        let alloc = Tracked {
            root: handle,
            id: entry.id,
            shadow: &self.shadow,
        };
        if wide {
            entry.wide = vec_op::<Wide, B>(entry.wide, alloc, op);
        } else {
            entry.narrow = vec_op::<u64, B>(entry.narrow, alloc, op);
        }
    }

    /// Checks every pattern and vector of a root that is about to be freed, and
    /// forgets its blocks; returns what the model knew of it.
    pub(crate) fn retire(&self, entry: &RootEntry<'a, B>) -> RootInfo {
        check_raw::<u64>(entry.narrow, self.step);
        check_raw::<Wide>(entry.wide, self.step);
        self.shadow.borrow_mut().forget_root(entry.id)
    }

    /// The index in `roots` of the live root `id`.
    pub(crate) fn index(&self, id: u64) -> usize {
        self.roots
            .iter()
            .position(|e| e.id == id)
            .expect("a live root")
    }

    /// Before `id` is freed or reset: retires every root below it, deepest first
    /// (checks their patterns and vectors, gives up their handles: `id` frees them);
    /// returns what the model knew of them.
    pub(crate) fn retire_below(&mut self, id: u64) -> Vec<(u64, RootInfo)> {
        let below = self.shadow.borrow().descendants(id);
        let mut out = Vec::with_capacity(below.len());
        for d in below {
            let i = self.index(d);
            let mut entry = self.roots.swap_remove(i);
            out.push((d, self.retire(&entry)));
            // Its parent (at `id` or below) frees it: the handle is given up, deepest
            // first, so no handle outlives its parent's.
            core::mem::forget(entry.handle.take());
        }
        out
    }

    /// Frees every root left (each top root with its tree), checking patterns.
    pub(crate) fn free_all(&mut self) {
        while let Some(last) = self.roots.last() {
            let top = self.shadow.borrow().chain(last.id).pop().expect("a chain");
            let mut retired = self.retire_below(top);
            let i = self.index(top);
            let mut entry = self.roots.swap_remove(i);
            retired.push((top, self.retire(&entry)));
            drop(entry.handle.take());
            self.expect_drops(&retired, "while freeing everything");
            self.check_stats("while freeing everything");
        }
    }
}

impl<B: LinkedAllocator> Drop for Model<'_, B> {
    fn drop(&mut self) {
        // Empty after `free_all`; after a failed check (a panic), the handles left are
        // given up, not dropped: a sub-root's handle must not outlive its parent's, and
        // the order in `roots` says nothing of that. The roots leak.
        for entry in self.roots.drain(..) {
            core::mem::forget(entry.handle);
        }
    }
}

impl<B: LinkedAllocator> fmt::Debug for Model<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("roots", &self.roots.len())
            .field("shadow", &self.shadow)
            .finish()
    }
}

impl<B: LinkedAllocator> fmt::Debug for RootEntry<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootEntry").field("id", &self.id).finish()
    }
}

/// After `realloc` at step `step` gave the root `new`, now of `new_size` bytes: checks
/// that its first `kept` bytes hold the pattern of `seed` (`how` it was kept, for the
/// failure message: " in place" or "'s copy"), then fills all of it with that pattern.
///
/// # Safety
/// `new` is a live block of `new_size >= kept` bytes that nothing else reads or writes
/// during the call.
#[track_caller]
unsafe fn check_kept_and_refill(
    new: NonNull<u8>,
    kept: usize,
    new_size: usize,
    seed: usize,
    step: usize,
    how: &str,
) {
    // SAFETY: the caller's precondition: `new` is live, of `new_size >= kept` bytes,
    // ours alone during the call.
    unsafe {
        check_named(new, kept, seed, format_args!("step {step}: realloc{how}"));
        fill(new, new_size, seed);
    }
}
