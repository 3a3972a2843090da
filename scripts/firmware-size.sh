#!/usr/bin/env bash
# The allocator's code in a firmware image, beside its peers: builds the size probe
# (the binary linked-alloc-firmware-size of examples/firmware, src/bin/size.rs: one
# no_std program, its global allocator chosen by a feature)
# with linked-alloc's pool, talc, embedded-alloc's LlffHeap and TlsfHeap, and a bump
# allocator as the baseline, in release (opt-level "s", LTO) for both boards
# (thumbv7m-none-eabi, and thumbv6m-none-eabi with the feature `microbit`); boots each
# image in QEMU when qemu-system-arm is there (unless --no-run) and checks its result
# line; then prints, as markdown, the sizes read from the images:
#   .text            readelf -SW
#   over baseline    .text minus the bump image's .text: the allocator's code, with what
#                    LTO inlined into its callers (the bump allocator's own ~100-200 B
#                    are in the baseline, so this is slightly less than the whole)
#   symbols          nm --size-sort -C: the allocator crates' text symbols and the
#                    __rust_alloc/dealloc/realloc/alloc_zeroed shims left after LTO
#                    (code inlined into the program's functions is not counted)
#   .rodata, RAM     readelf -SW (RAM: .data + .bss, the heap arena included)
# and the versions of the allocator crates (from examples/firmware/Cargo.lock).
# Installs the Rust targets if missing. Exits non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
firmware="$root/examples/firmware"
run=1
[ "${1:-}" = "--no-run" ] && run=0

say() { printf 'firmware-size.sh: %s\n' "$*" >&2; }

for target in thumbv7m-none-eabi thumbv6m-none-eabi; do
    if ! rustup target list --installed | grep -qx "$target"; then
        say "adding the Rust target $target"
        rustup target add "$target" >&2
    fi
done
for tool in readelf nm; do
    command -v "$tool" >/dev/null 2>&1 || {
        say "needs $tool (binutils)"
        exit 1
    }
done
if [ "$run" -eq 1 ] && ! command -v qemu-system-arm >/dev/null 2>&1; then
    say "no qemu-system-arm: the images are built and measured, not run"
    run=0
fi

# One line per allocator: its feature; its own symbols, by crate (an extended regular
# expression, besides the __rust_* shims); its name in the table.
allocators=()
declare -A symbols label
while read -r alloc pattern name; do
    allocators+=("$alloc")
    symbols[$alloc]=$pattern
    label[$alloc]=$name
done <<'EOF'
pool linked_alloc(_pool)?::                   linked-alloc pool (`Linked<StaticPool<N, CriticalSectionLock>>`)
talc talc::|lock_api::                        talc (`TalcLock<critical section, Claim>`)
llff embedded_alloc::|linked_list_allocator:: embedded-alloc `LlffHeap`
tlsf embedded_alloc::|rlsf::                  embedded-alloc `TlsfHeap`
bump linked_alloc_firmware_size::bump::       bump allocator (baseline)
EOF
shims='__rust_(alloc|dealloc|realloc|alloc_zeroed)$'

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# section ELF NAME: the size of section NAME in bytes (0 if absent).
section() {
    local hex
    hex=$(readelf -SW "$1" | sed -E 's/^ *\[ *[0-9]+\] *//' | awk -v name="$2" '$1 == name { print $5 }')
    echo $((16#${hex:-0}))
}

# build TARGET CPU MACHINE [board feature]: every allocator's image for one board.
build() {
    local target=$1 cpu=$2 machine=$3 board=${4:-} alloc features elf log status
    for alloc in "${allocators[@]}"; do
        features="$alloc${board:+,$board}"
        say "building $target, features $features"
        (cd "$firmware" && CARGO_TARGET_DIR="$firmware/target" nice cargo build --release --quiet \
            --target "$target" --bin linked-alloc-firmware-size --features "$features")
        elf="$out/$target-$alloc"
        cp "$firmware/target/$target/release/linked-alloc-firmware-size" "$elf"
        if [ "$run" -eq 1 ]; then
            log="$out/$target-$alloc.log"
            status=0
            timeout 120 qemu-system-arm -cpu "$cpu" -machine "$machine" -nographic \
                -semihosting-config enable=on,target=native -kernel "$elf" >"$log" 2>&1 || status=$?
            sed 's/^/  qemu| /' "$log" >&2
            if [ "$status" -ne 0 ] || ! grep -q '^firmware-size: OK: ' "$log"; then
                say "FAILED: $alloc on $machine (QEMU status $status)"
                exit 1
            fi
        fi
    done
}

# table TARGET BOARD: the markdown rows for one board.
table() {
    local target=$1 board=$2 alloc elf text base sym rodata ram
    base=$(section "$out/$target-bump" .text)
    for alloc in "${allocators[@]}"; do
        elf="$out/$target-$alloc"
        text=$(section "$elf" .text)
        rodata=$(section "$elf" .rodata)
        ram=$(($(section "$elf" .data) + $(section "$elf" .bss)))
        sym=0
        while read -r size _rest; do
            sym=$((sym + 16#$size))
        done < <(nm --size-sort -C "$elf" | grep -E '^[0-9a-f]+ [tT] ' |
            grep -E "${symbols[$alloc]}|$shims")
        printf '| %s | %s | %d B | %s | %d B | %d B | %d B |\n' \
            "$board" "${label[$alloc]}" "$text" \
            "$([ "$alloc" = bump ] && echo "0 (baseline)" || echo "$((text - base)) B")" \
            "$sym" "$rodata" "$ram"
    done
}

build thumbv7m-none-eabi cortex-m3 lm3s6965evb
build thumbv6m-none-eabi cortex-m0 microbit microbit
[ "$run" -eq 1 ] && say "every image ran in QEMU and printed its OK line"

echo '| board | global allocator | `.text` | `.text` over the baseline | allocator symbols (`nm`) | `.rodata` | RAM (`.data` + `.bss`) |'
echo '|---|---|---|---|---|---|---|'
table thumbv7m-none-eabi 'lm3s6965evb, `thumbv7m-none-eabi`'
table thumbv6m-none-eabi 'microbit, `thumbv6m-none-eabi`'
echo
# The allocators' own symbols, largest first (the last segment of each name).
echo 'Allocator symbols left after LTO, largest first (`nm --size-sort -C`, bytes):'
echo
for target in thumbv7m-none-eabi thumbv6m-none-eabi; do
    for alloc in "${allocators[@]}"; do
        printf -- '- %s, %s: %s\n' "$target" "$alloc" "$(nm --size-sort -C "$out/$target-$alloc" |
            grep -E '^[0-9a-f]+ [tT] ' | grep -E "${symbols[$alloc]}|$shims" | sort -r |
            while read -r size _kind name; do
                printf '%s %d, ' "${name##*::}" "$((16#$size))"
            done | sed 's/, $//')"
    done
done
echo
printf 'Crate versions (examples/firmware/Cargo.lock): %s; %s.\n' \
    "$(awk '/^name = /{n=$3} /^version = /{gsub(/"/,"",n); v=$3; gsub(/"/,"",v);
        if (n ~ /^(talc|embedded-alloc|linked_list_allocator|rlsf|lock_api)$/) { printf "%s%s %s", sep, n, v; sep = ", " } }' \
        "$firmware/Cargo.lock")" \
    "$(rustc --version)"
