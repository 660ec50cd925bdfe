//! SINtegre control routes (`/__sandbox/sintegre/…`): the portal a test drives (see the table
//! in [`super`]).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Sintegre;
use super::state::{Disposition, Integration, IntegrationForm, PublicationForm, SlotStatus};
use crate::control::ControlError;

pub(super) fn routes() -> Router<Sintegre> {
    Router::new()
        .route("/__sandbox/sintegre/products", get(products).post(add_product))
        .route("/__sandbox/sintegre/products/{id}/publications", post(publish))
        .route("/__sandbox/sintegre/publications", get(publications))
        .route("/__sandbox/sintegre/integrations", get(integrations).post(add_integration))
        .route("/__sandbox/sintegre/integrations/{id}", get(integration).put(edit_integration))
        .route("/__sandbox/sintegre/integrations/{id}/enviar", post(enviar))
        .route("/__sandbox/sintegre/integrations/{id}/enviar-tudo", post(enviar_tudo))
        .route("/__sandbox/sintegre/integrations/{id}/reenviar-pendentes", post(reenviar_pendentes))
        .route("/__sandbox/sintegre/config", get(config).post(set_config))
        .route("/__sandbox/sintegre/clock/advance", post(advance_clock))
}

type Answer = Result<Json<Value>, ControlError>;

fn bad(message: impl Into<String>) -> ControlError {
    ControlError::new(StatusCode::BAD_REQUEST, message)
}

fn not_found(message: impl Into<String>) -> ControlError {
    ControlError::new(StatusCode::NOT_FOUND, message)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid body: {e}")))
}

fn parse_id(id: &str) -> Result<u64, ControlError> {
    id.parse().map_err(|_| not_found(format!("no item {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductForm {
    nome: String,
    processo: String,
    #[serde(rename = "macroProcesso")]
    macro_processo: String,
}

async fn products(State(sintegre): State<Sintegre>) -> Json<Value> {
    Json(json!(sintegre.lock().products.values().collect::<Vec<_>>()))
}

async fn add_product(State(sintegre): State<Sintegre>, body: Bytes) -> Answer {
    let form: ProductForm = parse(&body)?;
    let product =
        sintegre.lock().add_product(form.nome, form.processo, form.macro_processo).map_err(bad)?;
    Ok(Json(json!(product)))
}

/// Most publications one call makes.
const MAX_COUNT: u32 = 10_000;

/// §5.2 `publish(p)`: every integration listing the product gets an attempt.
async fn publish(State(sintegre): State<Sintegre>, Path(id): Path<String>, body: Bytes) -> Answer {
    let product = parse_id(&id)?;
    let form: PublicationForm = parse(&body)?;
    let count = form.count.unwrap_or(1);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(bad(format!("\"count\" must be between 1 and {MAX_COUNT}")));
    }
    let mut published = Vec::new();
    for n in 1..=count {
        let mut form = form.clone();
        if count > 1 {
            form.file_name = numbered(&form.file_name, n);
        }
        let (publication, targets) = sintegre.lock().publish(product, form).map_err(|message| {
            if message.starts_with("no product") { not_found(message) } else { bad(message) }
        })?;
        for integration in &targets {
            sintegre.send(*integration, Some(product), Some(publication.id), true);
        }
        published.push((publication, targets));
    }
    if count == 1 {
        let (publication, targets) = &published[0];
        return Ok(Json(json!({ "publication": publication, "sent_to": targets })));
    }
    let ids: Vec<u64> = published.iter().map(|(p, _)| p.id).collect();
    Ok(Json(json!({ "publications": ids, "sent_to": published[0].1 })))
}

/// `name.ext` → `name-n.ext`.
fn numbered(file_name: &str, n: u32) -> String {
    match file_name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}-{n}.{extension}"),
        None => format!("{file_name}-{n}"),
    }
}

async fn publications(State(sintegre): State<Sintegre>) -> Json<Value> {
    Json(json!(sintegre.lock().publications.values().collect::<Vec<_>>()))
}

fn integration_view(integration: &Integration) -> Value {
    let form = &integration.form;
    let auth = match &form.auth {
        super::state::Auth::None => json!({ "type": "none" }),
        super::state::Auth::Basic { user, .. } => json!({ "type": "basic", "user": user }),
        super::state::Auth::Token { scheme, .. } => json!({ "type": "token", "scheme": scheme }),
    };
    json!({
        "id": integration.id,
        "descricao": form.descricao,
        "url": form.url,
        "auth": auth,
        "produtos": form.produtos,
        "casing": form.casing,
        "extra_members": form.extra_members,
        "slots": integration.slots.values().collect::<Vec<_>>(),
    })
}

async fn integrations(State(sintegre): State<Sintegre>) -> Json<Value> {
    Json(json!(sintegre.lock().integrations.values().map(integration_view).collect::<Vec<_>>()))
}

async fn add_integration(State(sintegre): State<Sintegre>, body: Bytes) -> Answer {
    let form: IntegrationForm = parse(&body)?;
    let mut state = sintegre.lock();
    let id = state.add_integration(form).map_err(bad)?;
    Ok(Json(integration_view(&state.integrations[&id])))
}

async fn integration(State(sintegre): State<Sintegre>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let state = sintegre.lock();
    let integration =
        state.integrations.get(&id).ok_or_else(|| not_found(format!("no integration {id}")))?;
    Ok(Json(integration_view(integration)))
}

/// "Editar": attempts still to come use the new URL, auth and casing (§3.4).
async fn edit_integration(
    State(sintegre): State<Sintegre>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let id = parse_id(&id)?;
    let form: IntegrationForm = parse(&body)?;
    let mut state = sintegre.lock();
    if !state.integrations.contains_key(&id) {
        return Err(not_found(format!("no integration {id}")));
    }
    state.edit_integration(id, form).map_err(bad)?;
    Ok(Json(integration_view(&state.integrations[&id])))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EnviarRequest {
    product_id: Option<u64>,
    /// Whether the test send updates the slot's last status (unknown, §3.4).
    #[serde(default)]
    update_slot: bool,
}

/// "Enviar" (test): the latest publication of a listed product, or a made-up payload.
async fn enviar(State(sintegre): State<Sintegre>, Path(id): Path<String>, body: Bytes) -> Answer {
    let id = parse_id(&id)?;
    let request: EnviarRequest = parse(&body)?;
    let (product, publication) = {
        let state = sintegre.lock();
        let integration =
            state.integrations.get(&id).ok_or_else(|| not_found(format!("no integration {id}")))?;
        let slot = match request.product_id {
            Some(product) => Some(integration.slots.get(&product).ok_or_else(|| {
                bad(format!("product {product} is not in integration {id}'s list"))
            })?),
            None => integration.form.produtos.iter().find_map(|p| {
                integration.slots.get(p).filter(|slot| slot.latest_publication.is_some())
            }),
        };
        (slot.map(|s| s.product_id), slot.and_then(|s| s.latest_publication))
    };
    let update_slot = request.update_slot && publication.is_some();
    if update_slot {
        set_sending(&sintegre, id, product);
    }
    sintegre.send(id, product, publication, update_slot);
    Ok(Json(json!({ "sent": 1, "product": product, "publication": publication })))
}

fn set_sending(sintegre: &Sintegre, integration: u64, product: Option<u64>) {
    let mut state = sintegre.lock();
    if let Some(slot) = product
        .and_then(|p| state.integrations.get_mut(&integration).and_then(|i| i.slots.get_mut(&p)))
    {
        slot.last_status = SlotStatus::Sending;
    }
}

/// Sends the latest publication of every slot that matches `wanted`, fresh tokens each.
fn resend(sintegre: &Sintegre, id: u64, wanted: impl Fn(SlotStatus) -> bool) -> Answer {
    let targets: Vec<(u64, u64)> = {
        let state = sintegre.lock();
        let integration =
            state.integrations.get(&id).ok_or_else(|| not_found(format!("no integration {id}")))?;
        integration
            .slots
            .values()
            .filter(|slot| wanted(slot.last_status))
            .filter_map(|slot| Some((slot.product_id, slot.latest_publication?)))
            .collect()
    };
    for (product, publication) in &targets {
        // Versions coalesce (§3.4): an older one still queued for this slot is not sent.
        sintegre.outbox.cancel_pending(|tag| {
            tag["integration"] == json!(id) && tag["product"] == json!(product)
        });
        set_sending(sintegre, id, Some(*product));
        sintegre.send(id, Some(*product), Some(*publication), true);
    }
    let sent: Vec<Value> =
        targets.iter().map(|(p, v)| json!({ "product": p, "publication": v })).collect();
    Ok(Json(json!({ "sent": sent.len(), "deliveries": sent })))
}

/// "Enviar Tudo": the latest version of every product in the list (§3.4); `Never` slots have
/// nothing to send.
async fn enviar_tudo(State(sintegre): State<Sintegre>, Path(id): Path<String>) -> Answer {
    resend(&sintegre, parse_id(&id)?, |status| status != SlotStatus::Never)
}

/// "Reenviar Pendentes": the latest version of each product whose delivery failed (§3.4).
async fn reenviar_pendentes(State(sintegre): State<Sintegre>, Path(id): Path<String>) -> Answer {
    resend(&sintegre, parse_id(&id)?, |status| status == SlotStatus::Failed)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    token_ttl_secs: Option<i64>,
    expired_status: Option<u16>,
    expired_body: Option<String>,
    content_disposition: Option<Disposition>,
    truncate_downloads: Option<u32>,
}

fn config_view(state: &super::state::State) -> Value {
    json!({
        "token_ttl_secs": state.token_ttl.num_seconds(),
        "expired_status": state.expired.status,
        "expired_body": state.expired.body,
        "content_disposition": state.disposition,
        "clock_offset_secs": state.clock_offset.num_seconds(),
        "truncate_downloads": state.truncate_downloads,
        "proxy_base": state.proxy_base,
    })
}

async fn config(State(sintegre): State<Sintegre>) -> Json<Value> {
    Json(config_view(&sintegre.lock()))
}

async fn set_config(State(sintegre): State<Sintegre>, body: Bytes) -> Answer {
    let patch: ConfigPatch = parse(&body)?;
    if let Some(status) = patch.expired_status {
        if StatusCode::from_u16(status).is_err() || status < 400 {
            return Err(bad(format!(
                "\"expired_status\" must be an HTTP error status; got {status}"
            )));
        }
    }
    if patch.token_ttl_secs.is_some_and(|ttl| !(1..=366 * 86_400).contains(&ttl)) {
        return Err(bad("\"token_ttl_secs\" must be between 1 and a year"));
    }
    let mut state = sintegre.lock();
    if let Some(ttl) = patch.token_ttl_secs {
        state.token_ttl = chrono::Duration::seconds(ttl);
    }
    if let Some(status) = patch.expired_status {
        state.expired.status = status;
    }
    if let Some(body) = patch.expired_body {
        state.expired.body = body;
    }
    if let Some(disposition) = patch.content_disposition {
        state.disposition = disposition;
    }
    if let Some(truncate) = patch.truncate_downloads {
        state.truncate_downloads = truncate;
    }
    Ok(Json(config_view(&state)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    secs: i64,
}

async fn advance_clock(State(sintegre): State<Sintegre>, body: Bytes) -> Answer {
    let advance: Advance = parse(&body)?;
    if !(0..=10 * 366 * 86_400).contains(&advance.secs) {
        return Err(bad("\"secs\" must be between 0 and ten years"));
    }
    let mut state = sintegre.lock();
    state.clock_offset += chrono::Duration::seconds(advance.secs);
    Ok(Json(config_view(&state)))
}
