//! Parsing and printing JSON with `serde_json`: generated records built as a
//! `serde_json::Value` tree, printed compactly, then several rounds of parse, walk and
//! pretty-print.

use serde_json::{Map, Value, json};

use crate::rng::{Rng, fnv};

/// Words the generated names and tags are made of.
const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
];

/// One generated record: strings, numbers, an array and a nested object.
fn record(rng: &mut Rng, id: u64) -> Value {
    let name = format!(
        "{}-{}-{}",
        rng.pick(WORDS),
        rng.pick(WORDS),
        rng.below(10_000)
    );
    let tags: Vec<Value> = (0..rng.range(0, 8))
        .map(|_| Value::String(rng.pick(WORDS).to_owned()))
        .collect();
    let mut attributes = Map::new();
    for _ in 0..rng.range(1, 6) {
        let key = format!("{}_{}", rng.pick(WORDS), rng.below(100));
        attributes.insert(key, json!(rng.below(1_000_000)));
    }
    json!({
        "id": id,
        "name": name,
        "score": (rng.below(1_000_000) as f64) / 1000.0,
        "active": rng.below(2) == 1,
        "tags": tags,
        "attributes": attributes,
        "history": (0..rng.range(0, 12)).map(|_| rng.below(1 << 40)).collect::<Vec<_>>(),
    })
}

/// A checksum of a value tree, by walking it: the same tree gives the same figure.
fn walk(value: &Value) -> u64 {
    match value {
        Value::Null => 1,
        Value::Bool(b) => 2 + u64::from(*b),
        Value::Number(n) => n
            .as_u64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0).to_bits()),
        Value::String(s) => fnv(s.as_bytes()),
        Value::Array(items) => items
            .iter()
            .fold(3, |h, v| h.rotate_left(5).wrapping_add(walk(v))),
        Value::Object(map) => map.iter().fold(4, |h, (k, v)| {
            h.rotate_left(7) ^ fnv(k.as_bytes()).wrapping_add(walk(v))
        }),
    }
}

/// Builds `records` records, prints them (compact, a few MB at full size), then
/// `rounds` times: parses the text into a tree, walks it, pretty-prints it and parses
/// the pretty text back. Returns a checksum of the trees and the texts' lengths.
pub fn run(records: u64, rounds: u32) -> u64 {
    let mut rng = Rng::new(0x5EED_0001);
    let doc = Value::Array((0..records).map(|id| record(&mut rng, id)).collect());
    let text = serde_json::to_string(&doc).expect("a Value always serializes");
    drop(doc);
    let mut sum = text.len() as u64;
    for round in 0..rounds {
        let tree: Value = serde_json::from_str(&text).expect("generated JSON parses");
        sum = sum.wrapping_add(walk(&tree).rotate_left(round));
        let pretty = serde_json::to_string_pretty(&tree).expect("a Value always serializes");
        sum = sum.wrapping_add(pretty.len() as u64);
        let again: Value = serde_json::from_str(&pretty).expect("pretty JSON parses");
        assert_eq!(
            walk(&again),
            walk(&tree),
            "pretty-printing changed the tree"
        );
    }
    sum
}
