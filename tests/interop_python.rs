//! Python's `websockets` client, written by others, is refused with `401` for a wrong
//! token, then subscribes and receives a process's output and status from the hub.

mod support;

use std::process::Command;

use support::interop::{self, in_repo};

#[test]
fn python_websockets_client_streams_a_process() {
    let python = in_repo(".ci/venv/bin/python");
    if !interop::available(python.exists(), "Python's websockets package (.ci/venv)") {
        return;
    }
    let mut client = Command::new(python);
    client.arg(in_repo("tests/interop/client.py"));
    interop::smoke(client);
}
