//! Exactly-once sending through the journal: one document per reference whatever is lost,
//! resumed sends, reconciliation by each provider's lookup, and sessions and rate budgets
//! shared by clients of one journal file. And the fault soak: 1,000 flows over the three
//! providers with 10 % of writes hit by a fault, retried as an ERP would
//! (`SIGNBRIDGE_SOAK_FLOWS` sets another number; scripts/soak.sh runs 10,000).

use std::sync::Arc;

mod common;

use common::{count, fast_transport};
use signbridge::journal::JournalConfig;
use signbridge::{
    Client, ClientConfig, Document, Envelope, ErrorKind, HostSigner, Party, Reconciled, Resolution,
    State,
};
use signbridge_sandbox::{Control, Fault, Reset, Sandbox, arqsign, fixtures, idocs, tae};

struct World {
    _sandbox: Sandbox,
    control: Control,
    url: String,
}

async fn world() -> World {
    let sandbox = Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    World { control: sandbox.control(), url: sandbox.base_url(), _sandbox: sandbox }
}

fn settings(provider: &str, url: &str) -> serde_json::Value {
    match provider {
        "tae" => serde_json::json!({"auth_base": format!("{url}/tae/identityintegration"),
            "api_base": format!("{url}/tae"), "username": tae::DEFAULT_USER,
            "password": tae::DEFAULT_PASSWORD}),
        "arqsign" => serde_json::json!({"base_url": format!("{url}/arqsign"),
            "app_key": arqsign::DEFAULT_APP_KEY, "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
            "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID, "folder_id": arqsign::DEFAULT_FOLDER_ID,
            "plan": "none"}),
        "idocs" => serde_json::json!({"base_url": format!("{url}/idocs"),
            "token": idocs::DEFAULT_TOKEN, "employee_id": idocs::SENDER_EMPLOYEE_ID}),
        other => panic!("no settings for {other}"),
    }
}

/// A client of `provider` whose journal is `journal` (a file shared by several clients, or
/// in memory).
fn client(provider: &str, url: &str, journal: JournalConfig) -> Client {
    client_with(provider, url, journal, fast_transport())
}

fn client_with(
    provider: &str,
    url: &str,
    journal: JournalConfig,
    transport: signbridge::TransportConfig,
) -> Client {
    let client = Client::new(ClientConfig {
        provider: provider.into(),
        account: "exactly-once".into(),
        transport,
        settings: settings(provider, url),
        journal,
    })
    .unwrap();
    if provider == "idocs" {
        let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель");
        let signer = signbridge::software_signer_from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        client.set_host_signer(Some(Arc::new(signer) as Arc<dyn HostSigner>));
    }
    client
}

fn envelope(provider: &str, reference: &str) -> Envelope {
    let pdf = Document::from_bytes("contrato.pdf", fixtures::sample_pdf("Contrato", 1));
    let party = match provider {
        "idocs" => Party {
            tax_id: Some(idocs::COUNTERPARTY_BIN.into()),
            ..Party::signer("ТОО Контрагент", "buh@kontragent.example.kz")
        },
        _ => Party {
            tax_id: Some("111.444.777-35".into()),
            ..Party::signer("Maria da Silva", "maria@cliente.example")
        },
    };
    Envelope::new(reference, "Contrato", vec![pdf], vec![party])
}

/// How many documents the sandbox holds for `provider`.
async fn documents(control: &Control, provider: &str) -> usize {
    match provider {
        "tae" => control.tae_documents().await.unwrap().len(),
        "arqsign" => control.arqsign_processes().await.unwrap().len(),
        "idocs" => control.idocs_documents().await.unwrap().len(),
        other => panic!("{other}"),
    }
}

/// The route of each provider's first creating write.
fn create_route(provider: &str) -> &'static str {
    match provider {
        "tae" => "/tae/documents/v1/envelopes/upload",
        "arqsign" => "/arqsign/api/v2/processo/enviar-documento-para-assinar",
        "idocs" => "/idocs/api/v3/sync/external/outbox/document/create",
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_reference_sent_twice_is_one_document_and_the_second_send_makes_no_request() {
    for provider in ["tae", "arqsign", "idocs"] {
        let w = world().await;
        let c = client(provider, &w.url, JournalConfig::in_memory());
        let first = c.send(&envelope(provider, "EO-1")).await.unwrap();
        w.control.clear_requests().await.unwrap();
        let again = c.send(&envelope(provider, "EO-1")).await.unwrap();
        assert_eq!(again, first, "{provider}");
        assert!(w.control.requests().await.unwrap().is_empty(), "{provider}: no request");
        assert_eq!(documents(&w.control, provider).await, 1, "{provider}");

        let mut other = envelope(provider, "EO-1");
        other.title = "Outro contrato".into();
        let err = c.send(&other).await.unwrap_err();
        assert_eq!((err.kind(), err.field()), (ErrorKind::Validation, Some("reference")), "{err}");
        let new = c.send_new_document(&other).await.unwrap();
        assert_ne!(new.id, first.id, "{provider}");
        assert_eq!(documents(&w.control, provider).await, 2, "{provider}: asked for explicitly");
    }
}

#[tokio::test]
async fn a_lost_create_answer_is_found_again_instead_of_creating_twice() {
    for provider in ["tae", "idocs"] {
        let w = world().await;
        let c = client(provider, &w.url, JournalConfig::in_memory());
        w.control.add_fault(Fault::reset(create_route(provider), Reset::After)).await.unwrap();
        let err = c.send(&envelope(provider, "EO-LOST")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{provider}: {err}");
        assert_eq!(documents(&w.control, provider).await, 1, "{provider}: the create committed");

        // The lookup finds the draft: reconcile reports it, a send finishes it.
        let found = c.reconcile("EO-LOST").await.unwrap();
        let Reconciled::Draft { handle, .. } = found else { panic!("{provider}: {found:?}") };
        let sent = c.send(&envelope(provider, "EO-LOST")).await.unwrap();
        assert_eq!(sent.id, handle.id, "{provider}: the same document");
        assert_eq!(documents(&w.control, provider).await, 1, "{provider}: never two");
        assert_ne!(c.status(&sent).await.unwrap().state, State::Draft, "{provider}");
        let reqs = w.control.requests().await.unwrap();
        assert_eq!(count(&reqs, "POST", create_route(provider)), 1, "{provider}: created once");
    }
}

#[tokio::test]
async fn a_lost_publish_answer_resumes_without_publishing_twice() {
    let w = world().await;
    let c = client("tae", &w.url, JournalConfig::in_memory());
    let publish = "/tae/signintegration/v2/Publicacoes";
    w.control.add_fault(Fault::reset(publish, Reset::After)).await.unwrap();
    let err = c.send(&envelope("tae", "EO-PUB")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    let draft = err.handle().expect("the draft's handle").clone();
    let sent = c.send(&envelope("tae", "EO-PUB")).await.unwrap();
    assert_eq!(sent.id, draft.id);
    assert_eq!(count(&w.control.requests().await.unwrap(), "POST", publish), 1, "published once");
    assert_eq!(c.status(&sent).await.unwrap().state, State::Sent);
}

#[tokio::test]
async fn arqsign_cannot_look_up_so_the_host_resolves() {
    let w = world().await;
    let c = client("arqsign", &w.url, JournalConfig::in_memory());
    w.control.add_fault(Fault::reset(create_route("arqsign"), Reset::After)).await.unwrap();
    assert_eq!(
        c.send(&envelope("arqsign", "EO-A")).await.unwrap_err().kind(),
        ErrorKind::OutcomeUnknown
    );
    w.control.clear_requests().await.unwrap();
    // Sending again would risk a second process: refused without a request until resolved.
    let err = c.send(&envelope("arqsign", "EO-A")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert!(err.to_string().contains("resolve"), "{err}");
    assert!(w.control.requests().await.unwrap().is_empty());
    let found = c.reconcile("EO-A").await.unwrap();
    assert!(matches!(found, Reconciled::Unknown { .. }), "{found:?}");
    assert_eq!(c.pending(10).await.unwrap().len(), 1);

    let process =
        w.control.arqsign_processes().await.unwrap()[0]["id"].as_str().unwrap().to_string();
    let resolved = c.resolve("EO-A", Resolution::SentAs(process.clone())).await.unwrap();
    assert!(matches!(resolved, Reconciled::Sent { .. }));
    assert_eq!(c.send(&envelope("arqsign", "EO-A")).await.unwrap().id, process);
    assert!(c.pending(10).await.unwrap().is_empty());
    assert_eq!(documents(&w.control, "arqsign").await, 1);
}

#[tokio::test]
async fn a_refused_create_frees_the_reference() {
    let w = world().await;
    let c = client("tae", &w.url, JournalConfig::in_memory());
    w.control.add_fault(Fault::status(create_route("tae"), 400)).await.unwrap();
    assert_eq!(c.send(&envelope("tae", "EO-400")).await.unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!(
        c.reconcile("EO-400").await.unwrap(),
        Reconciled::NotSent { reference: "EO-400".into() }
    );
    c.send(&envelope("tae", "EO-400")).await.unwrap();
    assert_eq!(documents(&w.control, "tae").await, 1);
}

#[tokio::test]
async fn clients_of_one_journal_file_share_intents_sessions_and_budgets() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let shared = || JournalConfig {
        path: Some(dir.path().join("journal.sqlite3")),
        ..JournalConfig::default()
    };
    let (a, b) = (client("tae", &w.url, shared()), client("tae", &w.url, shared()));
    let handle = a.send(&envelope("tae", "EO-SHARED")).await.unwrap();
    assert_eq!(b.send(&envelope("tae", "EO-SHARED")).await.unwrap(), handle, "one intent");
    b.status(&handle).await.unwrap();
    let logins = count(&w.control.requests().await.unwrap(), "POST", "/auth/login");
    assert_eq!(logins, 1, "the second client used the first one's session");

    // ArqSign's monthly window, exhausted through one client, holds for the other and after a
    // restart.
    let arq = |plan: &str| {
        let mut s = settings("arqsign", &w.url);
        s["plan"] = plan.into();
        Client::new(ClientConfig {
            provider: "arqsign".into(),
            account: "exactly-once".into(),
            transport: fast_transport(),
            settings: s,
            journal: shared(),
        })
        .unwrap()
    };
    let first = arq("profissional");
    // Only the month is used up here (the other windows would just make this test wait).
    let windows = [signbridge::journal::Window::per_month(80)];
    assert!(signbridge::providers::arqsign::Plan::Profissional.windows().contains(&windows[0]));
    for _ in 0..80 {
        first
            .journal()
            .acquire("arqsign", "exactly-once", &windows, std::time::Duration::from_secs(5))
            .await
            .unwrap();
    }
    drop(first);
    let restarted = arq("profissional");
    w.control.clear_requests().await.unwrap();
    let err = restarted.send(&envelope("arqsign", "EO-BUDGET")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert!(err.retry_after().is_some(), "says when it may go");
    assert!(w.control.requests().await.unwrap().is_empty(), "refused before any request");
    // ArqSign records when it sends before it asks the budget: a refusal by the budget still
    // created nothing, so the reference is free, never left for the host to resolve by hand.
    assert_eq!(
        restarted.reconcile("EO-BUDGET").await.unwrap(),
        Reconciled::NotSent { reference: "EO-BUDGET".into() }
    );
    assert!(restarted.pending(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_cancelled_send_is_marked_unknown_and_reconcile_answers_it() {
    let w = world().await;
    let c = Arc::new(client("tae", &w.url, JournalConfig::in_memory()));
    // The create commits and its answer is slow: the host gives up (drops the send) meanwhile.
    let slow = Fault::delay(create_route("tae"), 2_000).after_commit();
    w.control.add_fault(slow).await.unwrap();
    let sending = {
        let c = c.clone();
        tokio::spawn(async move { c.send(&envelope("tae", "EO-CANCEL")).await })
    };
    while documents(&w.control, "tae").await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sending.abort();
    assert!(sending.await.unwrap_err().is_cancelled());
    // The guard's write runs on the runtime; wait for it, never for the lease to expire.
    let mut state = None;
    for _ in 0..100 {
        state = c.intent("EO-CANCEL").await.unwrap().map(|r| r.state);
        if state != Some(signbridge::journal::IntentState::Pending) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(state, Some(signbridge::journal::IntentState::Unknown));
    let found = c.reconcile("EO-CANCEL").await.unwrap();
    assert!(matches!(found, Reconciled::Draft { .. }), "{found:?}");
    c.send(&envelope("tae", "EO-CANCEL")).await.unwrap();
    assert_eq!(documents(&w.control, "tae").await, 1, "never two");
}

/// How an ERP retries one send until it has a handle: on any failure it asks `reconcile`
/// and acts on the answer; where the provider cannot tell (ArqSign), its operator looks in
/// the provider's console (here the sandbox's process list, by the title carrying the
/// reference) and resolves. Returns the handle and how many sends it took.
async fn send_as_an_erp(
    c: &Client,
    control: &Control,
    env: &Envelope,
) -> (signbridge::Handle, u32) {
    let reference = env.reference.as_str();
    for attempt in 1..=100 {
        let err = match c.send(env).await {
            Ok(handle) => return (handle, attempt),
            Err(e) => e,
        };
        if let Some(wait) = err.retry_after() {
            tokio::time::sleep(wait.min(std::time::Duration::from_secs(2))).await;
        }
        match c.reconcile(reference).await {
            Ok(Reconciled::Sent { handle, .. }) => return (handle, attempt),
            Ok(Reconciled::Unknown { .. }) if c.provider_id() == "arqsign" => {
                let processes = control.arqsign_processes().await.unwrap();
                let found: Vec<_> =
                    processes.iter().filter(|p| p["name"] == env.title.as_str()).collect();
                assert!(found.len() <= 1, "{reference}: {} processes", found.len());
                let resolution = match found.first() {
                    Some(p) => Resolution::SentAs(p["id"].as_str().unwrap().into()),
                    None => Resolution::NotSent,
                };
                c.resolve(reference, resolution).await.unwrap();
            }
            // Draft, not sent, still unknown, or the lookup itself failed: send again (it
            // resumes from what the journal recorded).
            _ => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
    panic!("{reference}: no handle after 100 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak_every_reference_ends_as_one_document() {
    use futures::StreamExt as _;
    use signbridge_sandbox::{Chaos, ChaosKind};
    let flows: usize =
        std::env::var("SIGNBRIDGE_SOAK_FLOWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed: u64 =
        std::env::var("SIGNBRIDGE_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(13);
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let journal =
        JournalConfig { path: Some(dir.path().join("journal.sqlite3")), ..Default::default() };
    // A reply slower than the request timeout is one of the faults.
    let transport = signbridge::TransportConfig { request_timeout_ms: 700, ..fast_transport() };
    let providers = ["tae", "arqsign", "idocs"];
    let clients: Vec<Client> = providers
        .iter()
        .map(|p| client_with(p, &w.url, journal.clone(), transport.clone()))
        .collect();
    // 10 % of the providers' writes: 5xx before the write, 5xx/502/504 after it, a reset after
    // the commit, 429 with Retry-After, a reply slower than the timeout.
    let kinds: Vec<ChaosKind> = [
        "status_before:503",
        "status_after:500",
        "status_after:502",
        "status_after:504",
        "reset_after",
        "status_before:429:1",
        "delay_after:1000",
    ]
    .iter()
    .map(|k| k.parse().unwrap())
    .collect();
    w.control.set_chaos(&Chaos::new(seed, 0.1, kinds)).await.unwrap();
    println!("fault soak: {flows} flows, SIGNBRIDGE_SOAK_SEED={seed}");

    let results: Vec<(usize, String, signbridge::Handle, u32)> = futures::stream::iter(0..flows)
        .map(|n| {
            let (c, control) = (&clients[n % 3], &w.control);
            async move {
                // Token expiry: every 50th flow expires every TAE token and iDocs ticket.
                if n % 50 == 49 {
                    control.tae_expire_tokens().await.unwrap();
                    control.idocs_expire_tickets().await.unwrap();
                }
                let reference = format!("SOAK-{n}");
                let mut env = envelope(c.provider_id(), &reference);
                env.title = format!("Contrato {reference}");
                let (handle, attempts) = send_as_an_erp(c, control, &env).await;
                (n % 3, reference, handle, attempts)
            }
        })
        .buffer_unordered(12)
        .collect()
        .await;
    let chaos = w.control.chaos().await.unwrap();
    w.control.clear_chaos().await.unwrap();

    let requests = w.control.requests().await.unwrap().len();
    for (i, provider) in providers.iter().enumerate() {
        let mine: Vec<_> = results.iter().filter(|r| r.0 == i).collect();
        let handles: std::collections::BTreeSet<&str> =
            mine.iter().map(|r| r.2.id.as_str()).collect();
        for r in &mine {
            assert_eq!(r.2.reference.as_deref(), Some(r.1.as_str()), "{provider}");
        }
        let ids: Vec<String> = match *provider {
            "tae" => w
                .control
                .tae_documents()
                .await
                .unwrap()
                .iter()
                .map(|d| d["id"].to_string())
                .collect(),
            "arqsign" => w
                .control
                .arqsign_processes()
                .await
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect(),
            _ => w
                .control
                .idocs_documents()
                .await
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect(),
        };
        let unaccounted = ids.iter().filter(|id| !handles.contains(id.as_str())).count();
        let retried = mine.iter().filter(|r| r.3 > 1).count();
        println!(
            "fault soak {provider}: {} references, {} distinct handles, {} documents ({:.3} per reference), {unaccounted} unaccounted, {retried} flows retried",
            mine.len(),
            handles.len(),
            ids.len(),
            ids.len() as f64 / mine.len() as f64
        );
        assert_eq!(handles.len(), mine.len(), "{provider}: one handle per reference");
        assert_eq!(ids.len(), mine.len(), "{provider}: one document per reference");
        assert_eq!(unaccounted, 0, "{provider}: every document is a reference's");
    }
    let per_flow = requests as f64 / flows as f64;
    println!(
        "fault soak: {requests} requests, {per_flow:.2} per flow; {} of {} writes hit: {:?}",
        chaos.fired.values().sum::<u64>(),
        chaos.considered,
        chaos.fired
    );
    assert!(per_flow < 20.0, "requests per flow stay bounded");
    // The faults did fire: the soak tested something.
    assert!(chaos.fired.values().sum::<u64>() >= (flows / 20) as u64, "{chaos:?}");
}
