//! iDocs in the behaviour suite: a long-lived company token, the host signing with the
//! reference software signer, one counterparty company by BIN, and a send whose plain writes
//! are the draft's creation and its route (blob uploads, content to sign and the ticketed save
//! are safe to repeat).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use signbridge::{Document, Envelope, Handle, HostSigner, Party, SoftwareSigner};
use signbridge_sandbox::{Control, control, fixtures, idocs};

use crate::{Harness, SendWrite};

pub struct IDocs;

/// The sandbox's control routes act as the one counterparty company the envelope names.
fn assert_counterparty(env: &Envelope, party: usize) {
    assert_eq!(
        env.parties[party].tax_id.as_deref(),
        Some(idocs::COUNTERPARTY_BIN),
        "only the seeded counterparty can act through the iDocs sandbox"
    );
}

#[async_trait]
impl Harness for IDocs {
    fn id(&self) -> &'static str {
        "idocs"
    }

    fn settings(&self, base: &str) -> Value {
        json!({
            "base_url": format!("{base}/idocs"),
            "token": idocs::DEFAULT_TOKEN,
            "employee_id": idocs::SENDER_EMPLOYEE_ID,
            "webhooks_base_url": format!("{base}/idocs-webhooks/api/1"),
        })
    }

    fn bad_credentials(&self) -> Value {
        json!({"token": "not-the-token"})
    }

    fn signer(&self) -> Option<Arc<dyn HostSigner>> {
        let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель");
        Some(Arc::new(SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()))
    }

    fn envelope(&self, reference: &str) -> Envelope {
        let counterparty = Party {
            tax_id: Some(idocs::COUNTERPARTY_BIN.into()),
            ..Party::signer("ТОО Контрагент", "buh@kontragent.kz")
        };
        let pdf = Document::from_bytes("dogovor.pdf", fixtures::sample_pdf("Dogovor", 1));
        Envelope::new(reference, "Договор поставки № 17", vec![pdf], vec![counterparty])
    }

    async fn sign(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
    ) -> Result<(), control::Error> {
        assert_counterparty(env, party);
        control.idocs_counterparty_sign(&handle.id).await.map(drop)
    }

    async fn reject(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
        reason: &str,
    ) -> Result<(), control::Error> {
        assert_counterparty(env, party);
        control.idocs_counterparty_reject(&handle.id, reason).await.map(drop)
    }

    async fn expire(&self, _control: &Control, _handle: &Handle) -> Result<(), &'static str> {
        Err("iDocs documents have no deadline")
    }

    async fn stored(&self, control: &Control) -> usize {
        control.idocs_documents().await.unwrap().len()
    }

    fn status_route(&self) -> &'static str {
        "/idocs/api/v3/sync/external/documents-query/single/outbox/*"
    }

    fn send_writes(&self) -> &'static [SendWrite] {
        &[
            SendWrite {
                route: "/idocs/api/v3/sync/external/outbox/document/create",
                handle_known: false,
            },
            SendWrite {
                route: "/idocs/api/v3/sync/external/outbox/route/quick-route/create",
                handle_known: true,
            },
        ]
    }

    fn keyed_writes(&self) -> &'static [&'static str] {
        &[
            "/idocs/api/v3/sync/blobs/document-content",
            "/idocs/api/v3/sync/blobs/document-signature-content",
            "/idocs/api/v3/sync/external/outbox/signature/quick-sign/save",
        ]
    }

    async fn refuse_sessions(&self, _control: &Control) -> Result<&'static str, &'static str> {
        Err("the company token is long-lived and goes on every request: no login to renew it")
    }

    async fn call_args(&self, _control: &Control, name: &str, _handle: &Handle) -> Option<Value> {
        Some(match name {
            "inbox" => Value::Null,
            "webhook_subscribe" => json!({"url": "http://127.0.0.1:9/webhooks/idocs/test"}),
            "bulk" => json!({
                "operation": "bulk/external/outbox/document/create",
                "items": [{
                    "documentMetadata": {"documentName": "Акт", "documentNumber": "A-1",
                        "documentDate": 1718780400, "documentGroup": "Accounting",
                        "documentAuthorEmployeeId": idocs::SENDER_EMPLOYEE_ID},
                    "documentBinaryContents": [],
                }],
                "wait_secs": 20,
            }),
            _ => return None,
        })
    }

    fn webhook(&self, handle: &Handle) -> (Value, signbridge::webhooks::Headers, Vec<u8>) {
        // The contract's candidate names (§5: the payload's shape is unknown).
        let body = json!({"documentId": handle.id, "documentStatus": "FINISHED",
            "eventDate": "2025-06-01T10:00:00Z"});
        (json!({}), signbridge::webhooks::Headers::default(), body.to_string().into_bytes())
    }
}
