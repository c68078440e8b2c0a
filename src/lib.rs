//! `wshub` streams live data from an ordinary, non-async program to WebSocket clients.
//!
//! A [`Hub`] owns named channels. Browsers connect, subscribe to channels such as
//! `process:build`, and receive every JSON message the program publishes there. The
//! program never blocks on a client: each client has a bounded queue, and a client that
//! falls behind misses messages (channel sends) or is disconnected (broadcasts) rather
//! than slowing anyone else.
//!
//! ```no_run
//! use wshub::{Hub, HubConfig, ProcessStatus};
//!
//! let hub = Hub::new(HubConfig::default())?;
//! let server = hub.listen("127.0.0.1:8080")?;
//! println!("clients connect to {}", server.url());
//!
//! hub.send_process_output("build", "compiling wshub")?;
//! hub.send_process_status("build", ProcessStatus::Exited, 0)?;
//! hub.shutdown();
//! # Ok::<(), wshub::Error>(())
//! ```
//!
//! # Threads
//!
//! One accept thread per listener. Each connection has a writer thread (which also ran
//! its handshake) and a reader thread. Only the writer writes to the socket: it drains
//! the client's queue in batches, sends protocol pings every heartbeat, answers pings and
//! sends the close frame. [`Hub::shutdown`] closes every client with 1001 and joins every
//! thread before it returns.
//!
//! # Wire protocol
//!
//! Every server message is one JSON object in one text frame, with keys in the order
//! `type`, `channel`, `processId`, `data`, `timestamp` and empty ones left out (see
//! [`Message`]). Clients send:
//!
//! | message | answer |
//! |---|---|
//! | `{"type":"subscribe","data":"process:build"}` (or `"channel"`) | `{"type":"subscribed","channel":...}` |
//! | `{"type":"unsubscribe","data":"process:build"}` | `{"type":"unsubscribed","channel":...}` |
//! | `{"type":"ping"}` | `{"type":"pong","timestamp":...}` |
//!
//! `subscribed` arrives before the channel's first message, every message published
//! after the client has read `subscribed` reaches it (queue room permitting), and nothing
//! of a channel follows its `unsubscribed`. Subscribing twice is confirmed twice and counts once;
//! unsubscribing from a channel one is not subscribed to is confirmed too. Malformed
//! JSON, an unknown `type`, a missing or invalid channel name and a subscription past the
//! limit get an `error` message and the connection stays open. A binary frame closes it
//! with 1003, invalid UTF-8 with 1007, a message over the size limit with 1009, other
//! protocol violations with 1002, and silence past the pong timeout with 1001.
//!
//! # Delivery
//!
//! * A channel send serialises the message once and queues the same bytes for every
//!   subscriber. With no subscriber nothing is serialised and the call returns `Ok(0)`.
//! * A channel send skips a client whose queue is full, for that message only; the skip
//!   is counted for the client and for the hub ([`HubStats::skipped`]).
//! * A broadcast ([`Hub::broadcast`], [`Hub::send_event`], [`Hub::send_error`]) that finds
//!   a client's queue full disconnects that client with 1008, because it cannot keep up
//!   with hub-wide traffic.
//! * Per client, the messages of one channel arrive in the order they were published
//!   from one thread.
//!
//! # Names
//!
//! Channel names are 1 to 256 bytes of ASCII letters, digits and `- _ . : / @ +`; process
//! ids the same without `:` and `/`, at most 128 bytes. Both limits are in [`HubConfig`].
//!
//! # HTTP
//!
//! Bad upgrade requests get a status instead of a dropped socket: `400` (malformed, no
//! key, no `Host`), `404` (another path), `405` (not `GET`), `408` (request not complete
//! within the handshake timeout), `426` with `Sec-WebSocket-Version: 13` (another
//! version), `431` (head too large or too many fields) and `503` with `Retry-After` (the
//! connection cap, or shutdown). Plain requests go to the handler set with
//! [`Hub::set_http_handler`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod frame;
mod http;
mod hub;
mod message;
mod names;
mod registry;
mod server;
mod session;
mod threads;
mod upgrade;

pub use config::HubConfig;
pub use error::{Error, Result};
pub use http::{HttpRequest, HttpResponse};
pub use hub::{ClientInfo, Hub, HubStats};
pub use message::{Message, MessageType, OutputStream, ProcessStatus};
pub use server::Server;
pub use session::DisconnectReason;
