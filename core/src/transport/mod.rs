//! HTTP for every provider: one reqwest client per account, timeouts, retries, rate limit and
//! credentials, put together in one place and always in the same order:
//! total deadline → retry loop → token bucket → credential → per-attempt timeout → reqwest →
//! the provider's classification of the reply.
//!
//! The provider reads each reply first ([`Classify`]): a success, or a typed error that says
//! whether it is temporary, a refused session, or a rate limit with its wait. The retry loop
//! decides on that, never on the raw HTTP status (JSON-RPC providers report failures inside a
//! 200).
//!
//! Retry rules:
//! - a refused session gives one new login and one more try, whatever the request;
//! - a rate limit (the request was refused, not processed) is waited out when its wait is
//!   within `max_retry_after_ms`, whatever the request;
//! - other temporary failures (connection errors, timeouts, 5xx) are retried with backoff and
//!   jitter for reads and for writes the provider deduplicates by a key they carry
//!   ([`Idempotency::KeyedWrite`]);
//! - a plain write is never sent again once it may have reached the server: a lost or unclear
//!   answer is [`ErrorKind::OutcomeUnknown`]. It is retried only when the connection never
//!   opened.
//!
//! Credentials go only to the account's configured origins, and no request follows a redirect
//! to another origin.

mod auth;
mod ratelimit;
mod seal;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use tokio::time::Instant;
use zeroize::Zeroize as _;

pub use auth::{
    Authenticator, FixedHeaders, Secret, Token, TokenCache, put_bearer, put_header,
    secret_json_body,
};
pub use ratelimit::RateLimiter;
pub use seal::SessionKey;

use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Journal, Window};

/// Network settings of one account. Every field has a default; [`TransportConfig::check`]
/// refuses values that make no sense, naming the field.
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
    /// The largest reply read into memory (JSON); a larger one fails before it is read whole.
    pub max_reply_bytes: u64,
    /// The largest reply that carries a file inside it (base64 in JSON), read into memory.
    pub max_file_reply_bytes: u64,
    /// Redirects followed within the same origin; a redirect to another origin is never
    /// followed.
    pub max_redirects: usize,
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
            // No client-side cap unless the provider's contract gives one (its rate windows,
            // counted in the journal) or the host asks for one; Retry-After is always honoured.
            rate_limit_per_second: 0.0,
            rate_limit_burst: 20,
            batch_concurrency: 8,
            max_reply_bytes: 16 << 20,
            // ArqSign's files may reach 100 MB, about 134 MB as base64 (contract §5.3).
            max_file_reply_bytes: 192 << 20,
            max_redirects: 5,
            user_agent: None,
        }
    }
}

/// A day: no timeout, wait or backoff of an ERP call needs more, and anything larger is a
/// unit mistake (seconds typed as milliseconds twice over).
const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;

impl TransportConfig {
    /// Refuses values that cannot work, naming the field (`transport.rate_limit_per_second`).
    pub fn check(&self) -> Result<()> {
        let field = |name: &str, problem: String| {
            Err(Error::config(format!("transport.{name}: {problem}")))
        };
        for (name, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("read_timeout_ms", self.read_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("operation_timeout_ms", self.operation_timeout_ms),
        ] {
            if value == 0 || value > MAX_DURATION_MS {
                return field(name, format!("{value} ms; between 1 and {MAX_DURATION_MS}"));
            }
        }
        for (name, value) in [
            ("backoff_initial_ms", self.backoff_initial_ms),
            ("backoff_max_ms", self.backoff_max_ms),
            ("max_retry_after_ms", self.max_retry_after_ms),
        ] {
            if value > MAX_DURATION_MS {
                return field(name, format!("{value} ms; at most {MAX_DURATION_MS}"));
            }
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return field("backoff_initial_ms", "larger than backoff_max_ms".into());
        }
        if self.max_retries > 100 {
            return field("max_retries", format!("{}; at most 100", self.max_retries));
        }
        let rate = self.rate_limit_per_second;
        // Below one request a day the bucket's arithmetic leaves the range of a Duration.
        if !rate.is_finite()
            || rate < 0.0
            || (rate > 0.0 && !(1.0 / 86_400.0..=1e6).contains(&rate))
        {
            return field(
                "rate_limit_per_second",
                format!("{rate}; 0 (no limit) or between 1/86400 and 1000000"),
            );
        }
        if self.rate_limit_burst == 0 {
            return field("rate_limit_burst", "must be at least 1".into());
        }
        if !(1..=1024).contains(&self.batch_concurrency) {
            return field(
                "batch_concurrency",
                format!("{}; between 1 and 1024", self.batch_concurrency),
            );
        }
        if self.max_reply_bytes < 1024 || self.max_file_reply_bytes < 1024 {
            return field("max_reply_bytes", "at least 1024 bytes".into());
        }
        if self.max_redirects > 20 {
            return field("max_redirects", format!("{}; at most 20", self.max_redirects));
        }
        Ok(())
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

    /// Whether the request changes something at the provider: once its retries are spent
    /// without a clear answer, whether it took effect is unknown (a keyed write's key makes
    /// repeating it safe, not its outcome known).
    pub fn writes(self) -> bool {
        matches!(self, Idempotency::Write | Idempotency::KeyedWrite)
    }
}

/// How a provider reads a reply before the transport decides what to do with it.
pub trait Classify: Send + Sync {
    /// `Ok` for a success (the provider decodes it afterwards); otherwise the typed error,
    /// marked [`Error::temporary`] when trying again may help, [`Error::session_refused`] when
    /// the session or token is dead, or of kind [`ErrorKind::RateLimited`] (with its wait) when
    /// the provider refused to process the request for now.
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()>;
}

/// Builds one attempt's request; called once per attempt, so bodies are rebuilt each time.
pub type Build<'a> = dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'a;

/// One logical call.
pub struct Call<'a> {
    pub op: &'static str,
    pub idempotency: Idempotency,
    /// Puts the account's credential on the request; None sends none (a pre-signed link).
    pub auth: Option<&'a dyn Authenticator>,
    pub classify: &'a dyn Classify,
    /// The reply carries a file inside it (base64 in JSON): `max_file_reply_bytes` bounds it.
    pub carries_file: bool,
    pub build: &'a Build<'a>,
}

impl<'a> Call<'a> {
    pub fn new(
        op: &'static str,
        idempotency: Idempotency,
        classify: &'a dyn Classify,
        build: &'a Build<'a>,
    ) -> Call<'a> {
        Call { op, idempotency, auth: None, classify, carries_file: false, build }
    }

    pub fn auth(mut self, auth: &'a dyn Authenticator) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn carrying_file(mut self) -> Self {
        self.carries_file = true;
        self
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub provider: &'static str,
    pub op: &'static str,
    pub idempotency: Idempotency,
}

impl Reply {
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// Overwrites the body (a login's reply, which holds a token) before it is freed.
    pub fn wipe(self) {
        if let Ok(mut body) = self.body.try_into_mut() {
            body.zeroize();
        }
    }

    /// The error for a reply that is not what the provider documents: [`ErrorKind::Provider`],
    /// or for a write [`ErrorKind::OutcomeUnknown`], since the write may have taken effect.
    pub fn malformed(&self, problem: impl std::fmt::Display) -> Error {
        let err = Error::new(
            ErrorKind::Provider,
            format!("{}: unexpected response from {}: {problem}", self.op, self.provider),
        )
        .with_http_status(self.status.as_u16())
        .with_context("provider", self.provider)
        .with_context("op", self.op);
        if self.idempotency.writes() { err.outcome_unknown() } else { err }
    }
}

#[cfg(test)]
impl Reply {
    /// A read's reply with this status and body, for classification tests.
    pub fn for_test(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("a valid status"),
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            provider: "test",
            op: "test",
            idempotency: Idempotency::Read,
        }
    }
}

/// The reqwest client of a transport: its timeouts, redirect policy, proxy and extra CAs.
fn http_client(
    provider: &'static str,
    config: &TransportConfig,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    let mut builder =
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .read_timeout(Duration::from_millis(config.read_timeout_ms))
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .redirect(redirects)
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
    builder.build().map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
}

/// What an attempt ends with.
enum Answer {
    Whole(Reply),
    Stream(reqwest::Response),
}

#[derive(Debug)]
pub struct Transport {
    provider: &'static str,
    http: reqwest::Client,
    limiter: RateLimiter,
    config: TransportConfig,
    /// Where credentials may go: the origins of the account's configured base URLs.
    origins: Vec<url::Origin>,
    budget: Option<Budget>,
}

/// The provider's rate windows for one account, counted in the journal so that every process
/// using the account, and every restart, shares one count.
#[derive(Debug)]
struct Budget {
    journal: Journal,
    account: String,
    windows: Vec<Window>,
}

impl Transport {
    /// A transport for `provider` whose credentials go only to the origins of `base_urls`
    /// (the account's configured endpoints).
    pub fn new(
        provider: &'static str,
        config: &TransportConfig,
        base_urls: &[&str],
    ) -> Result<Transport> {
        config.check()?;
        let origins = base_urls
            .iter()
            .map(|u| {
                url::Url::parse(u)
                    .map(|u| u.origin())
                    .map_err(|e| Error::config(format!("{provider}: base URL {u:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let max_redirects = config.max_redirects;
        // Same-origin redirects only: a credential, a re-posted body or a signed payload must
        // never reach a host the account did not name. The 3xx itself comes back to the
        // provider's classification, which reports it.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let first = attempt.previous().first().map(url::Url::origin);
            if first.is_some_and(|o| o != attempt.url().origin()) {
                attempt.stop()
            } else if attempt.previous().len() > max_redirects {
                attempt.error(format!("more than {max_redirects} redirects"))
            } else {
                attempt.follow()
            }
        });
        let http = http_client(provider, config, redirects)?;
        Ok(Transport {
            provider,
            http,
            limiter: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
            config: config.clone(),
            origins,
            budget: None,
        })
    }

    /// A transport for links a sender hands out (SINtegre's file links): no credentials go
    /// anywhere, and a redirect is followed only to a URL `allowed` accepts (the SSRF guard);
    /// any other comes back as the 3xx it is.
    pub fn for_links(
        provider: &'static str,
        config: &TransportConfig,
        allowed: impl Fn(&url::Url) -> bool + Send + Sync + 'static,
    ) -> Result<Transport> {
        config.check()?;
        let max_redirects = config.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if !allowed(attempt.url()) {
                attempt.stop()
            } else if attempt.previous().len() > max_redirects {
                attempt.error(format!("more than {max_redirects} redirects"))
            } else {
                attempt.follow()
            }
        });
        Ok(Transport {
            provider,
            http: http_client(provider, config, redirects)?,
            limiter: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
            config: config.clone(),
            origins: Vec::new(),
            budget: None,
        })
    }

    /// Counts every request of `account` against the provider's `windows` in `journal` (none:
    /// no budget). A request that would exceed a window waits for it when the wait fits in
    /// `max_retry_after_ms` and the operation's deadline, and fails as rate limited otherwise.
    pub fn with_budget(mut self, journal: Journal, account: &str, windows: Vec<Window>) -> Self {
        self.budget = (!windows.is_empty()).then(|| Budget {
            journal,
            account: account.to_string(),
            windows,
        });
        self
    }

    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// The account's rate windows counted in the journal (empty: the provider's contract
    /// gives none).
    pub fn windows(&self) -> &[Window] {
        self.budget.as_ref().map_or(&[], |b| &b.windows)
    }

    /// Whether `url` is on one of the account's configured origins (where credentials may
    /// go and whose bytes may be trusted as the provider's).
    pub fn is_configured_origin(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|u| self.origins.contains(&u.origin()))
    }

    /// Runs `call`: a reply the provider classified as a success, body read whole (bounded).
    pub async fn execute(&self, call: Call<'_>) -> Result<Reply> {
        match self.run(&call, false).await? {
            Answer::Whole(reply) => Ok(reply),
            Answer::Stream(_) => unreachable!("only streaming calls answer with a stream"),
        }
    }

    /// Runs `call` and hands back a successful (2xx) response with its body unread, for large
    /// downloads. A failure is read, classified and returned as an error.
    pub async fn execute_streaming(&self, call: Call<'_>) -> Result<reqwest::Response> {
        match self.run(&call, true).await? {
            Answer::Stream(response) => Ok(response),
            // The provider took a non-2xx reply as a success: nothing to stream.
            Answer::Whole(reply) => Err(reply.malformed(format!("HTTP {}", reply.status))),
        }
    }

    async fn run(&self, call: &Call<'_>, streaming: bool) -> Result<Answer> {
        let budget = Duration::from_millis(self.config.operation_timeout_ms);
        let deadline = Instant::now() + budget;
        match tokio::time::timeout_at(deadline, self.retry_loop(call, deadline, streaming)).await {
            Ok(result) => result,
            Err(_) => {
                let err = Error::new(
                    ErrorKind::Timeout,
                    format!("{} did not finish within {budget:?}", call.op),
                )
                .with_context("provider", self.provider)
                .with_context("op", call.op);
                Err(if call.idempotency.writes() { err.outcome_unknown() } else { err })
            }
        }
    }

    async fn retry_loop(
        &self,
        call: &Call<'_>,
        deadline: Instant,
        streaming: bool,
    ) -> Result<Answer> {
        let (op, provider) = (call.op, self.provider);
        let mut attempt: u32 = 0;
        let mut relogged = false;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            if let Some(budget) = &self.budget {
                let max_wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(self.config.max_retry_after_ms));
                budget
                    .journal
                    .acquire(provider, &budget.account, &budget.windows, max_wait)
                    .await
                    .map_err(|e| e.with_context("provider", provider).with_context("op", op))?;
            }
            let mut request = (call.build)(&self.http).build().map_err(|e| {
                Error::internal(format!("{op}: cannot build the request: {}", e.without_url()))
            })?;
            let credential = match call.auth {
                Some(auth) => {
                    if !self.origins.contains(&request.url().origin()) {
                        return Err(Error::new(
                            ErrorKind::Provider,
                            format!(
                                "{op}: refused to send the account's credentials to {}, which \
                                 is not one of its configured origins",
                                request.url().origin().ascii_serialization()
                            ),
                        )
                        .with_context("provider", provider));
                    }
                    auth.authorize(&mut request).await?
                }
                None => None,
            };
            tracing::debug!(target: "signbridge::transport", provider, op, attempt, "sending");
            let failure = match self.http.execute(request).await {
                Ok(response) if streaming && response.status().is_success() => {
                    // A file streams to its sink, bounded by the file limit as it is read;
                    // one announced larger is refused before it starts.
                    let limit = self.config.max_file_reply_bytes;
                    if let Some(size) = declared_length(response.headers()).filter(|&s| s > limit) {
                        return Err(self.too_large(
                            call,
                            response.status(),
                            size.to_string(),
                            limit,
                        ));
                    }
                    return Ok(Answer::Stream(response));
                }
                Ok(response) => {
                    let reply = self.read_reply(call, response).await?;
                    match call.classify.classify(op, &reply) {
                        Ok(()) => return Ok(Answer::Whole(reply)),
                        Err(e) => e,
                    }
                }
                Err(e) => {
                    let sent = !e.is_connect();
                    let may_retry = call.idempotency.retryable() || !sent;
                    if !may_retry || attempt > self.config.max_retries {
                        let err = self.request_error(call, e, sent);
                        return Err(if may_retry { err.persistent() } else { err });
                    }
                    let wait = self.backoff(attempt);
                    if Instant::now() + wait >= deadline {
                        return Err(self.request_error(call, e, sent));
                    }
                    tracing::info!(target: "signbridge::transport", provider, op, attempt, error = %e.without_url(), wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            if failure.is_session_refused() {
                if let Some(auth) = call.auth {
                    auth.refused(credential.as_ref()).await;
                    if !relogged && auth.can_relogin() {
                        relogged = true;
                        tracing::info!(target: "signbridge::transport", provider, op, "session refused; logging in again");
                        continue;
                    }
                }
                return Err(failure);
            }
            // A rate limit means the request was refused, not processed: any request may go again.
            let rate_limited = failure.kind() == ErrorKind::RateLimited;
            let may_retry = failure.is_temporary()
                && (rate_limited || call.idempotency.retryable())
                && attempt <= self.config.max_retries;
            if may_retry {
                let wait = failure.retry_after().unwrap_or_else(|| self.backoff(attempt));
                let waitable = wait <= Duration::from_millis(self.config.max_retry_after_ms)
                    && Instant::now() + wait < deadline;
                if waitable {
                    tracing::info!(target: "signbridge::transport", provider, op, attempt, status = failure.http_status(), wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Err(if call.idempotency.writes() && failure.is_temporary() && !rate_limited {
                failure.outcome_unknown()
            } else {
                failure.persistent()
            });
        }
    }

    /// Reads a whole reply, refusing one larger than the call's bound before reading it
    /// (by its Content-Length) or as soon as it grows past it.
    async fn read_reply(&self, call: &Call<'_>, response: reqwest::Response) -> Result<Reply> {
        let limit = if call.carries_file {
            self.config.max_file_reply_bytes
        } else {
            self.config.max_reply_bytes
        };
        let status = response.status();
        let headers = response.headers().clone();
        let too_large = |size: String| self.too_large(call, status, size, limit);
        let declared = declared_length(&headers);
        if let Some(size) = declared.filter(|&size| size > limit) {
            return Err(too_large(size.to_string()));
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(1 << 20) as usize);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.request_error(call, e, true))?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large(format!("more than {limit}")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body: Bytes::from(body),
            provider: self.provider,
            op: call.op,
            idempotency: call.idempotency,
        })
    }

    /// A reply of `size` bytes over `limit`: refused unread (for a write, its outcome is
    /// unknown).
    fn too_large(&self, call: &Call<'_>, status: StatusCode, size: String, limit: u64) -> Error {
        let err = Error::new(
            ErrorKind::Provider,
            format!("{}: the reply is {size} bytes, over the {limit}-byte limit", call.op),
        )
        .with_http_status(status.as_u16())
        .with_context("provider", self.provider)
        .with_context("op", call.op);
        if call.idempotency.writes() { err.outcome_unknown() } else { err }
    }

    /// Maps a reqwest failure. `sent`: the request may have reached the server.
    fn request_error(&self, call: &Call<'_>, e: reqwest::Error, sent: bool) -> Error {
        let (op, idempotency) = (call.op, call.idempotency);
        let e = e.without_url(); // URLs can carry signed download tokens
        let err = if sent && idempotency.writes() {
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

/// The body size a reply announces.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
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
            &[],
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
        let err = Transport::new("test", &bad_proxy, &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.to_string().contains("not a url"), "the proxy URL is a secret: {err}");
        let missing_ca = TransportConfig {
            extra_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert_eq!(Transport::new("test", &missing_ca, &[]).unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn numbers_that_cannot_work_are_config_errors_naming_the_field() {
        type Spoil = fn(&mut TransportConfig);
        let cases: [(&str, Spoil); 8] = [
            ("rate_limit_per_second", |c| c.rate_limit_per_second = 1e-300),
            ("rate_limit_per_second", |c| c.rate_limit_per_second = f64::NAN),
            ("rate_limit_per_second", |c| c.rate_limit_per_second = -1.0),
            ("rate_limit_burst", |c| c.rate_limit_burst = 0),
            ("request_timeout_ms", |c| c.request_timeout_ms = 0),
            ("operation_timeout_ms", |c| c.operation_timeout_ms = u64::MAX),
            ("batch_concurrency", |c| c.batch_concurrency = 0),
            ("backoff_initial_ms", |c| c.backoff_initial_ms = c.backoff_max_ms + 1),
        ];
        for (field, spoil) in cases {
            let mut config = TransportConfig::default();
            spoil(&mut config);
            let err = Transport::new("test", &config, &[]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{field}");
            assert!(err.to_string().contains(&format!("transport.{field}")), "{err}");
        }
        TransportConfig { rate_limit_per_second: 0.0, ..Default::default() }.check().unwrap();
    }
}
