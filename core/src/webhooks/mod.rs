//! Webhook intake: what providers (and SINtegre, which has no API at all) push to us.
//!
//! A [`Source`] only receives; it is not a [`crate::Provider`]. Each delivery goes through
//! the same three steps: **authenticate** (the source's secret, compared in constant time;
//! failure: 401, nothing stored), **parse** (the body into a [`Delivery`]: its deduplication
//! key, the events it means, oddities as flags, the body with secrets removed; 400 only where
//! the source's contract says a body is unusable), then the [`Receiver`] commits it to the
//! journal's inbox and answers 2xx only after that commit.
//!
//! One folder per source, each `mod.rs` (settings, `impl Source`), `wire.rs` (the body as the
//! sender spells it) and `map.rs` (wire → key and events):
//!
//! | source | auth | dedupe key | contract |
//! |---|---|---|---|
//! | `sintegre` | none, Basic or a raw token (several at once, for rotation) | K1, else K3 | `sintegre.md` §2, §3.5, §7 |
//! | `idocs` | none documented; optional bearer tokens | the event id, else document + status + time | `idocs.md` §5 |
//! | `arqsign` | `HMAC` header: HMAC-SHA256 of the body with the webhook's key | process + event + signers | `arqsign.md` §6.3 |
//! | `tae` | none documented; optional `x-webhook-secret` | the event id, else document + publication + status + signer | `tae.md` §7 |

pub mod arqsign;
pub mod idocs;
mod listener;
mod poller;
mod receiver;

mod secret;
pub mod sintegre;
pub mod tae;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::model::{Event, EventKind, Handle};
use crate::transport::Secret;

pub use listener::{Listener, ListenerConfig, TlsFiles};
pub use poller::PolledAccount;
pub use receiver::{Receiver, ReceiverConfig, Reply, RouteConfig};

/// The sources signbridge knows, by id (the `source` of a route).
pub const SOURCES: &[&str] = &["sintegre", "idocs", "arqsign", "tae"];

/// What every configured source has, kept once.
#[derive(Debug)]
pub struct SourceBase {
    /// The source id (`sintegre`): the route's first part and the events' handle provider.
    pub id: &'static str,
    /// The account (route) the source receives for.
    pub account: String,
    /// The largest body accepted; a larger one is refused with 413 before anything else.
    pub body_limit: usize,
}

/// One webhook source configured for one account: checks and reads what its sender posts.
pub trait Source: Send + Sync + fmt::Debug {
    fn base(&self) -> &SourceBase;

    fn id(&self) -> &'static str {
        self.base().id
    }

    fn account(&self) -> &str {
        &self.base().account
    }

    fn body_limit(&self) -> usize {
        self.base().body_limit
    }

    /// Checks the delivery's credential (a header, or a signature over `body`).
    fn authenticate(&self, headers: &Headers, body: &[u8]) -> Result<(), Denied>;

    /// Reads an authenticated delivery received at `received`.
    fn parse(
        &self,
        headers: &Headers,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Result<Delivery, Malformed>;

    /// A delivery's link as the journal is to keep it: sealed, for sources whose deliveries
    /// carry links (a bearer secret until it expires). None: it cannot be sealed now; the
    /// delivery is then not stored and the sender is answered 503, to send it again.
    fn seal_link(&self, _url: &crate::transport::Secret) -> Option<String> {
        None
    }
}

/// Builds the source `id` for `account` from its settings (`settings` of the route).
pub fn build(id: &str, account: &str, settings: serde_json::Value) -> Result<Arc<dyn Source>> {
    Ok(match id {
        "sintegre" => Arc::new(sintegre::Sintegre::new(account, settings)?),
        "idocs" => Arc::new(idocs::IDocs::new(account, settings)?),
        "arqsign" => Arc::new(arqsign::ArqSign::new(account, settings)?),
        "tae" => Arc::new(tae::Tae::new(account, settings)?),
        other => {
            return Err(Error::validation(
                "source",
                format!("unknown webhook source {other:?} (known: {})", SOURCES.join(", ")),
            ));
        }
    })
}

/// A source's settings, read with the field named on failure.
pub(crate) fn settings<T: DeserializeOwned>(id: &str, value: serde_json::Value) -> Result<T> {
    let value = if value.is_null() { serde_json::json!({}) } else { value };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = format!("routes.{id}.settings.{}", e.path());
        Error::validation(field, e.inner())
    })
}

/// Request headers, looked up by name in any case (HTTP names are case-insensitive).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Headers {
        Headers(pairs.into_iter().collect())
    }

    /// From JSON: an object `{"Name": "value"}` or an array of `[name, value]` pairs (which can
    /// repeat a name).
    pub fn from_json(value: &serde_json::Value) -> Result<Headers> {
        let pair = |name: &str, value: &serde_json::Value| match value.as_str() {
            Some(v) => Ok((name.to_owned(), v.to_owned())),
            None => Err(Error::validation(format!("headers.{name}"), "must be a string")),
        };
        match value {
            serde_json::Value::Null => Ok(Headers::default()),
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| pair(k, v)).collect::<Result<_>>().map(Headers)
            }
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| match item.as_array().map(Vec::as_slice) {
                    Some([serde_json::Value::String(k), v]) => pair(k, v),
                    _ => Err(Error::validation("headers", "each item must be [name, value]")),
                })
                .collect::<Result<_>>()
                .map(Headers),
            _ => Err(Error::validation("headers", "must be an object or an array of pairs")),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The headers as kept in the inbox: credentials and signatures left out.
    pub(crate) fn redacted(&self) -> serde_json::Value {
        const SECRET: &[&str] = &["authorization", "hmac", "x-webhook-secret", "cookie"];
        let kept = self
            .0
            .iter()
            .filter(|(k, _)| !SECRET.iter().any(|s| k.eq_ignore_ascii_case(s)))
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect();
        serde_json::Value::Array(kept)
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(k, _)| k)).finish()
    }
}

/// Why a delivery was not authenticated (for the log; the sender only gets 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: &'static str,
    /// `WWW-Authenticate` to answer with, if the source uses a challenge scheme.
    pub challenge: Option<&'static str>,
}

/// A body the source's contract says to refuse (400); the message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// One authenticated delivery, read.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Deduplication key, unique per source and account: the same notification sent again
    /// (a resend, a retry after a lost reply) has the same key.
    pub key: String,
    /// What the host learns from it; ids are stable (derived from the key).
    pub events: Vec<Event>,
    /// Oddities kept instead of refused (`date_with_offset`, `not_json`, …).
    pub flags: Vec<String>,
    /// The body as received, with secrets (the SINtegre link's token) replaced.
    pub body: String,
    /// A link the delivery asks to fetch later (a secret until it expires).
    pub link: Option<Link>,
}

/// A download link carried by a delivery: a bearer secret until `expires_at`.
#[derive(Debug, Clone)]
pub struct Link {
    pub url: Secret,
    pub expires_at: Option<DateTime<Utc>>,
    /// What the linked file is a version of: a file with the content of an earlier version
    /// of the same group is not told again (SINtegre: `nome` and period, §7 "K2").
    pub group: Option<String>,
}

/// Hex SHA-256 over `parts`, each length-prefixed so that no two lists share a digest.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex(&hash.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The body as text for the inbox: UTF-8 as is, anything else as lossy text, flagged.
pub(crate) fn body_text(body: &[u8], flags: &mut Vec<String>) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            flags.push("not_utf8".into());
            String::from_utf8_lossy(body).into_owned()
        }
    }
}

/// The body as a JSON object with keys in camelCase, or why not (as a flag name).
pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, &'static str> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => match crate::providers::lenient::camel_keys(v) {
            serde_json::Value::Object(map) => Ok(map),
            _ => Err("not_an_object"),
        },
        Err(_) => Err("not_json"),
    }
}

/// A source's mapping of its wire body: account, wire body, raw body, flags, time received.
pub(crate) type MapWire<T> = fn(&str, T, &[u8], Vec<String>, DateTime<Utc>) -> Delivery;

/// How a source reads a JSON body that its contract never answers with 400: as the wire type
/// `T` after `keys` normalizes the names (camel case; TAE's loose senders, lower case), mapped
/// by `map`; a body that does not read is
/// kept as an unreadable delivery flagged with why.
pub(crate) fn read_json<T: DeserializeOwned>(
    base: &SourceBase,
    headers: &Headers,
    body: &[u8],
    received: DateTime<Utc>,
    keys: fn(serde_json::Value) -> serde_json::Value,
    map: MapWire<T>,
) -> Delivery {
    let mut flags = Vec::new();
    check_content_type(headers, &mut flags);
    let parsed = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => match keys(value) {
            object @ serde_json::Value::Object(_) => {
                serde_json::from_value(object).map_err(|_| "unexpected_shape")
            }
            _ => Err("not_an_object"),
        },
        Err(_) => Err("not_json"),
    };
    match parsed {
        Ok(wire) => map(&base.account, wire, body, flags, received),
        Err(why) => {
            flags.push(why.into());
            unreadable(base.id, &base.account, body, flags, received)
        }
    }
}

/// Flags a `Content-Type` that is not JSON (kept: senders are not always careful).
pub(crate) fn check_content_type(headers: &Headers, flags: &mut Vec<String>) {
    match headers.get("content-type") {
        None => flags.push("no_content_type".into()),
        Some(t) if !t.to_ascii_lowercase().contains("json") => {
            flags.push("content_type_not_json".into())
        }
        Some(_) => {}
    }
}

/// One event of a delivery: its id is the source, account and dedupe key (and a suffix when a
/// delivery means several), so a resend yields the same id.
pub(crate) fn event(
    source: &'static str,
    account: &str,
    id: &str,
    key: &str,
    kind: EventKind,
    at: DateTime<Utc>,
    raw: serde_json::Value,
) -> Event {
    Event {
        id: format!("{source}:{account}:{key}"),
        handle: Handle {
            provider: source.into(),
            account: account.into(),
            id: id.into(),
            reference: None,
        },
        kind,
        at,
        raw,
    }
}

/// A delivery whose body cannot be read where the contract does not say to refuse it: kept,
/// flagged, keyed by its bytes, and told to the host as an `other` event.
pub(crate) fn unreadable(
    source: &'static str,
    account: &str,
    body: &[u8],
    mut flags: Vec<String>,
    received: DateTime<Utc>,
) -> Delivery {
    let key = format!("body:{}", hex(&Sha256::digest(body)));
    let text = body_text(body, &mut flags);
    let raw = serde_json::json!({"unreadable": true, "flags": flags});
    let events = vec![event(source, account, &key, &key, EventKind::Other, received, raw)];
    Delivery { key, events, flags, body: text, link: None }
}

/// Checks an optional shared secret: with none configured every delivery passes (the
/// contract documents none); otherwise one of `names` must carry one of `secrets`, whole or
/// after `Bearer `.
pub(crate) fn shared_secret(
    headers: &Headers,
    names: &[&str],
    secrets: &[Secret],
) -> Result<(), Denied> {
    if secrets.is_empty() {
        return Ok(());
    }
    let mut presented = false;
    let mut ok = false;
    for name in names {
        if let Some(value) = headers.get(name) {
            presented = true;
            let value = value.trim();
            let bare = value
                .get(..7)
                .filter(|s| s.eq_ignore_ascii_case("bearer "))
                .map_or(value, |_| &value[7..]);
            ok |= secret::any(bare.as_bytes(), secrets);
        }
    }
    match (ok, presented) {
        (true, _) => Ok(()),
        (false, true) => Err(Denied { reason: "bad secret", challenge: None }),
        (false, false) => Err(Denied { reason: "no secret presented", challenge: None }),
    }
}

/// A string member; a number or boolean is taken as its text, anything else as absent.
pub(crate) fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match <serde_json::Value as serde::Deserialize>::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_do_not_collide_on_shifted_parts() {
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_eq!(digest(&["x"]).len(), 64);
    }

    #[test]
    fn headers_from_json() {
        let h = Headers::from_json(&serde_json::json!({"Authorization": "Basic x",
            "Content-Type": "application/json", "HMAC": "s"}))
        .unwrap();
        assert_eq!(h.get("authorization"), Some("Basic x"));
        let pairs = Headers::from_json(&serde_json::json!([["a", "1"], ["A", "2"]])).unwrap();
        assert_eq!(pairs.get("a"), Some("1"));
        let err = Headers::from_json(&serde_json::json!({"a": 1})).unwrap_err();
        assert_eq!(err.field(), Some("headers.a"));
        assert!(!format!("{h:?}").contains("Basic x"), "Debug shows names only");
    }

    #[test]
    fn unknown_sources_are_named() {
        let err = build("sbis", "a", serde_json::Value::Null).unwrap_err();
        assert!(err.to_string().contains("unknown webhook source \"sbis\""), "{err}");
    }
}
