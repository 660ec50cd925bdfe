//! SBIS in the behaviour suite: login and password for a session shared through the journal,
//! the host signing each prepared file with the reference software signer, one counterparty
//! company by ИНН/КПП. Every call goes to one JSON-RPC path, so faults aimed at a write name
//! its method too.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use signbridge::{Document, Envelope, Handle, HostSigner, Party, SoftwareSigner};
use signbridge_sandbox::{Control, control, fixtures, sbis};

use crate::{Harness, SendWrite};

pub struct Sbis;

/// The sandbox's control routes act as the one counterparty the envelope names.
fn assert_counterparty(env: &Envelope, party: usize) {
    assert_eq!(
        env.parties[party].tax_id.as_deref(),
        Some(COUNTERPARTY),
        "only the seeded counterparty can act through the SBIS sandbox"
    );
}

const COUNTERPARTY: &str = "7601000985/760601001";

/// The document reaches the counterparty first; one already delivered stays so.
async fn deliver(control: &Control, id: &str) -> Result<(), control::Error> {
    match control.sbis_deliver(id).await {
        Err(e) if e.status() == Some(409) => Ok(()),
        other => other.map(drop),
    }
}

#[async_trait]
impl Harness for Sbis {
    fn id(&self) -> &'static str {
        "sbis"
    }

    fn signed_is_zip(&self) -> bool {
        true // GOST signatures are detached CMS: each file comes with its signatures
    }

    fn settings(&self, base: &str) -> Value {
        json!({
            "auth_url": format!("{base}/sbis/auth/service/"),
            "service_url": format!("{base}/sbis/service/?srv=1"),
            "login": sbis::LOGIN,
            "password": sbis::PASSWORD,
            "our_inn": sbis::OUR_INN,
            "our_kpp": sbis::OUR_KPP,
            // Cargo's own scratch directory for integration tests, inside target/.
            "archive_dir": concat!(env!("CARGO_TARGET_TMPDIR"), "/sbis-behaviour-archive"),
        })
    }

    fn bad_credentials(&self) -> Value {
        json!({"password": "not-the-password"})
    }

    fn signer(&self) -> Option<Arc<dyn HostSigner>> {
        let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ООО Наша");
        Some(Arc::new(SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()))
    }

    fn envelope(&self, reference: &str) -> Envelope {
        assert_eq!(COUNTERPARTY, format!("{}/{}", sbis::COUNTERPARTY_INN, sbis::COUNTERPARTY_KPP));
        let counterparty = Party {
            tax_id: Some(COUNTERPARTY.into()),
            ..Party::signer(sbis::COUNTERPARTY_NAME, "edo@premier.example")
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
        deliver(control, &handle.id).await?;
        control.sbis_counterparty_sign(&handle.id, None).await.map(drop)
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
        deliver(control, &handle.id).await?;
        control.sbis_counterparty_reject(&handle.id, reason).await.map(drop)
    }

    async fn expire(&self, _control: &Control, _handle: &Handle) -> Result<(), &'static str> {
        Err("SBIS documents have no deadline that expires them")
    }

    async fn stored(&self, control: &Control) -> usize {
        let documents = control.sbis_documents().await.unwrap();
        documents.iter().filter(|d| d["Направление"] == "Исходящий").count()
    }

    fn unlisted_parties(&self) -> Option<&'static str> {
        None
    }

    fn status_route(&self) -> &'static str {
        "/sbis/service/"
    }

    fn send_writes(&self) -> &'static [SendWrite] {
        &[SendWrite {
            route: "/sbis/service/#СБИС.ВыполнитьДействие", handle_known: true
        }]
    }

    fn keyed_writes(&self) -> &'static [&'static str] {
        &["/sbis/service/#СБИС.ЗаписатьДокумент", "/sbis/service/#СБИС.ЗаписатьВложение"]
    }

    async fn refuse_sessions(&self, control: &Control) -> Result<&'static str, &'static str> {
        control.sbis_expire_sessions(None).await.unwrap();
        Ok("/sbis/auth/service/")
    }

    async fn call_args(&self, control: &Control, name: &str, handle: &Handle) -> Option<Value> {
        Some(match name {
            "incoming" | "service_documents" | "logout" => json!({}),
            "read" | "archive" => json!({"id": handle.id}),
            // Approval and rejection act on a document the counterparty sent us.
            "approve" | "reject" => {
                let arrived = control.sbis_incoming(json!({})).await.unwrap();
                let id = arrived["Идентификатор"].as_str().unwrap();
                match name {
                    "approve" => json!({"id": id}),
                    _ => json!({"id": id, "reason": "Неверная цена в строке 2"}),
                }
            }
            _ => return None,
        })
    }

    fn webhook(&self, _handle: &Handle) -> (Value, signbridge::webhooks::Headers, Vec<u8>) {
        unreachable!("SBIS pushes nothing: its record declares no webhook source")
    }
}
