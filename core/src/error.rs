//! The one error type of signbridge.
//!
//! Every failure carries a [`ErrorKind`] with a stable numeric code (shared by the C ABI and the
//! Python exception hierarchy), the HTTP status and the provider's own message when there was a
//! response, whether retrying can help, and a few context pairs (provider, operation, field).
//! Messages never contain secrets or document bytes.

use std::fmt;
use std::time::Duration;

use crate::model::Handle;

/// What went wrong, with a stable numeric code.
///
/// Codes come in append-only blocks (1–99 are reserved for ABI misuse in the bindings):
/// 100s configuration, 200s authentication, 300s refused by the provider or by local validation,
/// 400s rate limiting and transport, 500s provider misbehaviour, 600s journal,
/// 700s host signing, 900s internal.
/// A number is never reused; new kinds are appended at the end of their block.
///
/// Deliberately not `#[non_exhaustive]`: every binding maps kinds with an exhaustive `match`,
/// so a new kind does not compile until each binding has decided its code and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The client configuration is incomplete or inconsistent.
    Config,
    /// The provider cannot do what was asked (e.g. a download kind it does not have).
    Unsupported,
    /// Credentials were refused, or a token could not be obtained.
    Auth,
    /// The request is invalid: caught locally before any request, or refused by the provider.
    Validation,
    /// The document (or another object) does not exist at the provider.
    NotFound,
    /// The object is in a state that does not allow the operation (e.g. cancel a finished one).
    Conflict,
    /// The provider asked to slow down and the wait was longer than allowed.
    RateLimited,
    /// The connection failed or broke.
    Transport,
    /// The operation did not finish within its deadline.
    Timeout,
    /// A write may or may not have taken effect: the response was lost after the request was sent.
    OutcomeUnknown,
    /// The provider answered something unexpected (5xx after retries, a body that does not parse).
    Provider,
    /// A bug in signbridge.
    Internal,
    /// The host's signer is missing or failed (its message is the provider message).
    Signing,
    /// The journal (the local store of intents, sessions and budgets) cannot be opened, read or
    /// written; the message names its file.
    Journal,
}

impl ErrorKind {
    /// Every kind, in code order: bindings use it to check that each kind is mapped.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Config,
        ErrorKind::Unsupported,
        ErrorKind::Auth,
        ErrorKind::Validation,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::OutcomeUnknown,
        ErrorKind::Provider,
        ErrorKind::Journal,
        ErrorKind::Signing,
        ErrorKind::Internal,
    ];

    /// The stable numeric code.
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::Config => 100,
            ErrorKind::Unsupported => 101,
            ErrorKind::Auth => 200,
            ErrorKind::Validation => 300,
            ErrorKind::NotFound => 301,
            ErrorKind::Conflict => 302,
            ErrorKind::RateLimited => 400,
            ErrorKind::Transport => 401,
            ErrorKind::Timeout => 402,
            ErrorKind::OutcomeUnknown => 403,
            ErrorKind::Provider => 500,
            ErrorKind::Journal => 600,
            ErrorKind::Signing => 700,
            ErrorKind::Internal => 900,
        }
    }

    /// The kind with that code, if any.
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// A short snake_case name, stable like the code.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Auth => "auth",
            ErrorKind::Validation => "validation",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Provider => "provider",
            ErrorKind::Journal => "journal",
            ErrorKind::Signing => "signing",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Trying again will fail the same way.
    Permanent,
    /// Trying again later may succeed.
    Temporary,
    /// It was temporary, and the retries allowed have been spent.
    Persistent,
}

/// The signbridge error.
pub struct Error {
    kind: ErrorKind,
    message: String,
    retry: Retry,
    http_status: Option<u16>,
    provider_message: Option<String>,
    retry_after: Option<Duration>,
    /// The provider refused the session or token itself (it expired, was revoked): a new
    /// login may cure it. Set by the provider's reply classification.
    session_refused: bool,
    handle: Option<Box<Handle>>,
    context: Vec<(&'static str, String)>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            retry: Retry::Permanent,
            http_status: None,
            provider_message: None,
            retry_after: None,
            session_refused: false,
            handle: None,
            context: Vec::new(),
            source: None,
        }
    }

    /// A local validation failure naming the offending field (`documents[0].content`).
    pub fn validation(field: impl Into<String>, message: impl fmt::Display) -> Error {
        let field = field.into();
        Error::new(ErrorKind::Validation, format!("{field}: {message}"))
            .with_context("field", field)
    }

    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    pub fn temporary(mut self) -> Self {
        self.retry = Retry::Temporary;
        self
    }

    /// Marks a temporary error as one whose retries were spent.
    pub fn persistent(mut self) -> Self {
        if self.retry == Retry::Temporary {
            self.retry = Retry::Persistent;
        }
        self
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub fn with_provider_message(mut self, message: impl Into<String>) -> Self {
        let message = message.into();
        if !message.is_empty() {
            self.provider_message = Some(message);
        }
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Marks the error as the provider refusing the session or token: the transport then logs
    /// in again once and retries, where the provider allows a new login.
    pub fn session_refused(mut self) -> Self {
        self.session_refused = true;
        self
    }

    pub fn is_session_refused(&self) -> bool {
        self.session_refused
    }

    /// The error of a write whose request may have reached the provider and whose answer was
    /// neither a clear success nor a clear refusal: [`ErrorKind::OutcomeUnknown`], keeping the
    /// status, the provider's message, the context and any handle.
    pub fn outcome_unknown(mut self) -> Self {
        if self.kind != ErrorKind::OutcomeUnknown {
            self.kind = ErrorKind::OutcomeUnknown;
            self.message.push_str("; the write may have taken effect");
        }
        self.retry = Retry::Permanent;
        self
    }

    /// Attaches the handle the operation was about (e.g. the document whose publish outcome is unknown).
    pub fn with_handle(mut self, handle: Handle) -> Self {
        self.handle = Some(Box::new(handle));
        self
    }

    /// Adds a context pair; an existing key is replaced.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        match self.context.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.context.push((key, value)),
        }
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Changes the kind, keeping everything else (e.g. a transport error on a write becomes
    /// `OutcomeUnknown`).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    /// signbridge's own description, without the provider message.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry(&self) -> Retry {
        self.retry
    }

    pub fn is_temporary(&self) -> bool {
        self.retry == Retry::Temporary
    }

    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    pub fn provider_message(&self) -> Option<&str> {
        self.provider_message.as_deref()
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub fn handle(&self) -> Option<&Handle> {
        self.handle.as_deref()
    }

    pub fn context(&self, key: &str) -> Option<&str> {
        self.context.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// The field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        self.context("field")
    }

    /// The error as the JSON object bindings hand to hosts (per-handle batch results, CLI):
    /// `code`, `kind`, `message`, `http_status`, `provider_message`, `retry_after_ms`, `field`,
    /// `handle`; absent values are null.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code(),
            "kind": self.kind.name(),
            "message": self.to_string(),
            "http_status": self.http_status,
            "provider_message": self.provider_message,
            "retry_after_ms": self.retry_after.map(|d| d.as_millis() as u64),
            "field": self.field(),
            "handle": self.handle,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(pm) = &self.provider_message {
            write!(f, ": {pm}")?;
        }
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        let shown: Vec<String> = self
            .context
            .iter()
            .filter(|(k, _)| *k != "field")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !shown.is_empty() {
            write!(f, " [{}]", shown.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("retry", &self.retry)
            .field("http_status", &self.http_status)
            .field("provider_message", &self.provider_message)
            .field("retry_after", &self.retry_after)
            .field("session_refused", &self.session_refused)
            .field("handle", &self.handle)
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "duplicate code {}", kind.code());
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
    }

    #[test]
    fn codes_are_stable() {
        // These numbers are part of the C ABI and the Python API: never change them.
        assert_eq!(ErrorKind::Auth.code(), 200);
        assert_eq!(ErrorKind::Validation.code(), 300);
        assert_eq!(ErrorKind::RateLimited.code(), 400);
        assert_eq!(ErrorKind::OutcomeUnknown.code(), 403);
        assert_eq!(ErrorKind::Provider.code(), 500);
    }

    #[test]
    fn display_includes_provider_message_status_and_context() {
        let e = Error::new(ErrorKind::NotFound, "document not found")
            .with_http_status(404)
            .with_provider_message("Documento não encontrado.")
            .with_context("provider", "tae");
        assert_eq!(
            e.to_string(),
            "document not found: Documento não encontrado. (HTTP 404) [provider=tae]"
        );
    }

    #[test]
    fn json_form_carries_everything_a_host_needs() {
        let handle =
            Handle { provider: "tae".into(), account: "a".into(), id: "7".into(), reference: None };
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_http_status(429)
            .with_retry_after(Duration::from_millis(1500))
            .with_handle(handle);
        let j = e.to_json();
        assert_eq!(j["code"], 400);
        assert_eq!(j["kind"], "rate_limited");
        assert_eq!(j["http_status"], 429);
        assert_eq!(j["retry_after_ms"], 1500);
        assert_eq!(j["handle"]["id"], "7");
        assert!(j["provider_message"].is_null() && j["field"].is_null());
        assert_eq!(Error::validation("title", "empty").to_json()["field"], "title");
    }

    #[test]
    fn validation_names_the_field() {
        let e = Error::validation("parties[1].email", "duplicate e-mail");
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(e.field(), Some("parties[1].email"));
        assert_eq!(e.to_string(), "parties[1].email: duplicate e-mail");
    }

    #[test]
    fn persistent_only_follows_temporary() {
        let e = Error::new(ErrorKind::Transport, "x").persistent();
        assert_eq!(e.retry(), Retry::Permanent);
        let e = Error::new(ErrorKind::Transport, "x").temporary().persistent();
        assert_eq!(e.retry(), Retry::Persistent);
    }
}
