//! End to end, TAE only: what the sandbox received on the wire, the login routes, publish
//! routes, download forms and TAE's own words. What every provider does is in `behavior/`.

use std::time::{Duration, Instant};

mod common;

use common::{Env, count, fast_transport};
use signbridge::{
    Document, DownloadKind, Envelope, ErrorKind, Handle, Message, Party, Role, State,
    TransportConfig,
};
use signbridge_sandbox::{Fault, Reset, fixtures, tae};

fn settings(base: &str) -> serde_json::Value {
    // Trailing slashes on purpose: they must be tolerated.
    serde_json::json!({
        "auth_base": format!("{base}/tae/identityintegration/"),
        "api_base": format!("{base}/tae/"),
        "username": tae::DEFAULT_USER,
        "password": tae::DEFAULT_PASSWORD,
    })
}

async fn start() -> Env {
    start_with(serde_json::json!({}), fast_transport()).await
}

async fn start_with(overrides: serde_json::Value, transport: TransportConfig) -> Env {
    Env::start("tae", settings, overrides, transport).await
}

fn party(name: &str, email: &str, order: u32) -> Party {
    Party {
        tax_id: Some("111.444.777-35".into()),
        order: Some(order),
        ..Party::signer(name, email)
    }
}

fn envelope(reference: &str) -> Envelope {
    let pdf = Document::from_bytes("contrato.pdf", fixtures::sample_pdf("Contrato", 2));
    let parties = vec![
        party("Maria da Conceição", "maria@cliente.example", 1),
        party("João Araújo", "joao@empresa.example", 2),
    ];
    Envelope {
        message: Some(Message {
            subject: Some("Assinatura do contrato nº 123".into()),
            body: Some("Prezado(a), segue o documento para assinatura eletrônica.".into()),
        }),
        ..Envelope::new(reference, "Contrato de prestação de serviços", vec![pdf], parties)
    }
}

fn doc_id(h: &Handle) -> i64 {
    h.id.parse().unwrap()
}

/// The flow itself is the behaviour suite's; here, what TAE's files and codes say: a finished
/// document is status 2, the signed file has TAE's protocol page appended, the original is as
/// sent, and a 400 on cancel means the document's state forbids it.
#[tokio::test]
async fn a_finished_document_in_tae_terms() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-1")).await.unwrap();
    for email in ["maria@cliente.example", "joao@empresa.example"] {
        h.control.tae_sign(doc_id(&handle), email).await.unwrap();
    }
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.provider_status.as_str()), (State::Completed, "2"));
    assert!(s.parties.iter().all(|p| p.acted_at.is_some()), "{:?}", s.parties);

    let original_pages = fixtures::pdf_page_count(&fixtures::sample_pdf("Contrato", 2)).unwrap();
    let (signed, _) = h.client.download_bytes(&handle, DownloadKind::Signed).await.unwrap();
    let pages = fixtures::pdf_page_count(&signed).unwrap();
    assert!(pages > original_pages, "signed has {pages} pages, original {original_pages}");
    let (original, _) = h.client.download_bytes(&handle, DownloadKind::Original).await.unwrap();
    assert_eq!(fixtures::pdf_page_count(&original).unwrap(), original_pages);

    let err = h.client.cancel(&handle).await.unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Conflict, Some(400)), "{err}");
}

#[tokio::test]
async fn what_the_sandbox_received_matches_the_envelope() {
    let h = start().await;
    let mut env = envelope("ERP-3");
    env.sequential = true;
    env.reminder_days = Some(3);
    env.parties.push(Party {
        role: Role::Observe,
        order: None,
        ..party("Jurídico", "juridico@empresa.example", 0)
    });
    let handle = h.client.send(&env).await.unwrap();
    let reqs = h.requests().await;
    let publish = reqs.iter().find(|r| r.path.to_lowercase().ends_with("/publicacoes")).unwrap();
    let body = &publish.body;
    assert_eq!(body["idDocumento"], serde_json::json!(doc_id(&handle)));
    assert_eq!(body["utilizaWorkflow"], true);
    assert_eq!(body["publicacaoOpcoes"]["assuntoMensagem"], "Assinatura do contrato nº 123");
    assert_eq!(body["publicacaoOpcoes"]["intervaloLembrete"], 3);
    assert_eq!(body["observadores"], serde_json::json!([{"email": "juridico@empresa.example"}]));
    let recipients = body["destinatarios"].as_array().unwrap();
    assert_eq!(recipients.len(), 2);
    assert_eq!(recipients[0]["nomeCompleto"], "Maria da Conceição");
    assert_eq!(recipients[0]["workflow"], 1);
    assert_eq!(recipients[1]["workflow"], 2);
    assert_eq!(recipients[0]["tipoIdentificacao"], 1);
    assert_eq!(recipients[0]["identificacao"], "11144477735");
    let upload = reqs.iter().find(|r| r.path.ends_with("/envelopes/upload")).unwrap();
    let parts = upload.body["multipart"].as_array().unwrap();
    assert!(
        parts
            .iter()
            .any(|p| p["name"] == "NomeEnvelope"
                && p["value"] == "Contrato de prestação de serviços"),
        "{parts:?}"
    );
    // The first file carries the reference: TAE's search lists documents by file name.
    assert!(
        parts.iter().any(|p| p["name"] == "Envelope" && p["filename"] == "ERP-3_contrato.pdf"),
        "{parts:?}"
    );
}

#[tokio::test]
async fn a_refused_host_token_without_password_is_an_auth_error() {
    let h =
        start_with(serde_json::json!({"token": "not-a-token", "password": null}), fast_transport())
            .await;
    let err = h.client.send(&envelope("ERP-HT")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(count(&h.requests().await, "POST", "/auth/login"), 0);
}

#[tokio::test]
async fn login_falls_back_to_older_routes() {
    let h = start().await;
    h.control.tae_set_config(serde_json::json!({"login_routes": ["api"]})).await.unwrap();
    h.client.send(&envelope("ERP-LOGIN")).await.unwrap();
    let logins: Vec<_> = h
        .requests()
        .await
        .into_iter()
        .filter(|r| r.path.contains("/auth/login"))
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        logins,
        [
            ("/tae/identityintegration/v3/auth/login".to_string(), Some(404)),
            ("/tae/identityintegration/v2/auth/login".to_string(), Some(404)),
            ("/tae/identityintegration/api/auth/login".to_string(), Some(200)),
        ]
    );
}

/// Refused credentials in general are the behaviour suite's; TAE refuses them with a 400 and
/// its own words.
#[tokio::test]
async fn a_wrong_password_is_an_auth_error_with_tae_words() {
    let h = start_with(serde_json::json!({"password": "wrong"}), fast_transport()).await;
    let err = h.client.send(&envelope("ERP-PW")).await.unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Auth, Some(400)));
    assert_eq!(err.provider_message(), Some("Usuário ou senha inválidos."));
}

/// A lost write in general is the behaviour suite's; a lost publish did take effect, and the
/// handle it carries lets the host see so.
#[tokio::test]
async fn a_lost_publish_took_effect_and_its_handle_shows_it() {
    let h = start().await;
    h.control
        .add_fault(Fault::reset("/tae/signintegration/v2/Publicacoes", Reset::After))
        .await
        .unwrap();
    let err = h.client.send(&envelope("ERP-LOST")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    let handle = err.handle().expect("the handle of the created document");
    assert_eq!(h.client.status(handle).await.unwrap().state, State::Sent);
}

/// The rules every provider shares are the behaviour suite's; these are TAE's own.
#[tokio::test]
async fn tae_rules_fail_before_any_request() {
    let h = start().await;
    type Spoil = Box<dyn Fn(&mut Envelope)>;
    let cases: Vec<(&str, Spoil)> = vec![
        // Recipients who sign with an e-mailed code need their full name.
        ("parties[0].name", Box::new(|e| e.parties[0].name = None)),
        ("parties[0].tax_id", Box::new(|e| e.parties[0].tax_id = Some("123".into()))),
    ];
    for (field, spoil) in cases {
        let mut env = envelope("ERP-BAD");
        spoil(&mut env);
        let err = h.client.send(&env).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{field}: {err}");
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert!(h.requests().await.is_empty(), "the sandbox saw no request");
}

#[tokio::test]
async fn documents_from_paths_are_uploaded() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aditivo.pdf");
    std::fs::write(&path, fixtures::sample_pdf("Aditivo", 3)).unwrap();
    let mut env = envelope("ERP-PATH");
    env.documents = vec![Document::from_path(&path)];
    let handle = h.client.send(&env).await.unwrap();
    let (original, _) = h.client.download_bytes(&handle, DownloadKind::Original).await.unwrap();
    assert_eq!(original, std::fs::read(&path).unwrap());
}

#[tokio::test]
async fn both_publish_routes_work() {
    let h =
        start_with(serde_json::json!({"publish_route": "documents_v1"}), fast_transport()).await;
    let handle = h.client.send(&envelope("ERP-V1")).await.unwrap();
    assert_eq!(h.client.status(&handle).await.unwrap().state, State::Sent);
    assert_eq!(count(&h.requests().await, "POST", "/documents/v1/publicacoes"), 1);
}

#[tokio::test]
async fn url_downloads_work_with_every_link_shape() {
    let h = start_with(serde_json::json!({"download_form": "url"}), fast_transport()).await;
    let handle = h.client.send(&envelope("ERP-URL")).await.unwrap();
    for email in ["maria@cliente.example", "joao@empresa.example"] {
        h.control.tae_sign(doc_id(&handle), email).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    for shape in ["string", "fileUrl", "url", "signedURL"] {
        h.control.tae_set_config(serde_json::json!({"download_url_shape": shape})).await.unwrap();
        let path = dir.path().join(format!("{shape}.pdf"));
        let info = h.client.download_to_file(&handle, DownloadKind::Signed, &path).await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(info.size, bytes.len() as u64);
        assert!(fixtures::pdf_page_count(&bytes).unwrap() > 2, "{shape}");
    }
}

#[tokio::test]
async fn a_failed_download_leaves_no_file() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-NOFILE")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.pdf");
    // Not finished yet: TAE refuses the signed kind.
    let err = h.client.download_to_file(&handle, DownloadKind::Signed, &path).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Conflict | ErrorKind::Validation), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file, no partial file");
}

#[tokio::test]
async fn batch_refresh_reports_each_handle() {
    let h = start().await;
    let a = h.client.send(&envelope("ERP-A")).await.unwrap();
    let b = h.client.send(&envelope("ERP-B")).await.unwrap();
    h.control.tae_reject(doc_id(&b), "maria@cliente.example", "não").await.unwrap();
    let missing = Handle { id: "1".into(), ..a.clone() };
    let foreign = Handle { provider: "idocs".into(), ..a.clone() };
    let results = h.client.refresh(&[a.clone(), missing, b.clone(), foreign]).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().state, State::Sent);
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.provider_message(), Some("Documento não encontrado."));
    assert_eq!(results[2].as_ref().unwrap().state, State::Rejected);
    assert_eq!(results[3].as_ref().unwrap_err().kind(), ErrorKind::Validation);
}

#[tokio::test]
async fn batch_refresh_of_many_shares_the_rate_limit() {
    let transport = TransportConfig {
        rate_limit_per_second: 20.0,
        rate_limit_burst: 5,
        batch_concurrency: 4,
        ..fast_transport()
    };
    let h = start_with(serde_json::json!({}), transport).await;
    let handle = h.client.send(&envelope("ERP-MANY")).await.unwrap();
    // login + upload + publish took 3 of the 5 burst tokens.
    let handles = vec![handle; 22];
    let started = Instant::now();
    let results = h.client.refresh(&handles).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap().state == State::Sent));
    let elapsed = started.elapsed().as_secs_f64();
    // 2 tokens left in the burst, 20 more at 20/s: about one second.
    assert!(elapsed >= 0.9, "22 calls at 20/s after the burst took {elapsed:.2}s");
}

#[tokio::test]
async fn polling_turns_changes_into_events() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-EV")).await.unwrap();
    h.client.status(&handle).await.unwrap();
    assert!(h.client.next_event(Some(Duration::from_millis(20))).await.unwrap().is_none());
    h.control.tae_sign(doc_id(&handle), "maria@cliente.example").await.unwrap();
    h.client.status(&handle).await.unwrap();
    let signed = h.client.next_event(Some(Duration::ZERO)).await.unwrap().unwrap();
    assert_eq!(signed.kind, signbridge::EventKind::PartySigned);
    assert_eq!(signed.id, format!("tae:test:{}:party:maria@cliente.example:signed", handle.id));
    let moved = h.client.next_event(Some(Duration::ZERO)).await.unwrap().unwrap();
    assert_eq!(moved.id, format!("tae:test:{}:state:partially_signed", handle.id));
    h.control.tae_sign(doc_id(&handle), "joao@empresa.example").await.unwrap();
    h.client.refresh(std::slice::from_ref(&handle)).await;
    let ids: Vec<String> = [
        h.client.next_event(Some(Duration::ZERO)).await.unwrap(),
        h.client.next_event(Some(Duration::ZERO)).await.unwrap(),
    ]
    .into_iter()
    .map(|e| e.unwrap().id)
    .collect();
    assert_eq!(
        ids,
        [
            format!("tae:test:{}:party:joao@empresa.example:signed", handle.id),
            format!("tae:test:{}:state:completed", handle.id)
        ]
    );
}

/// The poller asks about every envelope the journal knows as sent and not final, appends what
/// changed once (a repeated poll appends nothing), and stops asking about a finished one.
#[tokio::test]
async fn the_poller_refreshes_open_envelopes_into_the_stream() {
    let h = start().await;
    let done = h.client.send(&envelope("ERP-P1")).await.unwrap();
    let open = h.client.send(&envelope("ERP-P2")).await.unwrap();
    for email in ["maria@cliente.example", "joao@empresa.example"] {
        h.control.tae_sign(doc_id(&done), email).await.unwrap();
    }
    h.control.tae_sign(doc_id(&open), "maria@cliente.example").await.unwrap();
    assert_eq!(h.client.poll().await.unwrap(), (2, 0));
    let mut ids = Vec::new();
    while let Some(e) = h.client.next_event(Some(Duration::ZERO)).await.unwrap() {
        h.client.ack_event(&e.id).await.unwrap();
        ids.push(e.id);
    }
    ids.sort();
    let (d, o) = (&done.id, &open.id);
    let mut expected = vec![
        format!("tae:test:{d}:party:joao@empresa.example:signed"),
        format!("tae:test:{d}:party:maria@cliente.example:signed"),
        format!("tae:test:{d}:state:completed"),
        format!("tae:test:{o}:party:maria@cliente.example:signed"),
        format!("tae:test:{o}:state:partially_signed"),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(h.client.poll().await.unwrap(), (1, 0), "the completed one is no longer asked");
    assert!(h.client.next_event(Some(Duration::ZERO)).await.unwrap().is_none(), "nothing again");
}

/// `accounts` of a listener: it polls the account on its own journal and the changes join the
/// listener's one stream (with its webhook routes' events).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_polls_its_accounts_into_its_one_stream() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let sender = signbridge::Client::new(signbridge::ClientConfig {
        provider: "tae".into(),
        account: "test".into(),
        transport: fast_transport(),
        settings: settings(&h.sandbox.base_url()),
        journal: signbridge::journal::JournalConfig {
            path: Some(path.clone()),
            ..Default::default()
        },
    })
    .unwrap();
    let handle = sender.send(&envelope("ERP-L")).await.unwrap();
    for email in ["maria@cliente.example", "joao@empresa.example"] {
        h.control.tae_sign(doc_id(&handle), email).await.unwrap();
    }
    let config: signbridge::webhooks::ListenerConfig = serde_json::from_value(serde_json::json!({
        "listen": "127.0.0.1:0", "journal": {"path": path}, "routes": [],
        "accounts": [{"provider": "tae", "account": "test", "poll_ms": 20,
                      "settings": settings(&h.sandbox.base_url())}]}))
    .unwrap();
    let listener = signbridge::webhooks::Listener::start(config).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let next = listener.receiver().next_event(Some(Duration::from_secs(60))).await.unwrap();
        let event = next.expect("a polled change within a minute");
        listener.receiver().ack_event(&event.id).await.unwrap();
        ids.push(event.id);
    }
    ids.sort();
    let id = &handle.id;
    assert_eq!(
        ids,
        [
            format!("tae:test:{id}:party:joao@empresa.example:signed"),
            format!("tae:test:{id}:party:maria@cliente.example:signed"),
            format!("tae:test:{id}:state:completed"),
        ]
    );
    listener.stop().await;
}

#[test]
fn arqsign_is_not_polled_unless_asked() {
    let account = |v: serde_json::Value| -> signbridge::webhooks::PolledAccount {
        serde_json::from_value(v).unwrap()
    };
    let arq = account(serde_json::json!({"provider": "arqsign"}));
    assert_eq!(arq.interval(), None, "arqsign.md §9: a few hundred requests a month");
    let arq = account(serde_json::json!({"provider": "arqsign", "poll_ms": 3_600_000}));
    assert_eq!(arq.interval(), Some(Duration::from_secs(3600)));
    assert_eq!(
        account(serde_json::json!({"provider": "tae"})).interval(),
        Some(Duration::from_secs(60))
    );
    assert_eq!(account(serde_json::json!({"provider": "tae", "poll_ms": 0})).interval(), None);
}
