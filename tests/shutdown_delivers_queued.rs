//! Everything published before `Hub::shutdown` reaches a client that reads slowly, in
//! order and without a gap, ahead of its 1001 close.

mod support;

use std::thread;
use std::time::Duration;

use support::{Client, PATIENCE, Seen, start};
use wshub::HubConfig;

/// Enough bytes to fill the socket buffers, so that shutdown finds the writer stalled
/// in the middle of a batch with more waiting in the queue.
const COUNT: usize = 30_000;

/// What a slow reader saw: the next number it expected, the gaps, and the close code.
type Outcome = (usize, Vec<(usize, usize)>, Option<u16>);

fn read_slowly(mut client: Client) -> Outcome {
    let mut next = 0;
    let mut gaps = Vec::new();
    loop {
        match client.next(PATIENCE) {
            Seen::Json(value) => {
                let text = value["data"].as_str().expect("a line");
                let n: usize = text[..8].trim().parse().expect("a number");
                if n != next {
                    gaps.push((next, n));
                }
                next = n + 1;
                if n % 8 == 0 {
                    thread::sleep(Duration::from_micros(500));
                }
            }
            Seen::Close(frame) => {
                return (next, gaps, Some(frame.map_or(1005, |f| u16::from(f.code))));
            }
            _ => return (next, gaps, None),
        }
    }
}

#[test]
fn shutdown_dropped_the_batch_in_flight_and_cut_the_backlog() {
    let config = HubConfig { queue_capacity: 2 * COUNT, ..HubConfig::default() };
    let (hub, server) = start(config);
    let mut client = Client::connect(&server);
    client.subscribe("process:flood");
    let reader = thread::spawn(move || read_slowly(client));

    let pad = "x".repeat(300);
    for n in 0..COUNT {
        let queued = hub.send_process_output("flood", &format!("{n:<8}{pad}")).unwrap();
        assert_eq!(queued, 1, "message {n} was not queued");
    }
    hub.shutdown();

    let (next, gaps, close) = reader.join().expect("the reader");
    assert_eq!(gaps, [], "messages were lost in the middle");
    assert_eq!((next, close), (COUNT, Some(1001)), "the tail or the close was lost");
}
