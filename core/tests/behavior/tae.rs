//! TAE in the behaviour suite: a service user that logs in for a 12-hour bearer token, two
//! signers identified by CPF, and a send made of two plain writes (upload, then publish).

use async_trait::async_trait;
use serde_json::{Value, json};
use signbridge::{Document, Envelope, Handle, Message, Party};
use signbridge_sandbox::{Control, control, fixtures, tae};

use crate::{Harness, SendWrite};

pub struct Tae;

fn doc_id(handle: &Handle) -> i64 {
    handle.id.parse().unwrap_or_else(|_| panic!("TAE ids are numbers: {handle:?}"))
}

fn email(env: &Envelope, party: usize) -> &str {
    env.parties[party].email.as_deref().expect("TAE parties have e-mails")
}

#[async_trait]
impl Harness for Tae {
    fn id(&self) -> &'static str {
        "tae"
    }

    fn settings(&self, base: &str) -> Value {
        json!({
            "auth_base": format!("{base}/tae/identityintegration"),
            "api_base": format!("{base}/tae"),
            "username": tae::DEFAULT_USER,
            "password": tae::DEFAULT_PASSWORD,
        })
    }

    fn bad_credentials(&self) -> Value {
        json!({"password": "not-the-password"})
    }

    fn envelope(&self, reference: &str) -> Envelope {
        let party = |name: &str, email: &str| Party {
            tax_id: Some("111.444.777-35".into()),
            ..Party::signer(name, email)
        };
        let pdf = Document::from_bytes("contrato.pdf", fixtures::sample_pdf("Contrato", 2));
        Envelope {
            message: Some(Message {
                subject: Some("Assinatura do contrato nº 123".into()),
                body: Some("Prezado(a), segue o documento para assinatura eletrônica.".into()),
            }),
            ..Envelope::new(
                reference,
                "Contrato de prestação de serviços",
                vec![pdf],
                vec![
                    party("Maria da Conceição", "maria@cliente.example"),
                    party("João Araújo", "joao@empresa.example"),
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
        control.tae_sign(doc_id(handle), email(env, party)).await.map(drop)
    }

    async fn reject(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
        reason: &str,
    ) -> Result<(), control::Error> {
        control.tae_reject(doc_id(handle), email(env, party), reason).await.map(drop)
    }

    async fn expire(&self, control: &Control, handle: &Handle) -> Result<(), &'static str> {
        control.tae_expire(doc_id(handle)).await.unwrap();
        Ok(())
    }

    async fn stored(&self, control: &Control) -> usize {
        control.tae_documents().await.unwrap().len()
    }

    fn status_route(&self) -> &'static str {
        "/tae/documents/v2/publicacoes/*"
    }

    fn send_writes(&self) -> &'static [SendWrite] {
        &[
            SendWrite { route: "/tae/documents/v1/envelopes/upload", handle_known: false },
            SendWrite { route: "/tae/signintegration/v2/Publicacoes", handle_known: true },
        ]
    }

    async fn refuse_sessions(&self, control: &Control) -> Result<&'static str, &'static str> {
        control.tae_expire_tokens().await.unwrap();
        Ok("/tae/identityintegration/*/auth/login")
    }

    async fn call_args(&self, _control: &Control, _name: &str, _handle: &Handle) -> Option<Value> {
        None
    }

    fn webhook(&self, handle: &Handle) -> (Value, signbridge::webhooks::Headers, Vec<u8>) {
        // The names the one receiver found reads (§7), in its casing.
        let body = json!({"IdDocumento": handle.id, "status": 2});
        (json!({}), signbridge::webhooks::Headers::default(), body.to_string().into_bytes())
    }
}
