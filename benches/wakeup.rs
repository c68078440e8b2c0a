//! The floor under a thread per connection: what the machine charges to wake a parked
//! thread and let it park again, beside what the raw reference pays for a whole delivery.
//!
//! ```text
//! cargo bench --bench wakeup                      # N = 100, 1,000 and 5,000
//! cargo bench --bench wakeup -- --n 1000 --rounds 200
//! ```
//!
//! Each round stands for one paced message fanned out to N subscribers, and a round
//! starts every 20 ms (50 messages/s) or at once when the previous one ran late:
//!
//! - **wake-ups**: N threads with the stack size of the hub's connection threads park;
//!   one thread unparks them one by one, as the hub's waker does, and each woken thread
//!   counts itself and parks again (the last one tells the waker). No byte is written:
//!   this is what a writer thread per connection costs before its `write`.
//! - **reference**: N loopback TCP connections; one thread writes a 150-byte frame to
//!   each (one `write` per socket, as the fan-out benchmark's raw reference does), while
//!   a `mio` poll thread reads the other ends.
//!
//! CPU time comes from the kernel's run time of each thread
//! (`/proc/self/task/<tid>/schedstat`): for wake-ups the waker's and every woken
//! thread's, for the reference the writer's alone (the reader stands for the
//! subscribers). The figures are CPU per wake-up and per delivery, their ratio, and the
//! rounds' wall time p50 and p99. A hub delivery costs at least the wake-up plus a
//! `write` much like the reference's, so where the ratio is above 1, the hub's CPU per
//! paced delivery is more than twice the reference's on this machine whatever else it
//! does.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

const HELP: &str = "\
the cost of waking a parked thread, beside a raw write to a socket

usage: cargo bench --bench wakeup -- [--n N] [--rounds R]

  --n N        parked threads and sockets (default: 100, 1000 and 5000 in turn)
  --rounds R   measured rounds per figure (default 200_000 / N, within 20..200)
";

/// The time from the start of one round to the next: a paced fan-out at 50 messages/s.
const PERIOD: Duration = Duration::from_millis(20);

/// Rounds run before the measured ones, so that every thread and socket is warm.
const WARM_UP: usize = 5;

/// The stack size of the hub's connection threads.
const STACK_SIZE: usize = 256 * 1024;

/// The size of the reference's frame: a ~150-byte message behind a 4-byte header.
const FRAME_BYTES: usize = 154;

/// The longest a round may take before the benchmark gives up on it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
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
    println!(
        "a round every {} ms; CPU from the threads' run time; rounds' wall time p50 / p99",
        PERIOD.as_millis()
    );
    println!(
        "{:>7} {:>7} {:>22} {:>25} {:>7} {:>21} {:>21}",
        "N",
        "rounds",
        "wake-up CPU µs/thread",
        "reference CPU µs/delivery",
        "ratio",
        "wake round ms",
        "reference round ms"
    );
    for n in options.sizes {
        let rounds = options.rounds.unwrap_or((200_000 / n).clamp(20, 200));
        let figures = wake_ups(n, rounds).and_then(|wake| Ok((wake, reference(n, rounds)?)));
        match figures {
            Ok((wake, reference)) => println!(
                "{n:>7} {rounds:>7} {:>22.2} {:>25.2} {:>6.2}x {:>21} {:>21}",
                wake.cpu_us,
                reference.cpu_us,
                wake.cpu_us / reference.cpu_us,
                wake.round_percentiles(),
                reference.round_percentiles(),
            ),
            Err(why) => {
                eprintln!("N={n}: {why}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// What the command line asks for.
struct Options {
    /// The values of N to measure, in turn.
    sizes: Vec<usize>,
    /// Measured rounds per figure; by default fewer for larger N.
    rounds: Option<usize>,
    help: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options { sizes: vec![100, 1000, 5000], rounds: None, help: false };
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
                match value.replace('_', "").parse::<usize>() {
                    Ok(number) if number > 0 => Ok(number),
                    _ => Err(format!("{name} takes a positive whole number, not {value:?}")),
                }
            };
            match arg.as_str() {
                "--bench" => {}
                "--help" | "-h" => options.help = true,
                "--n" => options.sizes = vec![number("--n")?],
                "--rounds" => options.rounds = Some(number("--rounds")?),
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(options)
    }
}

/// What one side measured.
struct Figures {
    /// CPU time per wake-up or per delivery, in microseconds.
    cpu_us: f64,
    /// Each round's wall time, sorted.
    round_times: Vec<Duration>,
}

impl Figures {
    fn new(cpu: Duration, units: usize, mut round_times: Vec<Duration>) -> Figures {
        round_times.sort_unstable();
        Figures { cpu_us: cpu.as_secs_f64() * 1e6 / units as f64, round_times }
    }

    /// Returns the rounds' wall time p50 and p99, in milliseconds, as printed.
    fn round_percentiles(&self) -> String {
        let at = |q: f64| {
            let index = ((self.round_times.len() - 1) as f64 * q).round() as usize;
            self.round_times[index].as_secs_f64() * 1e3
        };
        format!("{:.2} / {:.2}", at(0.5), at(0.99))
    }
}

/// Wakes `n` parked threads, `rounds` times over after a warm-up.
fn wake_ups(n: usize, rounds: usize) -> Result<Figures, String> {
    let shared = Arc::new(Shared { left: AtomicUsize::new(0), stop: AtomicBool::new(false) });
    let (go, waker_go) = mpsc::channel::<usize>();
    let (times_in, times) = mpsc::channel::<Vec<Duration>>();
    let (ids_in, ids) = mpsc::channel::<u32>();

    let (sleepers_in, sleepers_out) = mpsc::channel::<Vec<(Thread, Arc<AtomicBool>)>>();
    let waker = {
        let shared = Arc::clone(&shared);
        let ids_in = ids_in.clone();
        thread::Builder::new()
            .name("waker".into())
            .spawn(move || {
                let _ = ids_in.send(own_tid());
                let Ok(sleepers) = sleepers_out.recv() else { return };
                while let Ok(count) = waker_go.recv() {
                    let _ = times_in.send(wake_rounds(&shared, &sleepers, count));
                }
            })
            .map_err(|err| format!("cannot start the waker: {err}"))?
    };
    let mut handles = Vec::with_capacity(n);
    let mut sleepers = Vec::with_capacity(n);
    let started = (|| {
        for i in 0..n {
            let woken = Arc::new(AtomicBool::new(false));
            let handle = {
                let (shared, woken, ids_in) =
                    (Arc::clone(&shared), Arc::clone(&woken), ids_in.clone());
                let waker = waker.thread().clone();
                thread::Builder::new()
                    .name(format!("sleeper-{i}"))
                    .stack_size(STACK_SIZE)
                    .spawn(move || sleeper(&shared, &woken, &waker, ids_in))
                    .map_err(|err| format!("cannot start thread {i} of {n}: {err}"))?
            };
            sleepers.push((handle.thread().clone(), woken));
            handles.push(handle);
        }
        Ok::<(), String>(())
    })();
    drop(ids_in);
    let result = started.and_then(|()| {
        let tids: Vec<u32> = ids.iter().take(n + 1).collect();
        let _ = sleepers_in.send(sleepers);
        let (cpu, round_times) = measure(&go, &times, &tids, rounds)?;
        if round_times.iter().any(|time| *time >= ROUND_TIMEOUT) {
            return Err(format!("a round of {n} wake-ups took over {ROUND_TIMEOUT:?}"));
        }
        Ok(Figures::new(cpu, rounds * n, round_times))
    });

    shared.stop.store(true, Ordering::Release);
    drop((go, sleepers_in));
    for handle in &handles {
        handle.thread().unpark();
    }
    for handle in handles {
        let _ = handle.join();
    }
    let _ = waker.join();
    result
}

/// What the waker and the parked threads share.
struct Shared {
    /// Threads of the current round not woken yet.
    left: AtomicUsize,
    stop: AtomicBool,
}

/// A parked thread: counts each wake-up meant for it and parks again.
fn sleeper(shared: &Shared, woken: &AtomicBool, waker: &Thread, ids: mpsc::Sender<u32>) {
    let _ = ids.send(own_tid());
    drop(ids);
    while !shared.stop.load(Ordering::Acquire) {
        if woken.swap(false, Ordering::AcqRel) {
            if shared.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                waker.unpark();
            }
        } else {
            thread::park();
        }
    }
}

/// Runs `count` rounds of wake-ups on the waker thread; returns each round's wall time.
fn wake_rounds(
    shared: &Shared,
    sleepers: &[(Thread, Arc<AtomicBool>)],
    count: usize,
) -> Vec<Duration> {
    paced(count, |start| {
        shared.left.store(sleepers.len(), Ordering::Release);
        for (thread, woken) in sleepers {
            woken.store(true, Ordering::Release);
            thread.unpark();
        }
        while shared.left.load(Ordering::Acquire) > 0 && start.elapsed() < ROUND_TIMEOUT {
            thread::park_timeout(Duration::from_millis(1));
        }
    })
}

/// Runs `count` rounds, one every [`PERIOD`] or at once after a late one; returns each
/// round's wall time. `round` gets the time its round started.
fn paced(count: usize, mut round: impl FnMut(Instant)) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    let mut next = Instant::now();
    for _ in 0..count {
        thread::sleep(next.saturating_duration_since(Instant::now()));
        let start = Instant::now();
        next = start + PERIOD;
        round(start);
        times.push(start.elapsed());
    }
    times
}

/// Writes one frame to each of `n` loopback sockets, `rounds` times over after a warm-up.
fn reference(n: usize, rounds: usize) -> Result<Figures, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|err| format!("cannot listen: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let mut clients = Vec::with_capacity(n);
    let mut servers = Vec::with_capacity(n);
    for i in 0..n {
        let client = TcpStream::connect(addr).map_err(|err| {
            format!("connection {i} of {n}: {err} (two open files per connection)")
        })?;
        let (server, _) = listener.accept().map_err(|err| format!("accept {i}: {err}"))?;
        server.set_nodelay(true).map_err(|err| err.to_string())?;
        clients.push(client);
        servers.push(server);
    }
    let reader = Reader::start(clients)?;
    let (go, writer_go) = mpsc::channel::<usize>();
    let (times_in, times) = mpsc::channel::<Vec<Duration>>();
    let (id_in, id) = mpsc::channel::<u32>();
    let writer = thread::Builder::new()
        .name("writer".into())
        .spawn(move || {
            let _ = id_in.send(own_tid());
            while let Ok(count) = writer_go.recv() {
                let _ = times_in.send(write_rounds(&servers, count));
            }
        })
        .map_err(|err| format!("cannot start the writer: {err}"))?;
    let result = (|| {
        let tids = [id.recv().map_err(|_| "the writer stopped".to_owned())?];
        let (cpu, round_times) = measure(&go, &times, &tids, rounds)?;
        let expected = ((WARM_UP + rounds) * n * FRAME_BYTES) as u64;
        reader.wait_for(expected)?;
        Ok(Figures::new(cpu, rounds * n, round_times))
    })();
    drop(go);
    let _ = writer.join();
    reader.stop();
    result
}

/// Runs `count` rounds of writes on the writer thread; returns each round's wall time.
fn write_rounds(servers: &[TcpStream], count: usize) -> Vec<Duration> {
    let frame = [b'x'; FRAME_BYTES];
    paced(count, |_| {
        for mut server in servers {
            // Loopback buffers hold far more than the rounds send: a short write or an
            // error shows up as missing bytes at the reader.
            let _ = server.write(&frame);
        }
    })
}

/// The reference's subscribers: one `mio` poll thread reading every client socket.
struct Reader {
    received: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

impl Reader {
    fn start(clients: Vec<TcpStream>) -> Result<Reader, String> {
        const WAKE: Token = Token(usize::MAX);
        let poll = Poll::new().map_err(|err| format!("cannot poll: {err}"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|err| err.to_string())?);
        let mut streams = Vec::with_capacity(clients.len());
        for (i, client) in clients.into_iter().enumerate() {
            client.set_nonblocking(true).map_err(|err| err.to_string())?;
            let mut stream = mio::net::TcpStream::from_std(client);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .map_err(|err| err.to_string())?;
            streams.push(stream);
        }
        let received = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            thread::Builder::new()
                .name("reader".into())
                .spawn(move || read_all(poll, streams, &received, &stop))
                .map_err(|err| format!("cannot start the reader: {err}"))?
        };
        Ok(Reader { received, stop, waker, thread })
    }

    /// Waits until `total` bytes arrived.
    fn wait_for(&self, total: u64) -> Result<(), String> {
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while (self.received.load(Ordering::Acquire) as u64) < total {
            if Instant::now() >= deadline {
                let got = self.received.load(Ordering::Acquire);
                return Err(format!("the reference delivered {got} of {total} bytes"));
            }
            thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        let _ = self.thread.join();
    }
}

fn read_all(
    mut poll: Poll,
    mut streams: Vec<mio::net::TcpStream>,
    received: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut events = Events::with_capacity(1024);
    let mut buffer = [0u8; 16 * 1024];
    while !stop.load(Ordering::Acquire) {
        if poll.poll(&mut events, Some(Duration::from_millis(100))).is_err() {
            break;
        }
        for event in &events {
            let Some(stream) = streams.get_mut(event.token().0) else { continue };
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        received.fetch_add(read, Ordering::AcqRel);
                    }
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
    }
}

/// Has the thread behind `go` run the warm-up and then `rounds` measured rounds; returns
/// the run time of the threads `tids` over the measured rounds and each round's wall time.
fn measure(
    go: &mpsc::Sender<usize>,
    times: &mpsc::Receiver<Vec<Duration>>,
    tids: &[u32],
    rounds: usize,
) -> Result<(Duration, Vec<Duration>), String> {
    let run = |count: usize| {
        go.send(count).map_err(|_| "the measured thread stopped".to_owned())?;
        times.recv().map_err(|_| "the measured thread stopped".to_owned())
    };
    run(WARM_UP)?;
    let before = run_time(tids)?;
    let round_times = run(rounds)?;
    Ok((run_time(tids)?.saturating_sub(before), round_times))
}

/// Returns the calling thread's id in the kernel.
fn own_tid() -> u32 {
    // `/proc/thread-self` links to `<pid>/task/<tid>`.
    fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// Returns the total time the given threads ran on a CPU so far.
fn run_time(tids: &[u32]) -> Result<Duration, String> {
    let mut total = 0;
    for tid in tids {
        let path = format!("/proc/self/task/{tid}/schedstat");
        let stat = fs::read_to_string(&path).map_err(|err| format!("cannot read {path}: {err}"))?;
        let ran: u64 = stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse().ok())
            .ok_or_else(|| format!("{path} holds no run time"))?;
        total += ran;
    }
    Ok(Duration::from_nanos(total))
}
