//! TAE login: `v3 → v2 → api/auth/login`, falling back on 404; tokens cached until their
//! `expirationDate` (v3) or 12 h after issue, minus a safety margin.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use super::{Tae, map, wire};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{http, lenient};
use crate::transport::{Authenticator, Call, Idempotency, Secret, Token};

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
            let reply = self
                .transport
                .execute(Call {
                    op: "login",
                    // Logging in twice only issues two tokens: safe to retry.
                    idempotency: Idempotency::Read,
                    auth: None,
                    build: &|http| http.post(&url).json(&body),
                })
                .await?;
            if reply.status == reqwest::StatusCode::NOT_FOUND {
                tracing::debug!(target: "signbridge::providers::tae", route = route.path(), "login route absent, trying the next");
                continue;
            }
            let parsed: Option<wire::IdentityResponse<wire::LoginData>> =
                serde_json::from_slice(&reply.body).ok();
            return match parsed {
                Some(wire::IdentityResponse { succeeded: true, data: Some(data), .. })
                    if reply.status.is_success() =>
                {
                    Ok(Token {
                        value: Secret::new(data.token),
                        valid_for: self.token_validity(data.expiration_date.as_deref()),
                    })
                }
                _ => Err(map::identity_error(&reply)),
            };
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

#[async_trait]
impl Authenticator for Tae {
    async fn token(&self) -> Result<Secret> {
        self.tokens.get(|| self.login()).await
    }

    async fn invalidate(&self, token: &Secret) {
        self.tokens.invalidate(token).await;
    }

    fn can_relogin(&self) -> bool {
        self.config.username.is_some() && self.config.password.is_some()
    }
}
