//! A bearer token checked by the program's closure: a valid token connects with its user
//! and claims visible to the connect callback and to `Hub::clients`; a missing,
//! malformed, wrong or empty token gets `401`, while a canary keeps receiving.

mod support;

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::json;
use support::access::{connect_as, expect_401};
use support::canary;
use wshub::{BearerToken, Identity, Rejection};

#[test]
fn bearer_tokens_are_checked_by_the_program() {
    let (hub, server) = support::start(canary::config());
    hub.set_authenticator(BearerToken::new(|token| match token {
        "t-canary" => Ok(Identity::new("canary")),
        "t-alice" => Ok(Identity::new("alice").with_claim("role", "admin").with_claim("org", 7)),
        "t-expired" => Err(Rejection::invalid("expired")),
        _ => Err(Rejection::invalid("unknown token")),
    }));
    let connected = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&connected);
    hub.on_connect(move |client| sink.lock().push((client.user_id.clone(), client.claims.clone())));
    let canary_client = connect_as(&server, "/ws", &[("Authorization", "Bearer t-canary")]);
    canary::watch(&hub, canary_client, || {
        expect_401(&server, "/ws", &[], None);
        expect_401(&server, "/ws", &[("Authorization", "Token t-alice")], Some("invalid_request"));
        expect_401(&server, "/ws", &[("Authorization", "Bearer ")], Some("invalid_request"));
        expect_401(&server, "/ws", &[("Authorization", "Bearer t-mallory")], Some("invalid_token"));
        expect_401(&server, "/ws", &[("Authorization", "Bearer t-expired")], Some("invalid_token"));

        let alice = connect_as(&server, "/ws", &[("Authorization", "Bearer t-alice")]);
        let seen = |user: &str| connected.lock().iter().any(|(id, _)| id.as_deref() == Some(user));
        assert!(support::wait_until(support::PATIENCE, || seen("alice")));
        let clients = hub.clients();
        let info = clients.iter().find(|c| c.user_id.as_deref() == Some("alice")).unwrap();
        assert_eq!(
            serde_json::Value::Object(info.claims.clone()),
            json!({"role": "admin", "org": 7})
        );
        drop(alice);
    });
    hub.shutdown();
}
