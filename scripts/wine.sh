#!/usr/bin/env bash
# The test suite for x86_64-pc-windows-gnu, run under Wine: the system, pool and mmap
# backends' tests and the core crate's integration tests (doc tests do not run cross).
# Also builds the C ABI as a DLL (over MmapPages), checks that it exports the three MAPI
# names, and runs the C test program of capi against it.
#
# Needs what scripts/setup.sh installs (Debian wine64 and gcc-mingw-w64-x86-64, the
# rustup target); the Wine prefix lives in target/wine-prefix, made on the first run. Wine 8 lacks
# bcryptprimitives.dll, whose ProcessPrng Rust's std imports, so this builds a small one
# from scripts/wine/ and copies it into the prefix's windows/system32.
#
# Usage: bash scripts/wine.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> wine: %s\n' "$*"; }
TARGET=x86_64-pc-windows-gnu

# The 64-bit loader that the wine64 package installs (the plain `wine` wrapper needs the
# 32-bit half).
WINE64=$(dpkg -L wine64 2>/dev/null | grep -E '/lib/(.+/)?wine/wine64$' || true)
for tool in "${WINE64:-wine64}" x86_64-w64-mingw32-gcc x86_64-w64-mingw32-objdump; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "wine: $tool is missing: bash scripts/setup.sh installs it (Debian wine64, gcc-mingw-w64-x86-64)" >&2
        exit 1
    fi
done
if ! rustup target list --installed | grep -x "$TARGET" >/dev/null; then
    echo "wine: the rustup target $TARGET is missing: bash scripts/setup.sh adds it" >&2
    exit 1
fi

export WINEPREFIX="$PWD/target/wine-prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono / Gecko install prompts
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    log "creating the prefix $WINEPREFIX"
    mkdir -p "$WINEPREFIX"
    "$WINE64" wineboot --init >/dev/null 2>&1
    # wineboot returns before its server is done writing the prefix.
    /usr/lib/wine/wineserver -w 2>/dev/null || wineserver -w 2>/dev/null || true
fi
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
src=scripts/wine/bcryptprimitives
if [ ! -f "$dll" ] || [ "$src.c" -nt "$dll" ] || [ "$src.def" -nt "$dll" ]; then
    log "building bcryptprimitives.dll (ProcessPrng over SystemFunction036)"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" "$src.c" "$src.def" -ladvapi32
fi

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE64"

log "the C ABI as a DLL: exports"
cargo build -q -p linked-alloc-capi --target "$TARGET" --features mmap
exports=$(x86_64-w64-mingw32-objdump -p "target/$TARGET/debug/linked_alloc_capi.dll")
for name in MAPIAllocateBuffer MAPIAllocateMore MAPIFreeBuffer; do
    if ! grep -qE "\] $name\$" <<<"$exports"; then
        echo "wine: linked_alloc_capi.dll does not export $name" >&2
        exit 1
    fi
done
log "linked_alloc_capi.dll exports MAPIAllocateBuffer, MAPIAllocateMore, MAPIFreeBuffer"

log "the C tests (capi/tests/c/mapi_test.c) against the DLL (MmapPages), under Wine"
work=target/wine-c
mkdir -p "$work"
cp "target/$TARGET/debug/linked_alloc_capi.dll" "$work/"
# Every backend tells a child from a root (see capi/tests/c_abi.rs for the flags).
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -O1 -I capi/include \
    -DMAPI_TEST_TELLS_CHILDREN capi/tests/c/mapi_test.c \
    "target/$TARGET/debug/liblinked_alloc_capi.dll.a" -o "$work/mapi_test.exe"
"$WINE64" "$work/mapi_test.exe"

log "tests under Wine"
cargo test --target "$TARGET" \
    -p linked-alloc-system -p linked-alloc-pool -p linked-alloc-mmap \
    --lib --tests "$@"
cargo test --target "$TARGET" -p linked-alloc --tests "$@"
log "done"
