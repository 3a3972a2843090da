//! Sub-roots, values with destructors, reset, accounting, limits and moves: the
//! actions of the model that use the front end's tree of roots (`linked_alloc::nested`).
//!
//! The model keeps the tree in the shadow ([`RootInfo::parent`]); a sub-root's handle
//! borrows its parent's, so the model holds it with its lifetime widened
//! ([`detach`]) and keeps the order itself: before a root is freed or reset, the handles
//! of every root below it are given up (`mem::forget`), deepest first, and their blocks
//! and values leave the model with it; a handle is never dropped after its parent's.

use core::alloc::Layout;
use core::mem;
use core::ptr::NonNull;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use linked_alloc::align::block_align;
use linked_alloc::conformance::pattern::{check_named, fill};
use linked_alloc::nested::NotAccounted;
use linked_alloc::{Linked, LinkedAllocator, Root, Stats};
use linked_alloc_system::SystemHeap;

use crate::input::{Align, LimitOp, Size, ValueKind};
use crate::model::{Model, RootEntry};
use crate::shadow::{Content, RootInfo, ValueBlock};

/// Where values record their drops: `(root, block sequence number, index)`.
pub(crate) type DropLog = Arc<Mutex<Vec<(u64, u64, u32)>>>;

/// A value that records its drop in the log (when armed) and knows who it is.
#[derive(Debug)]
pub(crate) struct Counted {
    root: u64,
    seq: u64,
    idx: u32,
    tag: u64,
    armed: bool,
    log: DropLog,
}

impl Counted {
    fn new(log: &DropLog, root: u64, seq: u64, idx: u32, armed: bool) -> Self {
        Counted {
            root,
            seq,
            idx,
            tag: tag(root, seq, idx),
            armed,
            log: log.clone(),
        }
    }
}

fn tag(root: u64, seq: u64, idx: u32) -> u64 {
    (root.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seq.wrapping_mul(0xff51_afd7_ed55_8ccd))
        .wrapping_add(u64::from(idx))
}

impl Clone for Counted {
    /// A clone is armed: the source values of `alloc_slice_clone` are not.
    fn clone(&self) -> Self {
        Counted {
            armed: true,
            log: self.log.clone(),
            ..*self
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.armed {
            self.log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((self.root, self.seq, self.idx));
        }
    }
}

/// Checks the values of `root`'s blocks of values.
#[track_caller]
pub(crate) fn check_values(root: u64, blocks: &[ValueBlock], step: usize) {
    for b in blocks {
        for i in 0..b.len {
            // SAFETY: `b.first` points to `b.len` values of a live block of `root`
            // (the model forgets the block when the root goes), initialized by
            // `Root::alloc` and its kin, not dropped yet (only the root drops them).
            let v = unsafe { &*b.first.add(i as usize) };
            assert!(
                v.armed && (v.root, v.seq, v.idx, v.tag) == (root, b.seq, i, tag(root, b.seq, i)),
                "step {step}: value {i} of block {} of root {root} overwritten: {v:?}",
                b.seq
            );
        }
    }
}

/// Sizes the front end adds, measured once on a `SystemHeap` (the front end's types are
/// private; their sizes do not depend on the backend).
#[derive(Debug)]
pub(crate) struct Sizes {
    /// A node record (a child of a top root; after a sub-root's bytes).
    node: Layout,
    /// The header in front of a block of values with destructors.
    header: usize,
}

impl Sizes {
    /// The bytes of the backend root of a sub-root of `layout` (its node after it).
    fn whole(&self, layout: Layout) -> Option<usize> {
        layout.extend(self.node).ok().map(|(w, _)| w.size())
    }
}

/// The sizes, measured on first use.
pub(crate) fn sizes() -> &'static Sizes {
    static SIZES: OnceLock<Sizes> = OnceLock::new();
    SIZES.get_or_init(|| {
        let heap = Linked::new(SystemHeap::new());
        let one = Layout::new::<u8>();
        let s0 = heap.stats();
        let top = heap.accounted_root(one).expect("a probe root");
        let s1 = heap.stats();
        let node = s1.bytes_in_use - s0.bytes_in_use - 1;
        let sub = top.sub_root(one).expect("a probe sub-root");
        let s2 = heap.stats();
        let node_align = s2.bytes_in_use - s1.bytes_in_use - node;
        let log = DropLog::default();
        sub.alloc(Counted::new(&log, 0, 0, 0, false));
        let s3 = heap.stats();
        let header = s3.bytes_in_use - s2.bytes_in_use - mem::size_of::<Counted>();
        drop(sub);
        drop(top);
        assert!(heap.stats().is_empty(), "the probe freed everything");
        Sizes {
            node: Layout::from_size_align(node, node_align).expect("a node layout"),
            header,
        }
    })
}

/// Widens a sub-root handle's lifetime to the front end's, so that the model can hold
/// it beside its parent's.
///
/// # Safety
/// The handle is dropped before its parent's handle (or the parent's reset), or given
/// up with `mem::forget` (its parent frees it).
unsafe fn detach<'h, B: LinkedAllocator>(sub: Root<'_, B>) -> Root<'h, B> {
    // SAFETY: the same type but for the lifetime; the caller's precondition keeps the
    // parent live (and not reset) while the handle is.
    unsafe { mem::transmute::<Root<'_, B>, Root<'h, B>>(sub) }
}

impl<'a, B: LinkedAllocator> Model<'a, B> {
    /// After each action: every accounted root's figures equal the model's, its limit
    /// is the one set, its peak only grows; plain roots have no figures; no value was
    /// dropped that the model did not expect.
    #[track_caller]
    pub(crate) fn check_step(&self) {
        let unexpected = mem::take(&mut *self.log.lock().expect("the log"));
        assert!(
            unexpected.is_empty(),
            "step {}: values dropped unexpectedly: {unexpected:?}",
            self.step
        );
        let mut shadow = self.shadow.borrow_mut();
        if !shadow.infos.values().any(|i| i.accounted) {
            return;
        }
        let subtrees = shadow.subtrees();
        for e in &self.roots {
            let Some(h) = e.handle.as_ref() else { continue };
            let info = shadow.infos.get_mut(&e.id).expect("a live root");
            if !info.accounted {
                assert_eq!(
                    h.stats(),
                    None,
                    "step {}: a plain root's stats()",
                    self.step
                );
                continue;
            }
            let want = subtrees[&e.id];
            assert_eq!(
                h.stats(),
                Some(want),
                "step {}: Root::stats() of root {} differ from the model",
                self.step,
                e.id
            );
            assert_eq!(h.limit(), info.limit, "step {}: limit()", self.step);
            let peak = h.peak_bytes().expect("accounted");
            assert!(
                peak >= want.bytes_in_use && peak >= info.peak,
                "step {}: peak_bytes() {peak} of root {} below its bytes {} or an earlier peak {}",
                self.step,
                e.id,
                want.bytes_in_use,
                info.peak
            );
            info.peak = peak;
        }
    }

    /// After roots were freed or reset: the values of `retired` (each root with what
    /// the model knew of it) were dropped, each exactly once, and none other; a root's
    /// blocks newest first (a slice's values in order), every sub-root's values before
    /// its parent's.
    #[track_caller]
    pub(crate) fn expect_drops(&self, retired: &[(u64, RootInfo)], when: &str) {
        let got = mem::take(&mut *self.log.lock().expect("the log"));
        let mut want: Vec<(u64, u64, u32)> = retired
            .iter()
            .flat_map(|(id, info)| {
                info.values
                    .iter()
                    .flat_map(move |b| (0..b.len).map(move |i| (*id, b.seq, i)))
            })
            .collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        want.sort_unstable();
        assert_eq!(
            sorted, want,
            "step {}: values dropped {when} (as root, block, index)",
            self.step
        );
        let parent: HashMap<u64, Option<u64>> =
            retired.iter().map(|(id, i)| (*id, i.parent)).collect();
        let mut last_of: HashMap<u64, (u64, u32)> = HashMap::new();
        let mut first_own: HashMap<u64, usize> = HashMap::new();
        let mut last_below: HashMap<u64, usize> = HashMap::new();
        for (pos, &(root, seq, idx)) in got.iter().enumerate() {
            if let Some(&(s, i)) = last_of.get(&root) {
                assert!(
                    s > seq || (s == seq && i < idx),
                    "step {}: root {root}'s values dropped out of order {when}: {got:?}",
                    self.step
                );
            }
            last_of.insert(root, (seq, idx));
            first_own.entry(root).or_insert(pos);
            let mut up = parent.get(&root).copied().flatten();
            while let Some(a) = up {
                last_below.insert(a, pos);
                up = parent.get(&a).copied().flatten();
            }
        }
        for (a, below) in last_below {
            if let Some(&own) = first_own.get(&a) {
                assert!(
                    below < own,
                    "step {}: root {a}'s values dropped before a sub-root's {when}: {got:?}",
                    self.step
                );
            }
        }
    }

    /// After a call that failed on `id`, which may have made `id`'s node record first
    /// (a plain top root makes it lazily): takes it into the model if `stats()` shows it.
    fn settle_node(&self, id: u64) {
        let mut shadow = self.shadow.borrow_mut();
        if shadow.infos[&id].has_node || self.linked.stats() == shadow.expected {
            return;
        }
        shadow.count(id, 1, sizes().node.size());
        shadow.infos.get_mut(&id).expect("live").has_node = true;
    }

    /// After a call that succeeded and needed `id`'s node record: counts it if it was
    /// made now.
    fn made_node(&self, id: u64) {
        let mut shadow = self.shadow.borrow_mut();
        if !shadow.infos[&id].has_node {
            shadow.count(id, 1, sizes().node.size());
            shadow.infos.get_mut(&id).expect("live").has_node = true;
        }
    }

    /// Records a new root's block, filled with a fresh pattern, with its info.
    pub(crate) fn add_tree_root(
        &mut self,
        handle: Root<'a, B>,
        parent: Option<u64>,
        accounted: bool,
        bytes: usize,
    ) {
        let id = self.next_id;
        self.next_id += 1;
        let (ptr, layout) = (handle.as_ptr(), handle.layout());
        let mut shadow = self.shadow.borrow_mut();
        let seed = shadow.seed();
        // SAFETY: `ptr` is a fresh root of `layout.size()` bytes that only we use.
        unsafe { fill(ptr, layout.size(), seed) };
        shadow.insert(ptr, layout, id, Content::Pattern(seed));
        shadow.add_info(id, parent, accounted, bytes);
        drop(shadow);
        self.roots.push(RootEntry {
            id,
            handle: Some(handle),
            narrow: None,
            wide: None,
        });
    }

    pub(crate) fn sub_root(&mut self, parent: u16, size: Size, align: Align) {
        if self.full() {
            return;
        }
        let Some((_, pid, handle)) = self.pick_live(parent) else {
            return;
        };
        let align = align.bytes();
        let layout = size.layout(align);
        let whole = sizes().whole(layout);
        let accounted = self.shadow.borrow().infos[&pid].accounted;
        // SAFETY: the model drops or gives up this handle before its parent's is
        // dropped or reset (`retire_below`; `move_under` re-parents it in the model
        // too): the precondition of `detach`.
        let result = handle
            .sub_root(layout)
            .map(|sub| unsafe { detach::<B>(sub) });
        match result {
            Ok(sub) => {
                let whole = whole.expect("a sub-root was made");
                {
                    let shadow = self.shadow.borrow();
                    shadow.succeeded_in(pid, layout, whole, "Root::sub_root");
                    let a = sub.as_ptr().as_ptr() as usize;
                    assert!(
                        a.is_multiple_of(block_align(layout)),
                        "step {}: sub-root misaligned",
                        self.step
                    );
                }
                self.made_node(pid);
                self.add_tree_root(sub, Some(pid), accounted, whole);
            }
            Err(_) => {
                self.shadow.borrow().failed_in(
                    pid,
                    layout,
                    whole.unwrap_or(usize::MAX),
                    "Root::sub_root",
                );
                self.settle_node(pid);
            }
        }
        self.check_stats("after sub_root");
    }

    pub(crate) fn accounted_root(&mut self, size: Size, align: Align) {
        if self.full() {
            return;
        }
        let align = align.bytes();
        let layout = size.layout(align);
        match self.linked.accounted_root(layout) {
            Ok(root) => {
                self.shadow
                    .borrow()
                    .succeeded(layout, "Linked::accounted_root");
                let id = self.next_id;
                self.add_tree_root(root, None, true, layout.size());
                self.made_node(id);
            }
            Err(_) => self
                .shadow
                .borrow()
                .failed(layout, "Linked::accounted_root"),
        }
        self.check_stats("after accounted_root");
    }

    pub(crate) fn value(&mut self, root: u16, kind: ValueKind) {
        if self.full() {
            return;
        }
        let Some(r) = self.pick(root) else { return };
        let id = self.roots[r].id;
        let Some(handle) = self.roots[r].handle.as_ref() else {
            return;
        };
        let sz = sizes();
        // The bytes the value's block takes, and its layout.
        let (bytes, layout) = match kind {
            ValueKind::Drop | ValueKind::TryDrop => {
                let b = sz.header + mem::size_of::<Counted>();
                (b, Layout::from_size_align(b, 8).expect("small"))
            }
            ValueKind::Clone(n) => {
                let b = sz.header + usize::from(n % 8) * mem::size_of::<Counted>();
                (b, Layout::from_size_align(b, 8).expect("small"))
            }
            ValueKind::Str(n) => (
                usize::from(n % 40),
                Layout::array::<u8>(usize::from(n % 40)).expect("small"),
            ),
            ValueKind::Copy(n) => {
                let l = Layout::array::<u64>(usize::from(n % 16)).expect("small");
                (l.size(), l)
            }
            ValueKind::Plain => (24, Layout::new::<[u64; 3]>()),
        };
        // The infallible calls end the process on failure: only where none can happen.
        let certain = {
            let shadow = self.shadow.borrow();
            !shadow.config.exhaustible && shadow.fits(id, bytes)
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let log = self.log.clone();
        match kind {
            ValueKind::Drop | ValueKind::TryDrop | ValueKind::Clone(_) => {
                let (result, call) = match kind {
                    ValueKind::Drop if certain => (
                        Ok(handle.alloc(Counted::new(&log, id, seq, 0, true)) as *mut Counted),
                        "Root::alloc",
                    ),
                    ValueKind::Clone(n) if certain => {
                        let src: Vec<Counted> = (0..u32::from(n % 8))
                            .map(|i| Counted::new(&log, id, seq, i, false))
                            .collect();
                        let got = handle.alloc_slice_clone(&src);
                        assert_eq!(got.len(), src.len(), "alloc_slice_clone: length");
                        (Ok(got.as_mut_ptr()), "Root::alloc_slice_clone")
                    }
                    ValueKind::Clone(_) => return,
                    _ => (
                        handle
                            .try_alloc(Counted::new(&log, id, seq, 0, true))
                            .map(|v| v as *mut Counted),
                        "Root::try_alloc",
                    ),
                };
                let len = match kind {
                    ValueKind::Clone(n) => u32::from(n % 8),
                    _ => 1,
                };
                match result {
                    Ok(first) => {
                        self.shadow.borrow().succeeded_in(id, layout, bytes, call);
                        self.made_node(id);
                        let mut shadow = self.shadow.borrow_mut();
                        let block = ValueBlock { first, seq, len };
                        check_values(id, &[block], self.step);
                        let payload = len as usize * mem::size_of::<Counted>();
                        if payload > 0 {
                            shadow.insert_aligned(
                                NonNull::new(first.cast::<u8>()).expect("non-null"),
                                payload,
                                mem::align_of::<Counted>(),
                                id,
                                Content::Values,
                            );
                        }
                        shadow.count(id, 1, bytes);
                        shadow.infos.get_mut(&id).expect("live").values.push(block);
                    }
                    Err(_) => {
                        self.shadow.borrow().failed_in(id, layout, bytes, call);
                        let dropped = mem::take(&mut *self.log.lock().expect("the log"));
                        assert_eq!(
                            dropped,
                            [(id, seq, 0)],
                            "step {}: a refused try_alloc drops its value once",
                            self.step
                        );
                        self.settle_node(id);
                    }
                }
            }
            ValueKind::Str(_) | ValueKind::Copy(_) | ValueKind::Plain => {
                let (result, call) = match kind {
                    ValueKind::Str(_) if certain => {
                        let s: String = (0..bytes)
                            .map(|i| char::from(b'a' + ((seq as usize + i) % 26) as u8))
                            .collect();
                        let got = handle.alloc_str(&s);
                        assert_eq!(&*got, s.as_str(), "alloc_str: the copy");
                        (Ok(got.as_mut_ptr()), "Root::alloc_str")
                    }
                    ValueKind::Copy(_) if certain => {
                        let src: Vec<u64> =
                            (0..bytes / 8).map(|i| tag(id, seq, i as u32)).collect();
                        let got = handle.alloc_slice_copy(&src);
                        assert_eq!(got, src, "alloc_slice_copy: the copy");
                        (Ok(got.as_mut_ptr().cast::<u8>()), "Root::alloc_slice_copy")
                    }
                    ValueKind::Plain => {
                        let v = [seq, !seq, tag(id, seq, 0)];
                        let got = handle.try_alloc(v).map(|p| {
                            assert_eq!(*p, v, "try_alloc: the value");
                            p.as_mut_ptr().cast::<u8>()
                        });
                        (got, "Root::try_alloc")
                    }
                    _ => return,
                };
                let mut shadow = self.shadow.borrow_mut();
                match result {
                    Ok(p) => {
                        shadow.succeeded_in(id, layout, bytes, call);
                        let p = NonNull::new(p).expect("non-null");
                        let seed = shadow.seed();
                        // SAFETY: `p` is the start of a fresh child of `layout.size()`
                        // bytes that only the model uses from now on (the reference the
                        // call gave is gone).
                        unsafe { fill(p, layout.size(), seed) };
                        shadow.insert(p, layout, id, Content::Pattern(seed));
                        shadow.count(id, 1, bytes);
                    }
                    Err(_) => shadow.failed_in(id, layout, bytes, call),
                }
            }
        }
        self.check_stats("after a value");
    }

    pub(crate) fn reset(&mut self, root: u16) {
        let Some((_, id, handle)) = self.pick_live(root) else {
            return;
        };
        let sz = sizes();
        let layout = handle.layout();
        let (parent, accounted) = {
            let info = &self.shadow.borrow().infos[&id];
            (info.parent, info.accounted)
        };
        // The bytes the new root takes (with its node record), and whether making it
        // before the old one goes cannot fail (then the bytes must be kept).
        let (bytes, node_child) = match (parent, accounted) {
            (Some(_), _) => (sz.whole(layout).expect("made once"), false),
            (None, true) => (layout.size() + sz.node.size(), true),
            (None, false) => (layout.size(), false),
        };
        let keeps = {
            let shadow = self.shadow.borrow();
            if shadow.config.exhaustible {
                // If the new root does not fit beside the old one, the old one goes
                // first, and if the new one does not fit then either (a good-fit
                // allocator may miss the hole the old one left), `reset` calls the
                // allocation error handler (documented), which ends the process. Only
                // small roots then, while the region is mostly free.
                let live = shadow.expected.bytes_in_use - self.base.bytes_in_use;
                let blocks = shadow.expected.roots + shadow.expected.children;
                let room = live + 32 * blocks + 4 * (bytes + layout.align());
                if bytes + layout.align() > 8 << 10 || room > shadow.config.capacity / 4 {
                    return;
                }
            }
            let whole = Layout::from_size_align(bytes, layout.align()).expect("made once");
            let fits = parent.is_none_or(|p| shadow.fits(p, bytes));
            if !fits {
                // Made after the old one goes: that must fit, else `reset` calls the
                // allocation error handler (documented), which ends the process.
                let freed = shadow.subtree(id).bytes_in_use;
                let refits = shadow
                    .chain(parent.expect("a sub-root"))
                    .into_iter()
                    .all(|a| {
                        shadow.infos[&a].limit.is_none_or(|limit| {
                            shadow.subtree(a).bytes_in_use - freed + bytes <= limit
                        })
                    });
                if !refits {
                    return;
                }
            }
            fits && !shadow.may_fail(whole) && !shadow.may_fail(layout)
        };
        let mut retired = self.retire_below(id);
        let r = self.index(id);
        let entry = &mut self.roots[r];
        check_raw_both(entry, self.step);
        entry.narrow = None;
        entry.wide = None;
        let seed = {
            let mut shadow = self.shadow.borrow_mut();
            shadow.check_root(id);
            let old = shadow.by_root[&id][0];
            let Content::Pattern(seed) = shadow.blocks[&old].content else {
                unreachable!("a root holds a pattern")
            };
            let mut info = shadow.drop_root(id);
            retired.push((id, info.clone()));
            info.values.clear();
            info.own = Stats {
                roots: 1,
                children: usize::from(node_child),
                bytes_in_use: bytes,
            };
            info.has_node = parent.is_some() || node_child;
            shadow.expected.roots += 1;
            shadow.expected.children += info.own.children;
            shadow.expected.bytes_in_use += bytes;
            shadow.infos.insert(id, info);
            seed
        };
        let handle = entry.handle.as_mut().expect("checked above");
        handle.reset();
        let ptr = handle.as_ptr();
        assert_eq!(handle.layout(), layout, "reset keeps the layout");
        if keeps {
            // SAFETY: `ptr` is the root's live block of `layout.size()` bytes, ours.
            unsafe {
                check_named(
                    ptr,
                    layout.size(),
                    seed,
                    format_args!("step {}: bytes kept by reset", self.step),
                )
            };
        }
        // SAFETY: as above.
        unsafe { fill(ptr, layout.size(), seed) };
        self.shadow
            .borrow_mut()
            .insert(ptr, layout, id, Content::Pattern(seed));
        self.expect_drops(&retired, "by reset");
        self.check_stats("after reset");
    }

    pub(crate) fn set_limit(&mut self, root: u16, limit: LimitOp) {
        let Some((_, id, handle)) = self.pick_live(root) else {
            return;
        };
        let mut shadow = self.shadow.borrow_mut();
        let now = shadow.subtree(id).bytes_in_use;
        let limit = match limit {
            LimitOp::Remove => None,
            LimitOp::Headroom(k) => Some(now + usize::from(k)),
            LimitOp::Below(k) => Some(now.saturating_sub(usize::from(k))),
        };
        let info = shadow.infos.get_mut(&id).expect("live");
        let result = handle.set_limit(limit);
        if info.accounted {
            assert_eq!(result, Ok(()), "step {}: set_limit", self.step);
            info.limit = limit;
        } else {
            assert_eq!(result, Err(NotAccounted), "step {}: set_limit", self.step);
        }
        assert_eq!(handle.limit(), info.limit, "step {}: limit()", self.step);
    }

    pub(crate) fn move_under(&mut self, root: u16, parent: u16) {
        let (Some(r), Some(p)) = (self.pick(root), self.pick(parent)) else {
            return;
        };
        let (id, pid) = (self.roots[r].id, self.roots[p].id);
        if self.roots[r].handle.is_none() || self.roots[p].handle.is_none() {
            return;
        }
        // The new parent must not be the root or below it (its handle would borrow the
        // root's): the model keeps that rule of the borrow checker.
        if self.shadow.borrow().is_under(pid, id) {
            return;
        }
        let allowed = {
            let shadow = self.shadow.borrow();
            let (a, b) = (&shadow.infos[&id], &shadow.infos[&pid]);
            if a.accounted != b.accounted {
                false
            } else if !a.accounted {
                true
            } else {
                // Taken off the old ancestors first, then charged to the new ones.
                let s = shadow.subtree(id).bytes_in_use;
                shadow.chain(pid).into_iter().all(|x| {
                    shadow.infos[&x].limit.is_none_or(|limit| {
                        let mut now = shadow.subtree(x).bytes_in_use;
                        if shadow.is_under(id, x) {
                            now -= s;
                        }
                        now + s <= limit
                    })
                })
            }
        };
        let moving = self.roots[r].handle.take().expect("checked above");
        let to = self.roots[p].handle.as_ref().expect("checked above");
        // SAFETY: on success the model re-parents the root under `pid` (below), so it
        // drops or gives up this handle before `pid`'s: the precondition of `detach`.
        let result = moving
            .move_under(to)
            .map(|moved| unsafe { detach::<B>(moved) });
        match result {
            Ok(moved) => {
                assert!(
                    allowed,
                    "step {}: move_under passed a limit or kinds",
                    self.step
                );
                self.made_node(pid);
                self.made_node(id);
                self.shadow
                    .borrow_mut()
                    .infos
                    .get_mut(&id)
                    .expect("live")
                    .parent = Some(pid);
                self.roots[r].handle = Some(moved);
            }
            Err(back) => {
                let may_fail = self.shadow.borrow().config.exhaustible;
                assert!(
                    !allowed || may_fail,
                    "step {}: move_under refused an allowed move",
                    self.step
                );
                self.roots[r].handle = Some(back);
                // Refused after making the node records it needs (parent's first).
                self.settle_node(pid);
                self.settle_node(id);
            }
        }
        self.check_stats("after move_under");
    }

    pub(crate) fn forget_sub_root(&mut self, root: u16) {
        let Some(r) = self.pick(root) else { return };
        if self.shadow.borrow().infos[&self.roots[r].id]
            .parent
            .is_none()
        {
            return;
        }
        // Freed with its parent; the model keeps its blocks until then.
        mem::forget(self.roots[r].handle.take());
    }
}

/// Checks a root's vectors (before their buffers go).
fn check_raw_both<B: LinkedAllocator>(entry: &RootEntry<'_, B>, step: usize) {
    crate::vectors::check_raw::<u64>(entry.narrow, step);
    crate::vectors::check_raw::<crate::vectors::Wide>(entry.wide, step);
}
