//! Size probe: the same `no_std` program with one of five global allocators, chosen by
//! a Cargo feature, so that the allocators' code can be compared in a firmware image
//! (`bash scripts/firmware-size.sh` builds each for both boards and prints the table;
//! `cargo build --release --bin linked-alloc-firmware-size --features talc`, say, one).
//!
//! - `pool`: linked-alloc's `Linked<StaticPool<N, CriticalSectionLock>>`;
//! - `talc`: talc's `TalcLock` over a static arena (`Claim`), locked by a critical section;
//! - `llff`, `tlsf`: embedded-alloc's `LlffHeap` and `TlsfHeap`;
//! - `bump`: the baseline, a bump allocator (it frees only when nothing is live), the
//!   least code that keeps the program's allocating paths alive.
//!
//! Every allocator takes a critical section, the interrupt-safe choice on one core. The
//! work goes through `alloc` only: `Vec` and `String` (growth is `realloc`),
//! `shrink_to_fit`, `Box`, and `alloc`/`alloc_zeroed`/`realloc`/`dealloc` of the global
//! allocator directly, with a small and a 64-byte alignment; every block is checked.
//! It reports over semihosting and exits with `EXIT_SUCCESS` or `EXIT_FAILURE`.
//!
//! The two boards, heap sizes, pattern checks and report of the firmware (this package's
//! library): QEMU's Cortex-M3 `lm3s6965evb` (`thumbv7m-none-eabi`), and with the feature
//! `microbit` its Cortex-M0 `microbit` (`thumbv6m-none-eabi`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::alloc::{Layout, alloc, alloc_zeroed, dealloc, realloc};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::hint::black_box;

use cortex_m_rt::entry;
use linked_alloc_firmware::{Failure, HEAP_BYTES, fail, fill, intact, pass, pattern};

#[cfg(not(any(
    feature = "pool",
    feature = "talc",
    feature = "llff",
    feature = "tlsf",
    feature = "bump"
)))]
compile_error!("pick the global allocator: one of the features pool, talc, llff, tlsf, bump");

/// The program's name in its result line.
const PROGRAM: &str = "firmware-size";

/// Rounds of the work.
const ROUNDS: u32 = 200;

// --- The global allocators, and each one's name for the report ----------------------

#[cfg(feature = "pool")]
const ALLOCATOR: &str = "linked-alloc pool";
#[cfg(feature = "pool")]
#[global_allocator]
static HEAP: linked_alloc::Linked<
    linked_alloc_pool::StaticPool<HEAP_BYTES, linked_alloc_pool::CriticalSectionLock>,
> = linked_alloc::Linked::new(linked_alloc_pool::StaticPool::new());

#[cfg(feature = "talc")]
const ALLOCATOR: &str = "talc";
#[cfg(feature = "talc")]
#[global_allocator]
static HEAP: talc::TalcLock<cs_mutex::CsRawMutex, talc::source::Claim> = talc::TalcLock::new({
    static mut ARENA: [u8; HEAP_BYTES] = [0; HEAP_BYTES];
    // SAFETY: ARENA is used by nothing else (it is named only here).
    unsafe { talc::source::Claim::array(&raw mut ARENA) }
});

#[cfg(feature = "llff")]
const ALLOCATOR: &str = "embedded-alloc LlffHeap";
#[cfg(feature = "llff")]
#[global_allocator]
static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

#[cfg(feature = "tlsf")]
const ALLOCATOR: &str = "embedded-alloc TlsfHeap";
#[cfg(feature = "tlsf")]
#[global_allocator]
static HEAP: embedded_alloc::TlsfHeap = embedded_alloc::TlsfHeap::empty();

#[cfg(feature = "bump")]
const ALLOCATOR: &str = "bump (baseline)";
#[cfg(feature = "bump")]
#[global_allocator]
static HEAP: bump::Bump = bump::Bump::new();

/// embedded-alloc's heaps are handed their memory at run time, once, before any use.
#[cfg(any(feature = "llff", feature = "tlsf"))]
fn init_heap() {
    static mut ARENA: [u8; HEAP_BYTES] = [0; HEAP_BYTES];
    // SAFETY: called once, first thing in main, before any allocation; ARENA is used by
    // nothing else (it is named only here).
    unsafe { HEAP.init((&raw mut ARENA).cast::<u8>() as usize, HEAP_BYTES) }
}

/// The others need no call.
#[cfg(not(any(feature = "llff", feature = "tlsf")))]
fn init_heap() {}

/// A `lock_api::RawMutex` that is a critical section (interrupts off on one core), for
/// talc's `TalcLock`: the same lock the others take (spin locks need compare-and-swap,
/// which ARMv6-M lacks, and deadlock against an interrupt handler).
#[cfg(feature = "talc")]
mod cs_mutex {
    use core::cell::Cell;
    use critical_section::RestoreState;

    /// The state to restore when the section ends.
    #[derive(Debug)]
    pub struct CsRawMutex(Cell<RestoreState>);

    // SAFETY: the cell is written only inside the critical section that `lock` opens, on
    // one core, so no two contexts touch it at once.
    unsafe impl Sync for CsRawMutex {}

    // SAFETY: while one context holds it (from `lock` to `unlock`), interrupts are off on
    // the only core, so no other context runs, let alone locks it.
    unsafe impl talc::lock_api::RawMutex for CsRawMutex {
        #[allow(clippy::declare_interior_mutable_const)]
        const INIT: Self = CsRawMutex(Cell::new(RestoreState::invalid()));
        type GuardMarker = talc::lock_api::GuardNoSend;

        fn lock(&self) {
            // SAFETY: released by `unlock`, which lock_api calls once for each `lock`.
            let state = unsafe { critical_section::acquire() };
            self.0.set(state);
        }

        fn try_lock(&self) -> bool {
            self.lock();
            true
        }

        unsafe fn unlock(&self) {
            // SAFETY: the state that the matching `acquire` returned, in reverse order
            // (the global allocator does not nest its calls).
            unsafe { critical_section::release(self.0.get()) }
        }
    }
}

/// The baseline: a bump allocator in a critical section. It hands out the arena in
/// order and starts over when no block is live (each round frees all it allocates).
#[cfg(feature = "bump")]
mod bump {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::{Cell, UnsafeCell};
    use critical_section::Mutex;

    use super::HEAP_BYTES;

    /// The arena, its next free offset and its number of live blocks.
    pub struct Bump {
        arena: UnsafeCell<[u8; HEAP_BYTES]>,
        state: Mutex<Cell<(usize, usize)>>,
    }

    // SAFETY: `state` is read and written in critical sections only; each byte of the
    // arena belongs to one live block at a time (the offset only grows while any is).
    unsafe impl Sync for Bump {}

    impl Bump {
        /// An empty arena.
        pub const fn new() -> Self {
            Self {
                arena: UnsafeCell::new([0; HEAP_BYTES]),
                state: Mutex::new(Cell::new((0, 0))),
            }
        }
    }

    // SAFETY: blocks are disjoint while live (the offset only grows until none is), in
    // the arena, aligned to `layout.align()` (the address is rounded up), and null is
    // returned when the arena is used up.
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            critical_section::with(|cs| {
                let (next, live) = self.state.borrow(cs).get();
                let base = self.arena.get().cast::<u8>();
                let addr = base as usize + next;
                let start = (addr + layout.align() - 1) & !(layout.align() - 1);
                let end = start - base as usize + layout.size();
                if end > HEAP_BYTES {
                    return core::ptr::null_mut();
                }
                self.state.borrow(cs).set((end, live + 1));
                base.wrapping_add(start - base as usize)
            })
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
            critical_section::with(|cs| {
                let (next, live) = self.state.borrow(cs).get();
                let live = live - 1;
                self.state
                    .borrow(cs)
                    .set((if live == 0 { 0 } else { next }, live));
            })
        }
    }
}

// --- The work -------------------------------------------------------------------------

/// `alloc`'s collections: strings in a growing vector, `retain`, `shrink_to_fit`, a
/// `Box`, a byte vector grown one push at a time.
fn collections(round: u32) -> Result<usize, Failure> {
    let mut names: Vec<String> = Vec::new();
    for i in 0..black_box(30) {
        let mut name = String::from("row ");
        name.push_str(&format!("{i}"));
        names.push(name);
    }
    let total: usize = names.iter().map(String::len).sum();
    names.retain(|n| n.ends_with('7'));
    names.shrink_to_fit();
    if names.len() != 3 || names[1] != "row 17" {
        return Err("Vec<String> went wrong");
    }
    let boxed = Box::new([round; 6]);
    let mut bytes: Vec<u8> = Vec::new();
    for i in 0..black_box(600) {
        bytes.push(pattern(round, i));
    }
    // SAFETY: `bytes` has 600 initialized bytes.
    if *boxed != [round; 6] || !unsafe { intact(bytes.as_ptr(), bytes.len(), round) } {
        return Err("a Box or a Vec<u8> was overwritten");
    }
    Ok(total)
}

/// The global allocator directly: `alloc`, `alloc_zeroed`, `realloc` up and down, and
/// `dealloc`, with alignments 4 and 64.
fn raw(round: u32) -> Result<(), Failure> {
    for align in [4, black_box(64)] {
        let size = black_box(40 + round as usize % 24);
        let layout = Layout::from_size_align(size, align).map_err(|_| "bad layout")?;
        // SAFETY: `layout` has a non-zero size; every block is checked for null, used
        // within its size, and freed once with the layout it has at that time.
        unsafe {
            let zeroed = alloc_zeroed(layout);
            if zeroed.is_null() || !(0..size).all(|i| zeroed.add(i).read() == 0) {
                return Err("alloc_zeroed failed or did not zero");
            }
            let p = alloc(layout);
            if p.is_null() || (p as usize) & (align - 1) != 0 {
                return Err("alloc failed or misaligned");
            }
            fill(p, size, round);
            let grown = realloc(p, layout, size * 5);
            if grown.is_null() || (grown as usize) & (align - 1) != 0 || !intact(grown, size, round)
            {
                return Err("realloc up failed or lost the data");
            }
            let big = Layout::from_size_align_unchecked(size * 5, align);
            let shrunk = realloc(grown, big, size / 2);
            if shrunk.is_null() || !intact(shrunk, size / 2, round) {
                return Err("realloc down failed or lost the data");
            }
            dealloc(shrunk, Layout::from_size_align_unchecked(size / 2, align));
            dealloc(zeroed, layout);
        }
    }
    Ok(())
}

#[entry]
fn main() -> ! {
    init_heap();
    let mut total = 0;
    let mut result = Ok(());
    for round in 0..ROUNDS {
        match collections(round).and_then(|t| raw(round).map(|()| t)) {
            Ok(t) => total += t,
            Err(why) => {
                result = Err(why);
                break;
            }
        }
    }
    match result {
        Ok(()) => pass(
            PROGRAM,
            format_args!("{ALLOCATOR}: {ROUNDS} rounds, {total} bytes of names"),
        ),
        Err(why) => fail(PROGRAM, format_args!("{ALLOCATOR}: {why}")),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(PROGRAM, format_args!("panic: {info}"))
}
