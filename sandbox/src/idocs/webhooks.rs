//! iDocs WebHooks API (contract §5): the subscription upsert
//! `POST {webhooks base}/webhooks/document-events/subscription/document-status-changed-event`
//! (the base `https://webhooks.idocs.kz/api/1/` stands as `{sandbox}/idocs-webhooks/api/1`,
//! with the same bearer tokens as the API [I]), and a document-status-changed delivery to the
//! subscriber's URL each time a document's status, as that company sees it, changes.
//!
//! The payload shape is unknown (§5: "Payload shape: unknown") [I]: by default
//! `{eventId, documentId, documentStatus, createdOn}`, the shape the contract proposes for the
//! history queries; each member name can be changed, or left out with `null`, through
//! `GET`/`POST /__sandbox/idocs/webhooks/settings`. The history queries are simulator-only
//! [I]: `GET …/webhooks/document-events/history/{documentId}` and
//! `GET …/webhooks/document-events/history?from=<epoch>&to=<epoch>`. No signature is sent
//! (none is documented); the delivery policy is a guess as well: any 2xx, a few retries.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::company::CompanyIndex;
use super::refusal::Refusal;
use super::{Caller, IDocs, bind};
use crate::ids::new_guid;
use crate::senders::{DeliveryPolicy, Outgoing, Prepared, Render, Success};

/// Events kept for the history queries; older ones are forgotten.
const MAX_HISTORY: usize = 10_000;

/// [I] Not documented: any 2xx, 5 attempts 1 s, 10 s, 1 min, 5 min apart, 30 s timeout.
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

/// Member names of a delivery; `None` leaves the member out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Settings {
    event_id: Option<String>,
    document_id: Option<String>,
    document_status: Option<String>,
    created_on: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            event_id: Some("eventId".into()),
            document_id: Some("documentId".into()),
            document_status: Some("documentStatus".into()),
            created_on: Some("createdOn".into()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Event {
    event_id: String,
    document_id: String,
    document_status: Value,
    created_on: DateTime<Utc>,
    #[serde(skip)]
    company: CompanyIndex,
}

#[derive(Default)]
pub(super) struct Hooks {
    /// Company → subscription URL (one per company and event type: an upsert).
    subscriptions: HashMap<CompanyIndex, String>,
    /// (company, document id) → the status last seen.
    seen: HashMap<(CompanyIndex, String), Value>,
    history: VecDeque<Event>,
    settings: Settings,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionForm {
    subscription_url: Option<String>,
}

/// "Создает или обновляет подписку": one subscription per company, replaced on each call.
pub(super) async fn subscribe(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let form: SubscriptionForm = match bind(&body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let url = form.subscription_url.map(|u| u.trim().to_owned()).unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Refusal::validation("subscriptionUrl must be an absolute http(s) URL.")
            .into_response();
    }
    let mut state = idocs.lock();
    // Only changes from now on are delivered.
    let seen: Vec<((CompanyIndex, String), Value)> = snapshot(&state, company);
    state.hooks.seen.extend(seen);
    state.hooks.subscriptions.insert(company, url.clone());
    // [I] The answer is not documented either.
    Json(json!({ "subscriptionUrl": url, "eventType": "document-status-changed-event" }))
        .into_response()
}

/// The status of every document `company` sees.
fn snapshot(
    state: &super::state::State,
    company: CompanyIndex,
) -> Vec<((CompanyIndex, String), Value)> {
    let bin = state.companies[company].bin;
    state
        .documents
        .iter()
        .filter_map(|document| {
            let role = document.role(company, bin)?;
            let status = serde_json::to_value(document.status(role)).ok()?;
            Some(((company, document.id.clone()), status))
        })
        .collect()
}

/// Queues a delivery for every status a subscriber sees changed since the last call. Called
/// after every request.
pub(super) fn emit(idocs: &IDocs) {
    let outgoing = {
        let mut state = idocs.lock();
        if state.hooks.subscriptions.is_empty() {
            return;
        }
        let subscribers: Vec<(CompanyIndex, String)> =
            state.hooks.subscriptions.iter().map(|(c, u)| (*c, u.clone())).collect();
        let now = Utc::now();
        let mut outgoing = Vec::new();
        for (company, url) in subscribers {
            for (key, status) in snapshot(&state, company) {
                if state.hooks.seen.get(&key) == Some(&status) {
                    continue;
                }
                // Creating a draft is not a status change: a draft is seen, not sent.
                if status == json!("DRAFT") {
                    state.hooks.seen.insert(key, status);
                    continue;
                }
                let event = Event {
                    event_id: new_guid(),
                    document_id: key.1.clone(),
                    document_status: status.clone(),
                    created_on: now,
                    company,
                };
                state.hooks.seen.insert(key, status);
                outgoing.push(delivery(&state.hooks.settings, &url, &event));
                if state.hooks.history.len() == MAX_HISTORY {
                    state.hooks.history.pop_front();
                }
                state.hooks.history.push_back(event);
            }
        }
        outgoing
    };
    for outgoing in outgoing {
        idocs.outbox.enqueue(outgoing);
    }
}

fn delivery(settings: &Settings, url: &str, event: &Event) -> Outgoing {
    let mut body = Map::new();
    let members = [
        (&settings.event_id, json!(event.event_id)),
        (&settings.document_id, json!(event.document_id)),
        (&settings.document_status, event.document_status.clone()),
        (&settings.created_on, json!(crate::aspnet::wire_utc(event.created_on))),
    ];
    for (name, value) in members {
        if let Some(name) = name {
            body.insert(name.clone(), value);
        }
    }
    let prepared = Prepared {
        url: url.to_owned(),
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
    };
    let render: Render = Arc::new(move || Ok(prepared.clone()));
    Outgoing {
        event: "document-status-changed".into(),
        tag: json!({
            "company": event.company,
            "document": event.document_id,
            "status": event.document_status,
            "event_id": event.event_id,
        }),
        render,
        timeout_is_success: false,
    }
}

/// [I] Simulator-only: the events of one document the caller sees.
pub(super) async fn history_of(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(document): Path<String>,
) -> Json<Vec<Event>> {
    let document = crate::ids::normalize_guid(&document);
    let state = idocs.lock();
    Json(
        state
            .hooks
            .history
            .iter()
            .filter(|e| e.company == company && e.document_id == document)
            .cloned()
            .collect(),
    )
}

#[derive(Deserialize)]
pub(super) struct Period {
    from: Option<i64>,
    to: Option<i64>,
}

/// [I] Simulator-only: the caller's events between two Unix times (inclusive).
pub(super) async fn history(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Query(period): Query<Period>,
) -> Json<Vec<Event>> {
    let from = period.from.unwrap_or(i64::MIN);
    let to = period.to.unwrap_or(i64::MAX);
    let state = idocs.lock();
    Json(
        state
            .hooks
            .history
            .iter()
            .filter(|e| e.company == company && (from..=to).contains(&e.created_on.timestamp()))
            .cloned()
            .collect(),
    )
}

pub(super) async fn settings(State(idocs): State<IDocs>) -> Json<Settings> {
    Json(idocs.lock().hooks.settings.clone())
}

pub(super) async fn set_settings(
    State(idocs): State<IDocs>,
    body: Bytes,
) -> Result<Json<Settings>, crate::control::ControlError> {
    let settings: Settings = serde_json::from_slice(&body).map_err(|e| {
        crate::control::ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}"))
    })?;
    idocs.lock().hooks.settings = settings.clone();
    Ok(Json(settings))
}
