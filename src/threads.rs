//! A set of named threads that can all be joined; used by the accept and connection
//! threads to spawn, and by shutdown to wait for every one of them.
//!
//! A thread that ends moves its own `JoinHandle` to a finished list, which the next
//! spawn (or `join_all`) joins, so finished threads never pile up and nothing the hub
//! started outlives it.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Stack size of the hub's connection, accept and process threads. Their deepest use
/// is parsing JSON, which `serde_json` bounds at 128 levels of nesting; only the pages
/// a thread touches count towards memory.
pub(crate) const STACK_SIZE: usize = 256 * 1024;

/// Stack size of the short-lived handshake threads, which also run the program's HTTP
/// handler, authenticator and origin check: the standard library's default.
///
/// It must stay more than four times [`STACK_SIZE`]. The C library keeps the stacks of
/// ended threads for reuse, pages already touched included, and gives one to a new
/// thread only if it is at least as large as asked and at most four times larger. A
/// handshake touches a page or two more than a connection thread does; with these
/// sizes its stack never becomes a connection thread's, and each idle connection keeps
/// two stacks of about 8 KiB touched rather than up to 12.
pub(crate) const HANDSHAKE_STACK: usize = 2 * 1024 * 1024;

const _: () = assert!(HANDSHAKE_STACK > 4 * STACK_SIZE, "see HANDSHAKE_STACK");

#[derive(Default)]
struct State {
    running: HashMap<u64, JoinHandle<()>>,
    finished: Vec<JoinHandle<()>>,
    next_key: u64,
}

/// The threads a hub started.
#[derive(Default)]
pub(crate) struct ThreadGroup {
    state: Mutex<State>,
    /// Notified each time a thread of the group ends.
    ended: Condvar,
}

/// Moves the thread's handle to the finished list when the thread's closure returns or
/// unwinds.
struct Finisher {
    group: Arc<ThreadGroup>,
    key: u64,
}

impl Drop for Finisher {
    fn drop(&mut self) {
        let mut state = self.group.state.lock();
        if let Some(handle) = state.running.remove(&self.key) {
            state.finished.push(handle);
        }
        self.group.ended.notify_all();
    }
}

impl ThreadGroup {
    /// Spawns a thread of the group with a small stack.
    pub(crate) fn spawn<F>(self: &Arc<Self>, name: String, stack: usize, work: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        // The lock is held across the spawn so that the new thread cannot finish (and
        // look for its handle) before the handle is recorded.
        let mut state = self.state.lock();
        for handle in state.finished.drain(..) {
            let _ = handle.join();
        }
        let key = state.next_key;
        state.next_key += 1;
        let finisher = Finisher { group: Arc::clone(self), key };
        let handle = thread::Builder::new().name(name).stack_size(stack).spawn(move || {
            let _finisher = finisher;
            work();
        })?;
        state.running.insert(key, handle);
        Ok(())
    }

    /// Waits until every thread has ended or `timeout` passed; returns how many are
    /// still running. The ones that ended are joined.
    pub(crate) fn join_all(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let finished = {
            let mut state = self.state.lock();
            while !state.running.is_empty() {
                if self.ended.wait_until(&mut state, deadline).timed_out() {
                    break;
                }
            }
            std::mem::take(&mut state.finished)
        };
        for handle in finished {
            let _ = handle.join();
        }
        self.state.lock().running.len()
    }

    /// Returns how many threads of the group are running.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.state.lock().running.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_all_waits_for_every_thread() {
        let group = Arc::new(ThreadGroup::default());
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        for n in 0..4 {
            let gate = gate.clone();
            group.spawn(format!("t{n}"), 64 * 1024, move || while gate.recv().is_ok() {}).unwrap();
        }
        assert_eq!(group.join_all(Duration::from_millis(20)), 4);
        drop(release);
        assert_eq!(group.join_all(Duration::from_secs(5)), 0);
        assert_eq!(group.running(), 0);
    }

    #[test]
    fn a_panicking_thread_still_counts_as_ended() {
        let group = Arc::new(ThreadGroup::default());
        group.spawn("p".into(), 64 * 1024, || panic!("on purpose")).unwrap();
        assert_eq!(group.join_all(Duration::from_secs(5)), 0);
    }
}
