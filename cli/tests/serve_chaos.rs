//! Chaos delivery to `signbridge serve` as a process (issue 14, "Tests that must exist"):
//! 2,000 TAE webhook deliveries (20 % duplicates, shuffled) sent by concurrent senders that
//! retry whatever got no 2xx, while serve is killed with SIGKILL twice and restarted on the
//! same journal; a host on that journal takes and acknowledges events throughout. At the end
//! every distinct event is in the stream exactly once, acknowledged, none lost, none handed
//! out again after its ack. `SIGNBRIDGE_CHAOS_DELIVERIES=10000` runs the full size
//! (scripts/soak.sh); `SIGNBRIDGE_CHAOS_SEED` replays a shuffle (the seed is printed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::json;
use signbridge::webhooks::{Receiver, ReceiverConfig};

const BIN: &str = env!("CARGO_BIN_EXE_signbridge");
const SENDERS: usize = 8;

/// `signbridge serve` with one TAE route on `journal`; returns the process and its URL.
fn serve(config: &Path, log: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("SIGNBRIDGE_JOURNAL")
        .stdout(Stdio::piped())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("SIGNBRIDGE_LISTEN=").expect(&line).to_owned();
    (child, url)
}

/// The deliveries: `total`, of which a fifth repeat one of the others, shuffled.
fn deliveries(total: usize, rng: &mut fastrand::Rng) -> (Vec<String>, BTreeSet<String>) {
    let distinct = total - total / 5;
    let body = |doc: usize| {
        json!({"IdDocumento": doc, "idPublicacao": format!("p{doc}"), "status": 2}).to_string()
    };
    let mut bodies: Vec<String> = (0..distinct).map(body).collect();
    bodies.extend((0..total - distinct).map(|_| body(rng.usize(..distinct))));
    rng.shuffle(&mut bodies);
    let ids = (0..distinct).map(|doc| format!("tae:rm:{doc}:p{doc}:2:")).collect();
    (bodies, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_two_sigkills_exactly_once_after_acks() {
    let total: usize = std::env::var("SIGNBRIDGE_CHAOS_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let seed = std::env::var("SIGNBRIDGE_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("chaos: {total} deliveries, SIGNBRIDGE_CHAOS_SEED={seed}");
    let (bodies, expected) = deliveries(total, &mut fastrand::Rng::with_seed(seed));

    let dir = tempfile::tempdir().unwrap();
    let journal: PathBuf = dir.path().join("journal.sqlite3");
    let routes = json!([{"source": "tae", "account": "rm"}]);
    let config = dir.path().join("serve.json");
    let serve_config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal},
        "routes": routes});
    std::fs::write(&config, serve_config.to_string()).unwrap();
    let log = dir.path().join("serve.log");
    let (child, url) = serve(&config, &log);
    let url = Arc::new(RwLock::new(url));

    // The senders: each takes the next delivery and sends it until it gets a 2xx.
    let queue = Arc::new(Mutex::new(bodies));
    let answered = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (queue, url, http) = (queue.clone(), url.clone(), http.clone());
        let (answered, retries) = (answered.clone(), retries.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().unwrap().pop() else { return };
                loop {
                    let route = format!("{}/webhooks/tae/rm", url.read().unwrap());
                    let sent = http.post(route).body(body.clone()).send().await;
                    match sent {
                        Ok(reply) if reply.status().is_success() => break,
                        Ok(reply) => assert_eq!(reply.status(), 503, "only a store failure"),
                        Err(_) => {}
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // The host: takes events as they come and acknowledges them; an event handed out again
    // after its ack, or acked twice, is a failure.
    let acked = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let host_done = Arc::new(AtomicUsize::new(0));
    let host = {
        let (acked, done, journal) = (acked.clone(), host_done.clone(), journal.clone());
        let routes = routes.clone();
        tokio::spawn(async move {
            let config = json!({"journal": {"path": journal}, "routes": routes});
            let rx =
                Receiver::new(serde_json::from_value::<ReceiverConfig>(config).unwrap()).unwrap();
            while done.load(Ordering::Relaxed) == 0 {
                let Some(event) = rx.next_event(Some(Duration::from_millis(100))).await.unwrap()
                else {
                    continue;
                };
                let fresh = rx.ack_event(&event.id).await.unwrap();
                let mut acked = acked.lock().unwrap();
                let times = acked.entry(event.id.clone()).or_default();
                *times += 1;
                assert!(fresh && *times == 1, "{} handed out after its ack", event.id);
            }
        })
    };

    // The killer: SIGKILL at a third and at two thirds of the answered deliveries.
    let mut child = child;
    for kill_at in [total / 3, 2 * total / 3] {
        while answered.load(Ordering::Relaxed) < kill_at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (next, next_url) = serve(&config, &log);
        *url.write().unwrap() = next_url;
        child = next;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Whatever the host has not taken yet is still pending: a host started anew gets it.
    host_done.store(1, Ordering::Relaxed);
    host.await.unwrap();
    let config = json!({"journal": {"path": journal}, "routes": routes});
    let rx = Receiver::new(serde_json::from_value::<ReceiverConfig>(config).unwrap()).unwrap();
    while let Some(event) = rx.next_event(Some(Duration::ZERO)).await.unwrap() {
        assert!(rx.ack_event(&event.id).await.unwrap(), "{} acked twice", event.id);
        let mut acked = acked.lock().unwrap();
        let times = acked.entry(event.id.clone()).or_default();
        *times += 1;
        assert_eq!(*times, 1, "{} handed out after its ack", event.id);
    }
    let acked = acked.lock().unwrap().clone();
    println!(
        "chaos: {} answered, {} retries, {} distinct events acked",
        answered.load(Ordering::Relaxed),
        retries.load(Ordering::Relaxed),
        acked.len()
    );
    assert_eq!(answered.load(Ordering::Relaxed), total, "every delivery got its 2xx");
    let acked_ids: BTreeSet<String> = acked.keys().cloned().collect();
    let lost: Vec<_> = expected.difference(&acked_ids).take(5).collect();
    let extra: Vec<_> = acked_ids.difference(&expected).take(5).collect();
    assert!(lost.is_empty() && extra.is_empty(), "lost {lost:?}, unexpected {extra:?}");
    let (mut replayed, mut after) = (0, 0);
    loop {
        let page = rx.replay_events(signbridge::Since::Position(after), 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.iter().all(|e| e.acked_at.is_some()), "nothing left pending");
        after = last.seq;
        replayed += page.len();
    }
    assert_eq!(replayed, expected.len(), "each distinct event once in the stream");
}
