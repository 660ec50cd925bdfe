//! Events from polling: each status a client reads is compared with the last one it saw for
//! that handle, and what changed (state, a party signing or rejecting) is queued for the host
//! to pull with [`crate::Client::next_event`]. Hosts pull; nothing is pushed on runtime threads.
//!
//! Event ids are derived from what happened (`tae:acct:123:state:completed`), so the same
//! change seen twice, by two clients or after a restart, has the same id.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;

use crate::model::{Event, EventKind, Handle, PartyState, State, Status};

/// What was last seen of one envelope.
#[derive(Debug, Clone)]
struct Snapshot {
    state: State,
    /// Party key (e-mail, else position) → its state.
    parties: HashMap<String, PartyState>,
}

impl Snapshot {
    fn of(status: &Status) -> Snapshot {
        let parties = status
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| (party_key(p.email.as_deref(), i), p.state))
            .collect();
        Snapshot { state: status.state, parties }
    }
}

fn party_key(email: Option<&str>, index: usize) -> String {
    email.map_or_else(|| format!("#{index}"), str::to_lowercase)
}

/// Bounded so that a host that never pulls cannot grow memory without limit.
const MAX_QUEUED: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    inner: Mutex<Inner>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<Handle, Snapshot>,
    queue: VecDeque<Event>,
}

impl EventQueue {
    /// Records a just-sent envelope (sent, every party pending) as the baseline, so that the
    /// first status read after it already reports what changed.
    pub fn sent<'a>(&self, handle: &Handle, party_emails: impl Iterator<Item = &'a str>) {
        let parties = party_emails.map(|e| (e.to_lowercase(), PartyState::Pending)).collect();
        self.lock().seen.insert(key(handle), Snapshot { state: State::Sent, parties });
    }

    /// Compares `status` with the last one seen for `handle` and queues what changed. The first
    /// status seen of a handle only sets the baseline.
    pub fn observe(&self, handle: &Handle, status: &Status) {
        let now = Utc::now();
        let mut inner = self.lock();
        let handle = key(handle);
        let next = Snapshot::of(status);
        let Some(previous) = inner.seen.insert(handle.clone(), next.clone()) else { return };
        let mut events = Vec::new();
        for (i, party) in status.parties.iter().enumerate() {
            let k = party_key(party.email.as_deref(), i);
            let before = previous.parties.get(&k).copied().unwrap_or(PartyState::Pending);
            let kind = match party.state {
                PartyState::Signed if before != PartyState::Signed => EventKind::PartySigned,
                PartyState::Rejected if before != PartyState::Rejected => EventKind::PartyRejected,
                _ => continue,
            };
            let verb = if kind == EventKind::PartySigned { "signed" } else { "rejected" };
            events.push(Event {
                id: format!("{}:party:{k}:{verb}", handle.compact()),
                handle: handle.clone(),
                kind,
                at: party.acted_at.unwrap_or(now),
                raw: serde_json::to_value(party).unwrap_or_default(),
            });
        }
        if next.state != previous.state {
            events.push(Event {
                id: format!("{}:state:{}", handle.compact(), next.state),
                handle: handle.clone(),
                kind: EventKind::StateChanged,
                at: status.updated_at.unwrap_or(now),
                raw: serde_json::json!({"state": next.state, "previous": previous.state,
                    "provider_status": status.provider_status}),
            });
        }
        if status.state.is_terminal() {
            // Nothing more will change: stop tracking it.
            inner.seen.remove(&handle);
        }
        if events.is_empty() {
            return;
        }
        for event in events {
            if inner.queue.len() == MAX_QUEUED {
                let dropped = inner.queue.pop_front();
                tracing::warn!(target: "signbridge", id = ?dropped.map(|e| e.id), "event queue full; oldest event dropped");
            }
            inner.queue.push_back(event);
        }
        drop(inner);
        self.arrived.notify_waiters();
    }

    /// The oldest queued event, waiting up to `timeout` for one (None: wait indefinitely).
    pub async fn next(&self, timeout: Option<Duration>) -> Option<Event> {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if let Some(event) = self.lock().queue.pop_front() {
                    return event;
                }
                notified.await;
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.ok(),
            None => Some(wait.await),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Handles compare without the host's reference: the provider's id is what identifies it.
fn key(handle: &Handle) -> Handle {
    Handle { reference: None, ..handle.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PartyStatus, Role};

    fn handle() -> Handle {
        Handle {
            provider: "tae".into(),
            account: "a".into(),
            id: "1".into(),
            reference: Some("r".into()),
        }
    }

    fn status(state: State, parties: &[(&str, PartyState)]) -> Status {
        Status {
            state,
            provider_status: "x".into(),
            parties: parties
                .iter()
                .map(|(email, state)| PartyStatus {
                    email: Some(email.to_string()),
                    name: None,
                    role: Some(Role::Sign),
                    state: *state,
                    acted_at: None,
                })
                .collect(),
            reason: None,
            updated_at: None,
            expires_at: None,
            raw: serde_json::Value::Null,
        }
    }

    #[tokio::test]
    async fn changes_become_events_with_stable_ids() {
        let q = EventQueue::default();
        let h = handle();
        q.sent(&h, ["a@x.com", "B@x.com"].into_iter());
        q.observe(
            &h,
            &status(
                State::Sent,
                &[("a@x.com", PartyState::Pending), ("b@x.com", PartyState::Pending)],
            ),
        );
        assert!(q.next(Some(Duration::ZERO)).await.is_none(), "no change, no event");

        q.observe(
            &h,
            &status(
                State::PartiallySigned,
                &[("A@x.com", PartyState::Signed), ("b@x.com", PartyState::Pending)],
            ),
        );
        let e = q.next(Some(Duration::ZERO)).await.unwrap();
        assert_eq!(
            (e.kind, e.id.as_str()),
            (EventKind::PartySigned, "tae:a:1:party:a@x.com:signed")
        );
        let e = q.next(Some(Duration::ZERO)).await.unwrap();
        assert_eq!(
            (e.kind, e.id.as_str()),
            (EventKind::StateChanged, "tae:a:1:state:partially_signed")
        );
        assert_eq!(e.handle.reference, None);

        q.observe(
            &h,
            &status(
                State::Completed,
                &[("a@x.com", PartyState::Signed), ("b@x.com", PartyState::Signed)],
            ),
        );
        let ids: Vec<String> =
            [q.next(Some(Duration::ZERO)).await, q.next(Some(Duration::ZERO)).await]
                .into_iter()
                .map(|e| e.unwrap().id)
                .collect();
        assert_eq!(ids, ["tae:a:1:party:b@x.com:signed", "tae:a:1:state:completed"]);
        assert!(q.next(Some(Duration::ZERO)).await.is_none());
    }

    #[tokio::test]
    async fn the_first_sighting_is_only_a_baseline() {
        let q = EventQueue::default();
        q.observe(&handle(), &status(State::Completed, &[("a@x.com", PartyState::Signed)]));
        assert!(q.next(Some(Duration::from_millis(10))).await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_puller_is_woken() {
        let q = std::sync::Arc::new(EventQueue::default());
        let h = handle();
        q.sent(&h, std::iter::empty());
        let puller = {
            let q = q.clone();
            tokio::spawn(async move { q.next(Some(Duration::from_secs(5))).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.observe(&h, &status(State::Cancelled, &[]));
        let e = puller.await.unwrap().unwrap();
        assert_eq!(e.id, "tae:a:1:state:cancelled");
    }
}
