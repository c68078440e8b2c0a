//! Shutdown stops accepting, closes every client with 1001 after writing what was
//! already queued, ends connections still in their handshake, and joins every thread:
//! the process has as many threads afterwards as before the hub.

mod support;

use std::net::TcpStream;

use support::{Client, PATIENCE, Seen, start_default, thread_count, wait_until};
use wshub::{Error, Message};

#[test]
fn shutdown_closes_with_1001_and_joins_every_thread() {
    let baseline = thread_count();
    let (hub, server) = start_default();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(&server)).collect();
    for client in &mut clients {
        client.subscribe("process:final");
    }
    // A connection that never sends its request sits in its handshake.
    let half_open = TcpStream::connect(server.local_addr()).unwrap();
    // The waker and accept threads, a reader and a writer per client, and the
    // handshaking thread.
    let expected = baseline + 2 + 2 * clients.len() + 1;
    assert!(wait_until(PATIENCE, || thread_count() == expected), "{}", thread_count());

    hub.send_process_output("final", "last words").unwrap();
    hub.shutdown();

    for client in &mut clients {
        match client.next(PATIENCE) {
            Seen::Json(message) => assert_eq!(message["data"], "last words"),
            other => panic!("queued messages are written before the close: {other:?}"),
        }
        assert_eq!(client.expect_close(), 1001);
    }
    assert_eq!(thread_count(), baseline, "every thread of the hub is joined");
    assert!(matches!(hub.listen("127.0.0.1:0"), Err(Error::Shutdown)));
    assert_eq!(hub.send_to_channel("process:final", Message::error("x")).unwrap(), 0);
    assert!(TcpStream::connect(server.local_addr()).is_err(), "nothing listens any more");
    drop(half_open);
    hub.shutdown();
}
