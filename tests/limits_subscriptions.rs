//! One connection asking for 1,100 subscriptions gets the first 1,024 (the default
//! limit) confirmed and an `error` for each of the rest, keeps its connection, and gives
//! every subscription back when it leaves, while a canary keeps receiving.

mod support;

use serde_json::json;
use support::{Client, canary};

const ASKED: usize = 1_100;
const LIMIT: usize = 1_024;

#[test]
fn subscriptions_past_the_limit_are_refused_one_by_one() {
    let (hub, server) = support::start(canary::config());
    assert_eq!(hub.config().max_subscriptions, LIMIT);
    canary::watch(&hub, Client::connect(&server), || {
        let mut greedy = Client::connect(&server);
        for n in 0..ASKED {
            greedy.send_json(&json!({"type": "subscribe", "data": format!("topic-{n}")}));
        }
        for n in 0..ASKED {
            let reply = greedy.recv_json();
            if n < LIMIT {
                assert_eq!(
                    (&reply["type"], &reply["channel"]),
                    (&"subscribed".into(), &json!(format!("topic-{n}")))
                );
            } else {
                assert_eq!(reply["type"], "error", "{reply}");
                let text = reply["data"].as_str().unwrap();
                assert!(text.contains("the limit of 1024 subscriptions is reached"), "{text}");
            }
        }
        assert_eq!(hub.stats().subscriptions, LIMIT + 1);
        // Still open: a subscription held can be dropped and another taken.
        greedy.unsubscribe("topic-0");
        greedy.subscribe("topic-1099");
        greedy.send_json(&json!({"type": "ping"}));
        assert_eq!(greedy.recv_json()["type"], "pong");
        drop(greedy);
        assert!(support::wait_until(support::PATIENCE, || hub.stats().subscriptions == 1));
    });
    hub.shutdown();
}
