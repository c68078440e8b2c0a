//! How a forwarded child ends when it is not by itself: a signal makes it `crashed`
//! with 128 plus the signal and the signal's name; a stop request makes it `stopped`,
//! with SIGKILL after the grace period for a child that ignores SIGTERM.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Client, sh, start_default};
use wshub::{ProcessOptions, ProcessStatus};

#[test]
fn a_child_killed_by_a_signal_has_crashed() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe_on(&hub, "process:crash");

    let process = hub.spawn_process("crash", sh("echo before; kill -KILL $$")).unwrap();
    let seen = client.until_final_status();
    assert_eq!(support::lines_of(&seen, "stdout"), ["before"]);
    let last = &seen.last().unwrap()["data"];
    assert_eq!(*last, json!({"status": "crashed", "exitCode": 137, "signal": "SIGKILL"}));

    let exit = process.wait().unwrap();
    assert_eq!((exit.status(), exit.code(), exit.signal()), (ProcessStatus::Crashed, 137, Some(9)));
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
    drop(client);
    hub.shutdown();
}

#[test]
fn a_stop_request_ends_the_child_with_sigterm() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe_on(&hub, "process:served");

    // `exec` makes the shell the sleeper: no grandchild keeps the pipes open.
    let process = hub.spawn_process("served", sh("echo ready; exec sleep 30")).unwrap();
    assert_eq!(client.recv_json()["data"]["status"], "running");
    assert_eq!(client.recv_json()["data"], "ready");
    assert_eq!(process.try_wait().unwrap(), None);
    assert_eq!(process.wait_timeout(Duration::from_millis(50)).unwrap(), None);

    process.stop();
    process.stop();
    let last = client.recv_json();
    assert_eq!(last["data"], json!({"status": "stopped", "exitCode": 143, "signal": "SIGTERM"}));
    let exit = process.wait().unwrap();
    assert_eq!((exit.status(), exit.signal()), (ProcessStatus::Stopped, Some(15)));
    drop(client);
    hub.shutdown();
}

#[test]
fn a_child_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe_on(&hub, "process:stubborn");

    let options =
        ProcessOptions { stop_grace: Duration::from_millis(200), ..ProcessOptions::default() };
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let process = options.spawn(&hub, "stubborn", sh(script)).unwrap();
    assert_eq!(client.recv_json()["data"]["status"], "running");
    assert_eq!(client.recv_json()["data"], "ready");

    process.stop();
    let last = client.until_final_status().pop().unwrap();
    assert_eq!(last["data"], json!({"status": "stopped", "exitCode": 137, "signal": "SIGKILL"}));
    drop(client);
    hub.shutdown();
}

#[test]
fn dropping_the_handle_stops_a_running_child() {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe_on(&hub, "process:dropped");

    let process = hub.spawn_process("dropped", sh("echo ready; exec sleep 30")).unwrap();
    assert_eq!(client.recv_json()["data"]["status"], "running");
    assert_eq!(client.recv_json()["data"], "ready");
    drop(process);
    assert_eq!(client.recv_json()["data"]["status"], "stopped");
    drop(client);
    hub.shutdown();
}

#[test]
fn a_stop_after_the_exit_keeps_the_exit() {
    let hub = wshub::Hub::new(wshub::HubConfig::default()).unwrap();
    let process = hub.spawn_process("quick", sh("exit 4")).unwrap();
    let exit = process.wait().unwrap();
    process.stop();
    assert_eq!((exit.status(), exit.code()), (ProcessStatus::Exited, 4));
    assert_eq!(process.wait().unwrap(), exit);
}
