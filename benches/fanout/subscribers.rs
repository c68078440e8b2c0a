//! The subscriber process of the fan-out benchmark: N real connections on one `mio` poll
//! thread (a second thread only reads commands from stdin). It counts every message per
//! connection, finds gaps, and records latency from each message's intended send time in
//! a histogram. The hub process starts it by running the benchmark binary again with
//! [`ROLE_VAR`] set.
//!
//! Commands on stdin, one per line, and answers on stdout:
//!
//! | command | answer |
//! |---|---|
//! | (at start) | `ready connected=C failed=F ms=T` once every connection is ready or failed |
//! | `begin R` | `begun R`: counting starts for round R |
//! | `finish R P` | `report round=R ...` once P messages have arrived everywhere or arrivals stop |
//! | `quit` or end of input | the sockets are closed and the process exits |
//!
//! Part of `cargo bench --bench fanout`.

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::procfs;
use crate::targets::GREETING;
use crate::wire::{self, Frame, Stamp};

/// The environment variable that turns the benchmark binary into the subscriber process;
/// its value is `MODE ADDR N`, mode `ws` or `raw`.
pub const ROLE_VAR: &str = "WSHUB_FANOUT_SUBSCRIBERS";

/// Connections in their TCP or WebSocket handshake at once; more would overflow the
/// listener's backlog and wait for SYN retries.
const MAX_IN_FLIGHT: usize = 128;

/// How long all connections together may take to become ready.
const CONNECT_DEADLINE: Duration = Duration::from_secs(25);

/// The subscriber process exits after this long whatever happens.
const LIFETIME: Duration = Duration::from_secs(600);

/// Arrivals that stop for this long end a round's drain.
const QUIET: Duration = Duration::from_millis(500);

/// The longest a round's drain may last.
const MAX_DRAIN: Duration = Duration::from_secs(10);

/// Reads per readiness event before the connection waits for the next poll round.
const READS_PER_EVENT: usize = 64;

/// Messages per round whose completion time is tracked.
const MAX_TRACKED: u64 = 10_000_000;

const WAKER: Token = Token(usize::MAX);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    WebSocket,
    Raw,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Connecting,
    /// Raw only: connected, waiting for the server's greeting.
    Greeting,
    /// The upgrade request is sent; waiting for `101`.
    Upgrading,
    /// The subscribe request is sent; waiting for `subscribed`.
    Subscribing,
    Streaming,
    Closed,
}

/// One subscriber's counts in the current round.
#[derive(Default)]
struct Counts {
    round: u32,
    received: u64,
    next_seq: u64,
    gaps: u64,
    disorder: u64,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    /// Bytes of an unfinished frame or response head.
    partial: Vec<u8>,
    /// Bytes to send that the socket did not take yet.
    pending: Vec<u8>,
    counts: Counts,
}

/// The arrival of the last subscriber of one message.
#[derive(Clone, Copy, Default)]
struct Completion {
    intended_ns: u64,
    last_ns: u64,
}

/// What one round has seen so far.
struct Round {
    id: u32,
    active: bool,
    latency: Histogram<u64>,
    completions: Vec<Completion>,
    received: u64,
    stale: u64,
    first_ns: u64,
    last_ns: u64,
    cpu_at_begin: Duration,
    /// Set by `finish`: how many were published, and how many connections saw the last.
    finish: Option<(u64, usize, Instant)>,
}

impl Round {
    fn new(id: u32) -> Round {
        Round {
            id,
            active: false,
            latency: Histogram::new_with_bounds(1_000, 120_000_000_000, 3).expect("bounds"),
            completions: Vec::new(),
            received: 0,
            stale: 0,
            first_ns: 0,
            last_ns: 0,
            cpu_at_begin: Duration::ZERO,
            finish: None,
        }
    }

    fn record(&mut self, counts: &mut Counts, stamp: Stamp, now_ns: u64) {
        if !self.active || stamp.round != self.id % 1000 {
            self.stale += 1;
            return;
        }
        if counts.round != self.id {
            *counts = Counts { round: self.id, ..Counts::default() };
        }
        counts.received += 1;
        if stamp.seq > counts.next_seq {
            counts.gaps += 1;
        } else if stamp.seq < counts.next_seq {
            counts.disorder += 1;
        }
        counts.next_seq = counts.next_seq.max(stamp.seq + 1);

        let latency = now_ns.saturating_sub(stamp.intended_ns).max(1_000);
        self.latency.saturating_record(latency);
        self.received += 1;
        if self.first_ns == 0 {
            self.first_ns = now_ns;
        }
        self.last_ns = self.last_ns.max(now_ns);
        if stamp.seq < MAX_TRACKED {
            let at = stamp.seq as usize;
            if at >= self.completions.len() {
                self.completions.resize(at + 1, Completion::default());
            }
            let slot = &mut self.completions[at];
            slot.intended_ns = stamp.intended_ns;
            slot.last_ns = slot.last_ns.max(now_ns);
        }
        if let Some((published, got_last, _)) = &mut self.finish {
            if stamp.seq + 1 == *published {
                *got_last += 1;
            }
        }
    }
}

/// Runs the subscriber process; `spec` is the value of [`ROLE_VAR`].
pub fn run(spec: &str) -> ExitCode {
    match Subscribers::new(spec).and_then(|mut subscribers| subscribers.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("subscribers: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Subscribers {
    mode: Mode,
    addr: SocketAddr,
    wanted: usize,
    poll: Poll,
    conns: Vec<Conn>,
    in_flight: usize,
    ready: usize,
    failed: usize,
    announced: bool,
    started: Instant,
    round: Round,
    commands: Receiver<String>,
    /// Reads stdin; ends when the hub process closes it.
    stdin_thread: Option<std::thread::JoinHandle<()>>,
    /// Connections that still had data when their read budget ran out.
    again: Vec<usize>,
    scratch: Vec<u8>,
    upgrade: Vec<u8>,
    subscribe: Vec<u8>,
    last_arrival: Instant,
}

impl Subscribers {
    fn new(spec: &str) -> io::Result<Subscribers> {
        let bad = || io::Error::new(ErrorKind::InvalidInput, format!("bad spec {spec:?}"));
        let mut parts = spec.split_whitespace();
        let mode = match parts.next() {
            Some("ws") => Mode::WebSocket,
            Some("raw") => Mode::Raw,
            _ => return Err(bad()),
        };
        let addr: SocketAddr = parts.next().and_then(|a| a.parse().ok()).ok_or_else(bad)?;
        let wanted: usize = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;

        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (commands_in, commands) = mpsc::channel();
        let stdin_thread =
            std::thread::Builder::new().name("commands".into()).spawn(move || {
                for line in io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    if commands_in.send(line).is_err() || waker.wake().is_err() {
                        return;
                    }
                }
                let _ = commands_in.send("quit".into());
                let _ = waker.wake();
            })?;

        Ok(Subscribers {
            mode,
            addr,
            wanted,
            poll,
            conns: Vec::with_capacity(wanted),
            in_flight: 0,
            ready: 0,
            failed: 0,
            announced: false,
            started: Instant::now(),
            round: Round::new(0),
            commands,
            stdin_thread: Some(stdin_thread),
            again: Vec::new(),
            scratch: vec![0; 256 * 1024],
            upgrade: wire::upgrade_request(&addr.to_string()),
            subscribe: wire::subscribe_frame(),
            last_arrival: Instant::now(),
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(4096);
        while self.started.elapsed() < LIFETIME {
            self.open_more();
            let timeout =
                if self.again.is_empty() { Duration::from_millis(20) } else { Duration::ZERO };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            let mut quit = false;
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                self.handle_event(event.token().0, event.is_writable());
            }
            for idx in std::mem::take(&mut self.again) {
                self.read_all(idx);
            }
            loop {
                match self.commands.try_recv() {
                    Ok(command) => quit |= self.handle_command(&command),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        quit = true;
                        break;
                    }
                }
            }
            if quit {
                self.stop();
                return Ok(());
            }
            self.announce_ready();
            self.check_drained();
        }
        self.stop();
        Ok(())
    }

    /// Closes every connection and joins the stdin thread, which ends when the hub
    /// process closes its end (it does right after `quit`).
    fn stop(&mut self) {
        for idx in 0..self.conns.len() {
            self.close(idx);
        }
        self.conns.clear();
        let Some(thread) = self.stdin_thread.take() else { return };
        let deadline = Instant::now() + Duration::from_secs(2);
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }

    /// Starts connections until `MAX_IN_FLIGHT` are in their handshakes.
    fn open_more(&mut self) {
        while self.conns.len() < self.wanted
            && self.in_flight < MAX_IN_FLIGHT
            && self.started.elapsed() < CONNECT_DEADLINE
        {
            let idx = self.conns.len();
            let registered = TcpStream::connect(self.addr).and_then(|mut stream| {
                let interest = Interest::READABLE | Interest::WRITABLE;
                self.poll.registry().register(&mut stream, Token(idx), interest)?;
                Ok(stream)
            });
            match registered {
                Ok(stream) => {
                    let conn = Conn {
                        stream,
                        phase: Phase::Connecting,
                        partial: Vec::new(),
                        pending: Vec::new(),
                        counts: Counts::default(),
                    };
                    self.conns.push(conn);
                    self.in_flight += 1;
                }
                Err(err) => {
                    eprintln!("subscribers: connect failed: {err}");
                    self.failed += 1;
                    self.wanted -= 1;
                }
            }
        }
    }

    fn announce_ready(&mut self) {
        let settled = self.conns.len() == self.wanted && self.in_flight == 0;
        if self.announced || !(settled || self.started.elapsed() >= CONNECT_DEADLINE) {
            return;
        }
        self.announced = true;
        let ms = self.started.elapsed().as_millis();
        let failed =
            self.failed + self.conns.iter().filter(|c| c.phase != Phase::Streaming).count();
        say(&format!("ready connected={} failed={failed} ms={ms}", self.ready));
    }

    fn handle_event(&mut self, idx: usize, writable: bool) {
        let Some(conn) = self.conns.get_mut(idx) else { return };
        if conn.phase == Phase::Connecting {
            match conn.stream.peer_addr() {
                Ok(_) => self.connected(idx),
                Err(err) if err.kind() == ErrorKind::NotConnected => {
                    if let Ok(Some(err)) | Err(err) = conn.stream.take_error() {
                        eprintln!("subscribers: connect failed: {err}");
                        self.close(idx);
                    }
                    return;
                }
                Err(_) => {
                    self.close(idx);
                    return;
                }
            }
        }
        if writable {
            self.flush(idx);
        }
        self.read_all(idx);
    }

    fn connected(&mut self, idx: usize) {
        match self.mode {
            Mode::Raw => self.conns[idx].phase = Phase::Greeting,
            Mode::WebSocket => {
                self.conns[idx].phase = Phase::Upgrading;
                let request = self.upgrade.clone();
                self.send(idx, &request);
            }
        }
    }

    fn send(&mut self, idx: usize, bytes: &[u8]) {
        self.conns[idx].pending.extend_from_slice(bytes);
        self.flush(idx);
    }

    fn flush(&mut self, idx: usize) {
        let conn = &mut self.conns[idx];
        while !conn.pending.is_empty() {
            match conn.stream.write(&conn.pending) {
                Ok(0) => break,
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Reads what the socket holds, within a budget, and handles every complete frame.
    fn read_all(&mut self, idx: usize) {
        for _ in 0..READS_PER_EVENT {
            let Some(conn) = self.conns.get_mut(idx) else { return };
            if conn.phase == Phase::Closed || conn.phase == Phase::Connecting {
                return;
            }
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.close(idx);
                    return;
                }
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(idx);
                    return;
                }
            };
            let now_ns = wire::unix_nanos();
            self.last_arrival = Instant::now();
            let mut partial = std::mem::take(&mut self.conns[idx].partial);
            let scratch = std::mem::take(&mut self.scratch);
            if partial.is_empty() {
                let used = self.consume(idx, &scratch[..n], now_ns);
                partial.extend_from_slice(&scratch[used.min(n)..n]);
            } else {
                partial.extend_from_slice(&scratch[..n]);
                let used = self.consume(idx, &partial, now_ns);
                partial.drain(..used.min(partial.len()));
            }
            let drained = n < scratch.len();
            self.scratch = scratch;
            self.conns[idx].partial = partial;
            // A short read emptied the socket; new bytes raise a new edge.
            if drained {
                return;
            }
        }
        self.again.push(idx);
    }

    /// Handles the complete frames (or the response head) at the front of `bytes`;
    /// returns how many bytes were used.
    fn consume(&mut self, idx: usize, bytes: &[u8], now_ns: u64) -> usize {
        let mut used = 0;
        if self.conns[idx].phase == Phase::Greeting {
            if bytes.first() != Some(&GREETING[0]) {
                eprintln!("subscribers: no greeting from the reference");
                self.close(idx);
                return bytes.len();
            }
            used = 1;
            self.conns[idx].phase = Phase::Streaming;
            self.in_flight -= 1;
            self.ready += 1;
        }
        if self.conns[idx].phase == Phase::Upgrading {
            let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
                return 0;
            };
            if !bytes.starts_with(b"HTTP/1.1 101") {
                let head = String::from_utf8_lossy(&bytes[..end]);
                eprintln!("subscribers: upgrade refused: {head}");
                self.close(idx);
                return bytes.len();
            }
            used = end + 4;
            self.conns[idx].phase = Phase::Subscribing;
            let request = self.subscribe.clone();
            self.send(idx, &request);
        }
        loop {
            match wire::next_frame(&bytes[used..]) {
                Ok(Some((frame, len))) => {
                    self.handle_frame(idx, &frame, now_ns);
                    used += len;
                }
                Ok(None) => return used,
                Err(why) => {
                    eprintln!("subscribers: {why}");
                    self.close(idx);
                    return bytes.len();
                }
            }
            if self.conns[idx].phase == Phase::Closed {
                return bytes.len();
            }
        }
    }

    fn handle_frame(&mut self, idx: usize, frame: &Frame<'_>, now_ns: u64) {
        match frame.opcode {
            wire::OP_TEXT => {
                if let Some(stamp) = wire::parse_stamp(frame.payload) {
                    self.round.record(&mut self.conns[idx].counts, stamp, now_ns);
                } else if frame.payload.starts_with(br#"{"type":"subscribed""#)
                    && self.conns[idx].phase == Phase::Subscribing
                {
                    self.conns[idx].phase = Phase::Streaming;
                    self.in_flight -= 1;
                    self.ready += 1;
                }
            }
            wire::OP_PING => {
                let mut pong = Vec::new();
                wire::client_frame(wire::OP_PONG, frame.payload, &mut pong);
                self.send(idx, &pong);
            }
            wire::OP_CLOSE => {
                let mut close = Vec::new();
                wire::client_frame(
                    wire::OP_CLOSE,
                    frame.payload.get(..2).unwrap_or(&[]),
                    &mut close,
                );
                self.send(idx, &close);
                self.close(idx);
            }
            _ => {}
        }
    }

    fn close(&mut self, idx: usize) {
        let conn = &mut self.conns[idx];
        match conn.phase {
            Phase::Closed => return,
            Phase::Streaming => self.ready -= 1,
            _ => self.in_flight -= 1,
        }
        conn.phase = Phase::Closed;
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Handles one command; returns true for `quit`.
    fn handle_command(&mut self, command: &str) -> bool {
        let mut words = command.split_whitespace();
        match (words.next(), words.next().and_then(|r| r.parse::<u32>().ok())) {
            (Some("begin"), Some(id)) => {
                self.round = Round::new(id);
                self.round.active = true;
                self.round.cpu_at_begin = procfs::cpu_time();
                say(&format!("begun {id}"));
            }
            (Some("finish"), Some(id)) if id == self.round.id => {
                let published: u64 = words.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                let got_last = self
                    .conns
                    .iter()
                    .filter(|c| c.counts.round == id && published > 0)
                    .filter(|c| c.counts.next_seq == published)
                    .count();
                self.round.finish = Some((published, got_last, Instant::now()));
            }
            (Some("quit"), _) => return true,
            _ => eprintln!("subscribers: unknown command {command:?}"),
        }
        false
    }

    /// Sends the round's report once every connection has the last message, arrivals
    /// have stopped, or the drain has lasted too long.
    fn check_drained(&mut self) {
        let Some((published, got_last, since)) = self.round.finish else { return };
        let everyone = published == 0 || got_last >= self.ready;
        let quiet = self.last_arrival.elapsed() >= QUIET && since.elapsed() >= QUIET;
        if !(everyone || quiet || since.elapsed() >= MAX_DRAIN) {
            return;
        }
        self.round.finish = None;
        self.round.active = false;
        say(&self.report(published));
    }

    fn report(&self, published: u64) -> String {
        let round = &self.round;
        let id = round.id;
        let streaming = self.conns.iter().filter(|c| c.phase == Phase::Streaming);
        let (mut subs, mut missed, mut gaps, mut disorder) = (0u64, 0u64, 0u64, 0u64);
        for conn in streaming {
            subs += 1;
            let counts = &conn.counts;
            let received = if counts.round == id { counts.received - counts.disorder } else { 0 };
            missed += published.saturating_sub(received);
            if counts.round == id {
                gaps += counts.gaps;
                disorder += counts.disorder;
            }
        }
        let closed = self.conns.iter().filter(|c| c.phase == Phase::Closed).count();

        let mut completion =
            Histogram::<u64>::new_with_bounds(1_000, 120_000_000_000, 3).expect("bounds");
        for slot in round.completions.iter().filter(|slot| slot.last_ns > 0) {
            completion.saturating_record(slot.last_ns.saturating_sub(slot.intended_ns).max(1_000));
        }
        let lat = |q: f64| round.latency.value_at_quantile(q) as f64 / 1e6;
        let comp = |q: f64| completion.value_at_quantile(q) as f64 / 1e6;
        let cpu = procfs::cpu_time().saturating_sub(round.cpu_at_begin);
        format!(
            "report round={id} subs={subs} received={} expected={} missed={missed} gaps={gaps} \
             disorder={disorder} stale={} closed={closed} lat_p50={:.3} lat_p90={:.3} \
             lat_p99={:.3} lat_p999={:.3} lat_max={:.3} comp_p50={:.3} comp_p99={:.3} \
             first_ns={} last_ns={} cpu_ms={}",
            round.received,
            published * subs,
            round.stale,
            lat(0.5),
            lat(0.9),
            lat(0.99),
            lat(0.999),
            round.latency.max() as f64 / 1e6,
            comp(0.5),
            comp(0.99),
            round.first_ns,
            round.last_ns,
            cpu.as_millis(),
        )
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
