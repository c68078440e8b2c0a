//! A client that stops reading never blocks the publisher: channel sends skip it (and
//! count the skips) while it stays connected and gets later messages once it reads
//! again, and a fast client on the same channel gets every message in order. A
//! broadcast that finds its queue full disconnects it instead.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::{Client, PATIENCE, Seen, connect_with_small_buffer, start_default};
use wshub::{Hub, Message};

const COUNT: usize = 5_000;

/// How far the publisher may run ahead of the fast client: well inside its queue.
const AHEAD: usize = 128;

/// A line of about 1 KiB, so the stalled client's socket buffers fill quickly.
fn line(n: usize) -> String {
    format!("{n:06} {}", "x".repeat(1_000))
}

/// Returns the number a line starts with, from an output line or a broadcast event.
fn number(message: &Value) -> usize {
    let text = match message["type"].as_str() {
        Some("event") => &message["data"]["data"],
        _ => &message["data"],
    };
    text.as_str().expect("text")[..6].parse().expect("a number")
}

/// Reads `COUNT` messages on its own thread and reports each number as it arrives.
fn spawn_fast_reader(mut client: Client) -> (mpsc::Receiver<usize>, thread::JoinHandle<Client>) {
    let (seen, numbers) = mpsc::channel();
    let reader = thread::spawn(move || {
        for _ in 0..COUNT {
            let message = client.recv_json();
            seen.send(number(&message)).unwrap();
        }
        client
    });
    (numbers, reader)
}

/// Publishes `COUNT` messages, never more than `AHEAD` beyond what the fast client has
/// read; returns the numbers the fast client saw, in order.
fn publish_paced(
    publish: impl Fn(usize) + Send + 'static,
    numbers: &mpsc::Receiver<usize>,
) -> Vec<usize> {
    let (next, allowed) = mpsc::channel::<usize>();
    let publisher = thread::spawn(move || {
        let mut permitted = AHEAD;
        for n in 0..COUNT {
            while n >= permitted {
                permitted = allowed.recv_timeout(PATIENCE).expect("the fast client reads");
            }
            publish(n);
        }
    });
    let mut received = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let n = numbers.recv_timeout(PATIENCE).expect("the fast client keeps up");
        received.push(n);
        let _ = next.send(received.len() + AHEAD);
    }
    publisher.join().expect("the publisher finished without blocking");
    received
}

fn slow_and_fast(hub: &Hub, server: &wshub::Server, channel: &str) -> (Client, Client) {
    let mut slow = connect_with_small_buffer(server, 4096);
    let mut fast = Client::connect(server);
    slow.subscribe(channel);
    fast.subscribe(channel);
    assert!(support::wait_until(PATIENCE, || hub.client_count() == 2));
    (slow, fast)
}

#[test]
fn channel_sends_skip_a_stalled_client_and_keep_it() {
    let (hub, server) = start_default();
    let (mut slow, fast) = slow_and_fast(&hub, &server, "process:busy");
    // Ids follow the order in which handshakes finish: find each client by its address.
    let id_of = |client: &Client| {
        let addr = client.ws.get_ref().local_addr().unwrap();
        hub.clients().into_iter().find(|c| c.peer_addr == addr).expect("connected").id
    };
    let (slow_id, fast_id) = (id_of(&slow), id_of(&fast));

    let (numbers, reader) = spawn_fast_reader(fast);
    let publisher_hub = hub.clone();
    let received = publish_paced(
        move |n| {
            publisher_hub.send_process_output("busy", &line(n)).unwrap();
        },
        &numbers,
    );
    let mut fast = reader.join().unwrap();
    assert_eq!(received, (0..COUNT).collect::<Vec<_>>(), "the fast client lost or reordered");

    let stats = hub.stats();
    assert!(stats.skipped > 0, "the stalled client should have been skipped: {stats:?}");
    assert_eq!(hub.client(slow_id).unwrap().skipped, stats.skipped);
    assert_eq!(hub.client(fast_id).unwrap().skipped, 0);
    assert_eq!(hub.client_count(), 2, "skipping never disconnects");

    // Reading again: the stalled client drains what was queued, in order with gaps...
    let mut seen: Vec<usize> = Vec::new();
    loop {
        match slow.next(Duration::from_secs(1)) {
            Seen::Json(message) => seen.push(number(&message)),
            Seen::Nothing => break,
            other => panic!("the stalled client should still be connected: {other:?}"),
        }
    }
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "out of order or repeated");
    assert!(seen.len() < COUNT, "it cannot have received everything: {}", seen.len());
    // ...and then receives what is published next.
    hub.send_process_output("busy", &line(999_999)).unwrap();
    assert_eq!(number(&slow.recv_json()), 999_999);
    assert_eq!(number(&fast.recv_json()), 999_999);
    hub.shutdown();
}

#[test]
fn a_broadcast_disconnects_a_stalled_client() {
    let (hub, server) = start_default();
    let (mut slow, fast) = slow_and_fast(&hub, &server, "anything");

    let (numbers, reader) = spawn_fast_reader(fast);
    let publisher_hub = hub.clone();
    let received = publish_paced(
        move |n| {
            publisher_hub.broadcast(Message::event("tick", line(n))).unwrap();
        },
        &numbers,
    );
    reader.join().unwrap();
    assert_eq!(received, (0..COUNT).collect::<Vec<_>>(), "the fast client lost or reordered");

    assert_eq!(hub.stats().slow_disconnected, 1);
    assert!(support::wait_until(PATIENCE, || hub.client_count() == 1));
    // The stalled client finds the end of its stream: a close frame if there was room
    // for one, or a connection that simply ended.
    loop {
        match slow.next(PATIENCE) {
            Seen::Json(_) => continue,
            Seen::Close(frame) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1008));
                break;
            }
            Seen::Gone(_) => break,
            other => panic!("expected the end of the connection, saw {other:?}"),
        }
    }
    hub.shutdown();
}
