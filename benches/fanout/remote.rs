//! The hub process's handle on the subscriber process: it starts the benchmark binary
//! again as the subscriber side, sends it commands on stdin and reads its answers from
//! stdout on a small reader thread, every wait bounded. Dropping the handle kills the
//! process if it is still there.
//!
//! Part of `cargo bench --bench fanout`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::subscribers::ROLE_VAR;
use crate::targets::Kind;

/// The subscriber process.
pub struct Remote {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

/// An answer of the subscriber process: its first word and its `key=value` fields.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub fields: HashMap<String, f64>,
}

impl Answer {
    pub fn get(&self, key: &str) -> f64 {
        self.fields.get(key).copied().unwrap_or(0.0)
    }
}

impl Remote {
    /// Starts `n` subscribers of `kind`'s protocol against `addr`.
    pub fn spawn(kind: Kind, addr: SocketAddr, n: usize) -> Result<Remote, String> {
        let mut child = Command::new(procfs::OWN_BINARY)
            .env(ROLE_VAR, format!("{} {addr} {n}", kind.client_mode()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("cannot start the subscriber process: {err}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (lines_in, lines) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("remote-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if lines_in.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|err| format!("cannot start a reader thread: {err}"))?;
        let stdin = child.stdin.take();
        Ok(Remote { child, stdin, lines, reader: Some(reader) })
    }

    fn send(&mut self, command: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the subscriber process's input is closed")?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|err| format!("the subscriber process is gone: {err}"))
    }

    /// Waits for an answer starting with `word`, at most `timeout`.
    pub fn expect(&mut self, word: &str, timeout: Duration) -> Result<Answer, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no `{word}` from the subscriber process in {timeout:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the subscriber process ended early".into());
                }
            };
            let mut words = line.split_whitespace();
            if words.next() != Some(word) {
                continue;
            }
            let fields = words
                .filter_map(|pair| pair.split_once('='))
                .filter_map(|(key, value)| Some((key.to_owned(), value.parse().ok()?)))
                .collect();
            return Ok(Answer { fields });
        }
    }

    /// Starts counting round `id`.
    pub fn begin(&mut self, id: u32) -> Result<(), String> {
        self.send(&format!("begin {id}"))?;
        self.expect("begun", Duration::from_secs(10)).map(drop)
    }

    /// Ends round `id` after `published` messages and returns the subscribers' report.
    pub fn finish(&mut self, id: u32, published: u64) -> Result<Answer, String> {
        self.send(&format!("finish {id} {published}"))?;
        self.expect("report", Duration::from_secs(30))
    }

    /// Closes every subscriber and waits for the process to end, killing it if it
    /// takes longer than a few seconds.
    pub fn quit(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.send("quit");
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            eprintln!("the subscriber process did not stop; killing it");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.stop();
        }
    }
}
