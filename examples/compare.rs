//! The quick comparison: every benchmark workload on every contender (our backends and
//! the peers), timed with `Instant` (median of a few runs), printed as a Markdown table
//! of ns per operation and the ratio to `malloc`, then the measured bytes per 64 B
//! child. The workloads are the criterion benches' own bodies (`benches/workloads`).
//!
//! `cargo run --release --example compare [--features talloc] [-- FILTER [REPS]]`:
//! FILTER keeps the workloads whose name contains it; REPS runs each (default 5).

use std::time::Instant;

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use workloads::bodies::{ChildCost, TREE_CHILDREN, bytes_per_child};
use workloads::{Contender, Sizes, Visitor, Workload, for_each_contender};

/// Times one workload on each contender it visits.
struct Timer<'a> {
    workload: &'a Workload,
    reps: usize,
    /// `(contender, ns per op)`, `None` where it ran out of memory.
    results: Vec<(String, Option<f64>)>,
}

impl Visitor for Timer<'_> {
    fn visit<C: Contender>(&mut self, contender: &C) {
        // One untimed run first: it warms the caches and the allocator's free lists.
        let mut ns = match self.workload.run(contender) {
            Ok(_) => Vec::with_capacity(self.reps),
            Err(_) => {
                self.results.push((contender.name(), None));
                return;
            }
        };
        for _ in 0..self.reps {
            let start = Instant::now();
            let ops = self
                .workload
                .run(contender)
                .expect("ran out of memory on a re-run");
            ns.push(start.elapsed().as_nanos() as f64 / ops as f64);
        }
        ns.sort_by(f64::total_cmp);
        self.results
            .push((contender.name(), Some(ns[ns.len() / 2])));
    }
}

/// Measures the bytes per 64 B child of each contender it visits.
struct Memory {
    sizes: Sizes,
    results: Vec<(String, ChildCost)>,
}

impl Visitor for Memory {
    fn visit<C: Contender>(&mut self, contender: &C) {
        let cost = bytes_per_child(contender, &self.sizes, TREE_CHILDREN);
        self.results.push((contender.name(), cost));
    }
}

/// A row of cells, Markdown style.
fn row(cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = cells.into_iter().collect();
    format!("| {} |", cells.join(" | "))
}

/// The header row and the separator of a table with these names.
fn header(first: &str, names: &[String]) {
    println!(
        "{}",
        row(std::iter::once(first.to_owned()).chain(names.iter().cloned()))
    );
    println!(
        "{}",
        row((0..=names.len()).map(|i| if i == 0 { "---" } else { "---:" }.to_owned()))
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let filter = args.next().unwrap_or_default();
    let reps: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("REPS is a number"));
    let started = Instant::now();

    // Memory first, while every allocator is fresh (see `bytes_per_child`).
    println!("bytes per 64 B child, measured over {TREE_CHILDREN} children of one root\n");
    let mut memory = Memory {
        sizes: Sizes::fixed_64(),
        results: Vec::new(),
    };
    for_each_contender(&mut memory);
    let names: Vec<String> = memory.results.iter().map(|(n, _)| n.clone()).collect();
    header("", &names);
    let cell = |b: Option<f64>| b.map_or("n/a".to_owned(), |b| format!("{b:.1}"));
    let held = memory.results.iter().map(|(_, c)| cell(c.held));
    println!(
        "{}",
        row(std::iter::once("allocator's figure".to_owned()).chain(held))
    );
    let resident = memory.results.iter().map(|(_, c)| cell(c.resident));
    println!(
        "{}",
        row(std::iter::once("resident (VmRSS)".to_owned()).chain(resident))
    );
    println!();

    println!("ns per operation (median of {reps} runs), and the ratio to malloc\n");
    let mut names: Option<Vec<String>> = None;
    for workload in Workload::all()
        .iter()
        .filter(|w| w.name().contains(&filter))
    {
        let mut timer = Timer {
            workload,
            reps,
            results: Vec::new(),
        };
        for_each_contender(&mut timer);
        let names = names.get_or_insert_with(|| {
            let names: Vec<String> = timer.results.iter().map(|(n, _)| n.clone()).collect();
            header("workload", &names);
            names
        });
        let malloc = timer.results[0].1;
        let cells = timer.results.iter().map(|(_, ns)| match (ns, malloc) {
            (Some(ns), Some(m)) => format!("{ns:.1} ns ({:.2}x)", ns / m),
            (Some(ns), None) => format!("{ns:.1} ns"),
            (None, _) => "out of memory".to_owned(),
        });
        debug_assert_eq!(names.len(), timer.results.len());
        println!("{}", row(std::iter::once(workload.name()).chain(cells)));
    }

    println!("\n(all in {:.1} s)", started.elapsed().as_secs_f64());
}
