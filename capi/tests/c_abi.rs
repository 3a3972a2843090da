//! Builds the C test `tests/c/mapi_test.c` against the static library of this crate
//! (with the backend of this build's features), runs it, and runs it again under
//! valgrind (`--leak-check=full --error-exitcode=1`): no failed check, no leak, no
//! invalid access.
//!
//! The static library is built by a nested `cargo rustc` into a target directory of
//! its own under `CARGO_TARGET_TMPDIR` (so it never waits for the outer build's lock),
//! and its path and native link flags are read from cargo's JSON messages. Needs a C
//! compiler (`$CC`, else `cc`); the valgrind run is skipped, and says so, where
//! valgrind is not installed, unless `LINKED_ALLOC_REQUIRE_VALGRIND` is set (as
//! `scripts/c-tests.sh`, which CI runs, sets it). Not run under Miri (it runs
//! processes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The backend feature this test binary was built with (the same precedence as the
/// library's).
const BACKEND: &str = if cfg!(feature = "pool") {
    "pool"
} else if cfg!(feature = "mmap") {
    "mmap"
} else {
    "system"
};

/// Whether the backend's `block_status` tells a child from a root (so the C test
/// checks that `MAPIFreeBuffer` refuses a child): all three do.
const TELLS_CHILDREN: bool = true;

/// Whether the backend's `block_status` checks any pointer (so the C test checks that
/// foreign, interior and freed pointers are refused): the pool's does.
const CHECKS_ANY_POINTER: bool = cfg!(feature = "pool");

/// The pool's size, if the backend is a fixed pool (the C test exhausts it).
#[cfg(feature = "pool")]
const POOL_BYTES: Option<usize> = Some(linked_alloc_capi::POOL_BYTES);
#[cfg(not(feature = "pool"))]
const POOL_BYTES: Option<usize> = None;

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {cmd:?}: {e}"));
    assert!(out.status.success(), "{}", describe(what, &out));
    out
}

/// The strings of the JSON array that follows `key` in `line` (cargo's messages hold
/// paths and notes as plain JSON strings; this reads them without a JSON crate).
fn json_strings(line: &str, key: &str) -> Vec<String> {
    let Some(start) = line.find(key) else {
        return Vec::new();
    };
    let rest = &line[start + key.len()..];
    let mut out = Vec::new();
    let mut chars = rest.chars();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (None, ']') => break,
            (Some(s), '\\') => {
                if let Some(escaped) = chars.next() {
                    s.push(if escaped == 'n' { '\n' } else { escaped });
                }
            }
            (Some(_), '"') => out.push(current.take().unwrap_or_default()),
            (Some(s), c) => s.push(c),
            (None, _) => {}
        }
    }
    out
}

/// Builds the static library and the C test program once; returns the program.
fn program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(build_program)
}

fn build_program() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-c-{BACKEND}"));
    std::fs::create_dir_all(&work).expect("create the work directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    let out = run(
        "cargo rustc (static library)",
        Command::new(&cargo)
            .args(["rustc", "--quiet", "--lib", "--crate-type", "staticlib"])
            .args(["--message-format", "json"])
            .arg("--manifest-path")
            .arg(manifest_dir.join("Cargo.toml"))
            .args(["--no-default-features", "--features", BACKEND])
            .arg("--target-dir")
            .arg(work.join("target"))
            .args(["--", "--print", "native-static-libs"]),
    );
    let messages = String::from_utf8_lossy(&out.stdout);
    let mut staticlib = None;
    let mut native_libs = None;
    for line in messages.lines() {
        if line.contains("\"reason\":\"compiler-artifact\"") && line.contains("linked-alloc-capi") {
            staticlib = json_strings(line, "\"filenames\":[")
                .into_iter()
                .find(|f| f.ends_with(".a") || f.ends_with(".lib"))
                .or(staticlib);
        }
        if let Some(at) = line.find("native-static-libs: ") {
            let flags = &line[at + "native-static-libs: ".len()..];
            let flags = flags.split(['"', '\\']).next().unwrap_or_default();
            native_libs = Some(
                flags
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>(),
            );
        }
    }
    let staticlib = staticlib.unwrap_or_else(|| {
        panic!("cargo named no static library of linked-alloc-capi in:\n{messages}")
    });
    // Cargo replays the note when the library is fresh; the fallback covers Linux if not.
    let native_libs =
        native_libs.unwrap_or_else(|| ["-lpthread", "-ldl", "-lm"].map(String::from).to_vec());

    let program = work.join("mapi_test");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut compile = Command::new(cc);
    compile
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"])
        .arg("-I")
        .arg(manifest_dir.join("include"))
        .arg(manifest_dir.join("tests/c/mapi_test.c"))
        .arg(&staticlib)
        .args(&native_libs)
        .arg("-o")
        .arg(&program);
    if TELLS_CHILDREN {
        compile.arg("-DMAPI_TEST_TELLS_CHILDREN");
    }
    if CHECKS_ANY_POINTER {
        compile.arg("-DMAPI_TEST_CHECKS_ANY_POINTER");
    }
    if let Some(bytes) = POOL_BYTES {
        compile.arg(format!("-DMAPI_TEST_POOL_BYTES={bytes}"));
    }
    run("cc (mapi_test.c)", &mut compile);
    program
}

#[track_caller]
fn assert_all_passed(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_else(|| panic!("no summary line in:\n{}", describe("mapi_test", out)));
    let (passed, failed) = summary
        .split_once(" passed, ")
        .unwrap_or_else(|| panic!("bad summary line: {summary}"));
    let passed: usize = passed.parse().expect("a count of passed checks");
    assert_eq!(failed, "0 failed", "{}", describe("mapi_test", out));
    assert!(passed > 50, "only {passed} checks ran");
    for skipped in stdout.lines().filter(|l| l.starts_with("skipped: ")) {
        println!("{BACKEND}: {skipped}");
    }
    println!("{BACKEND}: {summary}");
}

#[test]
#[cfg_attr(miri, ignore = "runs a C program")]
fn c_program_passes() {
    let out = run("mapi_test", &mut Command::new(program()));
    assert_all_passed(&out);
}

/// Set (to anything) by `scripts/c-tests.sh`: the valgrind run must not be skipped.
const REQUIRE_VALGRIND: &str = "LINKED_ALLOC_REQUIRE_VALGRIND";

/// Whether a `valgrind` command runs.
fn valgrind_is_installed() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[cfg_attr(miri, ignore = "runs a C program")]
fn c_program_is_clean_under_valgrind() {
    if !valgrind_is_installed() {
        assert!(
            std::env::var_os(REQUIRE_VALGRIND).is_none(),
            "valgrind is not installed, and {REQUIRE_VALGRIND} asks for it"
        );
        // Straight to the process's stderr, not `eprintln!`: the test harness captures
        // the print macros of a passing test, and this line must show in `cargo test`.
        let line = format!(
            "{BACKEND}: SKIPPED the valgrind run: valgrind is not installed \
             (scripts/c-tests.sh, which CI runs, requires it)\n"
        );
        std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes())
            .expect("stderr is writable");
        return;
    }
    let out = run(
        "valgrind mapi_test (install valgrind if it is missing)",
        Command::new("valgrind")
            .args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible",
            ])
            .args(["--error-exitcode=1", "--"])
            .arg(program()),
    );
    assert_all_passed(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "{}",
        describe("valgrind", &out)
    );
    assert!(
        !stderr.contains("definitely lost: ") || stderr.contains("definitely lost: 0 bytes"),
        "{}",
        describe("valgrind", &out)
    );
    println!("{BACKEND}: valgrind clean");
}
