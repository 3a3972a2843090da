//! The quick comparison: every benchmark workload on every contender (our backends and
//! the peers), timed with `Instant` (median of a few runs), printed as Markdown tables:
//! the measured bytes per 64 B child, then ns per operation and the ratio to `malloc`.
//! The workloads are the criterion benches' own bodies (`linked_alloc_testkit::workloads`, in `testkit/`).
//!
//! `cargo run --release -p linked-alloc-benches --example compare [--features talloc] [-- WORKLOADS [CONTENDERS
//! [REPS]]]`: keeps the workloads (`memory` is one) and the contenders whose names
//! contain these strings (default: all); runs each REPS times (default 5).
//!
//! Each contender is measured in a process of its own (this program, started again), so
//! that none finds the C heap as another left it; in it, each workload runs once
//! untimed, then REPS times timed.
//!
//! On a busy machine, `COMPARE_CLOCK=cpu` times with the thread's CPU time (user and
//! system, page faults included) instead of `Instant`'s wall time, so that the time
//! the thread waits for a core is not counted.

use std::alloc::GlobalAlloc;
use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

use linked_alloc_testkit::clock::thread_cpu_ns;
use linked_alloc_testkit::workloads;
use workloads::bodies::{Kind, TREE_CHILDREN, bytes_per_child};
use workloads::global::{ARENA, WINDOW};
use workloads::{
    Contender, Only, OutOfMemory, Script, Sizes, Visitor, Workload, for_each_contender,
    for_each_global,
};

/// Set in the environment of the process that measures one contender: its name.
const CONTENDER_ENV: &str = "COMPARE_CONTENDER";
/// The name of the memory measurement, for the filter.
const MEMORY: &str = "0_memory_per_child_64B";
/// The suffix of a script's fragmentation figure.
const FRAGMENTATION: &str = "/fragmentation";

/// What the timer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// `Instant`: wall time.
    Wall,
    /// The thread's CPU time (Linux `CLOCK_THREAD_CPUTIME_ID`).
    Cpu,
}

impl Clock {
    /// From the environment: `COMPARE_CLOCK=cpu` on 64-bit Linux, else wall time.
    fn from_env() -> Self {
        let cpu = std::env::var("COMPARE_CLOCK").is_ok_and(|v| v == "cpu");
        if cpu && cfg!(all(target_os = "linux", target_pointer_width = "64")) {
            Self::Cpu
        } else {
            Self::Wall
        }
    }

    /// Nanoseconds since some fixed point, on this clock.
    fn now_ns(self, origin: Instant) -> u128 {
        match self {
            Self::Wall => origin.elapsed().as_nanos(),
            // `from_env` chose `Cpu` only where the clock exists.
            Self::Cpu => u128::from(thread_cpu_ns().expect("a thread CPU clock")),
        }
    }
}

/// Collects the contenders' names (of both lists, each once).
#[derive(Debug, Default)]
struct Names(Vec<String>);

impl Names {
    fn add(&mut self, name: &str) {
        if !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_owned());
        }
    }
}

impl Visitor for Names {
    fn visit<C: Contender>(&mut self, contender: &C) {
        self.add(&contender.name());
    }

    fn visit_global<G: GlobalAlloc>(&mut self, name: &str, _: &G) {
        self.add(name);
    }
}

/// In the process of one contender: measures it and prints one line per measurement,
/// `name<TAB>value[<TAB>value]`, `-` for no value. The memory figure is measured first,
/// while the allocator is fresh (see `bytes_per_child`).
struct Measure<'a> {
    workloads: &'a [Workload],
    scripts: &'a [Script],
    memory: bool,
    reps: usize,
    clock: Clock,
}

/// A value for the lines of [`Measure`].
fn value(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

impl Measure<'_> {
    /// The median ns per operation of `reps` timed runs of `run`, after `warm_up`;
    /// `None` if it ran out of memory.
    fn time(
        &self,
        warm_up: impl FnOnce() -> Result<(), OutOfMemory>,
        mut run: impl FnMut() -> Result<u64, OutOfMemory>,
    ) -> Option<f64> {
        warm_up().ok()?;
        let origin = Instant::now();
        let mut ns: Vec<f64> = (0..self.reps)
            .map(|_| {
                let start = self.clock.now_ns(origin);
                let ops = run().expect("out of memory on a re-run");
                (self.clock.now_ns(origin) - start) as f64 / ops as f64
            })
            .collect();
        ns.sort_by(f64::total_cmp);
        ns.get(ns.len() / 2).copied()
    }
}

impl Visitor for Measure<'_> {
    fn visit<C: Contender>(&mut self, contender: &C) {
        if self.memory {
            let cost = bytes_per_child(contender, &Sizes::fixed_64(), TREE_CHILDREN);
            println!("{MEMORY}\t{}\t{}", value(cost.held), value(cost.resident));
        }
        for w in self.workloads {
            let ns = self.time(|| w.warm_up(contender), || w.run(contender));
            println!("{}\t{}", w.name(), value(ns));
        }
    }

    fn visit_global<G: GlobalAlloc>(&mut self, _: &str, alloc: &G) {
        for s in self.scripts {
            // The fragmentation first, on the fresh arena.
            let after = s.fragmentation(alloc).map(|f| f.after as f64);
            println!("{}{FRAGMENTATION}\t{}", s.name(), value(after));
            let ns = self.time(|| s.warm_up(alloc), || s.run(alloc));
            println!("{}\t{}", s.name(), value(ns));
        }
    }
}

/// A row of cells, Markdown style.
fn row(first: &str, cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = std::iter::once(first.to_owned()).chain(cells).collect();
    format!("| {} |", cells.join(" | "))
}

/// The header row and the separator of a table with these names.
fn header(first: &str, names: &[String]) {
    println!("{}", row(first, names.iter().cloned()));
    println!("{}", row("---", names.iter().map(|_| "---:".to_owned())));
}

/// The ratio cell: `12.3 ns (1.05x)`.
fn cell(ns: Option<f64>, malloc: Option<f64>) -> String {
    match (ns, malloc) {
        (Some(ns), Some(m)) => format!("{ns:.1} ns ({:.2}x)", ns / m),
        (Some(ns), None) => format!("{ns:.1} ns"),
        (None, _) => "n/a".to_owned(),
    }
}

/// Runs this program again to measure `name`; its lines as `name → values`.
fn measure_in_child(name: &str) -> HashMap<String, Vec<Option<f64>>> {
    let exe = std::env::current_exe().expect("the path of this program");
    let output = Command::new(exe)
        .args(std::env::args().skip(1))
        .env(CONTENDER_ENV, name)
        .output()
        .expect("start the measuring process");
    assert!(
        output.status.success(),
        "measuring {name} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let key = fields.next()?.to_owned();
            Some((key, fields.map(|v| v.parse().ok()).collect()))
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload_filter = args.next().unwrap_or_default();
    let contender_filter = args.next().unwrap_or_default();
    let reps: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("REPS is a number"));
    // The standard workloads, and smaller trees (how a child's cost, its share of the
    // free included, changes with the number of children).
    let smaller_trees =
        [1_000, 10_000, 100_000].map(|n| Workload::new(Kind::Tree(n), Sizes::fixed_64()));
    let workloads: Vec<Workload> = Workload::all()
        .into_iter()
        .chain(smaller_trees)
        .filter(|w| w.name().contains(&workload_filter))
        .collect();
    let scripts: Vec<Script> = Script::all()
        .into_iter()
        .filter(|s| s.name().contains(&workload_filter))
        .collect();
    let memory = MEMORY.contains(&workload_filter);
    let clock = Clock::from_env();

    if let Ok(name) = std::env::var(CONTENDER_ENV) {
        workloads::glibc::settle_c_heap();
        // Each measurement on a contender made afresh (`for_each_*` makes them), as in
        // the criterion benches: no workload finds the lists another one left.
        let measure = |workloads, scripts, memory| Measure {
            workloads,
            scripts,
            memory,
            reps,
            clock,
        };
        if memory {
            for_each_contender(&mut Only::exact(&name, &mut measure(&[], &[], true)));
        }
        for w in &workloads {
            let mut m = measure(std::slice::from_ref(w), &[], false);
            for_each_contender(&mut Only::exact(&name, &mut m));
        }
        for s in &scripts {
            let mut m = measure(&[], std::slice::from_ref(s), false);
            for_each_global(&mut Only::exact(&name, &mut m));
        }
        return;
    }

    let started = Instant::now();
    let mut names = Names::default();
    for_each_contender(&mut Only::new(&contender_filter, &mut names));
    for_each_global(&mut Only::new(&contender_filter, &mut names));
    let results: Vec<_> = names.0.iter().map(|name| measure_in_child(name)).collect();
    let get = |r: &HashMap<String, Vec<Option<f64>>>, key: &str, i: usize| {
        r.get(key).and_then(|v| v.get(i).copied().flatten())
    };

    if memory {
        println!("bytes per 64 B child, measured over {TREE_CHILDREN} children of one root\n");
        header("", &names.0);
        let bytes = |b: Option<f64>| b.map_or("n/a".to_owned(), |b| format!("{b:.1}"));
        let held = results.iter().map(|r| bytes(get(r, MEMORY, 0)));
        println!("{}", row("allocator's figure", held));
        let resident = results.iter().map(|r| bytes(get(r, MEMORY, 1)));
        println!("{}", row("resident (VmRSS)", resident));
        println!();
    }

    if !scripts.is_empty() {
        println!(
            "largest block still allocatable after workload 5, {WINDOW} objects live, in % of \
             the {} KiB arena (contenders without an arena: n/a)\n",
            ARENA >> 10
        );
        header("", &names.0);
        for s in &scripts {
            let key = format!("{}{FRAGMENTATION}", s.name());
            let pct = |r| {
                get(r, &key, 0).map_or("n/a".to_owned(), |b| {
                    format!("{:.1}%", 100.0 * b / ARENA as f64)
                })
            };
            println!("{}", row(&s.name(), results.iter().map(pct)));
        }
        println!();
    }

    let mut rows: Vec<String> = workloads.iter().map(Workload::name).collect();
    rows.extend(scripts.iter().map(Script::name));
    rows.sort();
    if !rows.is_empty() {
        let what = if clock == Clock::Cpu {
            "CPU time"
        } else {
            "wall time"
        };
        println!("ns per operation ({what}, median of {reps} runs), and the ratio to malloc\n");
        header("workload", &names.0);
        let malloc = names.0.iter().position(|n| n == "malloc");
        for name in &rows {
            let base = malloc.and_then(|m| get(&results[m], name, 0));
            let cells = results.iter().map(|r| cell(get(r, name, 0), base));
            println!("{}", row(name, cells));
        }
    }
    println!("\n(all in {:.1} s)", started.elapsed().as_secs_f64());
}
