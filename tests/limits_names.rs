//! Channel names that break the rules, a 10 KB one and ones with control characters,
//! get an `error` message naming the rule and the connection stays open; process ids
//! past their limit are refused to the program; a canary keeps receiving throughout.

mod support;

use serde_json::json;
use support::{Client, canary};
use wshub::Error;

#[test]
fn bad_channel_names_get_an_error_and_the_connection_stays() {
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        let mut client = Client::connect(&server);
        let long = "c".repeat(10 * 1024);
        let cases = [
            (long.as_str(), "10240 bytes long, the limit is 256"),
            ("bell\u{7}channel", "'\\u{7}' at byte 4 is not allowed"),
            ("line\nbreak", "'\\n' at byte 4 is not allowed"),
            ("nul\u{0}", "'\\0' at byte 3 is not allowed"),
            ("esc\u{1b}[31m", "'\\u{1b}' at byte 3 is not allowed"),
            ("", "it is empty"),
        ];
        for (channel, why) in cases {
            client.send_json(&json!({"type": "subscribe", "data": channel}));
            let reply = client.recv_json();
            assert_eq!(reply["type"], "error", "{reply}");
            let text = reply["data"].as_str().unwrap();
            assert!(text.contains(why), "{text}");
            assert!(text.len() < 200, "the error echoes the name: {} bytes", text.len());
        }
        assert_eq!(hub.stats().subscriptions, 1);
        client.subscribe(&"c".repeat(256));
        drop(client);

        let long_id = "p".repeat(129);
        assert!(matches!(hub.send_process_output(&long_id, "x"), Err(Error::InvalidProcessId(_))));
        assert!(matches!(hub.send_process_output("a\u{1}b", "x"), Err(Error::InvalidProcessId(_))));
        hub.send_process_output(&"p".repeat(128), "x").unwrap();
    });
    hub.shutdown();
}
