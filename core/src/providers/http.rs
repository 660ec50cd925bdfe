//! HTTP pieces every provider shares: turning a failed reply into a classified [`Error`] by
//! its status, and streaming a file link into a download sink.

use futures::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderMap, HeaderName};
use tokio::io::AsyncWriteExt as _;

pub use crate::download::sink_error;
use crate::error::{Error, ErrorKind, Result};
use crate::model::DownloadInfo;
use crate::provider::Sink;
use crate::transport::{Call, Classify, Idempotency, Reply, Transport};

/// The error for a failed reply, its kind read from the HTTP status: 400 is `bad_request`
/// (what a 400 means differs by operation), 401 a refused session, 403 auth, 404 not found,
/// 409/422 conflict, 429 rate limited (with any `Retry-After`), 408 and 5xx but 501 a
/// temporary provider failure. Carries the status and the provider's message.
pub fn reply_error(
    provider: &'static str,
    op: &'static str,
    reply: &Reply,
    bad_request: ErrorKind,
    provider_message: String,
) -> Error {
    let status = reply.status;
    let (kind, what) = match status {
        StatusCode::BAD_REQUEST => (bad_request, "refused the request"),
        StatusCode::UNAUTHORIZED => (ErrorKind::Auth, "refused the credentials"),
        StatusCode::FORBIDDEN => (ErrorKind::Auth, "denied permission"),
        StatusCode::NOT_FOUND => (ErrorKind::NotFound, "does not know this document"),
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
            (ErrorKind::Conflict, "refused it in the document's current state")
        }
        StatusCode::TOO_MANY_REQUESTS => (ErrorKind::RateLimited, "asked to slow down"),
        s if s.is_success() => (ErrorKind::Provider, "reported a failure"),
        s if s.is_redirection() => (ErrorKind::Provider, "redirected to another origin"),
        _ => (ErrorKind::Provider, "failed"),
    };
    let mut err = Error::new(kind, format!("{op}: {provider} {what}"))
        .with_http_status(status.as_u16())
        .with_provider_message(provider_message)
        .with_context("provider", provider)
        .with_context("op", op);
    let temporary = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED);
    if temporary {
        err = err.temporary();
    }
    if status == StatusCode::UNAUTHORIZED {
        err = err.session_refused();
    }
    if let Some(wait) = reply.retry_after() {
        err = err.with_retry_after(wait);
    }
    err
}

/// Keeps what a reply's status says about retrying (rate limit, refused session, temporary)
/// when a provider reads a more precise kind from its body: a 429 stays rate limited whatever
/// error code its body carries.
pub fn refine(err: Error, kind: ErrorKind) -> Error {
    if err.kind() == ErrorKind::RateLimited || err.is_session_refused() {
        err
    } else {
        err.with_kind(kind)
    }
}

/// Reads replies by their status alone: for pre-signed file links, whose bodies belong to a
/// storage service rather than the provider's API.
pub struct ByStatus(pub &'static str);

impl Classify for ByStatus {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply_error(self.0, op, reply, ErrorKind::Provider, body_excerpt(&reply.body)))
        }
    }
}

/// Joins a base URL and a path, tolerating a trailing `/` on the base (RM and Protheus both
/// store bases with and without one).
pub fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Checks that setting `name` of `provider` is an http(s) URL.
pub fn check_base_url(provider: &str, name: &str, value: &str) -> Result<()> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(Error::config(format!(
            "settings.{name} for provider {provider} must be an http(s) URL, got {value:?}"
        ))),
    }
}

/// A bounded, single-line excerpt of a body that is not the expected JSON.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

/// A success reply whose body is not what the provider documents.
pub fn unexpected(provider: &'static str, op: &'static str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Provider, format!("{op}: unexpected response from {provider}: {e}"))
        .with_context("provider", provider)
        .with_context("op", op)
}

/// Decodes a JSON reply the provider classified as a success; a body that does not fit is
/// [`Reply::malformed`] (for a write: the outcome is unknown).
pub fn decode<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T> {
    serde_json::from_slice(&reply.body).map_err(|e| reply.malformed(e))
}

/// Whether `id` is a GUID (`8-4-4-4-12` hex digits), the only kind of id ArqSign and iDocs
/// give, and so one that can go into a URL path as it is.
pub fn is_guid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() }
        })
}

/// A GUID a reply gave (a new document's id, a blob's), checked before it is kept or put into
/// a URL: `../admin` from a hostile provider must not lead a later request elsewhere.
pub fn reply_guid(reply: &Reply, field: &str, id: String) -> Result<String> {
    if is_guid(&id) {
        Ok(id)
    } else {
        Err(reply.malformed(format!("{field} {:?} is not a GUID", body_excerpt(id.as_bytes()))))
    }
}

/// The id of a handle of a provider whose ids are GUIDs, checked before it goes into a URL.
pub fn handle_guid<'h>(provider: &str, handle: &'h crate::model::Handle) -> Result<&'h str> {
    if is_guid(&handle.id) {
        Ok(&handle.id)
    } else {
        Err(Error::validation(
            "handle.id",
            format!("{:?} is not a {provider} document id", handle.id),
        ))
    }
}

/// Checks the answer to a write that returns nothing the SDK needs: an empty body, or JSON
/// that `ok` accepts. Anything else (an HTML page a proxy put there, garbage, another shape)
/// is no clear success, so for a write the outcome is unknown.
pub fn acknowledged(reply: &Reply, ok: impl Fn(&serde_json::Value) -> bool) -> Result<()> {
    if reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&reply.body) {
        Ok(value) if ok(&value) => Ok(()),
        Ok(_) => {
            Err(reply.malformed(format!("not an acknowledgement: {}", body_excerpt(&reply.body))))
        }
        Err(e) => Err(reply.malformed(e)),
    }
}

/// Streams the file at `url` (a pre-signed storage link: no credentials go with it) into `sink`.
pub async fn stream_link(
    provider: &'static str,
    transport: &Transport,
    url: &str,
    file_name: Option<String>,
    sink: Sink<'_>,
) -> Result<DownloadInfo> {
    // The link is the provider's words: one that is no web address is its error, not ours.
    if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err(unexpected(provider, "download", "the file's link is not an http(s) URL"));
    }
    let response = transport
        .execute_streaming(Call::new("download", Idempotency::Read, &ByStatus(provider), &|http| {
            http.get(url)
        }))
        .await?;
    stream_into(provider, response, file_name, transport.config().max_file_reply_bytes, sink).await
}

/// Streams a successful response's body into `sink` (at most `limit` bytes); the name comes
/// from its `Content-Disposition` when it has one, else `file_name`.
pub async fn stream_into(
    provider: &'static str,
    response: reqwest::Response,
    mut file_name: Option<String>,
    limit: u64,
    sink: Sink<'_>,
) -> Result<DownloadInfo> {
    let media_type = header_text(response.headers(), CONTENT_TYPE);
    if let Some(name) = header_text(response.headers(), CONTENT_DISPOSITION)
        .as_deref()
        .and_then(disposition_file_name)
    {
        file_name = Some(name);
    }
    let mut body = Chunks::new(provider, response, limit);
    while let Some(chunk) = body.next().await? {
        sink.write_all(&chunk).await.map_err(sink_error)?;
    }
    Ok(DownloadInfo { file_name, media_type, size: body.read })
}

/// The body of a streamed download, chunk by chunk: a connection that breaks is `transport`,
/// one that falls silent `timeout` (both temporary, as for any read), and a body past `limit`
/// bytes in all is refused, so that a provider cannot fill the host's disk.
pub struct Chunks {
    provider: &'static str,
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    limit: u64,
    pub read: u64,
}

impl Chunks {
    pub fn new(provider: &'static str, response: reqwest::Response, limit: u64) -> Chunks {
        Chunks { provider, stream: response.bytes_stream().boxed(), limit, read: 0 }
    }

    pub async fn next(&mut self) -> Result<Option<bytes::Bytes>> {
        let Some(chunk) = self.stream.next().await else { return Ok(None) };
        let chunk = chunk.map_err(|e| {
            let e = e.without_url(); // a link can carry a signed token
            let err = if e.is_timeout() {
                Error::new(ErrorKind::Timeout, "download: timed out reading the file")
            } else {
                Error::new(ErrorKind::Transport, format!("download: {e}"))
            };
            err.temporary().with_context("provider", self.provider).with_source(e)
        })?;
        self.read += chunk.len() as u64;
        if self.read > self.limit {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "download: the file is more than {} bytes (transport.max_file_reply_bytes)",
                    self.limit
                ),
            )
            .with_context("provider", self.provider));
        }
        Ok(Some(chunk))
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// `attachment; filename="contrato.pdf"` → `contrato.pdf`.
fn disposition_file_name(value: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|p| {
        let name = p.strip_prefix("filename=")?;
        Some(name.trim_matches('"').to_string()).filter(|n| !n.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Default::default(),
            provider: "p",
            op: "op",
            idempotency: crate::transport::Idempotency::Read,
        }
    }

    #[test]
    fn kinds_follow_the_status() {
        let kind =
            |s| reply_error("p", "op", &reply(s), ErrorKind::Validation, String::new()).kind();
        assert_eq!(kind(400), ErrorKind::Validation);
        assert_eq!(kind(401), ErrorKind::Auth);
        assert_eq!(kind(403), ErrorKind::Auth);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(422), ErrorKind::Conflict);
        assert_eq!(kind(429), ErrorKind::RateLimited);
        assert_eq!(kind(503), ErrorKind::Provider);
        let e = reply_error("p", "op", &reply(503), ErrorKind::Validation, "x".into());
        assert_eq!(
            (e.retry(), e.http_status(), e.provider_message()),
            (crate::Retry::Temporary, Some(503), Some("x"))
        );
        let classify = |s| reply_error("p", "op", &reply(s), ErrorKind::Validation, String::new());
        assert!(classify(401).is_session_refused() && !classify(403).is_session_refused());
        assert!(classify(429).is_temporary() && classify(408).is_temporary());
        assert!(!classify(501).is_temporary() && !classify(400).is_temporary());
        let rate_limited = refine(classify(429), ErrorKind::Provider);
        assert_eq!(rate_limited.kind(), ErrorKind::RateLimited, "a body code never hides a 429");
    }

    #[test]
    fn join_tolerates_slashes() {
        assert_eq!(
            join("https://h/identityintegration/", "/v3/auth/login"),
            "https://h/identityintegration/v3/auth/login"
        );
        assert_eq!(join("https://h", "documents/v1/x"), "https://h/documents/v1/x");
    }

    #[test]
    fn base_urls_must_be_http() {
        check_base_url("p", "base_url", "https://h/x").unwrap();
        check_base_url("p", "base_url", "http://127.0.0.1:8080").unwrap();
        for bad in ["ftp://h", "h/x", ""] {
            let e = check_base_url("p", "base_url", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.to_string().contains("settings.base_url for provider p"), "{e}");
        }
    }

    #[test]
    fn content_disposition_names_the_file() {
        assert_eq!(
            disposition_file_name(r#"attachment; filename="contrato.pdf""#).as_deref(),
            Some("contrato.pdf")
        );
        assert_eq!(disposition_file_name("inline"), None);
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(body_excerpt(b"<html>\n  Bad\tGateway </html>"), "<html> Bad Gateway </html>");
        assert_eq!(body_excerpt(&[b'x'; 1000]).len(), 300);
    }
}
