//! Wire types of DESIGN section 2 and their encoding; built on publisher threads.
//!
//! A [`Message`] serialises with its keys in the order `type`, `channel`, `processId`,
//! `data`, `timestamp`, leaving out the empty ones. Additive fields, when a message has
//! them, come after `timestamp` and never change the meaning of the five above.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;

/// The `type` field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageType {
    /// One line of a process's output; `data` is the line without its terminator.
    ProcessOutput,
    /// A change in a process's lifecycle; `data` is `{"status", "exitCode"}`.
    ProcessStatus,
    /// A named event from the program; `data` is `{"event", "data"}`.
    Event,
    /// Something the server refused or could not do; `data` is a human-readable string.
    Error,
    /// The answer to a client's JSON `ping`.
    Pong,
    /// Confirms a subscribe: messages of `channel` follow from here on.
    Subscribed,
    /// Confirms an unsubscribe: no message of `channel` follows it.
    Unsubscribed,
}

/// The lifecycle states of a process, as `process_status` carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessStatus {
    /// The process has started.
    Running,
    /// The process ended by itself with an exit code.
    Exited,
    /// A signal ended the process; the exit code is 128 plus the signal number.
    Crashed,
    /// The process was stopped because the program asked for it.
    Stopped,
}

impl ProcessStatus {
    /// Returns the name used on the wire: `running`, `exited`, `crashed` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Running => "running",
            ProcessStatus::Exited => "exited",
            ProcessStatus::Crashed => "crashed",
            ProcessStatus::Stopped => "stopped",
        }
    }
}

/// The pipe a line of process output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One JSON message as it travels over the wire, in either direction.
///
/// Build one with a constructor ([`Message::new`], [`Message::event`], ...) and publish it
/// with [`Hub::send_to_channel`](crate::Hub::send_to_channel), which fills in `channel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// What the message is.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The channel the message was delivered through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The process the message is about, on `process_output` and `process_status`.
    #[serde(default, rename = "processId", skip_serializing_if = "Option::is_none")]
    pub process_id: Option<String>,
    /// The payload, left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// When the message was made; on the wire RFC 3339, UTC, milliseconds and `Z`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: SystemTime,
    /// On `process_output`, the pipe the line came from; left out for standard output.
    #[serde(default, skip_serializing_if = "is_stdout")]
    pub stream: Option<OutputStream>,
    /// On `process_output`, true when the line was cut and this piece is not its last.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

fn is_stdout(stream: &Option<OutputStream>) -> bool {
    matches!(stream, None | Some(OutputStream::Stdout))
}

impl Message {
    /// Returns a message of the given type with no payload, stamped now.
    pub fn new(kind: MessageType) -> Message {
        Message {
            kind,
            channel: None,
            process_id: None,
            data: None,
            timestamp: SystemTime::now(),
            stream: None,
            partial: false,
        }
    }

    /// Returns the message with `data` set.
    pub fn with_data(mut self, data: impl Into<Value>) -> Message {
        self.data = Some(data.into());
        self
    }

    /// Returns the message with `channel` set.
    pub fn with_channel(mut self, channel: impl Into<String>) -> Message {
        self.channel = Some(channel.into());
        self
    }

    /// Returns a `process_output` message carrying one line of output.
    pub fn process_output(process_id: impl Into<String>, line: impl Into<String>) -> Message {
        let mut message = Message::new(MessageType::ProcessOutput).with_data(line.into());
        message.process_id = Some(process_id.into());
        message
    }

    /// Returns a `process_status` message; `exit_code` is reported as given.
    pub fn process_status(
        process_id: impl Into<String>,
        status: ProcessStatus,
        exit_code: i32,
    ) -> Message {
        let data = serde_json::json!({ "status": status, "exitCode": exit_code });
        let mut message = Message::new(MessageType::ProcessStatus).with_data(data);
        message.process_id = Some(process_id.into());
        message
    }

    /// Returns the message with `stream` set; only [`OutputStream::Stderr`] shows on the
    /// wire.
    pub fn with_stream(mut self, stream: OutputStream) -> Message {
        self.stream = Some(stream);
        self
    }

    /// Returns the message marked as a piece of a longer line that continues.
    pub fn with_partial(mut self, partial: bool) -> Message {
        self.partial = partial;
        self
    }

    /// Returns the message with `signal` (such as `SIGKILL`) added to an object `data`,
    /// as a `crashed` status carries it.
    pub fn with_signal(mut self, signal: &str) -> Message {
        if let Some(Value::Object(data)) = &mut self.data {
            data.insert("signal".to_owned(), Value::from(signal));
        }
        self
    }

    /// Returns an `event` message carrying `{"event": name, "data": data}`.
    pub fn event(name: impl Into<String>, data: impl Into<Value>) -> Message {
        let payload = serde_json::json!({ "event": name.into(), "data": data.into() });
        Message::new(MessageType::Event).with_data(payload)
    }

    /// Returns an `error` message carrying a human-readable text.
    pub fn error(text: impl Into<String>) -> Message {
        Message::new(MessageType::Error).with_data(text.into())
    }

    /// Returns the message as one line of JSON, exactly as a client receives it.
    ///
    /// # Errors
    ///
    /// [`Error::Json`](crate::Error::Json) when `data` cannot be serialised.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses one JSON message, as a client does with a frame it received.
    ///
    /// # Errors
    ///
    /// [`Error::Json`](crate::Error::Json) when the text is not a message of a known type.
    pub fn from_json(text: &str) -> Result<Message> {
        Ok(serde_json::from_str(text)?)
    }
}

mod rfc3339_millis {
    //! `timestamp` as `2026-02-19T10:00:00.123Z`, written and read with `humantime`.

    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        humantime::parse_rfc3339(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(millis)
    }

    // 2026-02-19T10:00:00.123Z
    const T0: u64 = 1_771_495_200_123;

    #[test]
    fn output_serialises_in_wire_order() {
        let mut message = Message::process_output("web-server-1", "Listening on :8080")
            .with_channel("process:web-server-1");
        message.timestamp = at(T0);
        assert_eq!(
            message.to_json().unwrap(),
            r#"{"type":"process_output","channel":"process:web-server-1","processId":"web-server-1","data":"Listening on :8080","timestamp":"2026-02-19T10:00:00.123Z"}"#
        );
    }

    #[test]
    fn empty_fields_are_left_out() {
        let mut message = Message::new(MessageType::Pong);
        message.timestamp = at(T0);
        assert_eq!(
            message.to_json().unwrap(),
            r#"{"type":"pong","timestamp":"2026-02-19T10:00:00.123Z"}"#
        );
    }

    #[test]
    fn status_data_is_typed() {
        let message = Message::process_status("p", ProcessStatus::Crashed, 137);
        let json = message.to_json().unwrap();
        assert!(json.contains(r#""data":{"status":"crashed","exitCode":137}"#), "{json}");
    }

    #[test]
    fn stderr_and_partial_are_additive_fields() {
        let mut message = Message::process_output("p", "half")
            .with_stream(OutputStream::Stderr)
            .with_partial(true);
        message.timestamp = at(T0);
        let json = message.to_json().unwrap();
        assert!(
            json.ends_with(
                r#""timestamp":"2026-02-19T10:00:00.123Z","stream":"stderr","partial":true}"#
            ),
            "{json}"
        );
        let plain = Message::process_output("p", "x").with_stream(OutputStream::Stdout);
        let json = plain.to_json().unwrap();
        assert!(!json.contains("stream") && !json.contains("partial"), "{json}");
    }

    #[test]
    fn crashed_status_names_its_signal() {
        let message =
            Message::process_status("p", ProcessStatus::Crashed, 137).with_signal("SIGKILL");
        let json = message.to_json().unwrap();
        assert!(
            json.contains(r#"{"status":"crashed","exitCode":137,"signal":"SIGKILL"}"#),
            "{json}"
        );
    }

    #[test]
    fn event_wraps_name_and_data() {
        let json = Message::event("deploy", serde_json::json!({"v": 2})).to_json().unwrap();
        assert!(json.contains(r#""data":{"event":"deploy","data":{"v":2}}"#), "{json}");
    }

    #[test]
    fn round_trips_through_json() {
        let mut message =
            Message::process_status("p", ProcessStatus::Exited, 3).with_channel("process:p");
        message.timestamp = at(T0);
        let back = Message::from_json(&message.to_json().unwrap()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn unknown_types_do_not_parse() {
        assert!(
            Message::from_json(r#"{"type":"nope","timestamp":"2026-02-19T10:00:00.123Z"}"#)
                .is_err()
        );
    }
}
