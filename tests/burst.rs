//! A burst of 1,000 channel messages to one reading client arrives as 1,000 separate
//! text frames, each a complete JSON object, in the order sent.

mod support;

use support::{Client, start};
use tungstenite::Message as WsMessage;
use wshub::HubConfig;

const COUNT: usize = 1_000;

#[test]
fn a_burst_arrives_as_one_frame_per_message_in_order() {
    // Room for the whole burst: this test is about framing, not about a full queue.
    let (hub, server) = start(HubConfig { queue_capacity: COUNT, ..HubConfig::default() });
    let mut client = Client::connect(&server);
    client.subscribe("process:burst");

    for n in 0..COUNT {
        assert_eq!(hub.send_process_output("burst", &format!("line {n}")).unwrap(), 1);
    }
    for n in 0..COUNT {
        let text = match client.ws.read().expect("a frame") {
            WsMessage::Text(text) => text,
            other => panic!("frame {n}: expected text, got {other:?}"),
        };
        let value: serde_json::Value = serde_json::from_str(text.as_str())
            .unwrap_or_else(|err| panic!("frame {n} is not one JSON object: {err}: {text}"));
        assert_eq!(value["data"], format!("line {n}"));
    }
    assert_eq!(hub.stats().skipped, 0);
    hub.shutdown();
}
