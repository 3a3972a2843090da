//! Nested roots, values with destructors, reset, accounting and limits, moves: for the
//! [`Root`] handle, and sub-roots on the raw layer too.
//!
//! # Design
//! A plain root (no sub-root, no value that needs `Drop`) costs nothing more than
//! before: the handle carries one extra word, a pointer to a **node record**, null
//! until the root first needs one, and dropping the handle tests it once. The
//! backends are unchanged. The raw layer ([`Linked::allocate_sub_root`],
//! [`Linked::free_root`]) finds the node of a root pointer in a table of the front end
//! (the backends keep no spare word per root); `free_root` looks there only while the
//! table has entries (see the source of `nested/raw.rs`).
//!
//! The node record of a top root is made lazily, as a **child of the root it
//! describes** (so it goes with that root's block), by the first [`Root::sub_root`] or
//! the first value whose type needs `Drop`. A sub-root's node is made with it, in the
//! same backend root, after the caller's bytes (one allocation per sub-root). It holds:
//! - the root's block (for freeing it from the node alone),
//! - a parent link, the head of an intrusive list of sub-roots and the sibling links
//!   (doubly linked, so a sub-root leaves its parent's list in O(1)),
//! - a lock-free stack of destructor records (each value that needs `Drop` is a child
//!   whose header says how to drop it), popped in reverse order of allocation.
//!
//! **Freeing a tree** uses constant stack whatever its depth or width: walk down the
//! first sub-root links to a node without sub-roots, drop its values, take it off its
//! parent's list, free its block, go back up by the parent link, and start again; stop
//! at the node the walk began with. A sub-root's values are thus dropped before its
//! parent's.
//!
//! **Concurrency.** `&Root` may be shared between threads (when the backend is
//! `Sync`): the node is installed by compare-and-swap (the loser gives its record back
//! where the backend can, else it goes with the root), destructor records are pushed by
//! compare-and-swap, and a spin lock per node guards its list of sub-roots (sub-roots of
//! one parent may be made and dropped from several threads at once). Freeing a tree
//! needs no lock below its top: the borrow checker ensures no handle of a descendant is
//! alive.
//!
//! **Panicking destructors.** Every destructor record is taken off its list before it
//! runs. If one panics, the tear-down goes on while the panic unwinds (the remaining
//! values are dropped, every block is freed), then the panic carries on to the caller.
//! A second panic during that unwinding aborts the process, as Rust does for any panic
//! in a destructor during unwinding.
//!
//! **Values must be `Send`.** A root may be dropped on another thread than the one that
//! allocated a value in it (a `Root` is `Send` and `Sync` when its backend is `Sync`),
//! so the values whose destructors it runs must be `Send`. They must also be `'static`:
//! a sub-root given up with `mem::forget` (which is safe) is dropped with its parent,
//! after any borrow the sub-root's handle had, so no shorter lifetime would be sound.
//! Borrowed data goes in with [`Root::alloc_slice_copy`] and [`Root::alloc_str`], which
//! have no destructor to run.
//!
//! **Raw pointers.** [`Root::into_raw`] of a root that has a node records the node in
//! the raw layer's table: [`Linked::free_root`] then frees its tree (values dropped),
//! at any time for a sub-root, and [`Root::from_raw`] takes the node back.
//!
//! **Moving.** [`Root::move_under`] takes a root (a sub-root, or a top root, which then
//! becomes a sub-root) with its whole subtree off its parent's list and puts it on
//! another root's, in O(1) (plus the accounting below).
//!
//! **Accounting and limits** are chosen per tree at the top root's creation
//! ([`Linked::accounted_root`]): see [`Root::stats`], [`Root::set_limit`] and the
//! design notes in the source of `nested/account.rs`. A plain root pays one load and
//! one test per child for their existence.
//!
//! # Not there yet
//! - Accounting switched on for a root after its creation: counting the blocks it
//!   already has needs a backend hook that walks them while no other thread allocates
//!   under the root, which `&Root` (shared between threads) cannot promise.
//!
//! [`Linked::free_root`]: crate::Linked::free_root
//! [`Linked::allocate_sub_root`]: crate::Linked::allocate_sub_root

use core::alloc::Layout;
use core::mem;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use crate::kit::atomic::{AtomicBool, AtomicPtr};

use crate::{AllocError, Linked, LinkedAllocator, Root};

mod account;
mod raw;
pub use account::NotAccounted;
pub(crate) use account::is_accounted;
use account::{Account, Charge};
pub(crate) use raw::RawNodes;

/// The node record of a root that has sub-roots or values with destructors; see the
/// [module docs](self). Every field but the atomics is read and written through raw
/// pointers only: `parent`, `first`, `prev`, `next` under the lock of the parent (or of
/// this node for `first`), or with the tree owned exclusively.
pub(crate) struct Node {
    /// The root block this node describes, as `allocate_root` returned it.
    block: NonNull<u8>,
    /// Guards `first` and the `prev`/`next` links of the nodes on that list.
    lock: AtomicBool,
    /// The node of the parent root, null for a top root.
    parent: *mut Node,
    /// The first sub-root of this root.
    first: *mut Node,
    /// Siblings on the parent's list.
    prev: *mut Node,
    next: *mut Node,
    /// The destructor records, newest first.
    drops: AtomicPtr<DropHeader>,
    /// The subtree's figures and limit, for an accounted root; set at creation.
    account: Option<Account>,
}

/// A node record for the root `block`, under `parent` (null for a top root), on no list
/// yet.
pub(crate) const fn new_node(
    block: NonNull<u8>,
    parent: *mut Node,
    account: Option<Account>,
) -> Node {
    Node {
        block,
        lock: AtomicBool::new(false),
        parent,
        first: ptr::null_mut(),
        prev: ptr::null_mut(),
        next: ptr::null_mut(),
        drops: AtomicPtr::new(ptr::null_mut()),
        account,
    }
}

/// Puts `node` first on the list of sub-roots of `parent`, and sets its parent link.
///
/// # Safety
/// Both are live nodes; `node` is on no list, and no one else reads its links now.
unsafe fn link(parent: *mut Node, node: *mut Node) {
    // SAFETY: the caller's precondition; `parent`'s lock guards its list.
    unsafe {
        let _guard = ListGuard::lock(parent);
        let first = (*parent).first;
        (*node).parent = parent;
        (*node).prev = ptr::null_mut();
        (*node).next = first;
        if !first.is_null() {
            (*first).prev = node;
        }
        (*parent).first = node;
    }
}

/// Takes `node` off the list of sub-roots of `parent` (its parent link stays).
///
/// # Safety
/// Both are live nodes; `node` is on `parent`'s list.
unsafe fn unlink(parent: *mut Node, node: *mut Node) {
    // SAFETY: the caller's precondition; `parent`'s lock guards its list.
    unsafe {
        let _guard = ListGuard::lock(parent);
        let (prev, next) = ((*node).prev, (*node).next);
        if prev.is_null() {
            (*parent).first = next;
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
    }
}

/// In front of every value (or slice of values) that needs `Drop`.
#[repr(C)]
pub(crate) struct DropHeader {
    next: *mut DropHeader,
    /// Drops the `len` values after the header.
    drop: unsafe fn(NonNull<DropHeader>, usize),
    len: usize,
}

/// Where the first value of type `T` lies after a [`DropHeader`].
const fn values_offset<T>() -> usize {
    let size = mem::size_of::<DropHeader>();
    let align = mem::align_of::<T>();
    (size + align - 1) & !(align - 1)
}

/// Drops the `len` values of type `T` after `header`.
///
/// # Safety
/// `header` heads a block made by [`Root::drop_block`] for `T` whose `len` values are
/// initialized, not dropped yet and used by no one afterwards.
unsafe fn drop_values<T>(header: NonNull<DropHeader>, len: usize) {
    // SAFETY: the block holds the header then `len` values of `T` at `values_offset`
    // (how `drop_block` laid it out), all initialized (the precondition).
    unsafe {
        let first = header
            .as_ptr()
            .cast::<u8>()
            .add(values_offset::<T>())
            .cast::<T>();
        ptr::drop_in_place(ptr::slice_from_raw_parts_mut(first, len));
    }
}

/// A spin lock on a node's list of sub-roots, released on drop.
struct ListGuard(*mut Node);

impl ListGuard {
    /// Locks the list of `node`.
    ///
    /// # Safety
    /// `node` is a live node record.
    unsafe fn lock(node: *mut Node) -> Self {
        // SAFETY: `node` is live (the precondition); the atomic field may be shared.
        let lock = unsafe { &(*node).lock };
        while lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        ListGuard(node)
    }
}

impl Drop for ListGuard {
    fn drop(&mut self) {
        // SAFETY: the node was live when locked and cannot go while its list is locked
        // (freeing it needs the tree owned exclusively).
        unsafe { (*self.0).lock.store(false, Ordering::Release) }
    }
}

/// Tears down the tree below (and with `free_top`, including) the node `top`; goes on
/// from where it stopped if dropped while a destructor panics. See the module docs.
struct Teardown<'l, B: LinkedAllocator> {
    linked: &'l Linked<B>,
    top: *mut Node,
    cur: *mut Node,
    done: bool,
}

impl<B: LinkedAllocator> Teardown<'_, B> {
    /// Runs the tear-down to its end.
    ///
    /// # Safety (of the construction, upheld by its callers)
    /// `top` is a live node of `linked`, off its parent's list, whose tree is owned
    /// exclusively; its block is freed by the caller after the tear-down.
    fn run(&mut self) {
        while !self.done {
            let cur = self.cur;
            // SAFETY: `cur` is `top` or a descendant reached by the walk, live until
            // its block is freed below, and the tree is owned exclusively (the
            // construction's precondition).
            unsafe {
                let first = (*cur).first;
                if !first.is_null() {
                    self.cur = first;
                    continue;
                }
                // No sub-roots left: drop the values, newest first; each record leaves
                // the list before it runs, so a panic does not run it twice.
                loop {
                    let header = (*cur).drops.load(Ordering::Acquire);
                    let Some(header) = NonNull::new(header) else {
                        break;
                    };
                    (*cur)
                        .drops
                        .store((*header.as_ptr()).next, Ordering::Relaxed);
                    let (drop, len) = ((*header.as_ptr()).drop, (*header.as_ptr()).len);
                    drop(header, len);
                }
                if cur == self.top {
                    self.done = true;
                    break;
                }
                // A leaf below `top`: it is the first of its parent's list.
                let parent = (*cur).parent;
                let next = (*cur).next;
                (*parent).first = next;
                if !next.is_null() {
                    (*next).prev = ptr::null_mut();
                }
                let block = (*cur).block;
                self.cur = parent;
                // The node is a child of `block`: it goes with it, read no more. Not
                // `Linked::free_root`, which would look for a tree to free again.
                self.linked.forget_raw_entry(block);
                self.linked.backend().free_root(block);
            }
        }
    }
}

impl<B: LinkedAllocator> Drop for Teardown<'_, B> {
    fn drop(&mut self) {
        // Only left unfinished while a destructor panics: finish during the unwinding.
        self.run();
    }
}

impl<'a, B: LinkedAllocator> Root<'a, B> {
    /// The node record of this root, made on first use; see the module docs.
    fn node(&self) -> Result<*mut Node, AllocError> {
        let node = self.node.load(Ordering::Acquire);
        if !node.is_null() {
            return Ok(node);
        }
        let fresh = self.allocate_child(Layout::new::<Node>())?.cast::<Node>();
        // SAFETY: `fresh` is a new child of `Node`'s layout, ours alone.
        unsafe {
            fresh
                .as_ptr()
                .write(new_node(self.ptr, ptr::null_mut(), None))
        };
        match self.node.compare_exchange(
            ptr::null_mut(),
            fresh.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(fresh.as_ptr()),
            Err(winner) => {
                // SAFETY: `fresh` is a live child of this root of `Node`'s layout that
                // nobody else saw; if the backend says no, it goes with the root.
                let _ = unsafe {
                    self.linked.backend().reclaim_child(
                        self.ptr,
                        fresh.cast(),
                        Layout::new::<Node>(),
                    )
                };
                Ok(winner)
            }
        }
    }

    /// Makes a **sub-root** of `layout` under this root: a root of its own (children,
    /// values, sub-roots of its own), freed when its handle drops, or with this root if
    /// this root goes first (a sub-root given up with [`into_raw`](Self::into_raw) or
    /// `mem::forget`). Trees of any depth are freed with constant stack; see
    /// the [`nested` design](crate::nested).
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted or the layout is too large; nothing is
    /// changed then.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let request = heap.root(Layout::new::<u64>())?;
    /// let scratch = request.sub_root(Layout::new::<u64>())?;
    /// scratch.alloc_str("temporary");
    /// drop(scratch); // its blocks go, the request's stay
    /// let kept = request.sub_root(Layout::new::<u8>())?;
    /// core::mem::forget(kept); // freed with its parent
    /// drop(request);
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn sub_root(&self, layout: Layout) -> Result<Root<'_, B>, AllocError> {
        let parent = self.node()?;
        // SAFETY: `parent` is this root's live node, which outlives the sub-root's
        // handle (it borrows `self`).
        unsafe { new_sub(self.linked, layout, parent) }
    }

    /// Frees this root with its tree; the handle's drop, for a root that has a node.
    pub(crate) fn free_tree(&mut self, node: *mut Node) {
        // SAFETY: `node` is this root's live node; `&mut self` means no handle of a
        // sub-root is alive (each borrows its parent), so the tree below is ours; the
        // parent (if any) outlives this handle.
        unsafe { free_node_tree(self.linked, node) }
    }

    /// A new block for `len` values of `T` that need `Drop`, after a [`DropHeader`];
    /// returns the header and the first value's place. The node is made first, so that
    /// the record can be registered once the values are written.
    fn drop_block<T>(
        &self,
        len: usize,
    ) -> Result<(*mut Node, NonNull<DropHeader>, *mut T), AllocError> {
        let node = self.node()?;
        let size = mem::size_of::<T>()
            .checked_mul(len)
            .and_then(|s| s.checked_add(values_offset::<T>()))
            .ok_or(AllocError)?;
        let align = mem::align_of::<T>().max(mem::align_of::<DropHeader>());
        let layout = Layout::from_size_align(size, align).map_err(|_| AllocError)?;
        let block = self.allocate_child(layout)?;
        let header = block.cast::<DropHeader>();
        // SAFETY: `block` has `size` bytes: the header, then `len` values at
        // `values_offset::<T>()` (a multiple of `T`'s alignment, `block` is aligned for
        // both).
        unsafe {
            header.as_ptr().write(DropHeader {
                next: ptr::null_mut(),
                drop: drop_values::<T>,
                len,
            });
            let values = block.as_ptr().add(values_offset::<T>()).cast::<T>();
            Ok((node, header, values))
        }
    }

    /// Registers a destructor record whose values are all written.
    ///
    /// # Safety
    /// `header` came from [`drop_block`](Self::drop_block) of this root, with `node`,
    /// and its values are initialized.
    unsafe fn register(&self, node: *mut Node, header: NonNull<DropHeader>) {
        // SAFETY: `node` is this root's live node (the precondition).
        let drops = unsafe { &(*node).drops };
        let mut head = drops.load(Ordering::Relaxed);
        loop {
            // SAFETY: `header` is ours until published by the exchange below.
            unsafe { (*header.as_ptr()).next = head };
            match drops.compare_exchange_weak(
                head,
                header.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Moves `value` into a new child of this root and returns it; a type that needs
    /// `Drop` is dropped when the root is freed or [reset](Self::reset), in reverse
    /// order of allocation.
    ///
    /// # Errors
    /// [`AllocError`] if memory is exhausted; `value` is dropped then.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let name = root.try_alloc(String::from("inbox"))?;
    /// name.push('!');
    /// assert_eq!(name, "inbox!");
    /// drop(root); // drops the `String`, frees its block
    /// assert!(heap.stats().is_empty());
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    ///
    /// The borrow checker refuses a value used after its root is dropped:
    ///
    /// ```compile_fail
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>()).unwrap();
    /// let name = root.try_alloc(String::from("inbox")).unwrap();
    /// drop(root); // error: `root` is borrowed by `name`
    /// name.push('!');
    /// ```
    ///
    /// and a value that borrows (its destructor would run after the borrow ends):
    ///
    /// ```compile_fail
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>()).unwrap();
    /// {
    ///     let s = String::from("short");
    ///     root.alloc(vec![&s]); // error: `s` does not live long enough
    /// }
    /// drop(root);
    /// ```
    // Each call hands out a new block, so `&mut` from `&self` is unique (as bumpalo).
    #[allow(clippy::mut_from_ref)]
    pub fn try_alloc<T: Send + 'static>(&self, value: T) -> Result<&mut T, AllocError> {
        if !mem::needs_drop::<T>() {
            let place = self.allocate_child(Layout::new::<T>())?.cast::<T>();
            // SAFETY: a fresh child of `T`'s layout, ours alone while `self` is
            // borrowed: it lives until the root is freed or reset (`&mut self`).
            unsafe {
                place.as_ptr().write(value);
                return Ok(&mut *place.as_ptr());
            }
        }
        let (node, header, place) = self.drop_block::<T>(1)?;
        // SAFETY: `place` is the value's place in a fresh block; written, then
        // registered (the precondition of `register`); the value lives until the root
        // is freed or reset, which needs the borrow of `self` to end.
        unsafe {
            place.write(value);
            self.register(node, header);
            Ok(&mut *place)
        }
    }

    /// [`try_alloc`](Self::try_alloc), which on exhaustion calls the allocation error
    /// handler (as `Box::new` does; a panic without the `alloc` feature).
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let list = root.alloc(vec![1, 2, 3]);
    /// list.push(4);
    /// assert_eq!(list.len(), 4);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn alloc<T: Send + 'static>(&self, value: T) -> &mut T {
        match self.try_alloc(value) {
            Ok(v) => v,
            Err(AllocError) => exhausted(Layout::new::<T>()),
        }
    }

    /// [`alloc`](Self::alloc) of the value that `f` makes.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let squares = root.alloc_with(|| [0u64, 1, 4, 9]);
    /// assert_eq!(squares[3], 9);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    pub fn alloc_with<T: Send + 'static, F: FnOnce() -> T>(&self, f: F) -> &mut T {
        self.alloc(f())
    }

    /// Copies `s` into a new child of this root.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let s = root.alloc_str("Subject");
    /// s.make_ascii_uppercase();
    /// assert_eq!(s, "SUBJECT");
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    // Each call hands out a new block, so `&mut` from `&self` is unique (as bumpalo).
    #[allow(clippy::mut_from_ref)]
    pub fn alloc_str(&self, s: &str) -> &mut str {
        let bytes = self.alloc_slice_copy(s.as_bytes());
        // SAFETY: the bytes are a copy of a `str`, so valid UTF-8.
        unsafe { core::str::from_utf8_unchecked_mut(bytes) }
    }

    /// Copies `src` into a new child of this root.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let v = root.alloc_slice_copy(&[3u32, 1, 2]);
    /// v.sort();
    /// assert_eq!(v, [1, 2, 3]);
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    // Each call hands out a new block, so `&mut` from `&self` is unique (as bumpalo).
    #[allow(clippy::mut_from_ref)]
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        let Ok(layout) = Layout::array::<T>(src.len()) else {
            exhausted(Layout::new::<T>())
        };
        let Ok(place) = self.allocate_child(layout) else {
            exhausted(layout)
        };
        let place = place.cast::<T>().as_ptr();
        // SAFETY: a fresh child of `src.len()` values of `T`, disjoint from `src`;
        // `T: Copy`, so a bitwise copy is a copy; it lives until the root is freed or
        // reset, which needs the borrow of `self` to end.
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), place, src.len());
            core::slice::from_raw_parts_mut(place, src.len())
        }
    }

    /// Clones `src` into a new child of this root; the clones are dropped with the root
    /// (if `T` needs `Drop`). If a `clone` panics, the clones made so far are dropped.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let root = heap.root(Layout::new::<u8>())?;
    /// let names = root.alloc_slice_clone(&[String::from("To"), String::from("Cc")]);
    /// names[1].push_str(": all");
    /// assert_eq!(names[1], "Cc: all");
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    // Each call hands out a new block, so `&mut` from `&self` is unique (as bumpalo).
    #[allow(clippy::mut_from_ref)]
    pub fn alloc_slice_clone<T: Clone + Send + 'static>(&self, src: &[T]) -> &mut [T] {
        if !mem::needs_drop::<T>() {
            let Ok(layout) = Layout::array::<T>(src.len()) else {
                exhausted(Layout::new::<T>())
            };
            let Ok(place) = self.allocate_child(layout) else {
                exhausted(layout)
            };
            let place = place.cast::<T>().as_ptr();
            for (i, v) in src.iter().enumerate() {
                // SAFETY: `i < src.len()`, within the fresh child.
                unsafe { place.add(i).write(v.clone()) };
            }
            // SAFETY: all `src.len()` values are written; it lives as in `try_alloc`.
            return unsafe { core::slice::from_raw_parts_mut(place, src.len()) };
        }
        let Ok((node, header, place)) = self.drop_block::<T>(src.len()) else {
            exhausted(Layout::new::<T>())
        };
        /// Drops the clones made so far if a `clone` panics.
        struct Partial<T>(*mut T, usize);
        impl<T> Drop for Partial<T> {
            fn drop(&mut self) {
                // SAFETY: the first `self.1` values are initialized and not registered.
                unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.0, self.1)) }
            }
        }
        let mut done = Partial(place, 0);
        for v in src {
            // SAFETY: `done.1 < src.len()`, within the block.
            unsafe { place.add(done.1).write(v.clone()) };
            done.1 += 1;
        }
        mem::forget(done);
        // SAFETY: every value is written; registered, then it lives as in `try_alloc`.
        unsafe {
            self.register(node, header);
            core::slice::from_raw_parts_mut(place, src.len())
        }
    }

    /// Drops every value of this root, frees its children and sub-roots, and leaves an
    /// empty root of the same layout whose bytes are those the root had. The root's
    /// block may move (read [`as_ptr`](Self::as_ptr) again): the backend contract frees
    /// children only with their root, so reset frees the old root and makes a new one
    /// (first the new one, then the old; if that fails, the old one first). The arena
    /// backends reuse the memory: a reset-and-refill loop does not grow. A sub-root
    /// stays under its parent.
    ///
    /// Calls the allocation error handler (as [`alloc`](Self::alloc)) only if no root
    /// of the layout can be made even after the old one is freed. A destructor that
    /// panics during the reset: the panic reaches the caller with the handle reset, as
    /// on drop, except when the old root had to be freed first (no room for two), where
    /// it aborts.
    ///
    /// ```
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut root = heap.root(Layout::new::<u64>())?;
    /// for round in 0..3 {
    ///     let line = root.alloc(format!("round {round}"));
    ///     assert!(line.starts_with("round"));
    ///     root.reset();
    ///     assert_eq!(heap.stats().children, 0);
    /// }
    /// # Ok::<(), linked_alloc::AllocError>(())
    /// ```
    ///
    /// The borrow checker refuses a value used after the reset:
    ///
    /// ```compile_fail
    /// # use core::alloc::Layout;
    /// # use linked_alloc::Linked;
    /// # use linked_alloc_system::SystemHeap;
    /// let heap = Linked::new(SystemHeap::new());
    /// let mut root = heap.root(Layout::new::<u64>()).unwrap();
    /// let n = root.alloc(1u32);
    /// root.reset();
    /// *n += 1; // error: `root` is borrowed by `n`
    /// ```
    pub fn reset(&mut self) {
        let node = *self.node.get_mut();
        let parent = if node.is_null() {
            ptr::null_mut()
        } else {
            // SAFETY: `node` is this root's live node, read by its owner.
            unsafe { (*node).parent }
        };
        // An accounted root stays accounted, with its limit and peak.
        let carried = self.carried_account();
        if let Ok(fresh) = self.fresh_like(parent, carried) {
            // SAFETY: both blocks are live roots of `self.layout.size()` bytes, distinct.
            unsafe {
                ptr::copy_nonoverlapping(self.ptr.as_ptr(), fresh.ptr.as_ptr(), self.layout.size())
            };
            drop(mem::replace(self, fresh));
            return;
        }
        // No room for both: free the old one first; its bytes are not kept then.
        let abort = AbortOnUnwind;
        // SAFETY: `self` is a live handle; it is dropped in place here and overwritten
        // below before any other use; a panic in between (a destructor, the error
        // handler) aborts (`abort`), so `self` is never dropped twice.
        unsafe { ptr::drop_in_place(self) };
        let fresh = match self.fresh_like(parent, carried) {
            Ok(fresh) => fresh,
            Err(AllocError) => exhausted(self.layout),
        };
        // SAFETY: `self` was dropped in place above; this write does not drop it again.
        unsafe { ptr::write(self, fresh) };
        mem::forget(abort);
    }

    /// A new empty root of this root's layout, a sub-root of `parent` if not null;
    /// accounted with the limit and peak `carried` if this root was accounted.
    fn fresh_like(
        &self,
        parent: *mut Node,
        carried: Option<account::Carried>,
    ) -> Result<Root<'a, B>, AllocError> {
        let fresh = if !parent.is_null() {
            // SAFETY: `parent` is the live node of this root's parent, which outlives
            // this handle (and is accounted if this root was).
            unsafe { new_sub(self.linked, self.layout, parent)? }
        } else if carried.is_some() {
            self.linked.accounted_root(self.layout)?
        } else {
            self.linked.root(self.layout)?
        };
        if let Some(carried) = carried {
            fresh.carry_account(carried);
        }
        Ok(fresh)
    }
}

/// Makes a sub-root of `layout` under the node `parent`: one backend root holds the
/// caller's `layout.size()` bytes, then the sub-root's node (no second allocation). Under
/// an accounted parent the sub-root is accounted, and charged first (a limit may
/// refuse it).
///
/// # Safety
/// `parent` is a live node of `linked`, which outlives the new handle.
unsafe fn new_sub<B: LinkedAllocator>(
    linked: &Linked<B>,
    layout: Layout,
    parent: *mut Node,
) -> Result<Root<'_, B>, AllocError> {
    let (whole, at) = layout
        .extend(Layout::new::<Node>())
        .map_err(|_| AllocError)?;
    // SAFETY: `parent` is live (the precondition).
    let accounted = unsafe { account::is_accounted(parent) };
    let c = Charge {
        roots: 1,
        children: 0,
        bytes: whole.size(),
    };
    if accounted {
        // SAFETY: `parent` is a live accounted node, pinned with its ancestors by the
        // handle chain (the precondition).
        unsafe { account::charge(parent, c, false)? };
    }
    let block = match linked.allocate_root(whole) {
        Ok(block) => block,
        Err(e) => {
            if accounted {
                // SAFETY: charged just above, to the same chain; the root was not made.
                unsafe { account::uncharge_unused(parent, c) };
            }
            return Err(e);
        }
    };
    let account = accounted.then(|| Account::new(0, whole.size()));
    // SAFETY: `block` is a fresh root of `whole`, whose bytes from `at` on hold a
    // `Node`, aligned (`Layout::extend`); `parent` is live (the precondition); the new
    // node is on no list yet.
    unsafe {
        let node = block.as_ptr().add(at).cast::<Node>();
        node.write(new_node(block, parent, account));
        link(parent, node);
        Ok(Root {
            linked,
            ptr: block,
            layout,
            node: AtomicPtr::new(node),
            _owns: core::marker::PhantomData,
        })
    }
}

/// Frees the root of `node` with its whole tree: takes it off its parent's list (and
/// its figures off its ancestors'), drops the values, frees every sub-root, then the
/// root; constant stack. See the module docs.
///
/// # Safety
/// `node` is a live node of `linked` whose root is given up by its owner (a dropped
/// handle, or `free_root` of a raw root); no handle of a node below it is alive; its
/// parent (if any) is live.
pub(crate) unsafe fn free_node_tree<B: LinkedAllocator>(linked: &Linked<B>, node: *mut Node) {
    // SAFETY: the caller's precondition; the parent's lock guards its list.
    let block = unsafe {
        let parent = (*node).parent;
        if !parent.is_null() {
            unlink(parent, node);
            if account::is_accounted(node) {
                account::uncharge_subtree(node);
            }
        }
        (*node).block
    };
    let free_top = FreeOnDrop(linked, block);
    let mut teardown = Teardown {
        linked,
        top: node,
        cur: node,
        done: false,
    };
    // Runs the destructors and frees every sub-root; a panic goes on in its drop, then
    // the top block goes (locals drop in reverse order).
    teardown.run();
    drop(teardown);
    drop(free_top);
}

/// Frees a root block on drop (also while unwinding from a destructor).
struct FreeOnDrop<'l, B: LinkedAllocator>(&'l Linked<B>, NonNull<u8>);

impl<B: LinkedAllocator> Drop for FreeOnDrop<'_, B> {
    fn drop(&mut self) {
        // SAFETY: built by `free_node_tree` for the live root it frees, after its tree
        // below is torn down (the tear-down drops before this).
        unsafe {
            self.0.forget_raw_entry(self.1);
            self.0.backend().free_root(self.1);
        }
    }
}

/// Turns a panic into an abort while a handle is dropped in place by
/// [`Root::reset`] (dropped only while unwinding; forgotten on the normal path).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    #[cold]
    fn drop(&mut self) {
        panic!("linked-alloc: a panic while `Root::reset` had freed the root; aborting");
    }
}

/// The allocation error handler for `layout` (a panic without `alloc`).
#[cold]
fn exhausted(layout: Layout) -> ! {
    #[cfg(feature = "alloc")]
    {
        alloc::alloc::handle_alloc_error(layout)
    }
    #[cfg(not(feature = "alloc"))]
    {
        panic!("linked-alloc: memory exhausted for {layout:?}")
    }
}
