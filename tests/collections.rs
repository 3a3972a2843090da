//! Collections through allocator-api2 with a `Root` as their allocator, on every
//! backend: every allocation is a child of the root, and dropping the root frees all.

use core::alloc::Layout;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use hashbrown::HashMap;
use linked_alloc::{Linked, LinkedAllocator};

const fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// Vec push / extend / shrink_to_fit / truncate keep the data, and the root's drop
/// brings `stats()` back to the start.
fn vec_push_extend_shrink<B: LinkedAllocator>(heap: &Linked<B>) {
    let start = heap.stats();
    {
        let root = heap.root(Layout::new::<u64>()).unwrap();
        let mut v: Vec<u64, _> = Vec::new_in(&root);
        let count = n(100_000, 300) as u64;
        for i in 0..count {
            v.push(i * 3);
        }
        v.extend((0..count).map(|i| i ^ 0xabcd));
        assert_eq!(v.len() as u64, 2 * count);
        assert!(
            v[..count as usize]
                .iter()
                .enumerate()
                .all(|(i, &x)| x == i as u64 * 3)
        );
        assert!(
            v[count as usize..]
                .iter()
                .enumerate()
                .all(|(i, &x)| x == i as u64 ^ 0xabcd)
        );
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(&v[..], &[0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
        let during = heap.stats();
        assert_eq!(during.roots, start.roots + 1);
        assert!(
            during.children >= 1,
            "the vector's buffer is a child of the root"
        );
        drop(v);
    }
    assert_eq!(heap.stats(), start, "the root's drop left something behind");
}

/// Box, and a Vec of Boxes, all children of one root.
fn boxes<B: LinkedAllocator>(heap: &Linked<B>) {
    let start = heap.stats();
    {
        let root = heap.root(Layout::new::<[u8; 32]>()).unwrap();
        let b = Box::new_in([7u8; 100], &root);
        assert_eq!(b.iter().map(|&x| x as u32).sum::<u32>(), 700);
        let mut many: Vec<Box<u128, _>, _> = Vec::new_in(&root);
        for i in 0..n(1000, 50) as u128 {
            many.push(Box::new_in(i << 64 | i, &root));
        }
        for (i, b) in many.iter().enumerate() {
            assert_eq!(**b, (i as u128) << 64 | i as u128);
            assert_eq!(&**b as *const u128 as usize % 16, 0, "u128 alignment");
        }
        assert!(heap.stats().children > many.len());
    }
    assert_eq!(heap.stats(), start);
}

/// A HashMap of Vecs, nested collections all under one root.
fn map_of_vecs<B: LinkedAllocator>(heap: &Linked<B>) {
    let start = heap.stats();
    {
        let root = heap.root(Layout::new::<u64>()).unwrap();
        let mut index: HashMap<u32, Vec<u32, _>, _, _> =
            HashMap::with_hasher_in(hashbrown::DefaultHashBuilder::default(), &root);
        let keys = n(500, 20) as u32;
        for k in 0..keys {
            let mut v = Vec::new_in(&root);
            v.extend((0..k % 37).map(|x| x * k));
            index.insert(k, v);
        }
        for k in 0..keys {
            let v = &index[&k];
            assert_eq!(v.len() as u32, k % 37);
            assert!(v.iter().enumerate().all(|(x, &y)| y == x as u32 * k));
        }
        index.retain(|k, _| k % 2 == 0);
        assert_eq!(index.len() as u32, keys.div_ceil(2));
    }
    assert_eq!(heap.stats(), start);
}

/// Growing by `reserve` and shrinking keep the data whether the backend resizes in
/// place or moves; an over-aligned element type keeps its alignment.
fn grow_and_shrink_keep_data<B: LinkedAllocator>(heap: &Linked<B>) {
    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(align(64))]
    struct Line([u8; 64]);
    let start = heap.stats();
    {
        let root = heap.root(Layout::new::<u8>()).unwrap();
        let mut v: Vec<Line, _> = Vec::with_capacity_in(1, &root);
        for i in 0..n(300, 20) {
            v.push(Line([i as u8; 64]));
            assert_eq!(v.as_ptr() as usize % 64, 0);
            if i % 50 == 49 {
                v.shrink_to_fit();
            }
        }
        assert!(v.iter().enumerate().all(|(i, l)| *l == Line([i as u8; 64])));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.capacity(), 3);
        assert_eq!(v[2], Line([2; 64]));
    }
    assert_eq!(heap.stats(), start);
}

/// A root handed to MAPI-style code and back.
fn raw_round_trip<B: LinkedAllocator>(heap: &Linked<B>) {
    let start = heap.stats();
    let layout = Layout::new::<[u64; 2]>();
    let raw = heap.root(layout).unwrap().into_raw();
    // SAFETY: `raw` is a live root of `heap`.
    let child = unsafe { heap.allocate_more(10, raw) }.unwrap();
    // SAFETY: `child` is a live block of 10 bytes.
    unsafe { child.as_ptr().write_bytes(1, 10) };
    // SAFETY: `raw` is a live root of `heap` made with `layout`; nothing else frees it.
    let root = unsafe { linked_alloc::Root::from_raw(heap, raw, layout) };
    assert_eq!(root.as_ptr(), raw);
    assert_eq!(heap.stats().children, start.children + 1);
    drop(root);
    assert_eq!(heap.stats(), start);
}

/// Several threads push into their own Vecs, all children of one shared root.
fn threads_share_a_root<B: LinkedAllocator + Sync>(heap: &Linked<B>) {
    let start = heap.stats();
    {
        let root = heap.root(Layout::new::<u8>()).unwrap();
        let sums: std::vec::Vec<u64> = std::thread::scope(|s| {
            let handles: std::vec::Vec<_> = (0..3u64)
                .map(|t| {
                    let root = &root;
                    s.spawn(move || {
                        let mut v = Vec::new_in(root);
                        v.extend((0..n(10_000, 100) as u64).map(|i| i + t));
                        v.iter().sum::<u64>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let m = n(10_000, 100) as u64;
        for (t, s) in sums.iter().enumerate() {
            assert_eq!(*s, m * (m - 1) / 2 + m * t as u64);
        }
    }
    assert_eq!(heap.stats(), start);
}

macro_rules! collections_on {
    ($name:ident, $make:expr) => {
        collections_on!($name, $make; vec_push_extend_shrink, boxes, map_of_vecs,
            grow_and_shrink_keep_data, raw_round_trip, threads_share_a_root);
    };
    ($name:ident, $make:expr; $($test:ident),+) => {
        mod $name {
            use super::*;
            $(
                #[test]
                fn $test() {
                    super::$test(&Linked::new($make));
                }
            )+
        }
    };
}

collections_on!(system, linked_alloc_system::SystemHeap::new());
collections_on!(mmap, linked_alloc_mmap::MmapPages::new());
// A pool of its own for each test, in a `static` of that test (too big for the stack).
collections_on!(pool, {
    static POOL: linked_alloc_pool::StaticPool<{ 16 << 20 }> = linked_alloc_pool::StaticPool::new();
    &POOL
});

/// The same handle works with allocator-api2 0.4's collections (feature
/// `allocator-api2-04`).
#[cfg(feature = "allocator-api2-04")]
#[test]
fn allocator_api2_04_vec() {
    let heap = Linked::new(linked_alloc_system::SystemHeap::new());
    {
        let root = heap.root(Layout::new::<u8>()).unwrap();
        let mut v = allocator_api2_04::vec::Vec::new_in(&root);
        v.extend(0..n(10_000, 100) as u32);
        assert_eq!(v.iter().map(|&x| x as u64).sum::<u64>(), {
            let m = n(10_000, 100) as u64;
            m * (m - 1) / 2
        });
        assert!(heap.stats().children >= 1);
    }
    assert!(heap.stats().is_empty());
}
