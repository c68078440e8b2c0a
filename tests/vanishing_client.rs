//! A client that disappears without a close frame is cleaned up: one whose socket closes
//! is gone at once, one that falls silent is closed with 1001 after the pong timeout;
//! their threads and descriptors go, and a canary keeps receiving.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use support::{Client, canary, raw};
use wshub::{DisconnectReason, HubConfig, Message};

fn record_reasons(hub: &wshub::Hub) -> Arc<Mutex<Vec<DisconnectReason>>> {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reasons);
    hub.on_disconnect(move |_, reason| sink.lock().push(reason.clone()));
    reasons
}

#[test]
fn a_client_whose_socket_closes_mid_stream_is_removed() {
    let (hub, server) = support::start(canary::config());
    let reasons = record_reasons(&hub);
    canary::watch(&hub, Client::connect(&server), || {
        let mut ghost = raw::upgraded(&server);
        ghost.write_all(&raw::text_frame(r#"{"type":"subscribe","data":"feed"}"#)).unwrap();
        assert!(support::wait_until(support::PATIENCE, || hub.subscriber_count("feed") == 1));
        for n in 0..100 {
            hub.send_to_channel("feed", Message::event("tick", n)).unwrap();
        }
        drop(ghost);
        for n in 0..100 {
            hub.send_to_channel("feed", Message::event("tick", n)).unwrap();
        }
        assert!(support::wait_until(support::PATIENCE, || hub.subscriber_count("feed") == 0));
        assert!(support::wait_until(support::PATIENCE, || !reasons.lock().is_empty()));
        assert_eq!(reasons.lock()[0], DisconnectReason::ConnectionLost);
    });
    hub.shutdown();
}

#[test]
fn a_client_that_falls_silent_is_closed_after_the_pong_timeout() {
    let config = HubConfig {
        // Roomy enough that the canary, which answers pings, never times out on a
        // loaded machine.
        heartbeat_interval: Duration::from_millis(300),
        pong_timeout: Duration::from_millis(2_000),
        ..canary::config()
    };
    let (hub, server) = support::start(config);
    let reasons = record_reasons(&hub);
    canary::watch(&hub, Client::connect(&server), || {
        // Sends nothing after the upgrade, not even the pongs to the hub's pings.
        let mut silent = raw::upgraded(&server);
        assert_eq!(raw::read_close_code(&mut silent), Some(1001));
        assert!(support::wait_until(support::PATIENCE, || !reasons.lock().is_empty()));
        assert_eq!(reasons.lock()[0], DisconnectReason::PongTimeout);
        drop(silent);
    });
    hub.shutdown();
}
