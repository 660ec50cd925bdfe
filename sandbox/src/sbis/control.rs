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

use super::state::State as SbisState;
use super::{Sbis, SbisConfig, origin};
use crate::control::ControlError;

pub(super) fn routes() -> Router<Sbis> {
    Router::new()
        .route("/__sandbox/sbis/documents", get(list))
        .route("/__sandbox/sbis/documents/{id}", get(show))
        .route("/__sandbox/sbis/documents/{id}/deliver", post(deliver))
        .route("/__sandbox/sbis/documents/{id}/counterparty-sign", post(sign))
        .route("/__sandbox/sbis/documents/{id}/counterparty-reject", post(reject))
        .route("/__sandbox/sbis/sessions/expire", post(expire_sessions))
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
struct ExpireRequest {
    sid: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    session_idle_secs: Option<u64>,
    verify_signatures: Option<bool>,
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

async fn expire_sessions(State(sbis): State<Sbis>, body: Bytes) -> Answer {
    let request: ExpireRequest = parse(&body)?;
    let expired = sbis.lock().expire_sessions(request.sid.as_deref());
    Ok(Json(json!({ "expired": expired })))
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
    Ok(Json(config_state(config)))
}

/// The settings in force; the password is never shown.
fn config_state(config: &SbisConfig) -> Value {
    json!({
        "session_idle_secs": config.session_idle.as_secs(),
        "verify_signatures": config.verify_signatures,
    })
}
