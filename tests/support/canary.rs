//! A canary and a baseline for the bad-input tests. The canary is a client on channel
//! `canary` that must receive every number of a steady numbered stream while a test
//! abuses the hub; the baseline is the process's threads, file descriptors and memory,
//! which must come back once the abuse is over.
//!
//! Counts are per process: run the tests with `cargo nextest`, which gives each test a
//! process of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wshub::{Hub, HubConfig, Message};

use super::{Client, PATIENCE, Seen, thread_count, wait_until};

/// The channel the canary listens on.
pub const CHANNEL: &str = "canary";

/// The pause between two numbers of the stream.
const INTERVAL: Duration = Duration::from_millis(5);

/// How many numbers the canary must have received before a test may start.
const FLOWING: u64 = 3;

/// How much the resident memory may grow over a test before it counts as not flat.
const MEMORY_SLACK_KIB: u64 = 32 * 1024;

/// Returns the settings of the bad-input tests: the defaults with short timeouts, so
/// that a case that waits for one waits briefly.
pub fn config() -> HubConfig {
    HubConfig {
        handshake_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
        close_timeout: Duration::from_millis(500),
        ..HubConfig::default()
    }
}

/// Runs `case` against a live hub while a canary listens through `client` (connected,
/// and authenticated where the hub asks for it); then asserts that the process's
/// threads, descriptors and memory are back where they were before `case`, and that the
/// canary saw every message. Returns what `case` returned.
pub fn watch<T>(hub: &Hub, client: Client, case: impl FnOnce() -> T) -> T {
    let canary = Canary::start_with(hub, client);
    let baseline = Baseline::take();
    let outcome = case();
    baseline.assert_restored();
    canary.finish();
    outcome
}

/// A publisher thread and a listening client; see the module docs.
pub struct Canary {
    stop: Arc<AtomicBool>,
    /// The last number the listener must see; `u64::MAX` until the publisher stopped.
    last: Arc<AtomicU64>,
    publisher: JoinHandle<Result<u64, String>>,
    listener: JoinHandle<Result<u64, String>>,
}

impl Canary {
    /// Starts the stream to `client`, an already connected client.
    pub fn start_with(hub: &Hub, mut client: Client) -> Canary {
        client.subscribe(CHANNEL);
        let stop = Arc::new(AtomicBool::new(false));
        let last = Arc::new(AtomicU64::new(u64::MAX));
        let publisher = {
            let (hub, stop) = (hub.clone(), Arc::clone(&stop));
            thread::spawn(move || publish(&hub, &stop))
        };
        let seen = Arc::new(AtomicU64::new(0));
        let listener = {
            let (last, seen) = (Arc::clone(&last), Arc::clone(&seen));
            thread::spawn(move || listen(client, &last, &seen))
        };
        // The stream must be flowing before the test starts its abuse.
        let flowing = wait_until(PATIENCE, || seen.load(Ordering::SeqCst) >= FLOWING);
        assert!(flowing, "the canary stream did not start");
        Canary { stop, last, publisher, listener }
    }

    /// Stops the stream and asserts that the client saw every number, in order.
    pub fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self.publisher.join().expect("publisher thread").expect("canary publish");
        self.last.store(sent, Ordering::SeqCst);
        let seen = self.listener.join().expect("listener thread").expect("canary stream");
        assert_eq!(seen, sent, "the canary missed messages");
    }
}

/// Publishes 1, 2, 3, ... until stopped; each must be queued for the canary client.
fn publish(hub: &Hub, stop: &AtomicBool) -> Result<u64, String> {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let queued = hub.send_to_channel(CHANNEL, Message::event("tick", n));
        if queued.as_ref().ok() != Some(&1) {
            return Err(format!("number {n} was not queued for the canary: {queued:?}"));
        }
        thread::sleep(INTERVAL);
    }
    Ok(n)
}

/// Receives the stream until the last number, showing in `shown` how far it got; fails
/// on a gap, a reordering or a pause longer than the test's patience.
fn listen(mut client: Client, last: &AtomicU64, shown: &AtomicU64) -> Result<u64, String> {
    let mut seen = 0;
    let mut progress = Instant::now();
    while seen < last.load(Ordering::SeqCst) {
        if progress.elapsed() > PATIENCE {
            return Err(format!("the canary stream stalled after {seen}"));
        }
        let message = match client.next(Duration::from_millis(100)) {
            Seen::Json(message) => message,
            Seen::Nothing => continue,
            other => return Err(format!("the canary client saw {other:?} after {seen}")),
        };
        if message["channel"] != CHANNEL {
            continue;
        }
        let n = message["data"]["data"].as_u64().ok_or("a tick without a number")?;
        if n != seen + 1 {
            return Err(format!("the canary got {n} after {seen}"));
        }
        seen = n;
        shown.store(seen, Ordering::SeqCst);
        progress = Instant::now();
    }
    Ok(seen)
}

/// The process's threads, descriptors and memory at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    threads: usize,
    fds: usize,
    rss_kib: u64,
}

impl Baseline {
    /// Records the current counts.
    pub fn take() -> Baseline {
        Baseline { threads: thread_count(), fds: fd_count(), rss_kib: rss_kib() }
    }

    /// Waits until threads and descriptors are back at the baseline and asserts that
    /// memory stayed within a small slack of it.
    pub fn assert_restored(&self) {
        let back =
            wait_until(PATIENCE, || thread_count() == self.threads && fd_count() == self.fds);
        assert!(
            back,
            "not back to the baseline: {} threads (was {}), {} descriptors (was {})",
            thread_count(),
            self.threads,
            fd_count(),
            self.fds
        );
        let grown = rss_kib().saturating_sub(self.rss_kib);
        assert!(grown < MEMORY_SLACK_KIB, "resident memory grew by {grown} KiB");
    }
}

/// Returns how many file descriptors this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("procfs").count()
}

/// Returns this process's resident memory in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line["VmRSS:".len()..].trim().trim_end_matches("kB").trim().parse().expect("a number")
}

/// Keeps the panics the test provokes on purpose, those whose message holds `marker`,
/// from being printed: printing one loads the binary's debug information for its
/// backtrace, tens of megabytes that would blur the memory baseline. Other panics are
/// printed as usual.
pub fn quiet_panics(marker: &'static str) {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if !text.contains(marker) {
            print(info);
        }
    }));
}
