//! Any closure of a request is an authenticator: here one trusting a header set by a
//! proxy accepts and refuses, and a panicking one refuses with `401` instead of taking
//! the hub down, while a canary keeps receiving.

mod support;

use support::access::{connect_as, expect_401};
use support::canary;
use wshub::{HttpRequest, Identity, Rejection};

#[test]
fn a_closure_decides_and_a_panic_refuses() {
    canary::quiet_panics("on purpose");
    let (hub, server) = support::start(canary::config());
    hub.set_authenticator(|request: &HttpRequest| match request.header("x-forwarded-user") {
        Some("boom") => panic!("on purpose: a bug in the program's check"),
        Some(user) if !user.is_empty() => Ok(Identity::new(user).with_claim("via", "proxy")),
        Some(_) => Err(Rejection::malformed("empty user")),
        None => Err(Rejection::missing("no user")),
    });
    let canary_client = connect_as(&server, "/ws", &[("X-Forwarded-User", "canary")]);
    canary::watch(&hub, canary_client, || {
        expect_401(&server, "/ws", &[], None);
        expect_401(&server, "/ws", &[("X-Forwarded-User", "")], Some("invalid_request"));
        expect_401(&server, "/ws", &[("X-Forwarded-User", "boom")], Some("invalid_token"));
        let mut dana = connect_as(&server, "/ws", &[("X-Forwarded-User", "dana")]);
        dana.subscribe("news");
        let client = hub.client(hub.subscribers("news")[0]).unwrap();
        assert_eq!(
            (client.user_id.as_deref(), &client.claims["via"]),
            (Some("dana"), &"proxy".into())
        );
        drop(dana);
    });
    hub.shutdown();
}
