//! What the roots of one allocator share, under one `spin` lock: the bounded cache of
//! free runs, and the list of live roots that `stats()` sums.

use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::Relaxed;

use linked_alloc::Stats;

use crate::run::{Mapping, RootState};

/// A list of mappings linked through [`Mapping::next`], owned by whoever holds it.
#[derive(Debug)]
pub(crate) struct MappingList {
    head: *mut Mapping,
    tail: *mut Mapping,
    len: usize,
}

impl MappingList {
    /// The empty list.
    pub(crate) const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    /// How many mappings the list holds.
    #[inline]
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Puts `m` at the front.
    ///
    /// # Safety
    /// `m` is a mapping header owned by the caller, on no other list, and no other
    /// thread reads its `next`.
    #[inline]
    pub(crate) unsafe fn push(&mut self, m: NonNull<Mapping>) {
        // SAFETY: the caller owns `m`, a written header.
        unsafe { m.as_ref() }.next.store(self.head, Relaxed);
        if self.head.is_null() {
            self.tail = m.as_ptr();
        }
        self.head = m.as_ptr();
        self.len += 1;
    }

    /// Takes the first mapping off.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<NonNull<Mapping>> {
        let m = NonNull::new(self.head)?;
        // SAFETY: every mapping on a list is a live header owned by the list's holder.
        self.head = unsafe { m.as_ref() }.next.load(Relaxed);
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(m)
    }

    /// Moves all of `other` to the front of `self`, in O(1).
    #[inline]
    pub(crate) fn splice(&mut self, other: MappingList) {
        let Some(other_tail) = NonNull::new(other.tail) else {
            return;
        };
        // SAFETY: `other_tail` is a live header of `other`, which we now own.
        unsafe { other_tail.as_ref() }
            .next
            .store(self.head, Relaxed);
        if self.head.is_null() {
            self.tail = other.tail;
        }
        self.head = other.head;
        self.len += other.len;
    }

    /// Splits off the first `n` mappings (`n <= len`), walking `n` links.
    #[inline]
    pub(crate) fn take_front(&mut self, n: usize) -> MappingList {
        if n >= self.len {
            return core::mem::replace(self, MappingList::new());
        }
        let mut front = MappingList::new();
        for _ in 0..n {
            let Some(m) = self.pop() else { break };
            // SAFETY: `m` was just taken off `self`, so we own it and it is on no list.
            unsafe { front.push_back(m) };
        }
        front
    }

    /// Puts `m` at the back.
    ///
    /// # Safety
    /// As [`push`](Self::push).
    #[inline]
    unsafe fn push_back(&mut self, m: NonNull<Mapping>) {
        // SAFETY: the caller owns `m`, a written header.
        unsafe { m.as_ref() }.next.store(ptr::null_mut(), Relaxed);
        match NonNull::new(self.tail) {
            // SAFETY: the tail is a live header on this list, which we own.
            Some(tail) => unsafe { tail.as_ref() }.next.store(m.as_ptr(), Relaxed),
            None => self.head = m.as_ptr(),
        }
        self.tail = m.as_ptr();
        self.len += 1;
    }
}

/// The cache of free runs and the list of live roots of one allocator.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Free standard runs, ready for a new root or a new run of a root.
    pub(crate) cache: MappingList,
    /// The live roots, doubly linked through [`RootState::live_prev`]/`live_next`.
    live: *mut RootState,
}

// SAFETY: `Shared` only holds pointers to mappings that the allocator owns; they are
// read and written only by the holder of the lock around `Shared` (the cache), or under
// that lock and through atomics (the live roots), so moving it between threads is fine.
unsafe impl Send for Shared {}

impl Shared {
    /// Nothing cached, no root live.
    pub(crate) const fn new() -> Self {
        Self {
            cache: MappingList::new(),
            live: ptr::null_mut(),
        }
    }

    /// Adds a root to the live list.
    ///
    /// # Safety
    /// `root` is a fresh, written [`RootState`] on no list.
    #[inline]
    pub(crate) unsafe fn link_live(&mut self, root: NonNull<RootState>) {
        // SAFETY: `root` is written (the caller's precondition), and the current head is
        // a live root, kept mapped while it is on the list.
        unsafe {
            let r = root.as_ref();
            r.live_prev.store(ptr::null_mut(), Relaxed);
            r.live_next.store(self.live, Relaxed);
            if let Some(head) = NonNull::new(self.live) {
                head.as_ref().live_prev.store(root.as_ptr(), Relaxed);
            }
        }
        self.live = root.as_ptr();
    }

    /// Takes a root off the live list.
    ///
    /// # Safety
    /// `root` is on this live list.
    #[inline]
    pub(crate) unsafe fn unlink_live(&mut self, root: NonNull<RootState>) {
        // SAFETY: `root` and its neighbours are on the list, so they are live and mapped.
        unsafe {
            let r = root.as_ref();
            let prev = r.live_prev.load(Relaxed);
            let next = r.live_next.load(Relaxed);
            match NonNull::new(prev) {
                Some(p) => p.as_ref().live_next.store(next, Relaxed),
                None => self.live = next,
            }
            if let Some(n) = NonNull::new(next) {
                n.as_ref().live_prev.store(prev, Relaxed);
            }
        }
    }

    /// Sums the counts of every live root: O(live roots).
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let mut current = self.live;
        while let Some(root) = NonNull::new(current) {
            // SAFETY: roots on the list are live and mapped until they are taken off it,
            // which needs the lock that our caller holds.
            let r = unsafe { root.as_ref() };
            stats.roots += 1;
            stats.children += r.children.load(Relaxed) + r.own.children.load(Relaxed);
            stats.bytes_in_use +=
                r.size.load(Relaxed) + r.child_bytes.load(Relaxed) + r.own.bytes.load(Relaxed);
            current = r.live_next.load(Relaxed);
        }
        stats
    }
}
