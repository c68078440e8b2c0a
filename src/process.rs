//! Process forwarding: runs a child, or reads any `BufRead`, and publishes its lines and
//! lifecycle to `process:{id}`. Each pipe gets a reader thread; each child also gets a
//! supervisor thread that reaps it, stops it on request and sends the final status.
//!
//! The supervisor alone owns the `Child`, so the child is reaped only there: a stop
//! signal can never reach a process that took over the number of a reaped one.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::lines::{self, MIN_LINE_CAP};
use crate::message::{Message, OutputStream, ProcessStatus};
use crate::names;
use crate::threads::STACK_SIZE;

/// How much of a pipe one read takes in.
const READ_BUFFER: usize = 32 * 1024;

/// How often the supervisor looks at a child whose pipes are still open; it needs to
/// only to reap a child whose output a descendant still holds.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The first pause between two looks at a child whose pipes closed: it is usually
/// exiting right then. Each pause doubles the one before.
const FIRST_POLL: Duration = Duration::from_millis(1);

/// The longest pause between two looks at a child whose pipes closed.
const LONGEST_POLL: Duration = Duration::from_millis(250);

/// How a process is forwarded: the line cap and the stop grace period.
///
/// [`Hub::spawn_process`] and [`Hub::forward_lines`] use the defaults; build a variation
/// with struct update syntax and call [`ProcessOptions::spawn`] or
/// [`ProcessOptions::forward_lines`] on it:
///
/// ```no_run
/// use std::process::Command;
/// use std::time::Duration;
/// use wshub::{Hub, HubConfig, ProcessOptions};
///
/// let hub = Hub::new(HubConfig::default())?;
/// let options = ProcessOptions {
///     stop_grace: Duration::from_secs(1),
///     ..ProcessOptions::default()
/// };
/// let build = options.spawn(&hub, "build", Command::new("make"))?;
/// let exit = build.wait()?;
/// # Ok::<(), wshub::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOptions {
    /// The longest piece of a line that one `process_output` message carries, in bytes
    /// of UTF-8, at least 4. A longer line is sent in pieces. Default: 16 KiB.
    pub max_line_len: usize,
    /// How long [`ProcessHandle::stop`] waits after SIGTERM before it sends SIGKILL.
    /// Default: 5s.
    pub stop_grace: Duration,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions { max_line_len: 16 * 1024, stop_grace: Duration::from_secs(5) }
    }
}

impl ProcessOptions {
    /// Checks the options.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `max_line_len` is below 4, the size of the widest character.
    pub fn validate(&self) -> Result<()> {
        if self.max_line_len < MIN_LINE_CAP {
            return Err(Error::Config(format!(
                "max_line_len must be at least {MIN_LINE_CAP}, the widest character"
            )));
        }
        Ok(())
    }

    /// Runs `command` and forwards its output and lifecycle to `process:{id}`.
    ///
    /// Stdout and stderr are replaced by pipes; everything else (arguments,
    /// environment, working directory, stdin) stays as the command was built. `running`
    /// is sent once the child has started, before any of its lines.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for invalid options; [`Error::InvalidProcessId`] for an id
    /// outside the rules of [`HubConfig::max_process_id_len`](crate::HubConfig); and
    /// [`Error::Io`] when the program cannot be started (the message names it) or the
    /// supervisor thread cannot be started (the child is then killed).
    pub fn spawn(&self, hub: &Hub, id: &str, mut command: Command) -> Result<ProcessHandle> {
        self.validate()?;
        names::check_process_id(id, hub.config().max_process_id_len)?;
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| not_started(&command, err))?;
        let pid = child.id();
        log::debug!("process {id} started as pid {pid}");

        let (stop, stop_requests) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared::default());
        let supervisor = Supervisor::new(hub, id, self, child, stop_requests);
        let finished = Arc::clone(&shared);
        let supervisor = thread::Builder::new()
            .name(format!("wshub-proc-{id}"))
            .stack_size(STACK_SIZE)
            .spawn(move || supervisor.run(&finished))?;
        Ok(ProcessHandle {
            id: id.to_owned(),
            pid,
            stop,
            shared,
            supervisor: Mutex::new(Some(supervisor)),
        })
    }

    /// Forwards every line of `reader` to `process:{id}` as `process_output`, on a
    /// thread of its own, until the end of the input.
    ///
    /// Only lines are sent: the program sends statuses, if any, itself. The lines follow
    /// the rules of [process streaming](crate#process-streaming).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for invalid options; [`Error::InvalidProcessId`] for an id
    /// outside the rules of [`HubConfig::max_process_id_len`](crate::HubConfig);
    /// [`Error::Io`] when the thread cannot be started.
    pub fn forward_lines(
        &self,
        hub: &Hub,
        id: &str,
        reader: impl BufRead + Send + 'static,
    ) -> Result<ForwardHandle> {
        self.validate()?;
        names::check_process_id(id, hub.config().max_process_id_len)?;
        let forward = Forward::new(hub, id, OutputStream::Stdout, self.max_line_len);
        let thread = forward.spawn(reader, ())?;
        Ok(ForwardHandle { id: id.to_owned(), thread: Some(thread) })
    }
}

impl Hub {
    /// Runs `command` and forwards its output and lifecycle to `process:{id}`, with the
    /// default [`ProcessOptions`].
    ///
    /// # Errors
    ///
    /// As [`ProcessOptions::spawn`].
    pub fn spawn_process(&self, id: &str, command: Command) -> Result<ProcessHandle> {
        ProcessOptions::default().spawn(self, id, command)
    }

    /// Forwards every line of `reader` to `process:{id}`, with the default
    /// [`ProcessOptions`].
    ///
    /// # Errors
    ///
    /// As [`ProcessOptions::forward_lines`].
    pub fn forward_lines(
        &self,
        id: &str,
        reader: impl BufRead + Send + 'static,
    ) -> Result<ForwardHandle> {
        ProcessOptions::default().forward_lines(self, id, reader)
    }
}

/// How a forwarded child ended, as its final `process_status` told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    status: ProcessStatus,
    code: i32,
    signal: Option<i32>,
    exit_status: ExitStatus,
}

impl ProcessExit {
    /// Returns `exited`, `crashed` (a signal ended the child) or `stopped` (the program
    /// asked for the stop, however the child then ended).
    pub fn status(&self) -> ProcessStatus {
        self.status
    }

    /// Returns the exit code as sent: the child's own, or 128 plus the signal number
    /// when a signal ended it.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Returns the number of the signal that ended the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// Returns the name of the signal that ended the child, such as `SIGKILL`.
    pub fn signal_name(&self) -> Option<Cow<'static, str>> {
        self.signal.map(signal_name)
    }

    /// Returns whether the child exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.status == ProcessStatus::Exited && self.code == 0
    }

    /// Returns the status as the operating system reported it.
    pub fn exit_status(&self) -> ExitStatus {
        self.exit_status
    }
}

/// A forwarded child process: stop it, or wait for the end of its forwarding.
///
/// Every method takes `&self`, so one thread can wait while another stops. The wait
/// methods return once the child has ended, both pipes are at their end and the final
/// status has been published; they can be called again and give the same answer.
///
/// Dropping the handle of a child that still runs stops it (as [`ProcessHandle::stop`])
/// and waits for the end, so that no thread outlives the handle. A descendant that
/// inherited the child's stdout or stderr keeps the forwarding going until it closes
/// them, as with [`Command::output`].
#[derive(Debug)]
pub struct ProcessHandle {
    id: String,
    pid: u32,
    stop: Sender<()>,
    shared: Arc<Shared>,
    /// Joined by the first wait that sees the outcome.
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl ProcessHandle {
    /// Returns the process id given at spawn, as in `process:{id}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Returns the operating system's identifier of the child.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks the child to stop and returns at once: SIGTERM now, SIGKILL once the grace
    /// period has passed. The final status is then `stopped`. A child that has already
    /// ended keeps the status it ended with; asking twice changes nothing.
    pub fn stop(&self) {
        let _ = self.stop.try_send(());
    }

    /// Returns how the child ended if its forwarding is over, without blocking.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the child's status could not be read or a signal could not be
    /// sent; the child was then killed.
    pub fn try_wait(&self) -> Result<Option<ProcessExit>> {
        self.wait_until(Some(Instant::now()))
    }

    /// Blocks until the forwarding is over and returns how the child ended.
    ///
    /// # Errors
    ///
    /// As [`ProcessHandle::try_wait`].
    pub fn wait(&self) -> Result<ProcessExit> {
        self.wait_until(None).transpose().unwrap_or_else(|| Err(Error::Io(supervisor_lost())))
    }

    /// Blocks for at most `timeout` until the forwarding is over; returns `None` if it
    /// is not over by then.
    ///
    /// # Errors
    ///
    /// As [`ProcessHandle::try_wait`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ProcessExit>> {
        // A timeout too long to add to the clock is no limit at all.
        self.wait_until(Instant::now().checked_add(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<Option<ProcessExit>> {
        let outcome = {
            let mut slot = self.shared.outcome.lock();
            loop {
                if let Some(outcome) = &*slot {
                    break outcome.clone();
                }
                match deadline {
                    Some(at) => {
                        if self.shared.finished.wait_until(&mut slot, at).timed_out() {
                            return Ok(None);
                        }
                    }
                    None => self.shared.finished.wait(&mut slot),
                }
            }
        };
        if let Some(supervisor) = self.supervisor.lock().take() {
            let _ = supervisor.join();
        }
        outcome.map(Some).map_err(|(kind, text)| Error::Io(io::Error::new(kind, text)))
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        if matches!(self.try_wait(), Ok(None)) {
            log::debug!("handle of process {} dropped while it runs; stopping it", self.id);
            self.stop();
        }
        let _ = self.wait();
    }
}

/// A thread forwarding the lines of a reader, from [`Hub::forward_lines`].
///
/// Dropping the handle waits for the end of the input, so that no thread outlives it:
/// close the writing end of a pipe before dropping the handle of its reading end.
#[derive(Debug)]
#[must_use = "dropping the handle waits for the end of the input"]
pub struct ForwardHandle {
    id: String,
    thread: Option<JoinHandle<io::Result<u64>>>,
}

impl ForwardHandle {
    /// Returns the process id the lines go to, as in `process:{id}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Returns whether the input has ended (or failed) and every line was sent.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the end of the input; returns how many lines were forwarded.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when reading failed; the lines before the failure were sent.
    pub fn join(mut self) -> Result<u64> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => Ok(result?),
            _ => Err(Error::Io(io::Error::other("the forwarding thread panicked"))),
        }
    }
}

impl Drop for ForwardHandle {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a supervisor ended with; the error is kept as parts so every wait can rebuild it.
type Outcome = std::result::Result<ProcessExit, (io::ErrorKind, String)>;

/// Where the supervisor leaves its outcome for the handle.
#[derive(Debug, Default)]
struct Shared {
    outcome: Mutex<Option<Outcome>>,
    finished: Condvar,
}

impl Shared {
    fn finish(&self, outcome: Outcome) {
        self.outcome.lock().get_or_insert(outcome);
        self.finished.notify_all();
    }
}

/// Records an outcome even if the supervisor unwinds, so that no wait hangs.
struct FinishGuard<'a>(&'a Shared);

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        let lost = supervisor_lost();
        self.0.finish(Err((lost.kind(), lost.to_string())));
    }
}

fn supervisor_lost() -> io::Error {
    io::Error::other("the supervisor thread of the process ended early")
}

/// A child that is killed and reaped if it is let go while it still runs.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What woke the supervisor.
enum Event {
    Stop,
    PipesClosed,
    Tick,
}

/// The thread that owns a child: it reaps it, stops it and reports how it ended.
struct Supervisor {
    hub: Hub,
    id: String,
    options: ProcessOptions,
    child: ChildGuard,
    stop_requests: Receiver<()>,
    /// Disconnected once every reader has ended; `never` before and after.
    readers_done: Receiver<()>,
    readers: Vec<JoinHandle<io::Result<u64>>>,
    /// True until every reader has reached the end of its pipe.
    pipes_open: bool,
    exit_status: Option<ExitStatus>,
    stop_asked: bool,
    /// When SIGKILL follows an unanswered SIGTERM.
    kill_at: Option<Instant>,
    /// The pause before the next look at a child whose pipes are closed.
    poll: Duration,
}

impl Supervisor {
    fn new(
        hub: &Hub,
        id: &str,
        options: &ProcessOptions,
        child: Child,
        stop_requests: Receiver<()>,
    ) -> Supervisor {
        Supervisor {
            hub: hub.clone(),
            id: id.to_owned(),
            options: options.clone(),
            child: ChildGuard(child),
            stop_requests,
            readers_done: crossbeam_channel::never(),
            readers: Vec::new(),
            pipes_open: true,
            exit_status: None,
            stop_asked: false,
            kill_at: None,
            poll: FIRST_POLL,
        }
    }

    fn run(mut self, shared: &Shared) {
        let _guard = FinishGuard(shared);
        let _ = self.hub.send_to_process(&self.id, || {
            Message::process_status(&self.id, ProcessStatus::Running, 0)
        });
        self.start_readers();
        let outcome = self.supervise();
        if let Err(err) = &outcome {
            log::warn!("lost track of process {}: {err}; killing it", self.id);
            let _ = self.child.0.kill();
            let _ = self.child.0.wait();
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if let Ok(exit) = &outcome {
            self.publish_exit(exit);
        }
        shared.finish(outcome.map_err(|err| (err.kind(), err.to_string())));
    }

    /// Runs until the child has been reaped and both pipes are at their end.
    fn supervise(&mut self) -> io::Result<ProcessExit> {
        loop {
            match self.next_event() {
                Event::Stop => self.handle_stop()?,
                Event::PipesClosed => {
                    self.readers_done = crossbeam_channel::never();
                    self.pipes_open = false;
                }
                Event::Tick => {}
            }
            self.check_child()?;
            if let (Some(status), false) = (self.exit_status, self.pipes_open) {
                return Ok(exit_of(status, self.stop_asked));
            }
        }
    }

    /// Starts a reader per pipe; a pipe without a reader is closed and its child
    /// stopped, since its output could no longer be drained.
    fn start_readers(&mut self) {
        let (done, readers_done) = crossbeam_channel::bounded::<()>(0);
        let child = &mut self.child.0;
        let out: Option<Pipe> = child.stdout.take().map(|pipe| Box::new(pipe) as Pipe);
        let err: Option<Pipe> = child.stderr.take().map(|pipe| Box::new(pipe) as Pipe);
        let pipes = [(OutputStream::Stdout, out), (OutputStream::Stderr, err)];
        for (stream, pipe) in pipes.into_iter().filter_map(|(s, p)| Some((s, p?))) {
            let forward = Forward::new(&self.hub, &self.id, stream, self.options.max_line_len);
            let reader = BufReader::with_capacity(READ_BUFFER, pipe);
            match forward.spawn(reader, done.clone()) {
                Ok(thread) => self.readers.push(thread),
                Err(err) => {
                    log::warn!("no reader thread for process {}: {err}; killing it", self.id);
                    self.stop_asked = true;
                    let _ = self.child.0.kill();
                }
            }
        }
        self.readers_done = readers_done;
    }

    fn next_event(&mut self) -> Event {
        let now = Instant::now();
        let mut timeout = if self.pipes_open { IDLE_POLL } else { self.poll };
        if let Some(at) = self.kill_at {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        select! {
            recv(self.stop_requests) -> request => match request {
                Ok(()) => Event::Stop,
                Err(_) => {
                    // The handle is gone: nobody can ask for a stop any more.
                    self.stop_requests = crossbeam_channel::never();
                    Event::Tick
                }
            },
            recv(self.readers_done) -> _ => Event::PipesClosed,
            default(timeout) => {
                self.poll = (self.poll * 2).min(LONGEST_POLL);
                Event::Tick
            }
        }
    }

    fn handle_stop(&mut self) -> io::Result<()> {
        if self.stop_asked || self.exit_status.is_some() {
            return Ok(());
        }
        // A child that already ended keeps the status it ended with.
        self.exit_status = self.child.0.try_wait()?;
        if self.exit_status.is_some() {
            return Ok(());
        }
        self.stop_asked = true;
        log::debug!("stopping process {} (pid {})", self.id, self.child.0.id());
        if let Err(err) = terminate(&self.child.0) {
            log::warn!("no SIGTERM for process {}: {err}; sending SIGKILL", self.id);
            return self.child.0.kill();
        }
        self.kill_at = Some(Instant::now() + self.options.stop_grace);
        Ok(())
    }

    /// Reaps the child if it has ended, and sends SIGKILL once the grace period is over.
    fn check_child(&mut self) -> io::Result<()> {
        if self.exit_status.is_some() {
            return Ok(());
        }
        self.exit_status = self.child.0.try_wait()?;
        match (self.exit_status, self.kill_at) {
            (Some(status), _) => log::debug!("process {} ended: {status}", self.id),
            (None, Some(at)) if Instant::now() >= at => {
                log::debug!("process {} outlived its stop grace; sending SIGKILL", self.id);
                self.kill_at = None;
                self.child.0.kill()?;
            }
            _ => {}
        }
        Ok(())
    }

    fn publish_exit(&self, exit: &ProcessExit) {
        let sent = self.hub.send_to_process(&self.id, || {
            let message = Message::process_status(&self.id, exit.status, exit.code);
            match exit.signal_name() {
                Some(name) => message.with_signal(&name),
                None => message,
            }
        });
        if let Err(err) = sent {
            log::debug!("final status of process {} not sent: {err}", self.id);
        }
    }
}

/// A pipe of the child, boxed so that stdout and stderr share one reader type.
type Pipe = Box<dyn Read + Send>;

/// One stream's lines on their way to the hub.
struct Forward {
    hub: Hub,
    id: String,
    stream: OutputStream,
    max_line_len: usize,
}

impl Forward {
    fn new(hub: &Hub, id: &str, stream: OutputStream, max_line_len: usize) -> Forward {
        Forward { hub: hub.clone(), id: id.to_owned(), stream, max_line_len }
    }

    /// Starts the reader thread; `keep` is dropped when the thread ends.
    fn spawn(
        self,
        mut reader: impl BufRead + Send + 'static,
        keep: impl Send + 'static,
    ) -> io::Result<JoinHandle<io::Result<u64>>> {
        let name = match self.stream {
            OutputStream::Stdout => format!("wshub-out-{}", self.id),
            OutputStream::Stderr => format!("wshub-err-{}", self.id),
        };
        thread::Builder::new().name(name).stack_size(STACK_SIZE).spawn(move || {
            let _keep = keep;
            self.run(&mut reader)
        })
    }

    fn run(&self, reader: &mut impl BufRead) -> io::Result<u64> {
        let result = lines::read_lines(reader, self.max_line_len, |piece, partial| {
            let _ = self.hub.send_to_process(&self.id, || {
                Message::process_output(&self.id, piece)
                    .with_stream(self.stream)
                    .with_partial(partial)
            });
        });
        match &result {
            Ok(lines) => log::debug!("{lines} lines forwarded to process:{}", self.id),
            Err(err) => log::debug!("reading lines for process:{} failed: {err}", self.id),
        }
        result
    }
}

/// Turns a status into what the final `process_status` says.
fn exit_of(exit_status: ExitStatus, stop_asked: bool) -> ProcessExit {
    let signal = signal_of(exit_status);
    let (status, code) = match (exit_status.code(), signal) {
        (Some(code), _) => (ProcessStatus::Exited, code),
        (None, Some(signal)) => (ProcessStatus::Crashed, 128 + signal),
        (None, None) => (ProcessStatus::Crashed, -1),
    };
    let status = if stop_asked { ProcessStatus::Stopped } else { status };
    ProcessExit { status, code, signal, exit_status }
}

fn not_started(command: &Command, err: io::Error) -> Error {
    let program = command.get_program().to_string_lossy();
    Error::Io(io::Error::new(err.kind(), format!("cannot run {program:?}: {err}")))
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal_of(_status: ExitStatus) -> Option<i32> {
    None
}

/// Sends SIGTERM. The standard library only sends SIGKILL, so the shell's `kill` does
/// it; the child is not reaped yet, so its number still names it.
#[cfg(unix)]
fn terminate(child: &Child) -> io::Result<()> {
    let status = Command::new("sh")
        .args(["-c", "kill -s TERM \"$1\"", "sh", &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() { Ok(()) } else { Err(io::Error::other(format!("kill {status}"))) }
}

#[cfg(not(unix))]
fn terminate(_child: &Child) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no SIGTERM on this platform"))
}

/// Returns the name of a signal, such as `SIGKILL` for 9, or `signal N` for a number
/// without a name here. The numbers POSIX fixes are named everywhere, the rest as
/// Linux numbers them.
fn signal_name(number: i32) -> Cow<'static, str> {
    let name = match number {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => match linux_signal_name(number) {
            Some(name) => name,
            None => return Cow::Owned(format!("signal {number}")),
        },
    };
    Cow::Borrowed(name)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn linux_signal_name(number: i32) -> Option<&'static str> {
    const FROM_16: [&str; 16] = [
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match number {
        7 => Some("SIGBUS"),
        10 => Some("SIGUSR1"),
        12 => Some("SIGUSR2"),
        _ => {
            let index = usize::try_from(number).ok()?.checked_sub(16)?;
            FROM_16.get(index).copied()
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn linux_signal_name(_number: i32) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_signals_have_their_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(1), "SIGHUP");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(0), "signal 0");
        assert_eq!(signal_name(40), "signal 40");
    }

    #[test]
    fn options_below_one_character_are_refused() {
        let options = ProcessOptions { max_line_len: 3, ..ProcessOptions::default() };
        assert!(matches!(options.validate(), Err(Error::Config(_))));
        ProcessOptions::default().validate().unwrap();
    }
}
