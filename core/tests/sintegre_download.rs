//! SINtegre end to end in-process (`sintegre.md` §4, §6 tests 1, 10 and 11): the sandbox's
//! sender publishes → the listener keeps the notification → the worker fetches the file from
//! the sandbox's proxy → `file_downloaded`; an expired link → `link_expired`, and "Enviar Tudo"
//! recovers it; a redirect off the allowlist and a link off it are refused without a fetch; a
//! 200 MB file from a local server streams to disk with bounded memory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signbridge::EventKind;
use signbridge::journal::DownloadState;
use signbridge::model::Event;
use signbridge::webhooks::{Listener, ListenerConfig};
use signbridge_sandbox::{Fault, Sandbox};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn config(folder: &Path, hosts: Value) -> ListenerConfig {
    serde_json::from_value(json!({
        "listen": "127.0.0.1:0",
        "journal": {"path": ":memory:"},
        "download_poll_ms": 20,
        "routes": [{"source": "sintegre", "account": "ons", "settings": {
            "auth": ["none"], "link_secret": "a test's link secret",
            "downloads": {"folder": folder, "allow_loopback_http": true, "allow_hosts": hosts,
                          "retry_initial_ms": 20, "retry_max_ms": 100}}}]
    }))
    .unwrap()
}

async fn next(listener: &Listener) -> Event {
    let event = listener.receiver().next_event(Some(Duration::from_secs(60))).await.unwrap();
    let event = event.expect("an event within a minute");
    listener.receiver().ack_event(&event.id).await.unwrap();
    event
}

struct Portal {
    http: reqwest::Client,
    base: String,
}

impl Portal {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/__sandbox/sintegre/{path}", self.base);
        let reply = self.http.post(url).json(&body).send().await.unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.unwrap()
    }

    /// A product with one integration pointing at `receiver`; returns the product's id and
    /// the integration's.
    async fn subscribe(&self, receiver: &str) -> (u64, u64) {
        let product = self
            .post(
                "products",
                json!({"nome": "IPDO (Informativo Preliminar Diário da Operação)",
                "processo": "Operação em Tempo Real", "macroProcesso": "Operação do Sistema"}),
            )
            .await;
        let id = product["id"].as_u64().unwrap();
        let integration = self
            .post(
                "integrations",
                json!({"descricao": "erp", "url": receiver,
                "auth": {"type": "none"}, "produtos": [id]}),
            )
            .await;
        (id, integration["id"].as_u64().unwrap())
    }

    async fn publish(&self, product: u64, name: &str, content: &str) {
        self.post(
            &format!("products/{product}/publications"),
            json!({
            "dataProduto": "20/02/2025", "periodicidade": "2025-02-20T00:00:00",
            "periodicidadeFinal": "2025-02-20T23:59:59", "file_name": name, "content": content,
            "content_type": "application/pdf"}),
        )
        .await;
    }
}

async fn sandbox() -> (Sandbox, Portal) {
    let sandbox = Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let portal = Portal { http: reqwest::Client::new(), base: sandbox.base_url() };
    (sandbox, portal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_is_received_downloaded_and_told_with_its_sha256() {
    let (sandbox, portal) = sandbox().await;
    portal.post("config", json!({"content_disposition": "rfc2047"})).await;
    let folder = tempfile::tempdir().unwrap();
    let listener = Listener::start(config(folder.path(), json!([]))).await.unwrap();
    let url = format!("http://{}/webhooks/sintegre/ons", listener.local_addr());
    let (product, _) = portal.subscribe(&url).await;
    let content = "%PDF-1.7 IPDO de 20/02/2025";
    portal.publish(product, "IPDO-20-02-2025 Operação.pdf", content).await;

    let received = next(&listener).await;
    assert_eq!(received.kind, EventKind::DocumentReceived);
    assert!(!received.raw.to_string().contains("token="), "{}", received.raw);
    let downloaded = next(&listener).await;
    assert_eq!(downloaded.kind, EventKind::FileDownloaded);
    assert_eq!(downloaded.handle.id, received.handle.id, "the same notification");
    let path = downloaded.raw["path"].as_str().unwrap();
    assert_eq!(Path::new(path), folder.path().join("IPDO-20-02-2025 Operação.pdf"), "RFC 2047");
    assert_eq!(std::fs::read_to_string(path).unwrap(), content);
    let sha = hex(&Sha256::digest(content));
    assert_eq!(downloaded.raw["sha256"], sha.as_str());
    assert_eq!(downloaded.raw["size"], content.len());
    let files: Vec<_> = std::fs::read_dir(folder.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file is left behind");
    let kept = listener.receiver().journal().inbox("sintegre", "ons", &received.handle.id);
    let kept = kept.await.unwrap().unwrap();
    assert_eq!(kept.file, Some((path.to_owned(), sha)));
    listener.stop().await;
    sandbox.shutdown().await;
}

/// K2 (§3.6, §7): the same bytes under another file name (another K1) are not told again, the
/// row is marked and no second copy stays; new bytes under the same name are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_content_is_told_once_and_new_content_under_the_same_name_again() {
    let (sandbox, portal) = sandbox().await;
    let folder = tempfile::tempdir().unwrap();
    let listener = Listener::start(config(folder.path(), json!([]))).await.unwrap();
    let url = format!("http://{}/webhooks/sintegre/ons", listener.local_addr());
    let (product, _) = portal.subscribe(&url).await;
    portal.publish(product, "IPDO.pdf", "%PDF-1.7 v1").await;
    let first = next(&listener).await;
    assert_eq!(first.kind, EventKind::DocumentReceived);
    let file = next(&listener).await;
    assert_eq!((file.kind, file.raw["deliveries"].as_u64()), (EventKind::FileDownloaded, Some(1)));
    let v1 = hex(&Sha256::digest("%PDF-1.7 v1"));
    assert_eq!(file.raw["sha256"], v1.as_str());

    // A fresh token is minted per send: a later clock makes it expire later.
    portal.post("clock/advance", json!({"secs": 60})).await;
    portal.publish(product, "IPDO-REV1.pdf", "%PDF-1.7 v1").await;
    let second = next(&listener).await;
    assert_eq!(second.kind, EventKind::DocumentReceived);
    assert_ne!(second.handle.id, first.handle.id, "another file name, another K1");
    let journal = listener.receiver().journal();
    let mut kept = None;
    for _ in 0..3000 {
        let row = journal.inbox("sintegre", "ons", &second.handle.id).await.unwrap().unwrap();
        if row.download != Some(DownloadState::Pending) {
            kept = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kept = kept.expect("fetched within a minute");
    assert_eq!(kept.download, Some(DownloadState::ContentDuplicate));
    assert_eq!(kept.content_duplicate_of.as_deref(), Some(first.handle.id.as_str()));
    let first_path = file.raw["path"].as_str().unwrap().to_owned();
    assert_eq!(kept.file, Some((first_path.clone(), v1.clone())));
    let names = |dir: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(folder.path()), ["IPDO.pdf"], "one copy of one content");

    // The same name republished with new bytes: the same K1, fetched again, told.
    portal.post("clock/advance", json!({"secs": 60})).await;
    portal.publish(product, "IPDO.pdf", "%PDF-1.7 v2").await;
    let republished = next(&listener).await;
    assert_eq!(republished.kind, EventKind::FileDownloaded, "{republished:?}");
    assert_eq!(republished.handle.id, first.handle.id);
    assert_ne!(republished.id, file.id, "a new version has an id of its own");
    assert_eq!(republished.raw["sha256"], hex(&Sha256::digest("%PDF-1.7 v2")).as_str());
    assert_eq!(republished.raw["deliveries"], 2);
    let path = republished.raw["path"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "%PDF-1.7 v2");
    assert_eq!(std::fs::read_to_string(&first_path).unwrap(), "%PDF-1.7 v1", "kept");
    assert_eq!(names(folder.path()), ["IPDO (2).pdf", "IPDO.pdf"]);
    listener.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_is_told_and_enviar_tudo_recovers_it() {
    let (sandbox, portal) = sandbox().await;
    let control = sandbox.control();
    // The proxy fails while the link is young, so it expires before the file is fetched.
    let fault = Fault {
        path: "/sintegre/ONS.Sintegre.Proxy/webhook".into(),
        status: Some(503),
        times: Some(1_000_000),
        ..Default::default()
    };
    control.add_fault(fault).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let listener = Listener::start(config(folder.path(), json!([]))).await.unwrap();
    let url = format!("http://{}/webhooks/sintegre/ons", listener.local_addr());
    let (product, integration) = portal.subscribe(&url).await;
    portal.publish(product, "IPDO.pdf", "%PDF-1.7 x").await;
    let received = next(&listener).await;
    assert_eq!(received.kind, EventKind::DocumentReceived);
    portal.post("clock/advance", json!({"secs": 2 * 86_400})).await;
    control.clear_faults().await.unwrap();

    let expired = next(&listener).await;
    assert_eq!(expired.kind, EventKind::LinkExpired);
    assert_eq!(expired.handle.id, received.handle.id);
    assert_eq!(expired.raw["http_status"], 401, "the proxy's answer after exp");
    assert!(expired.raw["action"].as_str().unwrap().contains("Enviar Tudo"));
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0, "nothing half-written");

    portal.post(&format!("integrations/{integration}/enviar-tudo"), json!({})).await;
    let downloaded = next(&listener).await;
    assert_eq!(downloaded.kind, EventKind::FileDownloaded, "{downloaded:?}");
    assert_eq!(downloaded.handle.id, received.handle.id, "the resend is the same notification");
    let path = downloaded.raw["path"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "%PDF-1.7 x");
    listener.stop().await;
    sandbox.shutdown().await;
}

/// A JWT shaped like SINtegre's, for `file`, valid for a day from now.
fn token(file: &str) -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"URL": file, "nomeProduto": "Deck", "IsFile": "True", "nbf": now,
        "exp": now + 86_640});
    format!("{}.{}.c2ln", enc(json!({"typ": "JWT", "alg": "HS256"})), enc(claims))
}

fn notification(url: &str) -> String {
    json!({"nome": "Deck NEWAVE", "processo": "Médio Prazo", "dataProduto": "11/2025",
        "macroProcesso": "Programação da Operação", "periodicidade": "2025-11-01T00:00:00",
        "periodicidadeFinal": "2025-11-30T23:59:59", "url": url})
    .to_string()
}

async fn post(listener: &Listener, body: String) -> reqwest::StatusCode {
    let url = format!("http://{}/webhooks/sintegre/ons", listener.local_addr());
    let reply = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    reply.status()
}

/// A local file server: `/redirect` sends elsewhere, `/big` streams `size` generated bytes
/// (never held whole), counting requests.
async fn file_server(size: u64, redirect_to: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = socket.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let redirect = req.uri().path() == "/redirect";
                    async move {
                        let chunk = Bytes::from(vec![0x5a_u8; 64 * 1024]);
                        let chunks = size.div_ceil(chunk.len() as u64);
                        let body = futures::stream::iter((0..chunks).map(move |i| {
                            let left = size - i * chunk.len() as u64;
                            let piece = chunk.slice(..(left.min(chunk.len() as u64) as usize));
                            Ok::<_, Infallible>(Frame::data(piece))
                        }));
                        let mut response = hyper::Response::builder().header(
                            "content-disposition",
                            "attachment; filename=\"../../deck.zip\"",
                        );
                        if redirect {
                            response = response.status(302).header("location", redirect_to);
                        }
                        Ok::<_, Infallible>(response.body(StreamBody::new(body)).unwrap())
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (addr, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_links_off_the_allowlist_are_refused_without_a_fetch() {
    let (addr, hits) = file_server(10, "http://169.254.169.254/latest/meta-data").await;
    let folder = tempfile::tempdir().unwrap();
    let listener = Listener::start(config(folder.path(), json!([]))).await.unwrap();

    let link = format!("http://{addr}/redirect?token={}", token("/Produtos/1/a.zip"));
    assert_eq!(post(&listener, notification(&link)).await, 200);
    assert_eq!(next(&listener).await.kind, EventKind::DocumentReceived);
    let failed = next(&listener).await;
    assert_eq!(failed.kind, EventKind::DownloadFailed);
    let reason = failed.raw["reason"].as_str().unwrap();
    assert!(reason.starts_with("redirect_refused"), "{reason}");
    assert!(!reason.contains("token") && !reason.contains("169.254"), "{reason}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the redirect was not followed");

    // §6 test 11: a link to a host not allowed is kept (2xx) but quarantined: never fetched.
    let off = format!("https://evil.example/x?token={}", token("/Produtos/1/b.zip"));
    assert_eq!(post(&listener, notification(&off)).await, 200);
    let received = next(&listener).await;
    assert_eq!(received.kind, EventKind::DocumentReceived);
    assert!(received.raw["flags"].to_string().contains("link_not_allowed"));
    let quarantined = next(&listener).await;
    assert_eq!(quarantined.kind, EventKind::DownloadFailed);
    assert!(quarantined.raw["reason"].as_str().unwrap().starts_with("link_not_allowed"));
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    listener.stop().await;
}

/// Resident memory of this process, from /proc (Linux), in bytes.
fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_file_streams_to_disk_with_bounded_memory() {
    const SIZE: u64 = 200 << 20;
    let (addr, _) = file_server(SIZE, "").await;
    let folder = tempfile::tempdir().unwrap();
    let listener = Listener::start(config(folder.path(), json!([]))).await.unwrap();
    let before = resident();
    let link = format!("http://{addr}/big?token={}", token("/Produtos/1/deck.zip"));
    assert_eq!(post(&listener, notification(&link)).await, 200);
    assert_eq!(next(&listener).await.kind, EventKind::DocumentReceived);
    let downloaded = next(&listener).await;
    assert_eq!(downloaded.kind, EventKind::FileDownloaded, "{downloaded:?}");
    if let (Some(before), Some(after)) = (before, resident()) {
        let grown = after.saturating_sub(before);
        assert!(grown < 64 << 20, "resident memory grew by {grown} bytes for a 200 MB file");
    }
    let path = Path::new(downloaded.raw["path"].as_str().unwrap());
    assert_eq!(path, folder.path().join("deck.zip"), "the name's path parts are dropped");
    assert_eq!(std::fs::metadata(path).unwrap().len(), SIZE);
    assert_eq!(downloaded.raw["size"], SIZE);
    let mut expected = Sha256::new();
    let chunk = vec![0x5a_u8; 1 << 20];
    for _ in 0..200 {
        expected.update(&chunk);
    }
    assert_eq!(downloaded.raw["sha256"], hex(&expected.finalize()));
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_serves_https_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key) = signbridge_signer::testkeys::ecdsa_p256("127.0.0.1");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, certificate).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let mut config = config(dir.path(), json!([]));
    config.tls = Some(signbridge::webhooks::TlsFiles {
        certificate: cert_path.clone(),
        private_key: key_path.clone(),
    });
    let listener = Listener::start(config.clone()).await.unwrap();
    assert!(listener.url().starts_with("https://127.0.0.1:"), "{}", listener.url());
    // The throw-away certificate names no host: this client checks the TLS, not the name.
    let https = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let health = https.get(format!("{}/health", listener.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let link = format!("https://apps08.ons.org.br/x?token={}", token("/Produtos/1/a.zip"));
    let posted = https
        .post(format!("{}/webhooks/sintegre/ons", listener.url()))
        .body(notification(&link))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert_eq!(next(&listener).await.kind, EventKind::DocumentReceived);
    let plain = format!("http://{}/health", listener.local_addr());
    assert!(reqwest::get(plain).await.is_err(), "no plain HTTP on a TLS listener");
    listener.stop().await;

    std::fs::write(&key_path, "not a key").unwrap();
    let err = Listener::start(config).await.unwrap_err();
    assert!(err.to_string().contains("tls.private_key"), "{err}");
    assert!(!err.to_string().contains("not a key"), "{err}");
}

/// Every byte of the journal as it lies on disk (the file and its write-ahead log).
fn raw_journal(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("sqlite3-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// §7: the link is a secret until `exp`. The journal keeps it sealed (the raw file never holds
/// the token), the worker of a restarted listener opens it, and once the file is downloaded
/// the sealed link is wiped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_is_sealed_in_the_journal_and_wiped_once_downloaded() {
    let (addr, hits) = file_server(1_000, "").await;
    let folder = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let listener_config = |poll_ms: u64| {
        let mut config = config(folder.path(), json!([]));
        config.journal.path = Some(path.clone());
        config.download_poll_ms = poll_ms;
        config.routes[0].settings["link_secret"] = json!("a secret of the operator");
        config
    };
    // A worker that looks only once a minute: the link stays pending in the journal.
    let listener = Listener::start(listener_config(60_000)).await.unwrap();
    let token = token("/Produtos/9/deck.zip");
    let link = format!("http://{addr}/big?token={token}");
    assert_eq!(post(&listener, notification(&link)).await, 200);
    assert_eq!(next(&listener).await.kind, EventKind::DocumentReceived);
    let kept: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT link FROM inbox", [], |r| r.get(0))
        .unwrap();
    assert!(kept.starts_with("v1:") && !kept.contains(&token), "sealed: {kept}");
    let claims = token.split('.').nth(1).unwrap();
    let raw = raw_journal(&path);
    assert!(!contains(&raw, &token) && !contains(&raw, claims), "the token is not in the file");
    listener.stop().await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let listener = Listener::start(listener_config(20)).await.unwrap();
    let downloaded = next(&listener).await;
    assert_eq!(downloaded.kind, EventKind::FileDownloaded, "{}", downloaded.raw);
    assert_eq!(downloaded.raw["size"], 1_000);
    listener.stop().await;
    let link: Option<String> = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT link FROM inbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(link, None, "wiped once downloaded");
    assert!(!contains(&raw_journal(&path), &token));
}
