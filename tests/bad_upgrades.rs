//! Each kind of bad upgrade request is answered with its HTTP status instead of a dropped
//! socket, while a canary keeps receiving and every connection thread ends.

mod support;

use support::raw::{self, KEY};
use support::{Client, canary};
use wshub::{HttpResponse, Server};

/// Replaces `field`'s line of a good upgrade head with `line` (or drops it when empty).
fn upgrade_with(server: &Server, field: &str, line: &str) -> String {
    let good = raw::upgrade_head(server.local_addr(), "/ws", &[]);
    let mut lines: Vec<String> = Vec::new();
    for original in good.split("\r\n") {
        if original.starts_with(field) {
            if !line.is_empty() {
                lines.push(line.to_owned());
            }
        } else {
            lines.push(original.to_owned());
        }
    }
    lines.join("\r\n")
}

#[test]
fn bad_upgrades_get_their_status() {
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        let addr = server.local_addr();

        let plain = format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let mut many_fields = format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n");
        for n in 0..200 {
            many_fields.push_str(&format!("X-Field-{n}: {n}\r\n"));
        }
        many_fields.push_str("\r\n");
        let huge_field = raw::upgrade_head(addr, "/ws", &[("X-Big", &"b".repeat(9 * 1024))]);
        let cases: Vec<(&str, String, u16)> = vec![
            ("no upgrade headers", plain, 400),
            ("POST", raw::upgrade_head(addr, "/ws", &[]).replacen("GET", "POST", 1), 405),
            (
                "version 8",
                upgrade_with(&server, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
                426,
            ),
            ("unknown path", raw::upgrade_head(addr, "/elsewhere", &[]), 404),
            (
                "short key",
                upgrade_with(&server, "Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ="),
                400,
            ),
            ("no key", upgrade_with(&server, "Sec-WebSocket-Key", ""), 400),
            ("no Host", upgrade_with(&server, "Host", ""), 400),
            (
                "HTTP/1.0",
                raw::upgrade_head(addr, "/ws", &[]).replacen("HTTP/1.1", "HTTP/1.0", 1),
                400,
            ),
            ("200 header fields", many_fields, 431),
            ("a 9 KiB field", huge_field, 431),
            ("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03\r\n\r\n".to_owned(), 400),
        ];
        for (name, request, status) in cases {
            let response = raw::exchange(&server, request.as_bytes());
            assert_eq!(response.status, status, "{name}: {response:?}");
            assert_eq!(response.header("Connection"), Some("close"), "{name}");
            if status == 405 {
                assert_eq!(response.header("Allow"), Some("GET"), "{name}");
            }
            if status == 426 {
                assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"), "{name}");
            }
        }
    });
    hub.shutdown();
}

#[test]
fn plain_requests_go_to_the_program_handler() {
    let (hub, server) = support::start(canary::config());
    hub.set_http_handler(|request| match request.path() {
        "/health" => HttpResponse::text(200, "ok\n"),
        _ => HttpResponse::text(404, "nothing here\n"),
    });
    canary::watch(&hub, Client::connect(&server), || {
        let health = raw::exchange(&server, b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
        let other = raw::exchange(&server, b"GET /ws HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(other.status, 404);
        // An upgrade attempt never reaches the handler, even a broken one.
        let broken = raw::upgrade_head(server.local_addr(), "/ws", &[]).replace(KEY, "x");
        assert_eq!(raw::exchange(&server, broken.as_bytes()).status, 400);
    });
    hub.shutdown();
}
