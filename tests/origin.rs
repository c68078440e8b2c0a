//! The origin policy on live upgrades: by default a page may connect only to its own
//! host and port and programs without `Origin` may connect; an allow-list, strict mode
//! and a custom check replace that; refusals get `403`, a panicking check refuses, and
//! a canary keeps receiving throughout.

mod support;

use support::access::{connect_as, refusal};
use support::{Client, canary};
use wshub::OriginPolicy;

#[test]
fn origins_are_allowed_and_refused_by_the_policy() {
    canary::quiet_panics("on purpose");
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        let port = server.local_addr().port();
        let own = format!("http://127.0.0.1:{port}");
        let forbidden = |origin: &str| {
            let response = refusal(&server, "/ws", &[("Origin", origin)]);
            assert_eq!(response.status, 403, "{origin}: {response:?}");
        };

        // Same origin, the default; case and default ports are normalised.
        drop(connect_as(&server, "/ws", &[("Origin", &own)]));
        drop(connect_as(&server, "/ws", &[("Origin", &own.to_uppercase())]));
        drop(connect_as(&server, "/ws", &[]));
        forbidden("https://evil.example");
        forbidden(&format!("http://127.0.0.1:{}", port + 1));
        forbidden(&format!("https://127.0.0.1:{port}.evil.example"));
        forbidden("null");

        let list = ["https://app.example", "http://localhost:5173"];
        hub.set_origin_policy(OriginPolicy::allow_list(list).unwrap());
        drop(connect_as(&server, "/ws", &[("Origin", "https://APP.example:443")]));
        drop(connect_as(&server, "/ws", &[("Origin", "http://localhost:5173")]));
        forbidden(&own);
        forbidden("http://app.example");

        hub.set_origin_policy(OriginPolicy::same_origin().strict(true));
        drop(connect_as(&server, "/ws", &[("Origin", &own)]));
        assert_eq!(refusal(&server, "/ws", &[]).status, 403);

        hub.set_origin_policy(OriginPolicy::custom(|origin, _| match origin {
            "https://boom.example" => panic!("on purpose: a bug in the program's check"),
            _ => origin.ends_with(".example.org"),
        }));
        drop(connect_as(&server, "/ws", &[("Origin", "https://a.example.org")]));
        forbidden("https://a.example.com");
        forbidden("https://boom.example");
    });
    hub.shutdown();
}
