//! Rules for channel names and process ids; pure functions called by publishers and readers.
//!
//! A channel name is 1 to `max_channel_len` bytes of ASCII letters, digits and
//! `- _ . : / @ +`. A process id is 1 to `max_process_id_len` bytes of the same set
//! without `:` and `/`, so that `process:{id}` always names exactly one process.

use crate::error::{Error, Result};

/// The prefix of the channel that carries a process's messages.
pub(crate) const PROCESS_PREFIX: &str = "process:";

fn is_channel_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'@' | b'+')
}

fn is_process_byte(b: u8) -> bool {
    is_channel_byte(b) && b != b':' && b != b'/'
}

/// Checks a channel name against the rules above.
pub(crate) fn check_channel(name: &str, max_len: usize) -> Result<()> {
    check(name, max_len, is_channel_byte, "- _ . : / @ +").map_err(Error::InvalidChannel)
}

/// Checks a process id against the rules above.
pub(crate) fn check_process_id(id: &str, max_len: usize) -> Result<()> {
    check(id, max_len, is_process_byte, "- _ . @ +").map_err(Error::InvalidProcessId)
}

/// Returns the channel name of a process, `process:{id}`.
pub(crate) fn process_channel(id: &str) -> String {
    let mut name = String::with_capacity(PROCESS_PREFIX.len() + id.len());
    name.push_str(PROCESS_PREFIX);
    name.push_str(id);
    name
}

fn check(
    text: &str,
    max_len: usize,
    allowed: fn(u8) -> bool,
    punctuation: &str,
) -> std::result::Result<(), String> {
    if text.is_empty() {
        return Err("it is empty".to_owned());
    }
    if text.len() > max_len {
        return Err(format!("it is {} bytes long, the limit is {max_len}", text.len()));
    }
    match text.bytes().position(|b| !allowed(b)) {
        None => Ok(()),
        Some(at) => {
            // Show the offending character escaped: it may be a control character.
            let bad = text[at..].chars().next().unwrap_or_default();
            Err(format!(
                "character {:?} at byte {at} is not allowed (letters, digits and {punctuation})",
                bad
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in ["process:web-server-1", "logs/app", "user@host", "a", "x.y_z+1"] {
            check_channel(name, 256).unwrap();
        }
        check_process_id("web-server-1", 128).unwrap();
    }

    #[test]
    fn empty_long_and_odd_names_fail_with_the_reason() {
        let text = check_channel("", 256).unwrap_err().to_string();
        assert!(text.contains("empty"), "{text}");
        let long = "a".repeat(10_000);
        let text = check_channel(&long, 256).unwrap_err().to_string();
        assert!(text.contains("10000 bytes long, the limit is 256"), "{text}");
        let text = check_channel("bad\u{7}name", 256).unwrap_err().to_string();
        assert!(text.contains("'\\u{7}' at byte 3"), "{text}");
        let text = check_channel("caf\u{e9}", 256).unwrap_err().to_string();
        assert!(text.contains("at byte 3"), "{text}");
    }

    #[test]
    fn process_ids_have_no_colon_or_slash() {
        assert!(check_process_id("a:b", 128).is_err());
        assert!(check_process_id("a/b", 128).is_err());
        assert!(check_process_id(&"p".repeat(129), 128).is_err());
        assert_eq!(process_channel("build"), "process:build");
    }
}
