//! The request log: every provider request in arrival order, with a readable, secret-free
//! summary of its body, so tests can check exactly what a client sent.

use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart};
use axum::http::{HeaderMap, Request, header};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::model::RecordedRequest;

/// Text longer than this (a multipart value, a JSON string such as a base64 file) is cut in the
/// log, so files are never copied into it.
const MAX_LOGGED_TEXT: usize = 512;

#[derive(Default)]
pub(crate) struct RequestLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    /// Sequence number (stable while the log is cleared under a running request) and entry.
    entries: Vec<(u64, RecordedRequest)>,
}

impl RequestLog {
    /// Appends a request on arrival; returns the handle to complete it with [`Self::finish`].
    pub fn start(&self, entry: RecordedRequest) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.entries.push((seq, entry));
        seq
    }

    /// Notes the fault that fired on a request.
    pub fn set_fault(&self, seq: u64, fault: u64) {
        self.update(seq, |entry| entry.fault = Some(fault));
    }

    /// Notes the kind chaos fired on a request.
    pub fn set_chaos(&self, seq: u64, kind: String) {
        self.update(seq, |entry| entry.chaos = Some(kind));
    }

    /// Notes the status answered (nothing to note when the connection was dropped instead).
    pub fn finish(&self, seq: u64, status: u16) {
        self.update(seq, |entry| entry.status = Some(status));
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().entries.iter().map(|(_, entry)| entry.clone()).collect()
    }

    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    fn update(&self, seq: u64, change: impl FnOnce(&mut RecordedRequest)) {
        let mut inner = self.lock();
        // Recent requests are at the end; an entry cleared meanwhile is simply gone.
        if let Some((_, entry)) = inner.entries.iter_mut().rev().find(|(s, _)| *s == seq) {
            change(entry);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update is a single assignment, so a poisoned lock still holds a consistent log.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the log shows of a request body (see [`RecordedRequest`]).
pub(crate) async fn summarize_body(headers: &HeaderMap, body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return summarize_multipart(&content_type, body.clone()).await;
    }
    // Servers like TAE's bind JSON whatever the declared type, so anything that parses is shown.
    if let Some(value) = summarize_json(body) {
        return redact(value);
    }
    json!({ "content_type": content_type, "size": body.len() })
}

async fn summarize_multipart(content_type: &str, body: Bytes) -> Value {
    let size = body.len();
    let request =
        Request::builder().header(header::CONTENT_TYPE, content_type).body(Body::from(body));
    let Ok(request) = request else {
        return json!({ "content_type": content_type, "size": size });
    };
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(e) => return json!({ "multipart_error": e.body_text(), "size": size }),
    };
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return json!({ "multipart": parts, "multipart_error": e.body_text() }),
        };
        let mut part = Map::new();
        part.insert("name".into(), json!(field.name().unwrap_or("")));
        let file_name = field.file_name().map(str::to_owned);
        if let Some(file_name) = &file_name {
            part.insert("filename".into(), json!(file_name));
        }
        if let Some(part_type) = field.content_type() {
            part.insert("content_type".into(), json!(part_type));
        }
        match field.bytes().await {
            Ok(bytes) => {
                part.insert("size".into(), json!(bytes.len()));
                if file_name.is_none() {
                    let text = String::from_utf8_lossy(&bytes);
                    let text: String = text.chars().take(MAX_LOGGED_TEXT).collect();
                    part.insert("value".into(), json!(text));
                }
            }
            Err(e) => {
                part.insert("error".into(), json!(e.body_text()));
            }
        }
        parts.push(Value::Object(part));
    }
    json!({ "multipart": parts })
}

/// The JSON body with long strings cut (see [`cut`]), read in one pass so a large upload is not
/// copied first; `None` when the body is not JSON.
fn summarize_json(body: &[u8]) -> Option<Value> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let value = Summary.deserialize(&mut json).ok()?;
    json.end().ok()?;
    Some(value)
}

/// A string as the log keeps it: whole up to [`MAX_LOGGED_TEXT`] bytes, else its start and its
/// size (`"JVBERi0xLjcK…(5592408 bytes)"`).
fn cut(text: &str) -> String {
    if text.len() <= MAX_LOGGED_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_LOGGED_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &text[..end], text.len())
}

/// Builds a `Value` like serde_json does, cutting strings as it goes.
struct Summary;

impl<'de> DeserializeSeed<'de> for Summary {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Summary {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(cut(text)))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Summary)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Summary)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Replaces values of secret-looking keys (any depth, any casing) with `"***"`.
fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let lower = key.to_ascii_lowercase();
                    let secret = ["password", "senha", "secret", "token"]
                        .iter()
                        .any(|word| lower.contains(word));
                    let value =
                        if secret && !value.is_null() { json!("***") } else { redact(value) };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn json_bodies_are_redacted_at_any_depth() {
        let body = Bytes::from_static(
            br#"{"UserName":"a","Password":"p","nested":[{"refreshToken":"t","ok":1}]}"#,
        );
        let summary = summarize_body(&headers("application/json"), &body).await;
        assert_eq!(
            summary,
            json!({"UserName":"a","Password":"***","nested":[{"refreshToken":"***","ok":1}]})
        );
    }

    #[tokio::test]
    async fn multipart_is_summarised_without_file_bytes() {
        let body = Bytes::from_static(
            b"--XYZ\r\nContent-Disposition: form-data; name=\"NomeEnvelope\"\r\n\r\nContrato\r\n\
              --XYZ\r\nContent-Disposition: form-data; name=\"Envelope\"; filename=\"c.pdf\"\r\n\
              Content-Type: application/pdf\r\n\r\n%PDF-1.7 abc\r\n--XYZ--\r\n",
        );
        let summary = summarize_body(&headers("multipart/form-data; boundary=XYZ"), &body).await;
        assert_eq!(
            summary,
            json!({"multipart": [
                {"name": "NomeEnvelope", "size": 8, "value": "Contrato"},
                {"name": "Envelope", "filename": "c.pdf", "content_type": "application/pdf", "size": 12}
            ]})
        );
    }

    #[tokio::test]
    async fn long_json_strings_are_cut_to_their_start_and_size() {
        let file = "A".repeat(MAX_LOGGED_TEXT * 4);
        let body = serde_json::to_vec(&json!({"documentos": [{"nome": "a.pdf", "arquivo": file}],
                                               "n": 1.5, "ok": true, "none": null}))
        .unwrap();
        let summary = summarize_body(&headers("application/json"), &Bytes::from(body)).await;
        let logged = summary["documentos"][0]["arquivo"].as_str().unwrap();
        assert_eq!(logged, format!("{}…({} bytes)", "A".repeat(MAX_LOGGED_TEXT), file.len()));
        assert_eq!(summary["documentos"][0]["nome"], "a.pdf");
        assert_eq!((summary["n"].clone(), summary["ok"].clone()), (json!(1.5), json!(true)));
        assert_eq!(summary["none"], Value::Null);
        assert_eq!(cut(&"é".repeat(MAX_LOGGED_TEXT)).chars().filter(|c| *c == 'é').count(), 256);
    }

    #[tokio::test]
    async fn other_bodies_are_described() {
        assert_eq!(summarize_body(&HeaderMap::new(), &Bytes::new()).await, Value::Null);
        let summary =
            summarize_body(&headers("application/pdf"), &Bytes::from_static(b"%PDF")).await;
        assert_eq!(summary, json!({"content_type": "application/pdf", "size": 4}));
    }

    #[test]
    fn log_keeps_order_and_updates_by_handle() {
        let log = RequestLog::default();
        let entry = |path: &str| RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            query: None,
            status: None,
            body: Value::Null,
            rpc_method: None,
            fault: None,
            chaos: None,
        };
        let a = log.start(entry("/a"));
        let b = log.start(entry("/b"));
        log.finish(b, 200);
        log.set_fault(a, 7);
        let snapshot = log.snapshot();
        assert_eq!(snapshot[0].path, "/a");
        assert_eq!((snapshot[0].status, snapshot[0].fault), (None, Some(7)));
        assert_eq!(snapshot[1].status, Some(200));
        log.clear();
        log.finish(a, 500);
        assert!(log.snapshot().is_empty());
    }
}
