//! A TAE webhook sender, lenient and made up (contract §7): TAE has company-level webhooks for
//! "documento finalizado, excluído, rejeitado, reaberto, assinatura realizada e muito mais", but
//! **no source shows the payload, signature or retry policy**. So everything here is a labelled
//! guess [I], shaped after the one receiver that exists (S4, itself guesswork [W]): a receiver
//! registered through a control route gets
//! `{"evento", "idDocumento", "status", "descricaoStatus", "assinante", "dataEvento"}` for each
//! change of a document, and the shared secret, when one is set, as `?token=` or in the
//! `x-webhook-secret` header (S4 accepted both).
//!
//! | Control route | Body |
//! |---|---|
//! | `POST /__sandbox/tae/webhooks` | `{"url", "secret"?, "secret_in": "query"\|"header"?, "casing": "camel"\|"pascal"?}` → `{"id"}` |
//! | `GET /__sandbox/tae/webhooks`, `DELETE /__sandbox/tae/webhooks` | receivers (secrets hidden) / none any more |
//! | `/__sandbox/tae/deliveries…` | the shared sender routes ([`crate::senders`]) |

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Tae;
use super::state::status;
use crate::control::ControlError;
use crate::senders::{DeliveryPolicy, Outgoing, Prepared, Render, Success};

/// Most receivers registered at once.
const MAX_RECEIVERS: usize = 64;

/// [I] Undocumented: any 2xx, 5 attempts 1 s, 10 s, 1 min, 5 min apart, 30 s timeout.
pub(super) fn default_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout_ms: 30_000,
        max_attempts: 5,
        backoff_ms: vec![1_000, 10_000, 60_000, 300_000],
        success: Success::Any2xx,
        give_up_statuses: Vec::new(),
        concurrency: 4,
        hold: false,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SecretIn {
    #[default]
    Query,
    Header,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Casing {
    #[default]
    Camel,
    Pascal,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Receiver {
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secret_in: SecretIn,
    #[serde(default)]
    casing: Casing,
}

#[derive(Default)]
pub(super) struct Hooks {
    receivers: Vec<(u64, Receiver)>,
    next_id: u64,
    /// Document id → (events already delivered, status last seen).
    seen: HashMap<i64, (usize, i64)>,
}

pub(super) async fn register(
    State(tae): State<Tae>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let receiver: Receiver = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))?;
    if !(receiver.url.starts_with("http://") || receiver.url.starts_with("https://")) {
        return Err(ControlError::new(StatusCode::BAD_REQUEST, "\"url\" must be an http(s) URL"));
    }
    let mut state = tae.lock();
    if state.hooks.receivers.len() >= MAX_RECEIVERS {
        let message = format!("at most {MAX_RECEIVERS} receivers");
        return Err(ControlError::new(StatusCode::BAD_REQUEST, message));
    }
    // Only changes from now on are delivered.
    let seen: Vec<(i64, (usize, i64))> =
        state.documents().map(|d| (d.id, (d.events.len(), d.status))).collect();
    for (id, mark) in seen {
        state.hooks.seen.entry(id).or_insert(mark);
    }
    state.hooks.next_id += 1;
    let id = state.hooks.next_id;
    state.hooks.receivers.push((id, receiver));
    Ok(Json(json!({ "id": id })))
}

pub(super) async fn list(State(tae): State<Tae>) -> Json<Value> {
    let state = tae.lock();
    let receivers: Vec<Value> = state
        .hooks
        .receivers
        .iter()
        .map(|(id, r)| {
            json!({
                "id": id,
                "url": r.url,
                "secret": r.secret.is_some(),
                "secret_in": r.secret_in,
                "casing": r.casing,
            })
        })
        .collect();
    Json(json!(receivers))
}

pub(super) async fn clear(State(tae): State<Tae>) -> Json<Value> {
    tae.lock().hooks.receivers.clear();
    Json(json!({}))
}

/// The made-up event name of a recorded document event.
fn event_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "published" => "documento publicado",
        "signed" => "assinatura realizada",
        "rejected" => "documento rejeitado",
        "cancelled" => "documento excluído",
        "expired" => "documento expirado",
        _ => return None,
    })
}

/// Queues a delivery to every receiver for each document event and finalization since the last
/// call. Called after every request.
pub(super) fn emit(tae: &Tae) {
    let outgoing = {
        let mut state = tae.lock();
        if state.hooks.receivers.is_empty() {
            return;
        }
        let mut changes = Vec::new();
        let mut marks = Vec::new();
        for document in state.documents() {
            let (seen, last_status) =
                state.hooks.seen.get(&document.id).copied().unwrap_or((0, status::RASCUNHO));
            for event in document.events.iter().skip(seen) {
                if let Some(name) = event_name(event.kind) {
                    changes.push((name, document.id, document.status, event.email.clone()));
                }
            }
            if document.status == status::FINALIZADO && last_status != status::FINALIZADO {
                changes.push(("documento finalizado", document.id, document.status, None));
            }
            marks.push((document.id, (document.events.len(), document.status)));
        }
        state.hooks.seen.extend(marks);
        let now = crate::aspnet::wire_utc(Utc::now());
        let mut outgoing = Vec::new();
        for (name, id, code, signer) in changes {
            let body = json!({
                "evento": name,
                "idDocumento": id,
                "status": code,
                "descricaoStatus": status::label(code),
                "assinante": signer,
                "dataEvento": now,
            });
            for (receiver_id, receiver) in &state.hooks.receivers {
                outgoing.push(delivery(*receiver_id, receiver, name, id, &body));
            }
        }
        outgoing
    };
    for outgoing in outgoing {
        tae.outbox.enqueue(outgoing);
    }
}

fn delivery(receiver_id: u64, receiver: &Receiver, name: &str, id: i64, body: &Value) -> Outgoing {
    let body = match receiver.casing {
        Casing::Camel => body.clone(),
        Casing::Pascal => pascal(body),
    };
    let mut url = receiver.url.clone();
    let mut headers =
        vec![("Content-Type".to_owned(), "application/json; charset=utf-8".to_owned())];
    match (&receiver.secret, receiver.secret_in) {
        (None, _) => {}
        (Some(secret), SecretIn::Header) => {
            headers.push(("x-webhook-secret".into(), secret.clone()))
        }
        (Some(secret), SecretIn::Query) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let encoded: String = secret
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            url = format!("{url}{separator}token={encoded}");
        }
    }
    let prepared = Prepared { url, headers, body: serde_json::to_vec(&body).unwrap_or_default() };
    let render: Render = Arc::new(move || Ok(prepared.clone()));
    Outgoing {
        event: name.to_owned(),
        tag: json!({ "receiver": receiver_id, "document": id }),
        render,
        timeout_is_success: false,
    }
}

fn pascal(body: &Value) -> Value {
    let Value::Object(map) = body else { return body.clone() };
    let renamed: Map<String, Value> = map
        .iter()
        .map(|(key, value)| {
            let mut chars = key.chars();
            let key: String =
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            (key, value.clone())
        })
        .collect();
    Value::Object(renamed)
}
