//! The two threads of an upgraded connection. The writer (the connection's own thread)
//! is the only code that writes to the socket; the reader parses frames and requests.
//!
//! Quit protocol: whoever sees the end first records an [`Ending`] in the session and
//! wakes the writer. The writer closes its queue (which turns away later enqueues and
//! unblocks a reader waiting for room), sends the close frame the ending calls for, waits
//! briefly for the reader, shuts the socket down (which unblocks a reader still in
//! `read`), joins the reader, and only then removes the client from the hub.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use serde::Deserialize;
use serde_json::value::RawValue;
use tungstenite::Message as WsMessage;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};

use crate::auth::Identity;
use crate::frame::{self, SharedFrame};
use crate::http::is_timeout;
use crate::hub::Inner;
use crate::message::{Message, MessageType};
use crate::names;
use crate::registry::Refusal;
use crate::session::{DisconnectReason, Ending, Outbound, Session};
use crate::threads::STACK_SIZE;

/// Initial capacity of tungstenite's read buffer: inbound messages are small requests,
/// and the buffer grows for the rare larger one.
const READ_BUFFER: usize = 512;

/// A batch stops growing past this many bytes and is written out.
const BATCH_BYTES: usize = 64 * 1024;

/// A write buffer grown past this is given back after use.
const KEEP_BUFFER: usize = 256 * 1024;

/// A write buffer grown past this is given back once the writer has been idle for
/// [`IDLE_GRACE`], so that a burst does not leave every connection holding a batch's
/// worth of memory for good.
const IDLE_BUFFER: usize = 4 * 1024;

/// How long a writer keeps a grown write buffer without using it. Under sustained load
/// it goes idle between wake-ups all the time; giving the buffer back at each of them
/// would grow it again, a few reallocations per wake-up, for nothing.
const IDLE_GRACE: Duration = Duration::from_millis(100);

/// At most this long and this many bytes are read away after the reader stopped.
const DISCARD_TIME: Duration = Duration::from_millis(250);
const DISCARD_BYTES: usize = 256 * 1024;

/// How long one blocking write may wait before the ending and the write timeout are
/// checked again.
pub(crate) const WRITE_SLICE: Duration = Duration::from_millis(250);

/// Runs an upgraded connection to its end on the calling thread, which becomes the
/// writer; `leftover` holds bytes the client sent right after its upgrade request.
pub(crate) fn run(
    hub: Arc<Inner>,
    stream: TcpStream,
    leftover: Vec<u8>,
    identity: Option<Identity>,
) {
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let stream = Arc::new(stream);
    let config = &hub.config;
    if stream.set_read_timeout(Some(config.pong_timeout)).is_err()
        || stream.set_write_timeout(Some(WRITE_SLICE.min(config.write_timeout))).is_err()
    {
        return;
    }

    let id = hub.next_client_id();
    let (session, queue) =
        Session::with_identity(id, peer, config.queue_capacity, identity, thread::current());
    hub.registry.write().add_session(Arc::clone(&session));
    if hub.is_shut_down() {
        // Shutdown snapshots the sessions after raising its flag: this one may be missing.
        session.request_end(Ending::Close(CloseCode::Away, DisconnectReason::Shutdown));
    }

    let (reader_done, reader_gone) = crossbeam_channel::bounded::<()>(0);
    let reader = spawn_reader(&hub, &session, &stream, leftover, reader_done);
    let reader_thread = reader.as_ref().ok().map(|reader| reader.thread().clone());
    let mut writer = Writer::new(
        Arc::clone(&hub),
        Arc::clone(&session),
        Arc::clone(&stream),
        queue,
        reader_thread,
    );
    let reason = match &reader {
        Ok(_) => {
            log::debug!("client {id} connected from {peer}");
            hub.notify_connect(&hub.client_info(&session));
            writer.run(&reader_gone)
        }
        Err(err) => {
            log::debug!("client {id} refused: no reader thread: {err}");
            let ending = Ending::Close(CloseCode::Again, DisconnectReason::ConnectionLost);
            writer.finish(ending, &reader_gone)
        }
    };

    if reader.as_ref().is_ok_and(|reader| reader.is_finished()) {
        discard_unread(&stream);
    }
    let _ = stream.shutdown(Shutdown::Both);
    drop(writer);
    if let Ok(reader) = reader {
        let _ = reader.join();
    }
    let client = hub.client_info(&session);
    hub.registry.write().remove_session(id);
    log::debug!("client {id} disconnected: {reason}");
    hub.notify_disconnect(&client, &reason);
}

/// Reads away, for a moment, what the client sent after the reader stopped (the rest
/// of an oversized message, say). Closing a socket with unread bytes resets the
/// connection, and a reset can destroy the close frame still in flight.
fn discard_unread(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let deadline = Instant::now() + DISCARD_TIME;
    // On the heap: a buffer this size in the frame would make the connection's thread
    // touch two more stack pages for its whole life.
    let mut sink = vec![0u8; 8 * 1024];
    let mut left = DISCARD_BYTES;
    while left > 0 && Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn spawn_reader(
    hub: &Arc<Inner>,
    session: &Arc<Session>,
    stream: &Arc<TcpStream>,
    leftover: Vec<u8>,
    done: Sender<()>,
) -> io::Result<JoinHandle<()>> {
    let reader = Reader { hub: Arc::clone(hub), session: Arc::clone(session) };
    let stream = Arc::clone(stream);
    thread::Builder::new().name(format!("wshub-read-{}", session.id)).stack_size(STACK_SIZE).spawn(
        move || {
            let _done = done;
            reader.run(&stream, leftover);
        },
    )
}

/// The reading side of tungstenite's protocol engine.
///
/// tungstenite queues its own pong and close replies and writes them during `read`.
/// Here the reader must never write, so those writes are discarded; the reader hands
/// each ping and close to the writer, which sends the reply itself.
struct ReadHalf<'a>(&'a TcpStream);

impl Read for ReadHalf<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self.0).read(buf)
    }
}

impl Write for ReadHalf<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request from the client, before it is checked.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    channel: Option<String>,
}

struct Reader {
    hub: Arc<Inner>,
    session: Arc<Session>,
}

impl Reader {
    fn run(&self, stream: &TcpStream, leftover: Vec<u8>) {
        let limit = self.hub.config.max_message_size;
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let mut context =
            WebSocketContext::from_partially_read(leftover, Role::Server, Some(config));
        let mut half = ReadHalf(stream);
        let ending = loop {
            let step = match context.read(&mut half) {
                Ok(message) => self.handle_message(message),
                Err(err) => Err(ending_for(err)),
            };
            if let Err(ending) = step {
                break ending;
            }
        };
        self.session.request_end(ending);
    }

    /// Handles one message; an `Err` ends the connection.
    fn handle_message(&self, message: WsMessage) -> Result<(), Ending> {
        match message {
            WsMessage::Text(text) => self.handle_text(text.as_str()),
            WsMessage::Ping(payload) => {
                self.session.request_pong(payload.to_vec());
                Ok(())
            }
            WsMessage::Pong(_) | WsMessage::Frame(_) => Ok(()),
            // The protocol is JSON text; RFC 6455 section 7.4.1 gives 1003 for data of a
            // type the endpoint cannot accept.
            WsMessage::Binary(_) => Err(Ending::Close(
                CloseCode::Unsupported,
                DisconnectReason::ProtocolViolation("binary frame".into()),
            )),
            WsMessage::Close(frame) => Err(Ending::Answer(frame.map(|f| f.code))),
        }
    }

    fn handle_text(&self, text: &str) -> Result<(), Ending> {
        log::trace!("client {} sent {} bytes", self.session.id, text.len());
        let request: Request<'_> = match serde_json::from_str(text) {
            Ok(request) => request,
            Err(err) => return self.reply_error(format!("malformed message: {err}")),
        };
        match request.kind.as_ref() {
            "subscribe" => match channel_of(&request) {
                Some(channel) => self.subscribe(&channel),
                None => self.reply_error(missing_channel("subscribe")),
            },
            "unsubscribe" => match channel_of(&request) {
                Some(channel) => self.unsubscribe(&channel),
                None => self.reply_error(missing_channel("unsubscribe")),
            },
            "ping" => self.reply(Message::new(MessageType::Pong)),
            other => {
                let other: String = other.chars().take(64).collect();
                self.reply_error(format!(
                    "unknown message type {other:?}; expected subscribe, unsubscribe or ping"
                ))
            }
        }
    }

    fn subscribe(&self, channel: &str) -> Result<(), Ending> {
        let config = &self.hub.config;
        if let Err(err) = names::check_channel(channel, config.max_channel_len) {
            return self.reply_error(format!("cannot subscribe: {err}"));
        }
        let id = self.session.id;
        if let Err(why) = self.hub.authorise(&self.session, channel) {
            return self.reply_error(format!("cannot subscribe to {channel}: {why}"));
        }
        let joined = self.hub.registry.write().subscribe(id, channel, config.max_subscriptions);
        match joined {
            Ok(Some(gate)) => {
                log::debug!("client {id} subscribed to {channel}");
                let frame = encode(&confirmation(true, channel));
                self.send_reply(Outbound::Opening(frame, gate))
            }
            Ok(None) => self.reply(confirmation(true, channel)),
            Err(Refusal::Limit(limit)) => self.reply_error(format!(
                "cannot subscribe to {channel}: the limit of {limit} subscriptions is reached"
            )),
            Err(Refusal::Gone) => Err(Ending::Abort(DisconnectReason::ConnectionLost)),
        }
    }

    fn unsubscribe(&self, channel: &str) -> Result<(), Ending> {
        // Unknown channels are a no-op, but still confirmed: the client's view is right.
        if self.hub.registry.write().unsubscribe(self.session.id, channel) {
            log::debug!("client {} unsubscribed from {channel}", self.session.id);
        }
        self.reply(confirmation(false, channel))
    }

    fn reply_error(&self, text: String) -> Result<(), Ending> {
        log::debug!("client {} sent a bad request: {text}", self.session.id);
        self.reply(Message::error(text))
    }

    fn reply(&self, message: Message) -> Result<(), Ending> {
        self.send_reply(Outbound::Plain(encode(&message)))
    }

    fn send_reply(&self, item: Outbound) -> Result<(), Ending> {
        if self.session.enqueue_reply(item) {
            self.hub.count(1, 0);
            Ok(())
        } else {
            Err(Ending::Abort(DisconnectReason::ConnectionLost))
        }
    }
}

/// Encodes a reply; replies hold only strings, which always serialise.
fn encode(message: &Message) -> SharedFrame {
    SharedFrame::text(message).expect("a reply serialises")
}

fn channel_of(request: &Request<'_>) -> Option<String> {
    if let Some(channel) = &request.channel {
        return Some(channel.clone());
    }
    let data = request.data?;
    serde_json::from_str::<String>(data.get()).ok()
}

fn missing_channel(kind: &str) -> String {
    format!("{kind} needs a channel name as a string in \"data\" or \"channel\"")
}

fn confirmation(subscribed: bool, channel: &str) -> Message {
    let kind = if subscribed { MessageType::Subscribed } else { MessageType::Unsubscribed };
    Message::new(kind).with_channel(channel)
}

/// Maps a read error to the way the connection ends (RFC 6455 section 7.4.1 codes).
fn ending_for(err: tungstenite::Error) -> Ending {
    use tungstenite::Error as E;
    match err {
        E::Io(err) if is_timeout(&err) => {
            Ending::Close(CloseCode::Away, DisconnectReason::PongTimeout)
        }
        E::Capacity(err) => {
            Ending::Close(CloseCode::Size, DisconnectReason::ProtocolViolation(err.to_string()))
        }
        E::Utf8(_) => Ending::Close(
            CloseCode::Invalid,
            DisconnectReason::ProtocolViolation("text frame is not UTF-8".into()),
        ),
        E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            Ending::Abort(DisconnectReason::ConnectionLost)
        }
        E::Protocol(err) => {
            Ending::Close(CloseCode::Protocol, DisconnectReason::ProtocolViolation(err.to_string()))
        }
        _ => Ending::Abort(DisconnectReason::ConnectionLost),
    }
}

/// Why the writer woke up.
enum Wake {
    Item(Outbound),
    Control,
    Heartbeat,
}

struct Writer {
    hub: Arc<Inner>,
    session: Arc<Session>,
    stream: Arc<TcpStream>,
    /// The receiving end of the client's queue; nobody else holds one.
    queue: Receiver<Outbound>,
    /// Items taken from the queue and not yet given back to its count.
    taken: usize,
    /// The reader, unparked when it waits for room for a reply.
    reader: Option<Thread>,
    /// Bytes of whole frames waiting for the socket.
    out: Vec<u8>,
    /// False once a write stopped in the middle of a frame: no close frame can follow.
    at_frame_boundary: bool,
    next_ping: Instant,
    /// When the last batch was written.
    last_write: Instant,
}

impl Writer {
    fn new(
        hub: Arc<Inner>,
        session: Arc<Session>,
        stream: Arc<TcpStream>,
        queue: Receiver<Outbound>,
        reader: Option<Thread>,
    ) -> Self {
        let now = Instant::now();
        let next_ping = now + hub.config.heartbeat_interval;
        Writer {
            hub,
            session,
            stream,
            queue,
            taken: 0,
            reader,
            out: Vec::new(),
            at_frame_boundary: true,
            next_ping,
            last_write: now,
        }
    }

    /// Serves the queue until the connection ends; returns why it ended.
    fn run(&mut self, reader_gone: &Receiver<()>) -> DisconnectReason {
        loop {
            match self.wait() {
                Wake::Item(item) => {
                    self.push(item);
                    self.drain();
                    self.release();
                }
                Wake::Control => {}
                Wake::Heartbeat => {
                    self.next_ping = Instant::now() + self.hub.config.heartbeat_interval;
                    frame::ping(&mut self.out);
                }
            }
            let step = self.handle_control().and_then(|()| self.write_out());
            if let Err(ending) = step {
                return self.finish(ending, reader_gone);
            }
        }
    }

    /// Parks until the queue has an item, a control request comes or the next heartbeat
    /// is due.
    ///
    /// The hub's waker thread unparks the writer after publishers enqueued for it, and
    /// the reader and the hub unpark it with their replies and control requests. A
    /// thread's park token outlives an unpark that comes before the park, so no wake-up
    /// is lost between the look at the queue and the park. The writer parks directly
    /// instead of through a blocking `recv`, whose spin-then-yield prelude costs
    /// thousands of idle writers a round of `sched_yield` calls each per message.
    fn wait(&mut self) -> Wake {
        loop {
            match self.queue.try_recv() {
                Ok(item) => return Wake::Item(item),
                Err(TryRecvError::Empty) => {}
                // The session holds the sending end while this writer runs; should that
                // ever change, end rather than spin.
                Err(TryRecvError::Disconnected) => {
                    self.session.request_end(Ending::Abort(DisconnectReason::ConnectionLost));
                }
            }
            if self.session.has_control() {
                return Wake::Control;
            }
            let now = Instant::now();
            if now >= self.next_ping {
                return Wake::Heartbeat;
            }
            let mut until = self.next_ping;
            if self.out.capacity() > IDLE_BUFFER {
                let give_back = self.last_write + IDLE_GRACE;
                if now >= give_back {
                    self.out = Vec::new();
                } else {
                    until = until.min(give_back);
                }
            }
            thread::park_timeout(until - now);
        }
    }

    /// Adds a queued frame to the batch, unless its subscription is not open.
    fn push(&mut self, item: Outbound) {
        self.taken += 1;
        let frame = match item {
            Outbound::Plain(frame) => frame,
            Outbound::Channel(frame, gate) if gate.is_open() => frame,
            Outbound::Channel(..) => return,
            Outbound::Opening(frame, gate) => {
                gate.open();
                frame
            }
        };
        self.out.extend_from_slice(frame.as_bytes());
    }

    /// Takes whatever else is ready, up to one batch.
    fn drain(&mut self) {
        while self.out.len() < BATCH_BYTES {
            match self.queue.try_recv() {
                Ok(item) => self.push(item),
                Err(_) => break,
            }
        }
    }

    /// Gives the room of the items taken back to the queue, waking a reader that waits
    /// for it.
    fn release(&mut self) {
        if self.session.release(std::mem::take(&mut self.taken)) {
            if let Some(reader) = &self.reader {
                reader.unpark();
            }
        }
    }

    fn handle_control(&mut self) -> Result<(), Ending> {
        if !self.session.take_control_mark() {
            return Ok(());
        }
        if let Some(ending) = self.session.ending() {
            return Err(ending);
        }
        if let Some(payload) = self.session.take_pong() {
            frame::pong(payload, &mut self.out);
        }
        Ok(())
    }

    /// Writes the batch; gives up when the socket stalls past the write timeout or an
    /// ending is asked for while it stalls.
    fn write_out(&mut self) -> Result<(), Ending> {
        let mut written = 0;
        let mut stalled_since = None;
        while written < self.out.len() {
            match (&*self.stream).write(&self.out[written..]) {
                Ok(0) => return Err(self.broken(written, DisconnectReason::ConnectionLost)),
                Ok(n) => {
                    written += n;
                    stalled_since = None;
                }
                Err(err) if is_timeout(&err) => {
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    // A graceful ending still lets this write run to the write timeout.
                    if let Some(ending) = self.session.ending().filter(|e| !e.is_graceful()) {
                        // Only an untouched batch still holds whole frames.
                        self.at_frame_boundary = written == 0;
                        return Err(ending);
                    }
                    if since.elapsed() >= self.hub.config.write_timeout {
                        return Err(self.broken(written, DisconnectReason::WriteFailed));
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.broken(written, DisconnectReason::ConnectionLost)),
            }
        }
        if written > 0 {
            log::trace!("client {} written {} bytes", self.session.id, written);
            self.last_write = Instant::now();
        }
        self.out.clear();
        if self.out.capacity() > KEEP_BUFFER {
            self.out = Vec::new();
        }
        Ok(())
    }

    fn broken(&mut self, written: usize, reason: DisconnectReason) -> Ending {
        self.at_frame_boundary = written == 0;
        Ending::Abort(reason)
    }

    /// Ends the connection the way `ending` asks and returns why it ended.
    fn finish(&mut self, ending: Ending, reader_gone: &Receiver<()>) -> DisconnectReason {
        // Later enqueues are refused, and a reader waiting for room gives up.
        self.session.close_queue();
        if let Some(reader) = &self.reader {
            reader.unpark();
        }
        let graceful = ending.is_graceful();
        if graceful && self.at_frame_boundary {
            // What was queued before a graceful close is still written, ahead of the
            // close frame; the batch in hand holds only whole frames.
            while let Ok(item) = self.queue.try_recv() {
                self.push(item);
            }
        } else {
            self.out.clear();
        }
        let config = &self.hub.config;
        let limit = if graceful { config.write_timeout } else { config.close_timeout };
        match ending {
            Ending::Abort(reason) => reason,
            Ending::Answer(code) => {
                // RFC 6455 section 5.5.1: answer a close with a close, echoing its code.
                match code {
                    Some(code) => frame::close(code, "", &mut self.out),
                    None => frame::close_without_code(&mut self.out),
                }
                self.write_final(limit);
                DisconnectReason::ClientClosed(code.map_or(1005, u16::from))
            }
            Ending::Close(code, reason) => {
                frame::close(code, &reason.to_string(), &mut self.out);
                if self.write_final(limit) {
                    // Section 7.1.1: after its close frame, the server waits for the
                    // client's before closing TCP, but only for a moment.
                    let wait = self.hub.config.close_timeout;
                    if let Err(RecvTimeoutError::Timeout) = reader_gone.recv_timeout(wait) {
                        log::debug!("client {} did not answer the close frame", self.session.id);
                    }
                }
                reason
            }
        }
    }

    /// Writes the closing bytes if the stream is at a frame boundary; returns whether
    /// they went out.
    fn write_final(&mut self, limit: Duration) -> bool {
        if !self.at_frame_boundary {
            return false;
        }
        let deadline = Instant::now() + limit;
        let mut written = 0;
        while written < self.out.len() && Instant::now() < deadline {
            match (&*self.stream).write(&self.out[written..]) {
                Ok(0) => return false,
                Ok(n) => written += n,
                Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        written == self.out.len()
    }
}
