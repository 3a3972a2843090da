//! OS failures inside the backend, with the checks of `linked_alloc_testkit::os_faults`
//! (the failure reaches the caller, a failed call changes nothing, nothing leaks or is
//! corrupted, the allocator stays usable): the k-th `mmap` refused, for every k along a
//! workload that maps every way `MmapPages` does (its own state and the thread's heap,
//! segments for small blocks and spans, huge blocks in mappings of their own, the cache
//! in between), with a cache limit of 0 and of 2 segments. A refused mapping for the
//! thread's heap is absorbed (the allocator's fallback heap serves the call), so
//! [`Mode::Once`] gives at most one error. What the OS has given is the bytes mapped for
//! blocks (as `os` counts them, less the allocator's bookkeeping; `bytes_mapped()`;
//! `bytes_cached()`).
//!
//! Then `munmap` refused, as the kernel does once the process holds `vm.max_map_count`
//! areas: the memory stays mapped and counted, is reused, and goes back later.

use core::alloc::Layout;

use linked_alloc::LinkedAllocator;
use linked_alloc_testkit::os_faults::{OsFaultSubject, Work, refuse_each_request};

use crate::MmapPages;
use crate::os::fault::{self, Mode};
use crate::roots::BIG_CHILD;
use crate::segment::{PAGE_SIZE, SEGMENT_SIZE};

impl OsFaultSubject for MmapPages {
    /// Bytes mapped for blocks as `os` counts them, `bytes_mapped()`, `bytes_cached()`.
    type OsSide = (usize, usize, usize);

    const MIN_REQUESTS: usize = 5;
    const MAY_ABSORB: bool = true;

    fn os_side(&self) -> Self::OsSide {
        (
            fault::live() - self.bytes_metadata(),
            self.bytes_mapped(),
            self.bytes_cached(),
        )
    }

    /// Maps every way `MmapPages` does (small blocks, chunks of children that double,
    /// big children and span roots in pages of a segment, huge blocks in mappings of
    /// their own) and grows blocks in place where that is certain to work. The first
    /// roots are freed then: their pages go back, segments to the cache (up to the
    /// limit), and the workload's next root and its chunks come from what is mapped.
    fn shapes<'a>(&'a self, w: &mut Work<'a, Self>) -> Vec<usize> {
        let max_align = self.max_align();
        let huge = SEGMENT_SIZE / 2 + PAGE_SIZE;
        let span = PAGE_SIZE * 3;
        // A small root, grown within its block (40 bytes and the header take 64).
        let a = w.root(40, 8);
        if let Some(a) = a {
            w.grow(a, 0, 48);
        }
        // Children filling several chunks.
        w.children(a, 60);
        // Over-aligned children, up to the most of all.
        for _ in 0..3 {
            w.child(a, 0, 100, 1024);
        }
        w.child(a, 0, 10, max_align);
        // A big child (a block of its own, in pages of a segment) and a huge one.
        w.child(a, 0, BIG_CHILD + 1, 8);
        w.child(a, 0, huge, 8);
        // A span root, grown within its pages, then a child: its first chunk.
        let b = w.root(span - 100, 16);
        if let Some(b) = b {
            w.grow(b, 0, span - 16);
        }
        w.child(b, 0, 300, 16);
        // A huge root, grown within its mapping.
        let h = w.root(huge, 16);
        if let Some(h) = h {
            w.grow(h, 0, huge + 100);
        }
        // A root aligned to the most, and a child aligned to a page.
        let c = w.root(8, max_align);
        w.child(c, 0, 5000, 4096);
        // A zero-size root whose first child grows while it is the last of its lane.
        let d = w.root(0, 1);
        if let (Some(d), Some(y)) = (d, w.child(d, 0, 64, 8)) {
            w.grow(d, y, 200);
        }
        [a, h].into_iter().flatten().collect()
    }

    /// The cache within its limit; what `os` saw mapped since `os_base` is what the
    /// allocator counts; once the cache is trimmed, nothing is mapped for blocks.
    #[track_caller]
    fn assert_os_back(&self, os_base: usize, when: &str) {
        assert!(self.bytes_cached() <= self.cache_limit() * MmapPages::SEGMENT_MAPPED);
        assert_eq!(
            fault::live().wrapping_sub(os_base),
            self.bytes_mapped() + self.bytes_metadata(),
            "{when}: the OS and the allocator disagree"
        );
        self.trim_cache();
        assert_eq!(self.bytes_mapped(), 0, "{when}: a mapping leaked");
        assert_eq!(
            fault::live().wrapping_sub(os_base),
            self.bytes_metadata(),
            "{when}: the OS and the allocator disagree after trimming"
        );
    }
}

fn each_cache_limit(mode: Mode) {
    for limit in [0, 2] {
        refuse_each_request(mode, &format!("cache limit {limit}"), || {
            MmapPages::new().with_cache_limit(limit)
        });
    }
}

#[test]
fn mmap_refused_once_at_each_request() {
    each_cache_limit(Mode::Once);
}

#[test]
fn mmap_refused_from_then_on_at_each_request() {
    each_cache_limit(Mode::FromThenOn);
}

#[test]
fn a_refused_munmap_keeps_the_memory_counted_and_reused() {
    let os_base = fault::live();
    let pages = MmapPages::new().with_cache_limit(0);
    let huge = SEGMENT_SIZE / 2 + PAGE_SIZE;
    let big = Layout::from_size_align(SEGMENT_SIZE / 2 - PAGE_SIZE, 8).unwrap();
    // Three segments: freeing the third one's root empties it, and with no cache it
    // would be unmapped, but the OS refuses, as it does the huge block's unmap.
    let a = pages.allocate_root(big).unwrap();
    let b = pages.allocate_root(big).unwrap();
    let c = pages.allocate_root(big).unwrap();
    let h = pages
        .allocate_root(Layout::from_size_align(huge, 8).unwrap())
        .unwrap();
    let mapped = pages.bytes_mapped();
    fault::refuse_unmaps(2);
    // SAFETY: live roots, not used afterwards.
    unsafe {
        pages.free_root(c);
        pages.free_root(h);
    }
    assert_eq!(pages.unmap_failures(), 2);
    assert_eq!(
        pages.bytes_mapped(),
        mapped,
        "the refused mappings stay counted"
    );
    assert!(pages.bytes_cached() >= SEGMENT_SIZE + huge);
    assert_eq!(
        fault::live() - os_base,
        pages.bytes_mapped() + pages.bytes_metadata()
    );
    // The kept segment serves the next request: no new mapping.
    let requests = fault::requests();
    let d = pages.allocate_root(big).unwrap();
    assert_eq!(fault::requests(), requests, "reused, not mapped again");
    // SAFETY: live roots, not used afterwards.
    unsafe {
        pages.free_root(a);
        pages.free_root(b);
        pages.free_root(d);
    }
    // Trimming tries again, and this time the OS takes everything back.
    pages.trim_cache();
    assert_eq!((pages.bytes_mapped(), pages.bytes_cached()), (0, 0));
    drop(pages);
    assert_eq!(fault::live(), os_base);
}
