#!/usr/bin/env bash
# Builds the Cortex-M3 firmware example (examples/firmware) in release, boots it in QEMU
# (board lm3s6965evb), checks its exit status AND its result line, and prints the sizes
# of its sections. Installs what it needs if missing: the thumbv7m-none-eabi target
# (rustup), qemu-system-arm and binutils (apt). Exits non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
firmware="$root/examples/firmware"
target=thumbv7m-none-eabi
elf="$firmware/target/$target/release/linked-alloc-firmware"
expected='^firmware: OK: '

say() { printf 'firmware.sh: %s\n' "$*"; }

# --- What it needs ------------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$target"; then
    say "adding the Rust target $target"
    rustup target add "$target"
fi
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

# --- Build ---------------------------------------------------------------------------
say "building $target release"
(cd "$firmware" && CARGO_TARGET_DIR="$firmware/target" cargo build --release --quiet)

# --- Run in QEMU ---------------------------------------------------------------------
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
timeout 120 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" >"$out" 2>&1 || status=$?
sed 's/^/  qemu| /' "$out"
if [ "$status" -ne 0 ]; then
    say "FAILED: QEMU exited with status $status (124 = timed out)"
    exit 1
fi
if ! grep -Eq "$expected" "$out"; then
    say "FAILED: exit status 0, but no line matching '$expected'"
    exit 1
fi

# --- Sizes ---------------------------------------------------------------------------
# readelf -SW: "[Nr] Name Type Address Off Size ..." (sizes in hex).
readelf -SW "$elf" | sed -E 's/^ *\[ *[0-9]+\] *//' |
    while read -r name _type _addr _off size _rest; do
        case "$name" in
        .vector_table | .text | .rodata | .data | .bss | .uninit)
            printf '  %-14s %7d bytes\n' "$name" "$((16#$size))"
            ;;
        esac
    done
say "OK"
