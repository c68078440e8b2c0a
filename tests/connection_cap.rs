//! Connections beyond `max_connections` get `503` with `Retry-After` from the accept
//! thread itself, counting those still in their handshake, without a thread being
//! started for them; the places come back when connections end, and a canary keeps
//! receiving throughout.

mod support;

use std::io::Write;

use support::{Client, canary, raw, thread_count};
use wshub::HubConfig;

#[test]
fn connections_beyond_the_cap_get_503_before_any_thread_starts() {
    let config = HubConfig { max_connections: 4, ..canary::config() };
    let (hub, server) = support::start(config);
    canary::watch(&hub, Client::connect(&server), || {
        let base_threads = thread_count();

        // Two upgraded clients and one socket stuck in its handshake fill the other places.
        let first = Client::connect(&server);
        let second = Client::connect(&server);
        let mut stuck = raw::tcp(&server);
        stuck.write_all(b"GET /ws HTTP/1.1\r\n").unwrap();
        // Two threads per upgraded client, one for the handshake.
        let threads = base_threads + 5;
        assert!(support::wait_until(support::PATIENCE, || thread_count() == threads));

        for _ in 0..5 {
            let refused = raw::try_upgrade(&server, "/ws", &[]).expect_err("over the cap");
            assert_eq!(refused.status, 503, "{refused:?}");
            assert_eq!(refused.header("Retry-After"), Some("1"));
        }
        assert_eq!(thread_count(), threads, "a refused connection started a thread");

        // The stuck handshake times out and a client leaves: two places are free again.
        assert_eq!(raw::read_response(&mut stuck).status, 408);
        drop((stuck, first));
        assert!(support::wait_until(support::PATIENCE, || hub.client_count() == 2));
        let third = Client::connect(&server);
        let fourth = Client::connect(&server);
        drop((second, third, fourth));
    });
    hub.shutdown();
}
