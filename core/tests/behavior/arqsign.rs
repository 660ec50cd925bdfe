//! ArqSign in the behaviour suite: an AppKey and a SubscriptionKey on every request (no login),
//! two signers by e-mail, and a send that is one plain write.

use async_trait::async_trait;
use serde_json::{Value, json};
use signbridge::{Document, Envelope, Handle, Message, Party};
use signbridge_sandbox::{Control, arqsign, control, fixtures};

use crate::{Harness, SendWrite};

pub struct ArqSign;

fn email(env: &Envelope, party: usize) -> &str {
    env.parties[party].email.as_deref().expect("the suite's ArqSign parties have e-mails")
}

#[async_trait]
impl Harness for ArqSign {
    fn id(&self) -> &'static str {
        "arqsign"
    }

    fn settings(&self, base: &str) -> Value {
        json!({
            "base_url": format!("{base}/arqsign"),
            "app_key": arqsign::DEFAULT_APP_KEY,
            "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
            "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID,
            "folder_id": arqsign::DEFAULT_FOLDER_ID,
            // Every scenario reads the status afresh.
            "min_poll_interval_secs": 0,
        })
    }

    fn unbudgeted(&self) -> Value {
        json!({"plan": "none"})
    }

    fn bad_credentials(&self) -> Value {
        json!({"app_key": "not-the-app-key"})
    }

    fn envelope(&self, reference: &str) -> Envelope {
        let pdf = Document::from_bytes("contrato.pdf", fixtures::sample_pdf("Contrato", 2));
        Envelope {
            message: Some(Message {
                subject: Some("Assine, por favor".into()),
                body: Some("Segue o contrato.".into()),
            }),
            ..Envelope::new(
                reference,
                "Contrato de locação",
                vec![pdf],
                vec![
                    Party::signer("Ana Araújo", "ana@cliente.example"),
                    Party::signer("Bruno Lima", "bruno@empresa.example"),
                ],
            )
        }
    }

    async fn sign(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
    ) -> Result<(), control::Error> {
        control.arqsign_sign(&handle.id, email(env, party)).await.map(drop)
    }

    async fn reject(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
        reason: &str,
    ) -> Result<(), control::Error> {
        control.arqsign_refuse(&handle.id, email(env, party), reason).await.map(drop)
    }

    async fn expire(&self, control: &Control, handle: &Handle) -> Result<(), &'static str> {
        control.arqsign_expire(&handle.id).await.unwrap();
        Ok(())
    }

    async fn stored(&self, control: &Control) -> usize {
        control.arqsign_processes().await.unwrap().len()
    }

    fn unlisted_parties(&self) -> Option<&'static str> {
        Some("the light status poll carries no signers; they are read only for a refusal")
    }

    fn status_route(&self) -> &'static str {
        "/arqsign/api/v1/processo/*/status-do-processo"
    }

    fn send_writes(&self) -> &'static [SendWrite] {
        &[SendWrite {
            route: "/arqsign/api/v2/processo/enviar-documento-para-assinar",
            handle_known: false,
        }]
    }

    async fn refuse_sessions(&self, _control: &Control) -> Result<&'static str, &'static str> {
        Err("the AppKey and SubscriptionKey go on every request: no session to renew")
    }

    async fn call_args(&self, _control: &Control, name: &str, handle: &Handle) -> Option<Value> {
        Some(match name {
            "resend" | "signer_data" => json!({"handle": handle}),
            "users" => json!({"active": true}),
            "folders" => json!({"search": "root"}),
            "webhook_subscribe" => {
                json!({"url": "http://127.0.0.1:9/webhooks/arqsign/test", "name": "ERP"})
            }
            _ => return None,
        })
    }

    fn webhook(&self, handle: &Handle) -> (Value, signbridge::webhooks::Headers, Vec<u8>) {
        use base64::Engine as _;
        use hmac::{KeyInit, Mac as _};
        // Trigger 8 as the one receiver found reads it (contract §6.3), signed with the key.
        let body = json!({"Evento": "ProcessoConcluido", "IdProcesso": handle.id,
            "IdConta": "c", "IdWebhook": "w", "DataHoraAtual": "05/06/2025 10:11:12"})
        .to_string()
        .into_bytes();
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"chave-hmac").unwrap();
        mac.update(&body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let headers = signbridge::webhooks::Headers::new([("HMAC".to_owned(), signature)]);
        (json!({"hmac_keys": ["chave-hmac"]}), headers, body)
    }
}
