#!/usr/bin/env bash
# Runs the workspace's tests (unit, integration, doc tests) under AddressSanitizer, the
# way scripts/sanitized.sh says (nightly, build-std, a target directory of its own).
#
#   bash scripts/asan.sh [extra cargo test arguments]
#
# Leak detection is on: a test that leaks (and not on purpose) fails.
SANITIZER=address
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1}"
source "$(dirname "$0")/sanitized.sh"

sanitized_test --workspace -Zdoctest-xcompile "$@"
echo "==> asan: all tests passed under AddressSanitizer"
