//! The `Hub` handle: publishing, introspection, callbacks and shutdown. Its methods run
//! on the caller's thread; they take the registry lock briefly and never do socket I/O.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::{Map, Value};
use tungstenite::protocol::frame::coding::CloseCode;

use crate::config::HubConfig;
// `Error` is named in doc links only.
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::frame::SharedFrame;
use crate::http::{HttpRequest, HttpResponse};
use crate::message::{Message, ProcessStatus};
use crate::names::{self, PROCESS_PREFIX};
use crate::policy::UpgradePolicy;
use crate::registry::{Registry, Subscribers};
use crate::session::{DisconnectReason, Ending, Enqueued, Outbound, Session};
use crate::threads::ThreadGroup;
use crate::wake::WakeQueue;

/// Stack size of the waker thread, which only unparks threads.
const WAKER_STACK: usize = 64 * 1024;

type ConnectHook = Arc<dyn Fn(&ClientInfo) + Send + Sync>;
type DisconnectHook = Arc<dyn Fn(&ClientInfo, &DisconnectReason) + Send + Sync>;
pub(crate) type HttpHandler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;
pub(crate) type Authoriser =
    Arc<dyn Fn(&ClientInfo, &str) -> std::result::Result<(), String> + Send + Sync>;

/// A WebSocket hub: named channels, JSON messages, one bounded queue per client.
///
/// `Hub` is a cheap handle: cloning it copies a pointer, and every clone shares the same
/// clients, channels, counters and threads. Hand clones to as many threads as you like.
///
/// # Locking
///
/// The subscription tables sit behind one `parking_lot::RwLock`. A publish takes the read
/// lock just long enough to clone the channel's subscriber list (one `Arc`), then enqueues
/// with no lock held; subscribe, unsubscribe, connect and disconnect take the write lock
/// for a table update. No lock is held across socket I/O or while waking writers, and no
/// publish ever blocks: a full queue is skipped (channel sends) or disconnected
/// (broadcasts), never waited for.
///
/// # Lifetime
///
/// Threads started by [`Hub::listen`] and [`Hub::accept`] keep the hub alive; dropping the
/// handles does not stop it. [`Hub::shutdown`] does, and returns once every thread the hub
/// started has been joined.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<Inner>,
}

/// The state every clone of a [`Hub`] shares.
pub(crate) struct Inner {
    pub(crate) config: HubConfig,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) threads: Arc<ThreadGroup>,
    /// Unparks the writers whose queues publishers filled.
    wakes: Arc<WakeQueue>,
    counters: Counters,
    next_client_id: AtomicU64,
    shut_down: AtomicBool,
    /// Stops one listener each; run by shutdown.
    stoppers: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    on_connect: RwLock<Option<ConnectHook>>,
    on_disconnect: RwLock<Option<DisconnectHook>>,
    pub(crate) http_handler: RwLock<Option<HttpHandler>>,
    /// Origin policy and authenticator, applied before each `101`.
    pub(crate) upgrade_policy: UpgradePolicy,
    pub(crate) authoriser: RwLock<Option<Authoriser>>,
    /// Connections past the accept thread, upgraded or still in their handshake.
    connections: Arc<AtomicUsize>,
}

/// A claimed place under the connection cap, given back when dropped.
pub(crate) struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    skipped: AtomicU64,
    slow_disconnected: AtomicU64,
}

/// A snapshot of the hub's counters, as [`Hub::stats`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HubStats {
    /// Clients connected now.
    pub clients: usize,
    /// Channels with at least one subscriber now.
    pub channels: usize,
    /// Subscriptions held now, over all clients.
    pub subscriptions: usize,
    /// Messages put in a client's queue since the hub started, replies included.
    pub delivered: u64,
    /// Channel messages not queued for a client because its queue was full.
    pub skipped: u64,
    /// Clients disconnected because a broadcast found their queue full.
    pub slow_disconnected: u64,
}

/// What the hub knows about one connected client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's id, unique for the life of the hub.
    pub id: u64,
    /// The client's address as the socket saw it.
    pub peer_addr: SocketAddr,
    /// When the upgrade completed.
    pub connected_at: SystemTime,
    /// The channels the client is subscribed to, sorted.
    pub subscriptions: Vec<String>,
    /// Channel messages this client missed because its queue was full.
    pub skipped: u64,
    /// The user the authenticator named; `None` when no authenticator is set.
    pub user_id: Option<String>,
    /// The claims the authenticator returned; empty when it returned none.
    pub claims: Map<String, Value>,
}

impl Hub {
    /// Returns a hub with the given settings and starts its waker thread; nothing
    /// listens until [`Hub::listen`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when a setting is out of range (see
    /// [`HubConfig::validate`]); [`Error::Io`](crate::Error::Io) when the waker thread
    /// cannot be started.
    pub fn new(config: HubConfig) -> Result<Hub> {
        config.validate()?;
        let inner = Inner {
            config,
            registry: RwLock::new(Registry::default()),
            threads: Arc::new(ThreadGroup::default()),
            wakes: Arc::new(WakeQueue::default()),
            counters: Counters::default(),
            next_client_id: AtomicU64::new(1),
            shut_down: AtomicBool::new(false),
            stoppers: Mutex::new(Vec::new()),
            on_connect: RwLock::new(None),
            on_disconnect: RwLock::new(None),
            http_handler: RwLock::new(None),
            upgrade_policy: UpgradePolicy::default(),
            authoriser: RwLock::new(None),
            connections: Arc::new(AtomicUsize::new(0)),
        };
        let wakes = Arc::clone(&inner.wakes);
        inner.threads.spawn("wshub-wake".into(), WAKER_STACK, move || wakes.run())?;
        Ok(Hub { inner: Arc::new(inner) })
    }

    /// Returns the settings the hub was made with.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Sends `message` to every subscriber of `channel`, with its `channel` field set.
    ///
    /// The message is serialised once and the same bytes are queued for every subscriber.
    /// A subscriber whose queue is full is skipped for this message only. Returns how many
    /// clients the message was queued for; with nobody subscribed that is `Ok(0)`, and the
    /// message is not even serialised.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChannel`](crate::Error::InvalidChannel) for a name outside the rules of
    /// [`HubConfig::max_channel_len`]; [`Error::Json`](crate::Error::Json) when `data` cannot be serialised.
    pub fn send_to_channel(&self, channel: &str, message: Message) -> Result<usize> {
        names::check_channel(channel, self.inner.config.max_channel_len)?;
        let Some(subscribers) = self.inner.subscribers(channel) else {
            return Ok(0);
        };
        let frame = SharedFrame::text(&message.with_channel(channel))?;
        Ok(self.inner.fan_out(&subscribers, &frame))
    }

    /// Sends `message` to every connected client, whatever it subscribed to.
    ///
    /// A client whose queue is full cannot keep up with hub-wide traffic: it is
    /// disconnected, with a close frame (1008) when its socket still takes one. Returns
    /// how many clients the message was queued for.
    ///
    /// # Errors
    ///
    /// [`Error::Json`](crate::Error::Json) when `data` cannot be serialised.
    pub fn broadcast(&self, message: Message) -> Result<usize> {
        let sessions: Vec<Arc<Session>> = {
            let registry = self.inner.registry.read();
            if registry.session_count() == 0 {
                return Ok(0);
            }
            registry.sessions().cloned().collect()
        };
        let frame = SharedFrame::text(&message)?;
        Ok(self.inner.broadcast_frame(&sessions, &frame))
    }

    /// Sends one line of a process's output to `process:{process_id}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProcessId`](crate::Error::InvalidProcessId) for an id outside the rules of
    /// [`HubConfig::max_process_id_len`].
    pub fn send_process_output(&self, process_id: &str, line: &str) -> Result<usize> {
        self.send_to_process(process_id, || Message::process_output(process_id, line))
    }

    /// Sends a process's status to `process:{process_id}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProcessId`](crate::Error::InvalidProcessId) for an id outside the rules of
    /// [`HubConfig::max_process_id_len`].
    pub fn send_process_status(
        &self,
        process_id: &str,
        status: ProcessStatus,
        exit_code: i32,
    ) -> Result<usize> {
        self.send_to_process(process_id, || Message::process_status(process_id, status, exit_code))
    }

    /// Broadcasts an `event` message carrying `{"event": name, "data": data}`.
    ///
    /// To send an event to one channel instead, publish [`Message::event`] with
    /// [`Hub::send_to_channel`].
    ///
    /// # Errors
    ///
    /// [`Error::Json`](crate::Error::Json) when `data` cannot be serialised.
    pub fn send_event(&self, name: &str, data: impl Into<Value>) -> Result<usize> {
        self.broadcast(Message::event(name, data))
    }

    /// Broadcasts an `error` message carrying `text`.
    ///
    /// # Errors
    ///
    /// None in practice; the `Result` matches the other publishing calls.
    pub fn send_error(&self, text: &str) -> Result<usize> {
        self.broadcast(Message::error(text))
    }

    /// Builds and sends a process message only when `process:{id}` has subscribers, so a
    /// call with nobody watching allocates nothing.
    pub(crate) fn send_to_process(
        &self,
        id: &str,
        build: impl FnOnce() -> Message,
    ) -> Result<usize> {
        names::check_process_id(id, self.inner.config.max_process_id_len)?;
        let mut room = [0u8; 256];
        let subscribers = match process_channel_in(&mut room, id) {
            Some(channel) => self.inner.subscribers(channel),
            None => self.inner.subscribers(&names::process_channel(id)),
        };
        let Some(subscribers) = subscribers else {
            return Ok(0);
        };
        let frame = SharedFrame::text(&build().with_channel(names::process_channel(id)))?;
        Ok(self.inner.fan_out(&subscribers, &frame))
    }

    /// Returns how many clients are connected.
    pub fn client_count(&self) -> usize {
        self.inner.registry.read().session_count()
    }

    /// Returns how many channels have at least one subscriber.
    pub fn channel_count(&self) -> usize {
        self.inner.registry.read().channel_count()
    }

    /// Returns how many clients are subscribed to `channel`.
    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.inner.subscribers(channel).map_or(0, |list| list.len())
    }

    /// Returns the ids of the clients subscribed to `channel`, sorted.
    pub fn subscribers(&self, channel: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .inner
            .subscribers(channel)
            .map_or_else(Vec::new, |list| list.iter().map(|s| s.session.id).collect());
        ids.sort_unstable();
        ids
    }

    /// Returns what the hub knows about every connected client, sorted by id.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let registry = self.inner.registry.read();
        let mut clients: Vec<ClientInfo> =
            registry.sessions().map(|session| client_info(&registry, session)).collect();
        clients.sort_unstable_by_key(|client| client.id);
        clients
    }

    /// Returns what the hub knows about one client, or `None` if it is not connected.
    pub fn client(&self, id: u64) -> Option<ClientInfo> {
        let registry = self.inner.registry.read();
        registry.session(id).map(|session| client_info(&registry, session))
    }

    /// Returns a snapshot of the hub's counters.
    pub fn stats(&self) -> HubStats {
        let (clients, channels, subscriptions) = {
            let registry = self.inner.registry.read();
            (registry.session_count(), registry.channel_count(), registry.subscription_count())
        };
        let counters = &self.inner.counters;
        HubStats {
            clients,
            channels,
            subscriptions,
            delivered: counters.delivered.load(Ordering::Relaxed),
            skipped: counters.skipped.load(Ordering::Relaxed),
            slow_disconnected: counters.slow_disconnected.load(Ordering::Relaxed),
        }
    }

    /// Sets the function called on a connection thread after each client connects,
    /// replacing any earlier one. Keep it short: the client's writer waits for it.
    pub fn on_connect(&self, hook: impl Fn(&ClientInfo) + Send + Sync + 'static) {
        *self.inner.on_connect.write() = Some(Arc::new(hook));
    }

    /// Sets the function called on a connection thread after each client has gone, with
    /// the reason, replacing any earlier one.
    pub fn on_disconnect(
        &self,
        hook: impl Fn(&ClientInfo, &DisconnectReason) + Send + Sync + 'static,
    ) {
        *self.inner.on_disconnect.write() = Some(Arc::new(hook));
    }

    /// Closes one client with 1000 (normal closure); returns false if it is not connected.
    pub fn disconnect(&self, id: u64) -> bool {
        let session = self.inner.registry.read().session(id).cloned();
        match session {
            Some(session) => {
                let ending = Ending::Close(CloseCode::Normal, DisconnectReason::ClosedByServer);
                session.request_end(ending);
                true
            }
            None => false,
        }
    }

    /// Stops every listener, closes every client with 1001 (going away) and joins every
    /// thread the hub started. Calling it again does nothing.
    ///
    /// Each client first gets every message queued for it before the call, in order,
    /// and then the close frame, as long as its socket keeps taking bytes: a write that
    /// stalls past the write timeout cuts the client off.
    ///
    /// Returns once all threads have ended, or after the close timeout plus the write
    /// timeout if a thread is stuck, which is logged.
    pub fn shutdown(&self) {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        log::info!("shutting down");
        let stoppers = std::mem::take(&mut *self.inner.stoppers.lock());
        for stop in stoppers {
            stop();
        }
        let sessions: Vec<Arc<Session>> = self.inner.registry.read().sessions().cloned().collect();
        for session in sessions {
            session.request_end(Ending::Close(CloseCode::Away, DisconnectReason::Shutdown));
        }
        self.inner.wakes.stop();
        let bound = self.inner.config.close_timeout + self.inner.config.write_timeout;
        let left = self.inner.threads.join_all(bound + Duration::from_secs(1));
        if left > 0 {
            log::error!("shut down with {left} threads still running");
        } else {
            log::info!("shut down");
        }
    }

    /// Returns whether [`Hub::shutdown`] has been called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.is_shut_down()
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without a shutdown: let the waker thread end too.
        self.wakes.stop();
    }
}

impl Inner {
    pub(crate) fn subscribers(&self, channel: &str) -> Option<Subscribers> {
        self.registry.read().subscribers(channel)
    }

    /// Queues `frame` for every subscriber; no lock is held here.
    pub(crate) fn fan_out(&self, subscribers: &Subscribers, frame: &SharedFrame) -> usize {
        let mut delivered = 0;
        let mut skipped = 0;
        let mut to_wake = Vec::new();
        for subscriber in subscribers.iter() {
            let item = Outbound::Channel(frame.clone(), Arc::clone(&subscriber.gate));
            match subscriber.session.try_enqueue(item) {
                Enqueued::Yes => {
                    delivered += 1;
                    if subscriber.session.mark_for_wake() {
                        to_wake.push(Arc::clone(&subscriber.session));
                    }
                }
                Enqueued::Full => {
                    subscriber.session.count_skip();
                    skipped += 1;
                }
                Enqueued::Gone => {}
            }
        }
        self.wakes.submit(to_wake);
        self.count(delivered, skipped);
        delivered
    }

    fn broadcast_frame(&self, sessions: &[Arc<Session>], frame: &SharedFrame) -> usize {
        let mut delivered = 0;
        let mut to_wake = Vec::new();
        for session in sessions {
            match session.try_enqueue(Outbound::Plain(frame.clone())) {
                Enqueued::Yes => {
                    delivered += 1;
                    if session.mark_for_wake() {
                        to_wake.push(Arc::clone(session));
                    }
                }
                Enqueued::Full => {
                    let ending = Ending::Close(CloseCode::Policy, DisconnectReason::TooSlow);
                    if session.request_end(ending) {
                        self.counters.slow_disconnected.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Enqueued::Gone => {}
            }
        }
        self.wakes.submit(to_wake);
        self.count(delivered, 0);
        delivered
    }

    pub(crate) fn count(&self, delivered: usize, skipped: usize) {
        if delivered > 0 {
            self.counters.delivered.fetch_add(delivered as u64, Ordering::Relaxed);
        }
        if skipped > 0 {
            self.counters.skipped.fetch_add(skipped as u64, Ordering::Relaxed);
        }
    }

    /// Claims a place under the connection cap, or `None` when the hub is full.
    pub(crate) fn claim_connection(&self) -> Option<ConnectionSlot> {
        let max = self.config.max_connections;
        let claimed = self
            .connections
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1));
        claimed.ok().map(|_| ConnectionSlot(Arc::clone(&self.connections)))
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Records how to stop a listener; runs it at once if the hub is already shut down.
    pub(crate) fn add_stopper(&self, stop: Box<dyn FnOnce() + Send>) {
        let mut stoppers = self.stoppers.lock();
        if self.is_shut_down() {
            drop(stoppers);
            stop();
        } else {
            stoppers.push(stop);
        }
    }

    pub(crate) fn client_info(&self, session: &Session) -> ClientInfo {
        client_info(&self.registry.read(), session)
    }

    pub(crate) fn notify_connect(&self, client: &ClientInfo) {
        let hook = self.on_connect.read().clone();
        if let Some(hook) = hook {
            guarded("on_connect", || hook(client));
        }
    }

    /// Asks the program's authoriser whether `session` may subscribe to `channel`; a
    /// channel it already holds is not asked about again, and a panic refuses.
    pub(crate) fn authorise(&self, session: &Session, channel: &str) -> Result<(), String> {
        let Some(authoriser) = self.authoriser.read().clone() else {
            return Ok(());
        };
        let client = self.client_info(session);
        if client.subscriptions.binary_search_by(|held| held.as_str().cmp(channel)).is_ok() {
            return Ok(());
        }
        catch_unwind(AssertUnwindSafe(|| authoriser(&client, channel))).unwrap_or_else(|_| {
            log::warn!("the channel authoriser panicked; the subscribe is refused");
            Err("the authoriser failed".to_owned())
        })
    }

    pub(crate) fn notify_disconnect(&self, client: &ClientInfo, reason: &DisconnectReason) {
        let hook = self.on_disconnect.read().clone();
        if let Some(hook) = hook {
            guarded("on_disconnect", || hook(client, reason));
        }
    }
}

/// Runs a callback of the program; a panic in it must not take a connection thread down.
fn guarded(name: &str, hook: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(hook)).is_err() {
        log::warn!("the {name} callback panicked; the connection carries on");
    }
}

fn client_info(registry: &Registry, session: &Session) -> ClientInfo {
    ClientInfo {
        id: session.id,
        peer_addr: session.peer,
        connected_at: session.connected_at,
        subscriptions: registry.channels_of(session.id),
        skipped: session.skipped(),
        user_id: session.identity.as_ref().map(|identity| identity.user_id.clone()),
        claims: session
            .identity
            .as_ref()
            .map(|identity| identity.claims.clone())
            .unwrap_or_default(),
    }
}

/// Writes `process:{id}` into `room` and returns it, or `None` when it does not fit.
fn process_channel_in<'a>(room: &'a mut [u8], id: &str) -> Option<&'a str> {
    let len = PROCESS_PREFIX.len() + id.len();
    let slot = room.get_mut(..len)?;
    slot[..PROCESS_PREFIX.len()].copy_from_slice(PROCESS_PREFIX.as_bytes());
    slot[PROCESS_PREFIX.len()..].copy_from_slice(id.as_bytes());
    std::str::from_utf8(slot).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn invalid_config_is_an_error() {
        let config = HubConfig { queue_capacity: 0, ..HubConfig::default() };
        assert!(matches!(Hub::new(config), Err(Error::Config(_))));
    }

    #[test]
    fn publishing_with_nobody_subscribed_is_ok() {
        let hub = Hub::new(HubConfig::default()).unwrap();
        assert_eq!(hub.send_to_channel("logs", Message::error("x")).unwrap(), 0);
        assert_eq!(hub.send_process_output("build", "line").unwrap(), 0);
        assert_eq!(hub.broadcast(Message::error("x")).unwrap(), 0);
    }

    #[test]
    fn invalid_names_are_errors() {
        let hub = Hub::new(HubConfig::default()).unwrap();
        let err = hub.send_to_channel("", Message::error("x")).unwrap_err();
        assert!(matches!(err, Error::InvalidChannel(_)));
        let err = hub.send_process_output("a:b", "x").unwrap_err();
        assert!(matches!(err, Error::InvalidProcessId(_)));
    }

    #[test]
    fn one_publish_shares_one_buffer_among_subscribers() {
        use crate::session::{Outbound, Session};

        let hub = Hub::new(HubConfig::default()).unwrap();
        let mut queues = Vec::new();
        for id in [1, 2] {
            let (session, ends) = Session::new(id, "127.0.0.1:9".parse().unwrap(), 4);
            let mut registry = hub.inner.registry.write();
            registry.add_session(session);
            registry.subscribe(id, "shared", 8).unwrap().unwrap().open();
            queues.push(ends);
        }
        assert_eq!(hub.send_to_channel("shared", Message::error("once")).unwrap(), 2);

        let pointers: Vec<*const u8> = queues
            .iter()
            .map(|queue| match queue.try_recv().unwrap() {
                Outbound::Channel(frame, _) => frame.as_bytes().as_ptr(),
                _ => panic!("a channel message"),
            })
            .collect();
        assert_eq!(pointers[0], pointers[1], "both queues hold the same bytes");
    }

    #[test]
    fn process_channel_is_built_in_place() {
        let mut room = [0u8; 16];
        assert_eq!(process_channel_in(&mut room, "build"), Some("process:build"));
        assert_eq!(process_channel_in(&mut room, "much-too-long-id"), None);
    }
}
