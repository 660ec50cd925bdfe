//! Credentials on requests: the [`Authenticator`] each provider gives the transport (a bearer
//! token, a header pair, a session header…), fixed ones ([`FixedHeaders`]), and the cache of
//! tokens and sessions obtained by logging in: kept until shortly before they expire,
//! refreshed single-flight, and dropped when the server refuses them so the next call logs in
//! again.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use zeroize::Zeroizing;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::seal::SessionKey;
use crate::error::{Error, Result};
use crate::journal::{Journal, Session, SessionValue};

/// A secret string (password, token, key). Its `Debug` and `Display` never show it, and its
/// text is wiped from memory when the last clone is dropped.
#[derive(Clone)]
pub struct Secret(Arc<Zeroizing<String>>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Arc::new(Zeroizing::new(value.into())))
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Puts an account's credential on its requests and takes back refused ones.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Puts the credential on `request`, logging in first when needed. Returns the token or
    /// session it used (None for fixed keys), which [`Authenticator::refused`] gets back.
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<Option<Secret>>;
    /// The provider refused the credential `used` (its reply was classified as a refused
    /// session): forget it, unless a newer one already replaced it.
    async fn refused(&self, used: Option<&Secret>);
    /// Whether a refused credential can be replaced by logging in again.
    fn can_relogin(&self) -> bool;
}

/// `Authorization: Bearer <token>`, marked sensitive so it never shows in debug output.
pub fn put_bearer(request: &mut reqwest::Request, token: &Secret) -> Result<()> {
    let value = secret_header(&["Bearer ", token.expose()]).ok_or_else(|| {
        Error::config(format!("the credential for header {AUTHORIZATION} cannot go in a header"))
    })?;
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

/// A credential header, marked sensitive.
pub fn put_header(request: &mut reqwest::Request, name: HeaderName, value: &Secret) -> Result<()> {
    let value = secret_header(&[value.expose()]).ok_or_else(|| {
        Error::config(format!("the credential for header {name} cannot go in a header"))
    })?;
    request.headers_mut().insert(name, value);
    Ok(())
}

/// A sensitive header value made of `parts`, whose bytes are wiped when the request (and every
/// clone of the header) is dropped: they live in one exactly-sized buffer owned by a
/// [`Zeroizing`], which the header shares instead of copying. None if it cannot be a header.
fn secret_header(parts: &[&str]) -> Option<HeaderValue> {
    let mut buf = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for part in parts {
        buf.extend_from_slice(part.as_bytes());
    }
    let mut value = HeaderValue::from_maybe_shared(Bytes::from_owner(buf)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A request body of secret bytes (a login) as the JSON of `value`, wiped once the request is
/// dropped. `capacity` should hold the whole text, so that no smaller copy is left behind when
/// the buffer grows.
pub fn secret_json_body(value: &impl serde::Serialize, capacity: usize) -> reqwest::Body {
    let mut buf = Zeroizing::new(Vec::with_capacity(capacity));
    // Writing plain strings into a Vec cannot fail; were it to, the provider would refuse the
    // truncated body.
    let _ = serde_json::to_writer(&mut *buf, value);
    reqwest::Body::from(Bytes::from_owner(buf))
}

/// Credentials that never change and cannot be renewed (API keys, a long-lived token issued
/// in the provider's web console): the same headers on every request.
pub struct FixedHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl FixedHeaders {
    /// Each `(setting, header name, secret)`; a name or value that cannot be a header is a
    /// configuration error naming the setting.
    pub fn new(provider: &str, headers: &[(&str, &str, &Secret)]) -> Result<FixedHeaders> {
        let headers = headers
            .iter()
            .map(|(setting, name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    Error::config(format!(
                        "settings.{setting} for provider {provider}: {name:?} is not a header name"
                    ))
                })?;
                let value = secret_header(&[value.expose()]).ok_or_else(|| {
                    Error::config(format!(
                        "settings.{setting} for provider {provider} cannot go in a header"
                    ))
                })?;
                Ok((name, value))
            })
            .collect::<Result<_>>()?;
        Ok(FixedHeaders { headers })
    }

    /// `Authorization: Bearer <token>` from setting `setting`.
    pub fn bearer(provider: &str, setting: &str, token: &Secret) -> Result<FixedHeaders> {
        let value = secret_header(&["Bearer ", token.expose()]).ok_or_else(|| {
            Error::config(format!(
                "settings.{setting} for provider {provider} cannot go in a header"
            ))
        })?;
        Ok(FixedHeaders { headers: vec![(AUTHORIZATION, value)] })
    }

    /// The header names, for tests and diagnostics (never the values).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(n, _)| n.as_str())
    }
}

impl fmt::Debug for FixedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[async_trait]
impl Authenticator for FixedHeaders {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<Option<Secret>> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        Ok(None)
    }

    async fn refused(&self, _used: Option<&Secret>) {}

    fn can_relogin(&self) -> bool {
        false
    }
}

/// A token and how long it may be used.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub valid_for: Duration,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    current: Mutex<Option<Cached>>,
    /// Where the account's session is shared with every process using the journal.
    shared: Option<Shared>,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    /// The token as the journal holds it (sealed), to forget it there if it is refused.
    sealed: Option<SessionValue>,
    until: Instant,
}

#[derive(Debug)]
struct Shared {
    journal: Journal,
    provider: &'static str,
    account: String,
    key: SessionKey,
}

impl TokenCache {
    /// A cache whose tokens live in `journal` too, sealed with `key`: one login serves every
    /// process using the account, until the token expires or the provider refuses it.
    pub fn shared(
        journal: Journal,
        provider: &'static str,
        account: &str,
        key: SessionKey,
    ) -> TokenCache {
        TokenCache {
            current: Mutex::default(),
            shared: Some(Shared { journal, provider, account: account.to_string(), key }),
        }
    }

    /// The cached token if still valid, otherwise the one `login` returns. Callers that arrive
    /// while a login is under way wait for it instead of logging in again (single flight, in
    /// this process and, when shared, across processes).
    pub async fn get<F, Fut>(&self, login: F) -> Result<Secret>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref() {
            if Instant::now() < cached.until {
                return Ok(cached.token.clone());
            }
        }
        let fresh = match &self.shared {
            None => {
                let token = login().await?;
                Cached { until: Instant::now() + token.valid_for, token: token.value, sealed: None }
            }
            Some(shared) => shared.session(login).await?,
        };
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// A cache holding a token obtained elsewhere (e.g. supplied by the host).
    pub fn seeded(token: Token) -> TokenCache {
        let cached =
            Cached { until: Instant::now() + token.valid_for, token: token.value, sealed: None };
        TokenCache { current: Mutex::new(Some(cached)), shared: None }
    }

    /// Forgets `stale` (refused by the provider), here and in the journal, unless a newer
    /// token already replaced it.
    pub async fn invalidate(&self, stale: &Secret) {
        let mut current = self.current.lock().await;
        if !current.as_ref().is_some_and(|c| &c.token == stale) {
            return;
        }
        let sealed = current.take().and_then(|c| c.sealed);
        if let (Some(shared), Some(sealed)) = (&self.shared, sealed) {
            shared.forget(&sealed).await;
        }
    }
}

impl Shared {
    /// The account's session from the journal, or a new login shared through it. A sealed
    /// session that does not open (the credentials changed) is forgotten, and replaced once.
    async fn session<F, Fut>(&self, login: F) -> Result<Cached>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let mut login = Some(login);
        loop {
            let session =
                self.journal
                    .session(self.provider, &self.account, || async {
                        let Some(login) = login.take() else {
                            return Err(Error::internal("a session just sealed does not open"));
                        };
                        let token = login().await?;
                        let sealed = self.key.seal(&token.value).ok_or_else(|| {
                            Error::internal("no randomness to seal the session with")
                        })?;
                        let valid_for = chrono::Duration::from_std(token.valid_for)
                            .unwrap_or(chrono::Duration::zero());
                        Ok(Session {
                            value: SessionValue::new(sealed),
                            expires_at: Utc::now() + valid_for,
                        })
                    })
                    .await?;
            let until =
                Instant::now() + (session.expires_at - Utc::now()).to_std().unwrap_or_default();
            match self.key.open(session.value.expose()) {
                Some(token) => return Ok(Cached { token, sealed: Some(session.value), until }),
                None => {
                    tracing::info!(target: "signbridge", provider = self.provider, "the journal's session does not open with these credentials; logging in again");
                    self.forget(&session.value).await;
                    if login.is_none() {
                        return Err(Error::internal("a session just sealed does not open"));
                    }
                }
            }
        }
    }

    async fn forget(&self, sealed: &SessionValue) {
        if let Err(e) = self.journal.invalidate_session(self.provider, &self.account, sealed).await
        {
            tracing::warn!(target: "signbridge", error = %e, "the journal could not forget a session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_login() {
        let cache = Arc::new(TokenCache::default());
        let logins = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (cache, logins) = (cache.clone(), logins.clone());
                tokio::spawn(async move {
                    cache
                        .get(|| async {
                            logins.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(Token {
                                value: Secret::new("t1"),
                                valid_for: Duration::from_secs(60),
                            })
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().expose(), "t1");
        }
        assert_eq!(logins.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_or_invalidated_tokens_are_replaced() {
        let cache = TokenCache::default();
        let n = AtomicUsize::new(0);
        let login = || async {
            let i = n.fetch_add(1, Ordering::SeqCst);
            Ok(Token { value: Secret::new(format!("t{i}")), valid_for: Duration::from_secs(10) })
        };
        assert_eq!(cache.get(login).await.unwrap().expose(), "t0");
        assert_eq!(cache.get(login).await.unwrap().expose(), "t0");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(cache.get(login).await.unwrap().expose(), "t1");
        // A stale token reported late must not throw away the newer one.
        cache.invalidate(&Secret::new("t0")).await;
        assert_eq!(cache.get(login).await.unwrap().expose(), "t1");
        cache.invalidate(&Secret::new("t1")).await;
        assert_eq!(cache.get(login).await.unwrap().expose(), "t2");
    }
}
