//! Server-to-client frames: data frames are encoded once on the publisher's thread and
//! shared by every queue that carries them; control frames are built by writer threads.

use std::sync::Arc;

use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{Frame as WireFrame, FrameHeader};

use crate::error::Result;
use crate::message::Message;

/// The longest header of an unmasked server frame: two bytes and a 64-bit length.
const MAX_HEADER: usize = 10;

/// A complete, unmasked text frame, header and payload, ready for the socket.
///
/// Cloning it copies one pointer; every subscriber's queue holds the same bytes. The
/// handle is a single pointer so that a queue slot stays small: an idle client keeps a
/// block of its queue's slots allocated.
#[derive(Clone)]
pub(crate) struct SharedFrame(Arc<Encoded>);

/// The buffer a message was serialised into, and where its frame begins in it: room
/// for the longest header is reserved before the payload, and the real header ends
/// where the payload starts.
///
/// Aligned to a cache line, which puts it on a line apart from its reference count:
/// every writer reads it, while the count changes with every clone and drop, from
/// every core.
#[repr(align(64))]
struct Encoded {
    start: usize,
    buffer: Vec<u8>,
}

/// Spare capacity past which an encoded buffer is shrunk to fit, so that a queued frame
/// does not hold twice its size.
const MAX_SPARE: usize = 1024;

impl SharedFrame {
    /// Serialises `message` once and frames it as one text frame.
    ///
    /// Server frames are never masked (RFC 6455 section 5.1), so the bytes are the same
    /// for every client and can be built before anyone knows who receives them.
    pub(crate) fn text(message: &Message) -> Result<SharedFrame> {
        let mut buffer = Vec::with_capacity(MAX_HEADER + 192);
        buffer.resize(MAX_HEADER, 0);
        serde_json::to_writer(&mut buffer, message)?;
        let payload_len = (buffer.len() - MAX_HEADER) as u64;

        let header = FrameHeader { opcode: OpCode::Data(Data::Text), ..FrameHeader::default() };
        let start = MAX_HEADER - header.len(payload_len);
        let mut slot = &mut buffer[start..MAX_HEADER];
        header.format(payload_len, &mut slot).expect("header fits its reserved room");
        if buffer.capacity() - buffer.len() > MAX_SPARE {
            buffer.shrink_to_fit();
        }
        Ok(SharedFrame(Arc::new(Encoded { start, buffer })))
    }

    /// Returns the frame's bytes, header included.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0.buffer[self.0.start..]
    }

    /// Returns the JSON payload without the frame header.
    #[cfg(test)]
    pub(crate) fn payload(&self) -> &[u8] {
        let bytes = self.as_bytes();
        let header_len = match bytes[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        &bytes[header_len..]
    }
}

impl std::fmt::Debug for SharedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedFrame({} bytes)", self.as_bytes().len())
    }
}

/// Appends a ping frame with an empty payload.
pub(crate) fn ping(out: &mut Vec<u8>) {
    format_control(WireFrame::ping(Vec::new()), out);
}

/// Appends the pong that answers a ping carrying `payload` (RFC 6455 section 5.5.3).
pub(crate) fn pong(payload: Vec<u8>, out: &mut Vec<u8>) {
    format_control(WireFrame::pong(payload), out);
}

/// Appends a close frame with a status code and a short reason (section 5.5.1).
pub(crate) fn close(code: CloseCode, reason: &str, out: &mut Vec<u8>) {
    // A control frame's payload is at most 125 bytes, two of which hold the code.
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let frame = CloseFrame { code, reason: reason[..cut].to_owned().into() };
    format_control(WireFrame::close(Some(frame)), out);
}

/// Appends a close frame without a status code, the answer to a close that had none.
pub(crate) fn close_without_code(out: &mut Vec<u8>) {
    format_control(WireFrame::close(None), out);
}

fn format_control(frame: WireFrame, out: &mut Vec<u8>) {
    frame.format(out).expect("writing into a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageType;

    #[test]
    fn short_payload_has_a_two_byte_header() {
        let frame = SharedFrame::text(&Message::new(MessageType::Pong)).unwrap();
        let bytes = frame.as_bytes();
        assert_eq!(bytes[0], 0x81, "FIN and the text opcode");
        assert_eq!(bytes[1] as usize, bytes.len() - 2);
        assert!(frame.payload().starts_with(br#"{"type":"pong""#));
    }

    #[test]
    fn medium_and_large_payloads_use_extended_lengths() {
        for (size, header) in [(200, 4), (70_000, 10)] {
            let message = Message::error("x".repeat(size));
            let frame = SharedFrame::text(&message).unwrap();
            let payload = message.to_json().unwrap();
            assert_eq!(frame.as_bytes().len(), header + payload.len());
            assert_eq!(frame.payload(), payload.as_bytes());
        }
    }

    #[test]
    fn close_reason_is_cut_on_a_character_boundary() {
        let mut out = Vec::new();
        close(CloseCode::Away, &"\u{e9}".repeat(100), &mut out);
        assert!(out.len() <= 2 + 125);
        assert_eq!(&out[2..4], &1001u16.to_be_bytes());
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }

    #[test]
    fn control_frames_are_unmasked() {
        let mut out = Vec::new();
        ping(&mut out);
        pong(b"abc".to_vec(), &mut out);
        assert_eq!(out, [0x89, 0x00, 0x8a, 0x03, b'a', b'b', b'c']);
    }
}
