//! The runner's command line.

/// Every allocator variant of the program, in the order of the table: the cargo
/// feature that selects it is its name.
pub const ALLOCATORS: &[&str] = &[
    "system",
    "mimalloc",
    "linked-system",
    "linked-mmap",
    "linked-pool",
];

/// What to build and run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The allocators to measure, in table order.
    pub allocators: Vec<String>,
    /// Runs of each allocator, in the order of `allocators`.
    pub runs: Vec<usize>,
    /// Run the program's quick (small) workload.
    pub quick: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: run [--quick] [--runs N] [--runs ALLOC=N]... [--alloc A,B,...]
  --quick         the program's small workload (for CI)
  --runs N        runs of each allocator (default 3), interleaved
  --runs ALLOC=N  runs of one allocator (e.g. --runs linked-mmap=1)
  --alloc LIST    allocators, comma-separated (default: all of
                  system,mimalloc,linked-system,linked-mmap,linked-pool)";

impl Options {
    /// Parses `args` (without the program name); `Err` holds the message to print.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut quick = false;
        let mut default_runs = 3;
        let mut overrides: Vec<(String, usize)> = Vec::new();
        let mut allocators: Vec<String> = ALLOCATORS.iter().map(|a| (*a).to_owned()).collect();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--runs" => {
                    let value = args.next().ok_or("--runs needs a value")?;
                    match value.split_once('=') {
                        Some((name, n)) => overrides.push((name.to_owned(), count(n)?)),
                        None => default_runs = count(&value)?,
                    }
                }
                "--alloc" => {
                    let value = args.next().ok_or("--alloc needs a value")?;
                    allocators = value.split(',').map(str::to_owned).collect();
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        for name in allocators.iter().chain(overrides.iter().map(|(n, _)| n)) {
            if !ALLOCATORS.contains(&name.as_str()) {
                return Err(format!("unknown allocator {name:?}\n{USAGE}"));
            }
        }
        let runs = allocators
            .iter()
            .map(|a| {
                overrides
                    .iter()
                    .rev()
                    .find(|(name, _)| name == a)
                    .map_or(default_runs, |&(_, n)| n)
            })
            .collect();
        Ok(Self {
            allocators,
            runs,
            quick,
        })
    }
}

/// A run count: a positive integer.
fn count(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("not a positive number of runs: {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn defaults_are_all_five_three_runs_full_size() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.allocators, ALLOCATORS);
        assert_eq!(o.runs, [3; 5]);
        assert!(!o.quick);
    }

    #[test]
    fn runs_per_allocator_override_the_default() {
        let o = parse(&["--quick", "--runs", "linked-mmap=1", "--runs", "5"]).unwrap();
        assert!(o.quick);
        assert_eq!(o.runs, [5, 5, 5, 1, 5]);
        let o = parse(&["--alloc", "linked-pool,system", "--runs", "2"]).unwrap();
        assert_eq!(o.allocators, ["linked-pool", "system"]);
        assert_eq!(o.runs, [2, 2]);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(parse(&["--alloc", "jemalloc"]).is_err());
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--runs", "tcmalloc=2"]).is_err());
        assert!(parse(&["--runs"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }
}
