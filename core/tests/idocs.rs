//! End to end, iDocs only: the host's signature as the sandbox verified it, CMS forms,
//! idempotency tickets, a failing signer, and its calls' answers. What every provider does is in
//! `behavior/`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Env, count, fast_transport};
use signbridge::signing::{HostSigner, SignRequest, SoftwareSigner};
use signbridge::{Document, Envelope, ErrorKind, Party, PartyState, State, TransportConfig};
use signbridge_sandbox::{Fault, Reset, fixtures, idocs};

fn settings(base: &str) -> serde_json::Value {
    serde_json::json!({
        "base_url": format!("{base}/idocs/"),
        "token": idocs::DEFAULT_TOKEN,
        "employee_id": idocs::SENDER_EMPLOYEE_ID,
    })
}

async fn start_with(overrides: serde_json::Value, transport: TransportConfig) -> Env {
    let h = Env::start("idocs", settings, overrides, transport).await;
    h.client.set_host_signer(Some(software_signer()));
    h
}

async fn start() -> Env {
    start_with(serde_json::json!({}), fast_transport()).await
}

fn software_signer() -> Arc<dyn HostSigner> {
    let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель");
    Arc::new(SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap())
}

fn envelope(reference: &str) -> Envelope {
    let mut counterparty = Party::signer("ТОО Контрагент", "buh@kontragent.kz");
    counterparty.tax_id = Some(idocs::COUNTERPARTY_BIN.into());
    let pdf = Document::from_bytes("dogovor.pdf", fixtures::sample_pdf("Dogovor", 1));
    Envelope::new(reference, "Договор поставки № 17", vec![pdf], vec![counterparty])
}

/// The flow itself is the behaviour suite's; here, what iDocs says of it: the document is
/// SENT_BY_SENDER, and the sandbox verified one attached CMS signature by the host's key.
#[tokio::test]
async fn the_host_signature_reached_idocs() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-K1")).await.unwrap();
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.provider_status.as_str()), (State::Sent, "SENT_BY_SENDER"));
    assert_eq!(s.parties[0].email.as_deref(), Some("buh@kontragent.kz"));

    let doc = h.control.idocs_document(&handle.id).await.unwrap();
    assert_eq!(doc["signature_count"], 1, "{doc}");
    assert_eq!(doc["signatures"][0]["form"], "attached");
    assert!(
        doc["signatures"][0]["signer_subject"].as_str().unwrap().contains("ТОО Отправитель"),
        "{doc}"
    );
}

#[tokio::test]
async fn detached_signatures_are_accepted_too() {
    let h = start_with(serde_json::json!({"cms_form": "detached"}), fast_transport()).await;
    let handle = h.client.send(&envelope("ERP-K2")).await.unwrap();
    let doc = h.control.idocs_document(&handle.id).await.unwrap();
    assert_eq!(doc["signatures"][0]["form"], "detached", "{doc}");
}

#[tokio::test]
async fn a_lost_save_answer_is_retried_with_the_same_ticket() {
    let h = start().await;
    h.control
        .add_fault(Fault::reset(
            "/idocs/api/v3/sync/external/outbox/signature/quick-sign/save",
            Reset::After,
        ))
        .await
        .unwrap();
    let handle = h.client.send(&envelope("ERP-K3")).await.unwrap();
    let reqs = h.control.requests().await.unwrap();
    assert_eq!(count(&reqs, "POST", "quick-sign/save"), 2, "sent again after the lost answer");
    let doc = h.control.idocs_document(&handle.id).await.unwrap();
    assert_eq!(doc["signature_count"], 1, "one signature, not two: {doc}");
    assert_eq!(h.client.status(&handle).await.unwrap().state, State::Sent);
}

/// Signs, but first lets every ticket the server issued expire.
struct ExpiringSigner {
    inner: Arc<dyn HostSigner>,
    control: signbridge_sandbox::Control,
    runtime: tokio::runtime::Handle,
    calls: AtomicUsize,
}

impl HostSigner for ExpiringSigner {
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.runtime
                .block_on(self.control.idocs_expire_tickets())
                .map_err(|e| e.to_string())?;
        }
        self.inner.sign(request)
    }
}

#[tokio::test]
async fn an_expired_ticket_gets_fresh_content_to_sign() {
    let h = start().await;
    let signer = Arc::new(ExpiringSigner {
        inner: software_signer(),
        control: h.control.clone(),
        runtime: tokio::runtime::Handle::current(),
        calls: AtomicUsize::new(0),
    });
    h.client.set_host_signer(Some(signer.clone()));
    let handle = h.client.send(&envelope("ERP-K4")).await.unwrap();
    assert_eq!(signer.calls.load(Ordering::SeqCst), 2, "signed again over fresh content");
    let reqs = h.control.requests().await.unwrap();
    assert_eq!(count(&reqs, "POST", "content-to-sign/generate"), 2);
    let saves: Vec<_> =
        reqs.iter().filter(|r| r.path.contains("quick-sign/save")).map(|r| r.status).collect();
    assert_eq!(saves, [Some(400), Some(200)]);
    assert_eq!(h.client.status(&handle).await.unwrap().state, State::Sent);
}

/// The rules every provider shares, and the record's limits, are the behaviour suite's; iDocs
/// routes to counterparties by BIN/IIN.
#[tokio::test]
async fn a_counterparty_without_a_bin_fails_before_any_request() {
    let h = start().await;
    let mut no_bin = envelope("ERP-K7");
    no_bin.parties[0].tax_id = None;
    let err = h.client.send(&no_bin).await.unwrap_err();
    assert_eq!((err.kind(), err.field()), (ErrorKind::Validation, Some("parties[0].tax_id")));
    assert!(h.requests().await.is_empty(), "the sandbox saw no request");
}

/// A rejection in general is the behaviour suite's; iDocs also marks the counterparty.
#[tokio::test]
async fn the_rejecting_counterparty_is_marked() {
    let h = start().await;
    let handle = h.client.send(&envelope("ERP-K9")).await.unwrap();
    h.control.idocs_counterparty_reject(&handle.id, "Неверная сумма").await.unwrap();
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.parties[0].state), (State::Rejected, PartyState::Rejected));
}

struct FailingSigner;

impl HostSigner for FailingSigner {
    fn sign(&self, _: &SignRequest) -> Result<Vec<u8>, String> {
        Err("PIN заблокирован".into())
    }
}

#[tokio::test]
async fn a_failing_signer_reports_its_error_and_where_the_document_stopped() {
    let h = start().await;
    h.client.set_host_signer(Some(Arc::new(FailingSigner)));
    let err = h.client.send(&envelope("ERP-K10")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Signing);
    assert_eq!(err.code(), 700);
    assert_eq!(err.provider_message(), Some("PIN заблокирован"));
    let handle = err.handle().expect("the draft's handle").clone();
    let s = h.client.status(&handle).await.unwrap();
    assert_eq!(
        (s.state, s.provider_status.as_str()),
        (State::Draft, "DRAFT"),
        "stopped before signing"
    );
    assert_eq!(count(&h.requests().await, "POST", "quick-sign/save"), 0);
}

#[tokio::test]
async fn inbox_and_bulk_calls() {
    let h = start().await;
    let page = h.client.call("inbox", serde_json::Value::Null).await.unwrap();
    assert!(page["pageItems"].is_array(), "{page}");
    let item = serde_json::json!({"documentMetadata": {"documentName": "Акт", "documentNumber": "A-1",
        "documentDate": 1718780400, "documentGroup": "Accounting",
        "documentAuthorEmployeeId": idocs::SENDER_EMPLOYEE_ID}, "documentBinaryContents": []});
    let done = h
        .client
        .call("bulk", serde_json::json!({"operation": "bulk/external/outbox/document/create", "items": [item], "wait_secs": 20}))
        .await
        .unwrap();
    let ops = done.as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert!(ops[0]["operationStatus"].as_str().unwrap().starts_with("Completed"), "{done}");
    let err = h
        .client
        .call("bulk", serde_json::json!({"operation": "../x", "items": []}))
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("args.operation"));
}

/// A handle's id goes into URL paths: one that is not a GUID is refused, naming the field,
/// before any request.
#[tokio::test]
async fn a_handle_id_that_is_no_guid_is_refused_before_any_request() {
    let env = start().await;
    env.control.clear_requests().await.unwrap();
    for id in ["../../admin", "7a3b6a9b-7173-47d1-91c9-cbf14b544dd6/../x", ""] {
        let handle = signbridge::Handle {
            provider: "idocs".into(),
            account: "test".into(),
            id: id.into(),
            reference: None,
        };
        let err = env.client.status(&handle).await.unwrap_err();
        assert_eq!((err.kind(), err.context("field")), (ErrorKind::Validation, Some("handle.id")));
        let err = env.client.download_bytes(&handle, signbridge::DownloadKind::Signed).await;
        assert_eq!(err.unwrap_err().context("field"), Some("handle.id"), "{id:?}");
    }
    let requests = env.requests().await;
    assert!(requests.is_empty(), "no request: {:?}", requests.len());
}

#[tokio::test]
async fn webhook_subscribe_upserts_the_subscription_on_the_webhooks_host() {
    let with_hooks = |base: &str| {
        let mut s = settings(base);
        s["webhooks_base_url"] = format!("{base}/idocs-webhooks/api/1/").into();
        s
    };
    let h = Env::start("idocs", with_hooks, serde_json::json!({}), fast_transport()).await;
    let url = "http://127.0.0.1:9/webhooks/idocs/test";
    for _ in 0..2 {
        let answer =
            h.client.call("webhook_subscribe", serde_json::json!({"url": url})).await.unwrap();
        assert_eq!(answer, serde_json::json!({"id": null, "url": url, "secret": null}));
    }
    let reqs = h.requests().await;
    let path =
        "/idocs-webhooks/api/1/webhooks/document-events/subscription/document-status-changed-event";
    let posts: Vec<_> = reqs.iter().filter(|r| r.method == "POST" && r.path == path).collect();
    assert_eq!(posts.len(), 2, "{reqs:?}");
    assert_eq!(posts[1].body, serde_json::json!({"subscriptionUrl": url}));
    for (args, field) in [
        (serde_json::json!({"url": "not a url"}), "args.url"),
        (serde_json::json!({"url": url, "secret": "x"}), "args"),
        (serde_json::json!({}), "args"),
    ] {
        let err = h.client.call("webhook_subscribe", args.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{args}: {err}");
        assert_eq!(err.field(), Some(field), "{args}: {err}");
    }
    assert_eq!(count(&h.requests().await, "POST", "/subscription/"), 2);
}
