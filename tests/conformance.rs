//! The conformance suite, stamped out for every backend of the workspace.

mod system {
    linked_alloc::conformance_suite!(linked_alloc_system::SystemHeap::new());
}

mod mmap {
    linked_alloc::conformance_suite!(linked_alloc_mmap::MmapPages::new());
}

mod pool {
    use linked_alloc_pool::StaticPool;

    /// Large enough for the suite's biggest check: children of every size up to 4100
    /// bytes, each aligned to 4096, under one root (about 4100 pages, 16.8 MB).
    #[cfg(not(miri))]
    const BYTES: usize = 32 << 20;
    /// The suite's sizes are cut under Miri (the largest check needs about 150 KB).
    #[cfg(miri)]
    const BYTES: usize = 512 << 10;

    // A pool of its own for each test, in a `static` of that test: too big for a test
    // thread's stack, and untouched pages of `.bss` cost nothing.
    linked_alloc::conformance_suite!({
        static POOL: StaticPool<BYTES> = StaticPool::new();
        &POOL
    });
}
