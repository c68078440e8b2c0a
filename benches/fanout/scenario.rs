//! The scenarios of the fan-out benchmark and the rounds they are made of. A round
//! publishes from a thread of this process (open loop at a fixed rate, each message
//! stamped with its intended send time, or as fast as the publisher can go), then lets
//! the subscriber process drain and report. Runs on the main thread, which also starts
//! and joins the publishing thread.
//!
//! Part of `cargo bench --bench fanout`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::procfs::{self, Raised};
use crate::remote::{Answer, Remote};
use crate::targets::{Kind, Publisher, Target};
use crate::wire::{self, Stamp};

/// What a scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A fixed publish rate: latency against the reference's.
    Paced,
    /// The highest rate with no skip and a p99 under 100 ms, found by a short search.
    Capacity,
    /// Publishing as fast as the publisher can go.
    Blast,
    /// Idle connections: memory and threads per connection.
    Idle,
}

impl Scenario {
    pub fn parse(name: &str) -> Option<Scenario> {
        match name {
            "paced" => Some(Scenario::Paced),
            "capacity" => Some(Scenario::Capacity),
            "blast" => Some(Scenario::Blast),
            "idle" => Some(Scenario::Idle),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Paced => "paced",
            Scenario::Capacity => "capacity",
            Scenario::Blast => "blast",
            Scenario::Idle => "idle",
        }
    }
}

/// One scenario with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub scenario: Scenario,
    pub n: usize,
    /// Messages per second (paced only).
    pub rate: f64,
    /// How long one round publishes (a capacity trial, for capacity; the hold, for idle).
    pub seconds: f64,
    /// The hub's per-client queue capacity when it is not the default of 256.
    pub queue: Option<usize>,
}

impl Spec {
    /// A short name that identifies the scenario in result lines: `paced/1000/50`.
    pub fn key(&self) -> String {
        let key = match self.scenario {
            Scenario::Paced => format!("paced/{}/{}", self.n, self.rate),
            other => format!("{}/{}", other.name(), self.n),
        };
        match self.queue {
            Some(queue) => format!("{key}/queue{queue}"),
            None => key,
        }
    }
}

/// Named figures of one side of a scenario, such as `lat_p99` in milliseconds.
pub type Figures = BTreeMap<&'static str, f64>;

/// The p99 latency a capacity trial may not reach, in milliseconds.
const CAPACITY_P99_MS: f64 = 100.0;

/// The capacity search narrows its interval until the highest rate that failed is at
/// most this factor above the highest that passed.
const CAPACITY_RESOLUTION: f64 = 1.05;

/// The most trials the capacity search makes after its first bound, however the trials
/// turn out.
const CAPACITY_TRIALS: usize = 9;

/// The most messages one round publishes, whatever its rate and length.
const MAX_MESSAGES: u64 = 20_000_000;

/// How long the servers and subscribers may take to get every connection ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `spec` against one server and returns its figures.
pub fn run_side(spec: &Spec, kind: Kind) -> Result<Figures, String> {
    let mut bench = Bench::open(kind, spec.n, spec.queue)?;
    let seconds = Duration::from_secs_f64(spec.seconds);
    let figures = match spec.scenario {
        Scenario::Paced => bench.round(Pace::Rate(spec.rate), seconds),
        Scenario::Blast => bench.round(Pace::Blast, seconds),
        Scenario::Capacity => bench.capacity(seconds),
        Scenario::Idle => bench.idle(seconds),
    };
    let mut figures = figures?;
    figures.insert("connected", bench.connected as f64);
    figures.insert("connect_s", bench.connect_time.as_secs_f64());
    drop(bench);
    Ok(figures)
}

/// How a round publishes.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// Open loop at this many messages per second.
    Rate(f64),
    /// As fast as the publisher can go; each message is stamped when it is sent.
    Blast,
}

/// What the publishing thread did in one round.
struct Published {
    count: u64,
    planned: u64,
    start_ns: u64,
    elapsed: Duration,
    /// Time spent inside the publishing calls, in all and at most once.
    in_calls: Duration,
    longest_call: Duration,
    /// How often the publishing thread was preempted during the round.
    preemptions: u64,
}

/// Times every publishing call: how long the embedding program's thread is held.
struct Timed<'a> {
    publisher: &'a mut Publisher,
    total: Duration,
    longest: Duration,
}

impl Timed<'_> {
    fn publish(&mut self, stamp: &Stamp) {
        let start = Instant::now();
        self.publisher.publish(stamp);
        let took = start.elapsed();
        self.total += took;
        self.longest = self.longest.max(took);
    }
}

/// One server with its subscribers connected.
struct Bench {
    n: usize,
    target: Option<Target>,
    remote: Option<Remote>,
    next_round: u32,
    connected: usize,
    connect_time: Duration,
    rss_before_connect: u64,
    /// Kernel limits raised for this server, restored after it stopped.
    raised: Vec<Raised>,
}

impl Bench {
    fn open(kind: Kind, n: usize, queue: Option<usize>) -> Result<Bench, String> {
        let limit = procfs::open_files_limit();
        if (n as u64) + 64 > limit {
            return Err(format!("needs {n} file descriptors; `ulimit -n` is {limit}"));
        }
        let raised = if kind == Kind::Hub { raise_limits(n)? } else { Vec::new() };
        let target = Target::start(kind, n, queue).map_err(|err| format!("cannot start: {err}"))?;
        let mut bench = Bench {
            n,
            rss_before_connect: procfs::rss_kib(),
            target: Some(target),
            remote: None,
            next_round: 1,
            connected: 0,
            connect_time: Duration::ZERO,
            raised,
        };

        let started = Instant::now();
        let remote = bench.remote.insert(Remote::spawn(kind, bench.target().addr(), n)?);
        let ready = remote.expect("ready", READY_TIMEOUT)?;
        bench.connected = ready.get("connected") as usize;
        // Publishing starts once the server's own count agrees with the subscribers'.
        let deadline = Instant::now() + Duration::from_secs(10);
        while bench.target().subscribers() < bench.connected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        bench.connect_time = started.elapsed();
        if bench.connected < n {
            println!("  {}: only {} of {n} subscribers connected", kind.name(), bench.connected);
        }
        Ok(bench)
    }

    fn target(&self) -> &Target {
        self.target.as_ref().expect("open until closed")
    }

    fn remote(&mut self) -> &mut Remote {
        self.remote.as_mut().expect("open until closed")
    }

    /// Publishes one round and returns what the subscribers and this process saw.
    fn round(&mut self, pace: Pace, length: Duration) -> Result<Figures, String> {
        let id = self.next_round;
        self.next_round += 1;
        self.remote().begin(id)?;
        let cpu_before = procfs::cpu_time();
        let (machine_before, clock) = (procfs::machine_busy(), Instant::now());
        let skipped_before = self.target().skipped();

        let mut publisher = self.target().publisher();
        let publishing = std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || publish(&mut publisher, id, pace, length))
            .map_err(|err| format!("cannot start the publisher: {err}"))?;
        let published = publishing.join().map_err(|_| "the publisher panicked".to_owned())?;
        let report = self.remote().finish(id, published.count)?;

        let cpu = procfs::cpu_time().saturating_sub(cpu_before);
        let machine = procfs::machine_busy().saturating_sub(machine_before).as_secs_f64();
        let mut figures = figures_of(&report, &published);
        // What the rest of the machine used meanwhile: a sign of noise in the figures.
        let ours = cpu.as_secs_f64() + report.get("cpu_ms") / 1000.0;
        let others = (machine - ours).max(0.0) / clock.elapsed().as_secs_f64();
        figures.insert("other_load_cores", others);
        let received = report.get("received");
        figures.insert("cpu_us_per_delivery", cpu.as_secs_f64() * 1e6 / received.max(1.0));
        figures.insert("server_skipped", (self.target().skipped() - skipped_before) as f64);
        figures.insert("threads", procfs::threads() as f64);
        figures.insert("rss_mib", procfs::rss_kib() as f64 / 1024.0);
        Ok(figures)
    }

    /// Searches the highest lossless rate: a blast round sets a first ceiling, a trial
    /// far below it a floor, and trials at the geometric middle narrow the interval until
    /// its ends are within [`CAPACITY_RESOLUTION`]. A ceiling that passes is raised
    /// until a trial fails, so that neither side is capped by its blast.
    fn capacity(&mut self, trial: Duration) -> Result<Figures, String> {
        let probe = self.round(Pace::Blast, Duration::from_secs(1))?;
        let ceiling = (probe["delivered_per_s"] / self.n as f64 * 1.25).max(1.0);
        let passes = |bench: &mut Bench, rate: f64| -> Result<Option<Figures>, String> {
            let figures = bench.round(Pace::Rate(rate), trial)?;
            let lossless = figures["skipped_pct"] == 0.0 && figures["closed"] == 0.0;
            let on_time = figures["lat_p99"] < CAPACITY_P99_MS && figures["behind"] == 0.0;
            let verdict = if lossless && on_time { "pass" } else { "fail" };
            println!(
                "    trial {rate:>10.0} msg/s: {verdict} (skipped {:.3}%, p99 {:.1} ms)",
                figures["skipped_pct"], figures["lat_p99"]
            );
            Ok((lossless && on_time).then_some(figures))
        };

        // The floor: a passing rate (lowered at most twice).
        let mut low = ceiling / 16.0;
        let mut best = None;
        for _ in 0..3 {
            if let Some(figures) = passes(self, low)? {
                best = Some((low, figures));
                break;
            }
            low /= 4.0;
        }
        let Some(mut best) = best else {
            let mut figures = Figures::new();
            figures.insert("capacity_msgs", 0.0);
            figures.insert("capacity_deliveries", 0.0);
            return Ok(figures);
        };
        // Until a trial fails, `high` is only a guess: it is tried, and raised when it
        // passes. Once one has failed, the interval is halved geometrically.
        let (mut high, mut bounded) = (ceiling, false);
        for _ in 0..CAPACITY_TRIALS {
            if bounded && high / low <= CAPACITY_RESOLUTION {
                break;
            }
            let rate = if bounded { (low * high).sqrt() } else { high };
            match passes(self, rate)? {
                Some(figures) => {
                    low = rate;
                    best = (rate, figures);
                    if !bounded {
                        high = rate * 1.25;
                    }
                }
                None => (high, bounded) = (rate, true),
            }
        }
        let (rate, mut figures) = best;
        figures.insert("capacity_msgs", rate);
        figures.insert("capacity_deliveries", rate * self.n as f64);
        figures.insert("blast_delivered_per_s", probe["delivered_per_s"]);
        Ok(figures)
    }

    /// Lets the connections sit idle for `hold` and reads this process's memory; then
    /// blasts for a second, so that every queue and write buffer fills, lets them sit
    /// idle again and reads it once more: what a connection keeps after a burst.
    fn idle(&mut self, hold: Duration) -> Result<Figures, String> {
        std::thread::sleep(hold);
        let rss = procfs::rss_kib();
        let mut figures = Figures::new();
        figures.insert("rss_per_conn_kib", self.per_connection_kib(rss));
        figures.insert("rss_mib", rss as f64 / 1024.0);
        figures.insert("threads", procfs::threads() as f64);
        figures.insert("maps", procfs::maps() as f64);

        self.round(Pace::Blast, Duration::from_secs(1))?;
        std::thread::sleep(hold);
        figures.insert("rss_burst_per_conn_kib", self.per_connection_kib(procfs::rss_kib()));
        Ok(figures)
    }

    /// Returns how much more memory than before the connections this process holds now,
    /// per connection.
    fn per_connection_kib(&self, rss_kib: u64) -> f64 {
        rss_kib.saturating_sub(self.rss_before_connect) as f64 / self.connected.max(1) as f64
    }
}

impl Drop for Bench {
    /// Closes the subscribers first, so that the server sees its clients leave, then
    /// stops the server and puts back the limits raised for it; also on an error path.
    fn drop(&mut self) {
        if let Some(remote) = self.remote.take() {
            remote.quit();
        }
        if let Some(target) = self.target.take() {
            target.shutdown();
        }
        self.raised.clear();
    }
}

/// Raises the kernel limits that `n` connections of two threads each would break.
fn raise_limits(n: usize) -> Result<Vec<Raised>, String> {
    let n = n as u64;
    // Each thread costs about four memory maps (stack, guard page and their neighbours).
    let maps = procfs::maps() as u64 + 8 * n + 4096;
    let threads = procfs::machine_threads() + 2 * n + 2048;
    let mut raised = Vec::new();
    for (path, needed) in
        [("/proc/sys/vm/max_map_count", maps), ("/proc/sys/kernel/pid_max", threads)]
    {
        if let Some(guard) = procfs::ensure_setting(path, needed)? {
            raised.push(guard);
        }
    }
    Ok(raised)
}

/// Publishes one round from the calling thread.
fn publish(publisher: &mut Publisher, round: u32, pace: Pace, length: Duration) -> Published {
    let mut publisher = Timed { publisher, total: Duration::ZERO, longest: Duration::ZERO };
    let preemptions_before = procfs::thread_preemptions();
    let start = Instant::now();
    let start_ns = wire::unix_nanos();
    let mut count = 0;
    let planned = match pace {
        Pace::Rate(rate) => {
            let planned = ((rate * length.as_secs_f64()).round() as u64).min(MAX_MESSAGES);
            // A publisher that falls this far behind gives up; the round is reported
            // with fewer messages than planned.
            let give_up = length + Duration::from_secs(5);
            for seq in 0..planned {
                let offset = Duration::from_secs_f64(seq as f64 / rate);
                let due = start + offset;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else if now - start > give_up {
                    break;
                }
                let intended_ns = start_ns + offset.as_nanos() as u64;
                publisher.publish(&Stamp { round, seq, intended_ns });
                count += 1;
            }
            planned
        }
        Pace::Blast => {
            while count < MAX_MESSAGES && start.elapsed() < length {
                publisher.publish(&Stamp { round, seq: count, intended_ns: wire::unix_nanos() });
                count += 1;
            }
            count
        }
    };
    Published {
        count,
        planned,
        start_ns,
        elapsed: start.elapsed(),
        in_calls: publisher.total,
        longest_call: publisher.longest,
        preemptions: procfs::thread_preemptions() - preemptions_before,
    }
}

/// Turns the subscriber process's report and the publisher's counts into figures.
fn figures_of(report: &Answer, published: &Published) -> Figures {
    let mut figures = Figures::new();
    let expected = report.get("expected");
    let received = report.get("received");
    let window_ns = report.get("last_ns") - published.start_ns as f64;
    let delivered_per_s = if window_ns > 0.0 { received / (window_ns / 1e9) } else { 0.0 };
    let publish_s = published.elapsed.as_secs_f64();
    figures.insert("published", published.count as f64);
    let count = published.count.max(1) as f64;
    figures.insert("call_us", published.in_calls.as_secs_f64() * 1e6 / count);
    figures.insert("call_max_us", published.longest_call.as_secs_f64() * 1e6);
    figures.insert("preempted_per_msg", published.preemptions as f64 / count);
    figures.insert("publish_rate", published.count as f64 / publish_s.max(1e-9));
    figures.insert("behind", (published.count < published.planned) as u8 as f64);
    figures.insert("delivered_per_s", delivered_per_s);
    figures.insert("skipped_pct", 100.0 * report.get("missed") / expected.max(1.0));
    figures.insert("gaps", report.get("gaps"));
    figures.insert("disorder", report.get("disorder"));
    figures.insert("closed", report.get("closed"));
    for key in ["lat_p50", "lat_p90", "lat_p99", "lat_p999", "lat_max", "comp_p50", "comp_p99"] {
        figures.insert(key, report.get(key));
    }
    let window_ms = window_ns.max(1.0) / 1e6;
    figures.insert("client_cpu_pct", 100.0 * report.get("cpu_ms") / window_ms);
    figures
}
