#!/usr/bin/env bash
# The C tests of the MAPI C ABI (crate linked-alloc-capi): for every backend feature
# of the crate, builds the static library, compiles capi/tests/c/mapi_test.c against
# it with the system C compiler, runs it natively and under valgrind
# (--leak-check=full --error-exitcode=1). The work is done by the Rust test
# capi/tests/c_abi.rs, so `cargo test --workspace` runs the same checks for the
# default backend. Exits non-zero on any failure.
#
# Needs: cargo, a C compiler ($CC, else cc), valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo "${CC:-cc}" valgrind; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "c-tests: $tool is not installed" >&2
        exit 1
    fi
done

# The backends the crate offers: the features of capi/Cargo.toml that pick one.
backends=()
for feature in system mmap pool; do
    if grep -q "^$feature = \[\"dep:" capi/Cargo.toml; then
        backends+=("$feature")
    fi
done
if [ "${#backends[@]}" -eq 0 ]; then
    echo "c-tests: no backend feature found in capi/Cargo.toml" >&2
    exit 1
fi

# The Rust test skips its valgrind run where valgrind is missing; here it must run.
export LINKED_ALLOC_REQUIRE_VALGRIND=1
for backend in "${backends[@]}"; do
    printf '\n--> C tests over the %s backend\n' "$backend"
    cargo test -p linked-alloc-capi --no-default-features --features "$backend" \
        --test c_abi -- --nocapture --test-threads=1
done
printf '\nC tests passed for: %s\n' "${backends[*]}"
