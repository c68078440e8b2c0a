//! Micro-benchmarks of the publishing path: serialising a message, publishing to a
//! channel nobody listens to, and publishing to 1, 100 and 1,000 subscribers.
//!
//! ```text
//! cargo bench --bench micro
//! ```
//!
//! The crate has no in-memory subscriber, so the subscribers here are real WebSocket
//! clients on loopback, drained by one background `mio` thread; only the publishing call
//! is timed. Messages go out in batches of at most [`BATCH`], far below the queue of 256,
//! and each batch is drained before the next, so no publish ever meets a full queue and
//! takes the cheaper skipping path. What the writer threads do after the call returns
//! is not in the figure: the fan-out benchmark (`--bench fanout`) measures delivery.
//!
//! The binary counts allocations with `stats_alloc` and checks, outside the timing, that
//! publishing with nobody subscribed returns `Ok(0)` and allocates nothing (serialising
//! always allocates its buffer, so nothing is serialised either).

#[path = "fanout/wire.rs"]
#[allow(dead_code, reason = "the micro-benchmarks use only the frame helpers")]
mod wire;

use std::alloc::System;
use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use mio::{Events, Interest, Poll, Token, Waker};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wshub::{Hub, HubConfig, Message};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The most messages published before the subscribers are drained.
const BATCH: u64 = 64;

/// The longest wait for the subscribers to receive a batch.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A line of process output of the size the fan-out benchmark uses.
const LINE: &str = "000.0000000042.1771495200123456789 compiling wshub v0.1.0";

fn serialise(c: &mut Criterion) {
    let message = Message::process_output(wire::PROCESS_ID, LINE).with_channel(wire::CHANNEL);
    c.bench_function("serialise process_output", |b| {
        b.iter(|| black_box(&message).to_json().expect("serialises"))
    });
}

fn publish_to_nobody(c: &mut Criterion) {
    let hub = Hub::new(HubConfig::default()).expect("default config");
    assert_eq!(hub.send_process_output(wire::PROCESS_ID, LINE).expect("valid id"), 0);
    let region = Region::new(GLOBAL);
    for _ in 0..1000 {
        let _ = black_box(hub.send_process_output(wire::PROCESS_ID, LINE));
    }
    let allocations = region.change().allocations;
    println!("publish with no subscriber: {allocations} allocations in 1000 calls");
    assert_eq!(allocations, 0, "publishing to nobody must not allocate");

    c.bench_function("publish to no subscriber", |b| {
        b.iter(|| hub.send_process_output(black_box(wire::PROCESS_ID), black_box(LINE)))
    });
    hub.shutdown();
}

fn publish_to_subscribers(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish to subscribers");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    for n in [1, 100, 1000] {
        let hub = Hub::new(HubConfig::default()).expect("default config");
        let server = hub.listen("127.0.0.1:0").expect("bind a free port");
        let drain = Drain::start(server.local_addr(), n);
        wait_for(|| hub.subscriber_count(wire::CHANNEL) == n);
        let mut sent = 0;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let batch = left.min(BATCH);
                    let start = Instant::now();
                    for _ in 0..batch {
                        let _ = black_box(hub.send_process_output(wire::PROCESS_ID, LINE));
                    }
                    timed += start.elapsed();
                    sent += batch * n as u64;
                    left -= batch;
                    drain.wait_for(sent);
                }
                timed
            })
        });
        println!("  {n} subscribers: {} skipped", hub.stats().skipped);
        drain.stop();
        hub.shutdown();
    }
    group.finish();
}

/// Polls `condition` for up to [`DRAIN_TIMEOUT`].
fn wait_for(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !condition() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// WebSocket subscribers read by one background poll thread that counts text frames.
struct Drain {
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

const WAKER: Token = Token(usize::MAX);

impl Drain {
    /// Connects and subscribes `n` clients, then hands them to the poll thread.
    fn start(addr: SocketAddr, n: usize) -> Drain {
        let poll = Poll::new().expect("poll");
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).expect("waker"));
        let mut streams = Vec::with_capacity(n);
        for token in 0..n {
            let stream = subscribe(addr);
            stream.set_nonblocking(true).expect("nonblocking");
            let mut stream = mio::net::TcpStream::from_std(stream);
            poll.registry()
                .register(&mut stream, Token(token), Interest::READABLE)
                .expect("register");
            streams.push(stream);
        }
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = std::thread::spawn(move || drain(poll, streams, &count, &stopping));
        Drain { received, stop, waker, thread }
    }

    /// Waits until `total` messages arrived, for at most [`DRAIN_TIMEOUT`].
    fn wait_for(&self, total: u64) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.received.load(Ordering::Acquire) < total && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        let _ = self.thread.join();
    }
}

/// Opens one client with a blocking handshake and waits for its `subscribed`.
fn subscribe(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DRAIN_TIMEOUT)).expect("timeout");
    stream.write_all(&wire::upgrade_request(&addr.to_string())).expect("upgrade");
    stream.write_all(&wire::subscribe_frame()).expect("subscribe");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(12).any(|w| w == b"\"subscribed\"") {
        let n = stream.read(&mut buf).expect("read the upgrade and the confirmation");
        assert!(n > 0, "the hub closed the connection");
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Reads every socket until told to stop, counting the text frames that arrive.
fn drain(
    mut poll: Poll,
    mut streams: Vec<mio::net::TcpStream>,
    received: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut events = Events::with_capacity(1024);
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); streams.len()];
    let mut scratch = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Acquire) {
        if poll.poll(&mut events, Some(Duration::from_millis(100))).is_err() {
            continue;
        }
        for event in events.iter().filter(|e| e.token() != WAKER) {
            let at = event.token().0;
            loop {
                let n = match streams[at].read(&mut scratch) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let buffer = &mut partial[at];
                buffer.extend_from_slice(&scratch[..n]);
                let mut used = 0;
                let mut frames = 0;
                while let Ok(Some((frame, len))) = wire::next_frame(&buffer[used..]) {
                    frames += u64::from(frame.opcode == wire::OP_TEXT);
                    used += len;
                }
                buffer.drain(..used);
                received.fetch_add(frames, Ordering::AcqRel);
                if n < scratch.len() {
                    break;
                }
            }
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    serialise(&mut criterion);
    publish_to_nobody(&mut criterion);
    publish_to_subscribers(&mut criterion);
    criterion.final_summary();
}
