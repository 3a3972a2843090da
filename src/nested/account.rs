//! Accounting and limits per subtree, for **accounted** roots: see
//! [`Linked::accounted_root`].
//!
//! # Design
//! An accounted root's node record carries an [`Account`]: the roots, children and
//! bytes of the root's whole subtree (itself, its children, its sub-roots and theirs),
//! the subtree's peak of bytes, and an optional limit on its bytes. Every block made
//! through the handle of an accounted root (children, values, collections, sub-roots) is
//! **charged** to its node and to every ancestor's node before the backend is asked for
//! it; a block that goes (a reclaimed child, a freed sub-root) is uncharged likewise.
//! Reading the figures is O(1); a charge costs O(depth) atomic operations (the root and
//! each of its ancestors), which is why accounting is chosen per tree, at the top root's
//! creation: a plain root, and the trees below it, pay nothing for it.
//!
//! Accounting is inherited: a sub-root of an accounted root is accounted, so every
//! ancestor of an accounted node is accounted, and a charge walks up the parent links
//! to the top. [`Root::move_under`] keeps this: it moves a subtree only between roots of
//! the same kind.
//!
//! **Limits.** A charge adds to each node from the root upward, checking that node's
//! limit; if one would be passed, what was added is taken back and the allocation fails
//! with [`AllocError`], changing nothing. Two threads charging at once near a limit may
//! both be refused where one of them would have fit; never is a limit passed.
//!
//! The figures are exact whenever no other thread allocates in the subtree; a read
//! taken while others allocate mixes counts from just before and just after their calls
//! (each counter is read on its own).
//!
//! [`Linked::accounted_root`]: crate::Linked::accounted_root

use core::alloc::Layout;
use core::fmt;
use core::mem;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::kit::atomic::{AtomicPtr, AtomicUsize};

use super::{Node, new_node};
use crate::{AllocError, Linked, LinkedAllocator, Root, Stats};

/// The figures of an accounted node's subtree; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Account {
    roots: AtomicUsize,
    children: AtomicUsize,
    bytes: AtomicUsize,
    peak: AtomicUsize,
    /// The limit on `bytes`; `usize::MAX` for none.
    limit: AtomicUsize,
}

impl Account {
    /// The account of a new root whose own blocks are `children` children and `bytes`
    /// bytes in all.
    pub(crate) const fn new(children: usize, bytes: usize) -> Self {
        Account {
            roots: AtomicUsize::new(1),
            children: AtomicUsize::new(children),
            bytes: AtomicUsize::new(bytes),
            peak: AtomicUsize::new(bytes),
            limit: AtomicUsize::new(usize::MAX),
        }
    }

    /// The subtree's figures now.
    fn stats(&self) -> Stats {
        Stats {
            roots: self.roots.load(Relaxed),
            children: self.children.load(Relaxed),
            bytes_in_use: self.bytes.load(Relaxed),
        }
    }
}

/// What a block (or a subtree) adds to the figures of every node above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Charge {
    pub(crate) roots: usize,
    pub(crate) children: usize,
    pub(crate) bytes: usize,
}

impl Charge {
    /// One child of `bytes`.
    pub(crate) const fn child(bytes: usize) -> Self {
        Charge {
            roots: 0,
            children: 1,
            bytes,
        }
    }

    /// Bytes alone (a block that grew or shrank in place).
    pub(crate) const fn bytes(bytes: usize) -> Self {
        Charge {
            roots: 0,
            children: 0,
            bytes,
        }
    }

    /// The whole subtree of the accounted node `node`.
    ///
    /// # Safety
    /// `node` is a live accounted node.
    unsafe fn subtree(node: *mut Node) -> Self {
        // SAFETY: the caller's precondition.
        let s = unsafe { account(node) }.stats();
        Charge {
            roots: s.roots,
            children: s.children,
            bytes: s.bytes_in_use,
        }
    }
}

/// The account of the accounted node `node`.
///
/// # Safety
/// `node` is a live node of an accounted root.
unsafe fn account<'n>(node: *mut Node) -> &'n Account {
    // SAFETY: the caller's precondition: live, and `account` is set at its creation
    // and never changed.
    match unsafe { &(*node).account } {
        Some(a) => a,
        None => unreachable!("an accounted node without its account"),
    }
}

/// Whether the live node `node` is accounted.
///
/// # Safety
/// `node` is a live node.
#[inline]
pub(crate) unsafe fn is_accounted(node: *mut Node) -> bool {
    // SAFETY: the caller's precondition; `account` never changes after creation.
    unsafe { (*node).account.is_some() }
}

/// Adds `c` to `node` and every ancestor, checking each one's limit unless `force`;
/// if a limit would be passed, takes back what it added and fails, changing nothing.
///
/// # Safety
/// `node` is a live accounted node, and so (by inheritance) is every ancestor; no node
/// on the way is freed or moved during the call (the handle chain pins them).
pub(crate) unsafe fn charge(node: *mut Node, c: Charge, force: bool) -> Result<(), AllocError> {
    let mut cur = node;
    while !cur.is_null() {
        // SAFETY: `cur` is `node` or an ancestor: live and accounted (the precondition).
        let a = unsafe { account(cur) };
        let before = a.bytes.fetch_add(c.bytes, Relaxed);
        let after = before.checked_add(c.bytes);
        let fits = after.is_some_and(|after| after <= a.limit.load(Relaxed));
        if !fits && !force {
            a.bytes.fetch_sub(c.bytes, Relaxed);
            // SAFETY: the nodes below `cur` were charged by this call; same chain.
            unsafe { uncharge_until(node, cur, c, Peak::Skip) };
            return Err(AllocError);
        }
        if c.roots != 0 {
            a.roots.fetch_add(c.roots, Relaxed);
        }
        if c.children != 0 {
            a.children.fetch_add(c.children, Relaxed);
        }
        // SAFETY: as above; a node's parent does not change while a handle below it is
        // in use (moving needs the subtree's handle by value).
        cur = unsafe { (*cur).parent };
    }
    Ok(())
}

/// Takes `c` back from `node` and every ancestor: blocks that go.
///
/// # Safety
/// As [`charge`], and `c` was charged to every one of them.
pub(crate) unsafe fn uncharge(node: *mut Node, c: Charge) {
    // SAFETY: the caller's precondition; a null end walks to the top.
    unsafe { uncharge_until(node, ptr::null_mut(), c, Peak::Record) }
}

/// Takes back a charge whose block was never made (the backend refused it, or a
/// growth in place did not happen): the peak does not see it.
///
/// # Safety
/// As [`uncharge`].
pub(crate) unsafe fn uncharge_unused(node: *mut Node, c: Charge) {
    // SAFETY: the caller's precondition; a null end walks to the top.
    unsafe { uncharge_until(node, ptr::null_mut(), c, Peak::Skip) }
}

/// Whether a decrease records the value before it as a candidate peak.
///
/// The peak is kept without a read-modify-write on the charging path: the bytes only
/// fall by an uncharge, so their highest value so far is either one that an uncharge
/// saw just before its subtraction, or the value now; [`peak_of`] takes the larger.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peak {
    Record,
    Skip,
}

/// The peak of `a`: the highest value its bytes have had.
fn peak_of(a: &Account) -> usize {
    a.peak.load(Relaxed).max(a.bytes.load(Relaxed))
}

/// Takes `c` back from `node` and its ancestors below `end` (null: all of them).
///
/// # Safety
/// As [`uncharge`], for the nodes from `node` up to (not including) `end`.
unsafe fn uncharge_until(node: *mut Node, end: *mut Node, c: Charge, peak: Peak) {
    let mut cur = node;
    while cur != end && !cur.is_null() {
        // SAFETY: the caller's precondition.
        let a = unsafe { account(cur) };
        let before = a.bytes.fetch_sub(c.bytes, Relaxed);
        if peak == Peak::Record && c.bytes != 0 {
            a.peak.fetch_max(before, Relaxed);
        }
        if c.roots != 0 {
            a.roots.fetch_sub(c.roots, Relaxed);
        }
        if c.children != 0 {
            a.children.fetch_sub(c.children, Relaxed);
        }
        // SAFETY: as in `charge`.
        cur = unsafe { (*cur).parent };
    }
}

/// Takes a freed subtree's figures off every ancestor of its top `node`.
///
/// # Safety
/// `node` is a live accounted node, off its parent's list, whose ancestors are live; its
/// parent link is still set.
pub(crate) unsafe fn uncharge_subtree(node: *mut Node) {
    // SAFETY: the caller's precondition.
    unsafe {
        let parent = (*node).parent;
        if !parent.is_null() {
            uncharge(parent, Charge::subtree(node));
        }
    }
}

/// What [`Root::reset`] carries from an accounted root to its new self.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Carried {
    limit: usize,
    peak: usize,
}

/// `set_limit` was called on a root that is not accounted; see
/// [`Linked::accounted_root`].
///
/// ```
/// use linked_alloc::nested::NotAccounted;
/// assert_eq!(NotAccounted.to_string(), "the root is not accounted");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotAccounted;

impl fmt::Display for NotAccounted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the root is not accounted")
    }
}

impl core::error::Error for NotAccounted {}

impl<B: LinkedAllocator> Linked<B> {
    /// Allocates an **accounted** root of `layout`: [`Root::stats`] and
    /// [`Root::set_limit`] work on it and on every sub-root below it, in O(1) reads;
    /// each block made under it costs a few atomic operations per level of nesting more
    /// than under a plain [`root`](Self::root). Its node record is made now, as a child
    /// of the root, and counted as one.
    ///
    /// # Errors
    /// [`AllocError`] as [`allocate_root`](Self::allocate_root).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let request = heap.accounted_root(Layout::new::<[u8; 64]>())?;
    /// request.set_limit(Some(4096))?;
    /// let body = request.sub_root(Layout::new::<[u8; 256]>())?;
    /// body.alloc_str("To: all");
    /// // The subtree's figures, exact: the same as the backend's while it is alone.
    /// assert_eq!(request.stats(), Some(heap.stats()));
    /// assert!(body.allocate_child(Layout::new::<[u8; 8192]>()).is_err()); // past 4 KiB
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accounted_root(&self, layout: Layout) -> Result<Root<'_, B>, AllocError> {
        let root = self.root(layout)?;
        let node = root.allocate_child(Layout::new::<Node>())?.cast::<Node>();
        let account = Account::new(1, layout.size() + mem::size_of::<Node>());
        // SAFETY: `node` is a fresh child of `Node`'s layout, ours alone.
        unsafe {
            node.as_ptr()
                .write(new_node(root.ptr, ptr::null_mut(), Some(account)))
        };
        root.node.store(node.as_ptr(), Relaxed);
        Ok(root)
    }
}

impl<'a, B: LinkedAllocator> Root<'a, B> {
    /// The node of this root if it is accounted.
    #[inline]
    fn accounted_node(&self) -> Option<*mut Node> {
        let node = self.node.load(Acquire);
        // SAFETY: a non-null node of this handle is live while the handle is.
        (!node.is_null() && unsafe { is_accounted(node) }).then_some(node)
    }

    /// The figures of this root's subtree (the root, its children, its sub-roots and
    /// theirs): live roots, children and bytes as the backend counts them (the node
    /// record of an accounted top root and the header of each value with a destructor
    /// are children too), read in O(1). `None` if the root is not accounted (see
    /// [`Linked::accounted_root`]).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.accounted_root(Layout::new::<u64>())?;
    /// let before = root.stats().unwrap();
    /// root.allocate_child(Layout::new::<[u8; 100]>())?;
    /// let after = root.stats().unwrap();
    /// assert_eq!(after.children, before.children + 1);
    /// assert_eq!(after.bytes_in_use, before.bytes_in_use + 100);
    /// assert_eq!(heap.root(Layout::new::<u8>())?.stats(), None); // a plain root
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> Option<Stats> {
        // SAFETY: `accounted_node` gives a live accounted node.
        self.accounted_node().map(|n| unsafe { account(n) }.stats())
    }

    /// The most bytes this root's subtree has held at once (its high-water mark),
    /// `None` if the root is not accounted. A reset keeps it.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut root = heap.accounted_root(Layout::new::<u64>())?;
    /// root.allocate_child(Layout::new::<[u8; 1000]>())?;
    /// root.reset();
    /// assert!(root.peak_bytes().unwrap() >= 1000 + root.stats().unwrap().bytes_in_use);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    #[must_use]
    pub fn peak_bytes(&self) -> Option<usize> {
        // SAFETY: `accounted_node` gives a live accounted node.
        self.accounted_node()
            .map(|n| peak_of(unsafe { account(n) }))
    }

    /// Sets (or with `None` removes) the limit on this subtree's bytes in use: an
    /// allocation anywhere in the subtree (a child, a value, a collection's buffer, a
    /// sub-root) that would take them past `bytes` fails with [`AllocError`] and
    /// changes nothing. The limits of every ancestor apply too. A limit below what the
    /// subtree holds already frees nothing; it refuses new blocks until the subtree is
    /// back under it.
    ///
    /// # Errors
    /// [`NotAccounted`] if the root is not accounted (see [`Linked::accounted_root`]).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.accounted_root(Layout::new::<u8>())?;
    /// let used = root.stats().unwrap().bytes_in_use;
    /// root.set_limit(Some(used + 64))?;
    /// assert!(root.allocate_child(Layout::new::<[u8; 64]>()).is_ok()); // exactly at it
    /// assert!(root.allocate_child(Layout::new::<u8>()).is_err()); // one byte past
    /// root.set_limit(None)?;
    /// assert!(root.allocate_child(Layout::new::<u8>()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_limit(&self, bytes: Option<usize>) -> Result<(), NotAccounted> {
        let node = self.accounted_node().ok_or(NotAccounted)?;
        // SAFETY: `accounted_node` gives a live accounted node.
        unsafe { account(node) }
            .limit
            .store(bytes.unwrap_or(usize::MAX), Relaxed);
        Ok(())
    }

    /// The limit set by [`set_limit`](Self::set_limit), `None` if there is none or the
    /// root is not accounted.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.accounted_root(Layout::new::<u8>())?;
    /// root.set_limit(Some(1 << 20))?;
    /// assert_eq!(root.limit(), Some(1 << 20));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn limit(&self) -> Option<usize> {
        let node = self.accounted_node()?;
        // SAFETY: `accounted_node` gives a live accounted node.
        let limit = unsafe { account(node) }.limit.load(Relaxed);
        (limit != usize::MAX).then_some(limit)
    }

    /// The limit and peak of this root if it is accounted, for [`Root::reset`].
    pub(crate) fn carried_account(&self) -> Option<Carried> {
        let node = self.accounted_node()?;
        // SAFETY: `accounted_node` gives a live accounted node.
        let a = unsafe { account(node) };
        Some(Carried {
            limit: a.limit.load(Relaxed),
            peak: peak_of(a),
        })
    }

    /// Gives this (new, accounted) root the limit and peak of the root it replaces.
    pub(crate) fn carry_account(&self, carried: Carried) {
        if let Some(node) = self.accounted_node() {
            // SAFETY: `accounted_node` gives a live accounted node.
            let a = unsafe { account(node) };
            a.limit.store(carried.limit, Relaxed);
            a.peak.fetch_max(carried.peak, Relaxed);
        }
    }

    /// A child through the accounting of `node` (this root's accounted node).
    #[cold]
    pub(crate) fn allocate_child_accounted(
        &self,
        node: *mut Node,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        let c = Charge::child(layout.size());
        // SAFETY: `node` is this root's live accounted node; the handle chain pins its
        // ancestors.
        unsafe { charge(node, c, false)? };
        // SAFETY: `self.ptr` is a live root of `self.linked` while `self` lives.
        let block = unsafe { self.linked.allocate_child(self.ptr, layout) };
        if block.is_err() {
            // SAFETY: charged just above, to the same chain; the block was not made.
            unsafe { uncharge_unused(node, c) };
        }
        block
    }

    /// Takes a reclaimed child (`true`) of `bytes` off the figures, if accounted.
    pub(crate) fn reclaimed(&self, bytes: usize) {
        if let Some(node) = self.accounted_node() {
            // SAFETY: the child was charged to this chain when it was made.
            unsafe { uncharge(node, Charge::child(bytes)) };
        }
    }

    /// Before a block of this root grows in place by `more` bytes: charges them (a
    /// limit may refuse). Returns whether it did, for [`resized`](Self::resized).
    pub(crate) fn charge_growth(&self, more: usize) -> Result<Option<*mut Node>, AllocError> {
        let Some(node) = self.accounted_node() else {
            return Ok(None);
        };
        // SAFETY: this root's live accounted node; the handle chain pins its ancestors.
        unsafe { charge(node, Charge::bytes(more), false)? };
        Ok(Some(node))
    }

    /// After a resize in place was tried: takes back a growth charge that was not used
    /// (`grew` false), or a shrink's bytes (`less`).
    pub(crate) fn resized(&self, charged: Option<(*mut Node, usize)>, less: usize) {
        if let Some((node, more)) = charged {
            // SAFETY: `node` was charged `more` by `charge_growth` on this chain; the
            // block did not grow.
            unsafe { uncharge_unused(node, Charge::bytes(more)) };
        }
        if less != 0 {
            if let Some(node) = self.accounted_node() {
                // SAFETY: the block's bytes were charged to this chain when made.
                unsafe { uncharge(node, Charge::bytes(less)) };
            }
        }
    }

    /// Moves this root, with its whole subtree, under `parent` (talloc's
    /// `talloc_steal`): from now on it goes when its handle drops or, if given up, with
    /// `parent`; its figures leave its old ancestors' accounts and count against the
    /// new ones' limits. O(1) for plain roots, O(depth) for accounted ones. A top root
    /// may be moved too, and becomes a sub-root.
    ///
    /// # Errors
    /// Gives the handle back, changing nothing, if `parent` belongs to another
    /// [`Linked`], if one of the two is accounted and the other is not, if the move
    /// would pass a limit of `parent` or of an ancestor of it, or if memory for a node
    /// record (a plain root has none until it first needs one) is exhausted; a node
    /// record made before that refusal stays, and goes with its root.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let inbox = heap.accounted_root(Layout::new::<u8>())?;
    /// let archive = heap.accounted_root(Layout::new::<u8>())?;
    /// let message = inbox.sub_root(Layout::new::<[u8; 512]>())?;
    /// let size = message.stats().unwrap().bytes_in_use;
    /// let inbox_before = inbox.stats().unwrap().bytes_in_use;
    /// let message = message.move_under(&archive).map_err(|_| linked_alloc::AllocError)?;
    /// assert_eq!(inbox.stats().unwrap().bytes_in_use, inbox_before - size);
    /// drop(inbox); // the message lives on, under the archive
    /// core::mem::forget(message); // freed with the archive
    /// drop(archive);
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn move_under<'p>(self, parent: &'p Root<'_, B>) -> Result<Root<'p, B>, Self> {
        // Both of one kind (checked before any node record is made).
        let accounted = self.accounted_node().is_some();
        if !ptr::eq(self.linked, parent.linked) || accounted != parent.accounted_node().is_some() {
            return Err(self);
        }
        let Ok(to) = parent.node() else {
            return Err(self);
        };
        let Ok(node) = self.node() else {
            return Err(self);
        };
        // SAFETY: `node` is this root's live node; taking `self` by value means no
        // handle below it is alive (each borrows its parent), so no one allocates in
        // its subtree or reads its parent link; `to` is live while `parent` is borrowed,
        // and is not in this subtree (its handle would borrow `self`); the old parent
        // (if any) is live, since this handle borrowed it until now.
        unsafe {
            let from = (*node).parent;
            if accounted {
                let c = Charge::subtree(node);
                if !from.is_null() {
                    uncharge(from, c);
                }
                if charge(to, c, false).is_err() {
                    if !from.is_null() {
                        // Restore what was taken: no limit is checked (it was there).
                        let _ = charge(from, c, true);
                    }
                    return Err(self);
                }
            }
            if !from.is_null() {
                super::unlink(from, node);
            }
            super::link(to, node);
        }
        let this = mem::ManuallyDrop::new(self);
        Ok(Root {
            linked: parent.linked,
            ptr: this.ptr,
            layout: this.layout,
            node: AtomicPtr::new(node),
            _owns: core::marker::PhantomData,
        })
    }
}
