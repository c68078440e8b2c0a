//! What the fan-out benchmark reads about its own process and the kernel from `/proc`:
//! CPU time, threads, resident memory and memory maps, and the two limits that decide
//! whether thousands of connection threads fit (`vm.max_map_count`, `kernel.pid_max`),
//! which it raises for the length of a run when it may. Runs on the main thread of
//! either process.
//!
//! Part of `cargo bench --bench fanout`.

use std::fs;
use std::time::Duration;

/// The running binary itself. Started through this link, a scenario or subscriber
/// process is the same program even when a rebuild replaced the file on disk meanwhile.
pub const OWN_BINARY: &str = "/proc/self/exe";

/// Clock ticks per second of the times in `/proc/<pid>/stat`: `USER_HZ`, which Linux
/// fixes at 100 for that interface.
const TICKS_PER_SECOND: u64 = 100;

/// Returns the CPU time (user plus system) the whole process used so far, finished
/// threads included.
pub fn cpu_time() -> Duration {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count from its end.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the stat line, `utime` and `stime`, counted from `state` (3).
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// Returns a field of `/proc/self/status` as a number (`Threads`, `VmRSS` in KiB, ...).
fn status_field(name: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Returns how many threads this process has.
pub fn threads() -> u64 {
    status_field("Threads")
}

/// Returns this process's resident memory in KiB.
pub fn rss_kib() -> u64 {
    status_field("VmRSS")
}

/// Returns how many memory maps this process has.
pub fn maps() -> usize {
    fs::read_to_string("/proc/self/maps").map_or(0, |maps| maps.lines().count())
}

/// Returns how many threads run on the whole machine, from `/proc/loadavg`.
pub fn machine_threads() -> u64 {
    let loadavg = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .nth(3)
        .and_then(|running_total| running_total.split_once('/')?.1.parse().ok())
        .unwrap_or(0)
}

/// Returns whether the process runs as root (effective user id 0).
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|line| line.strip_prefix("Uid:"));
    uid.and_then(|ids| ids.split_whitespace().nth(1)).is_some_and(|effective| effective == "0")
}

/// A kernel setting raised for the length of a run and put back when dropped.
pub struct Raised {
    path: &'static str,
    old: u64,
}

impl Drop for Raised {
    fn drop(&mut self) {
        match fs::write(self.path, self.old.to_string()) {
            Ok(()) => println!("  restored {} to {}", self.path, self.old),
            Err(err) => println!("  could not restore {} to {}: {err}", self.path, self.old),
        }
    }
}

/// Reads a numeric kernel setting.
pub fn read_setting(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Makes sure the setting at `path` is at least `needed`.
///
/// Returns `Ok(None)` when it already is, `Ok(Some(guard))` when it was raised (the guard
/// puts it back), or `Err` saying why the run cannot go on.
pub fn ensure_setting(path: &'static str, needed: u64) -> Result<Option<Raised>, String> {
    let old = read_setting(path).ok_or_else(|| format!("cannot read {path}"))?;
    if old >= needed {
        return Ok(None);
    }
    if !is_root() {
        return Err(format!(
            "{path} is {old} and this run needs at least {needed}; run as root (the benchmark \
             raises it for the run and restores it) or raise it by hand"
        ));
    }
    fs::write(path, needed.to_string()).map_err(|err| format!("cannot raise {path}: {err}"))?;
    println!("  raised {path} from {old} to {needed} for this run");
    Ok(Some(Raised { path, old }))
}

/// Returns this process's soft limit on open files (`ulimit -n`).
pub fn open_files_limit() -> u64 {
    let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|values| values.split_whitespace().next()?.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Returns the CPU time the whole machine spent busy so far (every core, every process),
/// from the first line of `/proc/stat`.
pub fn machine_busy() -> Duration {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user, nice, system, idle, iowait, irq, softirq, steal: all but idle and iowait.
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| ticks.get(i)).sum();
    Duration::from_millis(busy * 1000 / TICKS_PER_SECOND)
}

/// Returns how often the calling thread was preempted so far (its involuntary context
/// switches).
pub fn thread_preemptions() -> u64 {
    let status = fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("nonvoluntary_ctxt_switches:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}
