//! ArqSign control routes (`/__sandbox/arqsign/…`): drive signers, expire and delete
//! processes, change settings, and show the full internal state of processes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{Contact, Outcome, Process, Recipient, SignInput, status};
use super::state::{Refusal, State as ArqState};
use super::{ArqSign, ArqSignConfig};
use crate::control::ControlError;

pub(super) fn routes() -> Router<ArqSign> {
    Router::new()
        .route("/__sandbox/arqsign/processes", get(list))
        .route("/__sandbox/arqsign/processes/{id}", get(show))
        .route("/__sandbox/arqsign/processes/{id}/sign", post(sign))
        .route("/__sandbox/arqsign/processes/{id}/refuse", post(refuse))
        .route("/__sandbox/arqsign/processes/{id}/expire", post(expire))
        .route("/__sandbox/arqsign/processes/{id}/fail-delivery", post(fail_delivery))
        .route("/__sandbox/arqsign/processes/{id}/delete", post(delete))
        .route("/__sandbox/arqsign/config", get(show_config).post(set_config))
}

/// Names a recipient by exactly one of e-mail and phone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Who {
    email: Option<String>,
    phone: Option<String>,
}

impl Who {
    fn contact(self) -> Result<Contact, ControlError> {
        match (self.email, self.phone) {
            (Some(email), None) => Ok(Contact::Email(email)),
            (None, Some(phone)) => Ok(Contact::Phone(phone)),
            _ => {
                Err(ControlError::new(StatusCode::BAD_REQUEST, "give exactly one of email, phone"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    email: Option<String>,
    phone: Option<String>,
    /// The signer's IP address, shown in `dadosAssinatura.ip` and the report.
    ip: Option<String>,
    /// What the signer types as their name and document number.
    name: Option<String>,
    document: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefuseRequest {
    email: Option<String>,
    phone: Option<String>,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    status_poll_interval_ms: Option<u64>,
    requests_per_second: Option<u32>,
    account_active: Option<bool>,
    app_key_header: Option<String>,
    subscription_key_header: Option<String>,
    default_expiry_days: Option<u32>,
    credits: Option<CreditsPatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditsPatch {
    envios: Option<i64>,
    whatsapp: Option<i64>,
    sms: Option<i64>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

/// Control routes say exactly why an action was refused: 404, 400 or 409.
fn refused(id: &str, refusal: Refusal) -> ControlError {
    match refusal {
        Refusal::Unknown(_) => {
            ControlError::new(StatusCode::NOT_FOUND, format!("no ArqSign process {id}"))
        }
        Refusal::NoRecipient(message) => ControlError::new(StatusCode::NOT_FOUND, message),
        Refusal::Invalid(message) => ControlError::new(StatusCode::BAD_REQUEST, message),
        Refusal::Deleted => {
            ControlError::new(StatusCode::CONFLICT, format!("the ArqSign process {id} was deleted"))
        }
        Refusal::Unprocessable(message) | Refusal::Conflict(message) => {
            ControlError::new(StatusCode::CONFLICT, message)
        }
    }
}

type Answer = Result<Json<Value>, ControlError>;

async fn list(State(arq): State<ArqSign>) -> Json<Vec<Value>> {
    let state = arq.lock();
    let now = Utc::now();
    Json(state.processes().map(|p| process_state(p, now)).collect())
}

async fn show(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    let state = arq.lock();
    let process = state.any_process(&id).map_err(|r| refused(&id, r))?;
    Ok(Json(process_state(process, Utc::now())))
}

/// Runs one state change and answers the process state after it.
fn act(
    arq: &ArqSign,
    id: &str,
    change: impl FnOnce(&mut ArqState, DateTime<Utc>) -> Result<&Process, Refusal>,
) -> Answer {
    let mut state = arq.lock();
    let now = Utc::now();
    let process = change(&mut state, now).map_err(|r| refused(id, r))?;
    Ok(Json(process_state(process, now)))
}

async fn sign(State(arq): State<ArqSign>, Path(id): Path<String>, body: Bytes) -> Answer {
    let request: SignRequest = parse(&body)?;
    let contact = Who { email: request.email, phone: request.phone }.contact()?;
    let input = SignInput { ip: request.ip, name: request.name, document: request.document };
    act(&arq, &id, |state, now| state.sign(&id, &contact, input, now))
}

async fn refuse(State(arq): State<ArqSign>, Path(id): Path<String>, body: Bytes) -> Answer {
    let request: RefuseRequest = parse(&body)?;
    let contact = Who { email: request.email, phone: request.phone }.contact()?;
    act(&arq, &id, |state, now| state.refuse(&id, &contact, &request.reason, now))
}

async fn expire(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    act(&arq, &id, |state, now| state.expire(&id, now))
}

async fn fail_delivery(State(arq): State<ArqSign>, Path(id): Path<String>, body: Bytes) -> Answer {
    let contact = parse::<Who>(&body)?.contact()?;
    act(&arq, &id, |state, now| state.fail_delivery(&id, &contact, now))
}

async fn delete(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    act(&arq, &id, |state, now| state.delete(&id, now))
}

async fn show_config(State(arq): State<ArqSign>) -> Json<Value> {
    let state = arq.lock();
    Json(config_state(&state.config, &state.account.credits))
}

async fn set_config(State(arq): State<ArqSign>, body: Bytes) -> Answer {
    let patch: ConfigPatch = parse(&body)?;
    for header in [&patch.app_key_header, &patch.subscription_key_header].into_iter().flatten() {
        if header.is_empty() || HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(ControlError::new(
                StatusCode::BAD_REQUEST,
                format!("{header:?} is not a valid header name"),
            ));
        }
    }
    let mut state = arq.lock();
    let config = &mut state.config;
    if let Some(interval) = patch.status_poll_interval_ms {
        config.status_poll_interval_ms = interval;
    }
    if let Some(rate) = patch.requests_per_second {
        config.requests_per_second = rate;
    }
    if let Some(active) = patch.account_active {
        config.account_active = active;
    }
    if let Some(header) = patch.app_key_header {
        config.app_key_header = header;
    }
    if let Some(header) = patch.subscription_key_header {
        config.subscription_key_header = header;
    }
    if let Some(days) = patch.default_expiry_days {
        config.default_expiry_days = days;
    }
    if let Some(credits) = patch.credits {
        let balance = &mut state.account.credits;
        balance.envios = credits.envios.unwrap_or(balance.envios);
        balance.whatsapp = credits.whatsapp.unwrap_or(balance.whatsapp);
        balance.sms = credits.sms.unwrap_or(balance.sms);
    }
    Ok(Json(config_state(&state.config, &state.account.credits)))
}

/// The settings in force; keys are never shown.
fn config_state(config: &ArqSignConfig, credits: &super::Credits) -> Value {
    json!({
        "status_poll_interval_ms": config.status_poll_interval_ms,
        "requests_per_second": config.requests_per_second,
        "account_active": config.account_active,
        "app_key_header": config.app_key_header,
        "subscription_key_header": config.subscription_key_header,
        "default_expiry_days": config.default_expiry_days,
        "credits": credits,
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Everything the sandbox knows about a process. Sandbox keys are snake_case; what the client
/// sent keeps the contract's names (`received`). Documents show their size and hash, never
/// their bytes.
fn process_state(process: &Process, now: DateTime<Utc>) -> Value {
    json!({
        "id": process.id,
        "route": match process.version {
            super::model::ApiVersion::V2 => "v2",
            super::model::ApiVersion::V3 => "v3",
        },
        "status": process.status,
        "status_label": status::label(process.status),
        "expired": process.is_expired(now),
        "deleted": process.deleted,
        "name": process.name,
        "folder_id": process.folder_id,
        "responsible_id": process.responsible_id,
        "created_at": time(process.created_at),
        "sent_at": time(process.sent_at),
        "expires_at": time(process.expires_at),
        "expiry_days": process.expiry_days,
        "warning_days": process.warning_days,
        "reminder_days": process.reminder_days,
        "qr_code": process.qr_code,
        "must_read": process.must_read,
        "renewal_months": process.renewal_months,
        "renewal_at": process.renewal_at.map(time),
        "concluded_at": process.concluded_at.map(time),
        "cancelled_at": process.cancelled_at.map(time),
        "cancelled_by": process.cancelled_by,
        "resent_at": process.resent_at.map(time),
        "ordered": process.ordered,
        "automatic_position": process.automatic_position,
        "message": {"titulo": process.message.title, "texto": process.message.text},
        "current_order": process.current_order(),
        "received": process.received,
        "signers": process.recipients.iter().map(recipient_state).collect::<Vec<_>>(),
        "documents": process.documents.iter().map(|d| json!({
            "id": d.id,
            "order": d.order,
            "name": d.name,
            "size": d.bytes.len(),
            "sha256": d.sha256(),
        })).collect::<Vec<_>>(),
        "events": process.events.iter().map(|e| json!({
            "at": time(e.at),
            "kind": e.kind,
            "recipient_id": e.recipient.as_ref().map(|r| &r.id),
            "recipient": e.recipient.as_ref().map(|r| &r.name),
            "detail": e.detail,
        })).collect::<Vec<_>>(),
    })
}

fn recipient_state(r: &Recipient) -> Value {
    let (state, acted_at, reason, signature) = match &r.outcome {
        Outcome::Pending if r.action == super::model::action::COPY => ("copy", None, None, None),
        Outcome::Pending => ("pending", None, None, None),
        Outcome::Signed(s) => {
            let identity = |i: &super::model::Identity| json!({"name": i.name, "document_type": i.document_type, "number": i.number});
            let signature = json!({
                "ip": s.ip,
                "person": s.person.as_ref().map(identity),
                "company": s.company.as_ref().map(identity),
                "certificate": s.certificate.as_ref().map(|c| json!({
                    "name": c.name, "issuer": c.issuer,
                    "valid_from": time(c.valid_from), "valid_until": time(c.valid_until),
                })),
            });
            ("signed", Some(time(s.at)), None, Some(signature))
        }
        Outcome::Refused { at, reason } => ("refused", Some(time(*at)), Some(reason.clone()), None),
    };
    json!({
        "id": r.id,
        "action": r.action,
        "order": r.order,
        "name": r.name,
        "email": r.email,
        "phone": r.phone,
        "signature_type": r.signature_type,
        "sign_as": r.sign_as,
        "awaiting": r.awaiting,
        "delivery_failed": r.delivery_failed,
        "copy_sent": r.copy_sent,
        "state": state,
        "acted_at": acted_at,
        "reason": reason,
        "signature": signature,
        "security": r.security.as_ref().map(|s| json!({
            "code": s.code, "channel": s.channel, "email": s.email, "phone": s.phone,
            "allow_resend": s.allow_resend, "delivery_failed": s.delivery_failed,
        })),
        "attachments": r.attachments.iter().map(|a| json!({
            "id": a.id, "name": a.name, "required": a.required, "show_all": a.show_all,
        })).collect::<Vec<_>>(),
        "uploads": r.uploads.iter().map(|u| json!({
            "id": u.id, "name": u.name, "size": u.bytes.len(),
        })).collect::<Vec<_>>(),
        "placements": r.placements.iter().map(|p| json!({
            "document_order": p.document_order, "page": p.page, "x": p.x, "y": p.y,
            "width": p.width, "height": p.height, "company": p.company,
        })).collect::<Vec<_>>(),
        "person": r.person.as_ref().map(|p| json!({"name": p.name, "number": p.number, "enforce": p.enforce})),
        "company": r.company.as_ref().map(|p| json!({"name": p.name, "number": p.number, "enforce": p.enforce})),
        "return_link": r.return_link,
        "received": serde_json::to_value(&r.received).unwrap_or_default(),
    })
}
