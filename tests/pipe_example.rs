//! The pipe example end to end: it prints its WebSocket URL first, publishes each line
//! of its standard input to `process:{id}`, then `exited`, and with `--exit` closes its
//! clients with 1001 and ends with status 0.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Client, PATIENCE, example_binary};

#[test]
fn pipe_publishes_stdin_lines_then_exited() {
    let mut child = Command::new(example_binary("pipe"))
        .args(["--addr", "127.0.0.1:0", "--id", "build", "--exit"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let url = url.trim();
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/ws"), "{url}");

    let mut client = Client::connect_url(url);
    client.subscribe("process:build");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first line\nsecond line\r\nlast without newline").unwrap();
    drop(stdin);

    // `running` goes out right after the URL, so it may come before or after the
    // subscription; everything after it must be there.
    let mut lines = Vec::new();
    let status = loop {
        let message = client.recv_json();
        assert_eq!(message["processId"], "build");
        match (message["type"].as_str(), message["data"]["status"].as_str()) {
            (Some("process_output"), _) => lines.push(message["data"].clone()),
            (Some("process_status"), Some("running")) => assert!(lines.is_empty()),
            _ => break message,
        }
    };
    assert_eq!(lines, ["first line", "second line", "last without newline"]);
    assert_eq!(status["type"], "process_status");
    assert_eq!(status["data"]["status"], "exited");
    assert_eq!(client.expect_close(), 1001);

    let deadline = Instant::now() + PATIENCE;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}
