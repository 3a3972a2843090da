//! The program's `#[global_allocator]`, chosen by exactly one cargo feature.

#[cfg(any(
    all(feature = "system", feature = "mimalloc"),
    all(feature = "system", feature = "linked-system"),
    all(feature = "system", feature = "linked-mmap"),
    all(feature = "system", feature = "linked-pool"),
    all(feature = "mimalloc", feature = "linked-system"),
    all(feature = "mimalloc", feature = "linked-mmap"),
    all(feature = "mimalloc", feature = "linked-pool"),
    all(feature = "linked-system", feature = "linked-mmap"),
    all(feature = "linked-system", feature = "linked-pool"),
    all(feature = "linked-mmap", feature = "linked-pool"),
))]
compile_error!(
    "choose one allocator feature: `--no-default-features --features <system|mimalloc|linked-system|linked-mmap|linked-pool>`"
);

#[cfg(not(any(
    feature = "system",
    feature = "mimalloc",
    feature = "linked-system",
    feature = "linked-mmap",
    feature = "linked-pool",
)))]
compile_error!(
    "choose an allocator feature: system, mimalloc, linked-system, linked-mmap or linked-pool"
);

/// Bytes of the `linked-pool` variant's `StaticPool`: several times the program's peak
/// (about 115 MiB resident with this pool at full size). It lives in `.bss`, so only
/// the pages the pool touches become resident; an exhausted pool makes the program
/// abort, which the runner reports as a failure. (rustc's const evaluation of the
/// `static` takes time and memory in proportion to `N`: 1 GiB cost about 10 s of build.)
#[cfg(feature = "linked-pool")]
pub const POOL_BYTES: usize = 512 << 20;

/// std's allocator (the platform heap: glibc `malloc` here), the reference.
#[cfg(feature = "system")]
#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

/// mimalloc, through the `mimalloc` crate.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `Linked<SystemHeap>`: every allocation a root over the platform heap.
#[cfg(feature = "linked-system")]
#[global_allocator]
static GLOBAL: linked_alloc::Linked<linked_alloc_system::SystemHeap> =
    linked_alloc::Linked::new(linked_alloc_system::SystemHeap::new());

/// `Linked<MmapPages>`: every allocation a root over anonymous pages.
#[cfg(feature = "linked-mmap")]
#[global_allocator]
static GLOBAL: linked_alloc::Linked<linked_alloc_mmap::MmapPages> =
    linked_alloc::Linked::new(linked_alloc_mmap::MmapPages::new());

/// `Linked<StaticPool<POOL_BYTES>>`: every allocation a root in a fixed region.
#[cfg(feature = "linked-pool")]
#[global_allocator]
static GLOBAL: linked_alloc::Linked<linked_alloc_pool::StaticPool<POOL_BYTES>> =
    linked_alloc::Linked::new(linked_alloc_pool::StaticPool::new());

/// The name of the allocator this binary was built with, as the runner spells it.
pub const NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else if cfg!(feature = "linked-system") {
    "linked-system"
} else if cfg!(feature = "linked-mmap") {
    "linked-mmap"
} else if cfg!(feature = "linked-pool") {
    "linked-pool"
} else {
    "system"
};
