//! SINtegre (ONS): the portal POSTs one notification each time a subscribed product is
//! published (`sintegre.md`). It has no API: this source is all there is of it.
//!
//! Settings (`settings` of a `sintegre` route):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `auth` | the credentials accepted, any of them (several at once for rotation, §3.4 "Editar"): `"none"`, `{"basic": {"user", "password"}}`, `{"token": {"value", "accept_bearer"}}` | required |
//! | `body_limit` | the largest body accepted, bytes | 65 536 (§7: "64 KiB is plenty for seven strings") |
//! | `link_secret` | what the links kept in the journal are sealed with (see below); required when `auth` is only `"none"` | the `auth` credentials |
//! | `downloads` | where and from where the linked files are fetched: see [`DownloadSettings`] (without it, files are not fetched) | none |
//!
//! Basic is split at the first colon and both parts are compared exactly (§2); a token is the
//! whole `Authorization` value, or after `Bearer ` when `accept_bearer` is set (§6 test 3).
//! Refused (400) only as §3.6 says: a body that is not JSON, not an object, or without an
//! https `url`; anything else is kept and flagged. Member names are read in any first-letter
//! case with `uri` as an alias of `url` (§1.4). The `url`'s token is a bearer secret for a day
//! (§1.7): it is replaced by `REDACTED` in the kept body and never put in an event or a log;
//! the link itself is kept apart for the download, sealed: the journal holds it encrypted
//! (AES-256-GCM, as it holds session tokens) with a key derived from `link_secret`, or else from
//! the first `auth` credential; any listed credential opens it, so a link kept before a
//! rotation still opens while the old credential is listed. With `auth` only `"none"` there is
//! no credential to derive the key from, so `link_secret` is then required: the route is
//! refused without it (a key derived from nothing would only hide the token from plain view of
//! the file, and a random key kept beside the journal would be lost with a move of the
//! journal, leaving its links unopenable). The journal forgets the link once the file is
//! downloaded or the link expired.

mod download;
mod map;
mod wire;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use subtle::Choice;

use super::{Delivery, Denied, Headers, Malformed, Source, SourceBase, check_content_type, secret};
use crate::error::{Error, Result};
use crate::transport::{Secret, SessionKey};

pub use download::{DownloadSettings, Downloader};
pub use map::REDACTED;

/// One accepted credential.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// No `Authorization` needed (the integration has auth "none").
    None,
    Basic {
        user: Secret,
        password: Secret,
    },
    Token {
        value: Secret,
        #[serde(default)]
        accept_bearer: bool,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::None => "None",
            Credential::Basic { .. } => "Basic(***)",
            Credential::Token { .. } => "Token(***)",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    auth: Vec<Credential>,
    #[serde(default)]
    link_secret: Option<Secret>,
    #[serde(default = "default_body_limit")]
    body_limit: usize,
    #[serde(default)]
    downloads: Option<DownloadSettings>,
}

fn default_body_limit() -> usize {
    64 * 1024
}

#[derive(Debug)]
pub struct Sintegre {
    base: SourceBase,
    settings: Settings,
    seal: Arc<LinkSeal>,
}

/// The keys a route's links are sealed with in the journal: the first seals, any opens.
#[derive(Debug)]
pub struct LinkSeal {
    keys: Vec<SessionKey>,
}

impl LinkSeal {
    fn new(account: &str, settings: &Settings) -> Result<LinkSeal> {
        let derive = |secrets: &[&str]| SessionKey::derive("sintegre link", account, secrets);
        let mut keys: Vec<SessionKey> =
            settings.link_secret.iter().map(|s| derive(&[s.expose()])).collect();
        for credential in &settings.auth {
            match credential {
                Credential::None => {}
                Credential::Basic { user, password } => {
                    keys.push(derive(&[user.expose(), password.expose()]));
                }
                Credential::Token { value, .. } => keys.push(derive(&[value.expose()])),
            }
        }
        if keys.is_empty() {
            // A key derived from nothing secret would seal a day-long bearer token (§1.7)
            // with a key anyone can derive.
            return Err(Error::validation(
                "routes.sintegre.settings.link_secret",
                "required when auth is only \"none\": the download links kept in the journal \
                 are bearer secrets for a day, sealed with a key derived from it",
            ));
        }
        if settings.auth.iter().any(|c| matches!(c, Credential::None)) {
            // Opens only (the first key seals): links an older version sealed with no secret,
            // still pending when the operator adds `link_secret`, are fetched, not lost.
            keys.push(derive(&[]));
        }
        // Opens (never seals) a link an older version sealed with no secret, so that a
        // journal kept from then still has its pending links fetched.
        keys.push(derive(&[]));
        Ok(LinkSeal { keys })
    }

    fn seal(&self, link: &Secret) -> Option<String> {
        self.keys.first()?.seal(link)
    }

    /// The link inside what the journal kept; None when no listed key opens it (the
    /// credential it was sealed with was removed).
    pub(crate) fn open(&self, kept: &Secret) -> Option<Secret> {
        self.keys.iter().find_map(|key| key.open(kept.expose()))
    }
}

impl Sintegre {
    pub fn new(account: &str, settings: serde_json::Value) -> Result<Sintegre> {
        let settings: Settings = super::settings("sintegre", settings)?;
        if settings.auth.is_empty() {
            return Err(Error::validation(
                "routes.sintegre.settings.auth",
                "lists no credential (write [\"none\"] to accept unauthenticated posts)",
            ));
        }
        if let Some(downloads) = &settings.downloads {
            downloads.check()?;
        }
        let seal = Arc::new(LinkSeal::new(account, &settings)?);
        let base = SourceBase {
            id: "sintegre",
            account: account.to_owned(),
            body_limit: settings.body_limit,
        };
        Ok(Sintegre { base, settings, seal })
    }

    /// The route's `downloads` settings, if it fetches files.
    pub fn downloads(&self) -> Option<&DownloadSettings> {
        self.settings.downloads.as_ref()
    }

    /// What opens the route's links kept in the journal (for its download worker).
    pub fn link_seal(&self) -> Arc<LinkSeal> {
        self.seal.clone()
    }

    fn challenge(&self) -> Option<&'static str> {
        let basic = self.settings.auth.iter().any(|c| matches!(c, Credential::Basic { .. }));
        basic.then_some("Basic realm=\"signbridge\", charset=\"UTF-8\"")
    }
}

impl Source for Sintegre {
    fn base(&self) -> &SourceBase {
        &self.base
    }

    fn authenticate(&self, headers: &Headers, _body: &[u8]) -> Result<(), Denied> {
        let given = headers.get("authorization");
        let basic = given.and_then(secret::basic);
        let mut ok = Choice::from(0);
        for credential in &self.settings.auth {
            ok |= match (credential, given) {
                (Credential::None, _) => Choice::from(1),
                (Credential::Basic { user, password }, _) => match &basic {
                    Some((u, p)) => {
                        secret::equal(u.as_bytes(), user.expose().as_bytes())
                            & secret::equal(p.as_bytes(), password.expose().as_bytes())
                    }
                    None => Choice::from(0),
                },
                (Credential::Token { value, accept_bearer }, Some(given)) => {
                    let bearer = given
                        .get(..7)
                        .filter(|s| *accept_bearer && s.eq_ignore_ascii_case("bearer "))
                        .map(|_| &given[7..]);
                    secret::equal(bearer.unwrap_or(given).as_bytes(), value.expose().as_bytes())
                }
                (Credential::Token { .. }, None) => Choice::from(0),
            };
        }
        if bool::from(ok) {
            return Ok(());
        }
        let reason = if given.is_none() { "no Authorization header" } else { "bad credentials" };
        Err(Denied { reason, challenge: self.challenge() })
    }

    fn parse(
        &self,
        headers: &Headers,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Result<Delivery, Malformed> {
        let text = std::str::from_utf8(body)
            .map_err(|_| Malformed("the body is not UTF-8 JSON".into()))?
            .to_owned();
        let object = super::json_object(body).map_err(|why| {
            Malformed(match why {
                "not_an_object" => "the body is not a JSON object".into(),
                _ => "the body is not JSON".into(),
            })
        })?;
        let notification: wire::Notification =
            serde_json::from_value(serde_json::Value::Object(object))
                .map_err(|e| Malformed(format!("the body cannot be read: {e}")))?;
        let mut flags = Vec::new();
        check_content_type(headers, &mut flags);
        map::delivery(&self.base.account, notification, text, flags, received, self.downloads())
    }

    fn seal_link(&self, url: &Secret) -> Option<String> {
        self.seal.seal(url)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::model::EventKind;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    /// A token shaped like SINtegre's (HS256 header, the claims of §1.7, a made-up signature).
    pub(crate) fn token(file: &str, nbf: i64) -> String {
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = enc(serde_json::json!({"typ": "JWT", "alg": "HS256"}));
        let claims = enc(serde_json::json!({"URL": file, "username": "someone@example.com",
            "nomeProduto": "IPDO", "IsFile": "True", "iss": "http://local.ons.org.br",
            "aud": "http://local.ons.org.br", "nbf": nbf, "exp": nbf + 86_640}));
        format!("{header}.{claims}.c2lnbmF0dXJl")
    }

    pub(crate) fn ipdo(token: &str) -> String {
        format!(
            r#"{{"nome":"IPDO (Informativo Preliminar Diário da Operação)","processo":"Operação em Tempo Real",
 "dataProduto":"20/02/2025","macroProcesso":"Operação do Sistema",
 "periodicidade":"2025-02-20T00:00:00","periodicidadeFinal":"2025-02-20T23:59:59",
 "url":"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token={token}"}}"#
        )
    }

    fn source(auth: serde_json::Value) -> Sintegre {
        Sintegre::new("ons", serde_json::json!({ "auth": auth })).unwrap()
    }

    /// A route accepting unauthenticated posts, its links sealed with `link_secret`.
    fn open_route(link_secret: &str) -> Sintegre {
        let settings = serde_json::json!({"auth": ["none"], "link_secret": link_secret});
        Sintegre::new("ons", settings).unwrap()
    }

    #[test]
    fn auth_none_needs_a_link_secret() {
        let err = Sintegre::new("ons", serde_json::json!({"auth": ["none"]})).unwrap_err();
        assert_eq!(err.field(), Some("routes.sintegre.settings.link_secret"));
        assert_eq!(err.kind(), crate::error::ErrorKind::Validation);
        assert!(err.to_string().contains("only \"none\""), "{err}");
        // A link an older version sealed with no secret still opens.
        let old = SessionKey::derive("sintegre link", "ons", &[]);
        let link = Secret::new("https://apps08.ons.org.br/x?token=a.b.c");
        let sealed = Secret::new(old.seal(&link).unwrap());
        assert_eq!(open_route("s").link_seal().open(&sealed).unwrap().expose(), link.expose());
        // A credential beside "none" seals the links: no link_secret needed.
        let token = serde_json::json!(["none", {"token": {"value": "t"}}]);
        assert!(Sintegre::new("ons", serde_json::json!({"auth": token})).is_ok());
    }

    #[test]
    fn links_are_sealed_with_the_first_credential_and_open_with_any_listed() {
        let basic = |p: &str| serde_json::json!({"basic": {"user": "ons", "password": p}});
        let link = Secret::new("https://apps08.ons.org.br/x?token=abc.def.ghi");
        let old = source(serde_json::json!([basic("old")]));
        let sealed = Secret::new(old.seal_link(&link).unwrap());
        assert!(!sealed.expose().contains("abc.def") && sealed.expose().starts_with("v1:"));
        let rotating = source(serde_json::json!([basic("new"), basic("old")]));
        assert_eq!(rotating.link_seal().open(&sealed).unwrap().expose(), link.expose());
        let sealed_new = Secret::new(rotating.seal_link(&link).unwrap());
        let rotated = source(serde_json::json!([basic("new")]));
        assert_eq!(rotated.link_seal().open(&sealed_new).unwrap().expose(), link.expose());
        assert!(rotated.link_seal().open(&sealed).is_none(), "the old credential is gone");
        let secret = open_route("operator's");
        let by_secret = Secret::new(secret.seal_link(&link).unwrap());
        assert!(open_route("another").link_seal().open(&by_secret).is_none());
        assert_eq!(secret.link_seal().open(&by_secret).unwrap().expose(), link.expose());
        // Sealed with no secret by an older version: still opened, never sealed so again.
        let no_secret = SessionKey::derive("sintegre link", "ons", &[]);
        let old = Secret::new(no_secret.seal(&link).unwrap());
        assert_eq!(secret.link_seal().open(&old).unwrap().expose(), link.expose());
        assert!(no_secret.open(by_secret.expose()).is_none(), "sealed with link_secret");
    }

    fn json_headers(auth: Option<&str>) -> Headers {
        let mut pairs = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        pairs.extend(auth.map(|a| ("Authorization".to_owned(), a.to_owned())));
        Headers::new(pairs)
    }

    fn parse(body: &str) -> Result<Delivery, Malformed> {
        open_route("s").parse(&json_headers(None), body.as_bytes(), Utc::now())
    }

    const FILE: &str = "https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO-20-02-2025.pdf";

    #[test]
    fn basic_auth_with_rotation_and_exact_comparison() {
        let s = source(serde_json::json!([
            {"basic": {"user": "ons", "password": "p:ss"}},
            {"basic": {"user": "ons", "password": "new"}}
        ]));
        let basic = |up: &str| json_headers(Some(&format!("Basic {}", B64.encode(up))));
        assert!(s.authenticate(&basic("ons:p:ss"), b"").is_ok(), "split at the first colon");
        assert!(s.authenticate(&basic("ons:new"), b"").is_ok(), "the rotated secret");
        for bad in ["ONS:new", "ons:New", "ons:p", "ons", ""] {
            let denied = s.authenticate(&basic(bad), b"").unwrap_err();
            assert_eq!(denied.challenge, Some("Basic realm=\"signbridge\", charset=\"UTF-8\""));
        }
        let missing = s.authenticate(&json_headers(None), b"").unwrap_err();
        assert_eq!(missing.reason, "no Authorization header");
    }

    #[test]
    fn token_auth_raw_or_bearer_when_allowed() {
        let raw = source(serde_json::json!([{"token": {"value": "ninguemsabe"}}]));
        assert!(raw.authenticate(&json_headers(Some("ninguemsabe")), b"").is_ok());
        for bad in ["Bearer ninguemsabe", "ninguemsab", "ninguemsabe2", ""] {
            let denied = raw.authenticate(&json_headers(Some(bad)), b"").unwrap_err();
            assert_eq!(denied.challenge, None, "no Basic credential, no Basic challenge");
        }
        let bearer =
            source(serde_json::json!([{"token": {"value": "t0k", "accept_bearer": true}}]));
        assert!(bearer.authenticate(&json_headers(Some("Bearer t0k")), b"").is_ok());
        assert!(bearer.authenticate(&json_headers(Some("t0k")), b"").is_ok());
        assert!(bearer.authenticate(&json_headers(None), b"").is_err());
    }

    #[test]
    fn no_auth_must_be_said_and_secrets_never_show() {
        let err = Sintegre::new("ons", serde_json::json!({"auth": []})).unwrap_err();
        assert_eq!(err.field(), Some("routes.sintegre.settings.auth"));
        let err = Sintegre::new("ons", serde_json::json!({"auth": [{"ldap": {}}]})).unwrap_err();
        assert!(err.field().unwrap().starts_with("routes.sintegre.settings.auth"), "{err}");
        let s = source(serde_json::json!([{"basic": {"user": "u", "password": "hunter2"}}]));
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(open_route("s").authenticate(&Headers::default(), b"").is_ok());
    }

    #[test]
    fn a_notification_becomes_one_event_keyed_by_k1_with_the_token_removed() {
        let token = token(FILE, 1_740_142_253);
        let d = parse(&ipdo(&token)).unwrap();
        assert!(d.key.starts_with("k1:"), "{}", d.key);
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        assert!(!d.body.contains(&token) && d.body.contains("token=REDACTED"));
        assert!(d.body.contains("\"dataProduto\":\"20/02/2025\""), "kept as sent");
        let e = &d.events[0];
        assert_eq!(e.kind, EventKind::DocumentReceived);
        assert_eq!(e.id, format!("sintegre:ons:{}", d.key));
        assert_eq!(e.at.timestamp(), 1_740_142_253, "sent at the token's nbf");
        assert_eq!(e.raw["file"], FILE);
        assert_eq!(e.raw["periodicidade"], "2025-02-20T00:00:00", "naive local time as sent");
        assert_eq!(e.raw["is_file"], true);
        let text = e.raw.to_string();
        assert!(!text.contains(&token) && !text.contains("someone@"), "{text}");
        let link = d.link.unwrap();
        assert!(link.url.expose().ends_with(&token));
        assert_eq!(link.expires_at.unwrap().timestamp(), 1_740_142_253 + 86_640);
    }

    #[test]
    fn a_resend_has_the_same_key_and_a_revision_another() {
        let first = parse(&ipdo(&token(FILE, 1))).unwrap();
        let resend = parse(&ipdo(&token(FILE, 2))).unwrap();
        assert_eq!(first.key, resend.key, "a fresh token, the same file");
        let revision = parse(&ipdo(&token(&format!("{FILE}.REV2"), 3))).unwrap();
        assert_ne!(first.key, revision.key);
        let unreadable = parse(&ipdo("not-a-jwt")).unwrap();
        assert!(unreadable.key.starts_with("k3:"));
        assert_eq!(unreadable.flags, ["token_unreadable"]);
    }

    #[test]
    fn guide_casing_and_odd_dates_are_kept_and_flagged() {
        let t = token(FILE, 1);
        let guide = format!(
            r#"{{"Nome":"Deck","Processo":"Médio Prazo","MacroProcesso":"Programação da Operação",
            "DataProduto":"08/2020","Periodicidade":"2020-08-01T03:00:00.000Z",
            "PeriodicidadeFinal":"31/08/2020","Uri":"https://apps08.ons.org.br/p?token={t}","Extra":1}}"#
        );
        let d = parse(&guide).unwrap();
        assert_eq!(d.flags, ["date_not_naive:periodicidade", "bad_date:periodicidadeFinal"]);
        assert_eq!(d.events[0].raw["dataProduto"], "08/2020");
        assert!(d.body.contains("\"Extra\":1"), "unknown members kept");
        let no_type =
            open_route("s").parse(&Headers::default(), ipdo(&t).as_bytes(), Utc::now()).unwrap();
        assert_eq!(no_type.flags, ["no_content_type"]);
    }

    #[test]
    fn only_what_section_3_6_names_is_refused() {
        for (body, why) in [
            ("nope", "the body is not JSON"),
            ("[1]", "the body is not a JSON object"),
            (r#"{"nome":"x"}"#, "url is missing"),
            (r#"{"url":"http://apps08.ons.org.br/x?token=a"}"#, "url is not an absolute https URL"),
            (r#"{"url":"javascript:1"}"#, "url is not an absolute https URL"),
        ] {
            assert_eq!(parse(body).unwrap_err(), Malformed(why.into()), "{body}");
        }
        let sparse = parse(r#"{"url":"https://apps08.ons.org.br/x"}"#).unwrap();
        assert!(sparse.flags.contains(&"missing:nome".to_owned()), "{:?}", sparse.flags);
    }
}
