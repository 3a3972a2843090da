#!/usr/bin/env bash
# The common part of scripts/asan.sh and scripts/tsan.sh, sourced by them: nightly,
# `-Zsanitizer=$SANITIZER`, the standard library rebuilt with it (`-Zbuild-std`, needs
# the rust-src component), for x86_64-unknown-linux-gnu (an explicit target, so that
# build scripts and proc macros are built without the sanitizer), in a target directory
# of its own (target/$SANITIZER unless CARGO_TARGET_DIR is set) so that the instrumented
# build does not evict the normal one. Defines `sanitized_test ARGS...`, which runs
# `cargo +nightly test ARGS...` so, skipping the tests that cannot run under a sanitizer:
# the C programs of capi/tests/c_abi.rs (linked by cc without the sanitizer runtime;
# scripts/c-tests.sh runs them under valgrind) and the test that compares /proc/self
# figures with `bytes_mapped()` (the sanitizer's runtime maps memory of its own).
# Extra RUSTFLAGS may be given in SANITIZER_FLAGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=x86_64-unknown-linux-gnu
export RUSTFLAGS="-Zsanitizer=$SANITIZER ${SANITIZER_FLAGS:-} ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=$SANITIZER ${SANITIZER_FLAGS:-} ${RUSTDOCFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/$SANITIZER"

rustup component add --toolchain nightly rust-src >/dev/null

sanitized_test() {
    echo "==> $SANITIZER: cargo +nightly test $* (target $target, build-std)"
    cargo +nightly test -Zbuild-std --target "$target" "$@" \
        -- --skip c_program_ --skip the_process_figures_agree_with_bytes_mapped
}
