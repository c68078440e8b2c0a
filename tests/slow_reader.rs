//! A client that stops reading while its channel is busy only hurts itself: it misses
//! messages (counted as skipped), is disconnected once a write stalls past the write
//! timeout, and its threads end, while a canary on another channel sees every message.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use support::{Client, canary, raw};
use wshub::{DisconnectReason, Message};

#[test]
fn a_client_that_stops_reading_is_dropped_alone() {
    let (hub, server) = support::start(canary::config());
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reasons);
    hub.on_disconnect(move |_, reason| sink.lock().push(reason.clone()));
    canary::watch(&hub, Client::connect(&server), || {
        // Subscribes, then never reads again.
        let mut sleeper = raw::upgraded(&server);
        sleeper.write_all(&raw::text_frame(r#"{"type":"subscribe","data":"busy"}"#)).unwrap();
        assert!(support::wait_until(support::PATIENCE, || hub.subscriber_count("busy") == 1));

        // 16 KiB lines until the socket buffers are full and the writer gives up.
        let line = "x".repeat(16 * 1024);
        let deadline = Instant::now() + support::PATIENCE;
        let mut published = 0;
        while hub.client_count() > 1 && Instant::now() < deadline {
            hub.send_process_output("busy-run", &line).unwrap();
            hub.send_to_channel("busy", Message::process_output("busy-run", line.as_str()))
                .unwrap();
            published += 1;
            std::thread::sleep(Duration::from_micros(500));
        }
        assert_eq!(hub.client_count(), 1, "the sleeper is still connected after {published}");
        assert!(hub.stats().skipped > 0, "a full queue must skip, not block");
        assert!(support::wait_until(support::PATIENCE, || !reasons.lock().is_empty()));
        assert_eq!(reasons.lock()[0], DisconnectReason::WriteFailed);
        drop(sleeper);
    });
    hub.shutdown();
}
