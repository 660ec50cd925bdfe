//! The receiver end to end in-process: every answer it gives, what it stores (and does not),
//! the event stream across restarts, and a journal that cannot commit. Bodies are the
//! contracts' examples (`sintegre.md` §1.5, `arqsign.md` §6.3).

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac as _};
use serde_json::json;
use sha2::Sha256;
use signbridge::webhooks::{Headers, Receiver, ReceiverConfig, Reply};
use signbridge::{Client, ClientConfig, EventKind};

const FILE: &str = "https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO-20-02-2025.pdf";

fn token(file: &str, nbf: i64) -> String {
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = json!({"URL": file, "username": "someone@example.com", "nomeProduto": "IPDO",
        "IsFile": "True", "nbf": nbf, "exp": nbf + 86_640});
    format!("{}.{}.c2ln", enc(json!({"typ": "JWT", "alg": "HS256"})), enc(claims))
}

fn ipdo(file: &str, nbf: i64) -> String {
    format!(
        r#"{{"nome":"IPDO (Informativo Preliminar Diário da Operação)","processo":"Operação em Tempo Real",
 "dataProduto":"20/02/2025","macroProcesso":"Operação do Sistema",
 "periodicidade":"2025-02-20T00:00:00","periodicidadeFinal":"2025-02-20T23:59:59",
 "url":"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token={}"}}"#,
        token(file, nbf)
    )
}

fn basic(user_password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_password))
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    Headers::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn config(journal: serde_json::Value) -> ReceiverConfig {
    let text = json!({
        "journal": journal,
        "routes": [
            {"source": "sintegre", "account": "ons",
             "settings": {"auth": [{"basic": {"user": "ons", "password": "s3cr3t"}}]}},
            {"source": "arqsign", "account": "main", "settings": {"hmac_keys": ["chave"]}},
        ]
    });
    serde_json::from_value(text).unwrap()
}

fn receiver(path: &Path) -> Receiver {
    Receiver::new(config(json!({"path": path, "busy_timeout_ms": 100}))).unwrap()
}

fn ons() -> Headers {
    headers(&[("Content-Type", "application/json"), ("Authorization", &basic("ons:s3cr3t"))])
}

async fn post_ipdo(rx: &Receiver, file: &str, nbf: i64) -> Reply {
    rx.handle("sintegre", "ons", "POST", &ons(), ipdo(file, nbf).as_bytes()).await
}

async fn pending(rx: &Receiver) -> Vec<String> {
    let mut ids = Vec::new();
    while let Some(e) = rx.next_event(Some(Duration::ZERO)).await.unwrap() {
        ids.push(e.id);
    }
    ids
}

/// Source, account, method, headers, body and the status expected.
type Case = (&'static str, &'static str, &'static str, Headers, Vec<u8>, u16);

#[tokio::test]
async fn every_refusal_has_its_status_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(&dir.path().join("j.sqlite3"));
    let body = ipdo(FILE, 1);
    let cases: [Case; 6] = [
        ("sbis", "ons", "POST", ons(), body.clone().into_bytes(), 404),
        ("sintegre", "other", "POST", ons(), body.clone().into_bytes(), 404),
        ("sintegre", "ons", "GET", ons(), body.clone().into_bytes(), 405),
        ("sintegre", "ons", "POST", ons(), vec![b' '; 64 * 1024 + 1], 413),
        (
            "sintegre",
            "ons",
            "POST",
            headers(&[("Authorization", &basic("ons:wrong"))]),
            body.clone().into_bytes(),
            401,
        ),
        ("sintegre", "ons", "POST", ons(), br#"{"nome":"sem url"}"#.to_vec(), 400),
    ];
    for (source, account, method, h, b, status) in cases {
        let reply = rx.handle(source, account, method, &h, &b).await;
        assert_eq!(reply.status, status, "{source}/{account} {method}: {}", reply.body);
    }
    let r401 = rx.handle("sintegre", "ons", "POST", &headers(&[]), body.as_bytes()).await;
    assert!(r401.headers.iter().any(|(k, v)| k == "WWW-Authenticate" && v.starts_with("Basic")));
    let r405 = rx.handle("sintegre", "ons", "PUT", &ons(), body.as_bytes()).await;
    assert!(r405.headers.contains(&("Allow".into(), "POST".into())));
    assert!(pending(&rx).await.is_empty(), "nothing refused reaches the stream");
}

#[tokio::test]
async fn a_delivery_is_committed_once_with_its_secrets_removed() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(&dir.path().join("j.sqlite3"));
    let first = post_ipdo(&rx, FILE, 1_740_142_253).await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, r#"{"duplicate":false,"received":true}"#)
    );
    // "Enviar Tudo": the same file, a fresh token.
    let again = post_ipdo(&rx, FILE, 1_740_150_000).await;
    assert_eq!((again.status, again.body.as_str()), (200, r#"{"duplicate":true,"received":true}"#));
    let event = rx.next_event(Some(Duration::ZERO)).await.unwrap().unwrap();
    assert_eq!(event.kind, EventKind::DocumentReceived);
    assert!(rx.next_event(Some(Duration::ZERO)).await.unwrap().is_none(), "one event");
    let kept = rx.journal().inbox("sintegre", "ons", &event.handle.id).await.unwrap().unwrap();
    assert_eq!(kept.deliveries, 2);
    assert!(kept.body.contains("token=REDACTED"), "{}", kept.body);
    assert!(!kept.body.contains(&token(FILE, 1_740_142_253)));
    assert!(!kept.headers.to_string().to_lowercase().contains("authorization"));
    assert_eq!(kept.link_expires_at.unwrap().timestamp(), 1_740_150_000 + 86_640);
    let event_text = serde_json::to_string(&event).unwrap();
    assert!(!event_text.contains("token=") && !event_text.contains("someone@"), "{event_text}");
    // A revision of the same product and period is another event (§6 test 8).
    assert_eq!(post_ipdo(&rx, &format!("{FILE}.REV2"), 1_740_160_000).await.status, 200);
    assert_eq!(pending(&rx).await.len(), 1);
}

#[tokio::test]
async fn arqsign_deliveries_are_checked_against_the_body_and_reach_the_account_client() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite3");
    let rx = receiver(&path);
    let body = br#"{"Evento":"ProcessoConcluido","IdProcesso":"8f0e","IdConta":"c1","IdWebhook":"w1","DataHoraAtual":"05/06/2025 10:11:12"}"#;
    let signed = headers(&[("Content-Type", "application/json"), ("HMAC", &sign("chave", body))]);
    let forged = headers(&[("HMAC", &sign("outra", body))]);
    assert_eq!(rx.handle("arqsign", "main", "POST", &forged, body).await.status, 401);
    assert_eq!(rx.handle("arqsign", "main", "POST", &signed, body).await.status, 200);
    assert_eq!(rx.handle("arqsign", "main", "POST", &signed, body).await.status, 200);
    let config = ClientConfig::from_json(
        &json!({"provider": "arqsign", "account": "main",
            "settings": {"base_url": "https://127.0.0.1:9/", "app_key": "k",
                "subscription_key": "s"},
            "journal": {"path": path}})
        .to_string(),
    )
    .unwrap();
    let client = Client::new(config).unwrap();
    let event = client.next_event(Some(Duration::ZERO)).await.unwrap().unwrap();
    assert_eq!((event.kind, event.handle.id.as_str()), (EventKind::StateChanged, "8f0e"));
    assert_eq!(event.raw["state"], "completed");
    assert!(client.ack_event(&event.id).await.unwrap());
    assert!(!client.ack_event(&event.id).await.unwrap(), "acked once");
    assert!(client.next_event(Some(Duration::ZERO)).await.unwrap().is_none());
    let err = client.ack_event("no-such-event").await.unwrap_err();
    assert_eq!(err.kind(), signbridge::ErrorKind::NotFound);
}

#[tokio::test]
async fn a_host_that_never_acks_gets_the_same_events_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite3");
    let first = receiver(&path);
    for n in 0..3 {
        assert_eq!(post_ipdo(&first, &format!("{FILE}.{n}"), n).await.status, 200);
    }
    let seen = pending(&first).await;
    assert_eq!(seen.len(), 3);
    assert!(pending(&first).await.is_empty(), "handed out once per run");
    drop(first);
    let second = receiver(&path);
    assert_eq!(pending(&second).await, seen, "not acked: the same events, in order");
    assert!(second.ack_event(&seen[0]).await.unwrap());
    assert!(second.ack_event(&seen[2]).await.unwrap());
    drop(second);
    let third = receiver(&path);
    assert_eq!(pending(&third).await, [seen[1].clone()]);
    let all = third.replay_events(signbridge::Since::Position(0), 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.event.id.clone()).collect::<Vec<_>>(),
        seen,
        "replay shows all"
    );
    let after_first = third.replay_events(signbridge::Since::Position(all[0].seq), 10).await;
    assert_eq!(after_first.unwrap().len(), seen.len() - 1, "a position starts after it");
    let by_time = third.replay_events(signbridge::Since::Time(all[0].created_at), 10).await;
    assert_eq!(by_time.unwrap().len(), seen.len(), "a time includes the events at it");
}

#[tokio::test]
async fn a_journal_that_cannot_commit_answers_503_and_the_resend_is_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite3");
    let rx = receiver(&path);
    // Another process holds the write lock longer than the busy timeout.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let reply = post_ipdo(&rx, FILE, 1).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.headers.iter().any(|(k, _)| k == "Retry-After"));
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(post_ipdo(&rx, FILE, 2).await.status, 200);
    assert_eq!(pending(&rx).await.len(), 1);
}

#[test]
fn configuration_errors_name_the_field() {
    let err = ReceiverConfig::from_json(r#"{"routes": [{"source": "x"}]}"#).unwrap_err();
    assert!(err.to_string().contains("account"), "{err}");
    let twice = json!({"journal": {"path": ":memory:"}, "routes": [
        {"source": "idocs", "account": "a"}, {"source": "idocs", "account": "a"}]});
    let err = Receiver::new(serde_json::from_value(twice).unwrap()).unwrap_err();
    assert_eq!(err.field(), Some("routes[1]"));
    let unknown = json!({"journal": {"path": ":memory:"}, "routes": [
        {"source": "sintegre", "account": "a", "settings": {"auth": []}}]});
    let err = Receiver::new(serde_json::from_value(unknown).unwrap()).unwrap_err();
    assert_eq!(err.field(), Some("routes.sintegre.settings.auth"));
}
