//! A number for the calling thread, unique for the life of the process: which thread
//! made a root, so that this thread carves its children without a lock.

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The last number given to a thread (0: none yet; numbers start at 1).
static LAST: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    /// This thread's number, 0 until it first asks. Const-initialised and without a
    /// destructor, so reading it is one thread-local load, it never allocates, and it
    /// works at any point of a thread's life (even from a global allocator).
    static ID: Cell<usize> = const { Cell::new(0) };
}

/// The calling thread's number: never 0, never given to another thread.
#[inline(always)]
pub(crate) fn id() -> usize {
    ID.with(|id| match id.get() {
        0 => first_id(id),
        n => n,
    })
}

#[cold]
#[inline(never)]
fn first_id(id: &Cell<usize>) -> usize {
    // Counting up from 1: no wrap in any real program (2^64, or 2^32 threads).
    let n = LAST.fetch_add(1, Relaxed) + 1;
    id.set(n);
    n
}
