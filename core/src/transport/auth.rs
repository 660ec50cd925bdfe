//! Bearer tokens: cached until shortly before they expire, refreshed single-flight, and dropped
//! when the server refuses them so the next call logs in again.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::Result;

/// A secret string (password, token, key). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
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

/// Gives the transport a bearer token and takes back refused ones.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// A token believed valid, logging in first if needed.
    async fn token(&self) -> Result<Secret>;
    /// The server refused `token` (HTTP 401): forget it, unless a newer one already replaced it.
    async fn invalidate(&self, token: &Secret);
    /// Whether a refused token can be replaced by logging in again.
    fn can_relogin(&self) -> bool;
}

/// A token and how long it may be used.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub valid_for: Duration,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    current: Mutex<Option<(Secret, Instant)>>,
}

impl TokenCache {
    /// The cached token if still valid, otherwise the one `login` returns. Callers that arrive
    /// while a login is under way wait for it instead of logging in again (single flight).
    pub async fn get<F, Fut>(&self, login: F) -> Result<Secret>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let mut current = self.current.lock().await;
        if let Some((token, until)) = current.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let fresh = login().await?;
        *current = Some((fresh.value.clone(), Instant::now() + fresh.valid_for));
        Ok(fresh.value)
    }

    /// A cache holding a token obtained elsewhere (e.g. supplied by the host).
    pub fn seeded(token: Token) -> TokenCache {
        TokenCache { current: Mutex::new(Some((token.value, Instant::now() + token.valid_for))) }
    }

    pub async fn invalidate(&self, stale: &Secret) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(t, _)| t == stale) {
            *current = None;
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
