//! A client that floods requests while it does not read gets every reply, once and in
//! order, when it reads again: with its queue full, the hub stops reading its requests
//! instead of dropping replies, and the connection stays open.

mod support;

use std::io::Write;
use std::time::Duration;

use support::{PATIENCE, Seen, raw};
use wshub::HubConfig;

/// Requests sent; their replies are far more than the queue and the socket buffers hold.
const COUNT: usize = 20_000;

#[test]
fn every_reply_arrives_after_a_flood_of_requests() {
    let config = HubConfig { queue_capacity: 4, ..HubConfig::default() };
    let (hub, server) = support::start(config);
    let mut client = support::connect_with_small_buffer(&server, 4096);

    // Every request names an unknown type carrying its number, so the replies can be
    // told apart; they are sent from a second thread because the hub stops reading them.
    let mut flood = client.ws.get_ref().try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        for n in 0..COUNT {
            flood.write_all(&raw::text_frame(&format!(r#"{{"type":"n{n}"}}"#)))?;
        }
        flood.flush()
    });
    // Not reading for a moment lets the socket buffers and then the queue fill up.
    std::thread::sleep(Duration::from_millis(300));

    for n in 0..COUNT {
        match client.next(PATIENCE) {
            Seen::Json(reply) => {
                assert_eq!(reply["type"], "error", "{reply}");
                let text = reply["data"].as_str().unwrap();
                assert!(text.contains(&format!("\"n{n}\"")), "reply {n} was {text}");
            }
            other => panic!("reply {n} of {COUNT}: {other:?}"),
        }
    }
    sender.join().unwrap().expect("every request was taken");
    client.expect_silence(Duration::from_millis(100));
    assert_eq!(hub.client_count(), 1, "the connection stays open");
    assert_eq!(hub.stats().skipped, 0, "replies are never skipped");
    hub.shutdown();
}
