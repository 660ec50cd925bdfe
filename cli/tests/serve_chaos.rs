//! Chaos delivery to `signbridge serve` as a process (issue 14, "Tests that must exist"):
//! 2,000 TAE webhook deliveries (20 % duplicates, shuffled) sent by concurrent senders that
//! retry whatever got no 2xx, while serve is killed with SIGKILL twice and restarted on the
//! same journal; a host on that journal takes and acknowledges events throughout. At the end
//! every distinct event is in the stream exactly once, acknowledged, none lost, none handed
//! out again after its ack. `SIGNBRIDGE_CHAOS_DELIVERIES=10000` runs the full size
//! (scripts/soak.sh); `SIGNBRIDGE_CHAOS_SEED` replays a shuffle (the seed is printed).
//! The same for the SBIS change feed that serve follows (issue 15): see
//! [`sbis_feed_survives_two_sigkills_exactly_once_after_acks`].

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

/// A child process killed (SIGKILL, which ends a stopped one too) and reaped when dropped, so
/// that a failing test leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SBIS account of the sandbox at `base`.
fn sbis_settings(base: &str) -> serde_json::Value {
    use signbridge_sandbox::sbis;
    json!({
        "auth_url": format!("{base}/sbis/auth/service/"),
        "service_url": format!("{base}/sbis/service/?srv=1"),
        "login": sbis::LOGIN,
        "password": sbis::PASSWORD,
        "our_inn": sbis::OUR_INN,
        "our_kpp": sbis::OUR_KPP,
    })
}

fn sbis_client(settings: &serde_json::Value, journal: &Path) -> signbridge::Client {
    signbridge::Client::new(signbridge::ClientConfig {
        provider: "sbis".into(),
        account: "feed".into(),
        transport: Default::default(),
        settings: settings.clone(),
        journal: signbridge::journal::JournalConfig {
            path: Some(journal.to_path_buf()),
            ..Default::default()
        },
    })
    .unwrap()
}

/// Whether the account's stream holds an event not yet acknowledged.
async fn pending(client: &signbridge::Client) -> bool {
    let mut after = 0;
    loop {
        let page = client.replay_events(signbridge::Since::Position(after), 1_000).await.unwrap();
        let Some(last) = page.last() else { return false };
        if page.iter().any(|e| e.acked_at.is_none()) {
            return true;
        }
        after = last.seq;
    }
}

/// Every event of every SBIS document of the sandbox, as the change feed names them.
async fn sbis_event_ids(sandbox: &signbridge_sandbox::Sandbox) -> BTreeSet<String> {
    let documents = sandbox.control().sbis_documents().await.unwrap();
    let events =
        documents.iter().flat_map(|d| d["Событие"].as_array().cloned().unwrap_or_default());
    events.map(|e| format!("sbis:{}", e["Идентификатор"].as_str().unwrap())).collect()
}

/// The SBIS change feed (`СБИС.СписокИзменений` with its cursor, issue 15 stage 4) followed by
/// `signbridge serve` as a process (`[[accounts]]`), while the sandbox produces outgoing
/// documents (sent by a host signer, delivered, approved) and incoming ones, and serve is
/// killed with SIGKILL twice, each time with a pulled batch not yet acked, and restarted on the
/// same journal; the host, `signbridge events --follow` on that journal, prints and acks events
/// throughout. At the end every change of the sandbox is in the stream exactly once,
/// acknowledged, none lost, none handed out again after its ack: the cursor moved only past
/// acked batches, and a batch pulled again after a kill appended nothing twice.
/// `SIGNBRIDGE_FEED_DOCUMENTS` sets the number of documents (scripts/soak.sh runs more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbis_feed_survives_two_sigkills_exactly_once_after_acks() {
    use signbridge::signing::SoftwareSigner;
    let documents: usize =
        std::env::var("SIGNBRIDGE_FEED_DOCUMENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    println!("feed: {documents} documents");
    let sandbox =
        signbridge_sandbox::Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let settings = sbis_settings(&sandbox.base_url());
    let dir = tempfile::tempdir().unwrap();
    let journal: PathBuf = dir.path().join("journal.sqlite3");
    let config = dir.path().join("serve.json");
    let accounts = json!([{"provider": "sbis", "account": "feed", "poll_ms": 50,
        "settings": settings}]);
    let serve_config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal},
        "routes": [], "accounts": accounts});
    std::fs::write(&config, serve_config.to_string()).unwrap();
    let log = dir.path().join("serve.log");
    let mut child = Reaped(serve(&config, &log).0);

    // The host: `signbridge events --follow` on the journal, which prints each event and then
    // acknowledges it; an id printed twice was handed out again after its ack.
    let host_config = dir.path().join("host.json");
    let host_json = json!({"provider": "sbis", "account": "feed", "settings": settings,
        "journal": {"path": journal}});
    std::fs::write(&host_config, host_json.to_string()).unwrap();
    let mut host = Reaped(
        Command::new(BIN)
            .arg("--config")
            .arg(&host_config)
            .args(["events", "--follow"])
            .env_remove("SIGNBRIDGE_JOURNAL")
            .stdout(Stdio::piped())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let acked = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let reader = {
        let (acked, stdout) = (acked.clone(), host.0.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                let id = event["id"].as_str().unwrap().to_owned();
                *acked.lock().unwrap().entry(id).or_default() += 1;
            }
        })
    };
    let signal = |child: &Reaped, name: &str| {
        let pid = child.0.id().to_string();
        assert!(Command::new("kill").args([name, &pid]).status().unwrap().success());
    };
    let observer = sbis_client(&settings, &journal);

    // The producer: every third document is ours (sent, delivered, approved by the
    // counterparty), the others arrive; serve is killed at a third and at two thirds.
    let sender = sbis_client(&settings, &dir.path().join("sender.sqlite3"));
    let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ООО Наша");
    sender.set_host_signer(Some(Arc::new(
        SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap(),
    )));
    let control = sandbox.control();
    let kills = [documents / 3, 2 * documents / 3];
    for n in 0..documents {
        if kills.contains(&n) {
            // The host pauses (SIGSTOP) with an event serve pulled and it has not acked, so
            // that the kill lands between a pull and its commit: the restarted serve pulls that
            // batch again from the cursor committed before it.
            signal(&host, "-STOP");
            control.sbis_incoming(json!({"number": format!("HELD-{n}")})).await.unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !pending(&observer).await {
                assert!(std::time::Instant::now() < deadline, "serve pulled nothing");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            child.0.kill().unwrap(); // SIGKILL
            child.0.wait().unwrap();
            child = Reaped(serve(&config, &log).0);
            signal(&host, "-CONT");
        }
        if n % 3 == 0 {
            let counterparty = signbridge::Party {
                tax_id: Some(format!(
                    "{}/{}",
                    signbridge_sandbox::sbis::COUNTERPARTY_INN,
                    signbridge_sandbox::sbis::COUNTERPARTY_KPP
                )),
                ..signbridge::Party::signer("СК Премьер, ОАО", "edo@premier.example")
            };
            let pdf = signbridge_sandbox::fixtures::sample_pdf("Dogovor", 1);
            let envelope = signbridge::Envelope::new(
                format!("FEED-{n}"),
                "Договор",
                vec![signbridge::Document::from_bytes("dogovor.pdf", pdf)],
                vec![counterparty],
            );
            let handle = sender.send(&envelope).await.unwrap();
            control.sbis_deliver(&handle.id).await.unwrap();
            control.sbis_counterparty_sign(&handle.id, None).await.unwrap();
        } else {
            control.sbis_incoming(json!({"number": format!("IN-{n}")})).await.unwrap();
        }
    }
    let expected = sbis_event_ids(&sandbox).await;
    assert!(expected.len() >= documents, "at least one change a document: {}", expected.len());

    // serve keeps following until the host has acked every change (bounded: a minute).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !expected.iter().all(|id| acked.lock().unwrap().contains_key(id)) {
        assert!(std::time::Instant::now() < deadline, "changes missing after a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop((child, host)); // SIGKILL both
    reader.join().unwrap();

    // Nothing is left pending: a host started anew on the journal gets nothing again.
    let client = sbis_client(&settings, &journal);
    assert!(client.next_event(Some(Duration::ZERO)).await.unwrap().is_none());
    let acked = acked.lock().unwrap().clone();
    let again: Vec<_> = acked.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(again.is_empty(), "handed out again after its ack: {again:?}");
    let acked_ids: BTreeSet<String> = acked.keys().cloned().collect();
    let extra: Vec<_> = acked_ids.difference(&expected).take(5).collect();
    assert!(extra.is_empty(), "events of no sandbox change: {extra:?}");
    let (mut replayed, mut after) = (BTreeMap::<String, usize>::new(), 0);
    loop {
        let page = client.replay_events(signbridge::Since::Position(after), 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.iter().all(|e| e.acked_at.is_some()), "nothing left pending");
        after = last.seq;
        for e in &page {
            *replayed.entry(e.event.id.clone()).or_default() += 1;
        }
    }
    let twice: Vec<_> = replayed.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "in the stream more than once: {twice:?}");
    assert_eq!(replayed.len(), expected.len(), "each change once in the stream");
    println!("feed: {} changes, each acked once", expected.len());
}
