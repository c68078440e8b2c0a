//! The table of sessions and channel subscriptions; pure bookkeeping, no I/O.
//!
//! The hub keeps one `Registry` behind a `RwLock`. Each channel's subscriber list is an
//! `Arc<Vec<_>>` replaced copy-on-write, so a publisher takes the read lock only long
//! enough to clone one `Arc` and enqueues with no lock held. A change copies the list
//! only when a publisher still holds the previous one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::session::{Gate, Session};

/// One subscription as a publisher sees it.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub(crate) session: Arc<Session>,
    pub(crate) gate: Arc<Gate>,
}

/// The subscribers of one channel, shared with publishers that are still sending.
pub(crate) type Subscribers = Arc<Vec<Subscriber>>;

/// Why a subscribe was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client already holds the maximum number of subscriptions.
    Limit(usize),
    /// The session is no longer registered (it is disconnecting).
    Gone,
}

struct SessionEntry {
    session: Arc<Session>,
    channels: HashMap<Arc<str>, Arc<Gate>>,
}

/// Sessions, channels and who listens where.
#[derive(Default)]
pub(crate) struct Registry {
    sessions: HashMap<u64, SessionEntry>,
    channels: HashMap<Arc<str>, Subscribers>,
    subscriptions: usize,
}

impl Registry {
    pub(crate) fn add_session(&mut self, session: Arc<Session>) {
        let entry = SessionEntry { session: Arc::clone(&session), channels: HashMap::new() };
        self.sessions.insert(session.id, entry);
    }

    /// Removes a session and every subscription it held.
    pub(crate) fn remove_session(&mut self, id: u64) -> Option<Arc<Session>> {
        let entry = self.sessions.remove(&id)?;
        for (channel, gate) in entry.channels {
            gate.close();
            self.detach(&channel, id);
        }
        Some(entry.session)
    }

    /// Subscribes `id` to `channel` and returns the new subscription's gate, still
    /// pending; `None` when the client was already subscribed, which changes nothing.
    pub(crate) fn subscribe(
        &mut self,
        id: u64,
        channel: &str,
        limit: usize,
    ) -> Result<Option<Arc<Gate>>, Refusal> {
        let entry = self.sessions.get_mut(&id).ok_or(Refusal::Gone)?;
        if entry.channels.contains_key(channel) {
            return Ok(None);
        }
        if entry.channels.len() >= limit {
            return Err(Refusal::Limit(limit));
        }
        let name: Arc<str> = match self.channels.get_key_value(channel) {
            Some((name, _)) => Arc::clone(name),
            None => Arc::from(channel),
        };
        let gate = Arc::new(Gate::default());
        entry.channels.insert(Arc::clone(&name), Arc::clone(&gate));
        let subscriber =
            Subscriber { session: Arc::clone(&entry.session), gate: Arc::clone(&gate) };
        Arc::make_mut(self.channels.entry(name).or_default()).push(subscriber);
        self.subscriptions += 1;
        Ok(Some(gate))
    }

    /// Unsubscribes `id` from `channel`; returns false when it was not subscribed.
    pub(crate) fn unsubscribe(&mut self, id: u64, channel: &str) -> bool {
        let Some(entry) = self.sessions.get_mut(&id) else {
            return false;
        };
        let Some(gate) = entry.channels.remove(channel) else {
            return false;
        };
        gate.close();
        self.detach(channel, id);
        true
    }

    fn detach(&mut self, channel: &str, id: u64) {
        let Some(list) = self.channels.get_mut(channel) else {
            return;
        };
        let list = Arc::make_mut(list);
        if let Some(at) = list.iter().position(|s| s.session.id == id) {
            list.swap_remove(at);
            self.subscriptions -= 1;
        }
        if list.is_empty() {
            self.channels.remove(channel);
        }
    }

    /// Returns the channel's current subscribers, or `None` when nobody listens.
    pub(crate) fn subscribers(&self, channel: &str) -> Option<Subscribers> {
        self.channels.get(channel).map(Arc::clone)
    }

    pub(crate) fn session(&self, id: u64) -> Option<&Arc<Session>> {
        self.sessions.get(&id).map(|entry| &entry.session)
    }

    pub(crate) fn sessions(&self) -> impl Iterator<Item = &Arc<Session>> {
        self.sessions.values().map(|entry| &entry.session)
    }

    /// Returns the channels `id` is subscribed to, sorted.
    pub(crate) fn channels_of(&self, id: u64) -> Vec<String> {
        let mut names: Vec<String> = match self.sessions.get(&id) {
            Some(entry) => entry.channels.keys().map(|name| name.to_string()).collect(),
            None => Vec::new(),
        };
        names.sort_unstable();
        names
    }

    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.subscriptions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with(ids: &[u64]) -> Registry {
        let mut registry = Registry::default();
        for &id in ids {
            let (session, ends) = Session::new(id, "127.0.0.1:9".parse().unwrap(), 4);
            std::mem::forget(ends);
            registry.add_session(session);
        }
        registry
    }

    fn ids(list: &Subscribers) -> Vec<u64> {
        let mut ids: Vec<u64> = list.iter().map(|s| s.session.id).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn subscribe_and_unsubscribe_keep_counts() {
        let mut registry = registry_with(&[1, 2]);
        assert!(registry.subscribe(1, "a", 10).unwrap().is_some());
        registry.subscribe(2, "a", 10).unwrap();
        assert!(registry.subscribe(2, "b", 10).unwrap().is_some());
        assert!(registry.subscribe(2, "b", 10).unwrap().is_none());
        assert_eq!(ids(&registry.subscribers("a").unwrap()), [1, 2]);
        assert_eq!((registry.channel_count(), registry.subscription_count()), (2, 3));

        assert!(registry.unsubscribe(2, "b"));
        assert!(!registry.unsubscribe(2, "b"));
        assert!(registry.subscribers("b").is_none());
        assert_eq!(registry.channels_of(2), ["a"]);
    }

    #[test]
    fn limit_counts_distinct_channels() {
        let mut registry = registry_with(&[1]);
        registry.subscribe(1, "a", 2).unwrap();
        registry.subscribe(1, "b", 2).unwrap();
        assert_eq!(registry.subscribe(1, "c", 2).unwrap_err(), Refusal::Limit(2));
        assert!(registry.subscribe(1, "a", 2).unwrap().is_none(), "already subscribed");
        assert_eq!(registry.subscribe(9, "a", 2).unwrap_err(), Refusal::Gone);
    }

    #[test]
    fn a_held_snapshot_is_not_changed_by_later_subscribes() {
        let mut registry = registry_with(&[1, 2]);
        registry.subscribe(1, "a", 10).unwrap();
        let snapshot = registry.subscribers("a").unwrap();
        registry.subscribe(2, "a", 10).unwrap();
        assert_eq!(ids(&snapshot), [1]);
        assert_eq!(ids(&registry.subscribers("a").unwrap()), [1, 2]);
    }

    #[test]
    fn removing_a_session_closes_its_gates_and_empties_the_table() {
        let mut registry = registry_with(&[1, 2]);
        registry.subscribe(1, "a", 10).unwrap();
        registry.subscribe(1, "b", 10).unwrap();
        registry.subscribe(2, "a", 10).unwrap();
        let gate = Arc::clone(&registry.subscribers("b").unwrap()[0].gate);
        gate.open();
        registry.remove_session(1).unwrap();
        assert!(!gate.is_open());
        assert_eq!((registry.channel_count(), registry.subscription_count()), (1, 1));
        registry.remove_session(2).unwrap();
        assert_eq!((registry.channel_count(), registry.session_count()), (0, 0));
    }
}
