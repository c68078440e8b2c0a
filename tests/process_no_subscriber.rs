//! With nobody watching, a child that writes 200,000 lines to each pipe still runs to
//! its end: the pipes are drained whether or not anyone subscribed.

mod support;

use support::{PATIENCE, sh};
use wshub::{Hub, HubConfig, ProcessStatus};

/// Lines per pipe: about 1.3 MB each, twenty times what a pipe holds.
const COUNT: usize = 200_000;

#[test]
fn a_chatty_child_with_no_subscriber_never_stalls() {
    let hub = Hub::new(HubConfig::default()).unwrap();
    let before = support::thread_count();
    let script = format!("seq 1 {COUNT} >&2 & seq 1 {COUNT}; wait");

    let process = hub.spawn_process("chatty", sh(&script)).unwrap();
    let exit = process.wait_timeout(PATIENCE).unwrap().expect("the child stalled");
    assert_eq!((exit.status(), exit.code()), (ProcessStatus::Exited, 0));
    assert_eq!(hub.stats().delivered, 0);

    drop(process);
    assert_eq!(support::thread_count(), before, "a forwarding thread outlived its handle");
}
