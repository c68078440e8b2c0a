//! The program's access rules as set on a [`Hub`]: who may connect (origin policy,
//! authenticator) and who may subscribe to what (channel authoriser). The setters run on
//! the program's threads; each takes a write lock for one assignment and affects
//! requests that arrive after it returns.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::{Authenticator, Rejection};
use crate::hub::{ClientInfo, Hub};
use crate::origin::OriginPolicy;

impl Hub {
    /// Sets which `Origin` headers an upgrade may carry, replacing the earlier policy;
    /// the others are answered `403`. Default: [`OriginPolicy::same_origin`], not strict.
    pub fn set_origin_policy(&self, policy: OriginPolicy) {
        *self.inner.upgrade_policy.origin.write() = Arc::new(policy);
    }

    /// Sets the authenticator every upgrade must pass, replacing any earlier one.
    ///
    /// It runs after the origin check and before the `101`; a refusal is answered `401`
    /// with a `WWW-Authenticate: Bearer` challenge. The [`Identity`](crate::Identity) it
    /// returns shows on the client's [`ClientInfo`] as `user_id` and `claims`. Default:
    /// none, and every upgrade that passes the origin check is accepted.
    pub fn set_authenticator(&self, authenticator: impl Authenticator + 'static) {
        *self.inner.upgrade_policy.authenticator.write() = Some(Arc::new(authenticator));
    }

    /// Removes the authenticator: upgrades are accepted without credentials again.
    pub fn clear_authenticator(&self) {
        *self.inner.upgrade_policy.authenticator.write() = None;
    }

    /// Sets the function called on a connection thread after each refused
    /// authentication, with the peer's address and the rejection, replacing any earlier
    /// one. It is told nothing the client sent, so it may log what it gets.
    pub fn on_auth_failure(&self, hook: impl Fn(SocketAddr, &Rejection) + Send + Sync + 'static) {
        *self.inner.upgrade_policy.on_failure.write() = Some(Arc::new(hook));
    }

    /// Sets the function that decides each subscribe, replacing any earlier one.
    ///
    /// It sees the client (with its `user_id` and `claims`) and the channel name, after
    /// the name passed its checks and before the client is subscribed. `Err` refuses:
    /// the client gets an `error` message carrying the text and never any message of
    /// that channel; the connection stays open. A subscribe to a channel the client
    /// already holds is not asked again. A panic in it refuses. Default: none, and every
    /// valid subscribe is accepted.
    ///
    /// ```
    /// # let hub = wshub::Hub::new(wshub::HubConfig::default())?;
    /// hub.set_authoriser(|client, channel| {
    ///     let own = format!("user:{}", client.user_id.as_deref().unwrap_or("-"));
    ///     if channel.starts_with("process:") || channel == own {
    ///         Ok(())
    ///     } else {
    ///         Err(format!("{channel} is not yours"))
    ///     }
    /// });
    /// # Ok::<(), wshub::Error>(())
    /// ```
    pub fn set_authoriser(
        &self,
        authoriser: impl Fn(&ClientInfo, &str) -> Result<(), String> + Send + Sync + 'static,
    ) {
        *self.inner.authoriser.write() = Some(Arc::new(authoriser));
    }
}
