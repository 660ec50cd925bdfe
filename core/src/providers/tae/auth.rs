//! TAE login: `v3 → v2 → api/auth/login`, falling back on 404; tokens cached until their
//! `expirationDate` (v3) or 12 h after issue, minus a safety margin.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use reqwest::header::CONTENT_TYPE;
use serde::de::IgnoredAny;

use super::{Tae, map, wire};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{http, lenient};
use crate::transport::{
    Authenticator, Call, Classify, Idempotency, Reply, Secret, Token, put_bearer, secret_json_body,
};

/// TDN: "esse token tem uma validade de 12h a partir do horário da sua geração".
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The login routes, tried in the configured order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginRoute {
    V3,
    V2,
    Api,
}

impl LoginRoute {
    fn path(self) -> &'static str {
        match self {
            LoginRoute::V3 => "v3/auth/login",
            LoginRoute::V2 => "v2/auth/login",
            LoginRoute::Api => "api/auth/login",
        }
    }
}

/// The identity service answers `{succeeded, data, description}`; anything else is a refusal
/// (or, for a 404, a route this deployment lacks).
struct Identity;

impl Classify for Identity {
    fn classify(&self, _op: &'static str, reply: &Reply) -> Result<()> {
        let parsed: Option<wire::IdentityResponse<IgnoredAny>> =
            serde_json::from_slice(&reply.body).ok();
        match parsed {
            Some(r) if r.succeeded && reply.status.is_success() => Ok(()),
            _ => Err(map::identity_error(reply)),
        }
    }
}

impl Tae {
    async fn login(&self) -> Result<Token> {
        let (Some(user), Some(password)) = (&self.config.username, &self.config.password) else {
            return Err(Error::new(
                ErrorKind::Auth,
                "the TAE token was refused and no username/password are configured to log in again",
            )
            .with_context("provider", "tae"));
        };
        for route in &self.config.login_routes {
            let url = http::join(&self.config.auth_base, route.path());
            let body = wire::LoginRequest { user_name: user, password: password.expose() };
            // JSON escapes a character in at most 6 bytes.
            let capacity = 64 + 6 * (user.len() + password.expose().len());
            let build = |http: &reqwest::Client| {
                http.post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(secret_json_body(&body, capacity))
            };
            // Logging in twice only issues two tokens: safe to retry.
            let call = Call::new("login", Idempotency::Read, &Identity, &build);
            let reply = match self.base.transport.execute(call).await {
                Err(e) if e.http_status() == Some(404) => {
                    tracing::debug!(target: "signbridge::providers::tae", route = route.path(), "login route absent, trying the next");
                    continue;
                }
                other => other?,
            };
            let data = http::decode::<wire::IdentityResponse<wire::LoginData>>(&reply)?
                .data
                .ok_or_else(|| reply.malformed("login succeeded without data"));
            // The reply holds the token: overwritten before it is freed.
            reply.wipe();
            let data = data?;
            return Ok(Token {
                value: Secret::new(data.token),
                valid_for: self.token_validity(data.expiration_date.as_deref()),
            });
        }
        Err(Error::config(format!(
            "no TAE login route answered under auth_base {} (tried {:?})",
            self.config.auth_base, self.config.login_routes
        )))
    }

    /// Until `expirationDate` when given, never past 12 h, minus the margin.
    fn token_validity(&self, expiration: Option<&str>) -> Duration {
        let by_date = expiration
            .and_then(lenient::utc_date)
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(TOKEN_LIFETIME);
        by_date
            .min(TOKEN_LIFETIME)
            .saturating_sub(Duration::from_secs(self.config.token_margin_secs))
    }
}

/// A bearer token from the login, cached until it expires and replaced once TAE refuses it.
#[async_trait]
impl Authenticator for Tae {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<Option<Secret>> {
        let token = self.tokens.get(|| self.login()).await?;
        put_bearer(request, &token)?;
        Ok(Some(token))
    }

    async fn refused(&self, used: Option<&Secret>) {
        if let Some(token) = used {
            self.tokens.invalidate(token).await;
        }
    }

    fn can_relogin(&self) -> bool {
        self.config.username.is_some() && self.config.password.is_some()
    }
}
