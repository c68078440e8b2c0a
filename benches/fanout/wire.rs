//! The bytes of the fan-out benchmark: the stamped `process_output` line, the frames the
//! subscriber parses and sends, and the hand-made frames of the raw reference. Runs on
//! the publisher thread of the hub process and on the subscriber process's poll thread.
//!
//! Part of `cargo bench --bench fanout`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use wshub::Message;

/// The process whose output the benchmark streams.
pub const PROCESS_ID: &str = "fan";

/// The channel every subscriber listens to.
pub const CHANNEL: &str = "process:fan";

/// The size of one message's JSON as a client receives it.
pub const MESSAGE_BYTES: usize = 150;

/// What precedes the stamp inside the JSON of every benchmark message.
const MARK: &[u8] = b"\"data\":\"";

/// The fixed-width stamp that starts every line: `RRR.SSSSSSSSSS.TTTTTTTTTTTTTTTTTTT`,
/// round (modulo 1000), sequence number and intended send time.
const STAMP_LEN: usize = 34;

/// Identifies one message: the round it belongs to, its place in the round and the time
/// the publisher meant to send it, in nanoseconds since the UNIX epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub round: u32,
    pub seq: u64,
    pub intended_ns: u64,
}

/// Returns the current time in nanoseconds since the UNIX epoch; both processes run on
/// one machine and read the same clock.
pub fn unix_nanos() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the `data` line of stamped messages, padded so that every message is
/// [`MESSAGE_BYTES`] long on the wire.
pub struct LineWriter {
    line: String,
    padding: String,
}

impl LineWriter {
    pub fn new() -> LineWriter {
        let probe = Stamp { round: 0, seq: 0, intended_ns: 0 };
        let mut writer = LineWriter { line: String::new(), padding: String::new() };
        let bare = writer.json(&probe).len();
        writer.padding = "x".repeat(MESSAGE_BYTES.saturating_sub(bare));
        // The subscriber finds the stamp by its place in the JSON: check it once here.
        let probe = Stamp { round: 7, seq: 42, intended_ns: 1_771_495_200_123_456_789 };
        let json = writer.json(&probe);
        assert_eq!(json.len(), MESSAGE_BYTES, "{json}");
        assert_eq!(parse_stamp(json.as_bytes()), Some(probe), "{json}");
        writer
    }

    /// Returns the line for `stamp`; the buffer is reused from call to call.
    pub fn line(&mut self, stamp: &Stamp) -> &str {
        self.line.clear();
        let Stamp { round, seq, intended_ns } = stamp;
        let _ = write!(self.line, "{:03}.{seq:010}.{intended_ns:019}", round % 1000);
        self.line.push_str(&self.padding);
        &self.line
    }

    /// Returns the JSON a client receives for `stamp`, as the hub would serialise it.
    pub fn json(&mut self, stamp: &Stamp) -> String {
        let line = self.line(stamp).to_owned();
        let message = Message::process_output(PROCESS_ID, line).with_channel(CHANNEL);
        message.to_json().expect("a process_output message serialises")
    }
}

/// Reads the stamp out of a message's JSON, or `None` when it is not a benchmark message.
pub fn parse_stamp(json: &[u8]) -> Option<Stamp> {
    let at = find(json, MARK)? + MARK.len();
    let stamp = json.get(at..at + STAMP_LEN)?;
    if stamp[3] != b'.' || stamp[14] != b'.' {
        return None;
    }
    let round = digits(&stamp[0..3])?;
    let seq = digits(&stamp[4..14])?;
    let intended_ns = digits(&stamp[15..34])?;
    Some(Stamp { round: u32::try_from(round).ok()?, seq, intended_ns })
}

fn digits(text: &[u8]) -> Option<u64> {
    text.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Appends an unmasked text frame carrying `payload`, as a server sends it (RFC 6455
/// section 5.2); the raw reference frames its messages with this.
pub fn server_text(payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x81);
    push_length(payload.len(), 0, out);
    out.extend_from_slice(payload);
}

/// Appends a masked frame, as a client must send it (RFC 6455 section 5.3). The key is
/// fixed: the benchmark's own server is the only reader.
pub fn client_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    out.push(0x80 | opcode);
    push_length(payload.len(), 0x80, out);
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
}

fn push_length(len: usize, mask_bit: u8, out: &mut Vec<u8>) {
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Opcodes the subscriber uses (RFC 6455 section 5.2).
pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One frame from the server, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// Splits the first complete frame off `buf`; returns it with its length on the wire, or
/// `Ok(None)` when more bytes are needed.
///
/// # Errors
///
/// A masked or fragmented frame: the hub sends neither (RFC 6455 section 5.1).
pub fn next_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, &'static str> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x80 == 0 {
        return Err("fragmented frame");
    }
    if second & 0x80 != 0 {
        return Err("masked server frame");
    }
    let (header, len) = match second & 0x7f {
        126 => match buf.get(2..4) {
            Some(bytes) => (4, u64::from(u16::from_be_bytes([bytes[0], bytes[1]]))),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(bytes) => (10, u64::from_be_bytes(bytes.try_into().expect("8 bytes"))),
            None => return Ok(None),
        },
        len => (2, u64::from(len)),
    };
    let total = header + usize::try_from(len).map_err(|_| "frame too large")?;
    match buf.get(header..total) {
        Some(payload) => Ok(Some((Frame { opcode: first & 0x0f, payload }, total))),
        None => Ok(None),
    }
}

/// The upgrade request the subscriber sends; the key is the RFC's own example.
pub fn upgrade_request(host: &str) -> Vec<u8> {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The subscribe request for [`CHANNEL`], as a masked text frame.
pub fn subscribe_frame() -> Vec<u8> {
    let mut out = Vec::new();
    let request = format!(r#"{{"type":"subscribe","data":"{CHANNEL}"}}"#);
    client_frame(OP_TEXT, request.as_bytes(), &mut out);
    out
}
