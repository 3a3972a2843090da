//! One run of a program binary as a child process: wall time, CPU time and peak
//! resident memory (`ru_maxrss` of that child, from `wait4`), and what it printed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run gave.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From just before the spawn to the child's exit.
    pub wall: Duration,
    /// The child's user plus system CPU time.
    pub cpu: Duration,
    /// The child's peak resident set (`ru_maxrss`), in bytes.
    pub peak_rss: u64,
    /// The checksum the program printed.
    pub checksum: String,
}

/// Runs `binary` with `args`, waits for it and measures it. `Err` if it could not be
/// started, did not exit with status 0, or printed no checksum line.
pub fn run(binary: &Path, args: &[&str]) -> Result<Sample, String> {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout)
        .map_err(|e| format!("cannot read the output of {}: {e}", binary.display()))?;
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status = 0;
    // SAFETY: `rusage` is plain old data, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (`Child` is never waited on: it is
    // dropped below, which does not wait); `status` and `usage` are valid for writes.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    drop(child);
    if reaped != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let how = if libc::WIFSIGNALED(status) {
            format!("killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("exit status {}", libc::WEXITSTATUS(status))
        };
        return Err(format!("{} failed: {how}", binary.display()));
    }
    let checksum = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checksum "))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("{} printed no checksum: {stdout:?}", binary.display()))?
        .to_owned();
    Ok(Sample {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        // Linux gives `ru_maxrss` in KiB.
        peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        checksum,
    })
}

/// A `timeval` as a `Duration` (negative fields, which the kernel never gives, as 0).
fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}
