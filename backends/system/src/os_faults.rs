//! System-heap failures inside the backend: the k-th `System.alloc` or `System.realloc`
//! refused, for every k along a workload that makes every shape of block (roots,
//! children, children of children, big and over-aligned blocks; each is one `System`
//! allocation) and moves roots with `realloc`, with the
//! checks of `linked_alloc_testkit::os_faults` (the failure reaches the caller, a failed
//! call changes nothing, nothing leaks or is corrupted, the allocator stays usable). What
//! the OS has given is the count of `System` allocations live.

use linked_alloc_testkit::os_fault::{self, Mode};
use linked_alloc_testkit::os_faults::{OsFaultSubject, Work, refuse_each_request};

use crate::SystemHeap;

/// The largest alignment the workload asks for: the heap has no limit of its own, and
/// 64 KiB is the most the fuzz targets ask.
const MAX_ALIGN: usize = 64 << 10;

/// A big block (in a `malloc` of its own mapping natively): 1 MiB, 128 KiB under Miri.
const BIG: usize = if cfg!(miri) { 128 << 10 } else { 1 << 20 };

impl OsFaultSubject for SystemHeap {
    /// `System` allocations live.
    type OsSide = usize;

    const MIN_REQUESTS: usize = 80;

    fn os_side(&self) -> usize {
        os_fault::live()
    }

    /// Makes every shape of block, moves roots with `realloc`, and has the first root
    /// freed in the middle.
    fn shapes<'a>(&'a self, w: &mut Work<'a, Self>) -> Vec<usize> {
        let a = w.root(40, 8);
        w.children(a, 40);
        // Over-aligned children, up to the most, and a big child.
        for align in [1024, 1024, 4096, MAX_ALIGN] {
            w.child(a, 0, 100, align);
        }
        w.child(a, 0, BIG, 8);
        // A big root with a child, a root aligned to the most with an over-aligned
        // child, and zero-size blocks.
        let b = w.root(BIG, 16);
        w.child(b, 0, 300, 16);
        let c = w.root(8, MAX_ALIGN);
        w.child(c, 0, 5000, 4096);
        let d = w.root(0, 1);
        w.child(d, 0, 0, 1);
        // Roots moved by `realloc`: grown, grown big, shrunk; over-aligned; with
        // children (declined, no request).
        let f = w.root(24, 8);
        for size in [40, 5000, BIG * 2, 100] {
            w.reallocate(f, size);
        }
        let g = w.root(100, 4096);
        w.reallocate(g, 9000);
        w.reallocate(b, BIG * 2);
        w.reallocate(d, 64);
        a.into_iter().collect()
    }

    /// No `System` allocation left behind.
    #[track_caller]
    fn assert_os_back(&self, os_base: usize, when: &str) {
        let live = os_fault::live();
        assert_eq!(
            live, os_base,
            "{when}: a System allocation leaked (live, before)"
        );
    }
}

#[test]
fn system_alloc_refused_once_at_each_request() {
    refuse_each_request(Mode::Once, "system heap", SystemHeap::new);
}

#[test]
fn system_alloc_refused_from_then_on_at_each_request() {
    refuse_each_request(Mode::FromThenOn, "system heap", SystemHeap::new);
}
