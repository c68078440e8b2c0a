//! A forwarded command's life as a subscriber sees it: `running`, every line of stdout
//! and stderr in order per stream with stderr marked, then `exited` with the exit code;
//! and the errors of a command that cannot start.

mod support;

use serde_json::Value;
use support::{Client, lines_of, sh, start_default};
use wshub::{Error, ProcessStatus};

const SCRIPT: &str = "printf 'out 1\\nout 2\\n'; printf 'err 1\\n' >&2; printf 'out 3\\n'; \
                      printf 'err 2\\n' >&2";

/// Runs `script` as process `id` with one subscriber; returns what it saw.
fn run_watched(id: &str, script: &str) -> (Vec<Value>, wshub::ProcessExit) {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe(&format!("process:{id}"));

    let process = hub.spawn_process(id, sh(script)).expect("spawn");
    assert_eq!(process.id(), id);
    let seen = client.until_final_status();
    let exit = process.wait().expect("wait");
    drop(client);
    hub.shutdown();
    (seen, exit)
}

fn assert_run(seen: &[Value], id: &str, final_status: &str, code: i32) {
    let first = &seen[0];
    assert_eq!(first["type"], "process_status", "{first}");
    assert_eq!(first["data"], serde_json::json!({"status": "running", "exitCode": 0}));
    for message in seen {
        assert_eq!(message["channel"], format!("process:{id}"), "{message}");
        assert_eq!(message["processId"], id, "{message}");
        assert!(message.get("partial").is_none(), "{message}");
    }
    assert_eq!(lines_of(seen, "stdout"), ["out 1", "out 2", "out 3"]);
    assert_eq!(lines_of(seen, "stderr"), ["err 1", "err 2"]);
    assert_eq!(seen.len(), 7, "{seen:?}");

    let last = seen.last().expect("a final status");
    assert_eq!(last["type"], "process_status", "{last}");
    assert_eq!(last["data"], serde_json::json!({"status": final_status, "exitCode": code}));
}

#[test]
fn a_command_that_succeeds_is_seen_whole_then_exited_0() {
    let (seen, exit) = run_watched("ok", SCRIPT);
    assert_run(&seen, "ok", "exited", 0);
    assert_eq!((exit.status(), exit.code(), exit.signal()), (ProcessStatus::Exited, 0, None));
    assert!(exit.success());
}

#[test]
fn a_command_that_fails_is_seen_whole_then_exited_3() {
    let (seen, exit) = run_watched("fails", &format!("{SCRIPT}; exit 3"));
    assert_run(&seen, "fails", "exited", 3);
    assert_eq!((exit.status(), exit.code()), (ProcessStatus::Exited, 3));
    assert!(!exit.success());
    assert_eq!(exit.exit_status().code(), Some(3));
}

#[test]
fn waiting_again_gives_the_same_answer_and_no_thread_is_left() {
    let hub = wshub::Hub::new(wshub::HubConfig::default()).unwrap();
    let before = support::thread_count();
    let process = hub.spawn_process("twice", sh("exit 5")).unwrap();
    let exit = process.wait().unwrap();
    assert_eq!(process.try_wait().unwrap(), Some(exit));
    assert_eq!(process.wait_timeout(std::time::Duration::MAX).unwrap(), Some(exit));
    drop(process);
    assert_eq!(support::thread_count(), before);
}

#[test]
fn commands_that_cannot_start_are_errors() {
    let hub = wshub::Hub::new(wshub::HubConfig::default()).unwrap();
    let err = hub.spawn_process("bad:id", sh("true")).unwrap_err();
    assert!(matches!(err, Error::InvalidProcessId(_)), "{err}");

    let missing = std::process::Command::new("/nonexistent/wshub-test-program");
    let err = hub.spawn_process("missing", missing).unwrap_err();
    let Error::Io(io) = &err else { panic!("expected an i/o error, got {err}") };
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("/nonexistent/wshub-test-program"), "{err}");
}
