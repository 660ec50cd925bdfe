//! The control routes every sender has (the table is in [`super`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DeliveryChaos, DeliveryPolicy, DeliverySummary, DeliveryView, Outbox, Success};
use crate::control::ControlError;

/// Longest a settle may be asked to wait.
const MAX_SETTLE: Duration = Duration::from_secs(600);

/// The routes of `outbox`, under `/__sandbox/<its id>/deliveries`.
pub(crate) fn routes(outbox: Arc<Outbox>) -> Router {
    let base = format!("/__sandbox/{}/deliveries", outbox.id().as_str());
    Router::new()
        .route(&base, get(list).delete(clear))
        .route(&format!("{base}/run"), post(run))
        .route(&format!("{base}/settle"), post(settle))
        .route(&format!("{base}/policy"), get(policy).post(set_policy))
        .route(&format!("{base}/chaos"), get(chaos).post(set_chaos).delete(clear_chaos))
        .route(&format!("{base}/{{id}}"), get(show))
        .route(&format!("{base}/{{id}}/fire"), post(fire))
        .with_state(outbox)
}

type Answer<T> = Result<Json<T>, ControlError>;

fn bad_request(message: impl Into<String>) -> ControlError {
    ControlError::new(StatusCode::BAD_REQUEST, message)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid body: {e}")))
}

fn parse_id(id: &str) -> Result<u64, ControlError> {
    id.parse().map_err(|_| ControlError::new(StatusCode::NOT_FOUND, format!("no delivery {id}")))
}

async fn list(State(outbox): State<Arc<Outbox>>) -> Json<Vec<DeliveryView>> {
    Json(outbox.views())
}

async fn clear(State(outbox): State<Arc<Outbox>>) -> Json<Value> {
    outbox.clear();
    Json(json!({}))
}

async fn show(State(outbox): State<Arc<Outbox>>, Path(id): Path<String>) -> Answer<DeliveryView> {
    let id = parse_id(&id)?;
    outbox
        .view(id)
        .map(Json)
        .ok_or_else(|| ControlError::new(StatusCode::NOT_FOUND, format!("no delivery {id}")))
}

async fn fire(State(outbox): State<Arc<Outbox>>, Path(id): Path<String>) -> Answer<DeliveryView> {
    let id = parse_id(&id)?;
    outbox.fire(id).await.map(Json).map_err(|message| {
        let status = if message.contains("being sent") {
            StatusCode::CONFLICT
        } else {
            StatusCode::NOT_FOUND
        };
        ControlError::new(status, message)
    })
}

async fn run(State(outbox): State<Arc<Outbox>>) -> Json<Value> {
    Json(json!({ "started": outbox.run_pending() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleRequest {
    #[serde(default = "default_settle_ms")]
    timeout_ms: u64,
}

fn default_settle_ms() -> u64 {
    10_000
}

async fn settle(
    State(outbox): State<Arc<Outbox>>,
    body: Bytes,
) -> Result<Json<DeliverySummary>, ControlError> {
    let request: SettleRequest = parse(&body)?;
    let timeout = Duration::from_millis(request.timeout_ms).min(MAX_SETTLE);
    let summary = outbox.settle(timeout).await;
    if summary.settled {
        return Ok(Json(summary));
    }
    Err(ControlError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "deliveries not settled after {} ms: {} pending, {} sending",
            timeout.as_millis(),
            summary.pending,
            summary.sending
        ),
    ))
}

/// A policy change: the fields given replace those in force.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyPatch {
    timeout_ms: Option<u64>,
    max_attempts: Option<u32>,
    backoff_ms: Option<Vec<u64>>,
    success: Option<Success>,
    give_up_statuses: Option<Vec<u16>>,
    concurrency: Option<usize>,
    hold: Option<bool>,
}

/// Bounds that keep a sandbox usable: a zero timeout or concurrency would send nothing.
const MAX_CONCURRENCY: usize = 256;

async fn policy(State(outbox): State<Arc<Outbox>>) -> Json<DeliveryPolicy> {
    Json(outbox.policy())
}

async fn set_policy(State(outbox): State<Arc<Outbox>>, body: Bytes) -> Answer<DeliveryPolicy> {
    let patch: PolicyPatch = parse(&body)?;
    let mut policy = outbox.policy();
    if let Some(timeout_ms) = patch.timeout_ms {
        if timeout_ms == 0 {
            return Err(bad_request("\"timeout_ms\" must be at least 1"));
        }
        policy.timeout_ms = timeout_ms;
    }
    if let Some(max_attempts) = patch.max_attempts {
        if max_attempts == 0 {
            return Err(bad_request("\"max_attempts\" must be at least 1"));
        }
        policy.max_attempts = max_attempts;
    }
    if let Some(concurrency) = patch.concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(bad_request(format!(
                "\"concurrency\" must be between 1 and {MAX_CONCURRENCY}"
            )));
        }
        policy.concurrency = concurrency;
    }
    policy.backoff_ms = patch.backoff_ms.unwrap_or(policy.backoff_ms);
    policy.success = patch.success.unwrap_or(policy.success);
    policy.give_up_statuses = patch.give_up_statuses.unwrap_or(policy.give_up_statuses);
    policy.hold = patch.hold.unwrap_or(policy.hold);
    outbox.set_policy(policy);
    Ok(Json(outbox.policy()))
}

async fn chaos(State(outbox): State<Arc<Outbox>>) -> Json<Option<DeliveryChaos>> {
    Json(outbox.chaos())
}

async fn set_chaos(
    State(outbox): State<Arc<Outbox>>,
    body: Bytes,
) -> Answer<Option<DeliveryChaos>> {
    let chaos: DeliveryChaos = parse(&body)?;
    if !(0.0..=100.0).contains(&chaos.duplicate_percent) {
        return Err(bad_request(format!(
            "\"duplicate_percent\" must be between 0 and 100; got {}",
            chaos.duplicate_percent
        )));
    }
    outbox.set_chaos(Some(chaos));
    Ok(Json(outbox.chaos()))
}

async fn clear_chaos(State(outbox): State<Arc<Outbox>>) -> Json<Value> {
    outbox.set_chaos(None);
    Json(json!({}))
}
