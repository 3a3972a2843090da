//! `stats()` exact after many threads allocate and free, frees on other threads
//! included, with more threads than shards (so some threads share one).

use core::alloc::Layout;
use core::ptr::NonNull;
use std::sync::mpsc::channel;
use std::sync::{Barrier, Mutex};
use std::vec::Vec;

use linked_alloc::kit::ShardedStats;
use linked_alloc::{LinkedAllocator, Stats};

use crate::SystemHeap;

/// A root on its way to the thread that frees it.
struct Sent(NonNull<u8>);

// SAFETY: a root is handed over whole: the sender never touches it again, and
// `SystemHeap` is `Sync`, so any thread may free it.
unsafe impl Send for Sent {}

#[test]
fn stats_are_exact_after_many_threads_allocate_and_free() {
    let threads = if cfg!(miri) {
        4
    } else {
        ShardedStats::SHARDS + 8
    };
    let roots = if cfg!(miri) { 8 } else { 500 };
    let heap = SystemHeap::new();
    let barrier = Barrier::new(threads);
    // Thread t sends half its roots to thread t + 1 (the last to the first).
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads).map(|_| channel()).unzip();
    let receivers: Vec<_> = receivers.into_iter().map(Mutex::new).collect();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (heap, barrier, receivers) = (&heap, &barrier, &receivers);
            let to_next = senders[(t + 1) % threads].clone();
            s.spawn(move || {
                let mut mine = Vec::new();
                for i in 0..roots {
                    let size = 8 + (t * 31 + i * 7) % 200;
                    let root = heap.allocate_root(Layout::from_size_align(size, 8).unwrap());
                    let root = root.expect("out of memory");
                    if i % 3 == 0 {
                        // SAFETY: `root` is a live root of `heap`, used by this thread only.
                        let child = unsafe { heap.allocate_child(root, Layout::new::<u64>()) };
                        child.expect("out of memory");
                    }
                    mine.push(root);
                }
                // Every thread has allocated all it will: the sum is exact now.
                barrier.wait();
                let live = heap.stats();
                assert_eq!(live.roots, threads * roots, "{live:?}");
                assert_eq!(live.children, threads * roots.div_ceil(3), "{live:?}");
                barrier.wait();
                for (i, root) in mine.into_iter().enumerate() {
                    if i % 2 == 0 {
                        to_next.send(Sent(root)).unwrap();
                    } else {
                        // SAFETY: `root` is a live root of `heap` that this thread owns.
                        unsafe { heap.free_root(root) };
                    }
                }
                drop(to_next);
                // The roots of the thread before, freed here.
                let received = receivers[t].lock().unwrap();
                for _ in 0..roots.div_ceil(2) {
                    let Sent(root) = received.recv().unwrap();
                    // SAFETY: `root` is a live root of `heap`, handed over by its maker.
                    unsafe { heap.free_root(root) };
                }
            });
        }
    });
    assert_eq!(heap.stats(), Stats::default());
}
