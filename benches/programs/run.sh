#!/usr/bin/env bash
# The real-programs benchmark: builds the program once per allocator and runs them side
# by side (see benches/README.md, "Real programs"). Arguments go to the runner:
#   bash benches/programs/run.sh [--quick] [--runs N] [--runs ALLOC=N] [--alloc A,B,...]
# Fails on a failed build, a crash or a checksum mismatch; never on a timing.
set -euo pipefail
cd "$(dirname "$0")"
exec cargo run --release --quiet --bin run -- "$@"
