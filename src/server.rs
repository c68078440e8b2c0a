//! Listening: the accept thread, the connection cap, and the handshake that turns an
//! accepted socket into a connection. The accept thread only admits; every handshake
//! runs on a thread of its own, which starts the connection's threads and ends.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::auth::Identity;
use crate::connection::{self, WRITE_SLICE};
use crate::error::{Error, Result};
use crate::http::{self, HeadError, HeadLimits, HttpRequest, HttpResponse};
use crate::hub::{ConnectionSlot, Hub, Inner};
use crate::threads::{HANDSHAKE_STACK, STACK_SIZE};
use crate::upgrade::{self, Verdict};

/// How long the accept thread pauses after an accept error (out of file descriptors,
/// say) before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How many reads of 4 KiB a refusal on the accept thread makes at most.
const REFUSE_DRAIN_READS: usize = 16;

/// A listener the hub serves; it knows its address and can be stopped.
///
/// Dropping a `Server` does not stop it: call [`Server::stop`], or [`Hub::shutdown`] to
/// stop everything.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    path: String,
    stopped: Arc<AtomicBool>,
}

impl Server {
    /// Returns the address the listener is bound to, with the real port when 0 was asked.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns the WebSocket URL of this listener, such as `ws://127.0.0.1:8080/ws`.
    pub fn url(&self) -> String {
        format!("ws://{}{}", connectable(self.local_addr), self.path)
    }

    /// Stops accepting on this listener; connected clients stay connected.
    pub fn stop(&self) {
        stop_listener(&self.stopped, self.local_addr);
    }
}

impl Hub {
    /// Binds `addr` and serves WebSocket clients on it from a new accept thread.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the address cannot be bound; [`Error::Shutdown`] after
    /// [`Hub::shutdown`].
    pub fn listen(&self, addr: impl ToSocketAddrs) -> Result<Server> {
        self.serve(TcpListener::bind(addr)?)
    }

    /// Serves WebSocket clients on a listener the program bound itself.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the listener's address cannot be read or the accept thread
    /// cannot be started; [`Error::Shutdown`] after [`Hub::shutdown`].
    pub fn serve(&self, listener: TcpListener) -> Result<Server> {
        if self.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let local_addr = listener.local_addr()?;
        let stopped = Arc::new(AtomicBool::new(false));
        let inner = Arc::clone(&self.inner);
        let flag = Arc::clone(&stopped);
        let name = format!("wshub-accept-{}", local_addr.port());
        self.inner
            .threads
            .spawn(name, STACK_SIZE, move || accept_loop(&inner, &listener, &flag))?;

        let flag = Arc::clone(&stopped);
        self.inner.add_stopper(Box::new(move || stop_listener(&flag, local_addr)));
        log::info!("listening on ws://{}{}", local_addr, self.inner.config.path);
        Ok(Server { local_addr, path: self.inner.config.path.clone(), stopped })
    }

    /// Serves one connection that the program's own listener accepted.
    ///
    /// The handshake runs on the connection's own thread; this call returns at once.
    /// Beyond [`HubConfig::max_connections`](crate::HubConfig::max_connections) the
    /// client is answered `503` and the call still returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Shutdown`] after [`Hub::shutdown`] (the client gets `503`);
    /// [`Error::Io`] when the connection's thread cannot be started.
    pub fn accept(&self, stream: TcpStream) -> Result<()> {
        admit(&self.inner, stream)
    }

    /// Sets the function that answers plain HTTP requests on the hub's port (anything
    /// that is not a WebSocket upgrade), replacing any earlier one.
    ///
    /// Without one, such requests get `400` on the WebSocket path and `404` elsewhere.
    /// The handler runs on the connection's thread; a panic in it is answered `500`.
    pub fn set_http_handler(
        &self,
        handler: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static,
    ) {
        *self.inner.http_handler.write() = Some(Arc::new(handler));
    }
}

fn accept_loop(hub: &Arc<Inner>, listener: &TcpListener, stopped: &AtomicBool) {
    // Warn once per run of failures (out of file descriptors, say), not once per try.
    let mut failing = false;
    loop {
        let accepted = listener.accept();
        if stopped.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok((stream, _)) => {
                failing = false;
                if let Err(err) = admit(hub, stream) {
                    log::warn!("could not start a connection thread: {err}");
                }
            }
            Err(err) => {
                if !failing {
                    log::warn!("accept failed: {err}; retrying every {ACCEPT_BACKOFF:?}");
                }
                failing = true;
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
    log::debug!("stopped accepting on {:?}", listener.local_addr().ok());
}

/// Applies the connection cap, then hands the socket to a thread of its own.
fn admit(hub: &Arc<Inner>, stream: TcpStream) -> Result<()> {
    if hub.is_shut_down() {
        refuse_now(&stream, &unavailable("the server is shutting down"));
        return Err(Error::Shutdown);
    }
    let Some(slot) = hub.claim_connection() else {
        log::debug!("connection refused: the limit of {} is reached", hub.config.max_connections);
        refuse_now(&stream, &unavailable("too many connections"));
        return Ok(());
    };
    let _ = stream.set_nodelay(true);
    let conn_hub = Arc::clone(hub);
    let spawned = hub.threads.spawn("wshub-upgrade".into(), HANDSHAKE_STACK, move || {
        if let Some((leftover, identity)) = handshake(&conn_hub, &stream) {
            start(conn_hub, Connection { stream, leftover, identity, slot });
        }
    });
    Ok(spawned?)
}

/// An upgraded socket on its way to the thread that serves it.
struct Connection {
    stream: TcpStream,
    leftover: Vec<u8>,
    identity: Option<Identity>,
    /// The connection's place under the cap, held until the connection ends.
    slot: ConnectionSlot,
}

/// Serves an upgraded connection on a new thread and lets the handshake thread end.
///
/// The handshake's buffers, freed by now, would otherwise stay in the thread-local
/// cache of the allocator for the connection's whole life, along with the stack the
/// handshake touched: about 2 KiB per idle connection. Should no thread be available,
/// the handshake thread serves the connection itself.
fn start(hub: Arc<Inner>, connection: Connection) {
    let parcel = Arc::new(Mutex::new(Some(connection)));
    let taken = Arc::clone(&parcel);
    let conn_hub = Arc::clone(&hub);
    let spawned = hub.threads.spawn("wshub-conn".into(), STACK_SIZE, move || {
        if let Some(connection) = taken.lock().take() {
            serve_upgraded(conn_hub, connection);
        }
    });
    if let Err(err) = spawned {
        log::debug!("no thread for a connection, the handshake thread serves it: {err}");
        if let Some(connection) = parcel.lock().take() {
            serve_upgraded(hub, connection);
        }
    }
}

fn serve_upgraded(hub: Arc<Inner>, connection: Connection) {
    let Connection { stream, leftover, identity, slot } = connection;
    connection::run(hub, stream, leftover, identity);
    drop(slot);
}

fn unavailable(why: &str) -> HttpResponse {
    HttpResponse::text(503, format!("{why}; try again later\n")).with_header("Retry-After", "1")
}

/// Answers on the accept thread without blocking it: the response is far smaller than
/// a fresh socket's send buffer.
fn refuse_now(mut stream: &TcpStream, response: &HttpResponse) {
    let _ = stream.set_nonblocking(true);
    // Take what the client already sent, so closing does not reset the connection; a
    // bounded amount, so that a client that keeps sending cannot hold the accept thread.
    let mut sink = [0u8; 4096];
    for _ in 0..REFUSE_DRAIN_READS {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = stream.write_all(&response.to_bytes(false));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Reads the request head and answers it; returns the bytes that followed an accepted
/// upgrade and the client's identity, or `None` when the connection was answered and
/// closed.
fn handshake(hub: &Inner, stream: &TcpStream) -> Option<(Vec<u8>, Option<Identity>)> {
    let config = &hub.config;
    let limits = HeadLimits {
        max_bytes: config.max_request_bytes,
        max_headers: config.max_headers,
        deadline: Instant::now() + config.handshake_timeout,
    };
    let (request, leftover) = match http::read_head(stream, &limits, || hub.is_shut_down()) {
        Ok(head) => head,
        Err(err) => {
            let response = match err {
                HeadError::Malformed(why) => {
                    HttpResponse::text(400, format!("malformed request: {why}\n"))
                }
                HeadError::TooLarge => HttpResponse::text(431, "the request head is too large\n"),
                HeadError::TooManyHeaders => HttpResponse::text(431, "too many header fields\n"),
                HeadError::Timeout => HttpResponse::text(408, "the request took too long\n"),
                HeadError::Gone => return None,
            };
            log::debug!("request refused with {}", response.status);
            answer(hub, stream, &response, false);
            return None;
        }
    };

    let response = match upgrade::judge(&request, &config.path) {
        Verdict::Upgrade(accept) => {
            if hub.is_shut_down() {
                unavailable("the server is shutting down")
            } else {
                let peer = stream.peer_addr().ok()?;
                match hub.upgrade_policy.admit(&request, peer) {
                    Ok(identity) => {
                        return switch(hub, stream, &accept).then_some((leftover, identity));
                    }
                    Err(response) => response,
                }
            }
        }
        Verdict::Plain => plain(hub, &request),
        Verdict::Refuse(response) => {
            log::debug!("upgrade of {} refused with {}", request.path(), response.status);
            response
        }
    };
    answer(hub, stream, &response, request.method() == "HEAD");
    None
}

fn switch(hub: &Inner, mut stream: &TcpStream, accept: &str) -> bool {
    let _ = stream.set_write_timeout(Some(hub.config.write_timeout));
    stream.write_all(&upgrade::switching_protocols(accept)).is_ok()
}

/// Answers a request that is not an upgrade: the program's handler, or an error.
fn plain(hub: &Inner, request: &HttpRequest) -> HttpResponse {
    let handler = hub.http_handler.read().clone();
    match handler {
        Some(handler) => catch_unwind(AssertUnwindSafe(|| handler(request))).unwrap_or_else(|_| {
            log::warn!("the HTTP handler panicked on {}", request.path());
            HttpResponse::text(500, "the handler failed\n")
        }),
        None if request.path() == hub.config.path => {
            HttpResponse::text(400, "this endpoint speaks WebSocket; send an upgrade request\n")
        }
        None => HttpResponse::text(404, "not found\n"),
    }
}

fn answer(hub: &Inner, stream: &TcpStream, response: &HttpResponse, head_only: bool) {
    let timeout = hub.config.write_timeout.min(WRITE_SLICE * 8);
    http::respond_and_close(stream, &response.to_bytes(head_only), timeout);
}

fn stop_listener(stopped: &AtomicBool, local_addr: SocketAddr) {
    if stopped.swap(true, Ordering::SeqCst) {
        return;
    }
    // A blocking accept only returns for a connection: make one so it sees the flag.
    let _ = TcpStream::connect_timeout(&connectable(local_addr), Duration::from_secs(1));
}

/// Turns a wildcard listening address into one a local client can connect to.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
