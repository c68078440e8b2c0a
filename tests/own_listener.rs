//! A program that accepts connections itself can hand each socket to the hub, or hand
//! over its whole listener; both serve clients like `Hub::listen`.

mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};

use support::Client;
use wshub::{Error, Hub, HubConfig};

#[test]
fn an_accepted_stream_is_served() {
    let hub = Hub::new(HubConfig::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let accepting = std::thread::spawn(move || listener.accept().unwrap().0);

    let connecting = std::thread::spawn(move || {
        let mut client = Client::connect_url(&url);
        client.subscribe("handed-over");
        client
    });
    hub.accept(accepting.join().unwrap()).unwrap();
    let mut client = connecting.join().unwrap();

    hub.send_process_output("x", "unused").unwrap();
    hub.send_to_channel("handed-over", wshub::Message::error("hi")).unwrap();
    assert_eq!(client.recv_json()["data"], "hi");
    hub.shutdown();

    // After shutdown a handed-over socket is refused, with a status for its client.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut late = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    late.set_read_timeout(Some(support::PATIENCE)).unwrap();
    let refused = hub.accept(listener.accept().unwrap().0);
    assert!(matches!(refused, Err(Error::Shutdown)), "{refused:?}");
    let mut answer = String::new();
    late.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
}

#[test]
fn a_handed_over_listener_is_served() {
    let hub = Hub::new(HubConfig::default()).unwrap();
    let server = hub.serve(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let mut client = Client::connect(&server);
    client.subscribe("mine");
    assert_eq!(hub.subscriber_count("mine"), 1);
    server.stop();
    hub.shutdown();
}
