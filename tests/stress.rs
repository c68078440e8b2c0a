//! Several publishers and churning subscribers at once: clients subscribed throughout
//! receive every message exactly once and in order per publisher, and the channel table
//! is empty once every client has left.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::json;
use support::{Client, PATIENCE, Seen, start, wait_until};
use wshub::{HubConfig, Message};

/// Messages per publisher.
const COUNT: usize = 2_000;
const PUBLISHERS: usize = 3;
const STEADY_CLIENTS: usize = 3;
const CHURNING_CLIENTS: usize = 3;

fn channel(publisher: usize) -> String {
    format!("stress-{publisher}")
}

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn steady_clients_get_everything_once_while_others_churn() {
    // Queues large enough for every message: a loss here can only be a bug.
    let config = HubConfig { queue_capacity: COUNT * PUBLISHERS + 64, ..HubConfig::default() };
    let (hub, server) = start(config);

    let mut steady: Vec<Client> = (0..STEADY_CLIENTS).map(|_| Client::connect(&server)).collect();
    for client in &mut steady {
        for publisher in 0..PUBLISHERS {
            client.subscribe(&channel(publisher));
        }
    }
    let readers: Vec<_> = steady
        .into_iter()
        .map(|mut client| {
            thread::spawn(move || {
                let mut got: HashMap<usize, Vec<usize>> = HashMap::new();
                for _ in 0..COUNT * PUBLISHERS {
                    let message = client.recv_json();
                    let publisher = message["data"]["data"]["p"].as_u64().unwrap() as usize;
                    let n = message["data"]["data"]["n"].as_u64().unwrap() as usize;
                    assert_eq!(message["channel"], channel(publisher));
                    got.entry(publisher).or_default().push(n);
                }
                assert!(matches!(client.next(Duration::from_millis(200)), Seen::Nothing));
                got
            })
        })
        .collect();

    let publishing = Arc::new(AtomicBool::new(true));
    let churners: Vec<_> = (0..CHURNING_CLIENTS)
        .map(|seed| {
            let url = server.url();
            let publishing = Arc::clone(&publishing);
            thread::spawn(move || {
                let mut client = Client::connect_url(&url);
                let mut random = XorShift(0x9e37_79b9_7f4a_7c15 ^ (seed as u64 + 1));
                let mut rounds = 0;
                while publishing.load(Ordering::Relaxed) && rounds < 10_000 {
                    let name = channel(random.next() as usize % PUBLISHERS);
                    let kind = if random.next() % 2 == 0 { "subscribe" } else { "unsubscribe" };
                    client.send_json(&json!({"type": kind, "data": name}));
                    // Read whatever is there: confirmations and channel messages.
                    while let Seen::Json(_) = client.next(Duration::from_millis(1)) {}
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let hub = hub.clone();
            thread::spawn(move || {
                for n in 0..COUNT {
                    let message = Message::event("tick", json!({"p": publisher, "n": n}));
                    let sent = hub.send_to_channel(&channel(publisher), message).unwrap();
                    assert!(sent >= STEADY_CLIENTS, "every steady client is subscribed");
                    if n % 200 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();

    for publisher in publishers {
        publisher.join().expect("publisher");
    }
    for reader in readers {
        let got = reader.join().expect("a steady client got everything");
        for publisher in 0..PUBLISHERS {
            assert_eq!(got[&publisher], (0..COUNT).collect::<Vec<_>>(), "publisher {publisher}");
        }
    }
    publishing.store(false, Ordering::Relaxed);
    for churner in churners {
        assert!(churner.join().expect("churner") > 0);
    }

    assert!(wait_until(PATIENCE, || hub.client_count() == 0), "{:?}", hub.stats());
    let stats = hub.stats();
    assert_eq!((stats.channels, stats.subscriptions), (0, 0), "{stats:?}");
    assert_eq!(stats.skipped, 0);
    hub.shutdown();
}
