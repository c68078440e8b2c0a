//! The handshake deadline is a total: a request that never completes, or one that
//! trickles in a byte at a time, is answered `408` once the deadline passes, and its
//! thread ends, while a canary keeps receiving.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use support::{Client, canary, raw};

#[test]
fn a_request_that_never_completes_gets_408() {
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        let mut stream = raw::tcp(&server);
        stream.write_all(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n").unwrap();
        let response = raw::read_response(&mut stream);
        assert_eq!(response.status, 408, "{response:?}");
        drop(stream);
    });
    hub.shutdown();
}

#[test]
fn a_request_trickling_in_cannot_stretch_the_deadline() {
    let (hub, server) = support::start(canary::config());
    canary::watch(&hub, Client::connect(&server), || {
        // One byte every 50ms: with a 1s deadline the hub must cut it off far before the
        // 400 bytes (20s) are through, although no single read ever waits long.
        let mut stream = raw::tcp(&server);
        let request = raw::upgrade_head(server.local_addr(), "/ws", &[("X-Pad", &"p".repeat(280))]);
        assert!(request.len() > 400);
        let answered = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let trickler = {
            let (mut writer, answered, sent) =
                (stream.try_clone().unwrap(), Arc::clone(&answered), Arc::clone(&sent));
            thread::spawn(move || {
                for byte in request.bytes() {
                    if answered.load(Ordering::SeqCst) || writer.write_all(&[byte]).is_err() {
                        return;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                }
            })
        };
        let response = raw::read_response(&mut stream);
        answered.store(true, Ordering::SeqCst);
        trickler.join().unwrap();
        assert_eq!(response.status, 408, "{response:?}");
        let sent = sent.load(Ordering::SeqCst);
        assert!(sent < 200, "the hub waited for {sent} bytes");
        drop(stream);
    });
    hub.shutdown();
}
