//! Replays the saved inputs of `regressions/<target>/` (crashes found by fuzzing, kept
//! once fixed) and a few thousand deterministic pseudo-random inputs, through the same
//! body as the fuzz targets. Runs on stable and under Miri (with fewer inputs).

use std::path::Path;

use linked_alloc_fuzz::{decode, pseudo_random_input, targets};

/// Every file of `regressions/<target>/`, as bytes.
fn saved(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("readable file"),
            )
        })
        .collect();
    files.sort();
    files
}

const fn n(native: u64, miri: u64) -> u64 {
    if cfg!(miri) { miri } else { native }
}

/// Runs `one` (which makes a fresh backend and runs the body, as the target does) over
/// every saved input of `target` and over pseudo-random ones.
fn replay(target: &str, one: impl Fn(&[u8])) {
    for (name, data) in saved(target) {
        eprintln!("replaying {name}: {} actions", decode(&data).len());
        one(&data);
    }
    let mut total = 0;
    for seed in 0..n(500, 6) {
        let len = (seed as usize * 37) % n(4096, 600) as usize;
        let data = pseudo_random_input(seed, len);
        total += decode(&data).len();
        one(&data);
    }
    eprintln!("{target}: {total} pseudo-random actions");
}

// The bodies are those of `fuzz_targets/*.rs`: `linked_alloc_fuzz::targets`.

#[test]
fn system() {
    replay("system", targets::system);
}

#[test]
fn mmap() {
    replay("mmap", targets::mmap);
}

#[test]
fn pool() {
    replay("pool", targets::pool);
}

/// Prints the actions of the input file named by `$INPUT` (a crash from `artifacts/`):
/// `INPUT=artifacts/system/crash-... cargo test --test replay -- --ignored --nocapture print`.
#[test]
#[ignore = "a tool: prints $INPUT"]
fn print_input() {
    let path = std::env::var("INPUT").expect("set INPUT to a fuzz input file");
    let data = std::fs::read(&path).expect("readable INPUT");
    for (i, a) in decode(&data).iter().enumerate() {
        println!("{i}: {a:?}");
    }
}
