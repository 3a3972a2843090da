//! linked-alloc on bare metal: one firmware for two boards (QEMU's Cortex-M3
//! `lm3s6965evb`, and with the feature `microbit` its Cortex-M0 `microbit`), whose
//! global allocator is `Linked<StaticPool<N, CriticalSectionLock>>`, with no OS and no
//! init call.
//!
//! While the main loop below runs, SysTick fires often, and its handler allocates and
//! frees too (a root with a child through the MAPI-style calls, a `Box` through the
//! global allocator), checking the pattern of every block: the critical-section lock
//! makes that safe. The handler also allocates from a second pool with the `TryLock`
//! policy, which main uses in a loop: when the interrupt lands inside main's call, the
//! handler's allocation fails at once (counted) instead of deadlocking.
//!
//! It builds a MAPI-style row set with the MAPI-style calls (`allocate_buffer` for the
//! row set, `allocate_more` for each row's properties and each string, all linked to
//! the one root), reads it back, frees it with one `free_buffer`, and does the same
//! through `alloc`'s `Vec` and `String` (roots of the global allocator). Then it checks
//! that the pool is empty again, and says so over semihosting; the exit status (QEMU's)
//! is `EXIT_SUCCESS` or `EXIT_FAILURE`.
//!
//! Run it with `bash scripts/firmware.sh` from the repository root, or `cargo run
//! --release` here (with `qemu-system-arm` installed).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::size_of;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use linked_alloc::Linked;
use linked_alloc_firmware::{BOARD, Failure, HEAP_BYTES, fail, fill, intact, pass};
use linked_alloc_pool::{CriticalSectionLock, StaticPool, TryLock};

/// The program's name in its result line.
const PROGRAM: &str = "firmware";

#[global_allocator]
static HEAP: Linked<StaticPool<HEAP_BYTES, CriticalSectionLock>> = Linked::new(StaticPool::new());

/// The try-lock pool: main allocates from it in a loop, the SysTick handler tries to.
static TRY_HEAP: Linked<StaticPool<1024, TryLock>> = Linked::new(StaticPool::new());

/// SysTick interrupts handled (only the handler writes the counters: load and store,
/// which ARMv6-M has; it does not preempt itself).
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Handler allocations from `TRY_HEAP` that succeeded, and that were refused at once
/// because main was inside a `TRY_HEAP` call.
static TRY_OK: AtomicU32 = AtomicU32::new(0);
static TRY_REFUSED: AtomicU32 = AtomicU32::new(0);
/// Set by the handler when one of its checks fails.
static TICK_FAILED: AtomicBool = AtomicBool::new(false);
/// Interrupts main waits for before it stops (it keeps allocating until then).
const MIN_TICKS: u32 = 2000;

/// The SysTick handler's work: a root with a child from HEAP, a `Box` through the
/// global allocator, each filled and checked; then a try at `TRY_HEAP`.
fn tick_work(seed: u32) -> Result<(), Failure> {
    let root = HEAP
        .allocate_buffer(40)
        .map_err(|_| "tick: allocate_buffer failed")?;
    // SAFETY: `root` is a live root of HEAP of 40 bytes; the child is linked to it, and
    // neither is used after the free.
    unsafe {
        let child = HEAP
            .allocate_more(24, root)
            .map_err(|_| "tick: allocate_more failed")?;
        fill(root.as_ptr(), 40, seed);
        fill(child.as_ptr(), 24, !seed);
        let boxed = Box::new([seed; 6]);
        if !intact(root.as_ptr(), 40, seed)
            || !intact(child.as_ptr(), 24, !seed)
            || *boxed != [seed; 6]
        {
            return Err("tick: a block was overwritten");
        }
        HEAP.free_buffer(root);
    }
    match TRY_HEAP.allocate_buffer(24) {
        Ok(p) => {
            // SAFETY: `p` is a live root of TRY_HEAP of 24 bytes, freed after its check.
            unsafe {
                fill(p.as_ptr(), 24, seed);
                let ok = intact(p.as_ptr(), 24, seed);
                TRY_HEAP.free_buffer(p);
                if !ok {
                    return Err("tick: a try-lock block was overwritten");
                }
            }
            TRY_OK.store(TRY_OK.load(Relaxed) + 1, Relaxed);
        }
        Err(_) => TRY_REFUSED.store(TRY_REFUSED.load(Relaxed) + 1, Relaxed),
    }
    Ok(())
}

#[exception]
fn SysTick() {
    let n = TICKS.load(Relaxed);
    TICKS.store(n + 1, Relaxed);
    if tick_work(n).is_err() {
        TICK_FAILED.store(true, Relaxed);
    }
}

/// Main's side of the try-lock pool: roots filled and checked, in a loop.
fn try_heap_loop(seed: u32) -> Result<(), Failure> {
    for i in 0..8 {
        let p = TRY_HEAP
            .allocate_buffer(200)
            .map_err(|_| "main: TRY_HEAP refused")?;
        // SAFETY: `p` is a live root of TRY_HEAP of 200 bytes, freed after its check.
        unsafe {
            fill(p.as_ptr(), 200, seed + i);
            let ok = intact(p.as_ptr(), 200, seed + i);
            TRY_HEAP.free_buffer(p);
            if !ok {
                return Err("main: a try-lock block was overwritten");
            }
        }
    }
    Ok(())
}

/// A property value, as in MAPI's `SPropValue` (a tag and a value).
#[repr(C)]
#[derive(Clone, Copy)]
struct PropValue {
    tag: u32,
    /// An integer, or the length of the string at `text`.
    value: u32,
    /// A string linked to the row set's root, or null.
    text: *const u8,
}

/// A row, as in MAPI's `SRow`: its property values, linked to the row set's root.
#[repr(C)]
#[derive(Clone, Copy)]
struct Row {
    count: u32,
    props: *mut PropValue,
}

/// A row set, as in MAPI's `SRowSet`: a count and the rows that follow it, all in the
/// root buffer.
#[repr(C)]
struct RowSet {
    count: u32,
    rows: [Row; 0],
}

const PR_ROWID: u32 = 0x3000_0003;
const PR_DISPLAY_NAME: u32 = 0x3001_001E;
const PR_SIZE: u32 = 0x0E08_0003;
const ROWS: usize = 12;

/// Copies `text` into a buffer linked to `root`.
///
/// # Safety
/// `root` is a live root of HEAP.
unsafe fn linked_string(root: NonNull<u8>, text: &str) -> Result<*const u8, Failure> {
    // SAFETY: `root` is a live root of HEAP (the caller's precondition).
    let p = unsafe { HEAP.allocate_more(text.len(), root) }.map_err(|_| "allocate_more failed")?;
    // SAFETY: `p` is a fresh block of `text.len()` bytes, disjoint from `text`.
    unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), p.as_ptr(), text.len()) };
    Ok(p.as_ptr())
}

/// Builds the row set in one root, checks it, and frees it with one call.
fn mapi_row_set() -> Result<usize, Failure> {
    let bytes = size_of::<RowSet>() + ROWS * size_of::<Row>();
    let root = HEAP
        .allocate_buffer(bytes)
        .map_err(|_| "allocate_buffer failed")?;
    let set = root.cast::<RowSet>();
    // SAFETY: `root` is a live root of HEAP of `bytes` bytes, aligned to MIN_ALIGN, so
    // it holds the row set's header and its `ROWS` rows; every `allocate_more` below
    // links to it, and nothing is used after `free_buffer`.
    unsafe {
        (*set.as_ptr()).count = ROWS as u32;
        let rows = core::ptr::addr_of_mut!((*set.as_ptr()).rows).cast::<Row>();
        for i in 0..ROWS {
            let props = HEAP
                .allocate_more(3 * size_of::<PropValue>(), root)
                .map_err(|_| "allocate_more failed")?
                .cast::<PropValue>()
                .as_ptr();
            // A child of a child joins the same root.
            let name = format!("Message {i:02} from the linked allocator");
            let text = linked_string(NonNull::new_unchecked(props.cast()), &name)?;
            props.write(PropValue {
                tag: PR_ROWID,
                value: i as u32,
                text: core::ptr::null(),
            });
            props.add(1).write(PropValue {
                tag: PR_DISPLAY_NAME,
                value: name.len() as u32,
                text,
            });
            props.add(2).write(PropValue {
                tag: PR_SIZE,
                value: 1000 + i as u32,
                text: core::ptr::null(),
            });
            rows.add(i).write(Row { count: 3, props });
        }
        let stats = HEAP.stats();
        if stats.roots != 1 || stats.children != 2 * ROWS {
            return Err("the row set's stats are wrong");
        }
        // Read it all back.
        let mut text_bytes = 0;
        for i in 0..(*set.as_ptr()).count as usize {
            let row = rows.add(i).read();
            let props = core::slice::from_raw_parts(row.props, row.count as usize);
            if props[0].tag != PR_ROWID || props[0].value != i as u32 {
                return Err("a row id was overwritten");
            }
            if props[2].value != 1000 + i as u32 {
                return Err("a size was overwritten");
            }
            let text = core::slice::from_raw_parts(props[1].text, props[1].value as usize);
            let expected = format!("Message {i:02} from the linked allocator");
            if text != expected.as_bytes() {
                return Err("a display name was overwritten");
            }
            text_bytes += text.len();
        }
        // MAPIFreeBuffer: the rows, their properties and their strings go with it.
        HEAP.free_buffer(root);
        Ok(text_bytes)
    }
}

/// The same kind of data through `alloc`'s collections: each is a root of HEAP.
fn collections() -> Result<usize, Failure> {
    let mut names: Vec<String> = Vec::new();
    for i in 0..50 {
        let mut name = String::from("row ");
        name.push_str(&format!("{i}"));
        names.push(name);
    }
    let total: usize = names.iter().map(String::len).sum();
    if HEAP.stats().roots < 51 {
        return Err("the collections are not roots of the pool");
    }
    names.retain(|n| n.ends_with('7'));
    if names.len() != 5 {
        return Err("Vec::retain went wrong");
    }
    Ok(total)
}

/// Runs both with SysTick firing, until at least `MIN_TICKS` interrupts (and 20
/// rounds); then stops SysTick and checks that the pools are as empty as at the start.
fn run(mut syst: cortex_m::peripheral::SYST) -> Result<(usize, usize, usize, u32), Failure> {
    let pool = HEAP.backend();
    let capacity = pool.capacity();
    if pool.free_bytes() != capacity {
        return Err("the pool is not empty at the start");
    }
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(4_000);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
    let mut text = 0;
    let mut rounds = 0u32;
    while rounds < 20 || TICKS.load(Relaxed) < MIN_TICKS {
        text = mapi_row_set()?;
        collections()?;
        try_heap_loop(rounds)?;
        rounds += 1;
        if TICK_FAILED.load(Relaxed) {
            return Err("a check in the SysTick handler failed");
        }
        if rounds > 1_000_000 {
            return Err("SysTick does not fire");
        }
    }
    syst.disable_interrupt();
    syst.disable_counter();
    if TICK_FAILED.load(Relaxed) {
        return Err("a check in the SysTick handler failed");
    }
    // Both sides of the try-lock pool ran: the handler was served when main was out of
    // the pool, and refused at once (no deadlock) when it landed inside main's call.
    if TRY_OK.load(Relaxed) == 0 || TRY_REFUSED.load(Relaxed) == 0 {
        return Err("the try-lock pool was never both served and refused in the handler");
    }
    if TRY_HEAP.backend().check_integrity() != Ok(1) || !TRY_HEAP.stats().is_empty() {
        return Err("the try-lock pool did not coalesce back into one free block");
    }
    if !HEAP.stats().is_empty() {
        return Err("something leaked: stats are not empty");
    }
    if pool.free_bytes() != capacity || pool.check_integrity() != Ok(1) {
        return Err("the pool did not coalesce back into one free block");
    }
    Ok((capacity, text, pool.largest_free_block(), rounds))
}

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail(PROGRAM, "peripherals taken twice")
    };
    match run(peripherals.SYST) {
        Ok((capacity, text, largest, rounds)) => pass(
            PROGRAM,
            format_args!(
                "{}: {} rows with {} bytes of names built and freed {} times; \
                 {} SysTick interrupts allocated and freed too; try-lock pool: {} handler \
                 allocations served, {} refused at once while main held it; \
                 pool empty again ({} of {} bytes free in one block)",
                BOARD,
                ROWS,
                text,
                rounds,
                TICKS.load(Relaxed),
                TRY_OK.load(Relaxed),
                TRY_REFUSED.load(Relaxed),
                largest + 16,
                capacity
            ),
        ),
        Err(why) => fail(PROGRAM, why),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(PROGRAM, format_args!("panic: {info}"))
}
