//! `MmapPages` as the `#[global_allocator]` of this whole test binary: every `Box`,
//! `Vec` and `String` (the test harness's too) is a root of it.
//!
//! Not under Miri: every allocation of the process would be a mapped run.
#![cfg(not(miri))]

use std::collections::HashMap;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;

#[global_allocator]
static PAGES: Linked<MmapPages> = Linked::new(MmapPages::new());

#[test]
fn std_collections_run_on_mmap_pages() {
    let roots_before = PAGES.stats().roots;
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    for i in 0..2000u64 {
        map.entry(format!("key {}", i % 97)).or_default().push(i);
    }
    assert_eq!(map.len(), 97);
    assert_eq!(map.values().map(Vec::len).sum::<usize>(), 2000);
    assert_eq!(
        map["key 3"].iter().sum::<u64>(),
        (0..2000).filter(|i| i % 97 == 3).sum()
    );
    // Big ones, over-aligned ones and threads.
    let big = vec![7u8; 1 << 20];
    assert!(big.iter().all(|&b| b == 7));
    let handles: Vec<_> = (0..4)
        .map(|t| std::thread::spawn(move || (0..10_000).map(|i| i * t).collect::<Vec<u64>>()))
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let v = h.join().expect("thread");
        assert_eq!(v[9_999], 9_999 * t as u64);
    }
    assert!(PAGES.stats().roots > roots_before);
    drop(map);
    drop(big);
    assert!(PAGES.backend().bytes_mapped() > 0);
}
