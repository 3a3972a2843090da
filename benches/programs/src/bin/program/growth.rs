//! Collection growth: a `HashMap<String, Vec<u64>>` whose vectors grow by `push`, and a
//! big `Vec<u64>` grown, sorted and deduplicated. Each growth is a `realloc`.

use std::collections::HashMap;

use crate::rng::{Rng, fnv};

/// Pushes `pushes` random values onto the vectors of `keys` distinct keys (a new
/// `String` key made per push, dropped when the key exists), removes every key whose
/// vector got long, then grows one `Vec<u64>` to `pushes` elements, sorts and
/// deduplicates it. Returns a checksum independent of the map's iteration order.
pub fn run(pushes: usize, keys: u64) -> u64 {
    let mut rng = Rng::new(0x5EED_0003);
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    for _ in 0..pushes {
        let key = format!("key-{}", rng.below(keys));
        map.entry(key).or_default().push(rng.next_u64() >> 16);
    }
    let longest = map.values().map(Vec::len).max().unwrap_or(0);
    map.retain(|_, v| v.len() < longest * 3 / 4);
    let mut sum = map.iter().fold(map.len() as u64, |acc, (k, v)| {
        let values = v.iter().fold(0u64, |a, x| a.rotate_left(3) ^ x);
        acc.wrapping_add(fnv(k.as_bytes()) ^ values)
    });
    drop(map);

    let mut all = Vec::new();
    for _ in 0..pushes {
        all.push(rng.below(pushes as u64 * 4));
    }
    all.sort_unstable();
    all.dedup();
    sum = sum.wrapping_add(all.len() as u64);
    sum.wrapping_add(all.iter().step_by(97).fold(0, |a, x| a.rotate_left(1) ^ x))
}
