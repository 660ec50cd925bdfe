//! Logins other than login/password: by certificate (contract §3.2) and with a service access
//! token (§3.3).
//!
//! Certificate login \[I]: in production `СБИС.АутентифицироватьПоСертификату` answers a CMS
//! EnvelopedData that decrypts to the session id with the certificate's key. A host whose key
//! sits behind a signing callback cannot decrypt, so the simulator turns the exchange into a
//! challenge the host signs: the first call (`{"Сертификат": {"ДвоичныеДанные"}}`) answers a
//! base64 challenge; the second call adds `"Подпись": {"ДвоичныеДанные": <CMS over the challenge
//! bytes>}` and answers the session id. The CMS must verify over the challenge (or, with
//! `verify_signatures` off, be a CMS whose signer is the certificate's subject), and its signer
//! must be the certificate's subject. A challenge works once, for five minutes. Any certificate
//! is registered for the fixture account.
//!
//! Access token: `POST /sbis/oauth/service/` with `{"app_client_id", "app_secret",
//! "secret_key"}` answers `{"sid", "token"}`; `X-SBISAccessToken: <token>` then stands for the
//! session wherever `X-SBISSessionID` does. `{"event": "exit", "token"}` (or just `{"token"}`)
//! ends it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::rpc::{RpcError, one};
use super::state::{State, base64_field};
use crate::cms_check;
use crate::ids::random_segment;

/// The fixture application's service credentials (contract §3.3).
pub const APP_CLIENT_ID: &str = "sandbox-app";
pub const APP_SECRET: &str = "sandbox-app-secret";
pub const SECRET_KEY: &str = "sandbox-secret-key";

/// How long a certificate-login challenge is accepted \[I].
const CHALLENGE_TTL_SECS: i64 = 300;

impl State {
    /// `СБИС.АутентифицироватьПоСертификату`: a challenge, or with `Подпись` the session id.
    pub fn certificate_login(
        &mut self,
        params: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<String, RpcError> {
        self.admit_login(now)?;
        let certificate = one(params.get("Сертификат"))
            .ok_or_else(|| RpcError::fatal("Не передан параметр Сертификат"))?;
        let der = base64_field(certificate.get("ДвоичныеДанные"), "Сертификат.ДвоичныеДанные")?;
        let subject = cms_check::certificate_subject(&der)
            .map_err(|e| RpcError::fatal(format!("Сертификат.ДвоичныеДанные: {e}")))?;
        self.challenges.retain(|_, (_, until)| *until > now);
        let Some(signature) = one(params.get("Подпись")) else {
            let challenge =
                STANDARD.encode(format!("sbis-sandbox-challenge:{}", random_segment(32)));
            let until = now + chrono::Duration::seconds(CHALLENGE_TTL_SECS);
            self.challenges.insert(challenge.clone(), (subject, until));
            return Ok(challenge);
        };
        let cms = base64_field(signature.get("ДвоичныеДанные"), "Подпись.ДвоичныеДанные")?;
        let signer = |challenge: &String| -> Option<String> {
            let bytes = STANDARD.decode(challenge).ok()?;
            cms_check::check_signature(&cms, &bytes, self.config.verify_signatures)
                .ok()?
                .signer_subject
        };
        let matched = self
            .challenges
            .iter()
            .find(|(challenge, (wanted, _))| {
                *wanted == subject && signer(challenge).as_ref() == Some(wanted)
            })
            .map(|(challenge, _)| challenge.clone());
        let Some(challenge) = matched else {
            return Err(RpcError::fatal(
                "Подпись не подписывает действующий вызов этим сертификатом: получите вызов заново",
            ));
        };
        self.challenges.remove(&challenge);
        Ok(self.open_session(now))
    }

    /// `POST /sbis/oauth/service/`: a session and its access token, or the token's end.
    pub fn service_login(
        &mut self,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, (u16, String)> {
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        if let Some(token) = field("token").filter(|_| field("app_client_id").is_none()) {
            if let Some(sid) = self.tokens.remove(token) {
                self.expire_sessions(Some(&sid));
            }
            return Ok(json!({}));
        }
        self.admit_login(now).map_err(|e| (429, e.message))?;
        let given = (field("app_client_id"), field("app_secret"), field("secret_key"));
        if given != (Some(APP_CLIENT_ID), Some(APP_SECRET), Some(SECRET_KEY)) {
            return Err((401, "invalid app_client_id, app_secret or secret_key".into()));
        }
        let sid = self.open_session(now);
        let token = random_segment(48);
        self.tokens.insert(token.clone(), sid.clone());
        Ok(json!({ "sid": sid, "token": token }))
    }

    /// The session an access token stands for.
    pub fn token_session(&self, token: &str) -> Option<String> {
        self.tokens.get(token).cloned()
    }
}
