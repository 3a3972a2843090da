#!/usr/bin/env bash
# Builds the firmware example (examples/firmware) in release for its two boards, boots
# each in QEMU (Cortex-M3 lm3s6965evb, thumbv7m-none-eabi; Cortex-M0 microbit,
# thumbv6m-none-eabi, feature `microbit`), checks its exit status AND its result line,
# and prints the sizes of its sections. Installs what it needs if missing: the targets
# (rustup), qemu-system-arm and binutils (apt). Exits non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
firmware="$root/examples/firmware"
expected='^firmware: OK: '

say() { printf 'firmware.sh: %s\n' "$*"; }

# --- What it needs ------------------------------------------------------------------
for target in thumbv7m-none-eabi thumbv6m-none-eabi; do
    if ! rustup target list --installed | grep -qx "$target"; then
        say "adding the Rust target $target"
        rustup target add "$target"
    fi
done
missing=()
command -v qemu-system-arm >/dev/null 2>&1 || missing+=(qemu-system-arm)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Build, run in QEMU, sizes: one board ------------------------------------------
# board TARGET CPU MACHINE [cargo features]
board() {
    local target=$1 cpu=$2 machine=$3 features=${4:-}
    local elf="$firmware/target/$target/release/linked-alloc-firmware"
    say "building $target release${features:+ (features: $features)}"
    (cd "$firmware" && CARGO_TARGET_DIR="$firmware/target" cargo build --release --quiet \
        --target "$target" ${features:+--features "$features"})

    local out status=0
    out="$(mktemp)"
    timeout 120 qemu-system-arm -cpu "$cpu" -machine "$machine" -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" >"$out" 2>&1 || status=$?
    sed 's/^/  qemu| /' "$out"
    if [ "$status" -ne 0 ]; then
        say "FAILED on $machine: QEMU exited with status $status (124 = timed out)"
        rm -f "$out"
        exit 1
    fi
    if ! grep -Eq "$expected" "$out"; then
        say "FAILED on $machine: exit status 0, but no line matching '$expected'"
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"

    # readelf -SW: "[Nr] Name Type Address Off Size ..." (sizes in hex).
    say "sections of the $machine image ($target)"
    readelf -SW "$elf" | sed -E 's/^ *\[ *[0-9]+\] *//' |
        while read -r name _type _addr _off size _rest; do
            case "$name" in
            .vector_table | .text | .rodata | .data | .bss | .uninit)
                printf '  %-14s %7d bytes\n' "$name" "$((16#$size))"
                ;;
            esac
        done
    # The allocator's own code, estimated: the text symbols of linked-alloc and the
    # pool, and the GlobalAlloc shims the compiler generates (__rust_alloc and co.,
    # into which the pool's calls are inlined). Not exact either way: code inlined
    # into the firmware's own functions (main, SysTick) is not counted, while the
    # image has two pools (the critical-section heap and the try-lock pool, so some
    # functions twice) and check_integrity (a self-test) is counted.
    local n=0 bytes=0 size kind name
    while read -r size kind name; do
        n=$((n + 1))
        bytes=$((bytes + 16#$size))
    done < <(nm --size-sort -C "$elf" | grep -E '^[0-9a-f]+ [tT] ' |
        grep -E 'linked_alloc(_pool)?::|__rust_(alloc|dealloc|realloc|alloc_zeroed)$')
    printf '  allocator .text %6d bytes in %d functions (nm: linked_alloc*, __rust_*alloc*)\n' "$bytes" "$n"
}

board thumbv7m-none-eabi cortex-m3 lm3s6965evb
board thumbv6m-none-eabi cortex-m0 microbit microbit
say "OK"
