//! Sub-roots on the raw (MAPI-style) layer: [`Linked::allocate_sub_root`], and
//! [`Linked::free_root`] of a root that has sub-roots.
//!
//! # Design
//! The backends keep no spare word per root, so the raw layer finds the node record of
//! a root pointer in a **table** of the front end: an open-addressing hash table (root
//! address → node), under a spin lock, whose slots live in one root block of the
//! backend (made on the first entry, doubled as it fills, freed when the last entry
//! goes, so `stats()` counts it as one more root while raw nodes live). Entries are the
//! raw roots that have sub-roots (their node is made as a child of the root, as for a
//! handle), the raw sub-roots, and the roots given up by [`Root::into_raw`] that carry
//! a node. [`Root::from_raw`] takes the entry back.
//!
//! A [`Linked::free_root`] while the table is empty costs one relaxed load more; while
//! it is not, a lookup under the lock. `GlobalAlloc` blocks never go through it.

use core::alloc::Layout;
use core::fmt;
use core::mem::{self, ManuallyDrop};
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::kit::atomic::{AtomicBool, AtomicUsize};

use super::{Node, free_node_tree, new_node, new_sub};
use crate::{AllocError, Linked, LinkedAllocator, Root};

/// A slot of the table: a root's address (0: empty, 1: deleted) and its node.
#[derive(Clone, Copy)]
struct Slot {
    key: usize,
    node: *mut Node,
}

const EMPTY: usize = 0;
const DELETED: usize = 1;
/// The first capacity (slots); a power of two.
const FIRST: usize = 16;

/// The table's slots and counts; read and written under [`RawNodes::lock`] only.
struct Table {
    slots: *mut Slot,
    cap: usize,
    /// Live entries.
    len: usize,
    /// Live and deleted entries (the probe chains' length bound).
    used: usize,
}

/// The raw layer's table of nodes; see the [module docs](self).
pub(crate) struct RawNodes {
    /// Live entries, read without the lock by `free_root` (0: no lookup).
    len: AtomicUsize,
    lock: AtomicBool,
    table: core::cell::UnsafeCell<Table>,
    /// [`Linked::free_root`]'s way into the table, set (once, under the lock, before
    /// `len` is first raised) by the calls that make entries: a program that makes none
    /// does not link the tear-down code into its `free_root` (firmware size).
    free_hook: core::cell::UnsafeCell<Option<FreeHook>>,
}

/// `free_raw_tree` of a `Linked<B>`, type-erased: the front end as `*const ()`.
type FreeHook = unsafe fn(*const (), NonNull<u8>) -> bool;

// SAFETY: the table (raw pointers into a root block of the backend, and node pointers)
// is only reached under `lock`; the nodes it points to are shared by the front end's
// rules (see the `nested` module).
unsafe impl Send for RawNodes {}
// SAFETY: as above: every access to `table` holds `lock`.
unsafe impl Sync for RawNodes {}

// The table is consistent whenever its lock is free (no code under the lock panics
// halfway through a change, and the guard unlocks on unwinding), so a `&Linked` may
// cross `catch_unwind` as it did before the table existed.
impl core::panic::RefUnwindSafe for RawNodes {}

impl fmt::Debug for RawNodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawNodes")
            .field("len", &self.len.load(Relaxed))
            .finish()
    }
}

impl Default for RawNodes {
    fn default() -> Self {
        Self::new()
    }
}

/// The table locked; unlocks on drop.
struct Locked<'t>(&'t RawNodes);

impl RawNodes {
    /// An empty table (no memory).
    pub(crate) const fn new() -> Self {
        RawNodes {
            len: AtomicUsize::new(0),
            lock: AtomicBool::new(false),
            table: core::cell::UnsafeCell::new(Table {
                slots: ptr::null_mut(),
                cap: 0,
                len: 0,
                used: 0,
            }),
            free_hook: core::cell::UnsafeCell::new(None),
        }
    }

    /// The hook of [`Linked::free_root`], if the table has entries.
    #[inline]
    pub(crate) fn free_hook(&self) -> Option<FreeHook> {
        if !self.in_use() {
            return None;
        }
        // SAFETY: `len` was raised (release) after the hook was written, and the hook
        // is written only once, while it is `None`; this load of `len` (acquire) saw a
        // raised value, so the write happened before this read and no write follows.
        unsafe { *self.free_hook.get() }
    }

    /// Whether the table has entries (a hint: exact while no other thread changes it).
    #[inline]
    pub(crate) fn in_use(&self) -> bool {
        self.len.load(Acquire) != 0
    }

    fn lock(&self) -> Locked<'_> {
        while self
            .lock
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        Locked(self)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.0.lock.store(false, Release);
    }
}

impl Locked<'_> {
    /// Sets the hook of `free_root` for a front end over `B`, if not set yet.
    fn set_free_hook<B: LinkedAllocator>(&mut self) {
        // SAFETY: written under the lock, only while `None` (no reader reads it then:
        // `len` has never been raised), before `insert` raises `len` (release).
        unsafe {
            let hook = &mut *self.0.free_hook.get();
            if hook.is_none() {
                *hook = Some(free_raw_tree_erased::<B>);
            }
        }
    }

    fn table(&mut self) -> &mut Table {
        // SAFETY: the lock is held (this guard), so this is the only access.
        unsafe { &mut *self.0.table.get() }
    }

    /// The slot index of `key`, if present.
    fn find(&mut self, key: usize) -> Option<usize> {
        let t = self.table();
        if t.cap == 0 {
            return None;
        }
        let mut i = hash(key) & (t.cap - 1);
        loop {
            // SAFETY: `i < cap`, and the slots are `cap` initialized `Slot`s.
            let slot = unsafe { *t.slots.add(i) };
            if slot.key == key {
                return Some(i);
            }
            if slot.key == EMPTY {
                return None;
            }
            i = (i + 1) & (t.cap - 1);
        }
    }

    /// Takes the entry of `key` out, if present.
    fn take(&mut self, key: usize) -> Option<*mut Node> {
        let i = self.find(key)?;
        let t = self.table();
        // SAFETY: `i < cap` (found).
        let node = unsafe {
            let slot = &mut *t.slots.add(i);
            slot.key = DELETED;
            slot.node
        };
        t.len -= 1;
        let len = t.len;
        self.0.len.store(len, Release);
        Some(node)
    }

    /// Inserts `key → node` (`key` not present), growing the table if needed.
    fn insert<B: LinkedAllocator>(
        &mut self,
        backend: &B,
        key: usize,
        node: *mut Node,
    ) -> Result<(), AllocError> {
        let (used, cap) = (self.table().used, self.table().cap);
        if (used + 1) * 2 > cap {
            self.rebuild(backend, if cap == 0 { FIRST } else { cap * 2 })?;
        }
        let t = self.table();
        let mut i = hash(key) & (t.cap - 1);
        loop {
            // SAFETY: `i < cap`; the slots are `cap` initialized `Slot`s.
            let slot = unsafe { &mut *t.slots.add(i) };
            if slot.key == EMPTY || slot.key == DELETED {
                if slot.key == EMPTY {
                    t.used += 1;
                }
                *slot = Slot { key, node };
                t.len += 1;
                let len = t.len;
                self.0.len.store(len, Release);
                return Ok(());
            }
            i = (i + 1) & (t.cap - 1);
        }
    }

    /// Moves the live entries into new slots of `cap` (a power of two, 0 to free them).
    fn rebuild<B: LinkedAllocator>(&mut self, backend: &B, cap: usize) -> Result<(), AllocError> {
        let fresh = if cap == 0 {
            ptr::null_mut()
        } else {
            let layout = Layout::array::<Slot>(cap).map_err(|_| AllocError)?;
            let block = backend.allocate_root(layout)?.cast::<Slot>().as_ptr();
            for i in 0..cap {
                // SAFETY: `block` holds `cap` slots (its layout).
                unsafe {
                    block.add(i).write(Slot {
                        key: EMPTY,
                        node: ptr::null_mut(),
                    })
                };
            }
            block
        };
        let old = mem::replace(
            self.table(),
            Table {
                slots: fresh,
                cap,
                len: 0,
                used: 0,
            },
        );
        for i in 0..old.cap {
            // SAFETY: `i < old.cap`: the old slots are live until freed below.
            let slot = unsafe { *old.slots.add(i) };
            if slot.key > DELETED {
                let t = self.table();
                let mut j = hash(slot.key) & (t.cap - 1);
                // SAFETY: the new table has room (`cap` > twice the live entries) and
                // `j < cap`.
                unsafe {
                    while (*t.slots.add(j)).key != EMPTY {
                        j = (j + 1) & (t.cap - 1);
                    }
                    t.slots.add(j).write(slot);
                }
                t.len += 1;
                t.used += 1;
            }
        }
        if let Some(old) = NonNull::new(old.slots) {
            // SAFETY: the old slots are a live root of `backend` made above in an earlier
            // call, used no more.
            unsafe { backend.free_root(old.cast()) };
        }
        Ok(())
    }

    /// Frees the slots if the table is empty.
    fn shrink_if_empty<B: LinkedAllocator>(&mut self, backend: &B) {
        if self.table().len == 0 && self.table().cap != 0 {
            // Freeing needs no memory: cannot fail.
            let _ = self.rebuild(backend, 0);
        }
    }
}

/// [`Linked::free_raw_tree`] for a `Linked<B>` behind `linked`.
///
/// # Safety
/// `linked` points to a live `Linked<B>`; `root` as `free_raw_tree` wants it.
unsafe fn free_raw_tree_erased<B: LinkedAllocator>(linked: *const (), root: NonNull<u8>) -> bool {
    // SAFETY: the caller's precondition (the hook was set by a `Linked<B>` for itself).
    unsafe { (*linked.cast::<Linked<B>>()).free_raw_tree(root) }
}

/// Fibonacci hashing of an address (its low bits are alignment zeroes).
#[inline]
fn hash(key: usize) -> usize {
    (key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) ^ (key >> 4).rotate_right(16)
}

impl<B: LinkedAllocator> Linked<B> {
    /// Makes a **sub-root** of `layout` under the live root `parent` on the raw layer:
    /// a root of its own (children with [`allocate_child`](Self::allocate_child),
    /// sub-roots with this call), freed by [`free_root`](Self::free_root) at any time,
    /// or with `parent` by `free_root(parent)` if still live then, at any depth with
    /// constant stack. What [`Root::sub_root`] does for handles; see the
    /// [`nested` design](crate::nested).
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted (for the block, the parent's node record or
    /// the table) or the layout is too large; nothing is changed then, but a node record
    /// made for `parent` stays (it goes with `parent`).
    ///
    /// # Safety
    /// `parent` is a live root of this front end, as [`allocate_root`](Self::allocate_root),
    /// [`allocate_buffer`](Self::allocate_buffer), this call or [`Root::into_raw`] returned
    /// it, owned by no live [`Root`] handle; no other thread frees it during the call.
    /// The sub-root is freed by `free_root` (or `free_buffer`, or with its parent), never
    /// by `GlobalAlloc::dealloc` or `realloc`, which take only blocks of `alloc`.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let message = heap.allocate_buffer(64)?;
    /// // SAFETY: `message` is a live raw root of `heap`; so is each sub-root.
    /// unsafe {
    ///     let body = heap.allocate_sub_root(message, Layout::new::<[u8; 256]>())?;
    ///     heap.allocate_more(32, body)?;
    ///     let attachment = heap.allocate_sub_root(message, Layout::new::<[u8; 1024]>())?;
    ///     heap.free_root(attachment); // on its own...
    ///     heap.free_buffer(message); // ...or with its parent: `body` goes here
    /// }
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub unsafe fn allocate_sub_root(
        &self,
        parent: NonNull<u8>,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        let mut table = self.nodes.lock();
        table.set_free_hook::<B>();
        let key = parent.as_ptr().addr();
        let pnode = match table.find(key) {
            // SAFETY: `i` was found, so it is below the capacity.
            Some(i) => unsafe { (*table.table().slots.add(i)).node },
            None => {
                // SAFETY: `parent` is a live root (the precondition).
                let fresh =
                    unsafe { self.allocate_child(parent, Layout::new::<Node>())? }.cast::<Node>();
                // SAFETY: a fresh child of `Node`'s layout, ours alone.
                unsafe {
                    fresh
                        .as_ptr()
                        .write(new_node(parent, ptr::null_mut(), None))
                };
                // On failure the record stays a child of `parent` and goes with it.
                table.insert(self.backend(), key, fresh.as_ptr())?;
                fresh.as_ptr()
            }
        };
        // SAFETY: `pnode` is the live node of `parent`, live until `parent` is freed,
        // which the caller does not do during this call; the new handle is given up
        // below (it does not outlive anything).
        let sub = ManuallyDrop::new(unsafe { new_sub(self, layout, pnode)? });
        let node = sub.node.load(Relaxed);
        if let Err(e) = table.insert(self.backend(), sub.ptr.as_ptr().addr(), node) {
            // Unlock first: dropping the handle frees through `free_root`.
            drop(table);
            drop(ManuallyDrop::into_inner(sub));
            return Err(e);
        }
        Ok(sub.ptr)
    }

    /// Frees `root` and its tree if the table knows it: returns `false` if it does not.
    ///
    /// # Safety
    /// `root` is a live root of this front end that no handle owns, not used afterwards.
    unsafe fn free_raw_tree(&self, root: NonNull<u8>) -> bool {
        let node = {
            let mut table = self.nodes.lock();
            let Some(node) = table.take(root.as_ptr().addr()) else {
                return false;
            };
            table.shrink_if_empty(self.backend());
            node
        };
        // SAFETY: `node` is the live node of `root`, which the caller gives up; no
        // handle of a descendant is alive (raw sub-roots have none; a handle of a
        // sub-root would borrow a handle of `root`, which has none).
        unsafe { free_node_tree(self, node) };
        true
    }

    /// Forgets the table's entry of `block` (freed by a tear-down), if any.
    pub(crate) fn forget_raw_entry(&self, block: NonNull<u8>) {
        if self.nodes.in_use() {
            let mut table = self.nodes.lock();
            if table.take(block.as_ptr().addr()).is_some() {
                table.shrink_if_empty(self.backend());
            }
        }
    }

    /// Records `root → node` for a handle given up by [`Root::into_raw`]; `false` if the
    /// table could not grow.
    pub(crate) fn register_raw(&self, root: NonNull<u8>, node: *mut Node) -> bool {
        let mut table = self.nodes.lock();
        table.set_free_hook::<B>();
        table
            .insert(self.backend(), root.as_ptr().addr(), node)
            .is_ok()
    }

    /// Takes the table's entry of `root` back for [`Root::from_raw`]: its node, or null.
    pub(crate) fn take_raw_entry(&self, root: NonNull<u8>) -> *mut Node {
        if !self.nodes.in_use() {
            return ptr::null_mut();
        }
        let mut table = self.nodes.lock();
        let node = table.take(root.as_ptr().addr()).unwrap_or(ptr::null_mut());
        table.shrink_if_empty(self.backend());
        node
    }
}

impl<B: LinkedAllocator> Root<'_, B> {
    /// The node of this handle, for `into_raw`.
    pub(crate) fn node_ptr(&self) -> *mut Node {
        self.node.load(Acquire)
    }
}
