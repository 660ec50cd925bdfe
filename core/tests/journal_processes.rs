//! Processes sharing one journal file: racing senders, one budget, and a sender killed in the
//! middle of a transaction.
//!
//! The test binary is its own child: run with `SIGNBRIDGE_JOURNAL_CHILD` set, it plays the role
//! that variable names instead of running the checks (hence `harness = false`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::json;
use signbridge::journal::{
    Acquire, Begin, BeginMode, IntentKey, IntentState, Journal, JournalConfig, JournalStore,
    SqliteStore, Window,
};

const ROLE: &str = "SIGNBRIDGE_JOURNAL_CHILD";
const REFERENCES: usize = 50;
const SENDERS: usize = 3;
const MONTH_LIMIT: u32 = 100;
const WINDOWS: [Window; 1] = [Window::per_month(MONTH_LIMIT)];

/// The one instant every budget call uses, so no month can roll over mid-test.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0).unwrap()
}

type Check = fn(&tokio::runtime::Runtime);

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let path = Path::new(&args[0]);
        match role.as_str() {
            "sender" => runtime.block_on(sender(path, args[1].parse().unwrap())),
            "dies-mid-transaction" => runtime.block_on(dies_mid_transaction(path)),
            other => panic!("unknown child role {other}"),
        }
        return;
    }
    let checks: [(&str, Check); 2] = [
        ("processes_race_for_the_same_references_and_one_budget", race),
        ("a_sender_killed_mid_transaction_is_resumed", killed_sender),
    ];
    for (name, check) in checks {
        check(&runtime);
        println!("test {name} ... ok");
    }
    println!("{} passed, 0 failed", checks.len());
}

fn spawn(role: &str, args: &[&str]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn key(i: usize) -> IntentKey {
    IntentKey::new("arqsign", "main", format!("NF-{i}"))
}

/// Child: sends every reference once, starting at its own offset so the senders collide, and
/// spends one budget unit after each. Prints what happened to each reference and how many
/// units it was granted.
async fn sender(path: &Path, index: usize) {
    let config = JournalConfig { path: Some(path.into()), ..Default::default() };
    let journal = Journal::open(&config).unwrap();
    let store = SqliteStore::open(path, Duration::from_secs(30)).unwrap();
    let mut granted = 0;
    for n in 0..REFERENCES {
        let i = (n + index * REFERENCES / SENDERS) % REFERENCES;
        let outcome = match journal.begin(&key(i), "digest").await.unwrap() {
            Begin::New(mut lease) => {
                journal.record_id(&mut lease, "process_id", &format!("P-{i}")).await.unwrap();
                let handle = json!({"id": format!("P-{i}"), "sender": index});
                journal.finish_sent(lease, &handle).await.unwrap();
                "won"
            }
            Begin::AlreadySent(_) => "sent",
            Begin::Busy { .. } => "busy",
            other => panic!("sender {index}, NF-{i}: {other:?}"),
        };
        println!("{outcome} {i}");
        if store.acquire("arqsign", "main", &WINDOWS, t0()).await.unwrap() == Acquire::Granted {
            granted += 1;
        }
    }
    println!("granted {granted}");
}

fn race(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let file = path.to_str().unwrap();
    let children: Vec<_> = (0..SENDERS).map(|i| spawn("sender", &[file, &i.to_string()])).collect();
    let outputs: Vec<Output> =
        children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();

    let mut seen: BTreeMap<usize, Vec<(String, usize)>> = BTreeMap::new();
    let mut granted = 0;
    for (sender, output) in outputs.iter().enumerate() {
        assert!(output.status.success(), "sender {sender}: {:?}", output.status);
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let (what, n) = line.split_once(' ').unwrap();
            match what {
                "granted" => granted += n.parse::<u32>().unwrap(),
                _ => seen.entry(n.parse().unwrap()).or_default().push((what.into(), sender)),
            }
        }
    }
    assert_eq!(seen.len(), REFERENCES);
    let store = SqliteStore::open(&path, Duration::from_secs(30)).unwrap();
    runtime.block_on(async {
        for (i, outcomes) in &seen {
            assert_eq!(outcomes.len(), SENDERS, "NF-{i}: every sender tried: {outcomes:?}");
            let winners: Vec<usize> =
                outcomes.iter().filter(|(w, _)| w == "won").map(|(_, s)| *s).collect();
            assert_eq!(winners.len(), 1, "NF-{i}: exactly one winner: {outcomes:?}");
            let rec = store.intent(&key(*i)).await.unwrap().unwrap();
            assert_eq!(rec.state, IntentState::Sent);
            assert_eq!(rec.attempts, 1, "NF-{i} was begun once");
            assert_eq!(rec.handle.unwrap()["sender"], winners[0]);
        }
        assert_eq!(granted, MONTH_LIMIT, "exactly the budget, across {SENDERS} processes");
        let left = store.remaining("arqsign", "main", &WINDOWS, t0()).await.unwrap();
        assert_eq!((left[0].used, left[0].remaining), (MONTH_LIMIT, 0));
    });
}

/// Child: records an id, then dies holding the file's write lock in the middle of a
/// transaction, without finishing anything.
async fn dies_mid_transaction(path: &Path) {
    let store = SqliteStore::open(path, Duration::from_secs(30)).unwrap();
    let Begin::New(mut lease) = store
        .begin(&key(0), "digest", BeginMode::Send, "doomed", Duration::from_secs(60), t0())
        .await
        .unwrap()
    else {
        panic!("the journal is fresh")
    };
    store.record_id(&mut lease, "process_id", "P-dead", t0()).await.unwrap();
    let mut raw = rusqlite::Connection::open(path).unwrap();
    let tx = raw.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    tx.execute(
        "INSERT INTO status_snapshots (provider, account, id, status, read_ms) \
         VALUES ('arqsign', 'main', 'half-written', '{}', 0)",
        [],
    )
    .unwrap();
    println!("dying");
    std::process::abort();
}

fn killed_sender(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let output =
        spawn("dies-mid-transaction", &[path.to_str().unwrap()]).wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "dying\n");
    assert!(!output.status.success());

    // The dead process's lock went with it, and so did its uncommitted write.
    let store = SqliteStore::open(&path, Duration::from_secs(30)).unwrap();
    runtime.block_on(async {
        assert_eq!(store.status("arqsign", "main", "half-written").await.unwrap(), None);
        let ttl = Duration::from_secs(60);
        let at = |s| t0() + chrono::TimeDelta::seconds(s);
        let busy =
            store.begin(&key(0), "digest", BeginMode::Send, "next", ttl, at(30)).await.unwrap();
        assert!(matches!(busy, Begin::Busy { ref holder, .. } if holder == "doomed"), "{busy:?}");
        // Once its lease has run out, the next sender resumes from the id it recorded.
        match store.begin(&key(0), "digest", BeginMode::Send, "next", ttl, at(60)).await.unwrap() {
            Begin::Resume(lease, before) => {
                assert_eq!(lease.holder, "next");
                assert_eq!(before.ids.get("process_id").map(String::as_str), Some("P-dead"));
            }
            other => panic!("expected Resume, got {other:?}"),
        }
    });
}
