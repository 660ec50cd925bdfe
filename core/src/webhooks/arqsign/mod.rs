//! ArqSign account webhooks (`arqsign.md` §6): configured per account (up to 25), each with
//! its own HMAC key (`chaveHMAC`, answered when the webhook is created).
//!
//! Settings (`settings` of an `arqsign` route):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `hmac_keys` | the webhooks' HMAC keys; a delivery signed with any of them is accepted (several webhooks, or rotation) | required |
//! | `body_limit` | the largest body accepted, bytes (documents may come as base64) | 33 554 432 |
//!
//! §6.3: "A 'Chave secreta HMAC' e o body da requisição devem ser usados para o cálculo do
//! SHA256 HMAC hash. Este hash será enviado no cabeçalho da requisição como 'HMAC'." The
//! header is read as base64 of the 32-byte digest (the one receiver found) or hex (the manual
//! does not say). A body that is not JSON is kept and flagged: the contract names no 400.
//! Note that ArqSign disables a webhook that answers 401, 403 or 404, so a wrong key here
//! stops all deliveries until it is re-activated.

mod map;
mod wire;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Delivery, Denied, Headers, Malformed, Source, SourceBase, secret};
use crate::error::{Error, Result};
use crate::transport::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    hmac_keys: Vec<Secret>,
    #[serde(default = "default_body_limit")]
    body_limit: usize,
}

fn default_body_limit() -> usize {
    32 * 1024 * 1024
}

#[derive(Debug)]
pub struct ArqSign {
    base: SourceBase,
    settings: Settings,
}

impl ArqSign {
    pub fn new(account: &str, settings: serde_json::Value) -> Result<ArqSign> {
        let settings: Settings = super::settings("arqsign", settings)?;
        if settings.hmac_keys.is_empty() {
            return Err(Error::validation("routes.arqsign.settings.hmac_keys", "lists no key"));
        }
        let base = SourceBase {
            id: "arqsign",
            account: account.to_owned(),
            body_limit: settings.body_limit,
        };
        Ok(ArqSign { base, settings })
    }
}

impl Source for ArqSign {
    fn base(&self) -> &SourceBase {
        &self.base
    }

    fn authenticate(&self, headers: &Headers, body: &[u8]) -> Result<(), Denied> {
        let Some(signature) = headers.get("hmac") else {
            return Err(Denied { reason: "no HMAC header", challenge: None });
        };
        if secret::hmac_any(signature, body, &self.settings.hmac_keys) {
            Ok(())
        } else {
            Err(Denied { reason: "the HMAC does not match the body", challenge: None })
        }
    }

    fn parse(
        &self,
        headers: &Headers,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Result<Delivery, Malformed> {
        Ok(super::read_json(
            &self.base,
            headers,
            body,
            received,
            crate::providers::lenient::camel_keys,
            map::delivery,
        ))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac as _};
    use sha2::Sha256;

    use super::*;
    use crate::model::EventKind;

    /// The receiver's PascalCase body for trigger 8 (§6.3).
    const CONCLUIDO: &str = r#"{"Evento":"ProcessoConcluido","IdProcesso":"8f0e","IdConta":"c1",
        "IdWebhook":"w1","NomeProcesso":"Contrato","Status":"Concluído",
        "DataHoraAtual":"05/06/2025 10:11:12",
        "Signatarios":[{"Id":"s2","Nome":"B"},{"Id":"s1","Nome":"A","AssinaturaRecusada":"Não"}]}"#;

    pub(crate) fn sign(key: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn source() -> ArqSign {
        ArqSign::new("main", serde_json::json!({"hmac_keys": ["old", "new"]})).unwrap()
    }

    fn headers(hmac: &str) -> Headers {
        Headers::new([
            ("HMAC".to_owned(), hmac.to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ])
    }

    #[test]
    fn the_hmac_of_the_raw_body_with_any_key() {
        let s = source();
        let body = CONCLUIDO.as_bytes();
        assert!(s.authenticate(&headers(&sign("new", body)), body).is_ok());
        assert!(s.authenticate(&headers(&sign("old", body)), body).is_ok());
        assert!(s.authenticate(&headers(&sign("other", body)), body).is_err());
        let tampered = CONCLUIDO.replace("8f0e", "8f0f");
        assert!(s.authenticate(&headers(&sign("new", body)), tampered.as_bytes()).is_err());
        assert_eq!(s.authenticate(&Headers::default(), body).unwrap_err().reason, "no HMAC header");
        let err = ArqSign::new("m", serde_json::json!({"hmac_keys": []})).unwrap_err();
        assert_eq!(err.field(), Some("routes.arqsign.settings.hmac_keys"));
    }

    #[test]
    fn a_conclusion_is_a_state_change_keyed_by_process_event_and_signers() {
        let d = source().parse(&headers(""), CONCLUIDO.as_bytes(), Utc::now()).unwrap();
        assert_eq!(d.key, "8f0e:ProcessoConcluido:s1,s2");
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        let e = &d.events[0];
        assert_eq!((e.kind, e.handle.id.as_str()), (EventKind::StateChanged, "8f0e"));
        assert_eq!(e.raw["state"], "completed");
        assert_eq!(e.at.to_rfc3339(), "2025-06-05T10:11:12+00:00");
        let camel = CONCLUIDO.replace("\"Evento\"", "\"evento\"").replace("10:11:12", "10:11:13");
        let again = source().parse(&headers(""), camel.as_bytes(), Utc::now()).unwrap();
        assert_eq!(again.key, d.key, "another casing and send time, the same event");
    }

    #[test]
    fn other_events_stay_open_and_odd_bodies_are_kept() {
        let body = r#"{"evento":"ProcessoAssinado","idProcesso":"p","signatarios":[{"id":"s"}]}"#;
        let d = source().parse(&headers(""), body.as_bytes(), Utc::now()).unwrap();
        assert_eq!((d.events[0].kind, d.key.as_str()), (EventKind::Other, "p:ProcessoAssinado:s"));
        let odd = source().parse(&Headers::default(), b"<xml/>", Utc::now()).unwrap();
        assert_eq!(odd.flags, ["no_content_type", "not_json"]);
        assert!(odd.key.starts_with("body:") && odd.body == "<xml/>");
        let partial = source().parse(&headers(""), br#"{"evento":"X"}"#, Utc::now()).unwrap();
        assert_eq!(partial.flags, ["missing:idProcesso_or_evento"]);
    }
}
