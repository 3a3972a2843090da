#!/usr/bin/env bash
# Runs the tests whose paths cross threads under ThreadSanitizer, the way
# scripts/sanitized.sh says (nightly, build-std, a target directory of its own).
#
#   bash scripts/tsan.sh [extra cargo test arguments]
#
# What runs: the mmap backend's own tests (roots freed on another thread, heaps handed
# over when threads exit, several threads carving children of one root), the system
# backend's, and the core's conformance and MAPI suites on every backend (threads making
# roots and children at once). `--cfg=rustix_use_libc`: rustix's default Linux backend
# makes raw system calls that TSan cannot see, so a mapping unmapped by one thread and
# mapped again by another at the same address would look like a race; with the libc
# backend TSan sees the calls. A report fails the run (`halt_on_error=1`).
SANITIZER=thread
SANITIZER_FLAGS="--cfg=rustix_use_libc"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
source "$(dirname "$0")/sanitized.sh"

sanitized_test -p linked-alloc-mmap -p linked-alloc-system --lib --tests "$@"
sanitized_test -p linked-alloc --test conformance --test mapi "$@"
echo "==> tsan: no data race reported"
