//! What each thread keeps: its number, the heap it holds in the allocator it used
//! last, and a guard whose destructor hands its heaps back when the thread exits.
//!
//! The fast paths read one const-initialised thread-local without a destructor (one
//! load, never allocates, works at any point of a thread's life, even from a global
//! allocator). The guard with a destructor is set up once per thread, on the slow
//! path; if setting it up allocates (some platforms' thread-local destructor lists do),
//! those allocations take the allocator's fallback heap, as does everything the
//! thread allocates after its guard ran.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spin::mutex::SpinMutex;

use crate::control::Control;
use crate::heap::Heap;

/// The last number given to a thread (0: none yet; numbers start at 1).
static LAST: AtomicUsize = AtomicUsize::new(0);

/// The thread's state.
#[derive(Debug)]
struct Local {
    /// This thread's number, 0 until it first asks.
    id: Cell<usize>,
    /// The id of the allocator whose heap `heap` is (0: none).
    control: Cell<usize>,
    heap: Cell<*mut Heap>,
    /// One of `FRESH`, `SETTING_UP`, `LIVE`, `EXITED`.
    state: Cell<u8>,
}

const FRESH: u8 = 0;
const SETTING_UP: u8 = 1;
const LIVE: u8 = 2;
const EXITED: u8 = 3;

/// Hands the thread's heaps back when the thread exits.
#[derive(Debug)]
struct ExitGuard;

std::thread_local! {
    static LOCAL: Local = const {
        Local {
            id: Cell::new(0),
            control: Cell::new(0),
            heap: Cell::new(ptr::null_mut()),
            state: Cell::new(FRESH),
        }
    };
    static GUARD: ExitGuard = const { ExitGuard };
}

/// The calling thread's number: never 0, never given to another thread.
#[inline(always)]
pub(crate) fn thread_id() -> usize {
    LOCAL.with(|l| match l.id.get() {
        0 => first_id(&l.id),
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

/// The heap this thread holds in the allocator of id `control`, if it is the one it
/// used last.
#[inline(always)]
pub(crate) fn cached_heap(control: usize) -> Option<NonNull<Heap>> {
    LOCAL.with(|l| {
        if l.control.get() == control {
            NonNull::new(l.heap.get())
        } else {
            None
        }
    })
}

/// The heap this thread holds in `control`, found or made; `None` if the thread cannot
/// hold one now (its guard is being set up or has run, or no memory is left): use the
/// fallback heap.
#[cold]
#[inline(never)]
pub(crate) fn acquire_heap(control: &Control) -> Option<NonNull<Heap>> {
    let state = LOCAL.with(|l| l.state.get());
    match state {
        SETTING_UP | EXITED => return None,
        FRESH => {
            LOCAL.with(|l| l.state.set(SETTING_UP));
            let ok = GUARD.try_with(|_| ()).is_ok();
            LOCAL.with(|l| l.state.set(if ok { LIVE } else { EXITED }));
            if !ok {
                return None;
            }
        }
        _ => {}
    }
    let heap = control.heap_for(thread_id())?;
    LOCAL.with(|l| {
        l.control.set(control.id);
        l.heap.set(heap.as_ptr());
    });
    Some(heap)
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let id = LOCAL.with(|l| {
            l.state.set(EXITED);
            l.control.set(0);
            l.heap.set(ptr::null_mut());
            l.id.get()
        });
        if id == 0 {
            return;
        }
        let registry = REGISTRY.lock();
        let mut c = registry.head;
        while let Some(control) = NonNull::new(c) {
            // SAFETY: controls on the registry are live: one leaves it (under this lock)
            // before it is unmapped.
            let r = unsafe { control.as_ref() };
            r.abandon(id);
            c = r.registry_next.get();
        }
    }
}

/// The live allocators, so that an exiting thread can hand its heaps back.
#[derive(Debug)]
struct Registry {
    head: *mut Control,
}

// SAFETY: the registry is only reached under its lock, and the controls it links are
// shared state made for use from any thread.
unsafe impl Send for Registry {}

static REGISTRY: SpinMutex<Registry> = SpinMutex::new(Registry {
    head: ptr::null_mut(),
});

/// Puts a new control on the registry.
///
/// # Safety
/// `control` is live and on no registry; it leaves it by [`unregister`] before it is
/// unmapped.
pub(crate) unsafe fn register(control: NonNull<Control>) {
    let mut registry = REGISTRY.lock();
    // SAFETY: the caller's precondition.
    unsafe { control.as_ref().registry_next.set(registry.head) };
    registry.head = control.as_ptr();
}

/// Takes a control off the registry.
///
/// # Safety
/// `control` was put on the registry by [`register`].
pub(crate) unsafe fn unregister(control: NonNull<Control>) {
    let mut registry = REGISTRY.lock();
    let mut link: *mut *mut Control = &raw mut registry.head;
    // SAFETY: every control on the registry is live; we hold its lock.
    unsafe {
        while !(*link).is_null() {
            if *link == control.as_ptr() {
                *link = control.as_ref().registry_next.get();
                return;
            }
            link = (*(*link)).registry_next.as_ptr();
        }
    }
}
