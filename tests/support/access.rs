//! Helpers for the access-control tests: upgrades with credentials, and the checks of a
//! refusal's status and challenge.

use wshub::Server;

use super::Client;
use super::raw::{self, Response};

/// Upgrades with `headers` on `target` and expects a client.
pub fn connect_as(server: &Server, target: &str, headers: &[(&str, &str)]) -> Client {
    match raw::try_connect(server, target, headers) {
        Ok(client) => client,
        Err(response) => panic!("upgrade of {target} refused: {response:?}"),
    }
}

/// Upgrades with `headers` on `target` and expects `401` with a Bearer challenge whose
/// `error` attribute is `error` (none for missing credentials).
pub fn expect_401(server: &Server, target: &str, headers: &[(&str, &str)], error: Option<&str>) {
    let response = refusal(server, target, headers);
    assert_eq!(response.status, 401, "{target} {headers:?}: {response:?}");
    let challenge = response.header("WWW-Authenticate").expect("a challenge");
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    match error {
        Some(error) => assert!(challenge.ends_with(&format!("error=\"{error}\"")), "{challenge}"),
        None => assert!(!challenge.contains("error="), "{challenge}"),
    }
}

/// Upgrades with `headers` on `target` and returns the response that refused it.
pub fn refusal(server: &Server, target: &str, headers: &[(&str, &str)]) -> Response {
    match raw::try_upgrade(server, target, headers) {
        Ok(_) => panic!("upgrade of {target} with {headers:?} was accepted"),
        Err(response) => response,
    }
}
