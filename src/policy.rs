//! The gate between an upgrade request that passed the protocol checks and its `101`:
//! the origin policy (`403`), then the authenticator (`401`). It holds the program's
//! settings; `admit` runs on connection threads, the setters on the program's.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::auth::{Authenticator, Identity, Rejection, RejectionKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::origin::OriginPolicy;

/// The program's function told about each refused authentication.
pub(crate) type AuthFailureHook = Arc<dyn Fn(SocketAddr, &Rejection) + Send + Sync>;

/// The realm named in every `WWW-Authenticate` challenge.
const REALM: &str = "wshub";

/// The upgrade settings of one hub. Each is read under its lock just long enough to
/// clone an `Arc`; no lock is held while a check of the program runs.
#[derive(Default)]
pub(crate) struct UpgradePolicy {
    pub(crate) origin: RwLock<Arc<OriginPolicy>>,
    pub(crate) authenticator: RwLock<Option<Arc<dyn Authenticator>>>,
    pub(crate) on_failure: RwLock<Option<AuthFailureHook>>,
}

impl UpgradePolicy {
    /// Decides whether `request` from `peer` may be upgraded: `Ok` with the identity
    /// when an authenticator is set, or the response that refuses it.
    pub(crate) fn admit(
        &self,
        request: &HttpRequest,
        peer: SocketAddr,
    ) -> Result<Option<Identity>, HttpResponse> {
        let origin = Arc::clone(&self.origin.read());
        if let Err(why) = origin.check(request) {
            log::debug!("upgrade of {} from {peer} refused: {why}", request.path());
            return Err(HttpResponse::text(403, format!("{why}\n")));
        }

        let authenticator = self.authenticator.read().clone();
        let Some(authenticator) = authenticator else {
            return Ok(None);
        };
        let verdict = catch_unwind(AssertUnwindSafe(|| authenticator.authenticate(request)));
        let rejection = match verdict {
            Ok(Ok(identity)) => return Ok(Some(identity)),
            Ok(Err(rejection)) => rejection,
            Err(_) => {
                log::warn!("the authenticator panicked; the request is refused");
                Rejection::invalid("the authenticator failed")
            }
        };
        log::debug!("upgrade of {} from {peer} refused: {rejection}", request.path());
        self.report(peer, &rejection);
        Err(unauthorized(&rejection))
    }

    fn report(&self, peer: SocketAddr, rejection: &Rejection) {
        let hook = self.on_failure.read().clone();
        if let Some(hook) = hook {
            if catch_unwind(AssertUnwindSafe(|| hook(peer, rejection))).is_err() {
                log::warn!("the auth failure callback panicked");
            }
        }
    }
}

/// The `401` of RFC 6750 section 3: a `Bearer` challenge whose `error` says what was
/// wrong, and a body that names the kind only, never the program's reason.
fn unauthorized(rejection: &Rejection) -> HttpResponse {
    let (challenge, body) = match rejection.kind() {
        RejectionKind::Missing => (format!("Bearer realm=\"{REALM}\""), "credentials are missing"),
        RejectionKind::Malformed => (
            format!("Bearer realm=\"{REALM}\", error=\"invalid_request\""),
            "credentials are malformed",
        ),
        RejectionKind::Invalid => (
            format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
            "credentials were refused",
        ),
    };
    HttpResponse::text(401, format!("{body}\n")).with_header("WWW-Authenticate", challenge)
}

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;

    use super::*;
    use crate::auth::ApiKeys;

    const PEER: &str = "127.0.0.1:4000";

    fn request(extra: &str) -> HttpRequest {
        let head = format!("GET /ws HTTP/1.1\r\nHost: hub:80\r\n{extra}\r\n");
        crate::http::parse_head_for_tests(head.as_bytes())
    }

    fn status(verdict: Result<Option<Identity>, HttpResponse>) -> u16 {
        verdict.map_or_else(|response| response.status, |_| 101)
    }

    fn challenge(response: &HttpResponse) -> &str {
        let (_, value) = response.headers.iter().find(|(n, _)| n == "WWW-Authenticate").unwrap();
        value
    }

    #[test]
    fn without_settings_everything_passes_without_identity() {
        let policy = UpgradePolicy::default();
        let verdict = policy.admit(&request("Origin: http://hub\r\n"), PEER.parse().unwrap());
        assert_eq!(verdict.unwrap(), None);
    }

    #[test]
    fn origin_is_checked_before_credentials() {
        let policy = UpgradePolicy::default();
        *policy.authenticator.write() = Some(Arc::new(ApiKeys::new()));
        let peer = PEER.parse().unwrap();
        assert_eq!(status(policy.admit(&request("Origin: http://evil\r\n"), peer)), 403);
        assert_eq!(status(policy.admit(&request(""), peer)), 401);
    }

    #[test]
    fn refusals_carry_a_bearer_challenge_and_reach_the_callback() {
        let policy = UpgradePolicy::default();
        let mut keys = ApiKeys::new();
        keys.insert("k1", "alice").unwrap();
        *policy.authenticator.write() = Some(Arc::new(keys));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let hook: AuthFailureHook = Arc::new(move |_, r: &Rejection| sink.lock().push(r.kind()));
        *policy.on_failure.write() = Some(hook);
        let peer = PEER.parse().unwrap();

        let missing = policy.admit(&request(""), peer).unwrap_err();
        assert_eq!(challenge(&missing), "Bearer realm=\"wshub\"");
        let wrong = policy.admit(&request("Authorization: Bearer k2\r\n"), peer).unwrap_err();
        assert_eq!(challenge(&wrong), "Bearer realm=\"wshub\", error=\"invalid_token\"");
        assert_eq!(wrong.body, b"credentials were refused\n");
        let right = policy.admit(&request("Authorization: Bearer k1\r\n"), peer).unwrap();
        assert_eq!(right.unwrap().user_id, "alice");
        assert_eq!(*seen.lock(), [RejectionKind::Missing, RejectionKind::Invalid]);
    }

    #[test]
    fn a_panicking_authenticator_refuses() {
        let policy = UpgradePolicy::default();
        let panics = |_: &HttpRequest| -> Result<Identity, Rejection> { panic!("on purpose") };
        *policy.authenticator.write() = Some(Arc::new(panics));
        assert_eq!(status(policy.admit(&request(""), PEER.parse().unwrap())), 401);
    }
}
