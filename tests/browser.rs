//! A real browser shows a run: headless Chromium loads the `stream` example's page while
//! the example runs a command with `--wait-for-viewer`, and the DOM it dumps holds the
//! command's lines, stderr marked, and the final status.
//!
//! Without Chromium the test says so and passes, except in CI (`CI=true`), where
//! `.ci/run` installs it and its absence is a failure.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Example;

/// The longest the browser may take to start, load the page and dump it.
const BROWSER_PATIENCE: Duration = Duration::from_secs(90);

/// Virtual milliseconds the page gets after loading. Pending fetches pause the clock:
/// the page's `/status?wait` request holds it until the run has ended.
const VIRTUAL_TIME_BUDGET: &str = "--virtual-time-budget=5000";

fn find_chromium() -> Option<PathBuf> {
    let usual = Path::new("/usr/bin/chromium");
    if usual.exists() {
        return Some(usual.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.exists())
}

/// A fresh profile folder, removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn new() -> Profile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("wshub-browser-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a profile folder");
        Profile(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `url` in headless Chromium and returns the DOM it dumps.
fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = Profile::new();
    let mut browser = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            VIRTUAL_TIME_BUDGET,
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Chromium");
    let mut stdout = browser.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });

    let deadline = Instant::now() + BROWSER_PATIENCE;
    let status = loop {
        if let Some(status) = browser.try_wait().expect("Chromium's status") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = browser.kill();
            let _ = browser.wait();
            panic!("Chromium did not finish within {BROWSER_PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().expect("the DOM");
    assert!(status.success(), "Chromium failed: {status}");
    dom
}

/// Asserts that `parts` occur in `text` in this order.
fn assert_in_order(text: &str, parts: &[&str]) {
    let mut from = 0;
    for part in parts {
        match text[from..].find(part) {
            Some(at) => from += at + part.len(),
            None => panic!("{part:?} is missing (or out of order) in the DOM:\n{text}"),
        }
    }
}

#[test]
fn the_page_shows_the_lines_and_the_final_status() {
    let Some(chromium) = find_chromium() else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "Chromium is missing in CI; .ci/run installs it"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let script = "echo one; echo two; echo 'something odd' >&2; sleep 0.2; echo three; exit 3";
    let example = Example::start(&[
        "--addr",
        "127.0.0.1:0",
        "--id",
        "browser",
        "--wait-for-viewer",
        "--",
        "sh",
        "-c",
        script,
    ]);

    let dom = dump_dom(&chromium, &example.url);
    assert_in_order(
        &dom,
        &[
            r#"<div class="line stdout">one</div>"#,
            r#"<div class="line stdout">two</div>"#,
            r#"<div class="line stdout">three</div>"#,
        ],
    );
    assert!(dom.contains(r#"<div class="line stderr">something odd</div>"#), "{dom}");
    assert_in_order(&dom, &[r#"id="status" class="badge exited error""#, ">exited 3</span>"]);
}
