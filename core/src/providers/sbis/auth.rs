//! SBIS credentials (contract §1.2, §3): a session from `СБИС.Аутентифицировать` (login and
//! password) or from `СБИС.АутентифицироватьПоСертификату` (the host signs a challenge), shared
//! through the journal by every process using the account and sent as `X-SBISSessionID`; or one
//! the host supplies (an external session, or a service token sent as `X-SBISAccessToken`),
//! which cannot be renewed.
//!
//! Certificate login (§3.2): production SBIS answers the certificate with a CMS EnvelopedData
//! only the key can decrypt, which a key behind a signing callback cannot do. The exchange is
//! done as a challenge the host signs, as the sandbox serves it \[I]: the certificate alone
//! answers a base64 challenge; the certificate with `Подпись.ДвоичныеДанные` (the host signer's
//! detached CMS over the challenge's bytes) answers the session id.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{CONTENT_TYPE, HeaderName};

use super::{Sbis, wire};
use crate::error::{Error, ErrorKind, Result};
use crate::signing::{CmsForm, SignRequest};
use crate::transport::{
    Authenticator, Call, Idempotency, Secret, Token, put_header, secret_json_body,
};

/// "Сессия аннулируется через 24 часа без запросов" (§3.4): the journal keeps a session for
/// less than that, so one idle for a day is never offered; a session refused earlier is
/// replaced at once (one re-login and one retry).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(20 * 3600);

pub const SESSION_HEADER: HeaderName = HeaderName::from_static("x-sbissessionid");
pub const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-sbisaccesstoken");

/// The JSON-RPC content type most clients send (§1.2).
pub const JSON_RPC: &str = "application/json-rpc;charset=utf-8";

/// How the account authenticates.
#[derive(Debug)]
pub enum Credential {
    /// `СБИС.Аутентифицировать` with these; the session is cached and renewed.
    Login { login: String, password: Secret },
    /// `СБИС.АутентифицироватьПоСертификату` with this certificate (base64 DER), the challenge
    /// signed by the host signer; the session is cached and renewed.
    Certificate(String),
    /// A session id the host obtained (`X-SBISSessionID`).
    Session(Secret),
    /// A service token (`X-SBISAccessToken`, §3.3).
    AccessToken(Secret),
}

impl Sbis {
    /// A new session for the configured login or certificate.
    pub(super) async fn login(&self) -> Result<Token> {
        let sid = match &self.credential {
            Credential::Login { login, password } => self.password_login(login, password).await?,
            Credential::Certificate(certificate) => self.certificate_login(certificate).await?,
            Credential::Session(_) | Credential::AccessToken(_) => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    "the SBIS session or token was refused and no login is configured",
                )
                .with_context("provider", "sbis"));
            }
        };
        Ok(Token { value: sid, valid_for: SESSION_LIFETIME })
    }

    /// `СБИС.Аутентифицировать` on the auth endpoint.
    async fn password_login(&self, login: &str, password: &Secret) -> Result<Secret> {
        let body = wire::Request {
            jsonrpc: "2.0",
            method: "СБИС.Аутентифицировать",
            params: wire::LoginParams {
                parameter: wire::Login { login, password: password.expose() },
            },
            id: 0,
        };
        // JSON escapes a character in at most 6 bytes (Cyrillic ones go as UTF-8, at most 4).
        let capacity = 160 + 6 * (login.len() + password.expose().len());
        self.auth_call(|| secret_json_body(&body, capacity)).await
    }

    /// `СБИС.АутентифицироватьПоСертификату` twice: the certificate gets a challenge, the
    /// host signer's detached CMS over the challenge's bytes gets the session id.
    async fn certificate_login(&self, certificate: &str) -> Result<Secret> {
        let call = |signature: Option<String>| {
            serde_json::to_vec(&wire::Request {
                jsonrpc: "2.0",
                method: "СБИС.АутентифицироватьПоСертификату",
                params: wire::CertificateLogin {
                    certificate: wire::Binary { data: certificate.to_owned() },
                    signature: signature.map(|data| wire::Binary { data }),
                },
                id: 0,
            })
            .map_err(|e| Error::internal(format!("login: the request does not encode: {e}")))
        };
        let first = call(None)?;
        let challenge = self.auth_call(|| clone_body(&first)).await?;
        let data = STANDARD.decode(challenge.expose().trim()).map_err(|e| {
            Error::new(
                ErrorKind::Provider,
                format!("login: SBIS answered a certificate challenge that is not base64: {e}"),
            )
            .with_context("provider", "sbis")
        })?;
        let request =
            SignRequest { provider: "sbis", document_id: None, form: CmsForm::Detached, data };
        let cms = self.signer.sign(request).await?;
        let second = call(Some(STANDARD.encode(cms)))?;
        self.auth_call(|| clone_body(&second)).await
    }

    /// One call on the auth endpoint, counted in the login window; its `result` string.
    async fn auth_call(&self, body: impl Fn() -> reqwest::Body + Sync) -> Result<Secret> {
        let url = &self.config.auth_url;
        let build =
            |http: &reqwest::Client| http.post(url).header(CONTENT_TYPE, JSON_RPC).body(body());
        // Logging in twice only opens two sessions: safe to retry.
        let call = Call::new("login", Idempotency::Read, self, &build);
        // A login refused for any reason but a passing one is a refusal of the credentials,
        // whatever words and status the server chose.
        let reply = self.auth.execute(call).await.map_err(|e| match e.kind() {
            ErrorKind::Validation | ErrorKind::NotFound => e.with_kind(ErrorKind::Auth),
            _ => e,
        })?;
        let sid = serde_json::from_slice::<wire::Response<String>>(&reply.body)
            .map_err(|e| reply.malformed(e))
            .and_then(|r| {
                r.result
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| reply.malformed("the login answered no session id"))
            });
        // The reply holds the session id: overwritten before it is freed.
        reply.wipe();
        Ok(Secret::new(sid?))
    }

    /// `СБИС.Выход` for the account's session, which is forgotten here and in the journal;
    /// the next call logs in again.
    pub(super) async fn logout(&self) -> Result<()> {
        if !self.can_relogin() {
            return Err(Error::validation(
                "settings",
                "the session was supplied by the host: it ends it too",
            ));
        }
        let sid = self.sessions.get(|| self.login()).await?;
        let reply = self
            .rpc_at::<_, serde_json::Value>(
                &self.config.auth_url,
                "logout",
                "СБИС.Выход",
                Idempotency::Read,
                &wire::Empty {},
            )
            .await;
        self.sessions.invalidate(&sid).await;
        match reply {
            Ok(_) => Ok(()),
            // Already gone: what logging out wanted.
            Err(e) if e.is_session_refused() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Authenticator for Sbis {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<Option<Secret>> {
        match &self.credential {
            Credential::Login { .. } | Credential::Certificate(_) => {
                let sid = self.sessions.get(|| self.login()).await?;
                put_header(request, SESSION_HEADER, &sid)?;
                Ok(Some(sid))
            }
            Credential::Session(sid) => {
                put_header(request, SESSION_HEADER, sid)?;
                Ok(None)
            }
            Credential::AccessToken(token) => {
                put_header(request, TOKEN_HEADER, token)?;
                Ok(None)
            }
        }
    }

    async fn refused(&self, used: Option<&Secret>) {
        if let Some(sid) = used {
            self.sessions.invalidate(sid).await;
        }
    }

    fn can_relogin(&self) -> bool {
        matches!(self.credential, Credential::Login { .. } | Credential::Certificate(_))
    }
}

/// `settings.certificate` as one base64 line of DER: PEM armour and line breaks removed,
/// checked to be base64.
pub(super) fn certificate_base64(text: &str) -> Result<String> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    match STANDARD.decode(&body) {
        Ok(der) if !der.is_empty() => Ok(body),
        _ => Err(Error::config(
            "settings.certificate for provider sbis: a certificate in base64 DER or PEM",
        )),
    }
}

/// A request body that holds no secret, for each attempt.
fn clone_body(bytes: &[u8]) -> reqwest::Body {
    reqwest::Body::from(bytes.to_vec())
}
