//! The conformance suite, stamped out for every backend of the workspace.

mod system {
    linked_alloc::conformance_suite!(linked_alloc_system::SystemHeap::new());
}

mod mmap {
    linked_alloc::conformance_suite!(linked_alloc_mmap::MmapPages::new());
}
