//! # linked-alloc-benches: the benchmarks of linked-alloc (not published)
//!
//! This library is empty: the package holds the criterion benches (`mapi.rs`,
//! `children.rs`, `global_alloc.rs`) and the quick comparison (`examples/compare.rs`),
//! all over the workloads of `linked-alloc-testkit`. It is a crate of its own so that
//! the core crate's tests build neither criterion nor the C library talloc.
//!
//! ```sh
//! cargo bench -p linked-alloc-benches --features talloc
//! cargo run --release -p linked-alloc-benches --example compare --features talloc
//! ```
//!
//! Feature `talloc`: also measure the C library talloc (`libtalloc-dev`) as a peer.
