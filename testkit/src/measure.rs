//! What the measuring examples share: their numeric arguments, and the best of several
//! rounds of each contender.

/// The `n`-th command-line argument (1 is the first after the program's name) as a
/// number, or `default` where there is none.
///
/// # Panics
/// If the argument is there but not a number: the message names it `what`.
#[must_use]
pub fn arg(n: usize, default: usize, what: &str) -> usize {
    std::env::args().nth(n).map_or(default, |a| {
        a.parse().unwrap_or_else(|_| panic!("{what} is a number"))
    })
}

/// Runs `rounds` rounds of every contender, in turn within each round, and gives each
/// one's best (lowest) figure.
///
/// ```
/// use linked_alloc_testkit::measure::best_of;
///
/// let second = core::cell::Cell::new(5.0);
/// let best = best_of(3, [&|| 2.0, &|| {
///     second.set(second.get() - 1.0);
///     second.get()
/// }]);
/// assert_eq!(best, [2.0, 2.0]);
/// ```
#[must_use]
pub fn best_of<const N: usize>(rounds: usize, contenders: [&dyn Fn() -> f64; N]) -> [f64; N] {
    let mut best = [f64::MAX; N];
    for _ in 0..rounds {
        for (best, round) in best.iter_mut().zip(contenders) {
            *best = best.min(round());
        }
    }
    best
}
