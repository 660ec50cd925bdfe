//! The event stream. Events from polling: each status a client reads is compared with the last
//! one read of that handle (its snapshot in the journal, so the comparison survives restarts
//! and is shared by every process), and what changed (state, a party signing or rejecting) is
//! committed with the new snapshot. Events from webhooks are committed with their delivery
//! (see [`crate::webhooks`]). Both land in the journal's one stream, which the host pulls with
//! [`crate::Client::next_event`] and acknowledges with [`crate::Client::ack_event`]: at least
//! once, until acked, also across restarts. Hosts pull; nothing is pushed on runtime threads.
//!
//! Event ids are derived from what happened (`tae:acct:123:state:completed`), so the same
//! change seen twice, by two clients or after a restart, has the same id.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Ack, FeedState, Journal, StoredEvent};
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

/// How often a waiting puller looks at the journal for events committed elsewhere (another
/// process, or another client or receiver on the same journal); events committed through this
/// stream's owner wake it at once.
const POLL: Duration = Duration::from_millis(250);

/// Most events one replay returns.
pub const MAX_REPLAY: usize = 1_000;

/// The events of some (provider or source, account) pairs, as the journal keeps them: pulled
/// in commit order, each until acknowledged. Acked events are never handed out again; an event
/// handed out and not acked is handed out again by the next stream over the journal (after a
/// restart), not by this one.
#[derive(Debug)]
pub(crate) struct EventStream {
    journal: Journal,
    scope: Vec<(String, String)>,
    /// The position of the last event this stream handed out.
    delivered: tokio::sync::Mutex<i64>,
    arrived: Notify,
}

impl EventStream {
    pub fn new(journal: Journal, scope: Vec<(String, String)>) -> EventStream {
        EventStream { journal, scope, delivered: Default::default(), arrived: Notify::new() }
    }

    /// Wakes a puller: events of this stream were just committed.
    pub fn committed(&self) {
        self.arrived.notify_waiters();
    }

    /// The oldest pending event not yet handed out by this stream, waiting up to `timeout` for
    /// one (None: until one comes).
    pub async fn next(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut position = self.delivered.lock().await;
                let found = self.journal.store().next_event(&self.scope, *position).await?;
                if let Some(stored) = found {
                    *position = stored.seq;
                    return Ok(Some(stored.event));
                }
            }
            let wait = match deadline {
                Some(d) if d <= Instant::now() => return Ok(None),
                Some(d) => POLL.min(d - Instant::now()),
                None => POLL,
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Acknowledges the event `id`: true if acked now, false if it was acked before; an id
    /// the journal never had is [`ErrorKind::NotFound`].
    pub async fn ack(&self, id: &str) -> Result<bool> {
        match self.journal.store().ack_event(id, Utc::now()).await? {
            Ack::Acked => Ok(true),
            Ack::Already => Ok(false),
            Ack::Unknown => Err(Error::new(ErrorKind::NotFound, format!("no event has id {id:?}"))
                .with_context("field", "id")),
        }
    }

    /// Events from `since`, acknowledged or not, oldest first, at most `limit` (capped at
    /// [`MAX_REPLAY`]), each with its position in the stream.
    pub async fn replay(&self, since: Since, limit: usize) -> Result<Vec<StoredEvent>> {
        let limit = limit.min(MAX_REPLAY);
        let (time, after) = match since {
            Since::Position(p) => (DateTime::<Utc>::UNIX_EPOCH, p),
            Since::Time(t) => (t, 0),
        };
        self.journal.store().replay_events(&self.scope, time, after, limit).await
    }
}

/// Where a replay starts: after a position in the stream (each replayed event carries its
/// own, so the next replay starts after the last one seen; 0 is the beginning), or at a time
/// (events committed at or after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Position(i64),
    Time(DateTime<Utc>),
}

impl std::str::FromStr for Since {
    type Err = Error;

    /// A position (a whole number ≥ 0) or an RFC 3339 time (`2026-12-05T13:00:00Z`).
    fn from_str(text: &str) -> Result<Since> {
        let text = text.trim();
        if let Ok(position) = text.parse::<i64>() {
            if position >= 0 {
                return Ok(Since::Position(position));
            }
        }
        DateTime::parse_from_rfc3339(text).map(|t| Since::Time(t.with_timezone(&Utc))).map_err(
            |_| {
                Error::validation(
                    "since",
                    format!(
                        "{text:?} is neither a stream position (0 or more) nor an RFC 3339 time"
                    ),
                )
            },
        )
    }
}

/// How long acknowledged events are kept for [`Since`] replays before pruning removes them,
/// by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The pull of one batch of a change list: events since a cursor (None: the provider's
/// beginning) and the cursor after them (None: it stays). A provider's `changes` through
/// [`crate::Client`], or a test double.
#[async_trait::async_trait]
pub trait ChangeSource: Send + Sync {
    async fn pull(&self, cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)>;
}

/// A provider's change list feeding the event stream, for any provider whose capability
/// declares `changes` (SBIS's cursor, iDocs's history): each batch's events are appended with
/// the cursor after them kept beside them, and that cursor is committed only once the host
/// acknowledged every one of those events. Until then nothing more is pulled, so a crash or a
/// restart at any point resumes from the last committed cursor, and the batch pulled again
/// has the same (stable) ids, which the stream does not append twice.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    journal: Journal,
    provider: String,
    account: String,
}

/// What one [`ChangeFeed::step`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStep {
    /// Events of the batch pulled now (0 if nothing was pulled).
    pub pulled: usize,
    /// Events of the waiting batch the host has not acknowledged: nothing was pulled.
    pub awaiting_acks: u64,
    /// The committed cursor after the step.
    pub cursor: Option<String>,
}

impl ChangeFeed {
    pub fn new(journal: Journal, provider: &str, account: &str) -> ChangeFeed {
        ChangeFeed { journal, provider: provider.to_owned(), account: account.to_owned() }
    }

    /// Commits the waiting cursor if its batch is all acknowledged, then, unless a batch still
    /// awaits acks, pulls the next batch from `source` and appends it.
    pub async fn step(&self, source: &dyn ChangeSource) -> Result<FeedStep> {
        let store = self.journal.store();
        let (provider, account) = (self.provider.as_str(), self.account.as_str());
        let state = store.feed(provider, account, Utc::now()).await?;
        if state.awaiting_acks > 0 {
            return Ok(FeedStep {
                pulled: 0,
                awaiting_acks: state.awaiting_acks,
                cursor: state.cursor,
            });
        }
        let (events, next) = source.pull(state.cursor.as_deref()).await?;
        if let Some(stray) =
            events.iter().find(|e| e.handle.provider != provider || e.handle.account != account)
        {
            return Err(Error::internal(format!(
                "the change list of {provider}/{account} returned an event of {}/{}",
                stray.handle.provider, stray.handle.account
            )));
        }
        let cursor = state.cursor.as_deref();
        store.feed_pulled(provider, account, cursor, &events, next.as_deref(), Utc::now()).await?;
        let after = store.feed(provider, account, Utc::now()).await?;
        Ok(FeedStep {
            pulled: events.len(),
            awaiting_acks: after.awaiting_acks,
            cursor: after.cursor,
        })
    }

    /// Where the feed stands (committing a cursor whose batch is all acknowledged).
    pub async fn state(&self) -> Result<FeedState> {
        self.journal.store().feed(&self.provider, &self.account, Utc::now()).await
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
}
