#!/usr/bin/env bash
# Installs what the checks need on a fresh machine that has rustup with stable and
# nightly toolchains: rustup components and targets, Debian packages, cargo tools.
# Idempotent: skips what is there already.
set -euo pipefail

log() { printf '==> setup: %s\n' "$*"; }

log "rustup components (stable: rustfmt, clippy; nightly: miri, rust-src)"
rustup component add rustfmt clippy >/dev/null
rustup component add --toolchain nightly miri rust-src >/dev/null
rustup target add thumbv7m-none-eabi thumbv6m-none-eabi >/dev/null
cargo +nightly miri setup >/dev/null 2>&1 || cargo +nightly miri setup

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v cc >/dev/null || need_apt+=(gcc)
[ -e /usr/include/talloc.h ] || need_apt+=(libtalloc-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
log "done"
