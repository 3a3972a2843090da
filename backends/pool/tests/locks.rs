//! The lock policies: what each does when the pool is busy, and every one of them
//! under threads that allocate, fill, check and free at the same time.

mod common;

use core::alloc::Layout;
use core::sync::atomic::{AtomicUsize, Ordering};

use common::{Rng, check, fill, iterations};
use linked_alloc::{Linked, LinkedAllocator};
use linked_alloc_pool::{CriticalSectionLock, PoolLock, SpinLock, StaticPool, TryLock};

#[test]
fn try_lock_refuses_at_once_while_held() {
    let lock = TryLock::UNLOCKED;
    let inside = lock.wait(|| (lock.lock(|| ()), lock.try_lock(|| ())));
    assert_eq!(inside, (None, None), "a busy TryLock must refuse");
    assert_eq!(lock.lock(|| 7), Some(7), "a free TryLock must run the call");
}

#[test]
fn spin_lock_try_lock_refuses_while_held() {
    let lock = SpinLock::UNLOCKED;
    assert_eq!(lock.wait(|| lock.try_lock(|| ())), None);
    assert_eq!(
        lock.lock(|| 7),
        Some(7),
        "the spin lock always runs the call"
    );
}

#[test]
fn a_lock_is_released_when_the_call_unwinds() {
    let lock = TryLock::UNLOCKED;
    let unwound = std::panic::catch_unwind(|| lock.wait(|| panic!("inside the lock")));
    assert!(unwound.is_err());
    assert_eq!(
        lock.lock(|| 1),
        Some(1),
        "the lock stayed held after a panic"
    );
}

/// Threads share one pool: each allocates roots with children, fills every block with
/// its own pattern, checks them, and frees the roots. Returns the allocations refused
/// (only a `TryLock` refuses, when it finds the pool busy: the pool is large enough for
/// every thread's blocks). At the end the pool must be one free block again.
fn hammer<L: PoolLock>(heap: &'static Linked<StaticPool<{ 256 << 10 }, L>>) -> usize {
    const THREADS: usize = 4;
    let rounds = iterations(2000, 20);
    let refused = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let refused = &refused;
            s.spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                for round in 0..rounds {
                    let Ok(root) = heap.backend().allocate_root(Layout::new::<[u64; 4]>()) else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let seed = t * 1_000_000 + round * 16;
                    fill(root, 32, seed);
                    let mut children = Vec::new();
                    for c in 0..rng.range(0, 4) {
                        let len = rng.range(1, 200);
                        let layout = Layout::from_size_align(len, 8).unwrap();
                        // SAFETY: `root` is a live root of the pool.
                        match unsafe { heap.backend().allocate_child(root, layout) } {
                            Ok(p) => {
                                fill(p, len, seed + 1 + c);
                                children.push((p, len, seed + 1 + c));
                            }
                            Err(_) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    check(root, 32, seed);
                    for &(p, len, seed) in &children {
                        check(p, len, seed);
                    }
                    // SAFETY: `root` is live; its blocks are not used afterwards.
                    unsafe { heap.backend().free_root(root) };
                }
            });
        }
    });
    assert!(heap.stats().is_empty(), "blocks left after every free");
    assert_eq!(
        heap.backend().check_integrity(),
        Ok(1),
        "the pool did not coalesce back"
    );
    refused.into_inner()
}

#[test]
fn threads_share_a_spin_locked_pool() {
    static HEAP: Linked<StaticPool<{ 256 << 10 }, SpinLock>> = Linked::new(StaticPool::new());
    assert_eq!(hammer(&HEAP), 0, "the spin lock waits: it never refuses");
}

#[test]
fn threads_share_a_critical_section_pool() {
    static HEAP: Linked<StaticPool<{ 256 << 10 }, CriticalSectionLock>> =
        Linked::new(StaticPool::new());
    assert_eq!(
        hammer(&HEAP),
        0,
        "the critical section waits: it never refuses"
    );
}

#[test]
fn threads_share_a_try_locked_pool() {
    static HEAP: Linked<StaticPool<{ 256 << 10 }, TryLock>> = Linked::new(StaticPool::new());
    // Refusals depend on the schedule: any count is right, the blocks must be intact.
    let refused = hammer(&HEAP);
    println!("TryLock: {refused} allocations refused while the pool was busy");
}
