//! Text search with `regex`: a large generated text of words, numbers, dates and
//! e-mail addresses; every match collected into its own `String`, then counted.

use std::collections::HashMap;

use regex::Regex;

use crate::rng::{Rng, fnv};

/// Syllables the generated words are made of.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ten", "sto", "vel", "dor", "an", "ing", "ed", "qua", "zer",
];

/// Mail domains of the generated addresses.
const DOMAINS: &[&str] = &["example.com", "mail.org", "post.net", "inbox.io"];

/// About `bytes` bytes of text: words of 1 to 4 syllables, now and then a number, a
/// date or an e-mail address, lines of about ten words.
fn text(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut words = 0;
    while out.len() < bytes {
        match rng.below(40) {
            0 => out.push_str(&format!(
                "{}-{:02}-{:02}",
                rng.range(1990, 2030),
                rng.range(1, 12),
                rng.range(1, 28)
            )),
            1 => {
                for _ in 0..rng.range(1, 3) {
                    out.push_str(rng.pick(SYLLABLES));
                }
                out.push('@');
                out.push_str(rng.pick(DOMAINS));
            }
            2..=4 => out.push_str(&rng.below(100_000).to_string()),
            _ => {
                for _ in 0..rng.range(1, 4) {
                    out.push_str(rng.pick(SYLLABLES));
                }
            }
        }
        words += 1;
        out.push(if words % 10 == 0 { '\n' } else { ' ' });
    }
    out
}

/// Collects every match of `pattern` in `haystack` into its own `String`, counts each
/// distinct one in a `HashMap`, and returns a checksum of the counts (independent of the
/// map's iteration order).
fn count_matches(pattern: &Regex, haystack: &str) -> u64 {
    let found: Vec<String> = pattern
        .find_iter(haystack)
        .map(|m| m.as_str().to_owned())
        .collect();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for m in &found {
        *counts.entry(m.clone()).or_default() += 1;
    }
    let per_key = counts.iter().fold(0u64, |acc, (k, n)| {
        acc.wrapping_add(fnv(k.as_bytes()).wrapping_mul(*n))
    });
    per_key ^ ((found.len() as u64) << 32) ^ counts.len() as u64
}

/// Generates `bytes` bytes of text and searches it with a few patterns (dates, e-mail
/// addresses with a capture group, words ending in "ing", numbers).
pub fn run(bytes: usize) -> u64 {
    let mut rng = Rng::new(0x5EED_0002);
    let haystack = text(&mut rng, bytes);
    let patterns = [
        r"\b\d{4}-\d{2}-\d{2}\b",
        r"\b([a-z]+)@([a-z]+)\.(com|org|net|io)\b",
        r"\b[a-z]+ing\b",
        r"\b\d{3,5}\b",
    ];
    let mut sum = haystack.len() as u64;
    for (i, p) in patterns.iter().enumerate() {
        let re = Regex::new(p).expect("the patterns are valid");
        sum = sum.wrapping_add(count_matches(&re, &haystack).rotate_left(i as u32 * 8));
    }
    // Captures too: one small allocation per match for the groups.
    let mail = Regex::new(r"([a-z]+)@([a-z]+)\.([a-z]+)").expect("the pattern is valid");
    let users: Vec<String> = mail
        .captures_iter(&haystack)
        .map(|c| format!("{} at {}", &c[1], &c[2]))
        .collect();
    sum.wrapping_add(
        users
            .iter()
            .map(|u| fnv(u.as_bytes()))
            .fold(0, u64::wrapping_add),
    )
}
