//! HTTP for every provider: one reqwest client per account, timeouts, retries, rate limit and
//! bearer-token handling, put together in one place and always in the same order:
//! total deadline → retry loop → token bucket → bearer token → per-attempt timeout → reqwest.
//!
//! Retry rules:
//! - reads are retried on connection errors, timeouts, 429 and 5xx (except 501), with backoff
//!   and jitter, honouring `Retry-After`;
//! - writes are never retried once the request may have left: a lost response becomes
//!   [`ErrorKind::OutcomeUnknown`]. A write is retried only when the server provably did not
//!   process it: the connection never opened, the server answered 429, or it answered 401 (one
//!   re-login, then one more try); or when the provider deduplicates it by a key it carries
//!   ([`Idempotency::KeyedWrite`]).

mod auth;
mod ratelimit;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use tokio::time::Instant;

pub use auth::{Authenticator, Secret, Token, TokenCache};
pub use ratelimit::RateLimiter;

use crate::error::{Error, ErrorKind, Result};

/// Network settings of one account. Every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportConfig {
    /// Time to open a connection (TCP + TLS).
    pub connect_timeout_ms: u64,
    /// Longest silence while reading a response.
    pub read_timeout_ms: u64,
    /// One attempt, from connecting to the end of the response body.
    pub request_timeout_ms: u64,
    /// One operation, retries and waits included.
    pub operation_timeout_ms: u64,
    /// HTTP(S) proxy URL for every request (it may carry credentials, so it is a secret).
    pub proxy: Option<Secret>,
    /// PEM file with extra CA certificates trusted besides the operating system's store.
    pub extra_ca_file: Option<PathBuf>,
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this is not waited out: the call fails as rate limited.
    pub max_retry_after_ms: u64,
    /// Requests per second for this account; 0 disables the limiter.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: u32,
    /// Status calls in flight at once during a batch refresh.
    pub batch_concurrency: usize,
    pub user_agent: Option<String>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout_ms: 10_000,
            read_timeout_ms: 60_000,
            request_timeout_ms: 120_000,
            operation_timeout_ms: 300_000,
            proxy: None,
            extra_ca_file: None,
            max_retries: 3,
            backoff_initial_ms: 250,
            backoff_max_ms: 8_000,
            max_retry_after_ms: 60_000,
            rate_limit_per_second: 10.0,
            rate_limit_burst: 20,
            batch_concurrency: 8,
            user_agent: None,
        }
    }
}

/// Whether a request may be sent again after it may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Read,
    Write,
    /// A write the provider deduplicates by a key the request carries (iDocs'
    /// `idempotencyTicket`): sending it again cannot apply it twice, so it is retried as a
    /// read is.
    KeyedWrite,
}

impl Idempotency {
    fn retryable(self) -> bool {
        matches!(self, Idempotency::Read | Idempotency::KeyedWrite)
    }
}

/// One logical call. `build` is invoked once per attempt, so bodies are rebuilt each time.
pub struct Call<'a> {
    pub op: &'static str,
    pub idempotency: Idempotency,
    pub auth: Option<&'a dyn Authenticator>,
    pub build: &'a (dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync),
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

#[derive(Debug)]
pub struct Transport {
    provider: &'static str,
    http: reqwest::Client,
    limiter: RateLimiter,
    config: TransportConfig,
}

impl Transport {
    pub fn new(provider: &'static str, config: &TransportConfig) -> Result<Transport> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .read_timeout(Duration::from_millis(config.read_timeout_ms))
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .user_agent(config.user_agent.clone().unwrap_or_else(|| {
                format!("signbridge/{} ({provider})", env!("CARGO_PKG_VERSION"))
            }));
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.expose())
                .map_err(|_| Error::config("transport.proxy is not a valid proxy URL"))?;
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &config.extra_ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(format!("transport.extra_ca_file {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::config(format!("transport.extra_ca_file {}: {e}", path.display()))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            provider,
            http,
            limiter: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Runs `call` and reads the whole response body.
    pub async fn execute(&self, call: Call<'_>) -> Result<Reply> {
        let (op, idempotency) = (call.op, call.idempotency);
        let response = self.execute_streaming(call).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            response.bytes().await.map_err(|e| self.request_error(op, idempotency, e, true))?;
        Ok(Reply { status, headers, body })
    }

    /// Runs `call` and hands back the response with its body unread (for large downloads).
    /// Non-success statuses are returned too, once retries are spent: the provider maps them.
    pub async fn execute_streaming(&self, call: Call<'_>) -> Result<reqwest::Response> {
        let budget = Duration::from_millis(self.config.operation_timeout_ms);
        let deadline = Instant::now() + budget;
        match tokio::time::timeout_at(deadline, self.retry_loop(&call, deadline)).await {
            Ok(result) => result,
            Err(_) => {
                let kind = match call.idempotency {
                    Idempotency::Read | Idempotency::KeyedWrite => ErrorKind::Timeout,
                    Idempotency::Write => ErrorKind::OutcomeUnknown,
                };
                Err(Error::new(kind, format!("{} did not finish within {budget:?}", call.op))
                    .with_context("provider", self.provider)
                    .with_context("op", call.op))
            }
        }
    }

    async fn retry_loop(&self, call: &Call<'_>, deadline: Instant) -> Result<reqwest::Response> {
        let mut attempt: u32 = 0;
        let mut relogged = false;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            let token = match call.auth {
                Some(auth) => Some(auth.token().await?),
                None => None,
            };
            let mut request = (call.build)(&self.http);
            if let Some(token) = &token {
                request = request.bearer_auth(token.expose());
            }
            tracing::debug!(target: "signbridge::transport", provider = self.provider, op = call.op, attempt, "sending");
            let wait = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::UNAUTHORIZED {
                        if let (Some(auth), Some(token)) = (call.auth, &token) {
                            auth.invalidate(token).await;
                            if !relogged && auth.can_relogin() {
                                relogged = true;
                                tracing::info!(target: "signbridge::transport", provider = self.provider, op = call.op, "token refused; logging in again");
                                continue;
                            }
                        }
                        return Ok(response);
                    }
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (status.is_server_error()
                            && status != StatusCode::NOT_IMPLEMENTED
                            && call.idempotency.retryable());
                    if !retryable || attempt > self.config.max_retries {
                        return Ok(response);
                    }
                    let wait =
                        retry_after(response.headers()).unwrap_or_else(|| self.backoff(attempt));
                    if wait > Duration::from_millis(self.config.max_retry_after_ms)
                        || Instant::now() + wait >= deadline
                    {
                        return Ok(response);
                    }
                    tracing::info!(target: "signbridge::transport", provider = self.provider, op = call.op, attempt, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "retrying");
                    wait
                }
                Err(e) => {
                    let sent = !e.is_connect();
                    let may_retry = call.idempotency.retryable() || !sent;
                    if !may_retry || attempt > self.config.max_retries {
                        let err = self.request_error(call.op, call.idempotency, e, sent);
                        return Err(if may_retry { err.persistent() } else { err });
                    }
                    let wait = self.backoff(attempt);
                    if Instant::now() + wait >= deadline {
                        return Err(self.request_error(call.op, call.idempotency, e, sent));
                    }
                    tracing::info!(target: "signbridge::transport", provider = self.provider, op = call.op, attempt, error = %e.without_url(), wait_ms = wait.as_millis() as u64, "retrying");
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Maps a reqwest failure. `sent`: the request may have reached the server.
    fn request_error(
        &self,
        op: &'static str,
        idempotency: Idempotency,
        e: reqwest::Error,
        sent: bool,
    ) -> Error {
        let e = e.without_url(); // URLs can carry signed download tokens
        let err = if sent && !idempotency.retryable() {
            Error::new(
                ErrorKind::OutcomeUnknown,
                format!(
                    "{op}: the request was sent but no response arrived; it may have taken effect"
                ),
            )
        } else if e.is_timeout() {
            Error::new(ErrorKind::Timeout, format!("{op}: timed out")).temporary()
        } else {
            Error::new(ErrorKind::Transport, format!("{op}: {}", describe(&e))).temporary()
        };
        err.with_context("provider", self.provider).with_context("op", op).with_source(e)
    }

    /// Exponential backoff with equal jitter: half fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_initial_ms
            .saturating_mul(1u64 << (attempt - 1).min(20))
            .min(self.config.backoff_max_ms);
        Duration::from_millis(exp / 2 + fastrand::u64(0..=exp / 2))
    }
}

/// The innermost cause, which is where reqwest keeps the useful words ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, e) { e.to_string() } else { format!("{e}: {cause}") }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a past date means now");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let t = Transport::new(
            "test",
            &TransportConfig {
                backoff_initial_ms: 100,
                backoff_max_ms: 1000,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..50 {
            let first = t.backoff(1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = t.backoff(3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let capped = t.backoff(30).as_millis();
            assert!((500..=1000).contains(&capped), "{capped}");
        }
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let bad_proxy =
            TransportConfig { proxy: Some(Secret::new("::not a url::")), ..Default::default() };
        let err = Transport::new("test", &bad_proxy).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.to_string().contains("not a url"), "the proxy URL is a secret: {err}");
        let missing_ca = TransportConfig {
            extra_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert_eq!(Transport::new("test", &missing_ca).unwrap_err().kind(), ErrorKind::Config);
    }
}
