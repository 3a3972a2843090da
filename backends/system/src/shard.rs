//! The calling thread's shard of the statistics: every thread gets a number on its
//! first call (the next of a global count), and updates shard `number % SHARDS`, so
//! that up to `ShardedStats::SHARDS` threads in a row write lines of their own.

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use linked_alloc::kit::Shard;

/// The next thread number to give; 0 means "none yet" in [`THREAD`].
static NEXT: AtomicUsize = AtomicUsize::new(1);

std::thread_local! {
    /// This thread's number, 0 until its first call. `const`-initialised and without
    /// a destructor, so reading it never allocates nor fails, even while the thread
    /// exits (a global allocator is called then too).
    static THREAD: Cell<usize> = const { Cell::new(0) };
}

/// The shard that the calling thread updates.
#[inline]
pub(crate) fn current() -> Shard {
    let n = THREAD.get();
    Shard::new(if n == 0 { first_call() } else { n })
}

/// Gives the calling thread its number.
#[cold]
#[inline(never)]
fn first_call() -> usize {
    // 0 is "none yet"; after a wrap (2^64 threads) a number is merely shared.
    let n = NEXT.fetch_add(1, Relaxed).max(1);
    THREAD.set(n);
    n
}
