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
//! # Process streaming
//!
//! [`Hub::spawn_process`] runs a [`std::process::Command`] (the program keeps control
//! of its arguments, environment, working directory and stdin) and forwards the child
//! to `process:{id}`:
//!
//! ```no_run
//! use std::process::Command;
//! use wshub::{Hub, HubConfig};
//!
//! let hub = Hub::new(HubConfig::default())?;
//! let _server = hub.listen("127.0.0.1:8080")?;
//! let mut command = Command::new("cargo");
//! command.arg("build");
//! let build = hub.spawn_process("build", command)?;
//! let exit = build.wait()?;
//! println!("build ended: {:?} with code {}", exit.status(), exit.code());
//! # Ok::<(), wshub::Error>(())
//! ```
//!
//! The channel sees, in this order:
//!
//! 1. `process_status` `{"status":"running","exitCode":0}` once the child has started;
//! 2. one `process_output` per line of stdout and of stderr, as soon as the line is
//!    read; lines from stderr carry `"stream":"stderr"`. Lines of one stream keep their
//!    order; the two streams are read by two threads and interleave as they arrive;
//! 3. once the child has ended and both pipes are at their end, a final
//!    `process_status`: `exited` with the exit code; `crashed` when a signal ended the
//!    child, with exit code 128 plus the signal number and the signal's name in `data`
//!    (`{"status":"crashed","exitCode":137,"signal":"SIGKILL"}`); or `stopped` when the
//!    program asked for the stop with [`ProcessHandle::stop`], with the code the child
//!    ended with (143 and `"signal":"SIGTERM"` for a child that SIGTERM ended).
//!
//! A stop sends SIGTERM, then SIGKILL once [`ProcessOptions::stop_grace`] has passed
//! (default 5s). [`ProcessHandle::wait`] returns how the child ended as a
//! [`ProcessExit`], after the final status was published. A descendant that inherited
//! the child's stdout or stderr keeps the forwarding going until it closes them, as
//! with [`Command::output`](std::process::Command::output).
//!
//! [`Hub::forward_lines`] forwards any [`BufRead`](std::io::BufRead) (a pipe the program
//! owns, a log file) as `process_output` lines of an id, and sends no status.
//!
//! The `stream` example puts it together: it runs a command and serves a page that shows
//! the run live in a browser (`cargo run --example stream -- -- make`).
//!
//! Line rules, the same for both:
//!
//! * `\n` ends a line and a `\r` just before it is dropped; any other `\r` stays.
//! * A last line without a newline is still sent at the end of the input.
//! * Bytes that are not UTF-8 are replaced with U+FFFD, never dropped; a character
//!   split between two reads is decoded whole.
//! * A line longer than [`ProcessOptions::max_line_len`] (default 16 KiB, counted in
//!   bytes of UTF-8 after decoding) is sent in pieces of at most that length, cut
//!   between characters; every piece but the last carries `"partial":true`. A line is
//!   never held whole: memory per stream stays near the cap plus one 32 KiB read.
//! * The pipes are always drained, whether anyone watches or not, so a chatty child
//!   never stalls on a full pipe; with no subscriber a line costs no allocation.
//!
//! Threads: a reader per pipe, and a supervisor per child that owns it, reaps it,
//! stops it on request and publishes `running` and the final status. Dropping a
//! [`ProcessHandle`] stops a child that still runs and joins the threads; dropping a
//! [`ForwardHandle`] waits for the end of its input. SIGTERM is sent through `sh`'s
//! `kill`, since the standard library offers only SIGKILL and this crate has no unsafe
//! code; if that fails, SIGKILL is sent at once.
//!
//! # Threads
//!
//! One accept thread per listener. Each accepted socket gets a short-lived handshake
//! thread, which answers the upgrade request and, once upgraded, hands the socket to the
//! connection's writer thread and ends; the writer starts the connection's reader thread.
//! Only the writer writes to the socket: it drains the client's queue in batches, sends
//! protocol pings every heartbeat, answers pings and sends the close frame. Publishers
//! only enqueue; one waker thread per hub unparks the writers whose queues gained items,
//! so a publish to thousands of clients costs the publisher no system call. While the
//! hub is saturated (a round of at least 256 wake-ups with more already waiting), the
//! waker paces its rounds at one per 20 ms at most, so that writers wake for several
//! messages at a time. [`Hub::shutdown`] closes every client with 1001 and joins every
//! thread before it returns.
//!
//! An idle connection costs two parked threads (a 256 KiB stack each, of which about
//! 8 KiB is touched) and a few KiB of heap: a client's queue allocates its slots in
//! small blocks as messages come, not its whole capacity up front, and a writer gives
//! back a write buffer that a burst grew past 4 KiB once it has written nothing for
//! 100 ms.
//!
//! A thread per connection has a price at paced rates: every message wakes every
//! subscriber's writer, and waking a parked thread and letting it park again costs
//! more CPU than the socket write it is woken for (two to three times as much
//! on a 2-core virtual machine; `cargo bench --bench wakeup` measures it on yours).
//! Under load the price is spread over the many messages a writer takes per wake-up.
//! The README's Performance section has the measured figures.
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
//! after the client has read `subscribed` reaches it (queue room permitting), and
//! nothing of a channel follows its `unsubscribed`. Subscribing twice is confirmed twice
//! and counts once; unsubscribing from a channel one is not subscribed to is confirmed
//! too. Malformed JSON, an unknown `type`, a missing or invalid channel name and a
//! subscription past the limit get an `error` message and the connection stays open. A
//! binary frame closes it with 1003, invalid UTF-8 with 1007, a message over the size
//! limit with 1009, other protocol violations with 1002, and silence past the pong
//! timeout with 1001. The hub never sends 1005, 1006 or 1015: a client's close without
//! a code is answered without one.
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
//! ids the same without `:` and `/`, at most 128 bytes. Both limits are in [`HubConfig`],
//! whose [`HubConfig::check_channel`] and [`HubConfig::check_process_id`] apply the rules
//! to names that come from users.
//!
//! # HTTP
//!
//! Bad upgrade requests get a status instead of a dropped socket: `400` (malformed, no
//! key, no `Host`), `401` (refused credentials), `403` (refused origin), `404` (another
//! path), `405` (not `GET`), `408` (request not complete within the handshake timeout),
//! `426` with `Sec-WebSocket-Version: 13` (another version), `431` (head too large or too
//! many fields) and `503` with `Retry-After` (the connection cap, or shutdown). Plain
//! requests go to the handler set with [`Hub::set_http_handler`].
//!
//! # Access control
//!
//! An upgrade that passes the protocol checks meets two more, in this order, before its
//! `101`:
//!
//! 1. The [`OriginPolicy`] ([`Hub::set_origin_policy`]). By default a browser page may
//!    connect only to its own host and port: the `Origin`'s host and port must equal the
//!    `Host` header's, compared without regard to case and with default ports filled in.
//!    A request without `Origin` comes from a program, not a page, and is let through
//!    unless the policy is strict. An allow-list or a custom check can replace the rule;
//!    a custom check that panics refuses. Refused: `403`.
//! 2. The [`Authenticator`] ([`Hub::set_authenticator`]), when one is set: [`ApiKeys`]
//!    (`Authorization: Bearer <key>`, compared in constant time), [`BearerToken`] (the
//!    program's check of a bearer token), [`QueryToken`] (`?token=`, for browsers, which
//!    cannot set headers; the weaker choice, as URLs get logged) or any closure. Refused:
//!    `401` with a `WWW-Authenticate: Bearer` challenge whose `error` tells a missing,
//!    malformed or invalid credential apart, and the callback set with
//!    [`Hub::on_auth_failure`]. Accepted: the [`Identity`] shows on every [`ClientInfo`]
//!    of the client as `user_id` and `claims`.
//!
//! After the upgrade, the authoriser set with [`Hub::set_authoriser`] decides each
//! subscribe from the client and the channel name. A refused subscribe gets an `error`
//! message and the client never sees a message of that channel.
//!
//! Credentials never reach a log line: the hub logs request paths, never query strings
//! or header values, and the `Debug` output of [`HttpRequest`] and of the authenticators
//! hides them. Programs must keep them out of [`Rejection`] reasons too.
//!
//! # Limits
//!
//! Every limit is a field of [`HubConfig`] with its default there: connections (10,000;
//! beyond it `503` with `Retry-After`, answered by the accept thread before any
//! connection thread starts), the handshake deadline (10s in total, however slowly the
//! request trickles in), the request head (8 KiB and 64 header fields, beyond them
//! `431`), inbound messages (64 KiB, beyond it close 1009; the length a frame claims is
//! checked before anything is read or allocated for it), subscriptions per client
//! (1,024), channel names (256 bytes) and process ids (128 bytes).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access;
mod auth;
mod config;
mod connection;
mod error;
mod frame;
mod http;
mod hub;
mod lines;
mod message;
mod names;
mod origin;
mod policy;
mod process;
mod registry;
mod server;
mod session;
mod threads;
mod upgrade;
mod wake;

pub use auth::{
    ApiKeys, Authenticator, BearerToken, Identity, QueryToken, Rejection, RejectionKind,
};
pub use config::HubConfig;
pub use error::{Error, Result};
pub use http::{HttpRequest, HttpResponse};
pub use hub::{ClientInfo, Hub, HubStats};
pub use message::{Message, MessageType, OutputStream, ProcessStatus};
pub use origin::OriginPolicy;
pub use process::{ForwardHandle, ProcessExit, ProcessHandle, ProcessOptions};
pub use server::Server;
pub use session::DisconnectReason;
