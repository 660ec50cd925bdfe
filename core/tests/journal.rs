//! The journal's storage layer on SQLite: every operation, leases under contention, budgets
//! across reopening, and the files it refuses. Times are passed in, so nothing here waits for a
//! lease or a window to run out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::json;
use signbridge::ErrorKind;
use signbridge::journal::{
    Ack, Acquire, Begin, BeginMode, DownloadEnd, DownloadState, FileEnd, Finish, InboxEntry,
    Ingested, IntentKey, IntentState, Journal, JournalConfig, JournalStore, Lease, Period, Session,
    SessionLookup, SessionValue, SqliteStore, StatusSnapshot, Window,
};
use signbridge::{Event, EventKind, Handle};

const TTL: Duration = Duration::from_secs(60);
const BUSY: Duration = Duration::from_secs(10);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0).unwrap()
}

fn secs(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::seconds(n)
}

fn key(reference: &str) -> IntentKey {
    IntentKey::new("tae", "main", reference)
}

fn journal_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal.sqlite3")
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, BUSY).unwrap()
}

async fn begin(
    store: &SqliteStore,
    reference: &str,
    digest: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Begin {
    store.begin(&key(reference), digest, BeginMode::Send, holder, TTL, now).await.unwrap()
}

async fn new_lease(
    store: &SqliteStore,
    reference: &str,
    digest: &str,
    now: DateTime<Utc>,
) -> Lease {
    match begin(store, reference, digest, "first", now).await {
        Begin::New(lease) => lease,
        other => panic!("expected New, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sent_reference_returns_its_handle_and_refuses_another_envelope() {
    let store = SqliteStore::in_memory().unwrap();
    let mut lease = new_lease(&store, "NF-1", "d1", t0()).await;
    assert_eq!(lease.until, t0() + secs(60));
    store.record_id(&mut lease, "document_id", "D-7", t0() + secs(1)).await.unwrap();
    store.record_step(&mut lease, "uploaded", t0() + secs(2)).await.unwrap();
    assert_eq!(lease.until, t0() + secs(62), "each recorded step renews the lease");
    let handle = json!({"provider": "tae", "account": "main", "id": "D-7"});
    store.finish(&lease, &Finish::Sent(handle.clone()), t0() + secs(3)).await.unwrap();

    assert_eq!(
        begin(&store, "NF-1", "d1", "second", t0() + secs(4)).await,
        Begin::AlreadySent(handle.clone())
    );
    assert_eq!(
        begin(&store, "NF-1", "d2", "second", t0() + secs(4)).await,
        Begin::DigestMismatch {
            recorded: "d1".into(),
            offered: "d2".into(),
            state: IntentState::Sent
        }
    );
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!(rec.state, IntentState::Sent);
    assert_eq!(rec.handle, Some(handle));
    assert_eq!(rec.ids.get("document_id").map(String::as_str), Some("D-7"));
    assert_eq!(rec.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["uploaded"]);
    assert_eq!((rec.holder, rec.lease_until, rec.attempts), (None, None, 1));
    assert_eq!(rec.created_at, t0());
    assert_eq!(rec.updated_at, t0() + secs(3));
    assert_eq!(store.intent(&key("NF-2")).await.unwrap(), None);
}

#[tokio::test]
async fn a_live_lease_makes_others_busy_and_an_expired_one_is_resumed() {
    let store = SqliteStore::in_memory().unwrap();
    let mut first = new_lease(&store, "NF-1", "d1", t0()).await;
    store.record_id(&mut first, "document_id", "D-7", t0()).await.unwrap();
    store.record_step(&mut first, "uploaded", t0()).await.unwrap();

    assert_eq!(
        begin(&store, "NF-1", "d1", "second", t0() + secs(59)).await,
        Begin::Busy { holder: "first".into(), until: t0() + secs(60) }
    );
    // The first sender died: its lease runs out and the next sender takes over from its ids.
    let (mut second, before) = match begin(&store, "NF-1", "d1", "second", t0() + secs(60)).await {
        Begin::Resume(lease, before) => (lease, before),
        other => panic!("expected Resume, got {other:?}"),
    };
    assert_eq!(before.state, IntentState::Pending);
    assert_eq!(before.ids.get("document_id").map(String::as_str), Some("D-7"));
    assert_eq!(before.steps[0].name, "uploaded");
    assert_eq!(second.holder, "second");

    // The first sender was only slow: it may not write over the new holder.
    let lost = store.record_id(&mut first, "process_id", "P-1", t0() + secs(61)).await.unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::Conflict);
    assert!(lost.to_string().contains("taken over by second"), "{lost}");
    let done = Finish::Sent(json!({"id": "D-7"}));
    assert_eq!(
        store.finish(&first, &done, t0() + secs(61)).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    store.record_step(&mut second, "published", t0() + secs(62)).await.unwrap();
    store.finish(&second, &done, t0() + secs(63)).await.unwrap();
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!(rec.attempts, 2);
    assert!(!rec.ids.contains_key("process_id"));
    assert_eq!(rec.steps.len(), 2);
    let late = store.renew(&mut second, t0() + secs(64)).await.unwrap_err();
    assert!(late.to_string().contains("ended it as sent"), "{late}");
}

#[tokio::test]
async fn ids_are_recorded_once_and_steps_keep_their_first_order() {
    let store = SqliteStore::in_memory().unwrap();
    let mut lease = new_lease(&store, "NF-1", "d1", t0()).await;
    store.record_id(&mut lease, "document_id", "D-7", t0()).await.unwrap();
    store.record_id(&mut lease, "document_id", "D-7", t0()).await.unwrap();
    let clash = store.record_id(&mut lease, "document_id", "D-8", t0()).await.unwrap_err();
    assert_eq!(clash.kind(), ErrorKind::Conflict);
    assert!(clash.to_string().contains("D-7") && clash.to_string().contains("D-8"), "{clash}");
    store.record_step(&mut lease, "uploaded", t0()).await.unwrap();
    store.record_step(&mut lease, "signed", t0() + secs(1)).await.unwrap();
    store.record_step(&mut lease, "uploaded", t0() + secs(2)).await.unwrap();
    store.renew(&mut lease, t0() + secs(30)).await.unwrap();
    assert_eq!(lease.until, t0() + secs(90));
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!(rec.ids.len(), 1);
    let steps: Vec<_> = rec.steps.iter().map(|s| (s.name.as_str(), s.at)).collect();
    assert_eq!(steps, [("uploaded", t0() + secs(2)), ("signed", t0() + secs(1))]);
    assert_eq!(rec.lease_until, Some(t0() + secs(90)));
}

#[tokio::test]
async fn unknown_intents_are_listed_and_resumed_with_their_ids() {
    let store = SqliteStore::in_memory().unwrap();
    let mut a = new_lease(&store, "NF-1", "d1", t0()).await;
    store.record_id(&mut a, "process_id", "P-1", t0()).await.unwrap();
    store.finish(&a, &Finish::Unknown { reason: "timeout on publish".into() }, t0()).await.unwrap();
    let _b = new_lease(&store, "NF-2", "d2", t0() + secs(1)).await;
    let c = new_lease(&store, "NF-3", "d3", t0() + secs(2)).await;
    store.finish(&c, &Finish::Sent(json!("h")), t0() + secs(2)).await.unwrap();
    store
        .begin(&IntentKey::new("tae", "other", "NF-9"), "d", BeginMode::Send, "x", TTL, t0())
        .await
        .unwrap();

    let open = store.unfinished("tae", "main", 10).await.unwrap();
    let listed: Vec<_> = open.iter().map(|r| (r.key.reference.as_str(), r.state)).collect();
    assert_eq!(listed, [("NF-1", IntentState::Unknown), ("NF-2", IntentState::Pending)]);
    assert_eq!(open[0].reason.as_deref(), Some("timeout on publish"));
    assert_eq!(open[1].holder.as_deref(), Some("first"), "a live sender is shown as such");
    assert_eq!(store.unfinished("tae", "main", 1).await.unwrap().len(), 1);

    // Reconciliation: take the lease, look the process up, and mark what was found.
    let (lease, before) =
        match begin(&store, "NF-1", &open[0].digest, "reconcile", t0() + secs(5)).await {
            Begin::Resume(lease, before) => (lease, before),
            other => panic!("expected Resume, got {other:?}"),
        };
    assert_eq!(before.state, IntentState::Unknown);
    assert_eq!(before.ids.get("process_id").map(String::as_str), Some("P-1"));
    store
        .finish(&lease, &Finish::Unknown { reason: "lookup failed".into() }, t0() + secs(6))
        .await
        .unwrap();
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.attempts, rec.reason.as_deref()),
        (IntentState::Unknown, 2, Some("lookup failed"))
    );
    assert_eq!(
        begin(&store, "NF-1", "other", "x", t0() + secs(7)).await,
        Begin::DigestMismatch {
            recorded: "d1".into(),
            offered: "other".into(),
            state: IntentState::Unknown
        }
    );
}

#[tokio::test]
async fn not_sent_frees_the_reference_even_for_another_envelope() {
    let store = SqliteStore::in_memory().unwrap();
    let mut lease = new_lease(&store, "NF-1", "d1", t0()).await;
    store.record_step(&mut lease, "validated", t0()).await.unwrap();
    store.finish(&lease, &Finish::NotSent { reason: "HTTP 400".into() }, t0()).await.unwrap();
    assert!(store.unfinished("tae", "main", 10).await.unwrap().is_empty());
    let Begin::New(_) = begin(&store, "NF-1", "d2", "second", t0() + secs(1)).await else {
        panic!("a reference never sent is free")
    };
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.digest.as_str(), rec.attempts), (IntentState::Pending, "d2", 2));
    assert!(rec.steps.is_empty() && rec.ids.is_empty() && rec.reason.is_none());
    assert_eq!(rec.created_at, t0(), "the intent keeps its first date");
}

#[tokio::test]
async fn a_new_document_replaces_a_sent_intent_and_keeps_it_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&journal_file(&dir));
    let mut lease = new_lease(&store, "NF-1", "d1", t0()).await;
    store.record_id(&mut lease, "document_id", "D-1", t0()).await.unwrap();
    store.finish(&lease, &Finish::Sent(json!({"id": "D-1"})), t0()).await.unwrap();

    let replace = |holder: &'static str, at| {
        let store = &store;
        async move {
            store.begin(&key("NF-1"), "d2", BeginMode::NewDocument, holder, TTL, at).await.unwrap()
        }
    };
    let Begin::New(second) = replace("second", t0() + secs(1)).await else {
        panic!("expected New")
    };
    assert!(
        matches!(replace("third", t0() + secs(2)).await, Begin::Busy { ref holder, .. } if holder == "second"),
        "not while another sender holds the reference"
    );
    store.finish(&second, &Finish::Sent(json!({"id": "D-2"})), t0() + secs(3)).await.unwrap();
    let rec = store.intent(&key("NF-1")).await.unwrap().unwrap();
    assert_eq!(
        (rec.digest.as_str(), rec.handle, rec.attempts),
        ("d2", Some(json!({"id": "D-2"})), 1)
    );
    assert!(rec.ids.is_empty());

    let db = rusqlite::Connection::open(journal_file(&dir)).unwrap();
    let history: (String, String, String) = db
        .query_row(
            "SELECT digest, ids, handle FROM replaced_intents WHERE reference = 'NF-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(history, ("d1".into(), r#"{"document_id":"D-1"}"#.into(), r#"{"id":"D-1"}"#.into()));
}

#[test]
fn eight_threads_on_eight_connections_produce_one_new_intent() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                // Opening (and migrating) at the same time is part of the contention.
                let store = open(&path);
                barrier.wait();
                runtime.block_on(begin(&store, "NF-1", "d1", &format!("thread-{i}"), t0()))
            })
        })
        .collect();
    let outcomes: Vec<Begin> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<_> = outcomes.iter().filter(|b| matches!(b, Begin::New(_))).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let Begin::New(lease) = winners[0] else { unreachable!() };
    for other in outcomes.iter().filter(|b| !matches!(b, Begin::New(_))) {
        assert_eq!(other, &Begin::Busy { holder: lease.holder.clone(), until: t0() + secs(60) });
    }
}

#[tokio::test]
async fn sessions_are_shared_refreshed_single_flight_and_invalidated_only_if_current() {
    let store = SqliteStore::in_memory().unwrap();
    let login = Duration::from_secs(30);
    let SessionLookup::Login(lease) =
        store.session("sbis", "main", "a", login, t0()).await.unwrap()
    else {
        panic!("nothing cached yet: log in")
    };
    assert_eq!(lease.until, t0() + secs(30));
    assert_eq!(
        store.session("sbis", "main", "b", login, t0() + secs(1)).await.unwrap(),
        SessionLookup::Wait(t0() + secs(30)),
        "one login at a time"
    );
    let session = Session { value: SessionValue::new("sid-1"), expires_at: t0() + secs(600) };
    store.put_session("sbis", "main", &session, t0() + secs(2)).await.unwrap();
    assert_eq!(
        store.session("sbis", "main", "b", login, t0() + secs(3)).await.unwrap(),
        SessionLookup::Valid(session.clone())
    );
    assert!(matches!(
        store.session("sbis", "other", "b", login, t0()).await.unwrap(),
        SessionLookup::Login(_)
    ));

    // Expired: the next caller logs in; a login that dies holding the lease blocks others only
    // until the lease runs out, and one that fails releases it at once.
    let SessionLookup::Login(c) =
        store.session("sbis", "main", "c", login, t0() + secs(600)).await.unwrap()
    else {
        panic!("an expired session is not returned")
    };
    assert!(matches!(
        store.session("sbis", "main", "d", login, t0() + secs(629)).await.unwrap(),
        SessionLookup::Wait(_)
    ));
    assert!(matches!(
        store.session("sbis", "main", "d", login, t0() + secs(630)).await.unwrap(),
        SessionLookup::Login(_)
    ));
    store.release_login(&c).await.unwrap(); // c's lease was taken over by d: nothing changes
    assert!(matches!(
        store.session("sbis", "main", "e", login, t0() + secs(631)).await.unwrap(),
        SessionLookup::Wait(_)
    ));

    let newer = Session { value: SessionValue::new("sid-2"), expires_at: t0() + secs(1200) };
    store.put_session("sbis", "main", &newer, t0() + secs(632)).await.unwrap();
    assert!(!store.invalidate_session("sbis", "main", &SessionValue::new("sid-1")).await.unwrap());
    assert_eq!(
        store.session("sbis", "main", "f", login, t0() + secs(633)).await.unwrap(),
        SessionLookup::Valid(newer.clone())
    );
    assert!(store.invalidate_session("sbis", "main", &newer.value).await.unwrap());
    assert!(matches!(
        store.session("sbis", "main", "f", login, t0() + secs(634)).await.unwrap(),
        SessionLookup::Login(_)
    ));
}

#[tokio::test]
async fn a_failed_login_lets_the_next_caller_log_in_at_once() {
    let journal = Journal::in_memory().unwrap();
    let failed = journal
        .session("tae", "main", || async {
            Err(signbridge::Error::new(ErrorKind::Auth, "refused"))
        })
        .await
        .unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Auth);
    let fresh = Session { value: SessionValue::new("t1"), expires_at: Utc::now() + secs(600) };
    let got = journal.session("tae", "main", || async { Ok(fresh.clone()) }).await.unwrap();
    assert_eq!(got, fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_on_separate_connections_share_one_login() {
    let dir = tempfile::tempdir().unwrap();
    let config = JournalConfig { path: Some(journal_file(&dir)), ..Default::default() };
    let logins = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (journal, logins) = (Journal::open(&config).unwrap(), logins.clone());
            tokio::spawn(async move {
                journal
                    .session("sbis", "main", || async {
                        logins.fetch_add(1, Ordering::SeqCst);
                        // Long enough for the others to find the login under way.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(Session {
                            value: SessionValue::new("sid"),
                            expires_at: Utc::now() + secs(600),
                        })
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().value.expose(), "sid");
    }
    assert_eq!(logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_spent_budget_fails_fast_with_the_time_it_may_go() {
    let journal = Journal::in_memory().unwrap();
    let windows = [Window::per_second(100), Window::per_month(3)];
    for _ in 0..3 {
        journal.acquire("arqsign", "main", &windows, Duration::ZERO).await.unwrap();
    }
    let err =
        journal.acquire("arqsign", "main", &windows, Duration::from_secs(3600)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_temporary());
    assert!(err.retry_after().unwrap() > Duration::from_secs(3600), "waits for next month");
    assert!(err.to_string().contains("3 per calendar month"), "{err}");
    // Other accounts have budgets of their own.
    journal.acquire("arqsign", "other", &windows, Duration::ZERO).await.unwrap();
    let left = journal.remaining("arqsign", "main", &windows).await.unwrap();
    assert_eq!((left[1].used, left[1].remaining), (3, 0));
    assert!(left[1].frees_at.is_some());
}

#[tokio::test]
async fn a_short_wait_within_the_bound_is_waited_out() {
    let journal = Journal::in_memory().unwrap();
    let windows = [Window::new(Period::Fixed(Duration::from_millis(50)), 1), Window::per_hour(10)];
    journal.acquire("tae", "main", &windows, Duration::ZERO).await.unwrap();
    let refused = journal.acquire("tae", "main", &windows, Duration::ZERO).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::RateLimited);
    journal.acquire("tae", "main", &windows, Duration::from_secs(5)).await.unwrap();
    let used = journal.remaining("tae", "main", &windows).await.unwrap();
    assert_eq!(used[1].used, 2, "the refused call was not counted, the waited one once");
}

#[tokio::test]
async fn the_month_count_survives_reopening_and_old_grants_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    let windows = [Window::per_second(2), Window::per_month(5)];
    {
        let store = open(&path);
        for i in 0..5 {
            assert_eq!(
                store.acquire("arqsign", "main", &windows, t0() + secs(i)).await.unwrap(),
                Acquire::Granted
            );
        }
    }
    let store = open(&path);
    let next_month = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap();
    assert_eq!(
        store.acquire("arqsign", "main", &windows, t0() + secs(86_400)).await.unwrap(),
        Acquire::WaitUntil { until: next_month, window: windows[1] }
    );
    let usage = store.remaining("arqsign", "main", &windows, t0() + secs(10)).await.unwrap();
    assert_eq!((usage[0].used, usage[1].used, usage[1].remaining), (0, 5, 0));
    assert_eq!(
        store.acquire("arqsign", "main", &windows, next_month).await.unwrap(),
        Acquire::Granted
    );
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM rate_grants", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "last month's grants count in no window and are gone");
}

#[tokio::test]
async fn the_sliding_window_answers_when_the_oldest_call_leaves() {
    let store = SqliteStore::in_memory().unwrap();
    let windows = [Window::per_second(2)];
    let at = |ms: i64| t0() + chrono::TimeDelta::milliseconds(ms);
    for ms in [0, 300] {
        assert_eq!(store.acquire("tae", "main", &windows, at(ms)).await.unwrap(), Acquire::Granted);
    }
    assert_eq!(
        store.acquire("tae", "main", &windows, at(999)).await.unwrap(),
        Acquire::WaitUntil { until: at(1000), window: windows[0] }
    );
    assert_eq!(store.acquire("tae", "main", &windows, at(1000)).await.unwrap(), Acquire::Granted);
    assert_eq!(store.acquire("tae", "main", &[], at(1000)).await.unwrap(), Acquire::Granted);
}

#[tokio::test]
async fn status_snapshots_keep_the_latest_reading() {
    let store = SqliteStore::in_memory().unwrap();
    let snap = |state: &str, at| StatusSnapshot { status: json!({"state": state}), read_at: at };
    store.put_status("idocs", "main", "D-1", &snap("sent", t0() + secs(10)), &[]).await.unwrap();
    store.put_status("idocs", "main", "D-1", &snap("draft", t0()), &[]).await.unwrap();
    assert_eq!(
        store.status("idocs", "main", "D-1").await.unwrap(),
        Some(snap("sent", t0() + secs(10)))
    );
    store
        .put_status("idocs", "main", "D-1", &snap("completed", t0() + secs(20)), &[])
        .await
        .unwrap();
    assert_eq!(
        store.status("idocs", "main", "D-1").await.unwrap(),
        Some(snap("completed", t0() + secs(20)))
    );
    assert_eq!(store.status("idocs", "main", "D-2").await.unwrap(), None);

    let journal = Journal::in_memory().unwrap();
    journal.put_status("idocs", "main", "D-3", &json!({"state": "sent"}), &[]).await.unwrap();
    assert_eq!(
        journal.status("idocs", "main", "D-3").await.unwrap().unwrap().status["state"],
        "sent"
    );
}

#[tokio::test]
async fn the_journal_handle_runs_a_whole_send() {
    let journal = Journal::in_memory().unwrap();
    let key = key("NF-1");
    let Begin::New(mut lease) = journal.begin(&key, "d1").await.unwrap() else {
        panic!("expected New")
    };
    assert!(lease.holder.starts_with(&format!("{}-", std::process::id())));
    journal.record_id(&mut lease, "document_id", "D-1").await.unwrap();
    journal.record_step(&mut lease, "uploaded").await.unwrap();
    journal.renew(&mut lease).await.unwrap();
    let Begin::Busy { holder, .. } = journal.begin(&key, "d1").await.unwrap() else {
        panic!("another attempt in the same process is busy too")
    };
    assert_eq!(holder, lease.holder);
    journal.finish_sent(lease, &json!({"id": "D-1"})).await.unwrap();
    assert_eq!(journal.begin(&key, "d1").await.unwrap(), Begin::AlreadySent(json!({"id": "D-1"})));

    let Begin::New(lease) = journal.begin_new_document(&key, "d2").await.unwrap() else {
        panic!("expected New")
    };
    journal.mark_unknown(lease, "lost response").await.unwrap();
    let open = journal.unfinished("tae", "main", 10).await.unwrap();
    assert_eq!(open.len(), 1);
    let Begin::Resume(lease, _) = journal.begin(&key, "d2").await.unwrap() else {
        panic!("expected Resume")
    };
    journal.mark_not_sent(lease, "not found at the provider").await.unwrap();
    assert_eq!(journal.intent(&key).await.unwrap().unwrap().state, IntentState::NotSent);
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("journal.sqlite3");
    let store = open(&path);
    store.acquire("tae", "main", &[Window::per_second(1)], t0()).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&path.with_extension("sqlite3-wal")), 0o600, "WAL mode, same permissions");
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

/// Opens `path` expecting a journal error that names it.
fn refused(path: &Path) -> signbridge::Error {
    let err = SqliteStore::open(path, BUSY).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Journal, "{err}");
    assert!(err.to_string().contains(&path.display().to_string()), "names the file: {err}");
    err
}

#[test]
fn reopening_a_current_journal_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    drop(open(&path));
    let before = std::fs::read(&path).unwrap();
    drop(open(&path));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_journal_from_a_newer_version_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    drop(open(&path));
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = refused(&path);
    assert!(err.to_string().contains("newer signbridge (schema version 99"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn files_that_are_not_journals_are_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text ".repeat(100)).unwrap();
    let before = std::fs::read(&text).unwrap();
    assert!(refused(&text).to_string().contains("not an SQLite database"));
    assert_eq!(std::fs::read(&text).unwrap(), before);

    let other = dir.path().join("other.sqlite3");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let before = std::fs::read(&other).unwrap();
    assert!(refused(&other).to_string().contains("not a signbridge journal"));
    assert_eq!(std::fs::read(&other).unwrap(), before);
}

#[test]
fn a_corrupt_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    drop(open(&path));
    let mut bytes = std::fs::read(&path).unwrap();
    // Keep the 100-byte header, overwrite the schema that follows on the first page.
    bytes[100..1000].fill(0xA5);
    std::fs::write(&path, bytes).unwrap();
    let err = refused(&path);
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[test]
fn an_unwritable_location_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let err = refused(&blocker.join("journal.sqlite3"));
    assert!(err.to_string().contains("cannot create its directory"), "{err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let locked = dir.path().join("read-only");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let path = locked.join("journal.sqlite3");
        // A privileged user (root in CI containers) writes through the mode bits; then there is
        // no read-only directory to test with, and /proc stands in for one.
        let privileged = std::fs::write(locked.join("probe"), "").is_ok();
        let path =
            if privileged { PathBuf::from("/proc/signbridge-test/journal.sqlite3") } else { path };
        if cfg!(target_os = "linux") || !privileged {
            let err = refused(&path);
            assert!(err.to_string().contains("cannot create"), "{err}");
        }
    }
}

#[test]
fn configuration_is_strict_and_memory_is_private() {
    let config: JournalConfig =
        serde_json::from_str(r#"{"path": "/var/lib/erp/journal.sqlite3"}"#).unwrap();
    assert_eq!(config.path.as_deref(), Some(Path::new("/var/lib/erp/journal.sqlite3")));
    assert_eq!((config.lease_ms, config.busy_timeout_ms), (120_000, 5_000));
    let err = serde_json::from_str::<JournalConfig>(r#"{"pth": "x"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `pth`"), "{err}");
    let memory = Journal::open(&serde_json::from_str(r#"{"path": ":memory:"}"#).unwrap()).unwrap();
    assert_eq!(memory.location(), ":memory:");
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let session = Session { value: SessionValue::new("hunter2-token"), expires_at: t0() };
    let journal = Journal::in_memory().unwrap();
    journal.put_session("tae", "main", &session).await.unwrap();
    let shown = format!(
        "{session:?} {:?} {:?} {journal:?}",
        SessionLookup::Valid(session.clone()),
        session.value
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("SessionValue(***)"), "{shown}");
    assert_eq!(session.value.expose(), "hunter2-token");
}

fn event(provider: &str, id: &str) -> Event {
    Event {
        id: id.into(),
        handle: Handle {
            provider: provider.into(),
            account: "main".into(),
            id: "D-1".into(),
            reference: None,
        },
        kind: EventKind::StateChanged,
        at: t0(),
        raw: json!({"n": id}),
    }
}

fn entry(key: &str, link: Option<(&str, i64)>) -> InboxEntry {
    InboxEntry {
        source: "sintegre".into(),
        account: "main".into(),
        key: key.into(),
        body: format!("{{\"k\":\"{key}\"}}"),
        headers: json!([["Content-Type", "application/json"]]),
        flags: vec!["no_content_type".into()],
        link: link.map(|(url, exp)| (url.to_owned(), Some(t0() + secs(exp)))),
        content_group: Some("ipdo-2025-02-20".into()),
        events: vec![event("sintegre", &format!("sintegre:main:{key}"))],
    }
}

fn scope(provider: &str) -> Vec<(String, String)> {
    vec![(provider.to_owned(), "main".to_owned())]
}

#[tokio::test]
async fn a_delivery_is_kept_once_and_its_duplicates_counted() {
    let store = SqliteStore::in_memory().unwrap();
    let first = entry("k1:a", Some(("https://x/?token=one", 100)));
    assert_eq!(store.ingest(&first, t0()).await.unwrap(), Ingested::New);
    let resend = entry("k1:a", Some(("https://x/?token=two", 200)));
    assert_eq!(
        store.ingest(&resend, t0() + secs(5)).await.unwrap(),
        Ingested::Duplicate { deliveries: 2 }
    );
    let kept = store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap();
    assert_eq!((kept.deliveries, kept.first_at, kept.last_at), (2, t0(), t0() + secs(5)));
    assert_eq!(kept.link_expires_at, Some(t0() + secs(200)), "the later link is kept");
    assert_eq!(kept.flags, ["no_content_type"]);
    assert_eq!(kept.headers, json!([["Content-Type", "application/json"]]));
    let sintegre = scope("sintegre");
    let only = store.next_event(&sintegre, 0).await.unwrap().unwrap();
    assert_eq!(only.event.id, "sintegre:main:k1:a");
    assert!(store.next_event(&sintegre, only.seq).await.unwrap().is_none(), "one event, not two");
    assert!(store.inbox("sintegre", "main", "k1:b").await.unwrap().is_none());
}

#[tokio::test]
async fn events_stay_pending_until_acked_and_replay_shows_them_all() {
    let store = SqliteStore::in_memory().unwrap();
    let snap = StatusSnapshot { status: json!({"state": "sent"}), read_at: t0() };
    let events = [event("idocs", "e1"), event("idocs", "e2")];
    store.put_status("idocs", "main", "D-1", &snap, &events).await.unwrap();
    // The same change derived again (another client, after a restart) is the same event.
    store.put_status("idocs", "main", "D-1", &snap, &events[..1]).await.unwrap();
    store.ingest(&entry("k", None), t0()).await.unwrap();
    let idocs = scope("idocs");
    let e1 = store.next_event(&idocs, 0).await.unwrap().unwrap();
    let e2 = store.next_event(&idocs, e1.seq).await.unwrap().unwrap();
    assert_eq!((e1.event.id.as_str(), e2.event.id.as_str()), ("e1", "e2"));
    assert!(store.next_event(&idocs, e2.seq).await.unwrap().is_none(), "scoped to idocs/main");
    assert!(store.next_event(&scope("tae"), 0).await.unwrap().is_none());
    assert_eq!(store.ack_event("e1", t0()).await.unwrap(), Ack::Acked);
    assert_eq!(store.ack_event("e1", t0()).await.unwrap(), Ack::Already);
    assert_eq!(store.ack_event("nope", t0()).await.unwrap(), Ack::Unknown);
    let pending = store.next_event(&idocs, 0).await.unwrap().unwrap();
    assert_eq!(pending.event.id, "e2", "from the start, the acked one is skipped");
    let both =
        [("idocs".to_owned(), "main".to_owned()), ("sintegre".to_owned(), "main".to_owned())];
    let all = store.replay_events(&both, DateTime::<Utc>::UNIX_EPOCH, 0, 10).await.unwrap();
    let ids: Vec<_> = all.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "sintegre:main:k"]);
    assert!(all[0].acked_at.is_some() && all[1].acked_at.is_none());
    assert_eq!(all[1].event, events[1], "kept whole");
    let later = store.replay_events(&both, Utc::now() + secs(3600), 0, 10).await.unwrap();
    assert!(later.is_empty());
}

#[test]
fn a_version_1_journal_is_migrated_on_open_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = open(&path);
    runtime.block_on(new_lease(&store, "R-1", "d", t0()));
    drop(store);
    // Back to what version 1 wrote: no inbox, no events.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE feeds; DROP TABLE inbox; DROP TABLE events; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = open(&path);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    runtime.block_on(async {
        assert!(store.intent(&key("R-1")).await.unwrap().is_some(), "version 1 rows kept");
        assert_eq!(store.ingest(&entry("k", None), t0()).await.unwrap(), Ingested::New);
    });
}

#[test]
fn a_version_2_journal_gets_its_kept_links_due_for_download() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = open(&path);
    runtime.block_on(async {
        store.ingest(&entry("k1:a", Some(("https://x/?token=one", 100))), t0()).await.unwrap();
        store.ingest(&entry("k1:b", None), t0()).await.unwrap();
    });
    drop(store);
    // Back to what version 2 wrote.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE feeds; DROP INDEX events_acked; DROP INDEX inbox_contents; \
         ALTER TABLE inbox DROP COLUMN content_group; ALTER TABLE inbox DROP COLUMN content_of; \
         DROP INDEX inbox_downloads; ALTER TABLE inbox DROP COLUMN download; \
         ALTER TABLE inbox DROP COLUMN download_attempts; \
         ALTER TABLE inbox DROP COLUMN download_due_ms; ALTER TABLE inbox DROP COLUMN file_path; \
         ALTER TABLE inbox DROP COLUMN file_sha256; ALTER TABLE inbox DROP COLUMN file_size; \
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let store = open(&path);
    runtime.block_on(async {
        let a = store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap();
        assert_eq!(a.download, Some(DownloadState::Pending));
        let b = store.inbox("sintegre", "main", "k1:b").await.unwrap().unwrap();
        assert_eq!(b.download, None, "no link, nothing to fetch");
        let due = store.claim_downloads("sintegre", t0(), Duration::from_secs(60), 10).await;
        assert_eq!(due.unwrap().len(), 1);
        // Version 4: change-list cursors.
        assert_eq!(store.feed("sbis", "main", t0()).await.unwrap().cursor, None);
        // Version 5: a row kept before has no content group: its file is told, not compared.
        let done = DownloadEnd::Done { path: "/f/a.pdf".into(), sha256: "ab".into(), size: 2 };
        let end = store.end_download("sintegre", "main", "k1:a", &done, &[], t0()).await;
        assert_eq!(end.unwrap(), FileEnd::Kept);
        assert_eq!(
            store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap().download,
            Some(DownloadState::Done)
        );
    });
}

#[tokio::test]
async fn downloads_are_claimed_once_retried_ended_and_a_fresh_link_revives_an_expired_one() {
    let store = SqliteStore::in_memory().unwrap();
    store.ingest(&entry("k1:a", Some(("https://x/?token=one", 100))), t0()).await.unwrap();
    let lease = Duration::from_secs(60);
    let due = store.claim_downloads("sintegre", t0(), lease, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].link.expose(), due[0].attempts), ("https://x/?token=one", 0));
    assert!(!format!("{:?}", due[0]).contains("token=one"), "Debug hides the link");
    let again = store.claim_downloads("sintegre", t0(), lease, 10).await.unwrap();
    assert!(again.is_empty(), "leased to the first worker");

    store.retry_download("sintegre", "main", "k1:a", t0() + secs(5)).await.unwrap();
    assert!(store.claim_downloads("sintegre", t0(), lease, 10).await.unwrap().is_empty());
    let retried = store.claim_downloads("sintegre", t0() + secs(5), lease, 10).await.unwrap();
    assert_eq!(retried[0].attempts, 1);

    let expired = event("sintegre", "sintegre:main:k1:a:link_expired:1");
    store
        .end_download("sintegre", "main", "k1:a", &DownloadEnd::Expired, &[expired], t0())
        .await
        .unwrap();
    let kept = store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap();
    assert_eq!(kept.download, Some(DownloadState::Expired));
    let later = t0() + secs(1000);
    assert!(store.claim_downloads("sintegre", later, lease, 10).await.unwrap().is_empty());

    // "Enviar Tudo": the same notification with a fresh link is due again, with that link.
    let resend = entry("k1:a", Some(("https://x/?token=two", 200)));
    assert!(matches!(store.ingest(&resend, t0()).await.unwrap(), Ingested::Duplicate { .. }));
    let revived = store.claim_downloads("sintegre", later, lease, 10).await.unwrap();
    assert_eq!((revived[0].link.expose(), revived[0].attempts), ("https://x/?token=two", 0));

    let done = DownloadEnd::Done { path: "/f/a.pdf".into(), sha256: "ab".into(), size: 2 };
    let downloaded = event("sintegre", "sintegre:main:k1:a:file_downloaded");
    store.end_download("sintegre", "main", "k1:a", &done, &[downloaded], t0()).await.unwrap();
    let kept = store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap();
    assert_eq!(kept.download, Some(DownloadState::Done));
    assert_eq!(kept.file, Some(("/f/a.pdf".into(), "ab".into())));
    // A later resend of a fetched file fetches it again: only the content (K2) tells a
    // republication under the same name from a resend (sintegre.md §3.6).
    let third = entry("k1:a", Some(("https://x/?token=three", 300)));
    store.ingest(&third, t0()).await.unwrap();
    let refetch = store.claim_downloads("sintegre", later, lease, 10).await.unwrap();
    assert_eq!(refetch[0].link.expose(), "https://x/?token=three");
    assert_eq!((refetch[0].refetch, refetch[0].deliveries), (true, 3));
    // The same content: a duplicate of its own earlier fetch, nothing told.
    let again = event("sintegre", "sintegre:main:k1:a:file_downloaded:3");
    let same = DownloadEnd::Done { path: "/f/a (2).pdf".into(), sha256: "ab".into(), size: 2 };
    let end = store.end_download("sintegre", "main", "k1:a", &same, &[again], t0()).await;
    assert_eq!(end.unwrap(), FileEnd::Duplicate { of: "k1:a".into(), path: "/f/a.pdf".into() });
    let kept = store.inbox("sintegre", "main", "k1:a").await.unwrap().unwrap();
    assert_eq!((kept.download, kept.content_duplicate_of), (Some(DownloadState::Done), None));
    assert_eq!(kept.file, Some(("/f/a.pdf".into(), "ab".into())));

    // Another notification of the same product and period (another K1: a new file name) with
    // the same content: marked, pointing at the first file, not told.
    store.ingest(&entry("k1:b", Some(("https://x/?token=b", 300))), t0()).await.unwrap();
    store.ingest(&entry("k1:c", Some(("https://x/?token=c", 300))), t0()).await.unwrap();
    assert_eq!(store.claim_downloads("sintegre", later, lease, 10).await.unwrap().len(), 2);
    let b = DownloadEnd::Done { path: "/f/b.pdf".into(), sha256: "ab".into(), size: 2 };
    let told = event("sintegre", "sintegre:main:k1:b:file_downloaded");
    let end = store.end_download("sintegre", "main", "k1:b", &b, &[told], t0()).await;
    assert_eq!(end.unwrap(), FileEnd::Duplicate { of: "k1:a".into(), path: "/f/a.pdf".into() });
    let kept = store.inbox("sintegre", "main", "k1:b").await.unwrap().unwrap();
    assert_eq!(kept.download, Some(DownloadState::ContentDuplicate));
    assert_eq!(kept.content_duplicate_of.as_deref(), Some("k1:a"));
    assert_eq!(kept.file, Some(("/f/a.pdf".into(), "ab".into())));
    // New content in the same group is told.
    let c = DownloadEnd::Done { path: "/f/c.pdf".into(), sha256: "cd".into(), size: 2 };
    let told = event("sintegre", "sintegre:main:k1:c:file_downloaded");
    let end = store.end_download("sintegre", "main", "k1:c", &c, &[told], t0()).await;
    assert_eq!(end.unwrap(), FileEnd::Kept);

    let events = store.replay_events(&scope("sintegre"), t0(), 0, 10).await.unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sintegre:main:k1:a",
            "sintegre:main:k1:a:link_expired:1",
            "sintegre:main:k1:a:file_downloaded",
            "sintegre:main:k1:b",
            "sintegre:main:k1:c",
            "sintegre:main:k1:c:file_downloaded"
        ]
    );
}

/// §7 "latest_for_period": a notification's event says whether no other notification of its
/// product and period was sent later (its link expires later: the same time after the send),
/// a told file's whether no other told version was.
#[tokio::test]
async fn events_say_whether_their_version_is_the_latest_of_its_period() {
    let store = SqliteStore::in_memory().unwrap();
    let lease = Duration::from_secs(60);
    store.ingest(&entry("k1:new", Some(("https://x/?token=new", 200))), t0()).await.unwrap();
    store.ingest(&entry("k1:old", Some(("https://x/?token=old", 100))), t0()).await.unwrap();
    store.ingest(&entry("k1:late", Some(("https://x/?token=late", 300))), t0()).await.unwrap();
    let mut other = entry("k1:other", Some(("https://x/?token=other", 50)));
    other.content_group = Some("ipdo-2025-02-21".into());
    store.ingest(&other, t0()).await.unwrap();
    let mut ungrouped = entry("k1:none", Some(("https://x/?token=none", 50)));
    ungrouped.content_group = None;
    store.ingest(&ungrouped, t0()).await.unwrap();
    assert_eq!(store.claim_downloads("sintegre", t0(), lease, 10).await.unwrap().len(), 5);
    let end = |key: &str, sha: &str| {
        let done = DownloadEnd::Done { path: format!("/f/{key}"), sha256: sha.into(), size: 1 };
        let told = event("sintegre", &format!("sintegre:main:{key}:file_downloaded"));
        let store = &store;
        let key = key.to_owned();
        async move { store.end_download("sintegre", "main", &key, &done, &[told], t0()).await }
    };
    assert_eq!(end("k1:new", "n").await.unwrap(), FileEnd::Kept);
    // Sent before a version already told: not the latest.
    assert_eq!(end("k1:old", "o").await.unwrap(), FileEnd::Kept);
    // The latest sent, but the same content as an earlier version: not told at all.
    assert!(matches!(end("k1:late", "n").await.unwrap(), FileEnd::Duplicate { .. }));
    assert_eq!(end("k1:other", "o").await.unwrap(), FileEnd::Kept);
    assert_eq!(end("k1:none", "x").await.unwrap(), FileEnd::Kept);

    let events = store.replay_events(&scope("sintegre"), t0(), 0, 20).await.unwrap();
    let latest: Vec<(&str, Option<bool>)> = events
        .iter()
        .map(|e| (e.event.id.as_str(), e.event.raw["latest_for_period"].as_bool()))
        .collect();
    assert_eq!(
        latest,
        [
            // At receipt, among the notifications kept so far.
            ("sintegre:main:k1:new", Some(true)),
            ("sintegre:main:k1:old", Some(false)),
            ("sintegre:main:k1:late", Some(true)),
            ("sintegre:main:k1:other", Some(true)),
            ("sintegre:main:k1:none", None),
            // A told file, among the told files.
            ("sintegre:main:k1:new:file_downloaded", Some(true)),
            ("sintegre:main:k1:old:file_downloaded", Some(false)),
            ("sintegre:main:k1:other:file_downloaded", Some(true)),
            ("sintegre:main:k1:none:file_downloaded", None),
        ]
    );
}
