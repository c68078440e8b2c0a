//! The line rules on real pipes and on any reader: invalid UTF-8 is replaced, a 1 MiB
//! line arrives in marked pieces of at most the cap, a last line without a newline is
//! kept, and CRLF endings lose their `\r`.

mod support;

use std::io::Cursor;

use serde_json::Value;
use support::{Client, lines_of, sh, start_default};
use wshub::{Hub, ProcessOptions};

/// Subscribes to `process:{id}`, runs `start` (keeping what it returns until the end)
/// and returns the `process_output` messages up to the final status, or up to `count`
/// messages when no status comes.
fn watch<T>(id: &str, start: impl FnOnce(&Hub) -> T, count: Option<usize>) -> Vec<Value> {
    let (hub, server) = start_default();
    let mut client = Client::connect(&server);
    client.subscribe(&format!("process:{id}"));
    let _running = start(&hub);
    let seen = match count {
        None => client.until_final_status(),
        Some(count) => (0..count).map(|_| client.recv_json()).collect(),
    };
    drop(client);
    hub.shutdown();
    seen.into_iter().filter(|m| m["type"] == "process_output").collect()
}

fn run(id: &str, script: &str) -> Vec<Value> {
    watch(id, |hub| hub.spawn_process(id, sh(script)).unwrap(), None)
}

#[test]
fn invalid_utf8_is_replaced_not_dropped() {
    let seen = run("bytes", r"printf 'ok \377\376 end\n\303\251t\303\251\n'");
    assert_eq!(lines_of(&seen, "stdout"), ["ok \u{fffd}\u{fffd} end", "\u{e9}t\u{e9}"]);
}

#[test]
fn a_one_mebibyte_line_arrives_in_marked_pieces() {
    let script = "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after";
    let seen = run("huge", script);
    let cap = ProcessOptions::default().max_line_len;
    assert_eq!(seen.len(), 1024 * 1024 / cap + 1, "pieces and the line after");
    let (after, pieces) = seen.split_last().unwrap();
    assert_eq!(after["data"], "after");
    assert!(after.get("partial").is_none());

    let (last, partial) = pieces.split_last().unwrap();
    assert!(partial.iter().all(|m| m["partial"] == true), "every piece but the last");
    assert!(last.get("partial").is_none(), "{last}");
    let mut line = String::new();
    for piece in pieces {
        let text = piece["data"].as_str().unwrap();
        assert!(text.len() <= cap, "a piece of {} bytes", text.len());
        line.push_str(text);
    }
    assert!(line.len() == 1 << 20 && line.bytes().all(|b| b == b'x'));
}

#[test]
fn pieces_are_cut_between_characters_at_a_chosen_cap() {
    let options = ProcessOptions { max_line_len: 7, ..ProcessOptions::default() };
    let script = "e='\\342\\202\\254'; printf \"$e$e$e$e$e\\n\"";
    let seen = watch("euro", |hub| options.spawn(hub, "euro", sh(script)).unwrap(), None);
    let pieces: Vec<(&str, bool)> =
        seen.iter().map(|m| (m["data"].as_str().unwrap(), m["partial"] == true)).collect();
    assert_eq!(pieces, [("€€", true), ("€€", true), ("€", false)]);
}

#[test]
fn a_last_line_without_newline_is_sent() {
    let seen = run("tail", "printf 'first\\nsecond'; printf 'oops' >&2");
    assert_eq!(lines_of(&seen, "stdout"), ["first", "second"]);
    assert_eq!(lines_of(&seen, "stderr"), ["oops"]);
}

#[test]
fn crlf_endings_lose_the_carriage_return_only() {
    let seen = run("crlf", "printf 'one\\r\\ntwo\\r\\n\\r\\nthree\\rfour\\r\\n'");
    assert_eq!(lines_of(&seen, "stdout"), ["one", "two", "", "three\rfour"]);
}

#[test]
fn any_reader_is_forwarded_with_the_same_rules() {
    let input = b"log 1\r\nlog \xff2\nlast".to_vec();
    let mut lines = 0;
    let seen = watch(
        "logfile",
        |hub| lines = hub.forward_lines("logfile", Cursor::new(input)).unwrap().join().unwrap(),
        Some(3),
    );
    assert_eq!(lines, 3);
    assert_eq!(lines_of(&seen, "stdout"), ["log 1", "log \u{fffd}2", "last"]);
}
