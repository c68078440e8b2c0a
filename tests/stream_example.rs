//! The `stream` example end to end with `--wait-for-viewer --exit-when-done`: the page,
//! `/stats` and `/status` answer over HTTP, a WebSocket client sees the whole run, and
//! the example exits with the child's exit code once the final status was delivered.

mod support;

use serde_json::{Value, json};
use support::{Client, Example, http, lines_of};

/// Starts the example on a free port; it runs `script` once a viewer subscribed to
/// `process:{id}`, and exits when it is done.
fn start(id: &str, script: &str) -> Example {
    let options = ["--addr", "127.0.0.1:0", "--wait-for-viewer", "--exit-when-done"];
    Example::start(&[&options[..], &["--id", id, "--", "sh", "-c", script]].concat())
}

#[test]
fn a_run_is_served_over_http_and_websocket_then_the_example_exits() {
    let script = "printf 'one\\ntwo\\n'; printf 'oops\\n' >&2; printf 'three\\n'; exit 3";
    let mut example = start("e2e", script);
    assert!(example.url.starts_with("http://127.0.0.1:"), "{}", example.url);
    assert!(!example.url.ends_with(":0/"), "{}", example.url);

    let page = http(example.addr(), "GET", "/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.body.contains(r#"data-process-id="e2e""#), "{}", page.body);
    assert!(page.body.contains("new WebSocket("), "{}", page.body);

    let stats = http(example.addr(), "GET", "/stats");
    assert_eq!((stats.status, stats.header("content-type")), (200, Some("application/json")));
    let stats: Value = serde_json::from_str(&stats.body).expect("JSON stats");
    assert!(stats["clients"].is_u64() && stats["delivered"].is_u64(), "{stats}");
    let status = http(example.addr(), "GET", "/status");
    assert_eq!(status.body, r#"{"status":"waiting"}"#);

    let mut client = Client::connect_url(&example.ws_url());
    client.subscribe("process:e2e");
    let seen = client.until_final_status();
    assert_eq!(seen[0]["data"], json!({"status": "running", "exitCode": 0}));
    assert_eq!(lines_of(&seen, "stdout"), ["one", "two", "three"]);
    assert_eq!(lines_of(&seen, "stderr"), ["oops"]);
    assert_eq!(seen.last().unwrap()["data"], json!({"status": "exited", "exitCode": 3}));

    assert_eq!(client.expect_close(), 1001);
    assert_eq!(example.wait_exit(), Some(3));
}

#[test]
fn a_crash_is_the_exit_code_of_the_example() {
    let script = "echo bye; kill -KILL $$";
    let mut example = start("crash", script);
    let mut client = Client::connect_url(&example.ws_url());
    client.subscribe("process:crash");
    let last = client.until_final_status().pop().unwrap();
    assert_eq!(last["data"], json!({"status": "crashed", "exitCode": 137, "signal": "SIGKILL"}));
    assert_eq!(example.wait_exit(), Some(137));
}

#[test]
fn a_bad_process_id_is_refused_before_anything_is_served() {
    let output = std::process::Command::new(support::example_binary("stream"))
        .args(["--addr", "127.0.0.1:0", "--id", "bad:id", "--", "true"])
        .output()
        .expect("run the example");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no URL is printed for a bad id");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid process id"), "{stderr}");
}
