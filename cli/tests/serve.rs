//! `signbridge serve` as a process (issue 14 part 5): the sandbox's SINtegre sender publishes
//! → serve keeps the notification → downloads the file → the events are in the journal; an
//! expired link → `link_expired`; a redirect off the allowlist is refused; bad credentials →
//! 401 with nothing stored; SIGTERM stops it cleanly. The events are read from serve's journal
//! file by a second process's receiver, as `signbridge events` reads them.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signbridge::EventKind;
use signbridge::journal::JournalConfig;
use signbridge::model::Event;
use signbridge::webhooks::{Receiver, ReceiverConfig, RouteConfig};
use signbridge_sandbox::{Fault, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_signbridge");

struct Serve {
    child: Child,
    url: String,
    journal: PathBuf,
    folder: PathBuf,
    settings: Value,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// `signbridge serve` with one SINtegre route `ons` (`auth` as given), its journal and
    /// folder in a fresh directory.
    fn start(auth: Value) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let (journal, folder) = (dir.path().join("journal.sqlite3"), dir.path().join("files"));
        // No host allowed but the loopback (the sandbox): a test never fetches from the net.
        let settings = json!({"auth": auth, "link_secret": "a test's link secret", "downloads": {"folder": folder, "allow_hosts": [],
            "allow_loopback_http": true, "retry_initial_ms": 20, "retry_max_ms": 100}});
        let config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal},
            "download_poll_ms": 20,
            "routes": [{"source": "sintegre", "account": "ons", "settings": settings}]});
        let path = dir.path().join("serve.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .env_remove("SIGNBRIDGE_JOURNAL")
            .env("SIGNBRIDGE_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("SIGNBRIDGE_LISTEN=").expect(&line).to_owned();
        Serve { child, url, journal, folder, settings, _dir: dir }
    }

    /// What serve logged (at debug) so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("serve.log")).unwrap()
    }

    fn route(&self) -> String {
        format!("{}/webhooks/sintegre/ons", self.url)
    }

    /// A receiver on serve's journal, in this process: it reads the events serve committed.
    fn events(&self) -> Receiver {
        let mut journal = JournalConfig::default();
        journal.path = Some(self.journal.clone());
        let route = RouteConfig {
            source: "sintegre".into(),
            account: "ons".into(),
            settings: self.settings.clone(),
        };
        Receiver::new(ReceiverConfig { journal, routes: vec![route] }).unwrap()
    }

    /// SIGTERM, then its exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn next(events: &Receiver) -> Event {
    let event = events.next_event(Some(Duration::from_secs(60))).await.unwrap();
    let event = event.expect("an event within a minute");
    events.ack_event(&event.id).await.unwrap();
    event
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) -> Value {
    let url = format!("{}/__sandbox/sintegre/{path}", sandbox.base_url());
    let reply = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(reply.status().is_success(), "{path}: {}", reply.status());
    reply.json().await.unwrap()
}

/// An IPDO product with an integration posting to `receiver`; returns (product, integration).
async fn subscribe(sandbox: &Sandbox, receiver: &str) -> (u64, u64) {
    let product = control(
        sandbox,
        "products",
        json!({"nome": "IPDO",
        "processo": "Operação em Tempo Real", "macroProcesso": "Operação do Sistema"}),
    )
    .await;
    let product = product["id"].as_u64().unwrap();
    let integration = control(
        sandbox,
        "integrations",
        json!({"descricao": "erp",
        "url": receiver, "auth": {"type": "none"}, "produtos": [product]}),
    )
    .await;
    (product, integration["id"].as_u64().unwrap())
}

async fn publish(sandbox: &Sandbox, product: u64, name: &str, content: &str) {
    control(
        sandbox,
        &format!("products/{product}/publications"),
        json!({
        "dataProduto": "20/02/2025", "periodicidade": "2025-02-20T00:00:00",
        "periodicidadeFinal": "2025-02-20T23:59:59", "file_name": name, "content": content}),
    )
    .await;
}

async fn sandbox() -> Sandbox {
    Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn files(folder: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(folder) else { return Vec::new() };
    dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_is_received_downloaded_and_its_events_committed() {
    let sandbox = sandbox().await;
    let serve = Serve::start(json!(["none"]));
    let health = reqwest::get(format!("{}/health", serve.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let (product, _) = subscribe(&sandbox, &serve.route()).await;
    publish(&sandbox, product, "IPDO-20-02-2025.pdf", "%PDF-1.7 IPDO").await;

    let events = serve.events();
    let received = next(&events).await;
    assert_eq!(received.kind, EventKind::DocumentReceived);
    let downloaded = next(&events).await;
    assert_eq!(downloaded.kind, EventKind::FileDownloaded);
    let path = serve.folder.join("IPDO-20-02-2025.pdf");
    assert_eq!(downloaded.raw["path"], path.display().to_string());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "%PDF-1.7 IPDO");
    let sha: String = Sha256::digest("%PDF-1.7 IPDO").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(downloaded.raw["sha256"], sha);
    assert!(serve.terminate().success(), "SIGTERM ends serve cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_becomes_link_expired() {
    let sandbox = sandbox().await;
    let fault = Fault {
        path: "/sintegre/ONS.Sintegre.Proxy/webhook".into(),
        status: Some(503),
        times: Some(1_000_000),
        ..Default::default()
    };
    sandbox.control().add_fault(fault).await.unwrap();
    let serve = Serve::start(json!(["none"]));
    let (product, _) = subscribe(&sandbox, &serve.route()).await;
    publish(&sandbox, product, "IPDO.pdf", "%PDF-1.7").await;
    let events = serve.events();
    assert_eq!(next(&events).await.kind, EventKind::DocumentReceived);
    // §7: the link is a secret until `exp`; while it waits, the journal keeps it sealed. The
    // JWT's header (`{"typ":"JWT","alg":"HS256"}`, §1.7) is not anywhere in its files.
    let mut raw = std::fs::read(&serve.journal).unwrap();
    raw.extend(std::fs::read(serve.journal.with_extension("sqlite3-wal")).unwrap_or_default());
    let jwt = b"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";
    assert!(!raw.windows(jwt.len()).any(|w| w == jwt), "the token is in the journal file");
    control(&sandbox, "clock/advance", json!({"secs": 2 * 86_400})).await;
    sandbox.control().clear_faults().await.unwrap();
    let expired = next(&events).await;
    assert_eq!(expired.kind, EventKind::LinkExpired);
    assert!(expired.raw["action"].as_str().unwrap().contains("Enviar Tudo"));
    assert!(files(&serve.folder).is_empty(), "{:?}", files(&serve.folder));
    // §6 test 10: the link's token (a JWT, "eyJ…") is never logged, even as attempts fail.
    let log = serve.log();
    assert!(log.contains("retrying") && log.contains("link expired"), "{log}");
    assert!(!log.contains("eyJ") && !log.contains("token="), "{log}");
}

/// A server on 127.0.0.1 answering every request with a redirect to the cloud metadata address.
async fn redirector() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = socket.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let reply = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    addr
}

fn token() -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"URL": "/Produtos/1/a.zip", "IsFile": "True", "nbf": now,
        "exp": now + 86_640});
    format!("{}.{}.c2ln", enc(json!({"typ": "JWT", "alg": "HS256"})), enc(claims))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_off_the_allowlist_is_refused() {
    let addr = redirector().await;
    let serve = Serve::start(json!(["none"]));
    let body = json!({"nome": "Deck", "processo": "Médio Prazo", "dataProduto": "11/2025",
        "macroProcesso": "Programação da Operação", "periodicidade": "2025-11-01T00:00:00",
        "periodicidadeFinal": "2025-11-30T23:59:59",
        "url": format!("http://{addr}/a?token={}", token())});
    let reply = reqwest::Client::new().post(serve.route()).json(&body).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let events = serve.events();
    assert_eq!(next(&events).await.kind, EventKind::DocumentReceived);
    let failed = next(&events).await;
    assert_eq!(failed.kind, EventKind::DownloadFailed);
    assert!(failed.raw["reason"].as_str().unwrap().starts_with("redirect_refused"));
    assert!(files(&serve.folder).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_get_401_and_nothing_is_stored() {
    let serve = Serve::start(json!([{"basic": {"user": "ons", "password": "s3cr3t"}}]));
    let body =
        json!({"nome": "IPDO", "url": format!("https://apps08.ons.org.br/x?token={}", token())});
    let http = reqwest::Client::new();
    for auth in [None, Some("Basic b25zOndyb25n")] {
        let mut request = http.post(serve.route()).json(&body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 401);
        assert!(reply.headers().contains_key("www-authenticate"));
    }
    let events = serve.events();
    assert!(events.next_event(Some(Duration::ZERO)).await.unwrap().is_none(), "nothing stored");
    let good = http.post(serve.route()).basic_auth("ons", Some("s3cr3t")).json(&body);
    assert_eq!(good.send().await.unwrap().status(), 200);
    assert_eq!(next(&events).await.kind, EventKind::DocumentReceived);
}

/// Auth `["none"]` leaves nothing to seal the kept links with: serve refuses to start, naming
/// the field to set, and opens no journal.
#[test]
fn auth_none_without_a_link_secret_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite3");
    let config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal},
        "routes": [{"source": "sintegre", "account": "ons", "settings": {"auth": ["none"]}}]});
    let path = dir.path().join("serve.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .env_remove("SIGNBRIDGE_JOURNAL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "never listened: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("routes.sintegre.settings.link_secret"), "{stderr}");
    assert!(stderr.contains("validation"), "{stderr}");
}

/// `[[accounts]]`: serve polls a TAE account of the sandbox on its journal, and the changes
/// reach a client of that account on the same journal, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_polls_its_accounts_into_the_stream() {
    use signbridge_sandbox::{fixtures, tae};
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite3");
    let base = sandbox.base_url();
    let settings = json!({"auth_base": format!("{base}/tae/identityintegration"),
        "api_base": format!("{base}/tae"), "username": tae::DEFAULT_USER,
        "password": tae::DEFAULT_PASSWORD});
    let client = signbridge::Client::new(signbridge::ClientConfig {
        provider: "tae".into(),
        account: "rm".into(),
        transport: Default::default(),
        settings: settings.clone(),
        journal: JournalConfig { path: Some(journal.clone()), ..Default::default() },
    })
    .unwrap();
    let pdf = signbridge::Document::from_bytes("c.pdf", fixtures::sample_pdf("Contrato", 1));
    let party = signbridge::Party {
        tax_id: Some("111.444.777-35".into()),
        ..signbridge::Party::signer("Maria", "maria@cliente.example")
    };
    let envelope = signbridge::Envelope::new("ERP-S1", "Contrato", vec![pdf], vec![party]);
    let handle = client.send(&envelope).await.unwrap();
    sandbox.control().tae_sign(handle.id.parse().unwrap(), "maria@cliente.example").await.unwrap();

    let config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal}, "routes": [],
        "accounts": [{"provider": "tae", "account": "rm", "poll_ms": 50, "settings": settings}]});
    let path = dir.path().join("serve.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .env_remove("SIGNBRIDGE_JOURNAL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("SIGNBRIDGE_LISTEN="), "{line}");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let event = client.next_event(Some(Duration::from_secs(60))).await.unwrap();
        let event = event.expect("a polled change within a minute");
        assert!(client.ack_event(&event.id).await.unwrap());
        ids.push(event.id);
    }
    ids.sort();
    let id = &handle.id;
    assert_eq!(
        ids,
        [
            format!("tae:rm:{id}:party:maria@cliente.example:signed"),
            format!("tae:rm:{id}:state:completed")
        ]
    );
    // Further polls find nothing new (the envelope is final: no longer asked about).
    assert!(client.next_event(Some(Duration::from_millis(300))).await.unwrap().is_none());
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}
