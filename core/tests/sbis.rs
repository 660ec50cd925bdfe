//! End to end, SBIS only, against its sandbox: the send as the sandbox saw it (one document
//! under the recorded id, the host's detached CMS over each file), the counterparty signing,
//! a session that ends mid-flow, a lost `СБИС.ВыполнитьДействие` answer reconciled by reading
//! the document, the local archive. What every provider does is in `behavior/`.

mod common;

// The behaviour suite's proxy, for an answer lost after SBIS applied the call.
#[allow(dead_code)]
#[path = "behavior/hostile/server.rs"]
mod hostile;

use std::sync::Arc;

use common::{Env, fast_transport};
use serde_json::{Value, json};
use signbridge::signing::{HostSigner, SoftwareSigner};
use signbridge::{
    Document, Envelope, ErrorKind, EventKind, Party, PartyState, Reconciled, State, TransportConfig,
};
use signbridge_sandbox::{RecordedRequest, fixtures, sbis};

fn settings(base: &str) -> Value {
    json!({
        "auth_url": format!("{base}/sbis/auth/service/"),
        "service_url": format!("{base}/sbis/service/?srv=1"),
        "login": sbis::LOGIN,
        "password": sbis::PASSWORD,
        "our_inn": sbis::OUR_INN,
        "our_kpp": sbis::OUR_KPP,
    })
}

async fn start_with(overrides: Value, transport: TransportConfig) -> Env {
    let env = Env::start("sbis", settings, overrides, transport).await;
    env.client.set_host_signer(Some(signer()));
    env
}

async fn start() -> Env {
    start_with(json!({}), fast_transport()).await
}

fn signer() -> Arc<dyn HostSigner> {
    let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ООО Наша");
    Arc::new(SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap())
}

fn envelope(reference: &str, documents: Vec<Document>) -> Envelope {
    let counterparty = Party {
        tax_id: Some(format!("{}/{}", sbis::COUNTERPARTY_INN, sbis::COUNTERPARTY_KPP)),
        ..Party::signer("СК Премьер, ОАО", "edo@premier.example")
    };
    Envelope::new(reference, "Договор поставки № 17 «Премьер»", documents, vec![counterparty])
}

fn pdf(name: &str) -> Document {
    Document::from_bytes(name, fixtures::sample_pdf("Dogovor", 1))
}

/// The JSON-RPC methods of the requests, in order.
fn methods(requests: &[RecordedRequest]) -> Vec<String> {
    requests.iter().filter_map(|r| r.body["method"].as_str().map(str::to_string)).collect()
}

fn count(requests: &[RecordedRequest], method: &str) -> usize {
    methods(requests).iter().filter(|m| *m == method).count()
}

/// Send with two files → delivered → the counterparty approves → completed, and the sandbox
/// holds one document with our title, both files signed by the host.
#[tokio::test]
async fn send_then_counterparty_signs_then_completed() {
    let env = start().await;
    let handle = env
        .client
        .send(&envelope("ERP-S1", vec![pdf("dogovor.pdf"), pdf("prilozhenie.pdf")]))
        .await
        .unwrap();
    let requests = env.requests().await;
    assert_eq!(
        methods(&requests),
        [
            "СБИС.Аутентифицировать",
            "СБИС.ЗаписатьДокумент",
            "СБИС.ЗаписатьВложение",
            "СБИС.ПодготовитьДействие",
            "СБИС.ВыполнитьДействие"
        ]
    );
    let execute = requests.iter().find(|r| r.body["method"] == "СБИС.ВыполнитьДействие").unwrap();
    let execute = &execute.body["params"]["Документ"]["Этап"];
    assert_eq!(execute["Вложение"].as_array().unwrap().len(), 2, "{execute}");

    let s = env.client.status(&handle).await.unwrap();
    assert_eq!(s.state, State::Sent, "{:?}", s.provider_status);
    let doc = env.control.sbis_document(&handle.id).await.unwrap();
    assert_eq!(doc["Примечание"], "Договор поставки № 17 «Премьер»", "{doc}");
    let files = doc["Вложение"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{doc}");
    for f in files {
        assert_eq!(f["Подпись"][0]["Направление"], "Исходящий", "each file signed by us: {f}");
    }

    env.control.sbis_deliver(&handle.id).await.unwrap();
    env.control.sbis_counterparty_sign(&handle.id, None).await.unwrap();
    let s = env.client.status(&handle).await.unwrap();
    assert_eq!(s.state, State::Completed, "{}", s.provider_status);
    assert_eq!(s.parties[0].state, PartyState::Signed);

    // The same reference again: the same document, nothing sent.
    env.control.clear_requests().await.unwrap();
    let again = env
        .client
        .send(&envelope("ERP-S1", vec![pdf("dogovor.pdf"), pdf("prilozhenie.pdf")]))
        .await
        .unwrap();
    assert_eq!(again.id, handle.id);
    assert!(env.requests().await.is_empty());
}

/// Every session ends mid-flow: the next call is refused, one new login, the call goes again.
#[tokio::test]
async fn session_expired_mid_flow() {
    let env = start().await;
    let handle = env.client.send(&envelope("ERP-S2", vec![pdf("a.pdf")])).await.unwrap();
    env.control.sbis_expire_sessions(None).await.unwrap();
    env.control.clear_requests().await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    let requests = env.requests().await;
    assert_eq!(
        methods(&requests),
        ["СБИС.ПрочитатьДокумент", "СБИС.Аутентифицировать", "СБИС.ПрочитатьДокумент"]
    );
    assert_eq!(requests[0].status, Some(401));
    // The new session serves the next send.
    env.client.send(&envelope("ERP-S2b", vec![pdf("b.pdf")])).await.unwrap();
    assert_eq!(count(&env.requests().await, "СБИС.Аутентифицировать"), 1);
}

/// A session refused inside a JSON-RPC error body at HTTP 200 (§1.5): one new login and one
/// retry, and the call succeeds; refused again after the new login, the call fails as auth.
#[tokio::test]
async fn session_refused_inside_an_http_200_reply() {
    use signbridge_sandbox::Fault;
    let env = start().await;
    let handle = env.client.send(&envelope("ERP-S2c", vec![pdf("a.pdf")])).await.unwrap();
    env.control.clear_requests().await.unwrap();
    let refusal = || Fault::status("/sbis/service/", 200).on_rpc_method("СБИС.ПрочитатьДокумент");
    env.control.add_fault(refusal()).await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    let requests = env.requests().await;
    assert_eq!(
        methods(&requests),
        ["СБИС.ПрочитатьДокумент", "СБИС.Аутентифицировать", "СБИС.ПрочитатьДокумент"]
    );
    assert_eq!(requests[0].status, Some(200));

    env.control.clear_requests().await.unwrap();
    env.control.add_fault(refusal().times(2)).await.unwrap();
    let err = env.client.status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.provider_message().is_some_and(|m| m.contains("Сессия")), "{err}");
    let requests = env.requests().await;
    assert_eq!(
        methods(&requests),
        ["СБИС.ПрочитатьДокумент", "СБИС.Аутентифицировать", "СБИС.ПрочитатьДокумент"],
        "one re-login and one retry, no loop"
    );
}

/// The local archive: the file and both signatures (the host's and the counterparty's) on disk,
/// each as SBIS serves it, and an index that lists them.
#[tokio::test]
async fn archive_holds_every_file_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(json!({"archive_dir": dir.path()}), fast_transport()).await;
    let handle = env.client.send(&envelope("ERP-S5", vec![pdf("dogovor.pdf")])).await.unwrap();
    env.control.sbis_counterparty_sign(&handle.id, None).await.unwrap();
    let index = env.client.call("archive", json!({"id": handle.id})).await.unwrap();
    assert_eq!(index["document"], handle.id.as_str());
    assert_eq!(index["state"]["code"], "7", "{index}");
    let files = index["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{index}");
    let folder = dir.path().join(&handle.id);
    let file = std::fs::read(folder.join(files[0]["path"].as_str().unwrap())).unwrap();
    assert_eq!(file, fixtures::sample_pdf("Dogovor", 1), "the file as sent");
    let signatures = files[0]["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2, "ours and the counterparty's: {index}");
    let directions: Vec<_> = signatures.iter().map(|s| s["direction"].clone()).collect();
    assert_eq!(directions, ["Исходящий", "Входящий"], "{index}");
    let read = |s: &Value| std::fs::read(folder.join(s["path"].as_str().unwrap())).unwrap();
    let ours = read(&signatures[0]);
    assert_eq!(ours.first(), Some(&0x30), "our signature is a DER CMS");
    assert!(!read(&signatures[1]).is_empty(), "the counterparty's (simulated by the sandbox)");
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(folder.join("index.json")).unwrap()).unwrap();
    assert_eq!(on_disk, index);
    // Nothing half-written is left behind.
    let partial = walk(&folder).into_iter().filter(|p| p.ends_with(".partial")).count();
    assert_eq!(partial, 0);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    out
}

/// The answer to `СБИС.ВыполнитьДействие` is lost after SBIS applied it: the send fails as
/// `outcome_unknown` with the handle, the reconcile reads the document by its recorded id and
/// finds it sent, and sending the reference again returns that handle: one document, one execute.
#[tokio::test]
async fn lost_execute_answer_is_reconciled_by_reading_the_document() {
    let env = start().await;
    let proxy = hostile::Hostile::start(Some(env.sandbox.base_url()), "http://127.0.0.1:9").await;
    let client = common::client("sbis", settings(proxy.base()), json!({}), fast_transport());
    client.set_host_signer(Some(signer()));
    // The first send logs in; every later one writes, prepares, fetches the file, executes.
    client.send(&envelope("ERP-S6-WARM", vec![pdf("a.pdf")])).await.unwrap();
    proxy.arm(3, hostile::Play::HangUpAfter);
    let lost = envelope("ERP-S6", vec![pdf("b.pdf")]);
    let err = client.send(&lost).await.unwrap_err();
    let seen = proxy.seen();
    assert_eq!(seen[3].rpc_method.as_deref(), Some("СБИС.ВыполнитьДействие"), "{seen:?}");
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    let handle = err.handle().cloned().expect("the document exists: the error carries it");
    proxy.disarm();

    env.control.clear_requests().await.unwrap();
    let Reconciled::Sent { handle: found, .. } = client.reconcile("ERP-S6").await.unwrap() else {
        panic!("the reconcile finds the document sent")
    };
    assert_eq!(found.id, handle.id);
    assert_eq!(methods(&env.requests().await), ["СБИС.ПрочитатьДокумент"], "read, never executed");
    let again = client.send(&lost).await.unwrap();
    assert_eq!(again.id, handle.id);
    assert_eq!(count(&env.requests().await, "СБИС.ВыполнитьДействие"), 0);
    let outgoing = env.control.sbis_documents().await.unwrap();
    assert_eq!(outgoing.len(), 2, "one document per reference");
    assert_eq!(client.status(&handle).await.unwrap().state, State::Sent);
}

/// The host's signer fails after the document was written: the error carries the handle, the
/// document stays a draft, and the next send of the reference resumes it (no second write of a
/// new document) once the signer works.
#[tokio::test]
async fn a_send_cut_short_resumes_with_its_draft() {
    struct Refusing;
    impl HostSigner for Refusing {
        fn sign(&self, _: &signbridge::signing::SignRequest) -> Result<Vec<u8>, String> {
            Err("the token is not inserted".into())
        }
    }
    let env = start().await;
    env.client.set_host_signer(Some(Arc::new(Refusing)));
    let env_ = envelope("ERP-S7", vec![pdf("a.pdf")]);
    let err = env.client.send(&env_).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Signing, "{err}");
    assert_eq!(err.provider_message(), Some("the token is not inserted"));
    let handle = err.handle().cloned().expect("the draft exists");
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Draft);

    env.client.set_host_signer(Some(signer()));
    env.control.clear_requests().await.unwrap();
    let sent = env.client.send(&env_).await.unwrap();
    assert_eq!(sent.id, handle.id);
    assert_eq!(
        methods(&env.requests().await),
        ["СБИС.ПрочитатьДокумент", "СБИС.ПодготовитьДействие", "СБИС.ВыполнитьДействие"],
        "the lookup finds the draft; no second ЗаписатьДокумент"
    );
    assert_eq!(env.control.sbis_documents().await.unwrap().len(), 1);
}

/// Two clients of the account on one journal file (two ERP processes): the second uses the
/// session the first logged in with, sealed in the journal; no second login.
#[tokio::test]
async fn the_session_is_shared_through_the_journal() {
    let env = start().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = signbridge::journal::JournalConfig {
        path: Some(dir.path().join("journal.sqlite3")),
        ..Default::default()
    };
    let client = |journal: signbridge::journal::JournalConfig| {
        let c = signbridge::Client::new(signbridge::ClientConfig {
            provider: "sbis".into(),
            account: "shared".into(),
            transport: fast_transport(),
            settings: settings(&env.sandbox.base_url()),
            journal,
        })
        .unwrap();
        c.set_host_signer(Some(signer()));
        c
    };
    let first = client(journal.clone());
    let handle = first.send(&envelope("ERP-S8", vec![pdf("a.pdf")])).await.unwrap();
    let second = client(journal);
    env.control.clear_requests().await.unwrap();
    assert_eq!(second.status(&handle).await.unwrap().state, State::Sent);
    let requests = env.requests().await;
    assert_eq!(methods(&requests), ["СБИС.ПрочитатьДокумент"], "no second login");
    assert_eq!(requests[0].status, Some(200), "the first client's session is valid");
}

/// The `logout` call: `СБИС.Выход` with the session on the auth endpoint, and the session
/// forgotten in the journal too, so another process of the account logs in anew instead of
/// sending the dead session.
#[tokio::test]
async fn logout_ends_the_shared_session() {
    let env = start().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = signbridge::journal::JournalConfig {
        path: Some(dir.path().join("journal.sqlite3")),
        ..Default::default()
    };
    let client = |journal: signbridge::journal::JournalConfig| {
        let c = signbridge::Client::new(signbridge::ClientConfig {
            provider: "sbis".into(),
            account: "shared".into(),
            transport: fast_transport(),
            settings: settings(&env.sandbox.base_url()),
            journal,
        })
        .unwrap();
        c.set_host_signer(Some(signer()));
        c
    };
    let first = client(journal.clone());
    let second = client(journal);
    let handle = first.send(&envelope("ERP-S13", vec![pdf("a.pdf")])).await.unwrap();
    env.control.clear_requests().await.unwrap();
    first.call("logout", json!({})).await.unwrap();
    let requests = env.requests().await;
    assert_eq!(methods(&requests), ["СБИС.Выход"]);
    assert!(requests[0].path.contains("/auth/service"), "{}", requests[0].path);
    assert_eq!(requests[0].status, Some(200), "SBIS knew the session");
    assert_eq!(env.control.sbis_expire_sessions(None).await.unwrap(), 0, "no session is left");
    env.control.clear_requests().await.unwrap();
    assert_eq!(second.status(&handle).await.unwrap().state, State::Sent);
    assert_eq!(
        methods(&env.requests().await),
        ["СБИС.Аутентифицировать", "СБИС.ПрочитатьДокумент"],
        "the other process logs in anew, never sending the dead session"
    );
}

/// A session the host obtained itself (`session_id`): sent as `X-SBISSessionID`, never
/// renewed: once SBIS ends it, the call fails as auth with SBIS's words, and no login is tried.
#[tokio::test]
async fn an_external_session_is_used_as_given() {
    let env = start().await;
    let base = env.sandbox.base_url();
    let login = json!({"jsonrpc": "2.0", "method": "СБИС.Аутентифицировать", "id": 0,
        "params": {"Параметр": {"Логин": sbis::LOGIN, "Пароль": sbis::PASSWORD}}});
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/sbis/auth/service/"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = answer["result"].as_str().unwrap().to_string();
    let overrides = json!({"login": null, "password": null, "session_id": sid});
    let env2 = common::client("sbis", settings(&base), overrides, fast_transport());
    env2.set_host_signer(Some(signer()));
    let handle = env2.send(&envelope("ERP-S9", vec![pdf("a.pdf")])).await.unwrap();
    env.control.clear_requests().await.unwrap();
    env.control.sbis_expire_sessions(None).await.unwrap();
    let err = env2.status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.provider_message().is_some_and(|m| !m.is_empty()), "{err}");
    assert!(!format!("{err} {err:?}").contains(&sid), "the session never shows");
    assert_eq!(methods(&env.requests().await), ["СБИС.ПрочитатьДокумент"], "no login");
}

/// A service access token (§3.3) sent as `X-SBISAccessToken`: the send works with no login
/// at all; once the token is revoked the call fails as auth, with no login and no retry loop,
/// and the token never shows in the error.
#[tokio::test]
async fn an_access_token_is_used_as_given() {
    let env = start().await;
    let base = env.sandbox.base_url();
    let service = json!({"app_client_id": sbis::APP_CLIENT_ID, "app_secret": sbis::APP_SECRET,
        "secret_key": sbis::SECRET_KEY});
    let oauth = format!("{base}/sbis/oauth/service/");
    let http = reqwest::Client::new();
    let answer: Value =
        http.post(&oauth).json(&service).send().await.unwrap().json().await.unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    let overrides = json!({"login": null, "password": null, "access_token": token});
    let client = common::client("sbis", settings(&base), overrides, fast_transport());
    client.set_host_signer(Some(signer()));
    env.control.clear_requests().await.unwrap();
    let handle = client.send(&envelope("ERP-S10", vec![pdf("a.pdf")])).await.unwrap();
    assert_eq!(count(&env.requests().await, "СБИС.Аутентифицировать"), 0);
    http.post(&oauth).json(&json!({"event": "exit", "token": token})).send().await.unwrap();
    env.control.clear_requests().await.unwrap();
    let err = client.status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!format!("{err} {err:?}").contains(&token), "the token never shows");
    assert_eq!(methods(&env.requests().await), ["СБИС.ПрочитатьДокумент"], "no login, no loop");
}

/// Certificate login (§3.2): the host signer signs the sandbox's challenge, the session is
/// cached; when SBIS ends it, the next call logs in by certificate again (one retry).
#[tokio::test]
async fn certificate_login_signed_by_the_host() {
    let env = start().await;
    let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ООО Наша");
    let overrides = json!({"login": null, "password": null, "certificate": cert});
    let client =
        common::client("sbis", settings(&env.sandbox.base_url()), overrides, fast_transport());
    let signer = SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    client.set_host_signer(Some(Arc::new(signer)));
    env.control.clear_requests().await.unwrap();
    let handle = client.send(&envelope("ERP-S11", vec![pdf("a.pdf")])).await.unwrap();
    let requests = env.requests().await;
    let by_certificate = "СБИС.АутентифицироватьПоСертификату";
    assert_eq!(methods(&requests)[..2], [by_certificate, by_certificate]);
    assert!(requests[0].body["params"]["Подпись"].is_null());
    assert!(requests[1].body["params"]["Подпись"]["ДвоичныеДанные"].is_string());
    assert_eq!(count(&requests, by_certificate), 2, "one login for the whole send");

    env.control.sbis_expire_sessions(None).await.unwrap();
    env.control.clear_requests().await.unwrap();
    assert_eq!(client.status(&handle).await.unwrap().state, State::Sent);
    assert_eq!(
        methods(&env.requests().await),
        ["СБИС.ПрочитатьДокумент", by_certificate, by_certificate, "СБИС.ПрочитатьДокумент"]
    );

    // A signer of another subject than the certificate's: SBIS refuses the login, as auth.
    let (other_cert, other_key) = signbridge_signer::testkeys::ecdsa_p256("ООО Чужая");
    let wrong = SoftwareSigner::from_pem(other_cert.as_bytes(), other_key.as_bytes()).unwrap();
    client.set_host_signer(Some(Arc::new(wrong)));
    env.control.sbis_expire_sessions(None).await.unwrap();
    let err = client.status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

/// "≤ 300 вызовов методов аутентификации в минуту" (§3.4): 300 logins in a minute pass, the
/// 301st is refused here as `rate_limited` (with the time it may go) before reaching SBIS,
/// and `budget()` shows the login window spent.
#[tokio::test]
async fn the_301st_login_in_a_minute_is_refused() {
    let transport = TransportConfig { max_retry_after_ms: 50, ..fast_transport() };
    let env = start_with(json!({}), transport).await;
    let handle = env.client.send(&envelope("ERP-S12", vec![pdf("a.pdf")])).await.unwrap();
    for _ in 1..300 {
        env.control.sbis_expire_sessions(None).await.unwrap();
        env.client.status(&handle).await.unwrap();
    }
    let logins = |usage: &[signbridge::journal::WindowUsage]| {
        usage.iter().find(|u| u.scope == "logins").map(|u| (u.used, u.remaining))
    };
    assert_eq!(logins(&env.client.budget().await.unwrap()), Some((300, 0)));
    env.control.sbis_expire_sessions(None).await.unwrap();
    env.control.clear_requests().await.unwrap();
    let err = env.client.status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert!(err.retry_after().is_some(), "{err}");
    assert_eq!(count(&env.requests().await, "СБИС.Аутентифицировать"), 0, "held back here");
}

/// "≤ 5 parallel threads per session" (§3.4): a batch refresh of 12 documents, each read held
/// back by the sandbox, never has more than 5 calls in flight.
#[tokio::test]
async fn at_most_five_calls_in_flight() {
    let env = start().await;
    let proxy = hostile::Hostile::start(Some(env.sandbox.base_url()), "http://127.0.0.1:9").await;
    let transport = TransportConfig { batch_concurrency: 12, ..fast_transport() };
    let client = common::client("sbis", settings(proxy.base()), json!({}), transport);
    client.set_host_signer(Some(signer()));
    let mut handles = Vec::new();
    for n in 0..12 {
        let env_ = envelope(&format!("ERP-S10-{n}"), vec![pdf("a.pdf")]);
        handles.push(client.send(&env_).await.unwrap());
    }
    // Each read waits long enough at the sandbox for the others to pile up behind it.
    let delay = signbridge_sandbox::Fault::delay("/sbis/service/", 150).times(12);
    env.control.add_fault(delay).await.unwrap();
    proxy.disarm();
    let before = proxy.most_in_flight();
    assert!(before <= 1, "sends one at a time: {before}");
    for status in client.refresh(&handles).await {
        assert_eq!(status.unwrap().state, State::Sent);
    }
    assert_eq!(proxy.most_in_flight(), 5, "as many as allowed, never more");
}

/// `provider_options.sbis` in SBIS' own words reaches the document; a field SBIS has no use
/// for is refused before any request, naming it.
#[tokio::test]
async fn provider_options_in_sbis_words() {
    let env = start_with(
        json!({"responsible": {"Фамилия": "Иванов", "Имя": "Иван", "Отчество": "Иванович"}}),
        fast_transport(),
    )
    .await;
    let mut env_ = envelope("ERP-S11", vec![pdf("a.pdf")]);
    env_.provider_options = json!({"sbis": {
        "Тип": "АктСверИсх", "Номер": "АС-11", "Сумма": "17700.00",
        "Регламент": {"Идентификатор": "ad40d873-9d1e-47d7-b7e9-f39636b36301",
                      "Название": "Акт сверки"}}});
    let handle = env.client.send(&env_).await.unwrap();
    let doc = env.control.sbis_document(&handle.id).await.unwrap();
    assert_eq!(doc["Тип"], "АктСверИсх", "{doc}");
    assert_eq!(doc["Номер"], "АС-11");
    assert_eq!(doc["Сумма"], "17700.00");
    assert_eq!(doc["Регламент"]["Название"], "Акт сверки");
    assert_eq!(doc["Ответственный"]["Фамилия"], "Иванов");

    env.control.clear_requests().await.unwrap();
    let mut bad = envelope("ERP-S12", vec![pdf("a.pdf")]);
    bad.provider_options = json!({"sbis": {"Регламентт": {}}});
    let err = env.client.send(&bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    assert_eq!(err.field(), Some("provider_options.sbis"), "{err}");
    assert!(env.requests().await.is_empty(), "refused before any request");
}

/// SBIS changes a formalized XML file when preparing it (`Модифицирован: "Да"`, §5.3): the host
/// signs what the link serves, not its original, and SBIS accepts the signature.
#[tokio::test]
async fn a_modified_file_is_signed_as_sbis_serves_it() {
    let env = start().await;
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Файл ИдФайл=\"ON_NSCHFDOPPR\"/>";
    let doc = Document::from_bytes("ON_NSCHFDOPPR_1.xml", xml.as_bytes().to_vec());
    let handle = env.client.send(&envelope("ERP-S13", vec![doc])).await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    let stored = env.control.sbis_document(&handle.id).await.unwrap();
    let attachment = &stored["Вложение"][0];
    assert_eq!(attachment["Модифицирован"], "Да", "{stored}");
    assert_eq!(attachment["Подпись"][0]["Направление"], "Исходящий", "{stored}");
}

/// What SBIS cannot send is refused before any request, naming the field.
#[tokio::test]
async fn envelopes_sbis_cannot_send_are_refused_locally() {
    let env = start().await;
    let two = {
        let mut e = envelope("ERP-S14", vec![pdf("a.pdf")]);
        e.parties.push(Party::signer("Второй", "second@example.ru"));
        e
    };
    let observer = {
        let mut e = envelope("ERP-S15", vec![pdf("a.pdf")]);
        let copy = signbridge::Role::Observe;
        e.parties.push(Party::with_role("Наблюдатель", "copy@example.ru", copy));
        e
    };
    let no_tax_id = {
        let mut e = envelope("ERP-S16", vec![pdf("a.pdf")]);
        e.parties[0].tax_id = None;
        e
    };
    let bad_kpp = {
        let mut e = envelope("ERP-S17", vec![pdf("a.pdf")]);
        e.parties[0].tax_id = Some("7601000985/76".into());
        e
    };
    for (e, field) in [
        (two, "parties"),
        (observer, "parties[1].role"),
        (no_tax_id, "parties[0].tax_id"),
        (bad_kpp, "parties[0].tax_id"),
    ] {
        let err = env.client.send(&e).await.unwrap_err();
        assert_eq!((err.kind(), err.field()), (ErrorKind::Validation, Some(field)), "{err}");
    }
    assert!(env.requests().await.is_empty(), "nothing reached SBIS");
}

/// The change list through `Client::changes`: the send, the delivery and the approval of our
/// document, once each, in order; the cursor resumes after them (nothing new), and the events
/// after a later change only.
#[tokio::test]
async fn changes_with_cursor() {
    let env = start().await;
    let handle = env.client.send(&envelope("ERP-S20", vec![pdf("a.pdf")])).await.unwrap();
    env.control.sbis_deliver(&handle.id).await.unwrap();
    let (events, cursor) = env.client.changes(None).await.unwrap();
    let ours: Vec<_> = events.iter().filter(|e| e.handle.id == handle.id).collect();
    assert!(!ours.is_empty(), "{events:?}");
    assert!(ours.iter().all(|e| e.handle.reference.as_deref() == Some("ERP-S20")), "{ours:?}");
    let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "no event twice");
    let cursor = cursor.unwrap();
    let (none, same) = env.client.changes(Some(&cursor)).await.unwrap();
    assert!(none.is_empty(), "nothing new after the cursor: {none:?}");

    env.control.sbis_counterparty_sign(&handle.id, None).await.unwrap();
    let (after, _) = env.client.changes(same.as_deref()).await.unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].kind, EventKind::PartySigned);
    assert_eq!(after[0].handle.id, handle.id);
}

/// More events than a page holds: `ЕстьЕще` is followed page after page, no event lost or
/// repeated.
#[tokio::test]
async fn changes_follow_the_pages() {
    let env = start_with(json!({"page_size": 2}), fast_transport()).await;
    for n in 0..3 {
        let handle =
            env.client.send(&envelope(&format!("ERP-S21-{n}"), vec![pdf("a.pdf")])).await.unwrap();
        env.control.sbis_deliver(&handle.id).await.unwrap();
        env.control.sbis_counterparty_sign(&handle.id, None).await.unwrap();
    }
    env.control.clear_requests().await.unwrap();
    let (events, _) = env.client.changes(None).await.unwrap();
    let pages = count(&env.requests().await, "СБИС.СписокИзменений");
    let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "no event twice");
    assert!(events.len() >= 9, "three events for each of three documents: {events:?}");
    assert!(pages >= 5, "two events a page: {pages} pages");
}

/// Incoming documents: one arrives (the change list says so), is listed, approved through
/// prepare → the host signs the generated title → execute; another is rejected with a reason.
#[tokio::test]
async fn incoming_documents_approved_and_rejected() {
    let env = start().await;
    let first = env.control.sbis_incoming(json!({"number": "УПД-7"})).await.unwrap();
    let second = env.control.sbis_incoming(json!({"number": "УПД-8"})).await.unwrap();
    let first = first["Идентификатор"].as_str().unwrap().to_string();
    let second = second["Идентификатор"].as_str().unwrap().to_string();
    let (events, _) = env.client.changes(None).await.unwrap();
    let received: Vec<_> =
        events.iter().filter(|e| e.kind == EventKind::DocumentReceived).collect();
    assert_eq!(received.len(), 2, "{events:?}");
    assert_eq!(received[0].handle.id, first);

    let listed = env.client.call("incoming", json!({})).await.unwrap();
    let ids: Vec<_> =
        listed["Документ"].as_array().unwrap().iter().map(|d| d["Идентификатор"].clone()).collect();
    assert!(ids.contains(&json!(first)) && ids.contains(&json!(second)), "{listed}");

    let approved = env.client.call("approve", json!({"id": first})).await.unwrap();
    assert_eq!(approved["state"], "completed", "{approved}");
    let doc = env.control.sbis_document(&first).await.unwrap();
    assert_eq!(doc["Состояние"]["Код"], "7", "{doc}");
    let ours = doc["Вложение"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["Подпись"].as_array().unwrap().clone())
        .filter(|s| s["Направление"] == "Исходящий")
        .count();
    assert_eq!(ours, 1, "the host signed the generated title: {doc}");

    let reason = "Неверная цена в строке 2";
    let rejected =
        env.client.call("reject", json!({"id": second, "reason": reason})).await.unwrap();
    assert_eq!(rejected["state"], "rejected", "{rejected}");
    assert_eq!(rejected["reason"], reason);
    let err = env.client.call("reject", json!({"id": second, "reason": " "})).await.unwrap_err();
    assert_eq!(err.field(), Some("args.reason"), "{err}");
    let err = env.client.call("approve", json!({"id": second})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "a rejected document offers no approval: {err}");
}

/// Service stages (извещения о получении): processed by the call, or by `changes` itself with
/// `auto_service_documents`, each signed by the host; none left unprocessed.
#[tokio::test]
async fn service_documents_processed_by_call_and_automatically() {
    let pending = |stages: &[Value]| stages.iter().filter(|s| s["processed"].is_null()).count();
    let env = start().await;
    env.client.send(&envelope("ERP-S30", vec![pdf("a.pdf")])).await.unwrap();
    env.control.sbis_incoming(json!({})).await.unwrap();
    let stages = env.control.sbis_service_stages().await.unwrap();
    assert!(pending(&stages) >= 2, "a stage for the send and one for the arrival: {stages:?}");
    let done = env.client.call("service_documents", json!({})).await.unwrap();
    assert_eq!(done["processed"].as_u64().unwrap() as usize, pending(&stages), "{done}");
    assert_eq!(pending(&env.control.sbis_service_stages().await.unwrap()), 0);

    let auto = start_with(json!({"auto_service_documents": true}), fast_transport()).await;
    auto.client.send(&envelope("ERP-S31", vec![pdf("a.pdf")])).await.unwrap();
    assert!(pending(&auto.control.sbis_service_stages().await.unwrap()) >= 1);
    auto.client.changes(None).await.unwrap();
    let left = pending(&auto.control.sbis_service_stages().await.unwrap());
    assert_eq!(left, 0, "the host signed none by hand");
}

fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read as _;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            (entry.name().unwrap().to_string(), out)
        })
        .collect()
}

/// `signed`: a zip of each file with its signatures, ours and the counterparty's, under the
/// local archive's paths; `archive`: SBIS's own zip (`СсылкаНаАрхив`) as it serves it, read
/// with the session (the sandbox refuses a link without one).
#[tokio::test]
async fn signed_and_archive_downloads() {
    let env = start().await;
    let handle = env
        .client
        .send(&envelope("ERP-S6", vec![pdf("dogovor.pdf"), pdf("prilozhenie.pdf")]))
        .await
        .unwrap();
    env.control.sbis_counterparty_sign(&handle.id, None).await.unwrap();

    let signed =
        env.client.download_bytes(&handle, signbridge::DownloadKind::Signed).await.unwrap();
    assert_eq!(signed.1.media_type.as_deref(), Some("application/zip"));
    let entries = unzip(&signed.0);
    let files: Vec<_> = entries.keys().filter(|k| !k.contains("/signatures/")).collect();
    assert_eq!(files.len(), 2, "{:?}", entries.keys());
    for file in files {
        assert_eq!(entries[file], fixtures::sample_pdf("Dogovor", 1), "{file} as sent");
        let dir = file.split('/').next().unwrap();
        let sigs: Vec<_> =
            entries.keys().filter(|k| k.starts_with(&format!("{dir}/signatures/"))).collect();
        assert_eq!(sigs.len(), 2, "ours and the counterparty's for {file}: {:?}", entries.keys());
        assert_eq!(entries[sigs[0]].first(), Some(&0x30), "our signature is a DER CMS");
    }

    let archive =
        env.client.download_bytes(&handle, signbridge::DownloadKind::Archive).await.unwrap();
    assert_eq!(archive.1.media_type.as_deref(), Some("application/zip"));
    let entries = unzip(&archive.0);
    assert_eq!(entries["dogovor.pdf"], fixtures::sample_pdf("Dogovor", 1), "{:?}", entries.keys());
    assert!(entries.contains_key("prilozhenie.pdf"), "{:?}", entries.keys());

    // A kind SBIS does not declare is refused before any request.
    env.control.clear_requests().await.unwrap();
    let err = env
        .client
        .download_bytes(&handle, signbridge::DownloadKind::DigitallySigned)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(env.requests().await.is_empty());
}
