#!/usr/bin/env bash
# Runs the workspace's tests (unit, integration, doc tests) under AddressSanitizer:
# nightly, `-Zsanitizer=address`, the standard library rebuilt with it (`-Zbuild-std`,
# needs the rust-src component), for x86_64-unknown-linux-gnu (an explicit target, so
# that build scripts and proc macros are built without the sanitizer).
#
#   bash scripts/asan.sh [extra cargo test arguments]
#
# Leak detection is on: a test that leaks (and not on purpose) fails. The C programs of
# capi/tests/c_abi.rs are skipped: that test builds the C ABI library with these flags
# but links it with cc without the sanitizer runtime (scripts/c-tests.sh runs them
# under valgrind instead); so is the test that compares /proc/self figures with
# `bytes_mapped()` (the sanitizer's runtime maps memory of its own). Uses its own
# target directory (target/asan unless CARGO_TARGET_DIR is set) so that the
# instrumented build does not evict the normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
export RUSTFLAGS="-Zsanitizer=address ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=address ${RUSTDOCFLAGS:-}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/asan"

rustup component add --toolchain nightly rust-src >/dev/null

echo "==> asan: cargo +nightly test --workspace (target $target, build-std)"
cargo +nightly test --workspace -Zbuild-std -Zdoctest-xcompile --target "$target" "$@" \
    -- --skip c_program_ --skip the_process_figures_agree_with_bytes_mapped
echo "==> asan: all tests passed under AddressSanitizer"
