//! The hub's configuration and its validation; read by every thread, changed by none.

use std::time::Duration;

use crate::error::{Error, Result};

/// Settings of a [`Hub`](crate::Hub), fixed when the hub is made.
///
/// [`Default`] is the single source of the defaults; build a variation with struct update
/// syntax and let [`Hub::new`](crate::Hub::new) check it:
///
/// ```
/// use std::time::Duration;
/// use wshub::{Hub, HubConfig};
///
/// let config = HubConfig { heartbeat_interval: Duration::from_secs(10), ..HubConfig::default() };
/// let hub = Hub::new(config)?;
/// # Ok::<(), wshub::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// The request path on which WebSocket upgrades are accepted; it starts with `/`.
    /// Default: `/ws`.
    pub path: String,
    /// How often the writer sends a protocol-level ping to each client. Default: 30s.
    pub heartbeat_interval: Duration,
    /// How long a client may stay silent (no frame at all, pongs included) before it is
    /// closed. Must exceed the heartbeat interval. Default: 60s.
    pub pong_timeout: Duration,
    /// How long one socket write may stall before the client is dropped. Default: 10s.
    pub write_timeout: Duration,
    /// The total time a new connection has to complete its upgrade request, however it
    /// trickles in. Default: 10s.
    pub handshake_timeout: Duration,
    /// How long the hub waits for a client's answer to its close frame before it closes
    /// the TCP connection anyway. Default: 1s.
    pub close_timeout: Duration,
    /// Capacity of each client's outbound queue, in messages. Default: 256.
    pub queue_capacity: usize,
    /// The largest inbound message accepted, in bytes; a larger one closes the
    /// connection with code 1009. Default: 64 KiB.
    pub max_message_size: usize,
    /// How many channels one client may be subscribed to at once. Default: 1024.
    pub max_subscriptions: usize,
    /// The longest channel name accepted, in bytes. Default: 256.
    pub max_channel_len: usize,
    /// The longest process id accepted, in bytes. Default: 128.
    pub max_process_id_len: usize,
    /// How many WebSocket connections may be open at once; more are refused with `503`.
    /// Each costs two threads and one file descriptor. Default: 10,000.
    pub max_connections: usize,
    /// The largest upgrade request head accepted (request line and headers), in bytes;
    /// a larger one gets `431`. Default: 8 KiB.
    pub max_request_bytes: usize,
    /// The most header fields an upgrade request may carry; more get `431`. Default: 64.
    pub max_headers: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            path: "/ws".to_owned(),
            heartbeat_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(1),
            queue_capacity: 256,
            max_message_size: 64 * 1024,
            max_subscriptions: 1024,
            max_channel_len: 256,
            max_process_id_len: 128,
            max_connections: 10_000,
            max_request_bytes: 8 * 1024,
            max_headers: 64,
        }
    }
}

/// The smallest inbound message limit that still fits a subscribe to a long channel.
const MIN_MESSAGE_SIZE: usize = 512;

/// The largest queue capacity accepted; beyond it a slow client costs too much memory.
const MAX_QUEUE_CAPACITY: usize = 1 << 20;

impl HubConfig {
    /// Checks every field and returns the first rule broken.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the field: a zero duration or size, a pong timeout not
    /// longer than the heartbeat interval, a path that does not start with `/`, or a
    /// process id limit that would not fit in a channel name.
    pub fn validate(&self) -> Result<()> {
        let durations = [
            ("heartbeat_interval", self.heartbeat_interval),
            ("pong_timeout", self.pong_timeout),
            ("write_timeout", self.write_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("close_timeout", self.close_timeout),
        ];
        for (name, value) in durations {
            if value.is_zero() {
                return Err(invalid(format!("{name} must be longer than zero")));
            }
        }
        if self.pong_timeout <= self.heartbeat_interval {
            return Err(invalid(format!(
                "pong_timeout ({}) must exceed heartbeat_interval ({}), or every client \
                 would time out between two pings",
                humantime::format_duration(self.pong_timeout),
                humantime::format_duration(self.heartbeat_interval),
            )));
        }
        self.validate_sizes()?;
        self.validate_path()
    }

    /// Checks a channel name against the naming rules and [`HubConfig::max_channel_len`],
    /// as publishing and subscribing do.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChannel`] saying which rule the name breaks.
    pub fn check_channel(&self, name: &str) -> Result<()> {
        crate::names::check_channel(name, self.max_channel_len)
    }

    /// Checks a process id against the naming rules and
    /// [`HubConfig::max_process_id_len`], as the process calls do; useful before
    /// accepting an id from a user.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProcessId`] saying which rule the id breaks.
    pub fn check_process_id(&self, id: &str) -> Result<()> {
        crate::names::check_process_id(id, self.max_process_id_len)
    }

    fn validate_sizes(&self) -> Result<()> {
        let at_least_one = [
            ("queue_capacity", self.queue_capacity),
            ("max_subscriptions", self.max_subscriptions),
            ("max_channel_len", self.max_channel_len),
            ("max_process_id_len", self.max_process_id_len),
            ("max_connections", self.max_connections),
            ("max_headers", self.max_headers),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return Err(invalid(format!("{name} must be at least 1")));
            }
        }
        if self.queue_capacity > MAX_QUEUE_CAPACITY {
            return Err(invalid(format!("queue_capacity must be at most {MAX_QUEUE_CAPACITY}")));
        }
        if self.max_message_size < MIN_MESSAGE_SIZE {
            return Err(invalid(format!("max_message_size must be at least {MIN_MESSAGE_SIZE}")));
        }
        if self.max_request_bytes < MIN_MESSAGE_SIZE {
            return Err(invalid(format!("max_request_bytes must be at least {MIN_MESSAGE_SIZE}")));
        }
        if self.max_process_id_len + crate::names::PROCESS_PREFIX.len() > self.max_channel_len {
            return Err(invalid(
                "max_process_id_len plus the `process:` prefix must fit in max_channel_len".into(),
            ));
        }
        Ok(())
    }

    fn validate_path(&self) -> Result<()> {
        let well_formed = self.path.starts_with('/')
            && self.path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
        if well_formed {
            Ok(())
        } else {
            Err(invalid(format!("path {:?} must start with `/` and hold no query", self.path)))
        }
    }
}

fn invalid(why: String) -> Error {
    Error::Config(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let config = HubConfig::default();
        config.validate().unwrap();
        assert_eq!(config.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(config.pong_timeout, Duration::from_secs(60));
        assert_eq!(config.write_timeout, Duration::from_secs(10));
        assert_eq!(config.handshake_timeout, Duration::from_secs(10));
        assert_eq!(config.queue_capacity, 256);
        assert_eq!(config.max_message_size, 64 * 1024);
        assert_eq!(config.max_subscriptions, 1024);
        assert_eq!(config.path, "/ws");
    }

    fn broken(change: impl FnOnce(&mut HubConfig)) -> String {
        let mut config = HubConfig::default();
        change(&mut config);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn zero_values_are_refused_by_name() {
        assert!(broken(|c| c.queue_capacity = 0).contains("queue_capacity"));
        assert!(broken(|c| c.write_timeout = Duration::ZERO).contains("write_timeout"));
        assert!(broken(|c| c.max_connections = 0).contains("max_connections"));
    }

    #[test]
    fn pong_timeout_must_exceed_heartbeat() {
        let text = broken(|c| c.pong_timeout = Duration::from_secs(30));
        assert!(text.contains("pong_timeout (30s)"), "{text}");
    }

    #[test]
    fn names_are_checked_against_the_limits() {
        let config = HubConfig { max_process_id_len: 4, ..HubConfig::default() };
        assert!(config.check_process_id("abcd").is_ok());
        assert!(matches!(config.check_process_id("abcde"), Err(Error::InvalidProcessId(_))));
        assert!(matches!(config.check_channel("a b"), Err(Error::InvalidChannel(_))));
    }

    #[test]
    fn path_and_sizes_are_checked() {
        assert!(broken(|c| c.path = "ws".into()).contains("path"));
        assert!(broken(|c| c.path = "/ws?x=1".into()).contains("path"));
        assert!(broken(|c| c.max_message_size = 10).contains("max_message_size"));
        assert!(broken(|c| c.max_channel_len = 64).contains("max_process_id_len"));
        assert!(broken(|c| c.queue_capacity = usize::MAX).contains("queue_capacity"));
    }
}
