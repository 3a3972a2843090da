//! Sub-roots, values with destructors and reset on every backend of the workspace:
//! freed in every order (parent first, child first, interleaved, deep), values dropped
//! exactly once, a panicking destructor, reset loops; accounted roots: figures equal to
//! the backend's, limits at the boundary, moves between roots.

use core::alloc::Layout;
use core::mem;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use linked_alloc::conformance::pattern;
use linked_alloc::{Linked, LinkedAllocator, Root};
use linked_alloc_testkit::workloads::sizes::Rng;

/// Depth of the deep chains (cut under Miri).
#[cfg(not(miri))]
const DEEP: usize = 1_000_000;
#[cfg(miri)]
const DEEP: usize = 100;

/// Nodes of the random trees (cut under Miri).
#[cfg(not(miri))]
const TREE: usize = 2_000;
#[cfg(miri)]
const TREE: usize = 40;

/// Counts its drops in the counter it points to.
struct Counted(Arc<AtomicUsize>, Box<u64>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Gives a sub-root the lifetime of the front end's borrow, so that a test can hold
/// handles of a tree side by side (the test then frees them in an order it checks).
///
/// # Safety
/// The handle is dropped before its parent, or forgotten (its parent frees it).
unsafe fn detach<'h, B: LinkedAllocator>(sub: Root<'_, B>) -> Root<'h, B> {
    // SAFETY: the same type but for the lifetime; the caller keeps the order.
    unsafe { mem::transmute::<Root<'_, B>, Root<'h, B>>(sub) }
}

const SMALL: Layout = Layout::new::<[u64; 4]>();

/// Fills a root's block with the pattern of `seed`.
fn fill<B: LinkedAllocator>(root: &Root<'_, B>, seed: usize) {
    // SAFETY: the root's block has `layout().size()` bytes, ours.
    unsafe { pattern::fill(root.as_ptr(), root.layout().size(), seed) }
}

/// Checks the pattern of `seed` in a root's block.
fn check<B: LinkedAllocator>(root: &Root<'_, B>, seed: usize) {
    // SAFETY: as in `fill`, filled before.
    unsafe { pattern::check(root.as_ptr(), root.layout().size(), seed) }
}

/// Sub-roots (with children and values) given up, freed with their parent.
fn parent_first<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let parent = heap.root(SMALL).unwrap();
    for i in 0..10 {
        let sub = parent.sub_root(SMALL).unwrap();
        sub.allocate_child(Layout::new::<[u8; 100]>()).unwrap();
        sub.alloc(Counted(drops.clone(), Box::new(i)));
        let grand = sub.sub_root(SMALL).unwrap();
        grand.alloc(Counted(drops.clone(), Box::new(i)));
        mem::forget(grand);
        mem::forget(sub);
    }
    parent.alloc(Counted(drops.clone(), Box::new(0)));
    assert_eq!(heap.stats().roots, 21);
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(parent);
    assert_eq!(drops.load(Ordering::Relaxed), 21);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Sub-roots dropped before their parent, which keeps its own blocks.
fn child_first<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let parent = heap.root(SMALL).unwrap();
    fill(&parent, 1);
    let kept = parent.alloc(Counted(drops.clone(), Box::new(7)));
    for i in 0..10 {
        let sub = parent.sub_root(SMALL).unwrap();
        fill(&sub, 2 + i);
        sub.alloc(Counted(drops.clone(), Box::new(i as u64)));
        let grand = sub.sub_root(SMALL).unwrap();
        grand.alloc_str("grandchild");
        check(&sub, 2 + i);
        drop(grand);
        drop(sub);
        assert_eq!(drops.load(Ordering::Relaxed), i + 1);
    }
    assert_eq!(heap.stats().roots, 1);
    check(&parent, 1);
    assert_eq!(*kept.1, 7);
    drop(parent);
    assert_eq!(drops.load(Ordering::Relaxed), 11);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// A random tree whose nodes are freed in a random order: a node freed before its
/// descendants takes them with it (their handles are given up first).
fn interleaved<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(0x5EED_0014);
    let mut handles: Vec<Option<Root<'_, B>>> = Vec::with_capacity(TREE);
    let mut parent_of: Vec<Option<usize>> = Vec::with_capacity(TREE);
    let mut values = vec![0usize; TREE];
    handles.push(Some(heap.root(SMALL).unwrap()));
    parent_of.push(None);
    for i in 1..TREE {
        let p = rng.below(i);
        let parent = handles[p].as_ref().unwrap();
        // SAFETY: `handles[i]` is dropped or forgotten before `handles[p]` (below).
        let sub = unsafe { detach(parent.sub_root(SMALL).unwrap()) };
        handles.push(Some(sub));
        parent_of.push(Some(p));
    }
    for (i, h) in handles.iter().enumerate() {
        let h = h.as_ref().unwrap();
        fill(h, i);
        for _ in 0..i % 3 {
            h.alloc(Counted(drops.clone(), Box::new(i as u64)));
            values[i] += 1;
        }
    }
    let mut live = vec![true; TREE];
    let mut expected = 0;
    for i in rng.permutation(TREE) {
        if !live[i] {
            continue;
        }
        // Give up the handles of every live descendant of `i`, deepest first does not
        // matter: `i` frees them all.
        for d in 0..TREE {
            let mut a = parent_of[d];
            let mut under = false;
            while let Some(x) = a {
                if x == i {
                    under = true;
                    break;
                }
                a = parent_of[x];
            }
            if under && live[d] {
                live[d] = false;
                expected += values[d];
                check(handles[d].as_ref().unwrap(), d);
                mem::forget(handles[d].take());
            }
        }
        live[i] = false;
        expected += values[i];
        let h = handles[i].take().unwrap();
        check(&h, i);
        drop(h);
        assert_eq!(drops.load(Ordering::Relaxed), expected);
        // Every live node still has its pattern.
        for (j, h) in handles.iter().enumerate() {
            if let Some(h) = h {
                check(h, j);
            }
        }
        if cfg!(miri) || i % 64 == 0 {
            assert_eq!(heap.stats().roots, live.iter().filter(|l| **l).count());
        }
    }
    assert_eq!(drops.load(Ordering::Relaxed), values.iter().sum::<usize>());
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// A chain `depth` levels deep, freed from the top (constant stack), then another
/// freed from the bottom.
fn deep<B: LinkedAllocator>(heap: &Linked<B>, depth: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let top = heap.root(SMALL).unwrap();
    // SAFETY: each level is given up (its parent frees it) before the top drops.
    let mut cur = unsafe { detach(top.sub_root(SMALL).unwrap()) };
    cur.alloc(Counted(drops.clone(), Box::new(0)));
    for _ in 1..depth {
        // SAFETY: as above.
        let next = unsafe { detach(cur.sub_root(SMALL).unwrap()) };
        mem::forget(cur);
        cur = next;
    }
    cur.alloc(Counted(drops.clone(), Box::new(1)));
    mem::forget(cur);
    assert_eq!(heap.stats().roots, depth + 1);
    drop(top);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    let top = heap.root(SMALL).unwrap();
    let mut chain: Vec<Root<'_, B>> = Vec::with_capacity(depth.min(1 << 16));
    // SAFETY: the chain is dropped from its end, each before its parent.
    chain.push(unsafe { detach(top.sub_root(SMALL).unwrap()) });
    for _ in 1..depth {
        let parent = chain.last().unwrap();
        // SAFETY: as above.
        let next = unsafe { detach(parent.sub_root(SMALL).unwrap()) };
        chain.push(next);
    }
    while let Some(h) = chain.pop() {
        drop(h);
    }
    assert_eq!(heap.stats().roots, 1);
    drop(top);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Values of every `alloc*` call dropped exactly once, in reverse order of allocation.
fn values_and_order<B: LinkedAllocator>(heap: &Linked<B>) {
    static_assertions::assert_impl_all!(Root<'static, linked_alloc_system::SystemHeap>: Send, Sync);
    let log = Arc::new(Mutex::new(Vec::new()));
    struct Logged(Arc<Mutex<Vec<u32>>>, u32);
    impl Drop for Logged {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(self.1);
        }
    }
    impl Clone for Logged {
        fn clone(&self) -> Self {
            Logged(self.0.clone(), self.1 + 100)
        }
    }
    let root = heap.root(SMALL).unwrap();
    root.alloc(Logged(log.clone(), 1));
    root.try_alloc(Logged(log.clone(), 2)).unwrap();
    root.alloc_with(|| Logged(log.clone(), 3));
    let src = [Logged(log.clone(), 4), Logged(log.clone(), 5)];
    let clones = root.alloc_slice_clone(&src);
    assert_eq!((clones[0].1, clones[1].1), (104, 105));
    drop(src);
    assert_eq!(*log.lock().unwrap(), [4, 5]);
    let s = root.alloc_str("héllo");
    assert_eq!(s, "héllo");
    let c = root.alloc_slice_copy(&[1u16, 2, 3]);
    assert_eq!(c, [1, 2, 3]);
    let zst = root.alloc(());
    assert_eq!(*zst, ());
    let n = root.alloc(5u64);
    *n += 1;
    assert_eq!(*n, 6);
    log.lock().unwrap().clear();
    drop(root);
    assert_eq!(*log.lock().unwrap(), [104, 105, 3, 2, 1]);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// A panicking destructor: the others still run, every block is freed, the panic
/// reaches the caller.
fn panicking_destructor<B: LinkedAllocator>(heap: &Linked<B>) {
    struct Boom;
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("boom");
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let root = heap.root(SMALL).unwrap();
    root.alloc(Counted(drops.clone(), Box::new(1)));
    let sub = root.sub_root(SMALL).unwrap();
    sub.alloc(Counted(drops.clone(), Box::new(2)));
    mem::forget(sub);
    root.alloc(Boom);
    root.alloc(Counted(drops.clone(), Box::new(3)));
    let r = catch_unwind(AssertUnwindSafe(move || drop(root)));
    assert!(r.is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Reset drops the values, frees children and sub-roots, keeps the root's bytes; a
/// sub-root stays under its parent after a reset.
fn reset<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut root = heap.root(SMALL).unwrap();
    fill(&root, 9);
    for round in 1..=5 {
        for _ in 0..10 {
            root.allocate_child(Layout::new::<[u8; 48]>()).unwrap();
            root.alloc(Counted(drops.clone(), Box::new(round)));
        }
        mem::forget(root.sub_root(SMALL).unwrap());
        root.reset();
        assert_eq!(drops.load(Ordering::Relaxed), 10 * round as usize);
        assert_eq!(heap.stats().roots, 1);
        assert_eq!(heap.stats().children, 0);
        check(&root, 9);
    }
    let mut sub = root.sub_root(SMALL).unwrap();
    sub.alloc(Counted(drops.clone(), Box::new(0)));
    sub.reset();
    assert_eq!(drops.load(Ordering::Relaxed), 51);
    sub.alloc(Counted(drops.clone(), Box::new(0)));
    mem::forget(sub);
    drop(root);
    assert_eq!(drops.load(Ordering::Relaxed), 52);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Sub-roots and values made from several threads through one `&Root`.
fn threads<B: LinkedAllocator + Sync>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let root = heap.root(SMALL).unwrap();
    let per = if cfg!(miri) { 5 } else { 500 };
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for i in 0..per {
                    root.alloc(Counted(drops.clone(), Box::new(i)));
                    let sub = root.sub_root(SMALL).unwrap();
                    sub.alloc(Counted(drops.clone(), Box::new(i)));
                    if i % 2 == 0 {
                        mem::forget(sub);
                    }
                }
            });
        }
    });
    // Each thread dropped its odd-numbered sub-roots' values.
    assert_eq!(drops.load(Ordering::Relaxed), 2 * (per as usize / 2));
    drop(root);
    assert_eq!(drops.load(Ordering::Relaxed), 4 * per as usize);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// An accounted root alone in its front end: its figures are the backend's, exactly,
/// after children, values, a collection, sub-roots made, dropped, given up and moved.
fn accounting_matches_backend<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let root = heap.accounted_root(SMALL).unwrap();
    let same = |root: &Root<'_, B>| assert_eq!(root.stats(), Some(heap.stats()));
    same(&root);
    root.allocate_child(Layout::new::<[u8; 100]>()).unwrap();
    root.alloc(Counted(drops.clone(), Box::new(1)));
    root.alloc_slice_copy(&[1u16, 2, 3]);
    same(&root);
    let mut v = allocator_api2::vec::Vec::new_in(&root);
    for i in 0..1000u32 {
        v.push(i);
    }
    v.shrink_to_fit();
    same(&root);
    drop(v);
    same(&root);
    let before = heap.stats();
    let sub = root.sub_root(SMALL).unwrap();
    sub.allocate_child(Layout::new::<[u8; 40]>()).unwrap();
    let inner = sub.sub_root(Layout::new::<u8>()).unwrap();
    inner.alloc(Counted(drops.clone(), Box::new(2)));
    same(&root);
    // A sub-root's own figures: what it added to the backend's.
    let s = sub.stats().unwrap();
    let now = heap.stats();
    assert_eq!(s.roots, now.roots - before.roots);
    assert_eq!(s.children, now.children - before.children);
    assert_eq!(s.bytes_in_use, now.bytes_in_use - before.bytes_in_use);
    drop(inner);
    same(&root);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    mem::forget(sub); // given up: still counted until its parent goes
    same(&root);
    assert!(root.peak_bytes().unwrap() >= root.stats().unwrap().bytes_in_use);
    drop(root);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Limits hit exactly at the boundary, on the root and through every ancestor, for
/// children, collections and sub-roots; a refusal changes nothing.
fn limits<B: LinkedAllocator>(heap: &Linked<B>) {
    let root = heap.accounted_root(SMALL).unwrap();
    assert_eq!(root.limit(), None);
    let used = root.stats().unwrap().bytes_in_use;
    root.set_limit(Some(used + 256)).unwrap();
    assert_eq!(root.limit(), Some(used + 256));
    root.allocate_child(Layout::new::<[u8; 200]>()).unwrap();
    let full = root.stats().unwrap();
    assert!(root.allocate_child(Layout::new::<[u8; 57]>()).is_err());
    assert_eq!(root.stats().unwrap(), full, "a refusal changed the figures");
    assert_eq!(heap.stats(), full);
    root.allocate_child(Layout::new::<[u8; 56]>()).unwrap(); // exactly at the limit
    assert_eq!(root.stats().unwrap().bytes_in_use, used + 256);
    assert!(root.allocate_child(Layout::new::<u8>()).is_err());
    assert!(root.try_alloc(7u8).is_err());
    let mut v = allocator_api2::vec::Vec::<u8, _>::new_in(&root);
    assert!(v.try_reserve(1).is_err());
    drop(v);
    // A sub-root counts against its parent's limit, its own limit against itself.
    root.set_limit(None).unwrap();
    let sub = root.sub_root(SMALL).unwrap();
    let base = root.stats().unwrap().bytes_in_use;
    root.set_limit(Some(base + 1000)).unwrap();
    let sub_used = sub.stats().unwrap().bytes_in_use;
    sub.set_limit(Some(sub_used + 2000)).unwrap();
    assert!(sub.allocate_child(Layout::new::<[u8; 1001]>()).is_err()); // the parent's
    sub.allocate_child(Layout::new::<[u8; 1000]>()).unwrap();
    assert!(sub.allocate_child(Layout::new::<u8>()).is_err());
    assert!(sub.sub_root(Layout::new::<u8>()).is_err());
    root.set_limit(None).unwrap();
    sub.allocate_child(Layout::new::<[u8; 1000]>()).unwrap();
    assert!(sub.allocate_child(Layout::new::<u8>()).is_err()); // its own
    assert_eq!(sub.stats().unwrap().bytes_in_use, sub_used + 2000);
    // Freeing the sub-root gives its bytes back to the parent.
    drop(sub);
    assert_eq!(root.stats().unwrap().bytes_in_use, base - sub_used);
    assert_eq!(root.stats().unwrap(), heap.stats());
    // A plain root has no figures and takes no limit.
    let plain = heap.root(SMALL).unwrap();
    assert_eq!(plain.stats(), None);
    assert_eq!(
        plain.set_limit(Some(1)),
        Err(linked_alloc::nested::NotAccounted)
    );
    assert!(plain.sub_root(SMALL).unwrap().stats().is_none());
    drop(plain);
    drop(root);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// `move_under`: the subtree leaves one root for another, with its figures; limits
/// of the new ancestors apply after the move; values dropped once; refusals.
fn move_under<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let a = heap.accounted_root(SMALL).unwrap();
    let b = heap.accounted_root(SMALL).unwrap();
    let a0 = a.stats().unwrap();
    let b0 = b.stats().unwrap();
    let s = a.sub_root(SMALL).unwrap();
    fill(&s, 5);
    s.allocate_child(Layout::new::<[u8; 300]>()).unwrap();
    s.alloc(Counted(drops.clone(), Box::new(3)));
    let deep = s.sub_root(SMALL).unwrap();
    deep.alloc(Counted(drops.clone(), Box::new(4)));
    mem::forget(deep);
    let moved = s.stats().unwrap();
    // Refused by the new parent's limit: nothing changes.
    b.set_limit(Some(b0.bytes_in_use + moved.bytes_in_use - 1))
        .unwrap();
    let s = s.move_under(&b).unwrap_err();
    assert_eq!(b.stats().unwrap(), b0);
    assert_eq!(
        a.stats().unwrap().bytes_in_use,
        a0.bytes_in_use + moved.bytes_in_use
    );
    // Exactly at the limit: moved.
    b.set_limit(Some(b0.bytes_in_use + moved.bytes_in_use))
        .unwrap();
    let s = s.move_under(&b).unwrap();
    assert_eq!(a.stats().unwrap(), a0);
    let bs = b.stats().unwrap();
    assert_eq!(bs.bytes_in_use, b0.bytes_in_use + moved.bytes_in_use);
    assert_eq!(bs.roots, b0.roots + moved.roots);
    assert_eq!(bs.children, b0.children + moved.children);
    // The new parent's limit applies to the moved subtree, the old one's no more.
    assert!(s.allocate_child(Layout::new::<u8>()).is_err());
    a.set_limit(Some(a0.bytes_in_use)).unwrap();
    b.set_limit(None).unwrap();
    s.allocate_child(Layout::new::<u8>()).unwrap();
    assert_eq!(a.stats().unwrap(), a0);
    // The old parent goes; the moved subtree lives on under the new one.
    drop(a);
    check(&s, 5);
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    mem::forget(s);
    assert_eq!(b.stats().unwrap(), heap.stats());
    drop(b);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    // Plain roots: a top root moved under another, freed with it.
    let p = heap.root(SMALL).unwrap();
    let q = heap.root(SMALL).unwrap();
    fill(&q, 6);
    q.alloc(Counted(drops.clone(), Box::new(5)));
    let q = q.move_under(&p).unwrap();
    check(&q, 6);
    mem::forget(q);
    drop(p);
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    // Refused: accounted under plain, plain under accounted; nothing made for it.
    let plain = heap.root(SMALL).unwrap();
    let acc = heap.accounted_root(SMALL).unwrap();
    let before = heap.stats();
    let top = heap.root(SMALL).unwrap();
    let top_made = heap.stats();
    let top = top.move_under(&acc).unwrap_err();
    assert_eq!(heap.stats(), top_made, "a refused move made a node record");
    drop(top);
    assert_eq!(heap.stats(), before);
    let sub = acc.sub_root(SMALL).unwrap();
    let sub = sub.move_under(&plain).unwrap_err();
    let psub = plain.sub_root(SMALL).unwrap();
    let psub = psub.move_under(&acc).unwrap_err();
    drop((sub, psub));
    drop((plain, acc));
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Reset of an accounted root keeps it accounted, with its limit and peak; figures
/// back to an empty root's.
fn accounted_reset<B: LinkedAllocator>(heap: &Linked<B>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut top = heap.accounted_root(SMALL).unwrap();
    let mut sub = top.sub_root(SMALL).unwrap();
    let empty = sub.stats().unwrap();
    let top_empty = top.stats().unwrap();
    sub.set_limit(Some(empty.bytes_in_use + 2000)).unwrap();
    for round in 0..3 {
        sub.allocate_child(Layout::new::<[u8; 400]>()).unwrap();
        sub.alloc(Counted(drops.clone(), Box::new(round)));
        sub.sub_root(SMALL)
            .unwrap()
            .alloc(Counted(drops.clone(), Box::new(round)));
        sub.reset();
        assert_eq!(sub.stats().unwrap(), empty);
        assert_eq!(top.stats().unwrap(), top_empty);
        assert_eq!(sub.limit(), Some(empty.bytes_in_use + 2000));
        assert!(sub.peak_bytes().unwrap() >= empty.bytes_in_use + 400);
    }
    assert_eq!(drops.load(Ordering::Relaxed), 6);
    drop(sub);
    top.reset();
    assert_eq!(top.stats().unwrap(), heap.stats());
    drop(top);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// Sub-roots on the raw layer: made under raw roots and raw sub-roots, freed alone or
/// with an ancestor, in a random order over a random tree; patterns checked.
fn raw_sub_roots<B: LinkedAllocator>(heap: &Linked<B>) {
    use core::ptr::NonNull;
    let mut rng = Rng::new(7);
    // (block, size, parent index, live)
    let mut nodes: Vec<(NonNull<u8>, usize, Option<usize>, bool)> = Vec::new();
    let top = heap.allocate_buffer(48).unwrap();
    // SAFETY: a fresh root of 48 bytes.
    unsafe { pattern::fill(top, 48, 0) };
    nodes.push((top, 48, None, true));
    for _ in 1..TREE {
        let i = nodes.len();
        let parent = rng.below(nodes.len());
        if !nodes[parent].3 {
            continue;
        }
        let size = 8 + rng.below(64);
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: `nodes[parent]` is a live raw root or raw sub-root of `heap`.
        let block = unsafe { heap.allocate_sub_root(nodes[parent].0, layout).unwrap() };
        // SAFETY: a fresh block of `size` bytes, and a live root for the child.
        unsafe {
            pattern::fill(block, size, i);
            heap.allocate_more(24, block).unwrap();
        }
        nodes.push((block, size, Some(parent), true));
        // Now and then free a live node (not the top) with its subtree.
        if rng.below(4) == 0 {
            let victim = 1 + rng.below(nodes.len() - 1);
            if nodes[victim].3 {
                // SAFETY: a live raw sub-root, given up here.
                unsafe { heap.free_root(nodes[victim].0) };
                kill(&mut nodes, victim);
            }
        }
        for (j, n) in nodes.iter().enumerate().filter(|(_, n)| n.3) {
            if rng.below(16) == 0 {
                // SAFETY: a live block of `n.1` bytes, filled with seed `j`.
                unsafe { pattern::check(n.0, n.1, j) };
            }
        }
    }
    // SAFETY: the live raw root, given up: every live sub-root goes with it.
    unsafe { heap.free_root(top) };
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    /// Marks `i` and its live descendants dead (the free of `i` took them).
    fn kill(nodes: &mut [(core::ptr::NonNull<u8>, usize, Option<usize>, bool)], i: usize) {
        nodes[i].3 = false;
        for j in i + 1..nodes.len() {
            if let Some(p) = nodes[j].2 {
                if !nodes[p].3 {
                    nodes[j].3 = false;
                }
            }
        }
    }
}

/// A raw chain `depth` levels deep freed from the top with constant stack; handles given
/// up with `into_raw` keep their values and sub-roots for `free_root` and `from_raw`.
fn raw_deep_and_handles<B: LinkedAllocator>(heap: &Linked<B>, depth: usize) {
    let top = heap.allocate_buffer(16).unwrap();
    let mut cur = top;
    for _ in 0..depth {
        // SAFETY: `cur` is the live raw sub-root (or root) made last.
        cur = unsafe { heap.allocate_sub_root(cur, Layout::new::<u64>()).unwrap() };
    }
    // SAFETY: the live raw root; the chain goes with it.
    unsafe { heap.free_root(top) };
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    let drops = Arc::new(AtomicUsize::new(0));
    let root = heap.root(SMALL).unwrap();
    root.alloc(Counted(drops.clone(), Box::new(1)));
    let sub = root.sub_root(SMALL).unwrap();
    sub.alloc(Counted(drops.clone(), Box::new(2)));
    let sub = sub.into_raw();
    let root = root.into_raw();
    // SAFETY: `root` was given up by its handle, with its layout; taken back once.
    let root = unsafe { Root::from_raw(heap, root, SMALL) };
    // SAFETY: `sub` was given up by its handle; its parent is alive; freed once.
    unsafe { heap.free_root(sub) };
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    let sub = root.sub_root(SMALL).unwrap();
    sub.alloc(Counted(drops.clone(), Box::new(3)));
    mem::forget(sub);
    let root = root.into_raw();
    // SAFETY: `root` is live, given up by its handle, freed once: its tree goes.
    unsafe { heap.free_root(root) };
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    // `GlobalAlloc::dealloc` and `realloc` (which moves the root, its children going
    // with the old block) of a root with a tree given up: the tree goes too.
    let root = heap.root(SMALL).unwrap();
    root.alloc(Counted(drops.clone(), Box::new(4)));
    root.sub_root(SMALL)
        .unwrap()
        .alloc(Counted(drops.clone(), Box::new(5)));
    let root = root.into_raw();
    // SAFETY: a live root of `SMALL`, given up; not used afterwards.
    unsafe { core::alloc::GlobalAlloc::dealloc(heap, root.as_ptr(), SMALL) };
    assert_eq!(drops.load(Ordering::Relaxed), 5);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
    let root = heap.root(SMALL).unwrap();
    fill(&root, 9);
    root.alloc(Counted(drops.clone(), Box::new(6)));
    let root = root.into_raw();
    // SAFETY: a live root of `SMALL`, given up; the new size is valid.
    let moved = unsafe { core::alloc::GlobalAlloc::realloc(heap, root.as_ptr(), SMALL, 1 << 16) };
    assert!(!moved.is_null());
    // SAFETY: the first `SMALL.size()` bytes are the root's.
    unsafe { pattern::check(core::ptr::NonNull::new(moved).unwrap(), SMALL.size(), 9) };
    if moved != root.as_ptr() {
        assert_eq!(
            drops.load(Ordering::Relaxed),
            6,
            "the value went with the old block"
        );
    }
    // SAFETY: the moved block, a live root of 64 KiB with the root's alignment.
    unsafe {
        core::alloc::GlobalAlloc::dealloc(
            heap,
            moved,
            Layout::from_size_align(1 << 16, SMALL.align()).unwrap(),
        )
    };
    assert_eq!(drops.load(Ordering::Relaxed), 6);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());

    // Raw sub-roots of an accounted root given up: charged to it.
    let acc = heap.accounted_root(SMALL).unwrap();
    let before = acc.stats().unwrap();
    let acc = acc.into_raw();
    // SAFETY: `acc` is a live root given up by its handle.
    let sub = unsafe {
        heap.allocate_sub_root(acc, Layout::new::<[u8; 100]>())
            .unwrap()
    };
    // SAFETY: taken back once; `sub` is freed before it.
    let acc = unsafe { Root::from_raw(heap, acc, SMALL) };
    let after = acc.stats().unwrap();
    assert_eq!(after.roots, before.roots + 1);
    assert!(after.bytes_in_use > before.bytes_in_use + 100);
    // SAFETY: a live raw sub-root, freed once.
    unsafe { heap.free_root(sub) };
    assert_eq!(acc.stats().unwrap(), before);
    drop(acc);
    assert!(heap.stats().is_empty(), "{:?}", heap.stats());
}

/// The peak: exactly the highest bytes the subtree held, through a sub-root freed, a
/// refused allocation (not counted), and a rise past the old peak.
fn peak_exact<B: LinkedAllocator>(heap: &Linked<B>) {
    let root = heap.accounted_root(SMALL).unwrap();
    let base = root.stats().unwrap().bytes_in_use;
    assert_eq!(root.peak_bytes(), Some(base));
    let sub = root.sub_root(SMALL).unwrap();
    sub.allocate_child(Layout::new::<[u8; 1000]>()).unwrap();
    let high = root.stats().unwrap().bytes_in_use;
    assert_eq!(root.peak_bytes(), Some(high));
    drop(sub);
    assert_eq!(root.stats().unwrap().bytes_in_use, base);
    assert_eq!(root.peak_bytes(), Some(high), "a free lowered the peak");
    root.set_limit(Some(high)).unwrap();
    assert!(root.allocate_child(Layout::new::<[u8; 4000]>()).is_err());
    assert_eq!(
        root.peak_bytes(),
        Some(high),
        "a refused allocation moved the peak"
    );
    // Refused by the parent's limit: the sub-root's own peak does not see it either.
    let sub = root.sub_root(SMALL).unwrap();
    let sub_base = sub.stats().unwrap().bytes_in_use;
    assert!(sub.allocate_child(Layout::new::<[u8; 4000]>()).is_err());
    assert_eq!(sub.peak_bytes(), Some(sub_base));
    drop(sub);
    root.set_limit(None).unwrap();
    root.allocate_child(Layout::new::<[u8; 2000]>()).unwrap();
    assert_eq!(root.peak_bytes(), Some(base + 2000));
    // The same on the front end's figures.
    assert_eq!(root.stats(), Some(heap.stats()));
}

macro_rules! suite {
    // One `#[test]` per shared body that takes only the heap.
    (@each $heap:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                super::$name(&$heap);
            }
        )*
    };
    ($heap:expr, $deep:expr) => {
        use super::*;
        suite!(@each $heap; parent_first, child_first, interleaved, values_and_order,
            panicking_destructor, reset, threads, accounting_matches_backend, limits,
            move_under, accounted_reset, raw_sub_roots, peak_exact);
        #[test]
        fn deep() {
            super::deep(&$heap, $deep);
        }
        #[test]
        fn raw_deep_and_handles() {
            super::raw_deep_and_handles(&$heap, $deep);
        }
    };
}

mod system {
    suite!(Linked::new(linked_alloc_system::SystemHeap::new()), DEEP);
}

mod mmap {
    suite!(Linked::new(linked_alloc_mmap::MmapPages::new()), DEEP);

    /// A reset-and-refill loop of a root with 1 000 children maps nothing new after
    /// the first rounds.
    #[test]
    fn reset_keeps_memory() {
        let heap = Linked::new(linked_alloc_mmap::MmapPages::new());
        let mut root = heap.root(SMALL).unwrap();
        let rounds = if cfg!(miri) { 4 } else { 200 };
        let children = if cfg!(miri) { 50 } else { 1000 };
        let mut mapped = Vec::new();
        for _ in 0..rounds {
            for _ in 0..children {
                root.allocate_child(Layout::new::<[u8; 64]>()).unwrap();
            }
            root.alloc(String::from("value"));
            root.reset();
            mapped.push(heap.backend().bytes_mapped());
        }
        assert!(mapped[1] > 0);
        assert!(
            mapped[1..].iter().all(|m| *m == mapped[1]),
            "bytes_mapped grew: {mapped:?}"
        );
    }
}

mod pool {
    use linked_alloc_pool::StaticPool;

    #[cfg(not(miri))]
    const BYTES: usize = 64 << 20;
    #[cfg(miri)]
    const BYTES: usize = 512 << 10;
    /// The pool holds about 100 bytes per level.
    #[cfg(not(miri))]
    const POOL_DEEP: usize = 200_000;
    #[cfg(miri)]
    const POOL_DEEP: usize = 100;

    suite!(
        {
            static POOL: StaticPool<BYTES> = StaticPool::new();
            Linked::new(&POOL)
        },
        POOL_DEEP
    );
}
