//! The two sample messages of the wire protocol arrive byte for byte, timestamp aside,
//! and every timestamp is RFC 3339 UTC with milliseconds.

mod support;

use regex::Regex;
use support::{Client, start_default};
use tungstenite::Message as WsMessage;
use wshub::ProcessStatus;

/// Reads one text frame and returns it split around its timestamp.
fn next_frame(client: &mut Client) -> (String, String) {
    let text = match client.ws.read().expect("a frame") {
        WsMessage::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    };
    let pattern = Regex::new(r#""timestamp":"([^"]*)""#).unwrap();
    let stamp = pattern.captures(&text).expect("a timestamp")[1].to_owned();
    (pattern.replace(&text, r#""timestamp":"T""#).into_owned(), stamp)
}

#[test]
fn sample_messages_are_reproduced_exactly() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe("process:web-server-1");
    client.subscribe("process:proc-1");

    hub.send_process_output("web-server-1", "Listening on :8080").unwrap();
    hub.send_process_status("proc-1", ProcessStatus::Exited, 0).unwrap();

    let (output, output_stamp) = next_frame(&mut client);
    assert_eq!(
        output,
        r#"{"type":"process_output","channel":"process:web-server-1","processId":"web-server-1","data":"Listening on :8080","timestamp":"T"}"#
    );
    let (status, status_stamp) = next_frame(&mut client);
    assert_eq!(
        status,
        r#"{"type":"process_status","channel":"process:proc-1","processId":"proc-1","data":{"status":"exited","exitCode":0},"timestamp":"T"}"#
    );

    let format = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    assert!(format.is_match(&output_stamp), "{output_stamp}");
    assert!(format.is_match(&status_stamp), "{status_stamp}");
    hub.shutdown();
}

#[test]
fn replies_carry_timestamps_too() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.send_text(r#"{"type":"ping"}"#);
    let (pong, stamp) = next_frame(&mut client);
    assert_eq!(pong, r#"{"type":"pong","timestamp":"T"}"#);
    assert!(Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap().is_match(&stamp));
    hub.shutdown();
}
