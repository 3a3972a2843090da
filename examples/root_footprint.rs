//! Resident bytes per small root without children: 1 M roots of 64 bytes made through
//! `GlobalAlloc::alloc`, each written, and the growth of the process's resident memory
//! (`VmRSS` of `/proc/self/status`, Linux) divided by their number. Each allocator is
//! measured in a process of its own (this program, started again), so that none finds
//! memory that another left.
//!
//! `cargo run --release --example root_footprint [-- ROOTS]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;

use linked_alloc::Linked;
use linked_alloc_mmap::MmapPages;
use linked_alloc_system::SystemHeap;

/// Set in the environment of the process that measures one allocator: its name.
const ALLOCATOR_ENV: &str = "ROOT_FOOTPRINT_ALLOCATOR";
/// The allocators measured.
const ALLOCATORS: [&str; 3] = ["malloc", "SystemHeap", "MmapPages"];

/// `VmRSS` in bytes.
fn resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kb: usize = line[6..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("kB");
    kb * 1024
}

/// Makes `n` roots of 64 bytes on `alloc` and returns the resident bytes per root; the
/// roots are freed afterwards.
fn measure<G: GlobalAlloc>(alloc: &G, n: usize) -> f64 {
    let layout = Layout::from_size_align(64, 8).expect("a valid layout");
    // The list of roots first, so that its own pages are in the baseline.
    // Written once, so that its pages are resident before the count starts.
    let mut roots = vec![std::ptr::null_mut::<u8>(); n];
    roots.fill(std::ptr::null_mut());
    let before = resident();
    for slot in &mut roots {
        // SAFETY: a valid, non-zero layout.
        let p = unsafe { alloc.alloc(layout) };
        assert!(!p.is_null(), "out of memory");
        // SAFETY: `p` is a fresh block of 64 bytes.
        unsafe { p.write_bytes(0xa5, 64) };
        *slot = p;
    }
    let per_root = (resident() - before) as f64 / n as f64;
    for p in roots {
        // SAFETY: `p` is a live block of `layout` from `alloc`.
        unsafe { alloc.dealloc(p, layout) };
    }
    per_root
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1 << 20, |a| a.parse().expect("ROOTS is a number"));
    if let Ok(name) = std::env::var(ALLOCATOR_ENV) {
        let per_root = match name.as_str() {
            "malloc" => measure(&System, n),
            "SystemHeap" => measure(&Linked::new(SystemHeap::new()), n),
            "MmapPages" => measure(&Linked::new(MmapPages::new()), n),
            other => panic!("unknown allocator {other}"),
        };
        println!("{per_root:.1}");
        return;
    }
    println!("resident bytes per 64-byte root without children ({n} roots)\n");
    println!("| allocator | bytes per root |");
    println!("| --- | ---: |");
    for name in ALLOCATORS {
        let out = Command::new(std::env::current_exe().expect("this program"))
            .arg(n.to_string())
            .env(ALLOCATOR_ENV, name)
            .output()
            .expect("the measuring process runs");
        assert!(out.status.success(), "{name}: {out:?}");
        let figure = String::from_utf8_lossy(&out.stdout);
        println!("| {name} | {} |", figure.trim());
    }
}
