//! Puts the board's memory map (the firmware example's, in ../firmware) where the linker
//! finds it as `memory.x` (cortex-m-rt's `link.x` includes it).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let map = if env::var_os("CARGO_FEATURE_MICROBIT").is_some() {
        "../firmware/memory-microbit.x"
    } else {
        "../firmware/memory-lm3s6965evb.x"
    };
    fs::copy(map, out.join("memory.x")).expect("the memory maps are in ../firmware");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../firmware/memory-microbit.x");
    println!("cargo:rerun-if-changed=../firmware/memory-lm3s6965evb.x");
    println!("cargo:rerun-if-changed=build.rs");
}
