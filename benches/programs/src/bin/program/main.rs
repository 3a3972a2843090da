//! The program of the real-programs benchmark: one workload of real crates (`serde_json`,
//! `regex`, threads and `std::sync::mpsc`, `HashMap`/`Vec` growth), built with the
//! `#[global_allocator]` chosen by a cargo feature (see `global.rs`).
//!
//! `program [--quick] [--phases]`: `--quick` runs a tenth of the work (for CI);
//! `--phases` prints each phase's time on stderr. Stdout gets one line,
//! `checksum <hex> <allocator>`: every allocator must print the same checksum.

mod global;
mod growth;
mod json;
mod messages;
mod rng;
mod search;

use std::time::Instant;

/// How much work each phase does.
#[derive(Debug, Clone, Copy)]
struct Size {
    /// JSON records generated (about 250 bytes each, printed compactly).
    json_records: u64,
    /// Rounds of parse, walk and pretty-print over the JSON text.
    json_rounds: u32,
    /// Bytes of text searched.
    text_bytes: usize,
    /// Messages each ring thread makes.
    messages_per_thread: usize,
    /// Values pushed in the collection-growth phase.
    pushes: usize,
    /// Distinct keys of its `HashMap`.
    keys: u64,
}

/// The full workload: about 1-2 s on std's `System` allocator on the reference machine.
const FULL: Size = Size {
    json_records: 20_000,
    json_rounds: 3,
    text_bytes: 16 << 20,
    messages_per_thread: 100_000,
    pushes: 1_500_000,
    keys: 100_000,
};

/// The quick workload, for CI: a tenth of the full one.
const QUICK: Size = Size {
    json_records: FULL.json_records / 10,
    json_rounds: FULL.json_rounds,
    text_bytes: FULL.text_bytes / 10,
    messages_per_thread: FULL.messages_per_thread / 10,
    pushes: FULL.pushes / 10,
    keys: FULL.keys / 10,
};

/// The process's peak resident memory so far (`VmHWM` of `/proc/self/status`, Linux),
/// or `?` where that file is not there.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l[6..].trim().to_owned()))
        .unwrap_or_else(|| "?".to_owned())
}

fn main() {
    let mut size = FULL;
    let mut phases = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => size = QUICK,
            "--phases" => phases = true,
            other => {
                eprintln!("program: unknown argument {other:?} (expected --quick, --phases)");
                std::process::exit(2);
            }
        }
    }
    let mut checksum = 0u64;
    let mut phase = |name: &str, work: &dyn Fn() -> u64| {
        let start = Instant::now();
        let sum = work();
        if phases {
            eprintln!(
                "{name:>9}: {:8.1} ms, peak RSS so far {}",
                start.elapsed().as_secs_f64() * 1e3,
                peak_rss()
            );
        }
        checksum = checksum.rotate_left(13) ^ sum;
    };
    phase("json", &|| json::run(size.json_records, size.json_rounds));
    phase("search", &|| search::run(size.text_bytes));
    phase("messages", &|| messages::run(size.messages_per_thread));
    phase("growth", &|| growth::run(size.pushes, size.keys));
    println!("checksum {checksum:016x} {}", global::NAME);
}
