//! The fan-out benchmark: one channel, ~150-byte `process_output` messages, N real
//! WebSocket subscribers in a separate process, and a raw TCP reference measured in the
//! same run, so that every hub figure stands beside what the machine does without a
//! WebSocket library.
//!
//! ```text
//! cargo bench --bench fanout -- --all --runs 3            # every scenario, medians, targets
//! cargo bench --bench fanout -- --scenario paced --n 1000 --rate 50 --seconds 10
//! cargo bench --bench fanout -- --scenario capacity --n 1000
//! cargo bench --bench fanout -- --scenario blast --n 100
//! cargo bench --bench fanout -- --scenario idle --n 1000
//! ```
//!
//! The process that runs the scenario embeds the server (a [`wshub::Hub`], or the raw
//! reference) and publishes from a thread of its own, as a program that embeds the hub
//! does. The subscribers live in a second process, this binary started again, holding
//! every connection on one `mio` poll thread. Paced rounds publish open loop: each
//! message carries the time it was meant to be sent, so a slow server cannot hide its
//! latency by slowing the publisher. See `--help` for the options and the figures.

#[path = "fanout/procfs.rs"]
mod procfs;
#[path = "fanout/remote.rs"]
mod remote;
#[path = "fanout/report.rs"]
mod report;
#[path = "fanout/scenario.rs"]
mod scenario;
#[path = "fanout/subscribers.rs"]
mod subscribers;
#[path = "fanout/targets.rs"]
mod targets;
#[path = "fanout/wire.rs"]
mod wire;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use report::{Collected, Sides};
use scenario::{Scenario, Spec};
use targets::Kind;

const HELP: &str = "\
fan-out benchmark of wshub against a raw TCP reference

usage: cargo bench --bench fanout -- [options]

  --scenario NAME   paced | capacity | blast | idle (default paced)
  --n N             subscribers (default 1000)
  --rate R          paced: messages per second (default: 10000 for N=1, 500 for
                    N=100, 50 for N=1000, 5 for N=10000, else 10)
  --seconds S       paced and blast: publishing time (default 10 and 5); capacity:
                    length of one trial (default 1.5); idle: hold time (default 2)
  --side SIDE       both | hub | reference (default both)
  --queue Q         the hub's per-client queue capacity instead of the default 256; for
                    exploring only, the targets are stated for the default
  --all             the standard list: paced at N=1, 100, 1000, 10000 and 5000 at 10/s,
                    capacity at N=100 and 1000, blast at N=100, idle at N=1000
  --runs K          run each scenario K times, each in a fresh process, and print the
                    medians and the targets (default 1)

Capacity is the highest rate of a trial with no skip, no closed connection and a p99
under 100 ms: trials at the geometric middle of the highest passing and the lowest
failing rate narrow it to within 5% (at most nine trials after a passing floor).

Figures per side: delivered messages/s, skipped % (messages a subscriber never got),
latency from the intended send time (p50, p90, p99, p99.9, max), fan-out completion
time (the last subscriber's arrival) p50 and p99, the server process's CPU time per
delivery, threads and RSS; for idle, the RSS per connection, fresh and again after a
one-second blast. Ratios are hub/reference within the same run. Each side also
reports the load other processes put on the machine meanwhile; with --all or --runs,
the benchmark waits (up to 90 s) for that load to drop below a quarter of a core
before each scenario.

For N=10000 the hub needs two threads per connection; the benchmark raises
vm.max_map_count (and kernel.pid_max if needed) when it runs as root, restores them
afterwards, and otherwise skips the hub side and says why.
";

/// A scenario process that runs longer than this is killed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    if let Ok(spec) = std::env::var(subscribers::ROLE_VAR) {
        return subscribers::run(&spec);
    }
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("{why}\n\n{HELP}");
            return ExitCode::FAILURE;
        }
    };
    if options.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    print_machine();
    if options.all || options.runs > 1 {
        run_many(&options)
    } else {
        run_one(&options.specs[0], &options.sides);
        ExitCode::SUCCESS
    }
}

struct Options {
    specs: Vec<Spec>,
    sides: Vec<Kind>,
    all: bool,
    runs: usize,
    help: bool,
    /// The arguments as given, passed on to the scenario processes.
    passed: Vec<String>,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut scenario = Scenario::Paced;
        let (mut n, mut rate, mut seconds, mut queue) = (1000, None, None, None);
        let mut options = Options {
            specs: Vec::new(),
            sides: Vec::new(),
            all: false,
            runs: 1,
            help: false,
            passed: Vec::new(),
        };
        let mut side = "both".to_owned();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every benchmark binary.
                "--bench" => continue,
                "--help" | "-h" => options.help = true,
                "--all" => options.all = true,
                "--scenario" => {
                    let name = value("--scenario")?;
                    scenario = Scenario::parse(&name).ok_or(format!("unknown scenario {name}"))?;
                }
                "--n" => n = number(&value("--n")?)?,
                "--rate" => rate = Some(number(&value("--rate")?)?),
                "--seconds" => seconds = Some(number(&value("--seconds")?)?),
                "--side" => side = value("--side")?,
                "--queue" => queue = Some(number::<usize>(&value("--queue")?)?),
                "--runs" => options.runs = number::<usize>(&value("--runs")?)?.clamp(1, 20),
                other => return Err(format!("unknown option {other}")),
            }
        }
        options.sides = match side.as_str() {
            "both" => vec![Kind::Reference, Kind::Hub],
            "hub" => vec![Kind::Hub],
            "reference" => vec![Kind::Reference],
            other => return Err(format!("unknown side {other}")),
        };
        options.passed = vec!["--side".into(), side];
        options.specs =
            if options.all { standard_list() } else { vec![spec(scenario, n, rate, seconds)] };
        for spec in &mut options.specs {
            spec.queue = queue;
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

/// Fills in the defaults of a scenario.
fn spec(scenario: Scenario, n: usize, rate: Option<f64>, seconds: Option<f64>) -> Spec {
    let default_rate = match n {
        1 => 10_000.0,
        100 => 500.0,
        1000 => 50.0,
        10_000 => 5.0,
        _ => 10.0,
    };
    let default_seconds = match scenario {
        Scenario::Paced => 10.0,
        Scenario::Blast => 5.0,
        Scenario::Capacity => 1.5,
        Scenario::Idle => 2.0,
    };
    let rate = rate.unwrap_or(default_rate);
    Spec { scenario, n, rate, seconds: seconds.unwrap_or(default_seconds), queue: None }
}

fn standard_list() -> Vec<Spec> {
    vec![
        spec(Scenario::Paced, 1, None, None),
        spec(Scenario::Paced, 100, None, None),
        spec(Scenario::Paced, 1000, None, None),
        spec(Scenario::Paced, 10_000, None, None),
        spec(Scenario::Paced, 5000, Some(10.0), None),
        spec(Scenario::Capacity, 100, None, None),
        spec(Scenario::Capacity, 1000, None, None),
        spec(Scenario::Blast, 100, None, None),
        spec(Scenario::Idle, 1000, None, None),
    ]
}

/// Runs one scenario in this process, each side in turn, and prints its table.
fn run_one(spec: &Spec, sides: &[Kind]) -> Sides {
    let started = Instant::now();
    println!(
        "\n== {} (N={}{}, {} s{}) ==",
        spec.scenario.name(),
        spec.n,
        if spec.scenario == Scenario::Paced {
            format!(", {} msg/s", spec.rate)
        } else {
            String::new()
        },
        spec.seconds,
        if spec.scenario == Scenario::Capacity { " per trial" } else { "" },
    );
    let mut results = Sides::new();
    for &kind in sides {
        println!("  {} ...", kind.name());
        results.insert(kind.name(), scenario::run_side(spec, kind));
    }
    report::print_table(spec, &results);
    report::print_results(spec, &results);
    println!("scenario took {:.1} s", started.elapsed().as_secs_f64());
    results
}

/// Runs every scenario `runs` times, each in a fresh process of this binary, then
/// prints the medians and the targets.
fn run_many(options: &Options) -> ExitCode {
    let mut collected = Collected::default();
    for run in 1..=options.runs {
        for spec in &options.specs {
            println!("\n-- run {run} of {} --", options.runs);
            wait_for_quiet();
            if let Err(why) = run_child(spec, options, &mut collected) {
                println!("{} failed: {why}", spec.key());
            }
        }
    }
    collected.print_summary();
    ExitCode::SUCCESS
}

/// The machine counts as quiet while other processes use less than this many cores.
const QUIET_CORES: f64 = 0.25;

/// The longest wait for a quiet machine before a scenario starts anyway.
const QUIET_WAIT: Duration = Duration::from_secs(90);

/// Waits, within [`QUIET_WAIT`], until the rest of the machine uses less than
/// [`QUIET_CORES`], so that other work disturbs the figures as little as possible.
fn wait_for_quiet() {
    let started = Instant::now();
    let mut load = 0.0;
    while started.elapsed() < QUIET_WAIT {
        let before = procfs::machine_busy();
        std::thread::sleep(Duration::from_secs(2));
        load = procfs::machine_busy().saturating_sub(before).as_secs_f64() / 2.0;
        if load < QUIET_CORES {
            break;
        }
    }
    println!(
        "machine load before the scenario: {load:.2} cores (waited {:.0} s for it to settle)",
        started.elapsed().as_secs_f64()
    );
}

/// Runs one scenario in a fresh process, echoing its output and collecting its results.
fn run_child(spec: &Spec, options: &Options, collected: &mut Collected) -> Result<(), String> {
    let mut child = Command::new(procfs::OWN_BINARY)
        .args(["--scenario", spec.scenario.name()])
        .args(["--n", &spec.n.to_string()])
        .args(["--rate", &spec.rate.to_string()])
        .args(["--seconds", &spec.seconds.to_string()])
        .args(
            spec.queue.map(|queue| ["--queue".to_owned(), queue.to_string()]).into_iter().flatten(),
        )
        .args(&options.passed)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| err.to_string())?;
    let stdout = child.stdout.take().expect("piped");
    let (lines_in, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_in.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + SCENARIO_TIMEOUT;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                println!("{line}");
                collected.take_line(&line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.wait();
    let _ = reader.join();
    if timed_out {
        return Err(format!("killed after {SCENARIO_TIMEOUT:?}"));
    }
    Ok(())
}

/// Prints the facts of the machine the figures belong to.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()))
        .unwrap_or("unknown");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores, {model}, Linux {}, open files {}, vm.max_map_count {}",
        kernel.trim(),
        procfs::open_files_limit(),
        procfs::read_setting("/proc/sys/vm/max_map_count").unwrap_or(0),
    );
}
