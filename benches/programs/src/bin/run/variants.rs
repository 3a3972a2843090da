//! Building the program once per allocator: `cargo build --release --no-default-features
//! --features <allocator> --bin program`, each result copied to `program-<allocator>`
//! beside it (the crates.io dependencies build once; only the program and the chosen
//! allocator's crate rebuild from one variant to the next).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the variant of `allocator` and returns the path of its own copy.
pub fn build(allocator: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--no-default-features",
            "--features",
            allocator,
        ])
        .args([
            "--bin",
            "program",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the {allocator} variant failed ({})",
            output.status
        ));
    }
    let built = executable(&output.stdout)
        .ok_or_else(|| format!("cargo reported no executable for the {allocator} variant"))?;
    let copy = built.with_file_name(format!("program-{allocator}"));
    std::fs::copy(&built, &copy)
        .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), copy.display()))?;
    Ok(copy)
}

/// The path of the `program` executable in cargo's JSON messages.
fn executable(messages: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "program")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}
