//! The runner of the real-programs benchmark: builds the program once per allocator,
//! runs the variants interleaved (one run of each, then again), and prints a table of
//! wall time and peak resident memory, with ratios to std's `System`. Exits non-zero if
//! a variant fails to build, crashes, or prints another checksum than the others;
//! never because of a timing.
//!
//! `cargo run --release -- [--quick] [--runs N] [--runs ALLOC=N] [--alloc A,B]`

mod measure;
mod options;
mod report;
mod variants;

use std::process::ExitCode;

use options::Options;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds, runs, reports; `Err` on a failed build, a crash or a checksum mismatch.
fn run(options: &Options) -> Result<(), String> {
    let mut binaries = Vec::new();
    for allocator in &options.allocators {
        eprintln!("building the {allocator} variant");
        binaries.push(variants::build(allocator)?);
    }
    let args: &[&str] = if options.quick { &["--quick"] } else { &[] };
    let mut samples = vec![Vec::new(); options.allocators.len()];
    let rounds = options.runs.iter().copied().max().unwrap_or(0);
    for round in 0..rounds {
        for (i, allocator) in options.allocators.iter().enumerate() {
            if round >= options.runs[i] {
                continue;
            }
            let sample = measure::run(&binaries[i], args)?;
            eprintln!(
                "run {}/{} {allocator:>13}: {:7.3} s, {:7.1} MiB, checksum {}",
                round + 1,
                options.runs[i],
                sample.wall.as_secs_f64(),
                report::mib(sample.peak_rss),
                sample.checksum
            );
            samples[i].push(sample);
        }
    }
    print!("{}", report::table(&options.allocators, &samples));
    report::check_checksums(&options.allocators, &samples)
}
