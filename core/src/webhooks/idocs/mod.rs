//! iDocs document-status-changed webhooks (`idocs.md` §5): "no signing or HMAC, no shared
//! secret and no IP list is documented".
//!
//! Settings (`settings` of an `idocs` route):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `tokens` | secrets to require in `Authorization` (whole or after `Bearer `), e.g. put there by a proxy in front; empty: none required, as documented | `[]` |
//! | `body_limit` | the largest body accepted, bytes | 65 536 |
//!
//! The payload's shape is unknown; the contract's candidate names are read, the body is kept
//! whole, and a body without a document id is kept and flagged (no 400 is documented).

mod map;
mod wire;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Delivery, Denied, Headers, Malformed, Source, SourceBase};
use crate::error::Result;
use crate::transport::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    tokens: Vec<Secret>,
    #[serde(default = "default_body_limit")]
    body_limit: usize,
}

fn default_body_limit() -> usize {
    64 * 1024
}

#[derive(Debug)]
pub struct IDocs {
    base: SourceBase,
    settings: Settings,
}

impl IDocs {
    pub fn new(account: &str, settings: serde_json::Value) -> Result<IDocs> {
        let settings: Settings = super::settings("idocs", settings)?;
        let base = SourceBase {
            id: "idocs",
            account: account.to_owned(),
            body_limit: settings.body_limit,
        };
        Ok(IDocs { base, settings })
    }
}

impl Source for IDocs {
    fn base(&self) -> &SourceBase {
        &self.base
    }

    fn authenticate(&self, headers: &Headers, _body: &[u8]) -> Result<(), Denied> {
        super::shared_secret(headers, &["authorization"], &self.settings.tokens)
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
    use super::*;
    use crate::model::{EventKind, State};

    fn json() -> Headers {
        Headers::new([("content-type".to_owned(), "application/json".to_owned())])
    }

    #[test]
    fn candidate_names_with_or_without_an_event_id() {
        let s = IDocs::new("kz", serde_json::Value::Null).unwrap();
        assert!(s.authenticate(&Headers::default(), b"").is_ok(), "none documented");
        let body = br#"{"documentId":"d-1","documentStatus":"FINISHED","createdOn":"2025-06-01T10:00:00Z"}"#;
        let d = s.parse(&json(), body, Utc::now()).unwrap();
        assert_eq!(d.key, "d-1:FINISHED:2025-06-01T10:00:00Z");
        let e = &d.events[0];
        assert_eq!((e.kind, e.handle.id.as_str()), (EventKind::StateChanged, "d-1"));
        assert_eq!(e.raw["state"], serde_json::to_value(State::Completed).unwrap());
        let with_id = br#"{"EventId":"e9","DocumentId":"d-1","DocumentStatus":"FINISHED"}"#;
        assert_eq!(s.parse(&json(), with_id, Utc::now()).unwrap().key, "event:e9");
        let odd = s.parse(&json(), br#"{"status":"x"}"#, Utc::now()).unwrap();
        assert_eq!(odd.flags, ["missing:documentId"]);
    }

    #[test]
    fn optional_tokens_when_configured() {
        let s = IDocs::new("kz", serde_json::json!({"tokens": ["t1"]})).unwrap();
        let auth = |v: &str| Headers::new([("Authorization".to_owned(), v.to_owned())]);
        assert!(s.authenticate(&auth("Bearer t1"), b"").is_ok());
        assert!(s.authenticate(&auth("t1"), b"").is_ok());
        assert_eq!(s.authenticate(&auth("t2"), b"").unwrap_err().reason, "bad secret");
        assert_eq!(
            s.authenticate(&Headers::default(), b"").unwrap_err().reason,
            "no secret presented"
        );
    }
}
