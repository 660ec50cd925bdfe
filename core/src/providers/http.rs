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

/// Writes `entries` (name, bytes; names already plain and unique) into `sink` as one zip, for a
/// download the provider serves as several files. Built in memory: each entry was read within
/// the transport's file limit.
pub async fn zip_into(entries: &[(String, Vec<u8>)], sink: Sink<'_>) -> Result<DownloadInfo> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let zip_error = |e: &dyn std::fmt::Display| Error::internal(format!("building the zip: {e}"));
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).map_err(|e| zip_error(&e))?;
        zip.write_all(bytes).map_err(|e| zip_error(&e))?;
    }
    let bytes = zip.finish().map_err(|e| zip_error(&e))?.into_inner();
    sink.write_all(&bytes).await.map_err(sink_error)?;
    sink.flush().await.map_err(sink_error)?;
    Ok(DownloadInfo {
        file_name: None,
        media_type: Some("application/zip".into()),
        size: bytes.len() as u64,
    })
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
    // A careless server sends a name's UTF-8 bytes as they are: take them as UTF-8.
    String::from_utf8(headers.get(name)?.as_bytes().to_vec()).ok()
}

/// The file name a `Content-Disposition` gives, unsanitized (see [`crate::names::file_name`]):
/// `filename*` (RFC 6266 / RFC 5987 `UTF-8''%..`) first, else `filename` (quoted or not), whose
/// RFC 2047 encoded words (`=?utf-8?B?…?=`, `?Q?`) are decoded (SINtegre's proxy, `sintegre.md`
/// §4).
pub(crate) fn disposition_file_name(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for (name, raw) in disposition_params(value) {
        if name.eq_ignore_ascii_case("filename*") {
            extended = extended.or_else(|| ext_value(&raw));
        } else if name.eq_ignore_ascii_case("filename") {
            plain = plain.or(Some(raw));
        }
    }
    extended.or_else(|| plain.map(|p| encoded_words(&p))).filter(|n| !n.trim().is_empty())
}

/// The `name=value` parameters after the disposition type, quoted values unquoted.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = value.split_once(';').map_or("", |(_, r)| r);
    while let Some((name, after)) = rest.split_once('=') {
        let name = name.trim().trim_start_matches(';').trim().to_owned();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            let next = quoted[end..].split_once(';').map_or("", |(_, r)| r);
            (out, next)
        } else {
            let (v, next) = after.split_once(';').unwrap_or((after, ""));
            (v.trim().to_owned(), next)
        };
        params.push((name, value));
        rest = next;
    }
    params
}

/// RFC 5987 `charset'lang'pct-encoded`; UTF-8 and ISO-8859-1 are the charsets it names.
fn ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let (charset, _lang, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = percent_decode(encoded)?;
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    } else {
        None
    }
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `text` with its RFC 2047 encoded words (`=?charset?B|Q?data?=`) decoded; a word that does
/// not decode is kept as written, and the blanks between two encoded words are dropped.
fn encoded_words(text: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    let mut rest = text;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let decoded = rest[start + 2..].splitn(4, '?').collect::<Vec<_>>();
        let word = match decoded.as_slice() {
            [charset, enc, data, tail] if tail.starts_with('=') => {
                let bytes = if enc.eq_ignore_ascii_case("b") {
                    base64::engine::general_purpose::STANDARD.decode(data).ok()
                } else if enc.eq_ignore_ascii_case("q") {
                    percent_decode(&data.replace('_', " ").replace('=', "%"))
                } else {
                    None
                };
                let text = bytes.and_then(|b| {
                    if charset.eq_ignore_ascii_case("utf-8") {
                        String::from_utf8(b).ok()
                    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
                        Some(b.iter().map(|&b| char::from(b)).collect())
                    } else {
                        None
                    }
                });
                // `=?` charset `?` enc `?` data `?=`
                text.map(|t| (t, start + charset.len() + enc.len() + data.len() + 6))
            }
            _ => None,
        };
        match word {
            Some((word, len)) => {
                let between = &rest[..start];
                if !(after_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&word);
                rest = &rest[len..];
                after_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
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
        let name = |v: &str| disposition_file_name(v);
        assert_eq!(name(r#"attachment; filename="contrato.pdf""#).as_deref(), Some("contrato.pdf"));
        assert_eq!(
            name("attachment; filename=psat_24022025.txt").as_deref(),
            Some("psat_24022025.txt")
        );
        assert_eq!(name("inline"), None);
        assert_eq!(name("attachment; filename=\"\""), None);
        // RFC 6266: filename* wins over the ASCII fallback, wherever it stands.
        assert_eq!(
            name(
                "attachment; filename*=UTF-8''loca%C3%A7%C3%A3o%20%221%22.pdf; filename=\"x.pdf\""
            )
            .as_deref(),
            Some("locação \"1\".pdf")
        );
        assert_eq!(
            name("attachment; filename*=iso-8859-1'pt'a%E7%E3o.pdf").as_deref(),
            Some("ação.pdf")
        );
        // RFC 2047 in a plain filename (SINtegre's proxy, sintegre.md §4).
        assert_eq!(
            name("attachment; filename=\"=?utf-8?B?Tm90YXMgVMOpY25pY2FzLnppcA==?=\"").as_deref(),
            Some("Notas Técnicas.zip")
        );
        assert_eq!(
            name("attachment; filename=\"=?ISO-8859-1?Q?a=E7=E3o?= =?utf-8?Q?_x.pdf?=\"")
                .as_deref(),
            Some("ação x.pdf")
        );
        assert_eq!(
            name("attachment; filename=\"=?bogus?X?y?=.pdf\"").as_deref(),
            Some("=?bogus?X?y?=.pdf")
        );
        assert_eq!(name(r#"attachment; filename="a \"q\".pdf""#).as_deref(), Some("a \"q\".pdf"));
        // Whatever a server sends, the parser answers (or not) and never panics.
        for odd in [
            "",
            ";",
            "=",
            "attachment; filename",
            "attachment; filename=\"",
            "filename*=",
            "attachment; filename*=UTF-8''%",
            "attachment; filename*=UTF-8''%zz%e2%82",
            "attachment; filename*=x''a",
            "attachment; filename==?",
            "a; filename=\"=?u?B?\"",
            "a; filename==?utf-8?B?@@@?=",
            "a; filename==?utf-8?Q?=E2=82?=",
            "a; filename=\"\\",
            "a; filename==?=?=?utf-8?b?YQ==?=?=",
        ] {
            let _ = name(odd);
        }
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(body_excerpt(b"<html>\n  Bad\tGateway </html>"), "<html> Bad Gateway </html>");
        assert_eq!(body_excerpt(&[b'x'; 1000]).len(), 300);
    }
}
