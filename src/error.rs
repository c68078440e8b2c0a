//! The crate's error type; built on whichever thread made the failing call.

use std::fmt;
use std::io;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a call into `wshub` can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range; the text names the field and the rule.
    Config(String),
    /// A channel name is empty, too long, or has a character outside the allowed set.
    InvalidChannel(String),
    /// A process id is empty, too long, or has a character outside the allowed set.
    InvalidProcessId(String),
    /// A message could not be serialised to JSON (a map with non-string keys, say).
    Json(serde_json::Error),
    /// Binding, accepting or configuring a socket failed.
    Io(io::Error),
    /// The hub was shut down; it accepts no more connections.
    Shutdown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "invalid configuration: {why}"),
            Error::InvalidChannel(why) => write!(f, "invalid channel name: {why}"),
            Error::InvalidProcessId(why) => write!(f, "invalid process id: {why}"),
            Error::Json(err) => write!(f, "message serialisation failed: {err}"),
            Error::Io(err) => write!(f, "i/o error: {err}"),
            Error::Shutdown => f.write_str("the hub is shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Json(err) => Some(err),
            Error::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Io(err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::Json(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Results of this type travel through every publish; keep them two words wide.
        assert!(std::mem::size_of::<Error>() <= 32, "{}", std::mem::size_of::<Error>());
    }

    #[test]
    fn display_is_lowercase_without_final_period() {
        let texts = [
            Error::Config("queue_capacity must be at least 1".into()).to_string(),
            Error::InvalidChannel("empty".into()).to_string(),
            Error::Shutdown.to_string(),
        ];
        for text in texts {
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }

    #[test]
    fn io_errors_keep_their_source() {
        let err = Error::from(io::Error::new(io::ErrorKind::AddrInUse, "taken"));
        assert!(std::error::Error::source(&err).is_some());
    }
}
