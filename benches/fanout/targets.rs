//! The two servers the fan-out benchmark compares, inside the benchmark's own process: an
//! embedded [`Hub`] and the raw reference, a minimal TCP server with no WebSocket
//! library that writes the same pre-framed bytes to every socket, one `write` per
//! subscriber per message. The reference's accept thread and both publishers run here.
//!
//! Part of `cargo bench --bench fanout`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wshub::{Hub, HubConfig, Message};

use crate::wire::{self, CHANNEL, LineWriter, PROCESS_ID, Stamp};

/// Which server a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Reference,
    Hub,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::Hub => "hub",
        }
    }

    /// The subscriber process's mode for this server.
    pub fn client_mode(self) -> &'static str {
        match self {
            Kind::Reference => "raw",
            Kind::Hub => "ws",
        }
    }
}

/// A running server with its subscribers' sockets.
pub enum Target {
    Hub(Hub, SocketAddr),
    Reference(Reference),
}

impl Target {
    /// Starts a server of `kind` on `127.0.0.1:0`, ready for `n` subscribers; `queue`
    /// replaces the hub's default queue capacity.
    pub fn start(kind: Kind, n: usize, queue: Option<usize>) -> io::Result<Target> {
        match kind {
            Kind::Hub => {
                // The default cap is 10,000 connections; the largest scenario needs them
                // all. Every other setting is the default unless `--queue` was given.
                let defaults = HubConfig::default();
                let max_connections = defaults.max_connections.max(n + 16);
                let queue_capacity = queue.unwrap_or(defaults.queue_capacity);
                let config = HubConfig { max_connections, queue_capacity, ..defaults };
                let hub = Hub::new(config).map_err(io::Error::other)?;
                let server = hub.listen("127.0.0.1:0").map_err(io::Error::other)?;
                Ok(Target::Hub(hub, server.local_addr()))
            }
            Kind::Reference => Reference::start(n).map(Target::Reference),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::Hub(_, addr) => *addr,
            Target::Reference(reference) => reference.addr,
        }
    }

    /// Returns how many subscribers the server holds now.
    pub fn subscribers(&self) -> usize {
        match self {
            Target::Hub(hub, _) => hub.subscriber_count(CHANNEL),
            Target::Reference(reference) => reference.sockets.lock().len(),
        }
    }

    /// Returns the messages the server itself counted as skipped so far.
    pub fn skipped(&self) -> u64 {
        match self {
            Target::Hub(hub, _) => hub.stats().skipped,
            Target::Reference(_) => 0,
        }
    }

    /// Returns a publisher for this server, to move onto the publishing thread.
    pub fn publisher(&self) -> Publisher {
        let sink = match self {
            Target::Hub(hub, _) => Sink::Hub(hub.clone()),
            Target::Reference(reference) => Sink::Reference(Arc::clone(&reference.sockets)),
        };
        Publisher { sink, lines: LineWriter::new(), frame: Vec::new() }
    }

    /// Stops the server and joins every thread it started.
    pub fn shutdown(self) {
        match self {
            Target::Hub(hub, _) => hub.shutdown(),
            Target::Reference(reference) => reference.shutdown(),
        }
    }
}

/// The raw reference server.
pub struct Reference {
    addr: SocketAddr,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// The byte the reference sends a new subscriber, which then counts as connected: the
/// subscriber process opens connections only as fast as the server accepts them.
pub const GREETING: &[u8] = b"+";

/// How long the reference's accept thread waits for its subscribers.
const ACCEPT_DEADLINE: Duration = Duration::from_secs(60);

impl Reference {
    fn start(n: usize) -> io::Result<Reference> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let sockets = Arc::new(Mutex::new(Vec::with_capacity(n)));
        let stop = Arc::new(AtomicBool::new(false));
        let (accepted, stopping) = (Arc::clone(&sockets), Arc::clone(&stop));
        let accept = std::thread::Builder::new()
            .name("reference-accept".into())
            .spawn(move || accept_loop(&listener, n, &accepted, &stopping))?;
        Ok(Reference { addr, sockets, stop, accept: Some(accept) })
    }

    fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.accept.as_ref().is_some_and(|accept| !accept.is_finished()) {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        self.sockets.lock().clear();
    }
}

/// Accepts up to `n` sockets, set up as the hub sets up its own: blocking, no delay.
/// The accept blocks, so that no burst of connections overflows the listen backlog;
/// [`Reference::shutdown`] connects once to wake it.
fn accept_loop(
    listener: &TcpListener,
    n: usize,
    sockets: &Mutex<Vec<TcpStream>>,
    stop: &AtomicBool,
) {
    let deadline = Instant::now() + ACCEPT_DEADLINE;
    while sockets.lock().len() < n && Instant::now() < deadline {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok((mut stream, _)) => {
                let ready = stream.set_nodelay(true).is_ok()
                    && stream.set_write_timeout(Some(Duration::from_secs(10))).is_ok()
                    && stream.write_all(GREETING).is_ok();
                if ready {
                    sockets.lock().push(stream);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

enum Sink {
    Hub(Hub),
    Reference(Arc<Mutex<Vec<TcpStream>>>),
}

/// Publishes stamped messages to one server, as the embedding program would.
pub struct Publisher {
    sink: Sink,
    lines: LineWriter,
    frame: Vec<u8>,
}

impl Publisher {
    /// Publishes one message; the hub's call queues it, the reference writes it to
    /// every socket before it returns.
    pub fn publish(&mut self, stamp: &Stamp) {
        match &self.sink {
            Sink::Hub(hub) => {
                let line = self.lines.line(stamp);
                let _ = hub.send_process_output(PROCESS_ID, line);
            }
            Sink::Reference(sockets) => {
                let line = self.lines.line(stamp).to_owned();
                let message = Message::process_output(PROCESS_ID, line).with_channel(CHANNEL);
                let json = message.to_json().expect("a process_output message serialises");
                self.frame.clear();
                wire::server_text(json.as_bytes(), &mut self.frame);
                let mut sockets = sockets.lock();
                // A socket that fails or stalls past its write timeout is dropped.
                sockets.retain(|mut socket| socket.write_all(&self.frame).is_ok());
            }
        }
    }
}
