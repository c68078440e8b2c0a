//! Each kind of bad frame after the upgrade closes only its own connection, with the
//! close code RFC 6455 section 7.4.1 gives it, while a canary on another channel keeps
//! receiving and the hub's threads, descriptors and memory come back to their baseline.

mod support;

use std::io::Write;

use support::{Client, canary, raw};

/// Sends `bytes` on a fresh upgraded connection and returns the close code it gets.
fn close_code_for(bytes: &[u8]) -> Option<u16> {
    let (hub, server) = support::start(canary::config());
    let code = canary::watch(&hub, Client::connect(&server), || {
        let mut stream = raw::upgraded(&server);
        stream.write_all(bytes).expect("send the frame");
        raw::read_close_code(&mut stream)
    });
    hub.shutdown();
    code
}

#[test]
fn a_message_over_the_size_limit_closes_with_1009() {
    let payload = "x".repeat(100 * 1024);
    let message = format!(r#"{{"type":"subscribe","data":"{payload}"}}"#);
    assert_eq!(close_code_for(&raw::text_frame(&message)), Some(1009));
}

#[test]
fn a_fragmented_message_over_the_size_limit_closes_with_1009() {
    let piece = vec![b'x'; 30 * 1024];
    let mut bytes = raw::frame(0x01, &piece, true);
    bytes.extend(raw::frame(0x00, &piece, true));
    bytes.extend(raw::frame(0x80, &piece, true));
    assert_eq!(close_code_for(&bytes), Some(1009));
}

#[test]
fn a_frame_claiming_2_pow_62_bytes_closes_with_1009_without_allocating() {
    let header = raw::frame_header(0x81, 1 << 62, true);
    assert_eq!(close_code_for(&header), Some(1009));
}

#[test]
fn an_unmasked_client_frame_closes_with_1002() {
    let bytes = raw::frame(0x81, br#"{"type":"ping"}"#, false);
    assert_eq!(close_code_for(&bytes), Some(1002));
}

#[test]
fn a_text_frame_with_invalid_utf8_closes_with_1007() {
    let bytes = raw::frame(0x81, b"{\"type\":\"ping\xff\xfe\"}", true);
    assert_eq!(close_code_for(&bytes), Some(1007));
}

#[test]
fn a_binary_frame_closes_with_1003() {
    let bytes = raw::frame(0x82, br#"{"type":"ping"}"#, true);
    assert_eq!(close_code_for(&bytes), Some(1003));
}

#[test]
fn other_protocol_violations_close_with_1002() {
    let cases = [
        ("a reserved bit", raw::frame(0xc1, b"{}", true)),
        ("an unknown opcode", raw::frame(0x83, b"{}", true)),
        ("a ping over 125 bytes", raw::frame(0x89, &[b'p'; 126], true)),
        ("a fragmented ping", raw::frame(0x09, b"p", true)),
        ("a continuation with nothing to continue", raw::frame(0x80, b"{}", true)),
    ];
    for (name, bytes) in cases {
        assert_eq!(close_code_for(&bytes), Some(1002), "{name}");
    }
}

#[test]
fn a_close_with_a_code_that_must_not_be_sent_is_answered_1002() {
    // 1005 means "no code" and must never appear on the wire (section 7.4.1); the hub
    // does not echo it back.
    let bytes = raw::frame(0x88, &1005u16.to_be_bytes(), true);
    assert_eq!(close_code_for(&bytes), Some(1002));
}
