#!/usr/bin/env bash
# Fuzzes every backend against the shadow model of fuzz/src (see RELIABILITY.md).
#
#   bash scripts/fuzz.sh [seconds-per-target] [target ...]
#       (default: 60 s each for system, mmap and pool)
#
# 1. Installs cargo-fuzz if missing (nightly is needed to run it).
# 2. Replays the saved crash inputs of fuzz/regressions/ and the deterministic
#    pseudo-random inputs, and checks that the model catches broken backends
#    (`cargo test` in fuzz/, stable).
# 3. Runs each target (system, mmap, pool) for the given time, one after another, in one
#    process (one core), with AddressSanitizer and debug assertions on, starting from
#    fuzz/corpus/<target> (kept between runs, not in git) and fuzz/regressions/<target>.
#    Built with `--no-trace-compares`: the inputs are structured (`arbitrary`), so the
#    comparison tracing buys little, and it cost 55% of the time (perf; a replay of
#    1000 corpus inputs took 2.35 s with it and 1.00 s without).
#    Environment, for long runs: FUZZ_SANITIZER=none builds without AddressSanitizer
#    (into fuzz/target-none, 2.5x the executions per second on pool; the model's
#    checks still run, and debug assertions stay on); FUZZ_MAX_LEN=n caps the input
#    length in bytes (libFuzzer's -max_len; by default libFuzzer picks up to 4096).
#    Prints the executions of each target. Exits non-zero on the first crash, naming
#    the input to keep in fuzz/regressions/<target>/ once the bug is fixed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(system mmap pool)
sanitizer=${FUZZ_SANITIZER:-address}
flags=(-a --no-trace-compares -s "$sanitizer")
[ "$sanitizer" = address ] || flags+=(--target-dir target-"$sanitizer")
extra=()
[ -z "${FUZZ_MAX_LEN:-}" ] || extra+=(-max_len="$FUZZ_MAX_LEN")

if ! command -v cargo-fuzz >/dev/null; then
    echo "==> fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "==> fuzz: replaying fuzz/regressions and pseudo-random inputs; mutants"
cargo test --release --quiet

echo "==> fuzz: building the targets (nightly, sanitizer: $sanitizer, debug assertions)"
cargo +nightly fuzz build "${flags[@]}" 2>&1 | tail -1

summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "regressions/$t"
    log=$(mktemp)
    echo "==> fuzz: $t for ${secs}s"
    status=0
    cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" "regressions/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || status=$?
    runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
    if [ "$status" -ne 0 ]; then
        tail -40 "$log"
        crash=$(grep -Eo 'artifacts/[^ ]+' "$log" | head -1 || true)
        echo "==> fuzz: $t FAILED (status $status) after ${execs:-?} executions; input: fuzz/${crash:-artifacts/$t}"
        echo "    replay: cargo +nightly fuzz run ${flags[*]} $t ${crash:-artifacts/$t/<input>}"
        echo "    print:  INPUT=${crash:-artifacts/$t/<input>} cargo test --test replay -- --ignored --nocapture print_input"
        rm -f "$log"
        exit 1
    fi
    echo "    $t: ${execs:-?} executions (${runs:-no summary})"
    summary+=("$t: ${execs:-?} executions in ${secs}s")
    rm -f "$log"
done

echo "==> fuzz: all targets passed"
printf '    %s\n' "${summary[@]}"
