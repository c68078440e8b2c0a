//! Node's `ws` client, written by others, is refused with `401` for a wrong token, then
//! subscribes and receives a process's output and status from the hub.

mod support;

use std::process::{Command, Stdio};

use support::interop::{self, in_repo};

#[test]
fn node_ws_client_streams_a_process() {
    let modules = in_repo(".ci/node_modules");
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).status();
    let present = node.is_ok_and(|s| s.success()) && modules.join("ws").exists();
    if !interop::available(present, "Node.js with the ws package (.ci/node_modules)") {
        return;
    }
    let mut client = Command::new("node");
    client.arg(in_repo("tests/interop/client.cjs")).env("NODE_PATH", modules);
    interop::smoke(client);
}
