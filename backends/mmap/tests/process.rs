//! The process's own figures (`/proc/self/status`, `/proc/self/maps`) against
//! `MmapPages::bytes_mapped()`: a test binary of its own, with one test, so that no
//! other test maps memory meanwhile. Linux only, not under Miri.
#![cfg(all(target_os = "linux", not(miri)))]

use core::alloc::Layout;
use core::ptr::NonNull;

use linked_alloc::LinkedAllocator;
use linked_alloc::conformance::pattern;
use linked_alloc_mmap::MmapPages;
use linked_alloc_testkit::workloads::sizes::Rng;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("test layouts are valid")
}

/// Fills a block with the pattern of `seed`.
fn fill(p: NonNull<u8>, len: usize, seed: usize) {
    // SAFETY: callers pass live blocks of at least `len` bytes that only they use.
    unsafe { pattern::fill(p, len, seed) }
}

/// The figure of `/proc/self/status`'s `name` line, in bytes.
fn proc_status(name: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"));
    let kb: usize = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kb * 1024
}

/// The number of mappings of the process (lines of `/proc/self/maps`).
fn proc_maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

/// Many live roots, freed in a scattered order, leave the process's own figures in
/// agreement with `bytes_mapped()`, and take few mappings: the OS sees segments, not
/// roots.
#[test]
fn the_process_figures_agree_with_bytes_mapped() {
    let pages = MmapPages::new();
    // Warm up: the allocator's own state and this thread's heap.
    let r = pages.allocate_root(layout(8, 8)).expect("root");
    // SAFETY: a live root.
    unsafe { pages.free_root(r) };
    let n = 300_000;
    // The list of roots and the order of the frees are made first, so that their memory
    // (from the system allocator) is in the baseline.
    let mut roots = Vec::with_capacity(n);
    let order = Rng::new(0x9e37_79b9).permutation(n);
    let (vm0, maps0, mapped0) = (proc_status("VmSize:"), proc_maps(), pages.bytes_mapped());
    for i in 0..n {
        let r = pages.allocate_root(layout(64, 8)).expect("root");
        fill(r, 64, i);
        roots.push(r);
    }
    let grown = pages.bytes_mapped() - mapped0;
    let vm = proc_status("VmSize:") - vm0;
    // The test harness may map a little meanwhile (a thread's stack): 1 MiB of slack.
    assert!(
        vm.abs_diff(grown) <= 1 << 20,
        "VmSize grew {vm}, bytes_mapped {grown}"
    );
    assert!(
        proc_maps() <= maps0 + 10,
        "{} mappings for {n} roots",
        proc_maps() - maps0
    );
    // Every other root, in a scattered order.
    for &i in &order[n / 2..] {
        // SAFETY: a live root, freed once.
        unsafe { pages.free_root(roots[i]) };
    }
    assert_eq!(pages.unmap_failures(), 0);
    let vm = proc_status("VmSize:") - vm0;
    let now = pages.bytes_mapped() - mapped0;
    assert!(
        vm.abs_diff(now) <= 1 << 20,
        "VmSize {vm}, bytes_mapped {now}"
    );
    for &i in &order[..n / 2] {
        // SAFETY: a live root, freed once.
        unsafe { pages.free_root(roots[i]) };
    }
    pages.trim_cache();
    assert_eq!(pages.bytes_mapped(), 0);
    let vm = proc_status("VmSize:");
    assert!(
        vm <= vm0 + (1 << 20),
        "VmSize {vm} after trim, {vm0} before"
    );
    assert!(proc_maps() <= maps0 + 2);
}
