//! Just enough HTTP/1.1 for the upgrade: reading a request head under a total deadline,
//! and writing short responses. Runs on connection threads before the upgrade.

use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// How long one blocking read may wait before the deadline and the stop flag are checked
/// again; keeps shutdown prompt while a client trickles its request.
const READ_SLICE: Duration = Duration::from_millis(200);

/// A request head as the upgrade policy and the program's HTTP handler see it.
///
/// Its `Debug` output leaves out the query string and the values of headers that carry
/// credentials, so logging a request never logs a token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    method: String,
    path: String,
    query: Option<String>,
    minor_version: u8,
    headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// Returns the method, such as `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Returns the path without the query string, such as `/ws`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns the query string without its `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Returns the first value of a header, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Returns every header in the order received, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether a comma-separated header holds `token`, without regard to case.
    pub(crate) fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the request says HTTP/1.1 (or, in principle, later).
    pub(crate) fn is_http11(&self) -> bool {
        self.minor_version >= 1
    }
}

/// Headers whose values are credentials; `Debug` shows them as redacted.
const SECRET_HEADERS: [&str; 4] =
    ["authorization", "proxy-authorization", "cookie", "sec-websocket-protocol"];

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers()
            .map(|(name, value)| {
                let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
                (name, if secret { "<redacted>" } else { value })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query.as_ref().map(|_| "<redacted>"))
            .field("headers", &headers)
            .finish()
    }
}

/// A short HTTP response: a status, a content type and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, such as 200 or 404.
    pub status: u16,
    /// The `Content-Type` header. Default: `text/plain; charset=utf-8`.
    pub content_type: String,
    /// Extra headers, written after the standard ones.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Returns a plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            headers: Vec::new(),
            body: body.into().into_bytes(),
        }
    }

    /// Returns a response with the given content type.
    pub fn with_type(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            content_type: content_type.to_owned(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Returns the response with one more header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Serialises the response; the connection is always closed after it.
    pub(crate) fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

/// Why no request head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The head is not valid HTTP/1.x; answered with 400.
    Malformed(String),
    /// The head grew past the byte limit; answered with 431.
    TooLarge,
    /// The head has more header fields than allowed; answered with 431.
    TooManyHeaders,
    /// The deadline passed before the head was complete; answered with 408.
    Timeout,
    /// The peer closed or the socket failed, or the hub is stopping: nothing to answer.
    Gone,
}

/// Limits that apply while a head is read.
pub(crate) struct HeadLimits {
    pub(crate) max_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) deadline: Instant,
}

/// Reads one request head; returns it with any bytes that followed it.
pub(crate) fn read_head(
    mut stream: &TcpStream,
    limits: &HeadLimits,
    stopping: impl Fn() -> bool,
) -> Result<(HttpRequest, Vec<u8>), HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let now = Instant::now();
        if now >= limits.deadline {
            return Err(HeadError::Timeout);
        }
        if stopping() {
            return Err(HeadError::Gone);
        }
        let slice = (limits.deadline - now).min(READ_SLICE);
        stream.set_read_timeout(Some(slice)).map_err(|_| HeadError::Gone)?;
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Gone),
            Ok(n) => n,
            Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(HeadError::Gone),
        };
        let searched_from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find_head_end(&buffer[searched_from..]) {
            let end = searched_from + end;
            if end > limits.max_bytes {
                return Err(HeadError::TooLarge);
            }
            let request = parse_head(&buffer[..end], limits.max_headers)?;
            return Ok((request, buffer[end..].to_vec()));
        }
        if buffer.len() > limits.max_bytes {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Returns the offset just past the blank line that ends a head.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4)
}

fn parse_head(bytes: &[u8], max_headers: usize) -> Result<HttpRequest, HeadError> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed("incomplete".into())),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(err) => return Err(HeadError::Malformed(err.to_string())),
    }
    let target = request.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    let headers = request
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    Ok(HttpRequest {
        method: request.method.unwrap_or_default().to_owned(),
        path: path.to_owned(),
        query,
        minor_version: request.version.unwrap_or(0),
        headers,
    })
}

#[cfg(test)]
pub(crate) fn parse_head_for_tests(bytes: &[u8]) -> HttpRequest {
    parse_head(bytes, 64).expect("a well-formed head")
}

/// Writes a response and closes the connection gently, so the client reads the
/// response instead of a reset.
pub(crate) fn respond_and_close(mut stream: &TcpStream, response: &[u8], timeout: Duration) {
    let _ = stream.set_write_timeout(Some(timeout));
    if stream.write_all(response).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Unread request bytes would turn the close into a reset that can destroy the
    // response in flight; read them away for a moment first.
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) if is_timeout(&err) => {}
            Err(_) => break,
        }
    }
}

pub(crate) fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_query_and_headers() {
        let head = b"GET /ws?token=abc HTTP/1.1\r\nHost: a:1\r\nUpgrade: WebSocket\r\n\
                     Connection: keep-alive, Upgrade\r\n\r\n";
        let request = parse_head(head, 16).unwrap();
        assert_eq!(
            (request.method(), request.path(), request.query()),
            ("GET", "/ws", Some("token=abc"))
        );
        assert_eq!(request.header("host"), Some("a:1"));
        assert!(request.header_has_token("connection", "upgrade"));
        assert!(request.is_http11());
    }

    #[test]
    fn debug_output_hides_credentials() {
        let head = b"GET /ws?token=s3cret HTTP/1.1\r\nHost: a\r\n\
                     Authorization: Bearer s3cret\r\nCookie: id=s3cret\r\n\r\n";
        let text = format!("{:?}", parse_head(head, 16).unwrap());
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("\"Host\", \"a\""), "{text}");
    }

    #[test]
    fn too_many_headers_and_garbage_are_told_apart() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for n in 0..5 {
            head.extend_from_slice(format!("X-{n}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert!(matches!(parse_head(&head, 4), Err(HeadError::TooManyHeaders)));
        assert!(matches!(
            parse_head(b"\x01\x02 nonsense\r\n\r\n", 4),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn head_end_is_found_across_chunks() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn responses_carry_length_and_extra_headers() {
        let response = HttpResponse::text(503, "busy").with_header("Retry-After", "1");
        let text = String::from_utf8(response.to_bytes(false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{text}");
        assert!(text.contains("Content-Length: 4\r\n") && text.contains("Retry-After: 1\r\n"));
        assert!(text.ends_with("\r\n\r\nbusy"));
    }
}
