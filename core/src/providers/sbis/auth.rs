//! SBIS credentials (contract §1.2, §3): a session from `СБИС.Аутентифицировать` (login and
//! password), shared through the journal by every process using the account and sent as
//! `X-SBISSessionID`; or one the host supplies (an external session, or a service token sent as
//! `X-SBISAccessToken`), which cannot be renewed.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderName};

use super::{Sbis, wire};
use crate::error::{Error, ErrorKind, Result};
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
    /// A session id the host obtained (`X-SBISSessionID`).
    Session(Secret),
    /// A service token (`X-SBISAccessToken`, §3.3).
    AccessToken(Secret),
}

impl Sbis {
    /// `СБИС.Аутентифицировать` on the auth endpoint, counted in the login window.
    pub(super) async fn login(&self) -> Result<Token> {
        let Credential::Login { login, password } = &self.credential else {
            return Err(Error::new(
                ErrorKind::Auth,
                "the SBIS session or token was refused and no login/password are configured",
            )
            .with_context("provider", "sbis"));
        };
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
        let url = &self.config.auth_url;
        let build = |http: &reqwest::Client| {
            http.post(url).header(CONTENT_TYPE, JSON_RPC).body(secret_json_body(&body, capacity))
        };
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
        Ok(Token { value: Secret::new(sid?), valid_for: SESSION_LIFETIME })
    }

    /// `СБИС.Выход` for the account's session, which is forgotten here and in the journal;
    /// the next call logs in again.
    pub(super) async fn logout(&self) -> Result<()> {
        if !matches!(self.credential, Credential::Login { .. }) {
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
            Credential::Login { .. } => {
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
        matches!(self.credential, Credential::Login { .. })
    }
}
