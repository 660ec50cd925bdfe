//! SBIS control routes (`/__sandbox/sbis/…`): what the counterparty does (its operator
//! delivers, it signs or rejects), ending sessions, settings, and the documents as the account
//! sees them.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{Incoming, State as SbisState};
use super::{Sbis, SbisConfig, origin};
use crate::control::ControlError;

pub(super) fn routes() -> Router<Sbis> {
    Router::new()
        .route("/__sandbox/sbis/documents", get(list))
        .route("/__sandbox/sbis/documents/{id}", get(show))
        .route("/__sandbox/sbis/documents/{id}/deliver", post(deliver))
        .route("/__sandbox/sbis/documents/{id}/counterparty-sign", post(sign))
        .route("/__sandbox/sbis/documents/{id}/counterparty-reject", post(reject))
        .route("/__sandbox/sbis/incoming", post(incoming))
        .route("/__sandbox/sbis/service-stages", get(service_stages))
        .route("/__sandbox/sbis/sessions/expire", post(expire_sessions))
        .route("/__sandbox/sbis/calls", get(calls))
        .route("/__sandbox/sbis/calls/hold", post(hold_calls))
        .route("/__sandbox/sbis/config", get(show_config).post(set_config))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    /// A CMS (base64) recorded as the counterparty's signature; none: a simulated one.
    cms: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRequest {
    reason: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IncomingRequest {
    id: Option<String>,
    /// `Тип`; `ДокОтгрВх` when left out.
    #[serde(rename = "type")]
    kind: Option<String>,
    number: Option<String>,
    /// `{"name", "base64"}`; one sample УПД XML when left out.
    files: Option<Vec<IncomingFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncomingFile {
    name: String,
    base64: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpireRequest {
    sid: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    session_idle_secs: Option<u64>,
    verify_signatures: Option<bool>,
    service_stages: Option<bool>,
    max_calls_in_flight: Option<usize>,
    max_logins_per_minute: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    hold: bool,
}

/// A JSON body; an empty body is `T::default()`.
fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ControlError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

type Answer = Result<Json<Value>, ControlError>;

async fn list(State(sbis): State<Sbis>, headers: HeaderMap) -> Json<Vec<Value>> {
    let origin = origin(&headers);
    let state = sbis.lock();
    Json(state.documents.iter().map(|d| d.view(&origin)).collect())
}

async fn show(State(sbis): State<Sbis>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let state = sbis.lock();
    let index = state.find(&id).ok_or_else(|| {
        ControlError::new(StatusCode::NOT_FOUND, format!("no SBIS document {id}"))
    })?;
    Ok(Json(state.documents[index].view(&origin(&headers))))
}

/// Runs one change of the counterparty and answers the document after it.
fn act(
    sbis: &Sbis,
    headers: &HeaderMap,
    change: impl FnOnce(&mut SbisState) -> Result<usize, (u16, String)>,
) -> Answer {
    let mut state = sbis.lock();
    let index = change(&mut state).map_err(|(status, message)| {
        ControlError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT), message)
    })?;
    Ok(Json(state.documents[index].view(&origin(headers))))
}

async fn deliver(State(sbis): State<Sbis>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    act(&sbis, &headers, |state| state.deliver(&id, Utc::now()))
}

async fn sign(
    State(sbis): State<Sbis>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let request: SignRequest = parse(&body)?;
    let cms = request
        .cms
        .map(|text| {
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                ControlError::new(StatusCode::BAD_REQUEST, format!("cms is not base64: {e}"))
            })
        })
        .transpose()?;
    act(&sbis, &headers, |state| state.counterparty_sign(&id, cms, Utc::now()))
}

async fn reject(
    State(sbis): State<Sbis>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let request: RejectRequest = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))?;
    act(&sbis, &headers, |state| state.counterparty_reject(&id, &request.reason, Utc::now()))
}

async fn incoming(State(sbis): State<Sbis>, headers: HeaderMap, body: Bytes) -> Answer {
    let request: IncomingRequest = parse(&body)?;
    let files = match request.files {
        Some(files) => files
            .into_iter()
            .map(|file| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(file.base64.trim())
                    .map_err(|e| {
                        ControlError::new(
                            StatusCode::BAD_REQUEST,
                            format!("files[].base64 of {} is not base64: {e}", file.name),
                        )
                    })?;
                Ok((file.name, bytes))
            })
            .collect::<Result<Vec<_>, ControlError>>()?,
        None => vec![(
            "ON_NSCHFDOPPR_входящий.xml".to_owned(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Файл ИдФайл=\"входящий\" \
             Продавец=\"СК Премьер, ОАО\"/>\n"
                .as_bytes()
                .to_vec(),
        )],
    };
    if files.is_empty() {
        return Err(ControlError::new(
            StatusCode::BAD_REQUEST,
            "an incoming document needs a file",
        ));
    }
    let incoming = Incoming {
        id: request.id,
        kind: request.kind.unwrap_or_else(|| "ДокОтгрВх".to_owned()),
        number: request.number,
        files,
    };
    act(&sbis, &headers, |state| state.receive(incoming, Utc::now()))
}

/// Every service stage so far, processed or not: what the regulation required of the host.
async fn service_stages(State(sbis): State<Sbis>) -> Json<Vec<Value>> {
    let state = sbis.lock();
    let stages = state
        .documents
        .iter()
        .flat_map(|doc| {
            doc.service.iter().map(|stage| {
                json!({
                    "document": doc.id,
                    "stage": stage.id,
                    "name": stage.name,
                    "cause": stage.cause,
                    "since": stage.since.to_rfc3339(),
                    "processed": stage.processed.map(|at| at.to_rfc3339()),
                })
            })
        })
        .collect();
    Json(stages)
}

async fn expire_sessions(State(sbis): State<Sbis>, body: Bytes) -> Answer {
    let request: ExpireRequest = parse(&body)?;
    let expired = sbis.lock().expire_sessions(request.sid.as_deref());
    Ok(Json(json!({ "expired": expired })))
}

/// Work calls in flight now, over every session.
async fn calls(State(sbis): State<Sbis>) -> Json<Value> {
    Json(json!({ "in_flight": sbis.calls.in_flight() }))
}

/// Holds work calls once they took their place (or releases them), so a test can have a
/// session's calls in flight at once without timing.
async fn hold_calls(State(sbis): State<Sbis>, body: Bytes) -> Answer {
    let request: HoldRequest = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))?;
    sbis.calls.set_hold(request.hold);
    Ok(Json(json!({ "hold": request.hold, "in_flight": sbis.calls.in_flight() })))
}

async fn show_config(State(sbis): State<Sbis>) -> Json<Value> {
    Json(config_state(&sbis.lock().config))
}

async fn set_config(State(sbis): State<Sbis>, body: Bytes) -> Answer {
    let patch: ConfigPatch = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))?;
    let mut state = sbis.lock();
    let config = &mut state.config;
    if let Some(secs) = patch.session_idle_secs {
        config.session_idle = Duration::from_secs(secs);
    }
    if let Some(verify) = patch.verify_signatures {
        config.verify_signatures = verify;
    }
    if let Some(service_stages) = patch.service_stages {
        config.service_stages = service_stages;
    }
    if let Some(max) = patch.max_calls_in_flight {
        config.max_calls_in_flight = max;
    }
    if let Some(max) = patch.max_logins_per_minute {
        config.max_logins_per_minute = max;
    }
    Ok(Json(config_state(config)))
}

/// The settings in force; the password is never shown.
fn config_state(config: &SbisConfig) -> Value {
    json!({
        "session_idle_secs": config.session_idle.as_secs(),
        "verify_signatures": config.verify_signatures,
        "service_stages": config.service_stages,
        "max_calls_in_flight": config.max_calls_in_flight,
        "max_logins_per_minute": config.max_logins_per_minute,
    })
}
