//! [`Contender`]: what the workloads need from an allocator, and its implementation for
//! every [`Linked<B>`].

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use linked_alloc::{Linked, LinkedAllocator};

use super::footprint::{BackendFootprint, heap_in_use};

/// An allocation failed (a fixed pool may run out): the workload stopped, freed what
/// it had made, and has no figure for this contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

/// A body generic over an allocator-api2 0.2 allocator (workload 6 runs a `Vec` in it).
pub trait AllocUser {
    /// What the body gives back.
    type Output;
    /// Runs the body with `alloc`.
    fn run<A: Allocator>(self, alloc: A) -> Self::Output;
}

/// An allocator seen the MAPI way: roots, children linked to a root, one call that
/// frees a root with its children. Our backends are contenders through [`Linked<B>`],
/// the peers by a few lines each (`peers.rs`, `talloc.rs`).
pub trait Contender {
    /// A live root: what [`free`](Self::free) needs to free it with its children.
    type Root;

    /// The name in the tables (the backend's type name for `Linked<B>`).
    fn name(&self) -> String;

    /// A new root of `layout`, or `None` if memory is exhausted.
    fn root(&self, layout: Layout) -> Option<Self::Root>;

    /// The root's own block (`layout.size()` bytes of the `root` call).
    fn block(root: &Self::Root) -> NonNull<u8>;

    /// A new child of `layout`, linked to `root`.
    ///
    /// # Safety
    /// `root` was made by `self.root` and is live (not freed).
    unsafe fn child(&self, root: &mut Self::Root, layout: Layout) -> Option<NonNull<u8>>;

    /// Frees `root` and all its children.
    ///
    /// # Safety
    /// `root` was made by `self.root`; none of its blocks is used afterwards.
    unsafe fn free(&self, root: Self::Root);

    /// Runs `user` with an allocator whose blocks all go when it returns (a root for a
    /// linked allocator, an arena for bumpalo, the global heap for `malloc`).
    fn with_allocator<U: AllocUser>(&self, user: U) -> Option<U::Output>;

    /// The bytes this allocator holds from the system now, measured (see
    /// `footprint.rs`), or `None` if it cannot tell. By default the C heap's bytes in
    /// use: right for the peers that take their memory from `malloc` (`malloc` itself,
    /// bumpalo's chunks, talloc).
    fn footprint(&self) -> Option<usize> {
        heap_in_use()
    }
}

/// The last segment of a type's path, without generic arguments or `&`:
/// `&linked_alloc_pool::StaticPool<1024>` → `StaticPool`.
pub fn short_type_name<T: ?Sized>() -> String {
    let full = core::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let start = base.rfind("::").map_or(0, |i| i + 2);
    base[start..].trim_start_matches('&').to_owned()
}

impl<B: LinkedAllocator + BackendFootprint> Contender for Linked<B> {
    type Root = NonNull<u8>;

    fn name(&self) -> String {
        self.backend().name()
    }

    #[inline]
    fn root(&self, layout: Layout) -> Option<NonNull<u8>> {
        self.allocate_root(layout).ok()
    }

    #[inline]
    fn block(root: &NonNull<u8>) -> NonNull<u8> {
        *root
    }

    #[inline]
    unsafe fn child(&self, root: &mut NonNull<u8>, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: `root` is a live root of `self` (the caller's precondition).
        unsafe { self.allocate_child(*root, layout) }.ok()
    }

    #[inline]
    unsafe fn free(&self, root: NonNull<u8>) {
        // SAFETY: `root` is a live root of `self`, not used afterwards (precondition).
        unsafe { self.free_root(root) }
    }

    fn with_allocator<U: AllocUser>(&self, user: U) -> Option<U::Output> {
        // The RAII root (an inherent method, not `Contender::root`): dropped at the end.
        let root = Linked::root(self, Layout::new::<u64>()).ok()?;
        Some(user.run(&root))
    }

    fn footprint(&self) -> Option<usize> {
        self.backend().footprint()
    }
}

/// Something that runs a generic body on a contender: a workload, a bench group.
pub trait Visitor {
    /// Runs on `contender` (from [`for_each_contender`](super::for_each_contender)).
    fn visit<C: Contender>(&mut self, contender: &C);

    /// Runs on the global allocator `alloc` called `name` (from
    /// [`for_each_global`](super::global::for_each_global)). Does nothing by default.
    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, alloc: &G) {
        let _ = (name, alloc);
    }
}

/// Passes on to `inner` only the contenders whose name contains `name` (all for ""),
/// or, made by [`exact`](Self::exact), whose name is `name`.
#[derive(Debug)]
pub struct Only<'a, V> {
    name: &'a str,
    exact: bool,
    inner: &'a mut V,
}

impl<'a, V: Visitor> Only<'a, V> {
    /// A filter on a part of the name in front of `inner`.
    pub fn new(name: &'a str, inner: &'a mut V) -> Self {
        Self {
            name,
            exact: false,
            inner,
        }
    }

    /// A filter on the whole name in front of `inner`.
    pub fn exact(name: &'a str, inner: &'a mut V) -> Self {
        Self {
            name,
            exact: true,
            inner,
        }
    }
}

impl<V> Only<'_, V> {
    /// Whether `name` passes.
    fn passes(&self, name: &str) -> bool {
        if self.exact {
            name == self.name
        } else {
            name.contains(self.name)
        }
    }
}

impl<V: Visitor> Visitor for Only<'_, V> {
    fn visit<C: Contender>(&mut self, contender: &C) {
        if self.passes(&contender.name()) {
            self.inner.visit(contender);
        }
    }

    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, alloc: &G) {
        if self.passes(name) {
            self.inner.visit_global(name, alloc);
        }
    }
}
