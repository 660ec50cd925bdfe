//! Events from polling: each status a client reads is compared with the last one read of that
//! handle (its snapshot in the journal, so the comparison survives restarts and is shared by
//! every process), and what changed (state, a party signing or rejecting) is queued for the
//! host to pull with [`crate::Client::next_event`]. Hosts pull; nothing is pushed on runtime
//! threads.
//!
//! Event ids are derived from what happened (`tae:acct:123:state:completed`), so the same
//! change seen twice, by two clients or after a restart, has the same id.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::model::{Event, EventKind, Handle, PartyState, State, Status};

/// What is kept of one envelope's last status: what events are derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub state: State,
    /// Party key (e-mail, else position) → its state.
    pub parties: BTreeMap<String, PartyState>,
}

impl Snapshot {
    pub fn of(status: &Status) -> Snapshot {
        let parties = status
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| (party_key(p.email.as_deref(), i), p.state))
            .collect();
        Snapshot { state: status.state, parties }
    }

    /// A just-sent envelope: sent, every acting party pending. The first status read after it
    /// already reports what changed.
    pub fn sent<'a>(party_emails: impl Iterator<Item = &'a str>) -> Snapshot {
        let parties = party_emails.map(|e| (e.to_lowercase(), PartyState::Pending)).collect();
        Snapshot { state: State::Sent, parties }
    }
}

fn party_key(email: Option<&str>, index: usize) -> String {
    email.map_or_else(|| format!("#{index}"), str::to_lowercase)
}

/// What changed from `previous` to `status`, as events.
pub(crate) fn changes(
    handle: &Handle,
    previous: &Snapshot,
    status: &Status,
    now: DateTime<Utc>,
) -> Vec<Event> {
    let handle = Handle { reference: None, ..handle.clone() };
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
    if status.state != previous.state {
        events.push(Event {
            id: format!("{}:state:{}", handle.compact(), status.state),
            handle: handle.clone(),
            kind: EventKind::StateChanged,
            at: status.updated_at.unwrap_or(now),
            raw: serde_json::json!({"state": status.state, "previous": previous.state,
                "provider_status": status.provider_status}),
        });
    }
    events
}

/// Bounded so that a host that never pulls cannot grow memory without limit.
const MAX_QUEUED: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    queue: Mutex<VecDeque<Event>>,
    arrived: Notify,
}

impl EventQueue {
    pub fn push(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut queue = self.lock();
        for event in events {
            if queue.len() == MAX_QUEUED {
                let dropped = queue.pop_front();
                tracing::warn!(target: "signbridge", id = ?dropped.map(|e| e.id), "event queue full; oldest event dropped");
            }
            queue.push_back(event);
        }
        drop(queue);
        self.arrived.notify_waiters();
    }

    /// The oldest queued event, waiting up to `timeout` for one (None: wait indefinitely).
    pub async fn next(&self, timeout: Option<Duration>) -> Option<Event> {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if let Some(event) = self.lock().pop_front() {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
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

    fn ids(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn changes_become_events_with_stable_ids() {
        let h = handle();
        let now = Utc::now();
        let sent = Snapshot::sent(["a@x.com", "B@x.com"].into_iter());
        let pending = status(
            State::Sent,
            &[("a@x.com", PartyState::Pending), ("b@x.com", PartyState::Pending)],
        );
        assert!(changes(&h, &sent, &pending, now).is_empty(), "no change, no event");

        let partial = status(
            State::PartiallySigned,
            &[("A@x.com", PartyState::Signed), ("b@x.com", PartyState::Pending)],
        );
        let events = changes(&h, &Snapshot::of(&pending), &partial, now);
        assert_eq!(
            ids(&events),
            ["tae:a:1:party:a@x.com:signed", "tae:a:1:state:partially_signed"]
        );
        assert_eq!(
            (events[0].kind, events[1].kind),
            (EventKind::PartySigned, EventKind::StateChanged)
        );
        assert_eq!(events[0].handle.reference, None, "ids do not depend on the host's reference");

        let done = status(
            State::Completed,
            &[("a@x.com", PartyState::Signed), ("b@x.com", PartyState::Signed)],
        );
        let events = changes(&h, &Snapshot::of(&partial), &done, now);
        assert_eq!(ids(&events), ["tae:a:1:party:b@x.com:signed", "tae:a:1:state:completed"]);
        assert!(changes(&h, &Snapshot::of(&done), &done, now).is_empty());
    }

    #[test]
    fn snapshots_round_trip_through_json() {
        let snap = Snapshot::of(&status(State::Rejected, &[("a@x.com", PartyState::Rejected)]));
        let back: Snapshot = serde_json::from_value(serde_json::to_value(&snap).unwrap()).unwrap();
        assert_eq!(back, snap);
    }

    #[tokio::test]
    async fn a_waiting_puller_is_woken() {
        let q = std::sync::Arc::new(EventQueue::default());
        let puller = {
            let q = q.clone();
            tokio::spawn(async move { q.next(Some(Duration::from_secs(5))).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let previous = Snapshot::sent(std::iter::empty());
        q.push(changes(&handle(), &previous, &status(State::Cancelled, &[]), Utc::now()));
        let e = puller.await.unwrap().unwrap();
        assert_eq!(e.id, "tae:a:1:state:cancelled");
        assert!(q.next(Some(Duration::ZERO)).await.is_none());
    }
}
