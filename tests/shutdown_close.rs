//! Shutdown closes every client with 1001 (going away), never with a code reserved for
//! the local side (1005, 1006, 1015), and joins every thread the hub started.

mod support;

use support::Client;
use support::canary::{self, Baseline};

#[test]
fn shutdown_closes_clients_with_1001_and_joins_every_thread() {
    let baseline = Baseline::take();
    let (hub, server) = support::start(canary::config());
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(&server)).collect();
    clients[0].subscribe("news");

    hub.shutdown();
    for client in &mut clients {
        assert_eq!(client.expect_close(), 1001);
    }
    drop(clients);
    baseline.assert_restored();
}
