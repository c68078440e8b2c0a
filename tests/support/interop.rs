//! The smoke test that real clients nobody here wrote must pass: a wrong token gets
//! `401`, then a subscribe, a process's output and status, and a normal close. The
//! clients live in `tests/interop/` and print what they saw, one JSON object a line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wshub::{BearerToken, HubConfig, Identity, ProcessStatus, Rejection};

use super::{PATIENCE, start};

/// The token the clients present; any other is refused.
const TOKEN: &str = "smoke-2b7e151628aed2a6";

/// Returns a path below the repository's root.
pub fn in_repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Returns whether the test may run: when `present` is false it fails under CI
/// (`CI=true`) and otherwise prints a note and tells the test to skip.
pub fn available(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    let why = format!("{what} is not installed; .ci/run installs it");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("note: skipping: {why}");
    false
}

/// Runs `client` (a command taking URL, token and channel) against a live hub and
/// checks every line it prints.
pub fn smoke(mut client: Command) {
    let (hub, server) = start(HubConfig::default());
    hub.set_authenticator(BearerToken::new(|token| match token {
        TOKEN => Ok(Identity::new("smoke")),
        _ => Err(Rejection::invalid("unknown token")),
    }));
    let child = client
        .args([&server.url(), TOKEN, "process:smoke-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut lines = Lines::new(child);

    assert_eq!(lines.next(), json!({"refused": 401}));
    let subscribed = lines.next();
    assert_eq!(
        (&subscribed["type"], &subscribed["channel"]),
        (&"subscribed".into(), &"process:smoke-1".into())
    );
    hub.send_process_status("smoke-1", ProcessStatus::Running, 0).unwrap();
    for line in ["compiling", "ünïcode ✓", "{\"not\": \"parsed\"}"] {
        hub.send_process_output("smoke-1", line).unwrap();
    }
    hub.send_process_status("smoke-1", ProcessStatus::Exited, 0).unwrap();

    let running = lines.next();
    assert_eq!(
        (&running["type"], &running["data"]["status"]),
        (&"process_status".into(), &"running".into())
    );
    for line in ["compiling", "ünïcode ✓", "{\"not\": \"parsed\"}"] {
        let output = lines.next();
        assert_eq!(output["type"], "process_output", "{output}");
        assert_eq!((&output["processId"], &output["data"]), (&"smoke-1".into(), &line.into()));
    }
    let exited = lines.next();
    assert_eq!(exited["data"], json!({"status": "exited", "exitCode": 0}), "{exited}");
    assert_eq!(lines.next(), json!({"closed": 1000}));
    lines.wait_for_success();
    hub.shutdown();
}

/// The client's output, line by line, with every wait bounded.
struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Lines {
    fn new(mut child: Child) -> Lines {
        let stdout = child.stdout.take().expect("a piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { child, lines }
    }

    fn next(&mut self) -> Value {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}")),
            Err(_) => {
                let _ = self.child.kill();
                panic!("the client printed nothing more; its exit: {:?}", self.child.wait());
            }
        }
    }

    fn wait_for_success(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the client's status") {
                assert!(status.success(), "the client failed: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("the client did not exit within {PATIENCE:?}");
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        // A failed assertion must not leave the client running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
