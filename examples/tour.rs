//! The tour: builds a MAPI-style row set (an `SRowSet` of rows, each with an array of
//! property values whose strings are linked children) on each backend, prints what is
//! live and how long it took, and frees the whole row set with one call.
//!
//! Run it with `cargo run --release --example tour`.

use std::fmt::Write as _;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use linked_alloc::{Linked, LinkedAllocator, Stats};
// MAPI's `SPropValue` and `SRow`, as the benches' row-set workload builds them too.
use linked_alloc_testkit::mapi_rows::{PropValue, Row};

/// The row set, as in MAPI's `SRowSet`: a count followed by the rows.
#[repr(C)]
struct RowSet {
    count: u32,
    rows: *mut Row,
}

const ROWS: usize = 20_000;
const PROPS: usize = 8;
const NAMES: [&str; PROPS] = [
    "Subject",
    "From",
    "To",
    "Cc",
    "Received",
    "Size",
    "Importance",
    "Categories",
];

/// What one backend did.
struct Report {
    backend: &'static str,
    live: Stats,
    build: Duration,
    free: Duration,
    after: Stats,
}

/// Builds the row set under one root with the MAPI-style calls, checks every string,
/// then frees it in one call.
fn tour<B: LinkedAllocator>(backend: &'static str, heap: &Linked<B>, texts: &[String]) -> Report {
    let start = Instant::now();
    let root = heap
        .allocate_buffer(size_of::<RowSet>())
        .expect("MAPIAllocateBuffer");
    let set = root.cast::<RowSet>();
    // SAFETY: `root` is a live root of `heap`, so every `allocate_more` on it is valid;
    // each block is written before it is read, within its size and alignment
    // (MIN_ALIGN covers the structs' alignment).
    unsafe {
        let rows = heap
            .allocate_more(ROWS * size_of::<Row>(), root)
            .expect("MAPIAllocateMore")
            .cast::<Row>();
        set.write(RowSet {
            count: ROWS as u32,
            rows: rows.as_ptr(),
        });
        for r in 0..ROWS {
            let props = heap
                .allocate_more(PROPS * size_of::<PropValue>(), rows.cast())
                .expect("MAPIAllocateMore")
                .cast::<PropValue>();
            for p in 0..PROPS {
                let text = &texts[r * PROPS + p];
                // The string is linked to the props array: it joins the same root.
                let s = heap
                    .allocate_more(text.len() + 1, props.cast())
                    .expect("MAPIAllocateMore");
                s.as_ptr()
                    .copy_from_nonoverlapping(text.as_ptr(), text.len());
                s.as_ptr().add(text.len()).write(0);
                props.add(p).write(PropValue {
                    tag: 0x001F_0000 | p as u32,
                    len: text.len() as u32,
                    string: s.as_ptr(),
                });
            }
            rows.add(r).write(Row {
                count: PROPS as u32,
                props: props.as_ptr(),
            });
        }
    }
    let build = start.elapsed();
    let live = heap.stats();
    check(set);
    let start = Instant::now();
    // SAFETY: `root` is a live root of `heap`; nothing uses the row set afterwards.
    unsafe { heap.free_buffer(root) };
    let free = start.elapsed();
    Report {
        backend,
        live,
        build,
        free,
        after: heap.stats(),
    }
}

/// Reads the row set back and checks every string.
fn check(set: NonNull<RowSet>) {
    let mut expected = String::new();
    // SAFETY: `tour` wrote the whole row set, and its root is live.
    unsafe {
        let set = set.as_ref();
        assert_eq!(set.count as usize, ROWS);
        let rows = std::slice::from_raw_parts(set.rows, set.count as usize);
        for (r, row) in rows.iter().enumerate() {
            let props = std::slice::from_raw_parts(row.props, row.count as usize);
            for (p, (prop, name)) in props.iter().zip(NAMES).enumerate() {
                expected.clear();
                write!(expected, "{name} of message {r}").unwrap();
                let got = std::slice::from_raw_parts(prop.string, prop.len as usize);
                assert_eq!(got, expected.as_bytes(), "row {r} prop {p} was overwritten");
                assert_eq!(*prop.string.add(prop.len as usize), 0);
                assert_eq!(prop.tag & 0xffff, p as u32);
            }
        }
    }
}

/// A fixed 16 MiB region, as firmware would have it (in `.bss`: no init call).
static POOL: Linked<linked_alloc_pool::StaticPool<{ 16 << 20 }>> =
    Linked::new(linked_alloc_pool::StaticPool::new());

fn main() {
    println!(
        "A MAPI-style row set: 1 root, {ROWS} rows x {PROPS} string properties, built with \
         allocate_buffer / allocate_more, freed with one free_buffer.\n"
    );
    // The strings are made once, outside the timed part: only the allocator is timed.
    let texts: Vec<String> = (0..ROWS)
        .flat_map(|r| {
            NAMES
                .iter()
                .map(move |name| format!("{name} of message {r}"))
        })
        .collect();
    let reports = vec![
        tour(
            "SystemHeap",
            &Linked::new(linked_alloc_system::SystemHeap::new()),
            &texts,
        ),
        tour(
            "MmapPages",
            &Linked::new(linked_alloc_mmap::MmapPages::new()),
            &texts,
        ),
        tour("StaticPool", &POOL, &texts),
    ];
    println!(
        "{:<12} {:>6} {:>9} {:>12} {:>10} {:>10} {:>8}",
        "backend", "roots", "children", "bytes", "build", "free", "after"
    );
    for r in &reports {
        println!(
            "{:<12} {:>6} {:>9} {:>12} {:>8.2}ms {:>8.2}ms {:>8}",
            r.backend,
            r.live.roots,
            r.live.children,
            r.live.bytes_in_use,
            r.build.as_secs_f64() * 1e3,
            r.free.as_secs_f64() * 1e3,
            if r.after.is_empty() { "empty" } else { "LEAK" },
        );
        assert!(r.after.is_empty(), "{} leaked: {:?}", r.backend, r.after);
    }
    println!("\nEvery string checked before the free; every backend back to empty.");
}
