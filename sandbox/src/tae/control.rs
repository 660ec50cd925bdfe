//! TAE control routes (`/__sandbox/tae/…`): drive recipients, expire documents and tokens,
//! change settings, and show the full internal state of documents.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{Act, Document, Progress, Refusal, status};
use super::{DownloadUrlShape, LoginRoute, Tae, TaeConfig};
use crate::control::ControlError;
use crate::files::sha256_hex;

pub(super) fn routes() -> Router<Tae> {
    Router::new()
        .route("/__sandbox/tae/documents", get(list))
        .route("/__sandbox/tae/documents/{id}", get(show))
        .route("/__sandbox/tae/documents/{id}/sign", post(sign))
        .route("/__sandbox/tae/documents/{id}/reject", post(reject))
        .route("/__sandbox/tae/documents/{id}/expire", post(expire))
        .route("/__sandbox/tae/tokens/expire", post(expire_tokens))
        .route("/__sandbox/tae/config", get(show_config).post(set_config))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRequest {
    email: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    token_ttl_secs: Option<u64>,
    login_routes: Option<Vec<LoginRoute>>,
    cancel_status: Option<i64>,
    download_url_shape: Option<DownloadUrlShape>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

fn parse_id(id: &str) -> Result<i64, ControlError> {
    id.parse().map_err(|_| no_document(id))
}

fn no_document(id: impl std::fmt::Display) -> ControlError {
    ControlError::new(StatusCode::NOT_FOUND, format!("no TAE document {id}"))
}

/// Control routes say exactly why an action was refused: 404, 400 or 409.
impl From<Refusal> for ControlError {
    fn from(refusal: Refusal) -> ControlError {
        match refusal {
            Refusal::NotFound(message) => ControlError::new(StatusCode::NOT_FOUND, message),
            Refusal::Invalid(message) => ControlError::new(StatusCode::BAD_REQUEST, message),
            Refusal::Conflict(message) => ControlError::new(StatusCode::CONFLICT, message),
        }
    }
}

type Answer = Result<Json<Value>, ControlError>;

async fn list(State(tae): State<Tae>) -> Json<Vec<Value>> {
    Json(tae.lock().documents().map(document_state).collect())
}

async fn show(State(tae): State<Tae>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let state = tae.lock();
    let document = state.document(id).ok_or_else(|| no_document(id))?;
    Ok(Json(document_state(document)))
}

async fn sign(State(tae): State<Tae>, Path(id): Path<String>, body: Bytes) -> Answer {
    let id = parse_id(&id)?;
    let request: SignRequest = parse(&body)?;
    act(&tae, id, &request.email, Act::Sign)
}

async fn reject(State(tae): State<Tae>, Path(id): Path<String>, body: Bytes) -> Answer {
    let id = parse_id(&id)?;
    let request: RejectRequest = parse(&body)?;
    act(&tae, id, &request.email, Act::Reject { reason: request.reason })
}

fn act(tae: &Tae, id: i64, email: &str, act: Act) -> Answer {
    let mut state = tae.lock();
    let document = state.act(id, email, act, Utc::now())?;
    Ok(Json(document_state(document)))
}

async fn expire(State(tae): State<Tae>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let mut state = tae.lock();
    let document = state.expire(id, Utc::now())?;
    Ok(Json(document_state(document)))
}

async fn expire_tokens(State(tae): State<Tae>) -> Json<Value> {
    let expired = tae.lock().expire_tokens();
    Json(json!({ "expired": expired }))
}

async fn show_config(State(tae): State<Tae>) -> Json<Value> {
    Json(config_state(&tae.lock().config))
}

async fn set_config(State(tae): State<Tae>, body: Bytes) -> Answer {
    let patch: ConfigPatch = parse(&body)?;
    if let Some(code) =
        patch.cancel_status.filter(|code| ![status::RASCUNHO, status::CANCELADO].contains(code))
    {
        return Err(ControlError::new(
            StatusCode::BAD_REQUEST,
            format!("cancel_status must be 5 or 7, not {code}"),
        ));
    }
    let mut state = tae.lock();
    let config = &mut state.config;
    if let Some(secs) = patch.token_ttl_secs {
        config.token_ttl = Duration::from_secs(secs);
    }
    if let Some(routes) = patch.login_routes {
        config.login_routes = routes;
    }
    if let Some(code) = patch.cancel_status {
        config.cancel_status = code;
    }
    if let Some(shape) = patch.download_url_shape {
        config.download_url_shape = shape;
    }
    Ok(Json(config_state(config)))
}

fn config_state(config: &TaeConfig) -> Value {
    json!({
        "users": config.users.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "token_ttl_secs": config.token_ttl.as_secs(),
        "login_routes": config.login_routes,
        "cancel_status": config.cancel_status,
        "download_url_shape": config.download_url_shape,
        "first_document_id": config.first_document_id,
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Everything the sandbox knows about a document. Sandbox keys are snake_case; recipient
/// fields received from the client keep the contract's names.
fn document_state(document: &Document) -> Value {
    let publication = document.publication.as_ref().map(|p| {
        let recipients: Vec<Value> = p
            .recipients
            .iter()
            .map(|r| {
                let (state, acted_at, reason) = match &r.progress {
                    Progress::Pending => ("pending", None, None),
                    Progress::Done { at } => ("signed", Some(time(*at)), None),
                    Progress::Rejected { at, reason } => {
                        ("rejected", Some(time(*at)), Some(reason.clone()))
                    }
                };
                let w = &r.received;
                json!({
                    "email": r.email,
                    "acao": r.acao,
                    "workflow": r.workflow,
                    "papelAssinante": w.papelassinante,
                    "nomeCompleto": w.nomecompleto,
                    "tipoAutenticacao": w.tipoautenticacao,
                    "tipoIdentificacao": w.tipoidentificacao,
                    "identificacao": w.identificacao,
                    "notificaEnvio": w.notificaenvio,
                    "tipoEnvioDocumento": w.tipoenviodocumento,
                    "tipoEnvioCodigo": w.tipoenviocodigo,
                    "telefone": w.telefone,
                    "public_key": r.public_key,
                    "state": state,
                    "acted_at": acted_at,
                    "reason": reason,
                })
            })
            .collect();
        json!({
            "route": p.route,
            "received": p.received,
            "recipients": recipients,
            "observers": p.observers,
            "utiliza_workflow": p.ordered,
            "responsavel_assina_documento": p.author_signs,
            "endereco_ip": p.ip,
            "expires_at": p.expires_at.map(|at| time(at.and_utc())),
            "options": {
                "assuntoMensagem": p.subject,
                "corpoMensagem": p.message,
                "permiteRejeitarDocumento": p.allow_reject,
                "intervaloLembrete": p.reminder_days,
                "solicitaAssinaturaManuscrita": p.handwritten,
            },
        })
    });
    json!({
        "id": document.id,
        "status": document.status,
        "status_label": status::label(document.status),
        "envelope_name": document.envelope_name,
        "owner": document.owner,
        "created_at": time(document.created_at),
        "modified_at": time(document.modified_at),
        "rejection_reason": document.rejection_reason,
        "files": document.files.iter().map(|f| json!({
            "name": f.name,
            "content_type": f.content_type,
            "size": f.bytes.len(),
            "sha256": sha256_hex(&f.bytes),
        })).collect::<Vec<_>>(),
        "publication": publication,
        "events": document.events.iter().map(|e| json!({
            "at": time(e.at),
            "kind": e.kind,
            "email": e.email,
            "detail": e.detail,
        })).collect::<Vec<_>>(),
    })
}
