//! The channel authoriser decides each subscribe from the client's identity and the
//! channel: a refused subscribe gets an `error` message, the connection stays open, and
//! the client never receives a message of that channel; a panicking authoriser refuses.
//! A canary keeps receiving throughout.

mod support;

use std::time::Duration;

use support::access::connect_as;
use support::canary;
use wshub::{BearerToken, Identity, Message, Rejection};

#[test]
fn refused_subscribes_get_an_error_and_never_any_data() {
    canary::quiet_panics("on purpose");
    let (hub, server) = support::start(canary::config());
    hub.set_authenticator(BearerToken::new(|token| match token.strip_prefix("t-") {
        Some(user) => Ok(Identity::new(user)),
        None => Err(Rejection::invalid("unknown token")),
    }));
    hub.set_authoriser(|client, channel| {
        let user = client.user_id.as_deref().unwrap_or_default();
        match channel.strip_prefix("user:") {
            _ if channel == "canary" => Ok(()),
            Some("boom") => panic!("on purpose: a bug in the program's check"),
            Some(owner) if owner == user => Ok(()),
            Some(owner) => Err(format!("{user} may not read {owner}'s channel")),
            None => Err("only user channels here".to_owned()),
        }
    });
    let canary_client = connect_as(&server, "/ws", &[("Authorization", "Bearer t-canary")]);
    canary::watch(&hub, canary_client, || {
        let mut alice = connect_as(&server, "/ws", &[("Authorization", "Bearer t-alice")]);
        for (channel, why) in [
            ("user:bob", "alice may not read bob's channel"),
            ("news", "only user channels here"),
            ("user:boom", "the authoriser failed"),
        ] {
            alice.send_json(&serde_json::json!({"type": "subscribe", "data": channel}));
            let error = alice.recv_json();
            assert_eq!(error["type"], "error", "{error}");
            assert_eq!(error["data"], format!("cannot subscribe to {channel}: {why}"), "{error}");
            assert_eq!(hub.subscriber_count(channel), 0);
        }
        alice.subscribe("user:alice");
        let mut bob = connect_as(&server, "/ws", &[("Authorization", "Bearer t-bob")]);
        bob.subscribe("user:bob");

        for n in 0..20 {
            hub.send_to_channel("user:bob", Message::event("private", n)).unwrap();
        }
        hub.send_to_channel("user:alice", Message::event("own", 1)).unwrap();
        for n in 0..20 {
            assert_eq!(bob.recv_json()["data"]["data"], n);
        }
        let own = alice.recv_json();
        assert_eq!(own["channel"], "user:alice", "alice got another channel's message: {own}");
        alice.expect_silence(Duration::from_millis(200));
        drop((alice, bob));
    });
    hub.shutdown();
}
