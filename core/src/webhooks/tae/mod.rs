//! TAE (TOTVS Assinatura Eletrônica) webhooks, configured by the company administrator
//! (`tae.md` §7). "No source shows the payload shape, signature or retry policy": this
//! source is lenient, as §7 allows — any key casing, every field optional, nothing refused
//! for its shape (an unreadable body is kept and flagged).
//!
//! Settings (`settings` of a `tae` route):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `secrets` | shared secrets to require in `x-webhook-secret` or `Authorization`; empty: none required | `[]` |
//! | `body_limit` | the largest body accepted, bytes | 262 144 |

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
    secrets: Vec<Secret>,
    #[serde(default = "default_body_limit")]
    body_limit: usize,
}

fn default_body_limit() -> usize {
    256 * 1024
}

#[derive(Debug)]
pub struct Tae {
    base: SourceBase,
    settings: Settings,
}

impl Tae {
    pub fn new(account: &str, settings: serde_json::Value) -> Result<Tae> {
        let settings: Settings = super::settings("tae", settings)?;
        let base =
            SourceBase { id: "tae", account: account.to_owned(), body_limit: settings.body_limit };
        Ok(Tae { base, settings })
    }
}

impl Source for Tae {
    fn base(&self) -> &SourceBase {
        &self.base
    }

    fn authenticate(&self, headers: &Headers, _body: &[u8]) -> Result<(), Denied> {
        super::shared_secret(
            headers,
            &["x-webhook-secret", "authorization"],
            &self.settings.secrets,
        )
    }

    fn parse(
        &self,
        headers: &Headers,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Result<Delivery, Malformed> {
        Ok(super::read_json(&self.base, headers, body, received, map::lower_keys, map::delivery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;

    #[test]
    fn any_casing_and_an_optional_secret() {
        let s = Tae::new("rm", serde_json::json!({"secrets": ["s3"]})).unwrap();
        let h = |k: &str, v: &str| Headers::new([(k.to_owned(), v.to_owned())]);
        assert!(s.authenticate(&h("X-Webhook-Secret", "s3"), b"").is_ok());
        assert!(s.authenticate(&h("authorization", "Bearer s3"), b"").is_ok());
        assert!(s.authenticate(&h("x-webhook-secret", "s4"), b"").is_err());
        let body = br#"{"IdDocumento": 123, "idPublicacao": "p", "STATUS": 2, "assinante": "a@x"}"#;
        let d = s.parse(&Headers::default(), body, Utc::now()).unwrap();
        assert_eq!(d.key, "123:p:2:a@x");
        assert_eq!(d.flags, ["no_content_type"]);
        assert_eq!(
            (d.events[0].kind, d.events[0].handle.id.as_str()),
            (EventKind::StateChanged, "123")
        );
        let odd = s.parse(&Headers::default(), b"[]", Utc::now()).unwrap();
        assert_eq!(odd.flags, ["no_content_type", "not_an_object"]);
    }
}
