//! A `?token=` query parameter for browsers: a valid, percent-encoded token connects;
//! a missing, malformed, wrong or empty one gets `401`, and a header token does not
//! stand in for it, while a canary keeps receiving.

mod support;

use support::access::{connect_as, expect_401};
use support::canary;
use wshub::{Identity, QueryToken, Rejection};

#[test]
fn query_tokens_are_decoded_and_checked() {
    let (hub, server) = support::start(canary::config());
    hub.set_authenticator(QueryToken::new(|token| match token {
        "q-canary" => Ok(Identity::new("canary")),
        "q/alice+1=" => Ok(Identity::new("alice")),
        _ => Err(Rejection::invalid("unknown token")),
    }));
    canary::watch(&hub, connect_as(&server, "/ws?token=q-canary", &[]), || {
        expect_401(&server, "/ws", &[], None);
        expect_401(&server, "/ws?other=1", &[("Authorization", "Bearer q-canary")], None);
        expect_401(&server, "/ws?token=%zz", &[], Some("invalid_request"));
        expect_401(&server, "/ws?token=", &[], Some("invalid_request"));
        expect_401(&server, "/ws?token=q-mallory", &[], Some("invalid_token"));

        let mut alice = connect_as(&server, "/ws?v=2&token=q%2Falice%2B1%3D", &[]);
        alice.subscribe("news");
        let client = hub.client(hub.subscribers("news")[0]).unwrap();
        assert_eq!(client.user_id.as_deref(), Some("alice"));
        drop(alice);
    });
    hub.shutdown();
}
