//! How a forwarded child ends when it is not by itself: a signal makes it `crashed`
//! with 128 plus the signal and the signal's name; a stop request makes it `stopped`,
//! with SIGKILL after the grace period for a child that ignores SIGTERM.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Client, sh, start_default};
use wshub::{Hub, ProcessHandle, ProcessOptions, ProcessStatus};

/// `exec` makes the shell the sleeper: no grandchild keeps the pipes open.
const SLEEPER: &str = "echo ready; exec sleep 30";

/// Runs `script` as process `id` with one subscriber, and waits until it printed a line.
fn spawn_watched(id: &str, options: &ProcessOptions, script: &str) -> (Hub, Client, ProcessHandle) {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe(&format!("process:{id}"));
    let process = options.spawn(&hub, id, sh(script)).unwrap();
    assert_eq!(client.recv_json()["data"]["status"], "running");
    assert!(client.recv_json()["data"].is_string(), "a first line");
    (hub, client, process)
}

fn stop_hub(hub: &Hub, client: Client) {
    drop(client);
    hub.shutdown();
}

#[test]
fn a_child_killed_by_a_signal_has_crashed() {
    let script = "echo before; kill -KILL $$";
    let (hub, mut client, process) = spawn_watched("crash", &ProcessOptions::default(), script);
    let last = client.until_final_status().pop().unwrap();
    assert_eq!(last["data"], json!({"status": "crashed", "exitCode": 137, "signal": "SIGKILL"}));

    let exit = process.wait().unwrap();
    assert_eq!((exit.status(), exit.code()), (ProcessStatus::Crashed, 137));
    assert_eq!(exit.signal(), Some(9));
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
    stop_hub(&hub, client);
}

#[test]
fn a_stop_request_ends_the_child_with_sigterm() {
    let (hub, mut client, process) = spawn_watched("served", &ProcessOptions::default(), SLEEPER);
    assert_eq!(process.try_wait().unwrap(), None);
    assert_eq!(process.wait_timeout(Duration::from_millis(50)).unwrap(), None);

    process.stop();
    process.stop();
    let last = client.recv_json();
    assert_eq!(last["data"], json!({"status": "stopped", "exitCode": 143, "signal": "SIGTERM"}));
    let exit = process.wait().unwrap();
    assert_eq!((exit.status(), exit.signal()), (ProcessStatus::Stopped, Some(15)));
    stop_hub(&hub, client);
}

#[test]
fn a_child_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let options =
        ProcessOptions { stop_grace: Duration::from_millis(200), ..ProcessOptions::default() };
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let (hub, mut client, process) = spawn_watched("stubborn", &options, script);

    process.stop();
    let last = client.until_final_status().pop().unwrap();
    assert_eq!(last["data"], json!({"status": "stopped", "exitCode": 137, "signal": "SIGKILL"}));
    stop_hub(&hub, client);
}

#[test]
fn dropping_the_handle_stops_a_running_child() {
    let (hub, mut client, process) = spawn_watched("dropped", &ProcessOptions::default(), SLEEPER);
    drop(process);
    assert_eq!(client.recv_json()["data"]["status"], "stopped");
    stop_hub(&hub, client);
}

#[test]
fn a_stop_after_the_exit_keeps_the_exit() {
    let hub = Hub::new(wshub::HubConfig::default()).unwrap();
    let process = hub.spawn_process("quick", sh("exit 4")).unwrap();
    let exit = process.wait().unwrap();
    process.stop();
    assert_eq!((exit.status(), exit.code()), (ProcessStatus::Exited, 4));
    assert_eq!(process.wait().unwrap(), exit);
}
