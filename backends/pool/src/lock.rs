//! The lock policies of a pool: who waits, and how, when the pool is busy.
//!
//! A pool is generic over its lock (`StaticPool<N, L = SpinLock>`, `PoolRegion<L =
//! SpinLock>`); the default keeps `StaticPool<N>` as it was. Pick:
//!
//! | lock | a call that finds the pool busy | pick it when |
//! |---|---|---|
//! | [`SpinLock`] (default) | spins until the holder is done; with the `std` feature, spins a little then yields its time slice | threads, or firmware that never allocates from an interrupt handler |
//! | [`CriticalSectionLock`] (feature `critical-section`) | cannot find it busy: every call runs in a `critical_section::with` (on a single core: interrupts masked for the call) | firmware that allocates from interrupt handlers too |
//! | [`TryLock`] | an allocation fails at once with [`AllocError`](linked_alloc::AllocError); a free waits | interrupts that must never be masked (a radio stack) and may allocate, and can live with a refusal |
//!
//! With [`TryLock`], `free_root` and the inspection calls (`stats`, `block_status`,
//! `capacity`, `free_bytes`, ...) still wait for the lock (a free cannot fail): call them
//! from the main context only, never from an interrupt that may preempt the pool.

#[cfg(target_has_atomic = "8")]
use core::sync::atomic::AtomicBool;
use core::sync::atomic::Ordering;

#[cfg(not(target_has_atomic = "8"))]
use portable_atomic::AtomicBool;

/// How a pool takes its lock. The pool's state is touched only inside the closures
/// given to these methods.
///
/// # Safety
/// While a closure given to [`lock`](Self::lock), [`wait`](Self::wait) or
/// [`try_lock`](Self::try_lock) runs, no other closure given to any of them on the same
/// lock value runs (in another thread, or in an interrupt handler that preempted it):
/// the pool relies on it for exclusive access to its tables. Each method runs its
/// closure at most once, and [`UNLOCKED`](Self::UNLOCKED) is a lock that no closure
/// holds.
pub unsafe trait PoolLock: Sync {
    /// A lock that nobody holds (for the pools' `const fn new`).
    const UNLOCKED: Self;

    /// Runs `f` under the lock, for a call that can fail: `None` when the lock is busy
    /// and this policy does not wait.
    fn lock<R>(&self, f: impl FnOnce() -> R) -> Option<R>;

    /// Runs `f` under the lock, for a call that cannot fail: waits while it is busy.
    fn wait<R>(&self, f: impl FnOnce() -> R) -> R;

    /// Runs `f` under the lock if it is free now, `None` otherwise (for `Debug`, which
    /// must not wait).
    fn try_lock<R>(&self, f: impl FnOnce() -> R) -> Option<R>;
}

/// A flag taken with an atomic swap; released by the guard's `Drop` (so also when a
/// debug assertion unwinds).
#[derive(Debug)]
struct Flag(AtomicBool);

/// Releases a [`Flag`] when dropped.
struct Held<'a>(&'a AtomicBool);

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Flag {
    const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// Takes the flag if it is free now.
    #[inline]
    fn try_take(&self) -> Option<Held<'_>> {
        match self
            .0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Some(Held(&self.0)),
            Err(_) => None,
        }
    }

    /// Takes the flag, waiting for it: spins on a read (no write traffic while busy);
    /// with `std`, after [`SPINS`] reads yields the time slice, so that a thread does
    /// not burn it on a holder that was preempted.
    #[inline]
    fn take(&self) -> Held<'_> {
        loop {
            if let Some(held) = self.try_take() {
                return held;
            }
            self.wait_free();
        }
    }

    #[cold]
    fn wait_free(&self) {
        let mut spins = 0u32;
        while self.0.load(Ordering::Relaxed) {
            if spins < SPINS {
                spins += 1;
                core::hint::spin_loop();
            } else {
                relax();
            }
        }
    }
}

/// Reads of a busy flag before a waiter yields (with `std`): a pool call holds the lock
/// for well under a microsecond, so a waiter whose holder runs gets it within these; one
/// whose holder was preempted stops burning its slice.
const SPINS: u32 = 128;

/// What a waiter does once it has spun [`SPINS`] times.
#[inline]
fn relax() {
    #[cfg(feature = "std")]
    std::thread::yield_now();
    #[cfg(not(feature = "std"))]
    core::hint::spin_loop();
}

/// The default lock: a spin lock, no dependency. A call that finds the pool busy
/// spins until it is free; with the crate's `std` feature it spins briefly, then yields
/// its time slice each time it finds the lock still busy (threads on a hosted machine).
///
/// Do not allocate or free from an interrupt handler that may preempt a pool call: on a
/// single core it would spin forever. Use [`CriticalSectionLock`] or [`TryLock`] then.
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_pool::{SpinLock, StaticPool};
///
/// // The same type as `StaticPool<4096>`.
/// static HEAP: Linked<StaticPool<4096, SpinLock>> = Linked::new(StaticPool::new());
/// let root = HEAP.allocate_buffer(10)?;
/// // SAFETY: `root` is a live root of HEAP.
/// unsafe { HEAP.free_buffer(root) };
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
#[derive(Debug)]
pub struct SpinLock(Flag);

// SAFETY: `Flag::take`/`try_take` hand out a `Held` only to the one caller that swapped
// the flag from false to true (Acquire), and `Held`'s drop sets it false (Release) after
// the closure returned: closures never overlap. `UNLOCKED` is false.
unsafe impl PoolLock for SpinLock {
    const UNLOCKED: Self = Self(Flag::new());

    #[inline]
    fn lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        Some(self.wait(f))
    }

    #[inline]
    fn wait<R>(&self, f: impl FnOnce() -> R) -> R {
        let _held = self.0.take();
        f()
    }

    #[inline]
    fn try_lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _held = self.0.try_take()?;
        Some(f())
    }
}

/// A lock that never waits to allocate: an allocation (`allocate_root`,
/// `allocate_child`, and so `GlobalAlloc::alloc`) that finds the pool busy fails at once
/// with [`AllocError`](linked_alloc::AllocError), as does `resize_in_place` (it returns
/// `false`) and `reclaim_child` (the child stays until its root goes). For an interrupt
/// handler that may preempt the main code's allocation and must not mask interrupts: it
/// gets a refusal instead of a deadlock.
///
/// `free_root` and the inspection calls wait (spin, as [`SpinLock`]): call them from
/// the main context, never from a handler that may preempt the pool.
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_pool::{StaticPool, TryLock};
///
/// static HEAP: Linked<StaticPool<4096, TryLock>> = Linked::new(StaticPool::new());
/// // In an interrupt handler: `Err` if main was inside a pool call, never a deadlock.
/// if let Ok(root) = HEAP.allocate_buffer(10) {
///     // SAFETY: `root` is a live root of HEAP.
///     unsafe { HEAP.free_buffer(root) };
/// }
/// ```
#[derive(Debug)]
pub struct TryLock(SpinLock);

// SAFETY: every closure runs through the inner `SpinLock` (a `PoolLock`): closures
// never overlap. `UNLOCKED` is the spin lock's.
unsafe impl PoolLock for TryLock {
    const UNLOCKED: Self = Self(SpinLock::UNLOCKED);

    /// Does not wait: the spin lock's `try_lock`.
    #[inline]
    fn lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        self.0.try_lock(f)
    }

    #[inline]
    fn wait<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.wait(f)
    }

    #[inline]
    fn try_lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        self.0.try_lock(f)
    }
}

/// The interrupt-safe lock (feature `critical-section`): every pool call runs inside
/// `critical_section::with`, so an interrupt handler can allocate and free too. On a
/// single-core MCU with the `cortex-m` implementation, interrupts are masked for the
/// time of one pool call (O(1) for allocations, see the [crate docs](crate)); with the
/// `critical-section` crate's `std` implementation it is a process-wide lock. Needs no
/// atomic read-modify-write, so it is also the lock for ARMv6-M (Cortex-M0/M0+).
///
/// The firmware provides the implementation (`cortex-m`'s `critical-section-single-core`
/// feature, a HAL's, or `critical-section/std` on a hosted target).
///
/// ```
/// use linked_alloc::Linked;
/// use linked_alloc_pool::{CriticalSectionLock, StaticPool};
///
/// static HEAP: Linked<StaticPool<4096, CriticalSectionLock>> = Linked::new(StaticPool::new());
/// // In main and in interrupt handlers alike.
/// let root = HEAP.allocate_buffer(10)?;
/// // SAFETY: `root` is a live root of HEAP.
/// unsafe { HEAP.free_buffer(root) };
/// # Ok::<(), linked_alloc::AllocError>(())
/// ```
#[cfg(feature = "critical-section")]
#[derive(Debug)]
pub struct CriticalSectionLock(());

// SAFETY: every closure runs inside `critical_section::with`, and the crate's contract
// is that no other critical section runs at the same time, except one nested in the
// same context. The pool's closures never call the pool (nor anything that could), so
// a nesting can only be a user's critical section around a pool call, inside which no
// other context (interrupt, thread, core) can start a pool call.
#[cfg(feature = "critical-section")]
unsafe impl PoolLock for CriticalSectionLock {
    const UNLOCKED: Self = Self(());

    #[inline]
    fn lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        Some(self.wait(f))
    }

    #[inline]
    fn wait<R>(&self, f: impl FnOnce() -> R) -> R {
        critical_section::with(|_| f())
    }

    #[inline]
    fn try_lock<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        Some(self.wait(f))
    }
}
