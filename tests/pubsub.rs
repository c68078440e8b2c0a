//! Subscribe, publish and receive over real sockets; unsubscribe stops delivery; clients
//! on different channels only get their own; a broadcast reaches everyone.

mod support;

use std::time::Duration;

use support::{Client, start_default};
use wshub::Message;

#[test]
fn subscribe_publish_receive_then_unsubscribe() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe("process:web-1");
    assert_eq!(hub.subscriber_count("process:web-1"), 1);

    assert_eq!(hub.send_process_output("web-1", "hello").unwrap(), 1);
    let seen = client.recv_json();
    assert_eq!(seen["type"], "process_output");
    assert_eq!(seen["channel"], "process:web-1");
    assert_eq!(seen["processId"], "web-1");
    assert_eq!(seen["data"], "hello");

    client.unsubscribe("process:web-1");
    assert_eq!(hub.send_process_output("web-1", "after").unwrap(), 0);
    client.expect_silence(Duration::from_millis(300));
    hub.shutdown();
}

#[test]
fn two_clients_on_two_channels_get_only_their_own() {
    let (hub, server) = start_default();
    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    a.subscribe("alpha");
    b.subscribe("beta");

    hub.send_to_channel("alpha", Message::error("for a")).unwrap();
    hub.send_to_channel("beta", Message::error("for b")).unwrap();
    assert_eq!(a.recv_json()["data"], "for a");
    assert_eq!(b.recv_json()["data"], "for b");
    a.expect_silence(Duration::from_millis(200));
    b.expect_silence(Duration::from_millis(200));
    hub.shutdown();
}

#[test]
fn broadcast_reaches_every_client() {
    let (hub, server) = start_default();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(&server)).collect();
    clients[0].subscribe("somewhere");
    assert!(support::wait_until(support::PATIENCE, || hub.client_count() == 3));

    assert_eq!(hub.send_event("deploy", serde_json::json!({"version": 7})).unwrap(), 3);
    for client in &mut clients {
        let seen = client.recv_json();
        assert_eq!(seen["type"], "event");
        assert_eq!(seen["data"]["event"], "deploy");
        assert_eq!(seen["data"]["data"]["version"], 7);
        assert!(seen.get("channel").is_none(), "{seen}");
    }
    hub.shutdown();
}
