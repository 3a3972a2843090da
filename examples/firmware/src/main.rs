//! linked-alloc on bare metal: a Cortex-M3 firmware whose global allocator is
//! `Linked<StaticPool<N>>`, with no OS and no init call.
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

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::size_of;
use core::ptr::NonNull;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use linked_alloc::Linked;
use linked_alloc_pool::StaticPool;

/// The heap: 32 KiB of the board's 64 KiB of RAM, in `.bss`.
const HEAP_BYTES: usize = 32 * 1024;

#[global_allocator]
static HEAP: Linked<StaticPool<HEAP_BYTES>> = Linked::new(StaticPool::new());

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

/// Why a check failed.
type Failure = &'static str;

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

/// Runs both, then checks that the pool is as empty as at the start.
fn run() -> Result<(usize, usize, usize), Failure> {
    let pool = HEAP.backend();
    let capacity = pool.capacity();
    if pool.free_bytes() != capacity {
        return Err("the pool is not empty at the start");
    }
    let mut text = 0;
    for _ in 0..20 {
        text = mapi_row_set()?;
        collections()?;
    }
    if !HEAP.stats().is_empty() {
        return Err("something leaked: stats are not empty");
    }
    if pool.free_bytes() != capacity || pool.check_integrity() != Ok(1) {
        return Err("the pool did not coalesce back into one free block");
    }
    Ok((capacity, text, pool.largest_free_block()))
}

#[entry]
fn main() -> ! {
    match run() {
        Ok((capacity, text, largest)) => {
            hprintln!(
                "firmware: OK: {} rows with {} bytes of names built and freed 20 times; \
                 pool empty again ({} of {} bytes free in one block)",
                ROWS,
                text,
                largest + 16,
                capacity
            );
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(why) => {
            hprintln!("firmware: FAILED: {}", why);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware: FAILED: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
