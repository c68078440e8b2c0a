//! Credentials never reach a log line: with every log level on, accepted and refused
//! upgrades by header and by query string leave neither a token nor a query string in
//! the records, and the `Debug` output of a request hides them too.

mod support;

use std::sync::OnceLock;

use parking_lot::Mutex;
use support::access::{connect_as, expect_401};
use wshub::{ApiKeys, HttpResponse, Identity, QueryToken, Rejection};

/// Every record logged in this process, formatted with its target.
static RECORDS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        RECORDS.get_or_init(Default::default).lock().push(line);
    }

    fn flush(&self) {}
}

const HEADER_KEY: &str = "hk-5ecret-a1b2";
const QUERY_TOKEN: &str = "qt-5ecret-c3d4";

#[test]
fn no_token_or_query_string_is_logged() {
    log::set_boxed_logger(Box::new(Capture)).expect("the first logger");
    log::set_max_level(log::LevelFilter::Trace);
    let (hub, server) = support::start(support::canary::config());
    let mut keys = ApiKeys::new();
    keys.insert(HEADER_KEY, "alice").unwrap();
    hub.set_authenticator(keys);
    hub.set_http_handler(|request| HttpResponse::text(200, format!("{request:?}")));

    let bearer = format!("Bearer {HEADER_KEY}");
    let mut alice = connect_as(&server, "/ws?session=5ecret-q", &[("Authorization", &bearer)]);
    alice.subscribe("news");
    drop(alice);
    let wrong = format!("Bearer {HEADER_KEY}x");
    expect_401(
        &server,
        "/ws?session=5ecret-q",
        &[("Authorization", &wrong)],
        Some("invalid_token"),
    );

    hub.set_authenticator(QueryToken::new(|token| match token {
        QUERY_TOKEN => Ok(Identity::new("bob")),
        _ => Err(Rejection::invalid("unknown token")),
    }));
    drop(connect_as(&server, &format!("/ws?token={QUERY_TOKEN}"), &[]));
    expect_401(&server, &format!("/ws?token={QUERY_TOKEN}x"), &[], Some("invalid_token"));
    let plain =
        format!("GET /status?token={QUERY_TOKEN} HTTP/1.1\r\nAuthorization: {bearer}\r\n\r\n");
    let echoed = support::raw::exchange(&server, plain.as_bytes()).body;
    hub.shutdown();

    let records = RECORDS.get_or_init(Default::default).lock();
    assert!(records.iter().any(|r| r.contains("refused")), "nothing was captured: {records:?}");
    for record in records.iter() {
        for secret in ["5ecret", "token=", "session="] {
            assert!(!record.contains(secret), "a log line holds {secret:?}: {record}");
        }
    }
    assert!(!echoed.contains("5ecret") && echoed.contains("<redacted>"), "{echoed}");
}
