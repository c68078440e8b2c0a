//! Malformed JSON, an unknown type and a subscribe without a channel each get an `error`
//! message, and the connection keeps working afterwards.

mod support;

use serde_json::json;
use support::{Client, start_default};

fn expect_error(client: &mut Client, mentions: &str) {
    let seen = client.recv_json();
    assert_eq!(seen["type"], "error", "{seen}");
    let text = seen["data"].as_str().expect("a text");
    assert!(text.contains(mentions), "{text:?} should mention {mentions:?}");
}

#[test]
fn each_bad_request_is_answered_and_the_connection_survives() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);

    client.send_text("{not json");
    expect_error(&mut client, "malformed");
    client.send_text(r#"{"type":"launch","data":"x"}"#);
    expect_error(&mut client, "unknown message type \"launch\"");
    client.send_json(&json!({"type": "subscribe"}));
    expect_error(&mut client, "needs a channel");
    client.send_json(&json!({"type": "subscribe", "data": 42}));
    expect_error(&mut client, "needs a channel");
    client.send_json(&json!({"type": "subscribe", "data": "bad name!"}));
    expect_error(&mut client, "not allowed");
    client.send_text(r#"{"data":"x"}"#);
    expect_error(&mut client, "type");

    client.subscribe("still-works");
    hub.send_to_channel("still-works", wshub::Message::error("hello")).unwrap();
    assert_eq!(client.recv_json()["data"], "hello");
    assert_eq!(hub.client_count(), 1);
    hub.shutdown();
}

#[test]
fn the_channel_may_be_given_in_either_field() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.send_json(&json!({"type": "subscribe", "channel": "by-channel"}));
    assert_eq!(client.recv_json()["type"], "subscribed");
    client.send_json(&json!({"type": "unsubscribe", "channel": "never-joined"}));
    let seen = client.recv_json();
    assert_eq!(
        (seen["type"].as_str(), seen["channel"].as_str()),
        (Some("unsubscribed"), Some("never-joined"))
    );
    assert_eq!(hub.subscribers("by-channel").len(), 1);
    hub.shutdown();
}

#[test]
fn deeply_nested_data_does_no_harm() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    client.send_text(&format!(r#"{{"type":"subscribe","data":{nested}}}"#));
    expect_error(&mut client, "needs a channel");
    client.send_text(&format!(r#"{{"type":"ping","data":{nested}}}"#));
    assert_eq!(client.recv_json()["type"], "pong");
    hub.shutdown();
}
