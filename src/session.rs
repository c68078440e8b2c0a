//! One connected client as the rest of the hub sees it: its queue, its pending control
//! frames and its counters. Publishers enqueue here; the client's writer drains it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::auth::Identity;
use crate::frame::SharedFrame;

/// Why a client's connection ended, as the disconnect callback and the logs report it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent a close frame with this code (1005 when it sent none).
    ClientClosed(u16),
    /// The TCP connection ended or broke without a close frame.
    ConnectionLost,
    /// The client sent nothing, not even a pong, for longer than the pong timeout.
    PongTimeout,
    /// A socket write stalled past the write timeout or failed.
    WriteFailed,
    /// A broadcast found the client's queue full: it could not keep up.
    TooSlow,
    /// The client broke the WebSocket protocol; closed with 1002, 1003, 1007 or 1009.
    ProtocolViolation(String),
    /// The program closed the client with [`Hub::disconnect`](crate::Hub::disconnect).
    ClosedByServer,
    /// The hub shut down; closed with 1001.
    Shutdown,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClientClosed(code) => write!(f, "closed by the client ({code})"),
            DisconnectReason::ConnectionLost => f.write_str("connection lost"),
            DisconnectReason::PongTimeout => f.write_str("pong timeout"),
            DisconnectReason::WriteFailed => f.write_str("write stalled or failed"),
            DisconnectReason::TooSlow => f.write_str("too slow for a broadcast"),
            DisconnectReason::ProtocolViolation(why) => write!(f, "protocol violation: {why}"),
            DisconnectReason::ClosedByServer => f.write_str("closed by the server"),
            DisconnectReason::Shutdown => f.write_str("hub shutdown"),
        }
    }
}

/// An item of a client's outbound queue.
pub(crate) enum Outbound {
    /// A broadcast or a reply, written as it is.
    Plain(SharedFrame),
    /// A channel message, written only while its subscription's gate is open.
    Channel(SharedFrame, Arc<Gate>),
    /// A `subscribed` confirmation; writing it opens the subscription's gate.
    Opening(SharedFrame, Arc<Gate>),
}

/// The state of one subscription as its client's writer sees it.
///
/// A gate starts pending. The writer opens it when it takes the subscription's
/// `subscribed` confirmation from the queue, and writes a channel message only while the
/// gate is open. Because the queue is first in, first out, a message queued after the
/// confirmation is written after it, and a message published after the client read the
/// confirmation is always delivered. Unsubscribing closes the gate, so nothing of the
/// channel reaches the client after its `unsubscribed`, even a message still queued.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicU8,
}

const PENDING: u8 = 0;
const OPEN: u8 = 1;
const CLOSED: u8 = 2;

impl Gate {
    /// Opens a pending gate; a closed one stays closed.
    pub(crate) fn open(&self) {
        let _ = self.state.compare_exchange(PENDING, OPEN, Ordering::AcqRel, Ordering::Acquire);
    }

    pub(crate) fn close(&self) {
        self.state.store(CLOSED, Ordering::Release);
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) == OPEN
    }
}

/// How the writer is asked to end the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Send a close frame with this code, then wait a little for the client's answer.
    Close(CloseCode, DisconnectReason),
    /// The client sent a close frame: answer it with the same code (none if it had
    /// none) and finish.
    Answer(Option<CloseCode>),
    /// Nothing more can be written: finish without a frame.
    Abort(DisconnectReason),
}

impl Ending {
    /// Whether the client is still owed what was queued for it before the close frame:
    /// on shutdown and on [`Hub::disconnect`](crate::Hub::disconnect).
    pub(crate) fn is_graceful(&self) -> bool {
        matches!(
            self,
            Ending::Close(_, DisconnectReason::Shutdown | DisconnectReason::ClosedByServer)
        )
    }
}

/// Work for the writer that does not go through the bounded queue.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// The payload of the latest ping still to be answered (RFC 6455 section 5.5.3
    /// allows answering only the most recent one).
    pub(crate) pong: Option<Vec<u8>>,
    /// Set once; the first ending asked for wins.
    pub(crate) ending: Option<Ending>,
}

/// How long a reader waiting for room in the queue sleeps between looks, should a
/// wake-up from the writer not come.
const ROOM_RECHECK: Duration = Duration::from_millis(100);

/// The shared half of a connection.
///
/// The outbound queue is an unbounded crossbeam channel held to `capacity` items by a
/// count, rather than a bounded one: a bounded channel allocates all its slots up front
/// (about 10 KiB for 256 items), while this one allocates blocks of a few dozen slots as
/// items come and frees them as the writer takes them, so an idle client costs little.
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) connected_at: SystemTime,
    /// Who the authenticator said the client is; `None` without an authenticator.
    pub(crate) identity: Option<Identity>,
    inbox: Inbox,
    /// Set while the reader waits for room for a reply; the writer then unparks it.
    room_wanted: AtomicBool,
    control: Mutex<Control>,
    /// The writer thread, unparked after every enqueue and control request.
    writer: Thread,
    /// Set when the control state holds something the writer has not looked at.
    control_pending: AtomicBool,
}

/// What a publisher touches for each subscriber, on a cache line of its own.
///
/// The writer and the waker change these fields between two messages, so a publish
/// finds them in another core's cache: on one line they cost it one transfer per
/// subscriber, where spread over the session they took two or three, and no other
/// field shares the line.
#[repr(align(64))]
struct Inbox {
    queue: Sender<Outbound>,
    /// Places taken in the queue: items queued or being queued and not yet taken by the
    /// writer. Never above `capacity`, so a refusal always means a full queue.
    queued: AtomicUsize,
    capacity: usize,
    /// Set by the writer once it takes nothing more from the queue.
    queue_closed: AtomicBool,
    /// Set from an enqueue until the waker thread unparks the writer.
    wake_marked: AtomicBool,
    /// Deliveries refused because the queue was full.
    skipped: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Inbox>() == 64, "the inbox fills one cache line");

/// What became of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    Yes,
    Full,
    Gone,
}

impl Session {
    /// Returns a session without an identity, as the unit tests build them.
    #[cfg(test)]
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        capacity: usize,
    ) -> (Arc<Session>, Receiver<Outbound>) {
        Session::with_identity(id, peer, capacity, None, std::thread::current())
    }

    /// Returns a session and the receiving end of its queue, for its writer alone.
    pub(crate) fn with_identity(
        id: u64,
        peer: SocketAddr,
        capacity: usize,
        identity: Option<Identity>,
        writer: Thread,
    ) -> (Arc<Session>, Receiver<Outbound>) {
        let (queue, queue_rx) = crossbeam_channel::unbounded();
        let session = Session {
            id,
            peer,
            connected_at: SystemTime::now(),
            identity,
            inbox: Inbox {
                queue,
                queued: AtomicUsize::new(0),
                capacity,
                queue_closed: AtomicBool::new(false),
                wake_marked: AtomicBool::new(false),
                skipped: AtomicU64::new(0),
            },
            room_wanted: AtomicBool::new(false),
            control: Mutex::new(Control::default()),
            writer,
            control_pending: AtomicBool::new(false),
        };
        (Arc::new(session), queue_rx)
    }

    /// Enqueues without blocking, as publishers do; the writer is not woken here (see
    /// [`Session::mark_for_wake`]).
    pub(crate) fn try_enqueue(&self, item: Outbound) -> Enqueued {
        if self.inbox.queue_closed.load(Ordering::Acquire) {
            return Enqueued::Gone;
        }
        if !self.reserve() {
            return Enqueued::Full;
        }
        self.push(item)
    }

    /// Enqueues a reply to the client's own request, waiting for room if needed.
    ///
    /// Only the client's reader calls this, so a client that does not read only slows
    /// its own requests. Returns false, without waiting further, once the writer has
    /// stopped taking items.
    pub(crate) fn enqueue_reply(&self, item: Outbound) -> bool {
        if !self.wait_for_room() {
            return false;
        }
        let sent = self.push(item) == Enqueued::Yes;
        self.writer.unpark();
        sent
    }

    /// Takes one place in the queue if there is room.
    fn reserve(&self) -> bool {
        let mut queued = self.inbox.queued.load(Ordering::SeqCst);
        loop {
            if queued >= self.inbox.capacity {
                return false;
            }
            match self.inbox.queued.compare_exchange_weak(
                queued,
                queued + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => queued = now,
            }
        }
    }

    fn push(&self, item: Outbound) -> Enqueued {
        match self.inbox.queue.send(item) {
            Ok(()) => Enqueued::Yes,
            Err(_) => {
                self.inbox.queued.fetch_sub(1, Ordering::SeqCst);
                Enqueued::Gone
            }
        }
    }

    /// Parks the reader until it has taken a place in the queue; returns false if the
    /// writer stopped.
    fn wait_for_room(&self) -> bool {
        loop {
            if self.inbox.queue_closed.load(Ordering::SeqCst) {
                return false;
            }
            if self.reserve() {
                return true;
            }
            // Ask for a wake-up, then look again: the writer gives places back before it
            // reads the request, so one of the two sees the other.
            self.room_wanted.store(true, Ordering::SeqCst);
            if self.inbox.queued.load(Ordering::SeqCst) >= self.inbox.capacity
                && !self.inbox.queue_closed.load(Ordering::SeqCst)
            {
                thread::park_timeout(ROOM_RECHECK);
            }
            self.room_wanted.store(false, Ordering::SeqCst);
        }
    }

    /// Records that the writer took `count` items; returns true when the reader waits
    /// for room and should be unparked. Called by the writer.
    pub(crate) fn release(&self, count: usize) -> bool {
        if count > 0 {
            self.inbox.queued.fetch_sub(count, Ordering::SeqCst);
        }
        self.room_wanted.load(Ordering::SeqCst)
    }

    /// Refuses every later item; called by the writer before it stops taking them.
    pub(crate) fn close_queue(&self) {
        self.inbox.queue_closed.store(true, Ordering::SeqCst);
    }

    /// Marks the writer for the waker thread; returns true when the caller must submit
    /// the session, false when an earlier mark is still waiting.
    pub(crate) fn mark_for_wake(&self) -> bool {
        !self.inbox.wake_marked.swap(true, Ordering::AcqRel)
    }

    /// Clears the mark, then unparks the writer; a later enqueue marks again. Called by
    /// the waker thread.
    pub(crate) fn wake_writer(&self) {
        // A swap, not a store: reading the mark acquires the enqueues of every
        // publisher that found it set, so the writer this unparks sees their items.
        self.inbox.wake_marked.swap(false, Ordering::AcqRel);
        self.writer.unpark();
    }

    /// Records a skipped delivery.
    pub(crate) fn count_skip(&self) {
        self.inbox.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.inbox.skipped.load(Ordering::Relaxed)
    }

    /// Asks the writer to answer a ping.
    pub(crate) fn request_pong(&self, payload: Vec<u8>) {
        self.control.lock().pong = Some(payload);
        self.wake_for_control();
    }

    /// Asks the writer to end the connection; returns false if an ending was already set.
    pub(crate) fn request_end(&self, ending: Ending) -> bool {
        let first = {
            let mut control = self.control.lock();
            let first = control.ending.is_none();
            if first {
                control.ending = Some(ending);
            }
            first
        };
        self.wake_for_control();
        first
    }

    /// Whether a control request came since the writer last looked; clears the mark.
    /// The writer calls it before it looks, so a request made during the look marks
    /// again.
    pub(crate) fn take_control_mark(&self) -> bool {
        self.control_pending.swap(false, Ordering::AcqRel)
    }

    /// Whether a control request is waiting, without clearing the mark.
    pub(crate) fn has_control(&self) -> bool {
        self.control_pending.load(Ordering::Acquire)
    }

    /// Returns the ending asked for, if any; it stays recorded.
    pub(crate) fn ending(&self) -> Option<Ending> {
        self.control.lock().ending.clone()
    }

    /// Takes the pending ping payload to answer, if any.
    pub(crate) fn take_pong(&self) -> Option<Vec<u8>> {
        self.control.lock().pong.take()
    }

    fn wake_for_control(&self) {
        self.control_pending.store(true, Ordering::Release);
        self.writer.unpark();
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("id", &self.id).field("peer", &self.peer).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, MessageType};

    fn frame() -> SharedFrame {
        SharedFrame::text(&Message::new(MessageType::Pong)).unwrap()
    }

    #[test]
    fn full_queue_refuses_without_blocking() {
        let (session, ends) = Session::new(1, "127.0.0.1:1".parse().unwrap(), 2);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Yes);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Yes);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Full);
        assert!(ends.try_recv().is_ok());
        assert!(!session.release(1), "nobody waits for room");
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Yes);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Full);
        drop(ends);
        session.close_queue();
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Gone);
        assert!(!session.enqueue_reply(Outbound::Plain(frame())));
    }

    #[test]
    fn racing_publishers_fill_the_queue_exactly_to_its_capacity() {
        const CAPACITY: usize = 64;
        let (session, ends) = Session::new(1, "127.0.0.1:1".parse().unwrap(), CAPACITY);
        let publishers: Vec<_> = (0..4)
            .map(|_| {
                let session = Arc::clone(&session);
                thread::spawn(move || {
                    (0..100)
                        .filter(|_| session.try_enqueue(Outbound::Plain(frame())) == Enqueued::Yes)
                        .count()
                })
            })
            .collect();
        let accepted: usize = publishers.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(accepted, CAPACITY);
        assert_eq!(ends.try_iter().count(), CAPACITY);
    }

    #[test]
    fn a_reply_waits_for_room_until_the_writer_takes_an_item() {
        let (session, ends) = Session::new(1, "127.0.0.1:1".parse().unwrap(), 1);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Yes);
        let replier = Arc::clone(&session);
        let reader = thread::spawn(move || replier.enqueue_reply(Outbound::Plain(frame())));

        // Play the writer: once the reader asks for room, take an item and wake it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !session.room_wanted.load(Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "the reader never waited");
            thread::sleep(Duration::from_millis(1));
        }
        assert!(ends.try_recv().is_ok());
        if session.release(1) {
            reader.thread().unpark();
        }
        assert!(reader.join().unwrap(), "the reply was queued");
        assert!(ends.try_recv().is_ok());
        assert!(ends.try_recv().is_err());
    }

    #[test]
    fn a_reply_waiting_for_room_gives_up_when_the_queue_closes() {
        let (session, _ends) = Session::new(1, "127.0.0.1:1".parse().unwrap(), 1);
        assert_eq!(session.try_enqueue(Outbound::Plain(frame())), Enqueued::Yes);
        let replier = Arc::clone(&session);
        let reader = thread::spawn(move || replier.enqueue_reply(Outbound::Plain(frame())));
        thread::sleep(Duration::from_millis(20));
        session.close_queue();
        reader.thread().unpark();
        assert!(!reader.join().unwrap());
    }

    #[test]
    fn a_queue_item_is_three_words() {
        // Each idle client keeps one block of 31 queue slots: a word more per item is
        // 248 bytes more per connection.
        assert!(std::mem::size_of::<Outbound>() <= 24, "{}", std::mem::size_of::<Outbound>());
    }

    #[test]
    fn a_gate_opens_once_and_closes_for_good() {
        let gate = Gate::default();
        assert!(!gate.is_open());
        gate.open();
        assert!(gate.is_open());
        gate.close();
        gate.open();
        assert!(!gate.is_open());
    }

    #[test]
    fn first_ending_wins_and_signals_coalesce() {
        let (session, ends) = Session::new(1, "127.0.0.1:1".parse().unwrap(), 2);
        assert!(session.request_end(Ending::Abort(DisconnectReason::ConnectionLost)));
        assert!(!session.request_end(Ending::Close(CloseCode::Away, DisconnectReason::Shutdown)));
        session.request_pong(b"x".to_vec());
        assert!(session.has_control());
        assert!(session.take_control_mark());
        assert!(!session.take_control_mark(), "the mark is taken once");
        session.request_pong(b"y".to_vec());
        assert!(session.has_control());
        assert!(ends.is_empty(), "control does not use the queue");
        assert_eq!(session.take_pong().as_deref(), Some(&b"y"[..]));
        assert_eq!(session.take_pong(), None);
        assert_eq!(session.ending(), Some(Ending::Abort(DisconnectReason::ConnectionLost)));
    }
}
