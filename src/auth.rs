//! Authentication of upgrade requests: the [`Authenticator`] trait, the [`Identity`] it
//! yields and the built-in schemes. Runs on connection threads, before the `101`.
//!
//! Credentials never reach a log line: the built-in schemes put no token into a
//! [`Rejection`] reason, and the hub logs the request path only.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::http::HttpRequest;

/// Who a connection belongs to, as an [`Authenticator`] established it.
///
/// The hub shows it on every [`ClientInfo`](crate::ClientInfo) of the connection: in
/// [`Hub::clients`](crate::Hub::clients), the connect and disconnect callbacks and the
/// channel authoriser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Identity {
    /// The user the credentials belong to.
    pub user_id: String,
    /// Whatever else the authenticator learnt (roles, tenant, expiry); empty for
    /// [`ApiKeys`].
    pub claims: Map<String, Value>,
}

impl Identity {
    /// Returns the identity of `user_id`, with no claims.
    pub fn new(user_id: impl Into<String>) -> Identity {
        Identity { user_id: user_id.into(), claims: Map::new() }
    }

    /// Returns the identity with one more claim, replacing an earlier one of that name.
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Identity {
        self.claims.insert(name.into(), value.into());
        self
    }
}

/// What was wrong with the credentials; it picks the `error` attribute of the
/// `WWW-Authenticate` header of the `401` (RFC 6750 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// The request carries no credentials at all; the header has no `error`.
    Missing,
    /// The credentials cannot be read: another scheme, an empty token, bad encoding;
    /// `error="invalid_request"`.
    Malformed,
    /// The credentials are well formed but not valid: unknown, expired, revoked;
    /// `error="invalid_token"`.
    Invalid,
}

/// Why an [`Authenticator`] refused a request; the client gets `401`.
///
/// The reason is for the program (the failure callback set with
/// [`Hub::on_auth_failure`](crate::Hub::on_auth_failure) and debug logs), never for the
/// client, whose answer names the kind only. Keep credentials out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    reason: String,
}

impl Rejection {
    /// Returns a rejection of a request that carries no credentials.
    pub fn missing(reason: impl Into<String>) -> Rejection {
        Rejection { kind: RejectionKind::Missing, reason: reason.into() }
    }

    /// Returns a rejection of credentials that cannot be read.
    pub fn malformed(reason: impl Into<String>) -> Rejection {
        Rejection { kind: RejectionKind::Malformed, reason: reason.into() }
    }

    /// Returns a rejection of credentials that are not valid.
    pub fn invalid(reason: impl Into<String>) -> Rejection {
        Rejection { kind: RejectionKind::Invalid, reason: reason.into() }
    }

    /// Returns what was wrong with the credentials.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// Returns the program-facing reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RejectionKind::Missing => "credentials are missing",
            RejectionKind::Malformed => "credentials are malformed",
            RejectionKind::Invalid => "credentials were refused",
        };
        write!(f, "{kind}: {}", self.reason)
    }
}

/// Decides who may open a WebSocket connection, from its upgrade request.
///
/// It sees the path, the query and the headers ([`HttpRequest`]) after the upgrade and
/// origin checks passed, and before the `101` is sent. Built in: [`ApiKeys`],
/// [`BearerToken`], [`QueryToken`]; any closure of the same shape is one too:
///
/// ```
/// use wshub::{HttpRequest, Identity, Rejection};
///
/// let from_proxy = |request: &HttpRequest| match request.header("x-authenticated-user") {
///     Some(user) if !user.is_empty() => Ok(Identity::new(user)),
///     _ => Err(Rejection::missing("the proxy sent no user")),
/// };
/// # let hub = wshub::Hub::new(wshub::HubConfig::default())?;
/// hub.set_authenticator(from_proxy);
/// # Ok::<(), wshub::Error>(())
/// ```
///
/// It runs on the connection's thread once the request head is in, so a slow check
/// delays only its own client; the handshake deadline does not cut it short, so a check
/// that asks another service must bound its own wait. A panic in it refuses the
/// request.
pub trait Authenticator: Send + Sync {
    /// Returns who the request belongs to.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] when the request has no credentials, unreadable ones, or ones that
    /// are not valid; the client is answered `401` with `WWW-Authenticate: Bearer`.
    fn authenticate(&self, request: &HttpRequest) -> Result<Identity, Rejection>;
}

impl<F> Authenticator for F
where
    F: Fn(&HttpRequest) -> Result<Identity, Rejection> + Send + Sync,
{
    fn authenticate(&self, request: &HttpRequest) -> Result<Identity, Rejection> {
        self(request)
    }
}

/// A token check of the program, shared by [`BearerToken`] and [`QueryToken`].
type Validate = Box<dyn Fn(&str) -> Result<Identity, Rejection> + Send + Sync>;

/// A fixed map of API keys to user ids, presented as `Authorization: Bearer <key>`.
///
/// The presented key is compared with every stored key in time that depends on its
/// own length only, so response times tell nothing about the stored keys. `Debug`
/// shows how many keys there are, never a key.
///
/// ```
/// use wshub::ApiKeys;
///
/// let mut keys = ApiKeys::new();
/// keys.insert("k-2f8a9c31d0e4", "build-bot")?;
/// # let hub = wshub::Hub::new(wshub::HubConfig::default())?;
/// hub.set_authenticator(keys);
/// # Ok::<(), wshub::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(Vec<u8>, String)>,
}

impl ApiKeys {
    /// Returns an empty map, which refuses every request.
    pub fn new() -> ApiKeys {
        ApiKeys::default()
    }

    /// Adds `key` for `user_id`, replacing the user of a key already present.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the key is empty or holds a character that cannot travel
    /// in a header token (a space, a control character, anything outside ASCII).
    pub fn insert(&mut self, key: impl Into<String>, user_id: impl Into<String>) -> Result<()> {
        let key = key.into().into_bytes();
        if key.is_empty() || !key.iter().all(|&b| is_token_byte(b)) {
            return Err(Error::Config(
                "an API key must be non-empty printable ASCII without spaces".into(),
            ));
        }
        let user_id = user_id.into();
        match self.keys.iter_mut().find(|(stored, _)| *stored == key) {
            Some(entry) => entry.1 = user_id,
            None => self.keys.push((key, user_id)),
        }
        Ok(())
    }

    /// Returns how many keys the map holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Returns whether the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Returns the user of `presented`, looking at every key whatever matched.
    fn user_of(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for (key, user) in &self.keys {
            if constant_time_eq(key, presented) {
                found = Some(user.as_str());
            }
        }
        found
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys").field("keys", &self.keys.len()).finish()
    }
}

impl Authenticator for ApiKeys {
    fn authenticate(&self, request: &HttpRequest) -> Result<Identity, Rejection> {
        let token = bearer_token(request)?;
        match self.user_of(token.as_bytes()) {
            Some(user) => Ok(Identity::new(user)),
            None => Err(Rejection::invalid("unknown API key")),
        }
    }
}

/// A token from `Authorization: Bearer <token>`, checked by the program's closure (a
/// JWT or session lookup, say).
///
/// A missing header, another scheme, or an empty token is refused before the closure
/// runs. The closure's comparison of secrets is its own: use a constant-time one.
///
/// ```
/// use wshub::{BearerToken, Identity, Rejection};
///
/// let tokens = BearerToken::new(|token| match token {
///     "t-alice" => Ok(Identity::new("alice").with_claim("role", "admin")),
///     _ => Err(Rejection::invalid("unknown token")),
/// });
/// # let hub = wshub::Hub::new(wshub::HubConfig::default())?;
/// hub.set_authenticator(tokens);
/// # Ok::<(), wshub::Error>(())
/// ```
pub struct BearerToken {
    validate: Validate,
}

impl BearerToken {
    /// Returns an authenticator that hands each bearer token to `validate`.
    pub fn new(
        validate: impl Fn(&str) -> Result<Identity, Rejection> + Send + Sync + 'static,
    ) -> BearerToken {
        BearerToken { validate: Box::new(validate) }
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl Authenticator for BearerToken {
    fn authenticate(&self, request: &HttpRequest) -> Result<Identity, Rejection> {
        (self.validate)(bearer_token(request)?)
    }
}

/// A token from the query string, `/ws?token=<token>`, checked by the program's closure.
///
/// Browsers cannot set headers on a WebSocket, so this is how a page passes a token.
/// It is the weaker choice: URLs end up in proxy logs, browser history and `Referer`
/// headers. Prefer short-lived, single-use tickets fetched just before connecting, and
/// the `Authorization` header ([`BearerToken`]) for every client that can send one.
///
/// The value is percent-decoded; a `+` stays a `+`, because tokens hold no spaces.
pub struct QueryToken {
    param: String,
    validate: Validate,
}

impl QueryToken {
    /// Returns an authenticator that hands the `token` query parameter to `validate`.
    pub fn new(
        validate: impl Fn(&str) -> Result<Identity, Rejection> + Send + Sync + 'static,
    ) -> QueryToken {
        QueryToken { param: "token".to_owned(), validate: Box::new(validate) }
    }

    /// Returns the authenticator reading the parameter `name` instead of `token`.
    pub fn with_param(mut self, name: impl Into<String>) -> QueryToken {
        self.param = name.into();
        self
    }

    /// Returns the decoded value of the parameter, refusing missing and unreadable ones.
    fn token(&self, request: &HttpRequest) -> Result<String, Rejection> {
        let mut values = request
            .query()
            .unwrap_or_default()
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .filter(|(name, _)| *name == self.param)
            .map(|(_, value)| value);
        let Some(raw) = values.next() else {
            return Err(Rejection::missing(format!("no `{}` query parameter", self.param)));
        };
        if values.next().is_some() {
            return Err(Rejection::malformed(format!("more than one `{}`", self.param)));
        }
        let token = percent_decode(raw)
            .ok_or_else(|| Rejection::malformed("the token is not valid percent-encoding"))?;
        if token.is_empty() || !token.bytes().all(is_token_byte) {
            return Err(Rejection::malformed("the token is empty or holds odd characters"));
        }
        Ok(token)
    }
}

impl fmt::Debug for QueryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryToken").field("param", &self.param).finish_non_exhaustive()
    }
}

impl Authenticator for QueryToken {
    fn authenticate(&self, request: &HttpRequest) -> Result<Identity, Rejection> {
        (self.validate)(&self.token(request)?)
    }
}

/// Returns the token of the request's one `Authorization: Bearer` header.
fn bearer_token(request: &HttpRequest) -> Result<&str, Rejection> {
    let mut values =
        request.headers().filter(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    let Some((_, value)) = values.next() else {
        return Err(Rejection::missing("no Authorization header"));
    };
    if values.next().is_some() {
        return Err(Rejection::malformed("more than one Authorization header"));
    }
    // RFC 6750 section 2.1: the scheme is case-insensitive, the token follows one space.
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::malformed("the Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() || !token.bytes().all(is_token_byte) {
        return Err(Rejection::malformed("the bearer token is empty or holds odd characters"));
    }
    Ok(token)
}

/// Whether `b` may appear in a token: printable ASCII, no space.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// Compares a stored secret with a presented value in time that depends on the
/// presented length only: never on where the two differ, nor on the secret's length.
pub(crate) fn constant_time_eq(secret: &[u8], presented: &[u8]) -> bool {
    if secret.is_empty() {
        // Nothing to hide: an empty secret is refused by construction anyway.
        return presented.is_empty();
    }
    let mut difference = secret.len() ^ presented.len();
    for (at, byte) in presented.iter().enumerate() {
        difference |= usize::from(byte ^ secret[at % secret.len()]);
    }
    std::hint::black_box(difference) == 0
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let high = hex_value(*bytes.get(at + 1)?)?;
            let low = hex_value(*bytes.get(at + 2)?)?;
            out.push(high << 4 | low);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|value| value as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(head: &str) -> HttpRequest {
        let text = format!("{}\r\n\r\n", head.replace('\n', "\r\n"));
        crate::http::parse_head_for_tests(text.as_bytes())
    }

    fn with_auth(value: &str) -> HttpRequest {
        request(&format!("GET /ws HTTP/1.1\nHost: a\nAuthorization: {value}"))
    }

    #[test]
    fn constant_time_eq_agrees_with_eq() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"secret", b"secret"),
            (b"secret", b"secreT"),
            (b"secret", b"secretsecret"),
            (b"secret", b"sec"),
            (b"secret", b""),
            (b"ab", b"abab"),
        ];
        for (secret, presented) in cases {
            assert_eq!(constant_time_eq(secret, presented), secret == presented, "{presented:?}");
        }
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn api_keys_map_keys_to_users() {
        let mut keys = ApiKeys::new();
        keys.insert("k1", "alice").unwrap();
        keys.insert("k2", "bob").unwrap();
        keys.insert("k1", "carol").unwrap();
        assert_eq!(keys.len(), 2);
        let identity = keys.authenticate(&with_auth("Bearer k1")).unwrap();
        assert_eq!(identity, Identity::new("carol"));
        assert_eq!(keys.authenticate(&with_auth("bearer  k2 ")).unwrap().user_id, "bob");
        let wrong = keys.authenticate(&with_auth("Bearer k3")).unwrap_err();
        assert_eq!(wrong.kind(), RejectionKind::Invalid);
        assert_eq!(format!("{keys:?}"), "ApiKeys { keys: 2 }");
    }

    #[test]
    fn api_keys_refuse_keys_that_cannot_be_presented() {
        let mut keys = ApiKeys::new();
        assert!(keys.insert("", "alice").is_err());
        assert!(keys.insert("two words", "alice").is_err());
        assert!(keys.insert("caf\u{e9}", "alice").is_err());
        assert!(keys.is_empty());
    }

    #[test]
    fn bearer_header_shapes_get_their_kind() {
        let tokens = BearerToken::new(|token| {
            if token == "good" {
                Ok(Identity::new("u").with_claim("role", "admin"))
            } else {
                Err(Rejection::invalid("unknown token"))
            }
        });
        let identity = tokens.authenticate(&with_auth("Bearer good")).unwrap();
        assert_eq!(identity.claims["role"], "admin");
        let kind = |head: &str| tokens.authenticate(&request(head)).unwrap_err().kind();
        assert_eq!(kind("GET /ws HTTP/1.1\nHost: a"), RejectionKind::Missing);
        assert_eq!(kind("GET /ws HTTP/1.1\nAuthorization: Basic Zm9v"), RejectionKind::Malformed);
        assert_eq!(kind("GET /ws HTTP/1.1\nAuthorization: Bearer"), RejectionKind::Malformed);
        assert_eq!(kind("GET /ws HTTP/1.1\nAuthorization: Bearer "), RejectionKind::Malformed);
        assert_eq!(kind("GET /ws HTTP/1.1\nAuthorization: Bearer bad"), RejectionKind::Invalid);
        let twice = "GET /ws HTTP/1.1\nAuthorization: Bearer good\nAuthorization: Bearer good";
        assert_eq!(kind(twice), RejectionKind::Malformed);
    }

    #[test]
    fn query_token_is_decoded_and_checked() {
        let tokens = QueryToken::new(|token| {
            if token == "a+b/c=" {
                Ok(Identity::new("u"))
            } else {
                Err(Rejection::invalid("unknown token"))
            }
        });
        let on = |target: &str| request(&format!("GET {target} HTTP/1.1\nHost: a"));
        assert!(tokens.authenticate(&on("/ws?x=1&token=a%2Bb%2Fc%3D")).is_ok());
        assert!(tokens.authenticate(&on("/ws?token=a+b/c=")).is_ok());
        let kind = |target: &str| tokens.authenticate(&on(target)).unwrap_err().kind();
        assert_eq!(kind("/ws"), RejectionKind::Missing);
        assert_eq!(kind("/ws?tokens=x"), RejectionKind::Missing);
        assert_eq!(kind("/ws?token="), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token"), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token=%zz"), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token=%ff"), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token=%+f"), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token=a&token=b"), RejectionKind::Malformed);
        assert_eq!(kind("/ws?token=wrong"), RejectionKind::Invalid);

        let renamed = QueryToken::new(|_| Ok(Identity::new("u"))).with_param("ticket");
        assert!(renamed.authenticate(&on("/ws?ticket=t")).is_ok());
        assert!(renamed.authenticate(&on("/ws?token=t")).is_err());
    }

    #[test]
    fn rejections_never_quote_the_token() {
        let keys = ApiKeys::new();
        let rejection = keys.authenticate(&with_auth("Bearer s3cr3t-value")).unwrap_err();
        assert!(!rejection.to_string().contains("s3cr3t"), "{rejection}");
    }

    #[test]
    fn closures_are_authenticators() {
        let by_header = |request: &HttpRequest| match request.header("x-user") {
            Some(user) => Ok(Identity::new(user)),
            None => Err(Rejection::missing("no user")),
        };
        let head = request("GET /ws HTTP/1.1\nX-User: dana");
        assert_eq!(by_header.authenticate(&head).unwrap().user_id, "dana");
    }
}
