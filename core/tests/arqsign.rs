//! End to end, ArqSign only: what the sandbox received on the wire, send versions and download
//! forms, the poll interval, its calls' answers and ArqSign's own rules. What every provider
//! does is in `behavior/`.

mod common;

use std::time::{Duration, Instant};

use common::{Env, count, fast_transport};
use signbridge::{
    Document, DownloadKind, Envelope, ErrorKind, Handle, Message, Party, PartyState, Role, State,
    TransportConfig,
};
use signbridge_sandbox::{Control, arqsign, fixtures};

fn settings(base: &str) -> serde_json::Value {
    serde_json::json!({
        "base_url": format!("{base}/arqsign/"),
        "app_key": arqsign::DEFAULT_APP_KEY,
        "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
        "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID,
        "folder_id": arqsign::DEFAULT_FOLDER_ID,
        "min_poll_interval_secs": 0,
    })
}

async fn start() -> Env {
    start_with(serde_json::json!({}), fast_transport()).await
}

async fn start_with(overrides: serde_json::Value, transport: TransportConfig) -> Env {
    Env::start("arqsign", settings, overrides, transport).await
}

fn party(name: &str, email: &str) -> Party {
    Party::signer(name, email)
}

fn envelope(reference: &str) -> Envelope {
    let pdf = Document::from_bytes("contrato.pdf", fixtures::sample_pdf("Contrato", 2));
    let parties = vec![
        party("Ana Araújo", "ana@cliente.example"),
        party("Bruno Lima", "bruno@empresa.example"),
    ];
    Envelope {
        message: Some(Message {
            subject: Some("Assine, por favor".into()),
            body: Some("Segue o contrato.".into()),
        }),
        ..Envelope::new(reference, "Contrato de locação", vec![pdf], parties)
    }
}

async fn sign_all(h: &Env, handle: &Handle, emails: &[&str]) {
    for email in emails {
        h.control.arqsign_sign(&handle.id, email).await.unwrap();
    }
}

/// The flow itself is the behaviour suite's; here, what ArqSign's files and codes say: a
/// finished process is status 4 with its conclusion date, the signed PDF has ArqSign's
/// signature page appended, and the evidence report keeps ArqSign's file name.
#[tokio::test]
async fn a_finished_process_in_arqsign_terms() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-A1")).await.unwrap();
    sign_all(&h, &handle, &["ana@cliente.example", "bruno@empresa.example"]).await;
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.provider_status.as_str()), (State::Completed, "4"));
    assert!(s.updated_at.is_some(), "dataConclusao");

    let (signed, _) = h.client.download_bytes(&handle, DownloadKind::Signed).await.unwrap();
    assert!(fixtures::pdf_page_count(&signed).unwrap() > 2, "the signature page was appended");
    let (evidence, info) = h.client.download_bytes(&handle, DownloadKind::Evidence).await.unwrap();
    assert!(fixtures::pdf_page_count(&evidence).unwrap() >= 1);
    assert!(info.file_name.unwrap().ends_with("_Registro de Assinaturas.pdf"));
}

#[tokio::test]
async fn base64_form_and_several_documents_from_paths() {
    let h = start_with(
        serde_json::json!({"download_form": "base64", "send_version": "v3"}),
        fast_transport(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = envelope("ERP-A2");
    env.documents = (1..=3)
        .map(|i| {
            let path = dir.path().join(format!("anexo-{i}.pdf"));
            std::fs::write(&path, fixtures::sample_pdf(&format!("Anexo {i}"), i)).unwrap();
            Document::from_path(path)
        })
        .collect();
    let handle = h.client.send(&env).await.unwrap();
    let process = h.control.arqsign_process(&handle.id).await.unwrap();
    assert_eq!(process["documents"].as_array().unwrap().len(), 3, "{process}");
    assert_eq!(count(&h.control.requests().await.unwrap(), "POST", "/api/v3/processo/enviar"), 1);
    sign_all(&h, &handle, &["ana@cliente.example", "bruno@empresa.example"]).await;
    let (zip, info) = h.client.download_bytes(&handle, DownloadKind::Signed).await.unwrap();
    assert_eq!((&zip[..2], info.media_type.as_deref()), (&b"PK"[..], Some("application/zip")));
}

#[tokio::test]
async fn what_the_sandbox_received_matches_the_envelope() {
    let h = start().await;
    let mut env = envelope("ERP-A3");
    env.sequential = true;
    env.parties[0].tax_id = Some("111.444.777-35".into());
    env.parties[0].access_code = Some("4321".into());
    env.parties
        .push(Party { role: Role::Observe, ..party("Jurídico", "juridico@empresa.example") });
    h.client.send(&env).await.unwrap();
    let send = h
        .control
        .requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.path.contains("enviar-documento-para-assinar"))
        .unwrap();
    let body = &send.body;
    assert_eq!(body["nomeProcesso"], "Contrato de locação");
    assert_eq!(body["usarOrdemAssinatura"], true);
    assert_eq!(body["idPasta"], arqsign::DEFAULT_FOLDER_ID);
    let d = body["destinatarios"].as_array().unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(
        (d[0]["ordemAssinatura"].clone(), d[1]["ordemAssinatura"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(
        d[0]["assinarOnline"]["dadosAssinatura"]["signatario"]["numeroDocumento"],
        "11144477735"
    );
    assert_eq!(d[0]["assinarOnline"]["seguranca"]["codigoSeguranca"], "4321");
    assert_eq!(d[2]["idTipoAcao"], 2);
}

/// A refusal in general is the behaviour suite's; ArqSign ends it as status 5 and, from the
/// signer data, names who refused.
#[tokio::test]
async fn a_refusal_is_status_5_and_names_the_signer() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-A4")).await.unwrap();
    h.control.arqsign_refuse(&handle.id, "bruno@empresa.example", "valor errado").await.unwrap();
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.provider_status.as_str()), (State::Rejected, "5"));
    let bruno =
        s.parties.iter().find(|p| p.email.as_deref() == Some("bruno@empresa.example")).unwrap();
    assert_eq!(bruno.state, PartyState::Rejected);
}

#[tokio::test]
async fn cancelling_twice_is_a_conflict() {
    let h = start().await;
    let cancelled = h.client.send(&envelope("ERP-A6")).await.unwrap();
    h.client.cancel(&cancelled).await.unwrap();
    let again = h.client.cancel(&cancelled).await.unwrap_err();
    assert_eq!((again.kind(), again.http_status()), (ErrorKind::Conflict, Some(422)));
}

#[tokio::test]
async fn resend_and_directory_calls() {
    let h = start().await;
    let mut env = envelope("ERP-A7");
    env.sequential = true;
    let handle = h.client.send(&env).await.unwrap();
    let pending = h.client.call("resend", serde_json::json!({"handle": handle})).await.unwrap();
    let pending = pending.as_array().unwrap();
    assert!(!pending.is_empty(), "the pending signers come back");
    let users = h.client.call("users", serde_json::json!({"active": true})).await.unwrap();
    assert!(
        users.as_array().unwrap().iter().any(|u| u["id"] == arqsign::DEFAULT_RESPONSIBLE_ID),
        "{users}"
    );
    let folders = h.client.call("folders", serde_json::json!({"search": "root"})).await.unwrap();
    assert!(!folders.as_array().unwrap().is_empty(), "{folders}");
    let err =
        h.client.call("folders", serde_json::json!({"search": "everything"})).await.unwrap_err();
    assert_eq!(err.field(), Some("args.search"));
}

#[tokio::test]
async fn polling_too_fast_is_waited_out() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-A8")).await.unwrap();
    h.control
        .arqsign_set_config(serde_json::json!({"status_poll_interval_ms": 1500}))
        .await
        .unwrap();
    h.client.status(&handle).await.unwrap();
    let started = Instant::now();
    assert_eq!(h.client.status(&handle).await.unwrap().state, State::Sent);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    let codes: Vec<_> = h
        .control
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.path.contains("status-do-processo"))
        .map(|r| r.status)
        .collect();
    assert_eq!(codes, [Some(200), Some(429), Some(200)]);
}

#[tokio::test]
async fn batch_refresh_keeps_to_the_minimum_interval_unless_forced() {
    let h = start_with(serde_json::json!({"min_poll_interval_secs": 3600}), fast_transport()).await;
    let a = h.client.send(&envelope("ERP-A9")).await.unwrap();
    let b = h.client.send(&envelope("ERP-A10")).await.unwrap();
    let polls = |c: &Control| {
        let c = c.clone();
        async move { count(&c.requests().await.unwrap(), "GET", "status-do-processo") }
    };
    let first = h.client.refresh(&[a.clone(), b.clone()]).await;
    assert!(first.iter().all(|r| r.as_ref().unwrap().state == State::Sent));
    assert_eq!(polls(&h.control).await, 2);
    h.control.arqsign_sign(&a.id, "ana@cliente.example").await.unwrap();
    let cached = h.client.refresh(&[a.clone(), b.clone()]).await;
    assert_eq!(polls(&h.control).await, 2, "no new poll within the interval");
    assert_eq!(cached[0].as_ref().unwrap().state, State::Sent, "the last reading");
    let forced = h.client.refresh_forced(std::slice::from_ref(&a)).await;
    assert_eq!(forced[0].as_ref().unwrap().state, State::PartiallySigned);
    assert_eq!(polls(&h.control).await, 3);
}

/// Refused keys in general are the behaviour suite's; ArqSign answers 401, and either
/// subscription key of the account's pair is good.
#[tokio::test]
async fn either_subscription_key_is_good() {
    let h = start_with(serde_json::json!({"app_key": "wrong"}), fast_transport()).await;
    let err = h.client.send(&envelope("ERP-A12")).await.unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Auth, Some(401)));
    let second_key = common::client(
        "arqsign",
        settings(&h.sandbox.base_url()),
        serde_json::json!({"subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY_2, "app_key": arqsign::DEFAULT_APP_KEY}),
        fast_transport(),
    );
    second_key.send(&envelope("ERP-A13")).await.unwrap();
}

/// The rules every provider shares, and the record's limits, are the behaviour suite's; these
/// are ArqSign's own.
#[tokio::test]
async fn arqsign_rules_fail_before_any_request() {
    let h = start_with(serde_json::json!({"folder_id": null}), fast_transport()).await;
    let with_folder = serde_json::json!({"arqsign": {"folder_id": arqsign::DEFAULT_FOLDER_ID}});
    type Spoil = Box<dyn Fn(&mut Envelope)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("provider_options.arqsign.folder_id", Box::new(|_| {})),
        (
            "documents[0].content",
            Box::new(|e| e.documents = vec![Document::from_bytes("a.pdf", b"PK\x03\x04".to_vec())]),
        ),
        (
            "documents[1].name",
            Box::new(|e| {
                e.documents.push(Document::from_bytes("CONTRATO.pdf", b"%PDF-1.7".to_vec()))
            }),
        ),
        ("parties[0].email", Box::new(|e| e.parties[0].email = None)),
        ("parties[0].name", Box::new(|e| e.parties[0].name = None)),
        ("parties[0].name", Box::new(|e| e.parties[0].name = Some("N".repeat(151)))),
        (
            "parties[0].phone",
            Box::new(|e| {
                e.parties[0].email = None;
                e.parties[0].phone = Some("12-ab".into());
            }),
        ),
        ("parties[0].access_code", Box::new(|e| e.parties[0].access_code = Some("12a4".into()))),
        ("parties[0].tax_id", Box::new(|e| e.parties[0].tax_id = Some("123".into()))),
        (
            "parties[1].order",
            Box::new(|e| {
                e.sequential = true;
                e.parties[0].order = Some(1);
                e.parties[1].order = Some(1);
            }),
        ),
        (
            "message.subject",
            Box::new(|e| e.message = Some(Message { subject: Some("S".repeat(151)), body: None })),
        ),
    ];
    for (i, (field, spoil)) in cases.into_iter().enumerate() {
        let mut env = envelope("ERP-BAD");
        if i > 0 {
            env.provider_options = with_folder.clone();
        }
        spoil(&mut env);
        let err = h.client.send(&env).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{field}: {err}");
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert!(h.control.requests().await.unwrap().is_empty(), "the sandbox saw no request");
}

#[tokio::test]
async fn webhook_subscribe_creates_an_account_webhook_and_answers_its_key() {
    let h = start().await;
    let url = "http://127.0.0.1:9/webhooks/arqsign/test";
    let answer = h
        .client
        .call("webhook_subscribe", serde_json::json!({"url": format!(" {url} "), "name": "ERP"}))
        .await
        .unwrap();
    assert_eq!(answer["url"], url);
    let secret = answer["secret"].as_str().unwrap();
    assert!(!secret.is_empty(), "{answer}");
    let reqs = h.requests().await;
    let posts: Vec<_> =
        reqs.iter().filter(|r| r.method == "POST" && r.path.ends_with("/confwebhook")).collect();
    assert_eq!(posts.len(), 1);
    // Trigger 8 by default, process and signer data, no files (§6.1).
    assert_eq!(
        posts[0].body,
        serde_json::json!({"nome": "ERP", "status": 1, "urlPublicar": url, "aguardarRetorno": 0,
            "gatilhos": [8], "dadosRetorno": {"processo": 1, "signatarios": 1, "documentos": 0}})
    );
    assert_eq!(answer["id"].as_str().unwrap().len(), 36, "{answer}");

    // Bad arguments name their field and send nothing.
    for (args, field) in [
        (serde_json::json!({"url": "ftp://x/", "name": "A"}), "args.url"),
        (serde_json::json!({"url": url, "name": " "}), "args.name"),
        (serde_json::json!({"url": url, "name": "x".repeat(151)}), "args.name"),
        (serde_json::json!({"url": url, "name": "B", "triggers": [3, 9]}), "args.triggers"),
        (serde_json::json!({"url": url, "name": "B", "triggers": []}), "args.triggers"),
        (serde_json::json!({"url": url}), "args"),
    ] {
        let err = h.client.call("webhook_subscribe", args.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{args}: {err}");
        assert_eq!(err.field(), Some(field), "{args}: {err}");
    }
    assert_eq!(count(&h.requests().await, "POST", "/confwebhook"), 1);
    // `nome` is unique in the account: the provider's refusal comes back as it is.
    let again = serde_json::json!({"url": url, "name": "ERP", "triggers": [3, 8]});
    assert!(h.client.call("webhook_subscribe", again).await.is_err());
    assert_eq!(count(&h.requests().await, "POST", "/confwebhook"), 2, "a write is not repeated");
}
