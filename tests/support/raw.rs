//! HTTP and WebSocket by hand over a plain `TcpStream`, for requests and frames that no
//! well-behaved client library would send. Every read is bounded by a timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::WebSocket;
use tungstenite::protocol::Role;
use wshub::Server;

use super::{Client, PATIENCE};

/// A valid `Sec-WebSocket-Key` (the sample of RFC 6455 section 1.3).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The mask every masked frame of these tests uses.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// An HTTP response as the hub sent it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// Returns the first value of a header, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Opens a TCP connection to the server with bounded reads and writes.
pub fn tcp(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Returns an upgrade request head for `target` with `extra` header fields.
pub fn upgrade_head(addr: SocketAddr, target: &str, extra: &[(&str, &str)]) -> String {
    let mut head = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends `request` as it is and returns the response, read until the hub closes.
pub fn exchange(server: &Server, request: &[u8]) -> Response {
    let mut stream = tcp(server);
    stream.write_all(request).expect("send the request");
    read_response(&mut stream)
}

/// Sends an upgrade for `target`; returns the upgraded socket after a `101`, or the
/// response that refused it.
pub fn try_upgrade(
    server: &Server,
    target: &str,
    extra: &[(&str, &str)],
) -> Result<TcpStream, Response> {
    let mut stream = tcp(server);
    let head = upgrade_head(server.local_addr(), target, extra);
    stream.write_all(head.as_bytes()).expect("send the upgrade");
    // Byte by byte up to the blank line, so that no frame after it is taken.
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            other => panic!("the upgrade response ended early: {other:?}"),
        }
    }
    let (status, headers) = parse_head(&bytes);
    if status == 101 {
        return Ok(stream);
    }
    let mut rest = Vec::new();
    read_to_end(&mut stream, &mut rest);
    Err(Response { status, headers, body: String::from_utf8_lossy(&rest).into_owned() })
}

/// Upgrades like [`try_upgrade`] and wraps the socket in a WebSocket client.
pub fn try_connect(
    server: &Server,
    target: &str,
    extra: &[(&str, &str)],
) -> Result<Client, Response> {
    let stream = try_upgrade(server, target, extra)?;
    Ok(Client { ws: WebSocket::from_raw_socket(stream, Role::Client, None) })
}

/// Returns an upgraded socket on the server's WebSocket path.
pub fn upgraded(server: &Server) -> TcpStream {
    try_upgrade(server, "/ws", &[]).expect("upgrade")
}

/// Reads a whole response until the hub closes the connection.
pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut bytes = Vec::new();
    read_to_end(stream, &mut bytes);
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&bytes)));
    let (status, headers) = parse_head(&bytes[..end + 4]);
    let body = String::from_utf8_lossy(&bytes[end + 4..]).into_owned();
    Response { status, headers, body }
}

fn read_to_end(stream: &mut TcpStream, bytes: &mut Vec<u8>) {
    let deadline = Instant::now() + PATIENCE;
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // A reset after the response still leaves the response readable.
            Err(_) => return,
        }
    }
    panic!("the hub did not close the connection within {PATIENCE:?}");
}

fn parse_head(bytes: &[u8]) -> (u16, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    (status, headers)
}

/// Returns a client frame with the given first byte (FIN and opcode), masked or not.
pub fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut bytes = frame_header(first, payload.len() as u64, masked);
    if masked {
        bytes.extend(payload.iter().enumerate().map(|(at, b)| b ^ MASK[at % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// Returns only the header of a frame that claims `len` bytes of payload.
pub fn frame_header(first: u8, len: u64, masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut bytes = vec![first];
    match len {
        0..=125 => bytes.push(mask_bit | len as u8),
        126..=0xffff => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&len.to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&MASK);
    }
    bytes
}

/// Returns a masked text frame carrying `text`, as a client sends it.
pub fn text_frame(text: &str) -> Vec<u8> {
    frame(0x81, text.as_bytes(), true)
}

/// Reads server frames until a close frame and returns its code, skipping data and
/// control frames on the way; `None` when the connection ends without one.
pub fn read_close_code(stream: &mut TcpStream) -> Option<u16> {
    let deadline = Instant::now() + PATIENCE;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while Instant::now() < deadline {
        while let Some((opcode, payload, used)) = split_frame(&bytes) {
            if opcode == 0x8 {
                return payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]]));
            }
            bytes.drain(..used);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    None
}

/// Splits one unmasked server frame off the front: its opcode, its payload and how many
/// bytes it took.
fn split_frame(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let opcode = bytes.first()? & 0x0f;
    let (len, header) = match bytes.get(1)? & 0x7f {
        126 => (u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize, 10),
        short => (short as usize, 2),
    };
    let payload = bytes.get(header..header + len)?.to_vec();
    Some((opcode, payload, header + len))
}

/// Waits until the peer has closed the connection; returns whether it did in time.
pub fn closed_by_peer(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}
