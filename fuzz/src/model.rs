//! The model: the live roots with their handles and vectors, and how each action runs.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::RefCell;
use core::fmt;
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};

use linked_alloc::{Linked, LinkedAllocator, MIN_ALIGN, Root, Stats};

use crate::input::{Action, Align, ChildVia, Config, FreeVia, RootVia, Size, VecOp};
use crate::shadow::{Content, Shadow};
use crate::tracked::Tracked;
use crate::vectors::{RawVec, Wide, check_raw, vec_op};
use linked_alloc::conformance::pattern::{check_named, fill};

/// A live root: its handle (which frees it on drop), its layout, its two vectors.
pub(crate) struct RootEntry<'a, B: LinkedAllocator> {
    pub(crate) id: u64,
    pub(crate) handle: Root<'a, B>,
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
                expected: base,
                next_seed: 0,
                step: 0,
            }),
            base,
            next_id: 0,
            step: 0,
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
        }
    }

    /// Records a new root block and its handle, filled with a fresh pattern.
    pub(crate) fn add_root(&mut self, ptr: NonNull<u8>, layout: Layout, zeroed: bool) {
        let id = self.next_id;
        self.next_id += 1;
        let mut shadow = self.shadow.borrow_mut();
        if zeroed {
            // SAFETY: `ptr` is a fresh root of `layout.size()` bytes, zeroed by the call.
            let bytes = unsafe { core::slice::from_raw_parts(ptr.as_ptr(), layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "step {}: alloc_zeroed gave non-zero bytes",
                self.step
            );
        }
        let seed = shadow.seed();
        // SAFETY: `ptr` is a fresh root of `layout.size()` bytes that only we use.
        unsafe { fill(ptr, layout.size(), seed) };
        shadow.insert(ptr, layout, id, Content::Pattern(seed));
        shadow.expected.roots += 1;
        shadow.expected.bytes_in_use += layout.size();
        drop(shadow);
        // SAFETY: `ptr` is a live root of `self.linked` made with `layout` (by one of
        // its calls); the handle is its only owner from now on.
        let handle = unsafe { Root::from_raw(self.linked, ptr, layout) };
        self.roots.push(RootEntry {
            id,
            handle,
            narrow: None,
            wide: None,
        });
    }

    pub(crate) fn new_root(&mut self, size: Size, align: Align, via: RootVia) {
        if self.full() {
            return;
        }
        let align = match via {
            RootVia::Buffer => MIN_ALIGN,
            _ => align.bytes(),
        };
        let Ok(layout) = Layout::from_size_align(size.bytes(align), align) else {
            unreachable!("Size::bytes keeps layouts valid");
        };
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
        let id = entry.id;
        let parent = {
            let shadow = self.shadow.borrow();
            let list = &shadow.by_root[&id];
            let i = if block == u16::MAX {
                list.len() - 1
            } else {
                usize::from(block) % list.len()
            };
            NonNull::new(list[i] as *mut u8).expect("non-null")
        };
        let align = match via {
            ChildVia::More => MIN_ALIGN,
            _ => align.bytes(),
        };
        let Ok(layout) = Layout::from_size_align(size.bytes(align), align) else {
            unreachable!("Size::bytes keeps layouts valid");
        };
        let (result, call) = match via {
            ChildVia::Handle => (entry.handle.allocate_child(layout), "Root::allocate_child"),
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
                shadow.succeeded(layout, call);
                let seed = shadow.seed();
                // SAFETY: `ptr` is a fresh child of `layout.size()` bytes only we use.
                unsafe { fill(ptr, layout.size(), seed) };
                shadow.insert(ptr, layout, id, Content::Pattern(seed));
                shadow.expected.children += 1;
                shadow.expected.bytes_in_use += layout.size();
            }
            Err(_) => shadow.failed(layout, call),
        }
        drop(shadow);
        self.check_stats(call);
    }

    pub(crate) fn free(&mut self, root: u16, via: FreeVia) {
        let Some(r) = self.pick(root) else { return };
        let entry = self.roots.swap_remove(r);
        self.retire(&entry);
        let layout = entry.handle.layout();
        match via {
            FreeVia::Drop => drop(entry.handle),
            FreeVia::FreeRoot => {
                let p = entry.handle.into_raw();
                // SAFETY: `p` is a live root of `self.linked` (taken from its handle);
                // the model forgot all its blocks and vectors.
                unsafe { self.linked.free_root(p) };
            }
            FreeVia::FreeBuffer => {
                let p = entry.handle.into_raw();
                // SAFETY: as above.
                unsafe { self.linked.free_buffer(p) };
            }
            FreeVia::Dealloc => {
                let p = entry.handle.into_raw();
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
        self.check_stats("after free");
    }

    pub(crate) fn realloc(&mut self, root: u16, size: Size) {
        let Some(r) = self.pick(root) else { return };
        let layout = self.roots[r].handle.layout();
        let new_size = size.bytes(layout.align()).max(1);
        if layout.size() == 0 || (self.full() && new_size > layout.size()) {
            return;
        }
        let id = self.roots[r].id;
        let old = self.roots[r].handle.as_ptr();
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
            shadow.expected.bytes_in_use = shadow.expected.bytes_in_use - layout.size() + new_size;
            // SAFETY: `new` is the live root, now of `new_size >= kept` bytes, whose first
            // `kept` bytes are kept; only the model uses it.
            unsafe { check_kept_and_refill(new, kept, new_size, seed, self.step, " in place") };
            drop(shadow);
            let entry = &mut self.roots[r];
            let old_handle = core::mem::replace(
                &mut entry.handle,
                // SAFETY: `new` is a live root of `self.linked`, now of `new_layout`; the
                // old handle of the same root is given up just below, unfreed.
                unsafe { Root::from_raw(self.linked, new, new_layout) },
            );
            let _same_root = old_handle.into_raw();
            self.check_stats("after realloc in place");
            return;
        }
        // Moved: the old root and all its blocks are gone; its handle must not free it.
        let entry = self.roots.swap_remove(r);
        let _freed = entry.handle.into_raw();
        let mut shadow = self.shadow.borrow_mut();
        shadow.drop_root(id);
        // SAFETY: `new` is a fresh root of `new_size >= kept` bytes that only the model
        // uses; realloc copied the first `kept` bytes of the old root, which held the
        // pattern of `seed`.
        unsafe { check_kept_and_refill(new, kept, new_size, seed, self.step, "'s copy") };
        let id = self.next_id;
        self.next_id += 1;
        shadow.insert(new, new_layout, id, Content::Pattern(seed));
        shadow.expected.roots += 1;
        shadow.expected.bytes_in_use += new_size;
        drop(shadow);
        self.roots.push(RootEntry {
            id,
            // SAFETY: `new` is a live root of `self.linked` made (by `realloc`, which
            // allocates a root) with `new_layout`; this handle is its only owner.
            handle: unsafe { Root::from_raw(self.linked, new, new_layout) },
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
        let alloc = Tracked {
            root: &entry.handle,
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
    /// forgets its blocks.
    pub(crate) fn retire(&self, entry: &RootEntry<'a, B>) {
        check_raw::<u64>(entry.narrow, self.step);
        check_raw::<Wide>(entry.wide, self.step);
        self.shadow.borrow_mut().forget_root(entry.id);
    }

    /// Frees every root left, checking patterns.
    pub(crate) fn free_all(&mut self) {
        while let Some(entry) = self.roots.pop() {
            self.retire(&entry);
            drop(entry.handle);
            self.check_stats("while freeing everything");
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
