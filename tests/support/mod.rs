//! Helpers shared by the integration tests: a hub on a free loopback port, a WebSocket
//! client whose every wait is bounded, a count of the process's threads, plain HTTP
//! requests, and the `stream` example run as a child.

#![allow(dead_code, reason = "each test binary uses a different part of the helpers")]

pub mod access;
pub mod canary;
pub mod interop;
pub mod raw;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message as WsMessage, WebSocket};
use wshub::{Hub, HubConfig, Server};

/// The longest any test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Starts a hub with `config` on `127.0.0.1:0`.
pub fn start(config: HubConfig) -> (Hub, Server) {
    let _ = env_logger::builder().is_test(true).try_init();
    let hub = Hub::new(config).expect("valid config");
    let server = hub.listen("127.0.0.1:0").expect("bind a free port");
    (hub, server)
}

/// Starts a hub with the default settings.
pub fn start_default() -> (Hub, Server) {
    start(HubConfig::default())
}

/// A WebSocket client over a real socket.
pub struct Client {
    pub ws: WebSocket<TcpStream>,
}

/// What a client saw next.
#[derive(Debug)]
pub enum Seen {
    Json(Value),
    Close(Option<CloseFrame>),
    Binary(Vec<u8>),
    /// Nothing arrived in time.
    Nothing,
    /// The connection ended without a close frame, or failed.
    Gone(String),
}

impl Client {
    /// Connects to `server`'s WebSocket URL.
    pub fn connect(server: &Server) -> Client {
        Client::connect_url(&server.url())
    }

    /// Connects to a `ws://` URL.
    pub fn connect_url(url: &str) -> Client {
        let addr = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
        let stream = TcpStream::connect(&addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        let (ws, _) = tungstenite::client::client(url, stream).expect("handshake");
        Client { ws }
    }

    pub fn send_json(&mut self, value: &Value) {
        self.ws.send(WsMessage::text(value.to_string())).expect("send");
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(WsMessage::text(text)).expect("send");
    }

    /// Subscribes and waits for the confirmation.
    pub fn subscribe(&mut self, channel: &str) {
        self.send_json(&json!({"type": "subscribe", "data": channel}));
        self.expect_confirmation("subscribed", channel);
    }

    /// Unsubscribes and waits for the confirmation.
    pub fn unsubscribe(&mut self, channel: &str) {
        self.send_json(&json!({"type": "unsubscribe", "data": channel}));
        self.expect_confirmation("unsubscribed", channel);
    }

    fn expect_confirmation(&mut self, kind: &str, channel: &str) {
        let seen = self.recv_json();
        assert_eq!(seen["type"], kind, "{seen}");
        assert_eq!(seen["channel"], channel, "{seen}");
    }

    /// Returns the next thing that arrives within `timeout`; pings and pongs do not
    /// count (tungstenite answers pings while it reads).
    pub fn next(&mut self, timeout: Duration) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Seen::Nothing;
            }
            self.ws.get_mut().set_read_timeout(Some(left)).unwrap();
            match self.ws.read() {
                Ok(WsMessage::Text(text)) => {
                    return Seen::Json(serde_json::from_str(text.as_str()).expect("JSON"));
                }
                Ok(WsMessage::Close(frame)) => return Seen::Close(frame),
                Ok(WsMessage::Binary(bytes)) => return Seen::Binary(bytes.to_vec()),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(err))
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Seen::Nothing;
                }
                Err(err) => return Seen::Gone(err.to_string()),
            }
        }
    }

    /// Returns the next JSON message, failing the test if none comes in time.
    pub fn recv_json(&mut self) -> Value {
        match self.next(PATIENCE) {
            Seen::Json(value) => value,
            other => panic!("expected a JSON message, saw {other:?}"),
        }
    }

    /// Asserts that no message arrives within `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        match self.next(quiet) {
            Seen::Nothing => {}
            other => panic!("expected nothing, saw {other:?}"),
        }
    }

    /// Reads the messages of one process run up to its final status, which comes last.
    pub fn until_final_status(&mut self) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let message = self.recv_json();
            let done =
                message["type"] == "process_status" && message["data"]["status"] != "running";
            seen.push(message);
            if done {
                return seen;
            }
        }
    }

    /// Reads until a close frame arrives and returns its code; skips JSON on the way.
    pub fn expect_close(&mut self) -> u16 {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            match self.next(PATIENCE) {
                Seen::Json(_) => continue,
                Seen::Close(frame) => return frame.map_or(1005, |f| u16::from(f.code)),
                other => panic!("expected a close frame, saw {other:?}"),
            }
        }
        panic!("no close frame within {PATIENCE:?}");
    }
}

/// Returns how many threads this process has now.
pub fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("Threads line");
    line["Threads:".len()..].trim().parse().expect("a number")
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Returns a command that runs `script` with `sh -c`.
pub fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

/// Returns the `data` of the `process_output` messages of one stream, in order.
pub fn lines_of(messages: &[Value], stream: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "process_output")
        .filter(|m| m["stream"].as_str().unwrap_or("stdout") == stream)
        .map(|m| m["data"].as_str().expect("a string").to_owned())
        .collect()
}

/// A plain HTTP response, read to the end of the connection.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// Returns the value of a header, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one HTTP/1.1 request to `addr` (host and port) and reads the whole reply.
pub fn http(addr: &str, method: &str, target: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the reply");
    let text = String::from_utf8(raw).expect("a UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    Reply { status, head: head.to_owned(), body: body.to_owned() }
}

/// The `stream` example running as a child process; killed when dropped.
pub struct Example {
    child: Child,
    /// The page URL it printed first, such as `http://127.0.0.1:1234/`.
    pub url: String,
    stdout: Option<JoinHandle<()>>,
}

impl Example {
    /// Starts the example with `args` and waits for the URL it prints first.
    pub fn start(args: &[&str]) -> Example {
        let path = example_binary("stream");
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (first, line) = crossbeam_channel::bounded(1);
        // Reads the first line, then drains the rest so the example never blocks on it.
        let reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = first.send(lines.next().and_then(Result::ok));
            lines.for_each(drop);
        });
        let mut example = Example { child, url: String::new(), stdout: Some(reader) };
        match line.recv_timeout(PATIENCE) {
            Ok(Some(url)) => example.url = url,
            other => panic!("the example printed no URL: {other:?}"),
        }
        example
    }

    /// Returns the host and port the example serves on.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://").trim_end_matches('/')
    }

    /// Returns the URL of the example's WebSocket.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr())
    }

    /// Waits for the example to exit by itself and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the example's status") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the example did not exit within {PATIENCE:?}");
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stdout.take() {
            let _ = reader.join();
        }
    }
}

/// Connects with a receive buffer of `bytes`, so the client's socket fills up quickly
/// once it stops reading.
pub fn connect_with_small_buffer(server: &Server, bytes: usize) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    socket.connect(&server.local_addr().into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let (ws, _) = tungstenite::client::client(server.url(), stream).expect("handshake");
    Client { ws }
}

/// Returns the path of a built example, building it first if needed.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "--example", name])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building example {name} failed");
    }
    path
}
