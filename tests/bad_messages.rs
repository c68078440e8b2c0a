//! Well-framed messages with bad content (not JSON, not an object, an unknown type, a
//! missing or non-string channel, JSON nested thousands deep) each get an `error`
//! message and the connection stays open, while a canary keeps receiving.

mod support;

use serde_json::json;
use support::{Client, canary};

#[test]
fn bad_messages_get_an_error_and_the_connection_stays() {
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        let mut client = Client::connect(&server);
        let deep_array = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
        let deep_data = format!(r#"{{"type":"subscribe","data":{deep_array}}}"#);
        let cases = [
            "not json",
            "",
            "[1,2,3]",
            r#"{"type":7}"#,
            r#"{"type":"shout"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","data":{"channel":"x"}}"#,
            r#"{"type":"unsubscribe","data":null}"#,
            deep_array.as_str(),
            deep_data.as_str(),
        ];
        for text in cases {
            client.send_text(text);
            let reply = client.recv_json();
            assert_eq!(reply["type"], "error", "{}: {reply}", &text[..text.len().min(40)]);
        }
        client.send_json(&json!({"type": "ping"}));
        assert_eq!(client.recv_json()["type"], "pong");
        drop(client);
    });
    hub.shutdown();
}
