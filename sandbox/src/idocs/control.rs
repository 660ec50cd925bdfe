//! iDocs control routes (`/__sandbox/idocs/…`): what the iDocs UI would do (a counterparty
//! signs or rejects, the sender recalls), expiring tickets, completing async operations,
//! settings, and the full internal state of documents.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::company::COUNTERPARTY_BIN;
use super::model::{Document, InternalRoute, Role, Signature};
use super::refusal::Refusal;
use super::state::State as IDocsState;
use super::wire::ErrorCode;
use super::{IDocs, IDocsConfig};
use crate::control::ControlError;
use crate::files::sha256_hex;

pub(super) fn routes() -> Router<IDocs> {
    Router::new()
        .route("/__sandbox/idocs/documents", get(list))
        .route("/__sandbox/idocs/documents/{id}", get(show))
        .route("/__sandbox/idocs/documents/{id}/counterparty-sign", post(sign))
        .route("/__sandbox/idocs/documents/{id}/counterparty-reject", post(reject))
        .route("/__sandbox/idocs/documents/{id}/recall", post(recall))
        .route("/__sandbox/idocs/tickets/expire", post(expire_tickets))
        .route("/__sandbox/idocs/operations/complete", post(complete_operations))
        .route("/__sandbox/idocs/config", get(show_config).post(set_config))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    /// The counterparty signing; [`COUNTERPARTY_BIN`] when left out.
    bin: Option<String>,
    /// Its employee; the company's first employee when left out.
    employee_id: Option<String>,
    /// A CMS (base64) to record, checked like a quick-sign save; none: a simulated signature.
    cms: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRequest {
    reason: String,
    bin: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    ticket_ttl_secs: Option<u64>,
    async_delay_ms: Option<u64>,
    max_bulk_items: Option<usize>,
    require_ticket: Option<bool>,
    verify_signatures: Option<bool>,
}

/// A JSON body; an empty body is `T::default()` when `T` allows it.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

/// Control routes say why an action was refused: 404 for a document or BIN that does not
/// exist there, 409 for the rest (the document does not wait for that action, an employee of
/// another company, a CMS that does not sign the document's content). Malformed bodies and
/// unparsable CMS are answered 400 before the state is touched.
fn refused(refusal: Refusal) -> ControlError {
    let status = match refusal.code {
        ErrorCode::ResourceNotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    ControlError::new(status, refusal.message)
}

type Answer = Result<Json<Value>, ControlError>;

async fn list(State(idocs): State<IDocs>) -> Json<Vec<Value>> {
    let state = idocs.lock();
    let now = Utc::now();
    Json(state.documents.iter().map(|d| document_state(&state, d, now)).collect())
}

async fn show(State(idocs): State<IDocs>, Path(id): Path<String>) -> Answer {
    let state = idocs.lock();
    let index = state.document_index(&id).ok_or_else(|| {
        ControlError::new(StatusCode::NOT_FOUND, format!("no iDocs document {id}"))
    })?;
    Ok(Json(document_state(&state, &state.documents[index], Utc::now())))
}

/// Runs one state change and answers the document's state after it.
fn act(
    idocs: &IDocs,
    change: impl FnOnce(&mut IDocsState, DateTime<Utc>) -> Result<String, Refusal>,
) -> Answer {
    let mut state = idocs.lock();
    let now = Utc::now();
    let id = change(&mut state, now).map_err(refused)?;
    let document = state.document_index(&id).map(|i| &state.documents[i]);
    let document =
        document.ok_or_else(|| ControlError::new(StatusCode::NOT_FOUND, "document vanished"))?;
    Ok(Json(document_state(&state, document, now)))
}

async fn sign(State(idocs): State<IDocs>, Path(id): Path<String>, body: Bytes) -> Answer {
    let request: SignRequest = if body.is_empty() { SignRequest::default() } else { parse(&body)? };
    let cms = request
        .cms
        .map(|text| {
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                ControlError::new(StatusCode::BAD_REQUEST, format!("cms is not base64: {e}"))
            })
        })
        .transpose()?;
    if let Some(cms) = &cms {
        crate::cms_check::inspect(cms)
            .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, e))?;
    }
    let bin = request.bin.unwrap_or_else(|| COUNTERPARTY_BIN.to_owned());
    act(&idocs, |state, now| {
        let employee = request.employee_id.as_deref();
        state
            .counterparty_sign(&id, &bin, employee, cms.map(Bytes::from), now)
            .map(|d| d.id.clone())
    })
}

async fn reject(State(idocs): State<IDocs>, Path(id): Path<String>, body: Bytes) -> Answer {
    let request: RejectRequest = parse(&body)?;
    let bin = request.bin.unwrap_or_else(|| COUNTERPARTY_BIN.to_owned());
    act(&idocs, |state, now| {
        state.counterparty_reject(&id, &bin, &request.reason, now).map(|d| d.id.clone())
    })
}

async fn recall(State(idocs): State<IDocs>, Path(id): Path<String>) -> Answer {
    act(&idocs, |state, now| state.recall(&id, now).map(|d| d.id.clone()))
}

async fn expire_tickets(State(idocs): State<IDocs>) -> Json<Value> {
    let expired = idocs.lock().expire_tickets(Utc::now());
    Json(json!({ "expired": expired }))
}

async fn complete_operations(State(idocs): State<IDocs>) -> Json<Value> {
    let completed = idocs.lock().run_due(Utc::now(), true);
    Json(json!({ "completed": completed }))
}

async fn show_config(State(idocs): State<IDocs>) -> Json<Value> {
    Json(config_state(&idocs.lock().config))
}

async fn set_config(State(idocs): State<IDocs>, body: Bytes) -> Answer {
    let patch: ConfigPatch = parse(&body)?;
    let mut state = idocs.lock();
    let config = &mut state.config;
    if let Some(secs) = patch.ticket_ttl_secs {
        config.ticket_ttl = Duration::from_secs(secs);
    }
    if let Some(millis) = patch.async_delay_ms {
        config.async_delay = Duration::from_millis(millis);
    }
    if let Some(items) = patch.max_bulk_items {
        config.max_bulk_items = items;
    }
    if let Some(required) = patch.require_ticket {
        config.require_ticket = required;
    }
    if let Some(verify) = patch.verify_signatures {
        config.verify_signatures = verify;
    }
    Ok(Json(config_state(config)))
}

/// The settings in force; tokens are never shown.
fn config_state(config: &IDocsConfig) -> Value {
    json!({
        "ticket_ttl_secs": config.ticket_ttl.as_secs(),
        "async_delay_ms": u64::try_from(config.async_delay.as_millis()).unwrap_or(u64::MAX),
        "max_bulk_items": config.max_bulk_items,
        "require_ticket": config.require_ticket,
        "verify_signatures": config.verify_signatures,
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn signature_state(signature: &Signature) -> Value {
    json!({
        "side": signature.side.name(),
        "company_bin": signature.company_bin,
        "employee_id": signature.employee_id,
        "blob_id": signature.blob_id,
        "ticket": signature.ticket,
        "form": signature.form.map(|f| f.name()),
        "signer_subject": signature.signer_subject,
        "size": signature.cms.as_ref().map(Bytes::len),
        "sha256": signature.cms.as_ref().map(|cms| sha256_hex(cms)),
        "simulated": signature.cms.is_none(),
        "signed_at": time(signature.at),
    })
}

/// Everything the sandbox knows about a document. Files and signatures show their size and
/// hash, never their bytes.
fn document_state(state: &IDocsState, document: &Document, now: DateTime<Utc>) -> Value {
    let company = |index: usize| &state.companies[index];
    let internal = |route: &InternalRoute| {
        json!({
            "ordering": route.ordering.name(),
            "nodes": route.nodes.iter().map(|n| json!({
                "order": n.order, "employee_id": n.employee_id, "action": n.action.name(),
            })).collect::<Vec<_>>(),
        })
    };
    let route = document.route.as_ref().map(|route| {
        json!({
            "order_type": route.order.name(),
            "sign_required_by_sender": route.sign_required_by_sender,
            "created_by": route.created_by,
            "internal": route.internal.as_ref().map(internal),
            "nodes": route.nodes.iter().enumerate().map(|(i, n)| json!({
                "order": n.order,
                "bin": n.bin,
                "known_company": state.company_by_bin(&n.bin).is_some(),
                "comment": n.comment,
                "is_individual": n.is_individual,
                "emails": n.emails,
                "sign_required": n.sign_required,
                "org_unit_id": n.org_unit_id,
                "status": n.status.name(),
                "completed_on": n.completed_on.map(time),
                "reject_reason": n.reject_reason,
                "recipient_status": (n.status != super::wire::NodeStatus::NotStarted)
                    .then(|| document.status(Role::Recipient(i)).name()),
                "internal": n.internal.as_ref().map(internal),
            })).collect::<Vec<_>>(),
        })
    });
    let tickets: Vec<Value> = state
        .tickets
        .iter()
        .filter(|t| t.document_id == document.id)
        .map(|t| {
            json!({
                "ticket": t.value,
                "content_id": t.content_id,
                "company_bin": company(t.company).bin,
                "employee_id": t.employee_id,
                "side": t.side.name(),
                "issued_on": time(t.issued_on),
                "dispose_on": time(t.dispose_on),
                "expired": t.expired(now),
                "used_blob_id": t.used_blob,
            })
        })
        .collect();
    json!({
        "id": document.id,
        "stage": document.stage.name(),
        "sender_status": document.status(Role::Sender).name(),
        "sender_bin": document.sender_bin,
        "name": document.name,
        "number": document.number,
        "date": document.date,
        "group": document.group.name(),
        "author_employee_id": document.author,
        "created_on": time(document.created_on),
        "sent_on": document.sent_on.map(time),
        "closed_on": document.closed_on.map(time),
        "files": document.files.iter().map(|f| json!({
            "blob_id": f.blob_id,
            "name": f.name,
            "extension": f.extension,
            "mime_type": f.mime_type,
            "size": f.bytes.len(),
            "sha256": sha256_hex(&f.bytes),
        })).collect::<Vec<_>>(),
        "route": route,
        "signature_count": document.signatures.len(),
        "signatures": document.signatures.iter().map(signature_state).collect::<Vec<_>>(),
        "tickets": tickets,
    })
}
