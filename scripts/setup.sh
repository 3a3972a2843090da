#!/usr/bin/env bash
# Installs what the checks need on a fresh machine that has rustup with stable and
# nightly toolchains: rustup components and targets, Debian packages, cargo tools.
# Idempotent: skips what is there already.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> setup: %s\n' "$*"; }

log "rustup components (stable: rustfmt, clippy; nightly: miri, rust-src)"
rustup component add rustfmt clippy >/dev/null
rustup component add --toolchain nightly miri rust-src >/dev/null
rustup target add thumbv7m-none-eabi thumbv6m-none-eabi x86_64-pc-windows-gnu >/dev/null
cargo +nightly miri setup >/dev/null 2>&1 || cargo +nightly miri setup
# Miri's sysroots for the 32-bit and big-endian runs (scripts/miri-targets.sh).
for t in i686-unknown-linux-gnu s390x-unknown-linux-gnu; do
    cargo +nightly miri setup --target "$t" >/dev/null 2>&1 || cargo +nightly miri setup --target "$t"
done
log "MSRV toolchain (the workspace's rust-version), minimal profile"
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal >/dev/null

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v cc >/dev/null || need_apt+=(gcc)
[ -e /usr/include/talloc.h ] || need_apt+=(libtalloc-dev)
# The Windows tests under Wine (scripts/wine.sh): the 64-bit loader, the mingw compiler.
[ -x /usr/lib/wine/wine64 ] || need_apt+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || need_apt+=(gcc-mingw-w64-x86-64)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
log "done"
