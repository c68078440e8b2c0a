//! API keys on the upgrade: the right key connects and names its user on `ClientInfo`;
//! a missing, malformed, wrong or empty key gets `401` with a Bearer challenge and
//! reaches the failure callback, while a canary keeps receiving and nothing leaks.

mod support;

use std::sync::Arc;

use parking_lot::Mutex;
use support::access::{connect_as, expect_401};
use support::canary;
use wshub::{ApiKeys, RejectionKind};

#[test]
fn api_keys_accept_the_right_key_and_refuse_the_rest() {
    let (hub, server) = support::start(canary::config());
    let mut keys = ApiKeys::new();
    keys.insert("key-canary", "canary").unwrap();
    keys.insert("key-alice-7f3a", "alice").unwrap();
    hub.set_authenticator(keys);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&failures);
    hub.on_auth_failure(move |_, rejection| sink.lock().push(rejection.kind()));
    let canary_client = connect_as(&server, "/ws", &[("Authorization", "Bearer key-canary")]);
    canary::watch(&hub, canary_client, || {
        let refused = |value: &str, error| {
            expect_401(&server, "/ws", &[("Authorization", value)], Some(error));
        };
        expect_401(&server, "/ws", &[], None);
        refused("Basic YWxpY2U6eA==", "invalid_request");
        refused("Bearer", "invalid_request");
        refused("", "invalid_request");
        refused("Bearer key-alice-7f3b", "invalid_token");
        refused("Bearer key-alice", "invalid_token");
        // The key of another scheme's query parameter does not count.
        expect_401(&server, "/ws?token=key-alice-7f3a", &[], None);
        use RejectionKind::{Invalid, Malformed, Missing};
        let expected = [Missing, Malformed, Malformed, Malformed, Invalid, Invalid, Missing];
        assert_eq!(*failures.lock(), expected);

        let mut alice = connect_as(&server, "/ws", &[("Authorization", "bearer key-alice-7f3a")]);
        alice.subscribe("news");
        let client = hub.client(hub.subscribers("news")[0]).expect("alice is connected");
        assert_eq!(client.user_id.as_deref(), Some("alice"));
        assert!(client.claims.is_empty());
        drop(alice);
    });
    hub.shutdown();
}
