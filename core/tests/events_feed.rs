//! The change feed (a provider's `changes` cursor into the event stream) over a journal file
//! and a test double for the provider: the cursor is committed only once every event pulled
//! with it is acknowledged, a restart resumes from the committed cursor, and nothing is
//! appended twice. Also pruning and replay by position or time.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use signbridge::journal::{Journal, JournalConfig};
use signbridge::{ChangeFeed, ChangeSource, Event, EventKind, Handle, Result};

/// A provider's change list: `EVENTS` in pages of two, the cursor being the next index.
struct Double {
    events: Vec<Event>,
    asked: Mutex<Vec<Option<String>>>,
}

impl Double {
    fn new(n: usize) -> Double {
        let events = (0..n)
            .map(|i| Event {
                id: format!("sbis:main:doc{i}:state:completed"),
                handle: Handle {
                    provider: "sbis".into(),
                    account: "main".into(),
                    id: format!("doc{i}"),
                    reference: None,
                },
                kind: EventKind::StateChanged,
                at: Utc::now(),
                raw: serde_json::json!({"i": i}),
            })
            .collect();
        Double { events, asked: Mutex::default() }
    }

    fn asked(&self) -> Vec<Option<String>> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl ChangeSource for Double {
    async fn pull(&self, cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)> {
        self.asked.lock().unwrap().push(cursor.map(str::to_owned));
        let from: usize = cursor.map_or(0, |c| c.parse().unwrap());
        let to = (from + 2).min(self.events.len());
        Ok((self.events[from..to].to_vec(), Some(to.to_string())))
    }
}

fn open(path: &std::path::Path) -> Journal {
    Journal::open(&JournalConfig { path: Some(path.to_owned()), ..Default::default() }).unwrap()
}

fn scope() -> Vec<(String, String)> {
    vec![("sbis".to_owned(), "main".to_owned())]
}

/// Every event of the stream (acked or not): ids in order, and how many are acked.
async fn stream(journal: &Journal) -> (Vec<String>, usize) {
    let all = journal
        .store()
        .replay_events(&scope(), chrono::DateTime::UNIX_EPOCH, 0, 100)
        .await
        .unwrap();
    let acked = all.iter().filter(|e| e.acked_at.is_some()).count();
    (all.into_iter().map(|e| e.event.id).collect(), acked)
}

async fn ack(journal: &Journal, id: &str) {
    journal.store().ack_event(id, Utc::now()).await.unwrap();
}

#[tokio::test]
async fn the_cursor_moves_only_after_every_event_of_its_batch_is_acked_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let double = Double::new(5);
    let id = |i: usize| double.events[i].id.clone();

    let journal = open(&path);
    let feed = ChangeFeed::new(journal.clone(), "sbis", "main");
    let first = feed.step(&double).await.unwrap();
    assert_eq!((first.pulled, first.awaiting_acks, first.cursor.as_deref()), (2, 2, None));
    let waiting = feed.step(&double).await.unwrap();
    assert_eq!((waiting.pulled, waiting.awaiting_acks), (0, 2), "nothing pulled while unacked");
    ack(&journal, &id(0)).await;
    assert_eq!(feed.step(&double).await.unwrap().awaiting_acks, 1, "one of two acked: waits");
    assert_eq!(double.asked(), [None], "one pull so far");

    // A restart: the batch is still waiting beside the old cursor; nothing is pulled again.
    drop((feed, journal));
    let journal = open(&path);
    let feed = ChangeFeed::new(journal.clone(), "sbis", "main");
    let resumed = feed.step(&double).await.unwrap();
    assert_eq!((resumed.pulled, resumed.awaiting_acks, resumed.cursor), (0, 1, None));
    assert_eq!(stream(&journal).await, (vec![id(0), id(1)], 1));

    ack(&journal, &id(1)).await;
    let second = feed.step(&double).await.unwrap();
    assert_eq!((second.pulled, second.cursor.as_deref()), (2, Some("2")), "committed, then pulled");
    assert_eq!(double.asked(), [None, Some("2".into())]);
    ack(&journal, &id(2)).await;
    ack(&journal, &id(3)).await;

    // Killed after the pull, before recording it: the same batch is pulled again from the
    // committed cursor and appended once.
    drop((feed, journal));
    let journal = open(&path);
    let feed = ChangeFeed::new(journal.clone(), "sbis", "main");
    assert_eq!(feed.state().await.unwrap().cursor.as_deref(), Some("4"), "all acked: committed");
    let (lost, next) = double.pull(Some("4")).await.unwrap();
    assert_eq!(lost.len(), 1);
    let store = journal.store();
    assert!(
        store
            .feed_pulled("sbis", "main", Some("4"), &lost, next.as_deref(), Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .feed_pulled("sbis", "main", Some("4"), &lost, next.as_deref(), Utc::now())
            .await
            .unwrap(),
        "a second record of the same pull is refused"
    );
    assert_eq!(feed.step(&double).await.unwrap().awaiting_acks, 1);
    ack(&journal, &id(4)).await;
    let last = feed.step(&double).await.unwrap();
    assert_eq!(
        (last.pulled, last.cursor.as_deref()),
        (0, Some("5")),
        "an empty batch moves it at once"
    );
    let ids: Vec<String> = (0..5).map(id).collect();
    assert_eq!(stream(&journal).await, (ids, 5), "every event once, each acked once");
}

#[tokio::test]
async fn a_batch_already_acked_elsewhere_commits_its_cursor_at_once_and_pruning_spares_pending() {
    let journal = Journal::in_memory().unwrap();
    let double = Double::new(3);
    let feed = ChangeFeed::new(journal.clone(), "sbis", "main");
    // The first event already came (and was acked) through a webhook.
    let snap = signbridge::journal::StatusSnapshot {
        status: serde_json::json!({"state": "completed"}),
        read_at: Utc::now(),
    };
    let store = journal.store();
    store.put_status("sbis", "main", "doc0", &snap, &double.events[..1]).await.unwrap();
    ack(&journal, &double.events[0].id).await;
    let step = feed.step(&double).await.unwrap();
    assert_eq!((step.pulled, step.awaiting_acks), (2, 1), "doc1 is new and pending");

    assert_eq!(journal.prune_events(Duration::from_secs(3600)).await.unwrap(), 0, "too young");
    let later = Utc::now() + chrono::TimeDelta::hours(1);
    assert_eq!(store.prune_events(later).await.unwrap(), 1, "the acked one goes");
    assert_eq!(stream(&journal).await, (vec![double.events[1].id.clone()], 0), "pending stays");
    ack(&journal, &double.events[1].id).await;
    assert_eq!(store.prune_events(later).await.unwrap(), 1);
    // Its batch's events are gone (acked, then pruned): the cursor commits all the same.
    let step = feed.step(&double).await.unwrap();
    assert_eq!((step.pulled, step.cursor.as_deref()), (1, Some("2")));
}
