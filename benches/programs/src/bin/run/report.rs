//! The table of results, and the checksum check.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::Sample;

/// Bytes as MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The figures of one allocator over its runs.
#[derive(Debug, Clone, Copy)]
struct Summary {
    /// Runs.
    runs: usize,
    /// Shortest wall time.
    best: Duration,
    /// Median wall time (the lower middle one of an even count).
    median: Duration,
    /// Median CPU time (user + system).
    cpu: Duration,
    /// Median of the runs' peak RSS, bytes.
    rss: u64,
    /// Largest peak RSS of the runs, bytes.
    rss_max: u64,
}

impl Summary {
    /// Sums up `samples` (at least one).
    fn of(samples: &[Sample]) -> Self {
        fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
            values.sort();
            values[(values.len() - 1) / 2]
        }
        Self {
            runs: samples.len(),
            best: samples.iter().map(|s| s.wall).min().unwrap_or_default(),
            median: median(samples.iter().map(|s| s.wall).collect()),
            cpu: median(samples.iter().map(|s| s.cpu).collect()),
            rss: median(samples.iter().map(|s| s.peak_rss).collect()),
            rss_max: samples.iter().map(|s| s.peak_rss).max().unwrap_or(0),
        }
    }
}

/// A Markdown table: per allocator, the runs, best and median wall time, median CPU
/// time, the median and the largest of the runs' peak RSS, and the ratios of best time,
/// median time and median peak RSS to those of `system` (or, if `system` was not run,
/// of the first allocator).
pub fn table(allocators: &[String], samples: &[Vec<Sample>]) -> String {
    let summaries: Vec<Summary> = samples.iter().map(|s| Summary::of(s)).collect();
    let base_index = allocators.iter().position(|a| a == "system").unwrap_or(0);
    let base = summaries[base_index];
    let base_name = &allocators[base_index];
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "n/a".into()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| allocator | runs | best (s) | median (s) | CPU, median (s) | peak RSS, median (MiB) \
         | peak RSS, max (MiB) | best / {base_name} | median / {base_name} | RSS / {base_name} |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, s) in allocators.iter().zip(&summaries) {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.1} | {:.1} | {} | {} | {} |",
            s.runs,
            s.best.as_secs_f64(),
            s.median.as_secs_f64(),
            s.cpu.as_secs_f64(),
            mib(s.rss),
            mib(s.rss_max),
            ratio(s.best.as_secs_f64(), base.best.as_secs_f64()),
            ratio(s.median.as_secs_f64(), base.median.as_secs_f64()),
            ratio(s.rss as f64, base.rss as f64),
        );
    }
    out
}

/// `Err` unless every run of every allocator printed the same checksum.
pub fn check_checksums(allocators: &[String], samples: &[Vec<Sample>]) -> Result<(), String> {
    let mut all = allocators
        .iter()
        .zip(samples)
        .flat_map(|(a, s)| s.iter().map(move |s| (a, s)));
    let Some((first_name, first)) = all.next() else {
        return Ok(());
    };
    for (name, sample) in all {
        if sample.checksum != first.checksum {
            return Err(format!(
                "checksum mismatch: {first_name} printed {}, {name} printed {}",
                first.checksum, sample.checksum
            ));
        }
    }
    println!("\nchecksums agree: {}", first.checksum);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: u64, mib: u64, checksum: &str) -> Sample {
        Sample {
            wall: Duration::from_secs(secs),
            cpu: Duration::from_secs(secs),
            peak_rss: mib << 20,
            checksum: checksum.to_owned(),
        }
    }

    #[test]
    fn ratios_are_to_system_best_median_and_median_rss() {
        let names = ["mimalloc".to_owned(), "system".to_owned()];
        let samples = [
            vec![sample(3, 30, "a"), sample(1, 10, "a"), sample(2, 20, "a")],
            vec![sample(4, 40, "a"), sample(2, 20, "a")],
        ];
        let table = table(&names, &samples);
        assert!(table.contains("| best / system |"), "{table}");
        assert!(
            table.contains(
                "| mimalloc | 3 | 1.000 | 2.000 | 2.000 | 20.0 | 30.0 | 0.50x | 1.00x | 1.00x |"
            ),
            "{table}"
        );
        assert!(check_checksums(&names, &samples).is_ok());
    }

    #[test]
    fn a_different_checksum_is_an_error() {
        let names = ["system".to_owned(), "linked-mmap".to_owned()];
        let samples = [
            vec![sample(1, 1, "a")],
            vec![sample(1, 1, "a"), sample(1, 1, "b")],
        ];
        let err = check_checksums(&names, &samples).unwrap_err();
        assert!(err.contains("linked-mmap printed b"), "{err}");
    }
}
