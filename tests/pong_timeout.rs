//! A peer that never answers pings is closed after the pong timeout with 1001, while a
//! client that answers them stays connected.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::{Client, PATIENCE, Seen, raw, start};
use wshub::{DisconnectReason, HubConfig};

fn short_timeouts() -> HubConfig {
    HubConfig {
        heartbeat_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(1_000),
        ..HubConfig::default()
    }
}

#[test]
fn a_silent_peer_is_closed_after_the_pong_timeout() {
    let (hub, server) = start(short_timeouts());
    let (reasons, reported) = mpsc::channel();
    hub.on_disconnect(move |client, reason| {
        let _ = reasons.send((client.id, reason.clone()));
    });

    let mut silent = raw::upgraded(&server);
    let (_, reason) = reported.recv_timeout(PATIENCE).expect("the silent peer is dropped");
    assert_eq!(reason, DisconnectReason::PongTimeout);
    assert_eq!(raw::read_close_code(&mut silent), Some(1001));
    assert_eq!(hub.client_count(), 0);
    hub.shutdown();
}

#[test]
fn a_client_that_answers_pings_stays() {
    let (hub, server) = start(short_timeouts());
    let mut client = Client::connect(&server);
    // Reading lets the client answer each ping; stay well past several pong timeouts.
    for _ in 0..5 {
        match client.next(Duration::from_millis(500)) {
            Seen::Nothing => {}
            other => panic!("expected only pings, saw {other:?}"),
        }
    }
    assert_eq!(hub.client_count(), 1);
    client.subscribe("still-here");
    hub.shutdown();
}
