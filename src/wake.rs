//! The hub's waker thread: it unparks the writers whose queues gained items, so that a
//! publisher only enqueues. Publishers hand it the sessions to wake; it runs alone.
//!
//! Waking a parked writer is a system call, and the woken thread often preempts the
//! thread that woke it. A publisher that woke a thousand writers itself would pay a
//! thousand calls and be preempted hundreds of times per message, falling behind while
//! the writers it woke sat idle. Here the publisher marks each session (an atomic swap)
//! and submits the newly marked ones in one list; the waker works through the lists,
//! and a writer that is already awake costs it only an atomic swap.
//!
//! Under sustained load the waker lingers: after a round of at least [`HEAVY_ROUND`]
//! wake-ups, with more sessions already waiting, it pauses so that the round and the
//! pause together last [`HEAVY_PERIOD`], and not at all after a round that took longer
//! (the writers it woke already had that long). The writers it just woke get the
//! machine to themselves meanwhile, and their queues gather several messages each, so
//! the next wake-up writes them all in one `write`. A lightly loaded hub never lingers:
//! a paced message wakes each writer at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::session::Session;

/// A round of at least this many wake-ups, followed by more, means sustained load.
const HEAVY_ROUND: usize = 256;

/// The shortest time from the start of a heavy round to the next. Under sustained load a
/// writer then wakes about once per period, and each wake-up writes whatever gathered
/// meanwhile in one `write`: the pause trades at most this much latency for far fewer
/// wake-ups and system calls per message, which is what a saturated machine runs short
/// of. A round that took longer is not followed by a pause: a writer woken early in it
/// has waited that long already, and a longer wait only brings its queue closer to full.
const HEAVY_PERIOD: Duration = Duration::from_millis(20);

/// Sessions waiting for their writer to be unparked, and the thread that does it.
#[derive(Default)]
pub(crate) struct WakeQueue {
    pending: Mutex<Vec<Arc<Session>>>,
    waker: Mutex<Option<Thread>>,
    stopped: AtomicBool,
}

impl WakeQueue {
    /// Hands over sessions whose queues gained items; each was marked by its caller.
    pub(crate) fn submit(&self, sessions: Vec<Arc<Session>>) {
        if sessions.is_empty() {
            return;
        }
        {
            let mut pending = self.pending.lock();
            if pending.is_empty() {
                *pending = sessions;
            } else {
                pending.extend(sessions);
            }
        }
        if let Some(waker) = &*self.waker.lock() {
            waker.unpark();
        }
    }

    /// Runs the waker until [`WakeQueue::stop`]; called on the waker thread.
    pub(crate) fn run(&self) {
        *self.waker.lock() = Some(thread::current());
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut *self.pending.lock(), &mut batch);
            if batch.is_empty() {
                if self.stopped.load(Ordering::Acquire) {
                    break;
                }
                thread::park();
                continue;
            }
            let round = batch.len();
            let started = Instant::now();
            for session in batch.drain(..) {
                session.wake_writer();
            }
            // Let the writers just woken work, and their queues fill, before waking them
            // again (see the module docs).
            if round >= HEAVY_ROUND && !self.pending.lock().is_empty() {
                thread::sleep(HEAVY_PERIOD.saturating_sub(started.elapsed()));
            }
        }
        *self.waker.lock() = None;
    }

    /// Asks the waker to finish once nothing is pending.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(waker) = &*self.waker.lock() {
            waker.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_writers_are_unparked_and_the_waker_stops() {
        let queue = Arc::new(WakeQueue::default());
        let running = Arc::clone(&queue);
        let waker = thread::spawn(move || running.run());

        let (session, _ends) = Session::new(1, "127.0.0.1:9".parse().unwrap(), 4);
        assert!(session.mark_for_wake());
        assert!(!session.mark_for_wake(), "marked once until woken");
        queue.submit(vec![Arc::clone(&session)]);

        // This thread is the session's writer: the waker's unpark ends the park.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !session.mark_for_wake() {
            assert!(Instant::now() < deadline, "the waker never woke the writer");
            thread::park_timeout(Duration::from_millis(10));
        }
        queue.stop();
        waker.join().unwrap();
    }
}
