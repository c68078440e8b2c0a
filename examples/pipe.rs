//! Streams standard input to WebSocket clients, one `process_output` per line, then an
//! `exited` status when the input ends.
//!
//! ```sh
//! ls -la / | cargo run --example pipe -- --id build [--addr 127.0.0.1:8080] [--exit]
//! ```
//!
//! The first line printed is the WebSocket URL. Clients subscribe to `process:{id}`.
//! After the input ends the hub keeps serving until Ctrl-C, or shuts down at once with
//! `--exit` (what was queued is still written to every client first).

use std::io::{BufReader, Write};
use std::process::ExitCode;

use wshub::{Hub, HubConfig, ProcessStatus};

struct Options {
    addr: String,
    id: String,
    exit: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { addr: "127.0.0.1:8080".to_owned(), id: "stdin".to_owned(), exit: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => options.addr = args.next().ok_or("--addr needs a value")?,
            "--id" => options.id = args.next().ok_or("--id needs a value")?,
            "--exit" => options.exit = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let hub = Hub::new(HubConfig::default())?;
    let server = hub.listen(&options.addr)?;
    println!("{}", server.url());
    std::io::stdout().flush()?;

    hub.send_process_status(&options.id, ProcessStatus::Running, 0)?;
    // The forwarder applies the crate's line rules: lossy UTF-8, CRLF, long lines cut.
    let stdin = BufReader::new(std::io::stdin());
    hub.forward_lines(&options.id, stdin)?.join()?;
    hub.send_process_status(&options.id, ProcessStatus::Exited, 0)?;

    if !options.exit {
        eprintln!("input ended; serving until Ctrl-C");
        loop {
            std::thread::park();
        }
    }
    hub.shutdown();
    Ok(())
}

fn main() -> ExitCode {
    env_logger::init();
    let options = match parse_options() {
        Ok(options) => options,
        Err(why) => {
            eprintln!("pipe: {why}");
            eprintln!("usage: pipe [--addr HOST:PORT] [--id NAME] [--exit]");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipe: {err}");
            ExitCode::FAILURE
        }
    }
}
