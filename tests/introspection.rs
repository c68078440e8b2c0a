//! What the hub reports about itself and its clients: counts, subscribers, per-client
//! details, counters, and the connect and disconnect callbacks with their reasons.

mod support;

use std::sync::mpsc;

use support::{Client, PATIENCE, start_default, wait_until};
use wshub::{DisconnectReason, Message};

#[test]
fn counts_details_and_callbacks_follow_the_clients() {
    let (hub, server) = start_default();
    let (connected, connects) = mpsc::channel();
    let (disconnected, disconnects) = mpsc::channel();
    hub.on_connect(move |client| {
        let _ = connected.send(client.clone());
    });
    hub.on_disconnect(move |client, reason| {
        let _ = disconnected.send((client.clone(), reason.clone()));
    });

    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    let first = connects.recv_timeout(PATIENCE).unwrap();
    let second = connects.recv_timeout(PATIENCE).unwrap();
    assert_ne!(first.id, second.id);
    let a_addr = a.ws.get_ref().local_addr().unwrap();
    assert!([first.peer_addr, second.peer_addr].contains(&a_addr));

    a.subscribe("process:x");
    a.subscribe("logs");
    b.subscribe("logs");
    assert_eq!((hub.client_count(), hub.channel_count()), (2, 2));
    assert_eq!(hub.subscriber_count("logs"), 2);
    assert_eq!(hub.subscriber_count("nobody"), 0);
    let a_id = hub.clients().into_iter().find(|c| c.peer_addr == a_addr).unwrap().id;
    assert_eq!(hub.subscribers("process:x"), [a_id]);
    assert_eq!(hub.client(a_id).unwrap().subscriptions, ["logs", "process:x"]);

    let delivered_before = hub.stats().delivered;
    assert_eq!(hub.send_to_channel("logs", Message::error("x")).unwrap(), 2);
    let stats = hub.stats();
    assert_eq!((stats.clients, stats.channels, stats.subscriptions), (2, 2, 3));
    assert_eq!(stats.delivered, delivered_before + 2);
    assert_eq!(stats.skipped, 0);

    a.ws.close(None).unwrap();
    let (gone, reason) = disconnects.recv_timeout(PATIENCE).unwrap();
    assert_eq!(gone.id, a_id);
    assert_eq!(gone.subscriptions, ["logs", "process:x"], "the details as they were");
    assert_eq!(reason, DisconnectReason::ClientClosed(1005));
    assert!(wait_until(PATIENCE, || hub.channel_count() == 1));
    assert_eq!(hub.subscribers("logs").len(), 1);

    let b_id = hub.clients()[0].id;
    assert!(hub.disconnect(b_id));
    assert_eq!(b.expect_close(), 1000);
    let (_, reason) = disconnects.recv_timeout(PATIENCE).unwrap();
    assert_eq!(reason, DisconnectReason::ClosedByServer);
    assert!(!hub.disconnect(b_id));
    assert!(wait_until(PATIENCE, || hub.client_count() == 0));
    hub.shutdown();
}

#[test]
fn a_panicking_callback_does_not_hurt_the_connection() {
    let (hub, server) = start_default();
    hub.on_connect(|_| panic!("on purpose"));
    let mut client = Client::connect(&server);
    client.subscribe("fine");
    hub.send_to_channel("fine", Message::error("still here")).unwrap();
    assert_eq!(client.recv_json()["data"], "still here");
    hub.shutdown();
}
