//! Runs a command and shows its output live in a browser:
//! `cargo run --release --example stream -- --id demo -- sh -c 'echo hello; sleep 1'`.
//!
//! The first line printed is the page's URL. The page (`/`) follows `process:{id}` over
//! the WebSocket at `/ws`. `/status` answers the process's state as JSON (the `data` of
//! its latest `process_status`, or `{"status":"waiting"}` before it starts), and
//! `/status?wait` holds the answer until the process has ended (at most 25s): the page
//! uses it to show how the run ended even when it arrived late or its queue was full.
//! `/stats` answers the hub's counters as JSON and `/health` answers `ok`. Options:
//!
//! * `--addr ADDR`: where to listen. Default: `127.0.0.1:8080`; port 0 picks a free one.
//! * `--id NAME`: the process id, so the channel is `process:NAME`. Default: `demo`.
//! * `--wait-for-viewer`: start the command only once a client has subscribed.
//! * `--exit-when-done`: once the final status has been written to every subscriber,
//!   exit with the child's exit code; otherwise serve until Ctrl-C.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wshub::{HttpRequest, HttpResponse, Hub, HubConfig, ProcessExit};

const USAGE: &str = "usage: stream [--addr ADDR] [--id NAME] [--wait-for-viewer] \
                     [--exit-when-done] -- COMMAND [ARGS...]";

/// The page, with `__PROCESS_ID__` where the process id goes.
const PAGE: &str = include_str!("stream/index.html");
const HTML: &str = "text/html; charset=utf-8";

/// How often `--wait-for-viewer` looks for a subscriber.
const VIEWER_POLL: Duration = Duration::from_millis(50);

/// The longest `/status?wait` holds its answer.
const STATUS_WAIT: Duration = Duration::from_secs(25);

/// The process's state as `/status` reports it.
#[derive(Default)]
struct Progress {
    /// The `data` of the latest `process_status`; `None` before the start.
    status: Mutex<Option<Value>>,
    ended: Condvar,
}

impl Progress {
    fn set(&self, status: Value) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
        self.ended.notify_all();
    }

    /// Returns the state now, or once the process has ended when `wait` is set.
    fn get(&self, wait: bool) -> Value {
        let deadline = Instant::now() + STATUS_WAIT;
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        while wait && !is_final(status.as_ref()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            status = match self.ended.wait_timeout(status, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        status.clone().unwrap_or_else(|| json!({"status": "waiting"}))
    }
}

fn is_final(status: Option<&Value>) -> bool {
    status.is_some_and(|s| s["status"] != "running")
}

/// The `data` of the final `process_status`, as the hub sent it.
fn final_status(exit: &ProcessExit) -> Value {
    let mut data = json!({"status": exit.status().as_str(), "exitCode": exit.code()});
    if let Some(signal) = exit.signal_name() {
        data["signal"] = Value::from(signal.as_ref());
    }
    data
}

struct Args {
    addr: String,
    id: String,
    wait_for_viewer: bool,
    exit_when_done: bool,
    command: Vec<OsString>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Args, String> {
        let mut parsed = Args {
            addr: "127.0.0.1:8080".to_owned(),
            id: "demo".to_owned(),
            wait_for_viewer: false,
            exit_when_done: false,
            command: Vec::new(),
        };
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("--addr") => parsed.addr = value_of("--addr", args.next())?,
                Some("--id") => parsed.id = value_of("--id", args.next())?,
                Some("--wait-for-viewer") => parsed.wait_for_viewer = true,
                Some("--exit-when-done") => parsed.exit_when_done = true,
                Some("--") => break,
                Some(option) if option.starts_with("--") => {
                    return Err(format!("unknown option {option}"));
                }
                _ => {
                    parsed.command.push(arg);
                    break;
                }
            }
        }
        parsed.command.extend(args);
        if parsed.command.is_empty() {
            return Err("no command given".to_owned());
        }
        Ok(parsed)
    }
}

fn value_of(option: &str, value: Option<OsString>) -> Result<String, String> {
    value.and_then(|v| v.into_string().ok()).ok_or_else(|| format!("{option} needs a value"))
}

fn main() -> ExitCode {
    env_logger::init();
    let args = match Args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("stream: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("stream: {err}");
            let not_found =
                matches!(&err, wshub::Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound);
            ExitCode::from(if not_found { 127 } else { 1 })
        }
    }
}

fn run(args: &Args) -> Result<u8, wshub::Error> {
    let hub = Hub::new(HubConfig::default())?;
    // Checked before anything is served: the id also goes into the page.
    hub.config().check_process_id(&args.id)?;
    let page = PAGE.replace("__PROCESS_ID__", &args.id);
    let progress = Arc::new(Progress::default());
    let site = Site { page, hub: hub.clone(), progress: Arc::clone(&progress) };
    hub.set_http_handler(move |request| site.route(request));
    let server = hub.listen(&args.addr)?;
    println!("{}", page_url(server.local_addr()));

    let channel = format!("process:{}", args.id);
    if args.wait_for_viewer {
        eprintln!("stream: waiting for a viewer of {channel}");
        while hub.subscriber_count(&channel) == 0 {
            std::thread::sleep(VIEWER_POLL);
        }
    }
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]).stdin(Stdio::null());
    let process = hub.spawn_process(&args.id, command)?;
    progress.set(json!({"status": "running", "exitCode": 0}));
    let exit = process.wait()?;
    progress.set(final_status(&exit));
    eprintln!("stream: {channel} {} with code {}", exit.status().as_str(), exit.code());

    if args.exit_when_done {
        // Shutdown writes what is queued, the final status included, before closing.
        hub.shutdown();
        return Ok(u8::try_from(exit.code()).unwrap_or(1));
    }
    eprintln!("stream: serving until Ctrl-C");
    loop {
        std::thread::park();
    }
}

/// What the HTTP handler serves.
struct Site {
    page: String,
    hub: Hub,
    progress: Arc<Progress>,
}

impl Site {
    fn route(&self, request: &HttpRequest) -> HttpResponse {
        if !matches!(request.path(), "/" | "/status" | "/stats" | "/health") {
            return HttpResponse::text(404, "not found\n");
        }
        if !matches!(request.method(), "GET" | "HEAD") {
            return HttpResponse::text(405, "use GET\n").with_header("Allow", "GET, HEAD");
        }
        match request.path() {
            "/" => HttpResponse::with_type(200, HTML, self.page.as_str()),
            "/status" => {
                let wait = request.query().is_some_and(|q| q.split('&').any(|p| p == "wait"));
                json_response(&self.progress.get(wait))
            }
            "/stats" => match serde_json::to_value(self.hub.stats()) {
                Ok(stats) => json_response(&stats),
                Err(err) => HttpResponse::text(500, format!("stats: {err}\n")),
            },
            _ => HttpResponse::text(200, "ok\n"),
        }
    }
}

fn json_response(value: &Value) -> HttpResponse {
    HttpResponse::with_type(200, "application/json", value.to_string())
}

/// Returns the page's URL, naming loopback when the hub listens on every address.
fn page_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, addr.port()))
}
