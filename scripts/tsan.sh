#!/usr/bin/env bash
# Runs the tests whose paths cross threads under ThreadSanitizer: nightly,
# `-Zsanitizer=thread`, the standard library rebuilt with it (`-Zbuild-std`, needs the
# rust-src component), for x86_64-unknown-linux-gnu (an explicit target, so that build
# scripts and proc macros are built without the sanitizer).
#
#   bash scripts/tsan.sh [extra cargo test arguments]
#
# What runs: the mmap backend's own tests (roots freed on another thread, heaps handed
# over when threads exit, several threads carving children of one root), the system
# backend's, and the core's conformance and MAPI suites on every backend (threads making
# roots and children at once). `--cfg=rustix_use_libc`: rustix's default Linux backend
# makes raw system calls that TSan cannot see, so a mapping unmapped by one thread and
# mapped again by another at the same address would look like a race; with the libc
# backend TSan sees the calls. The test that compares /proc/self figures with
# `bytes_mapped()` is skipped: the sanitizer's runtime maps memory of its own. Uses its own target directory (target/tsan unless
# CARGO_TARGET_DIR is set).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
export RUSTFLAGS="-Zsanitizer=thread --cfg=rustix_use_libc ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=thread --cfg=rustix_use_libc ${RUSTDOCFLAGS:-}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/tsan"

rustup component add --toolchain nightly rust-src >/dev/null

echo "==> tsan: mmap and system backends, conformance and MAPI suites (target $target, build-std)"
cargo +nightly test -Zbuild-std --target "$target" \
    -p linked-alloc-mmap -p linked-alloc-system --lib --tests "$@" \
    -- --skip the_process_figures_agree_with_bytes_mapped
cargo +nightly test -Zbuild-std --target "$target" \
    -p linked-alloc --test conformance --test mapi "$@"
echo "==> tsan: no data race reported"
