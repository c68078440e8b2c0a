//! The origin policy: which web pages may open a WebSocket to the hub. Pure checks, run
//! on connection threads before authentication.
//!
//! Browsers send the page's origin with every upgrade and let any page connect to any
//! host, so the server must look (RFC 6455 sections 4.2.1 and 10.2). Programs that are
//! not browsers usually send no `Origin` at all.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::http::HttpRequest;

type CustomCheck = Arc<dyn Fn(&str, &HttpRequest) -> bool + Send + Sync>;

/// Which `Origin` headers an upgrade may carry; the others are answered `403`.
///
/// The default is [`OriginPolicy::same_origin`], not strict: a browser page must come
/// from the host and port it connects to, and a request without `Origin` (a program
/// that is not a browser) is let through.
///
/// ```
/// use wshub::OriginPolicy;
///
/// let policy = OriginPolicy::allow_list(["https://app.example.com", "http://localhost:5173"])?
///     .strict(true);
/// # let hub = wshub::Hub::new(wshub::HubConfig::default())?;
/// hub.set_origin_policy(policy);
/// # Ok::<(), wshub::Error>(())
/// ```
#[derive(Clone)]
pub struct OriginPolicy {
    rule: Rule,
    strict: bool,
}

#[derive(Clone)]
enum Rule {
    SameOrigin,
    AllowList(Vec<Origin>),
    Custom(CustomCheck),
    Any,
}

/// A web origin with its scheme and host in lowercase and its port made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl OriginPolicy {
    /// Returns the policy that lets a page connect only to its own host and port.
    ///
    /// The `Origin`'s host and port must equal the `Host` header's, without regard to
    /// case. A port left out is the default of the origin's scheme (80 for `http` and
    /// `ws`, 443 for `https` and `wss`), on both sides: `Host: example.com` matches
    /// `https://example.com` and `http://example.com:80`, and `Host: example.com:8080`
    /// matches only origins on port 8080. `Origin: null` (sandboxed frames, files) never
    /// matches.
    pub fn same_origin() -> OriginPolicy {
        OriginPolicy { rule: Rule::SameOrigin, strict: false }
    }

    /// Returns the policy that lets through exactly the listed origins.
    ///
    /// Each entry is `scheme://host[:port]` with a scheme of `http`, `https`, `ws` or
    /// `wss`; case and default ports are normalised as for [`OriginPolicy::same_origin`],
    /// so `https://App.example.com:443` and `https://app.example.com` are one entry.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first entry that is not such an origin.
    pub fn allow_list<I, S>(origins: I) -> Result<OriginPolicy>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        for entry in origins {
            let entry = entry.as_ref();
            let origin =
                parse_origin(entry.strip_suffix('/').unwrap_or(entry)).ok_or_else(|| {
                    Error::Config(format!("{entry:?} is not an origin such as https://example.com"))
                })?;
            list.push(origin);
        }
        Ok(OriginPolicy { rule: Rule::AllowList(list), strict: false })
    }

    /// Returns the policy that asks `check` about each `Origin` value, as sent.
    ///
    /// `check` runs on the connection's thread; a panic in it refuses the request.
    pub fn custom(
        check: impl Fn(&str, &HttpRequest) -> bool + Send + Sync + 'static,
    ) -> OriginPolicy {
        OriginPolicy { rule: Rule::Custom(Arc::new(check)), strict: false }
    }

    /// Returns the policy that lets every origin through. Any page on the web can then
    /// connect with the browser's cookies: only fit for development, or behind an
    /// [`Authenticator`](crate::Authenticator) that uses no cookie.
    pub fn any() -> OriginPolicy {
        OriginPolicy { rule: Rule::Any, strict: false }
    }

    /// Returns the policy refusing requests without an `Origin` header too, when
    /// `strict`; only browsers can connect then. Default: not strict.
    pub fn strict(mut self, strict: bool) -> OriginPolicy {
        self.strict = strict;
        self
    }

    /// Returns whether requests without `Origin` are refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Checks the request's `Origin`; `Err` holds why it is refused.
    pub(crate) fn check(&self, request: &HttpRequest) -> std::result::Result<(), String> {
        let mut values = request.headers().filter(|(n, _)| n.eq_ignore_ascii_case("origin"));
        let origin = match (values.next(), values.next()) {
            (None, _) if self.strict => return Err("the request has no Origin header".into()),
            (None, _) => return Ok(()),
            (Some(_), Some(_)) => return Err("the request has more than one Origin".into()),
            (Some((_, value)), None) => value.trim(),
        };
        let allowed = match &self.rule {
            Rule::Any => true,
            Rule::SameOrigin => is_same_origin(origin, request.header("host").unwrap_or("")),
            Rule::AllowList(list) => parse_origin(origin).is_some_and(|o| list.contains(&o)),
            Rule::Custom(check) => catch_unwind(AssertUnwindSafe(|| check(origin, request)))
                .unwrap_or_else(|_| {
                    log::warn!("the origin check panicked; the request is refused");
                    false
                }),
        };
        if allowed { Ok(()) } else { Err(format!("origin {} is not allowed", shown(origin))) }
    }
}

impl Default for OriginPolicy {
    fn default() -> Self {
        OriginPolicy::same_origin()
    }
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match &self.rule {
            Rule::SameOrigin => "same origin".to_owned(),
            Rule::AllowList(list) => format!("{} allowed origins", list.len()),
            Rule::Custom(_) => "custom check".to_owned(),
            Rule::Any => "any origin".to_owned(),
        };
        f.debug_struct("OriginPolicy").field("rule", &rule).field("strict", &self.strict).finish()
    }
}

/// Whether `origin` names the host and port that `host` (the `Host` header) does.
fn is_same_origin(origin: &str, host: &str) -> bool {
    let Some(origin) = parse_origin(origin) else {
        return false;
    };
    match parse_authority(host) {
        Some((name, port)) => {
            name == origin.host && port.unwrap_or(default_port(&origin.scheme)) == origin.port
        }
        None => false,
    }
}

/// Parses `scheme://host[:port]` (RFC 6454 section 6.1), normalising case and port.
fn parse_origin(text: &str) -> Option<Origin> {
    let (scheme, authority) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "ws" | "wss") {
        return None;
    }
    let (host, port) = parse_authority(authority)?;
    let port = port.unwrap_or(default_port(&scheme));
    Some(Origin { scheme, host, port })
}

/// Parses `host[:port]`, with IPv6 hosts in brackets; the host comes back in lowercase.
fn parse_authority(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            let is_v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
            if inside.is_empty() || !inside.bytes().all(is_v6) {
                return None;
            }
            let port = if after.is_empty() { None } else { Some(after.strip_prefix(':')?) };
            (&text[..inside.len() + 2], port)
        }
        None => {
            let (host, port) = match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            };
            let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
            if host.is_empty() || !host.bytes().all(is_name) {
                return None;
            }
            (host, port)
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

fn default_port(scheme: &str) -> u16 {
    match scheme {
        "https" | "wss" => 443,
        _ => 80,
    }
}

/// Returns an origin fit for a log line or a response: escaped and cut short.
fn shown(origin: &str) -> String {
    let cut: String = origin.chars().take(100).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, origin: Option<&str>) -> HttpRequest {
        let mut head = format!("GET /ws HTTP/1.1\r\nHost: {host}\r\n");
        if let Some(origin) = origin {
            head.push_str(&format!("Origin: {origin}\r\n"));
        }
        head.push_str("\r\n");
        crate::http::parse_head_for_tests(head.as_bytes())
    }

    fn allows(policy: &OriginPolicy, host: &str, origin: Option<&str>) -> bool {
        policy.check(&request(host, origin)).is_ok()
    }

    #[test]
    fn same_origin_normalises_case_and_default_ports() {
        let policy = OriginPolicy::default();
        assert!(allows(&policy, "example.com", Some("https://example.com")));
        assert!(allows(&policy, "Example.COM", Some("HTTPS://example.com:443")));
        assert!(allows(&policy, "example.com:80", Some("http://example.com")));
        assert!(allows(&policy, "127.0.0.1:8080", Some("http://127.0.0.1:8080")));
        assert!(allows(&policy, "[::1]:8080", Some("http://[::1]:8080")));
        assert!(!allows(&policy, "example.com:80", Some("https://example.com")));
        assert!(!allows(&policy, "127.0.0.1:8080", Some("http://127.0.0.1:9090")));
        assert!(!allows(&policy, "example.com", Some("https://evil.example")));
        assert!(!allows(&policy, "example.com", Some("https://example.com.evil")));
        assert!(!allows(&policy, "example.com", Some("null")));
        assert!(!allows(&policy, "example.com", Some("file://example.com")));
    }

    #[test]
    fn missing_origin_passes_unless_strict() {
        assert!(allows(&OriginPolicy::default(), "a", None));
        let strict = OriginPolicy::default().strict(true);
        assert!(strict.is_strict());
        let why = strict.check(&request("a", None)).unwrap_err();
        assert!(why.contains("no Origin"), "{why}");
    }

    #[test]
    fn allow_list_matches_normalised_entries_only() {
        let policy =
            OriginPolicy::allow_list(["https://App.example.com:443/", "http://x:3000"]).unwrap();
        assert!(allows(&policy, "hub", Some("https://app.example.com")));
        assert!(allows(&policy, "hub", Some("http://X:3000")));
        assert!(!allows(&policy, "hub", Some("http://app.example.com")));
        assert!(!allows(&policy, "hub", Some("http://x:3001")));
        for bad in ["example.com", "ftp://a", "https://", "https://a:b", "https://a:99999"] {
            let err = OriginPolicy::allow_list([bad]).unwrap_err().to_string();
            assert!(err.contains("is not an origin"), "{bad}: {err}");
        }
    }

    #[test]
    fn custom_checks_see_the_value_and_refuse_on_panic() {
        let policy = OriginPolicy::custom(|origin, _| origin.ends_with(".example.com"));
        assert!(allows(&policy, "hub", Some("https://a.example.com")));
        assert!(!allows(&policy, "hub", Some("https://a.example.org")));
        let panicking = OriginPolicy::custom(|_, _| panic!("on purpose"));
        assert!(!allows(&panicking, "hub", Some("https://a.example.com")));
    }

    #[test]
    fn two_origins_and_odd_values_are_refused() {
        let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\nOrigin: http://a\r\n\r\n";
        let request = crate::http::parse_head_for_tests(head);
        assert!(OriginPolicy::any().check(&request).is_err());
        assert!(allows(&OriginPolicy::any(), "a", Some("null")));
        let why = OriginPolicy::default().check(&super::tests::request("a", Some("not one")));
        assert!(why.unwrap_err().contains("is not allowed"));
    }
}
