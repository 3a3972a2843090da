#!/usr/bin/env bash
# Miri on other targets than the host: 32-bit (i686-unknown-linux-gnu) and big-endian
# (s390x-unknown-linux-gnu) by default, or the targets given as arguments. Miri
# interprets them without a cross toolchain (`cargo +nightly miri setup --target T`
# builds the sysroot; scripts/setup.sh does it). No crate in these builds compiles C.
#
# A subset, to keep each target near 2 minutes: the conformance suite on every backend
# (system, mmap, pool) and the pool's own unit and integration tests on i686 (its tables
# are `N / 64` words of `usize` on 32-bit); on s390x its unit tests, bad pointers and
# several regions. Iteration counts are cut under cfg(miri) as in
# the host's Miri run. The system and mmap backends' own tests pass there too, but take
# about 3 more minutes per target:
#   cargo +nightly miri test --target T -p linked-alloc-system -p linked-alloc-mmap --lib --tests
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(i686-unknown-linux-gnu s390x-unknown-linux-gnu)
for t in "${targets[@]}"; do
    t0=$SECONDS
    printf -- '--> miri on %s\n' "$t"
    cargo +nightly miri test --target "$t" -p linked-alloc --test conformance
    if [ "$t" = s390x-unknown-linux-gnu ]; then
        # Big-endian: the pool's own tests, its bad pointers and its regions (bitmaps,
        # links and region tags); the other pool tests run on i686 and the host.
        cargo +nightly miri test --target "$t" -p linked-alloc-pool --lib \
            --test bad_pointers --test several_regions
    else
        cargo +nightly miri test --target "$t" -p linked-alloc-pool --lib --tests
    fi
    printf -- '<-- miri on %s: ok in %ss\n' "$t" $((SECONDS - t0))
done
