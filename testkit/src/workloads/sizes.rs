//! The object sizes of a workload: all 64 B, or mixed 8..=512 B from a fixed seed.
//! Drawn before timing, from a table that every contender reads in the same order.

use core::alloc::Layout;

/// Entries in the size table (a power of two); indexes wrap around it.
const LEN: usize = 4096;

/// A deterministic pseudo-random generator (xorshift64*), the same on every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (not 0).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}

/// The layouts a workload allocates, in order (aligned to `MIN_ALIGN`, as MAPI buffers).
#[derive(Clone, Debug)]
pub struct Sizes {
    name: &'static str,
    table: Box<[Layout]>,
}

impl Sizes {
    /// Every object 64 bytes.
    pub fn fixed_64() -> Self {
        Self::from_fn("64B", |_| 64)
    }

    /// Sizes drawn uniformly from 8..=512 bytes (mean 260).
    pub fn mixed() -> Self {
        let mut rng = Rng::new(0x5EED_0512);
        Self::from_fn("8-512B", |_| 8 + rng.below(505))
    }

    fn from_fn(name: &'static str, mut size: impl FnMut(usize) -> usize) -> Self {
        let table = (0..LEN)
            .map(|i| Layout::from_size_align(size(i), linked_alloc::MIN_ALIGN).unwrap())
            .collect();
        Self { name, table }
    }

    /// The short name, for the tables ("64B", "8-512B").
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The layout of the `i`-th object.
    #[inline(always)]
    pub fn layout(&self, i: usize) -> Layout {
        self.table[i & (LEN - 1)]
    }

    /// The mean size, in bytes.
    pub fn mean(&self) -> f64 {
        self.table.iter().map(|l| l.size() as f64).sum::<f64>() / LEN as f64
    }
}
