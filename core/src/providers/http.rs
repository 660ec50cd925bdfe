//! HTTP pieces every provider shares: turning a failed reply into an [`Error`] by its status,
//! and streaming a file link into a download sink.

use futures::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderMap, HeaderName};
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, ErrorKind, Result};
use crate::model::DownloadInfo;
use crate::provider::Sink;
use crate::transport::{Call, Idempotency, Reply, Transport};

/// The error for a failed reply, its kind read from the HTTP status: 400 is `bad_request`
/// (what a 400 means differs by operation), 401/403 auth, 404 not found, 409/422 conflict, 429
/// rate limited, 5xx provider (temporary: retries, if any, were spent). Carries the status, the
/// provider's message and any `Retry-After`.
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
        _ => (ErrorKind::Provider, "failed"),
    };
    let mut err = Error::new(kind, format!("{op}: {provider} {what}"))
        .with_http_status(status.as_u16())
        .with_provider_message(provider_message)
        .with_context("provider", provider)
        .with_context("op", op);
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        err = err.temporary().persistent();
    }
    if let Some(wait) = reply.retry_after() {
        err = err.with_retry_after(wait);
    }
    err
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

/// Streams the file at `url` (a pre-signed storage link: no credentials go with it) into `sink`.
pub async fn stream_link(
    provider: &'static str,
    transport: &Transport,
    url: &str,
    mut file_name: Option<String>,
    sink: Sink<'_>,
) -> Result<DownloadInfo> {
    let response = transport
        .execute_streaming(Call {
            op: "download",
            idempotency: Idempotency::Read,
            auth: None,
            build: &|http| http.get(url),
        })
        .await?;
    if !response.status().is_success() {
        return Err(Error::new(ErrorKind::Provider, "download: the file link failed")
            .with_http_status(response.status().as_u16())
            .with_context("provider", provider));
    }
    let media_type = header_text(response.headers(), CONTENT_TYPE);
    if let Some(name) = header_text(response.headers(), CONTENT_DISPOSITION)
        .as_deref()
        .and_then(disposition_file_name)
    {
        file_name = Some(name);
    }
    let mut size = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(ErrorKind::Transport, format!("download: {}", e.without_url()))
                .temporary()
                .with_context("provider", provider)
        })?;
        sink.write_all(&chunk).await.map_err(sink_error)?;
        size += chunk.len() as u64;
    }
    Ok(DownloadInfo { file_name, media_type, size })
}

pub fn sink_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("writing the download: {e}"))
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
            (crate::Retry::Persistent, Some(503), Some("x"))
        );
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
