//! The upgrade policy: which request heads become WebSocket connections and which status
//! every other one gets (RFC 6455 section 4.2). Pure functions, run on connection threads.

use crate::http::{HttpRequest, HttpResponse};

/// The outcome of looking at a request head.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A valid upgrade on the WebSocket path; holds the `Sec-WebSocket-Accept` value.
    Upgrade(String),
    /// Not a WebSocket upgrade at all: a plain HTTP request.
    Plain,
    /// An upgrade attempt that is refused with this response.
    Refuse(HttpResponse),
}

/// Decides what to do with `request` when WebSockets are served on `path`.
pub(crate) fn judge(request: &HttpRequest, path: &str) -> Verdict {
    if !request.header_has_token("upgrade", "websocket") {
        return Verdict::Plain;
    }
    if request.path() != path {
        return Verdict::Refuse(HttpResponse::text(
            404,
            format!("no WebSocket endpoint here; try {path}\n"),
        ));
    }
    match check_upgrade(request) {
        Ok(accept) => Verdict::Upgrade(accept),
        Err(response) => Verdict::Refuse(response),
    }
}

/// Applies the client-handshake rules of section 4.2.1, in the order given there.
fn check_upgrade(request: &HttpRequest) -> Result<String, HttpResponse> {
    // 1. A GET request of HTTP/1.1 or later.
    if request.method() != "GET" {
        let response = HttpResponse::text(405, "a WebSocket upgrade must use GET\n");
        return Err(response.with_header("Allow", "GET"));
    }
    if !request.is_http11() {
        return Err(HttpResponse::text(400, "a WebSocket upgrade needs HTTP/1.1\n"));
    }
    // 2. A Host header.
    if request.header("host").is_none_or(str::is_empty) {
        return Err(HttpResponse::text(400, "the upgrade request has no Host header\n"));
    }
    // 4. A Connection header holding the `Upgrade` token.
    if !request.header_has_token("connection", "upgrade") {
        return Err(HttpResponse::text(400, "the Connection header must include Upgrade\n"));
    }
    // 6. Version 13; section 4.4 says to answer another with the versions we speak.
    if request.header("sec-websocket-version").map(str::trim) != Some("13") {
        let response = HttpResponse::text(426, "only WebSocket version 13 is supported\n");
        return Err(response.with_header("Sec-WebSocket-Version", "13"));
    }
    // 5. A key that is 16 bytes in base64.
    match request.header("sec-websocket-key").map(str::trim) {
        Some(key) if is_valid_key(key) => {
            Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
        }
        _ => Err(HttpResponse::text(400, "Sec-WebSocket-Key must be 16 bytes in base64\n")),
    }
}

/// Whether `key` is the base64 form of exactly 16 bytes: 22 characters and `==`.
fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    // The last character before the padding holds 2 data bits and 4 zero bits.
    bytes.len() == 24
        && bytes[..22].iter().all(is_b64)
        && &bytes[22..] == b"=="
        && matches!(bytes[21], b'A' | b'Q' | b'g' | b'w')
}

/// The `101 Switching Protocols` answer to an accepted upgrade (section 4.2.2).
pub(crate) fn switching_protocols(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> HttpRequest {
        let head = format!("{text}\r\n\r\n").replace('\n', "\r\n").replace("\r\r", "\r");
        crate::http::parse_head_for_tests(head.as_bytes())
    }

    const GOOD: &str = "GET /ws HTTP/1.1\nHost: 127.0.0.1:1\nUpgrade: websocket\n\
                        Connection: Upgrade\nSec-WebSocket-Version: 13\n\
                        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

    fn status(verdict: Verdict) -> u16 {
        match verdict {
            Verdict::Refuse(response) => response.status,
            Verdict::Upgrade(_) => 101,
            Verdict::Plain => 0,
        }
    }

    #[test]
    fn the_rfc_sample_key_is_accepted() {
        match judge(&request(GOOD), "/ws") {
            // The example of RFC 6455 section 1.3.
            Verdict::Upgrade(accept) => assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_broken_rule_gets_its_status() {
        assert_eq!(status(judge(&request(GOOD), "/other")), 404);
        assert_eq!(status(judge(&request(&GOOD.replace("GET", "POST")), "/ws")), 405);
        assert_eq!(status(judge(&request(&GOOD.replace("Version: 13", "Version: 8")), "/ws")), 426);
        let no_key = GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "short");
        assert_eq!(status(judge(&request(&no_key), "/ws")), 400);
        let no_connection = GOOD.replace("Connection: Upgrade", "Connection: close");
        assert_eq!(status(judge(&request(&no_connection), "/ws")), 400);
        assert_eq!(status(judge(&request("GET / HTTP/1.1\nHost: a"), "/ws")), 0);
    }

    #[test]
    fn keys_must_be_sixteen_bytes() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25j*Q=="));
    }
}
