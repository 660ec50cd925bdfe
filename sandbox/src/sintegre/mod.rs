//! Simulator of SINtegre (ONS), the sender side, written from `shared/contracts/sintegre.md`
//! §1–§5: products and their publications, integrations (a receiver URL with no auth, Basic or
//! a token, several per account), the portal's buttons, the webhook deliveries they cause, and
//! the file proxy behind each notification's `url`.
//!
//! SINtegre has no API a client calls: everything a test does goes through control routes,
//! and the simulator POSTs to the receivers (through [`crate::senders`]). Each attempt mints a
//! fresh HS256 token valid `token_ttl` (24 h 04 min, §1.7), so a resend carries a different
//! `url` with the same `URL` claim.
//!
//! # Paths
//!
//! | Route | Notes |
//! |---|---|
//! | `GET /sintegre/ONS.Sintegre.Proxy/webhook?token=…` | the file; after `exp` the configured error (401 by default), a bad token 401; `IsFile` `"False"` serves `<nome>.zip` |
//!
//! # Control routes (`/__sandbox/sintegre/…`)
//!
//! | Route | Body |
//! |---|---|
//! | `POST /products`, `GET /products` | `{"nome", "processo", "macroProcesso"}` |
//! | `POST /products/{id}/publications` | `{"dataProduto", "periodicidade", "periodicidadeFinal", "file_name", "content" \| "content_base64", "content_type"?, "is_file"?, "inner_url"?, "count"?}`: stores it (`count` versions, numbered, up to 10 000) and sends it to every integration listing the product |
//! | `GET /publications` | every publication (sizes and hashes, not bytes) |
//! | `POST /integrations`, `GET /integrations` | `{"descricao", "url", "auth": {"type": "none"} \| {"type": "basic", "user", "password"} \| {"type": "token", "value", "scheme": "raw"\|"bearer"}, "produtos": [ids], "casing": "camel"\|"guide", "extra_members": {}}` |
//! | `GET`/`PUT /integrations/{id}` | "Exibir Detalhes" (slots) / "Editar" (same body as create) |
//! | `POST /integrations/{id}/enviar` | `{"product_id"?, "update_slot"?}`: the product's latest publication (the first listed product with one by default), or a made-up payload when nothing is published |
//! | `POST /integrations/{id}/enviar-tudo` | the latest publication of every listed product |
//! | `POST /integrations/{id}/reenviar-pendentes` | the latest publication of every failed slot (an older version still pending is cancelled: versions coalesce, §3.4) |
//! | `GET`/`POST /config` | `{"token_ttl_secs", "expired_status", "expired_body", "content_disposition": "rfc6266"\|"plain"\|"rfc2047"\|"none", "truncate_downloads": n}` |
//! | `POST /clock/advance` | `{"secs"}`: the simulator's clock jumps (links expire early) |
//! | `/deliveries…` | the shared sender routes ([`crate::senders`]); by default one attempt, no automatic retry (§3.3: "Reenviar Pendentes" is the documented path), 30 s timeout, any 2xx succeeds |
//!
//! Faults on the proxy (5xx on the first tries, a reset mid-body) come from the sandbox's
//! fault routes on `/sintegre/ONS.Sintegre.Proxy/*`.

mod control;
mod state;
mod token;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::senders::{
    AttemptRecord, DeliveryPolicy, DeliveryStatus, Observer, Outbox, Outgoing, SenderId, Success,
};
use crate::server::Simulator;
use state::SlotStatus;
pub use state::{Disposition, ExpiredAnswer};

const PREFIX: &str = "/sintegre/";

/// Settings of the SINtegre simulator.
#[derive(Clone)]
pub struct SintegreConfig {
    /// The start of every `url` (`…/ONS.Sintegre.Proxy/webhook?token=` follows); by default
    /// this sandbox's own `/sintegre`.
    pub proxy_base: Option<String>,
    /// Lifetime of a link's token: `exp - nbf` (§1.7: always 86 640 s).
    pub token_ttl: Duration,
    /// The key tokens are signed with (random by default: receivers cannot verify, §1.7).
    pub token_key: Vec<u8>,
    /// The `username` claim (personal data in the real service).
    pub username: String,
    pub expired: ExpiredAnswer,
    pub disposition: Disposition,
}

impl Default for SintegreConfig {
    fn default() -> SintegreConfig {
        SintegreConfig {
            proxy_base: None,
            token_ttl: Duration::from_secs(TOKEN_TTL_SECS),
            token_key: crate::ids::random_segment(32).into_bytes(),
            username: "agente@signbridge.test".into(),
            expired: ExpiredAnswer { status: 401, body: "Token expirado".into() },
            disposition: Disposition::default(),
        }
    }
}

/// §1.7: `exp` is always exactly 24 h 04 min after `nbf`.
const TOKEN_TTL_SECS: u64 = 86_640;

impl std::fmt::Debug for SintegreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SintegreConfig")
            .field("proxy_base", &self.proxy_base)
            .field("token_ttl", &self.token_ttl)
            .field("expired", &self.expired)
            .field("disposition", &self.disposition)
            .finish_non_exhaustive()
    }
}

/// The delivery policy SINtegre starts with (§5.1 knobs: `timeout` 30 s, `ManualOnly`,
/// `send_all_concurrency` 1; §3.2: any 2xx is success).
fn default_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout_ms: 30_000,
        max_attempts: 1,
        backoff_ms: vec![60_000],
        success: Success::Any2xx,
        give_up_statuses: Vec::new(),
        concurrency: 1,
        hold: false,
    }
}

#[derive(Clone)]
pub(crate) struct Sintegre {
    state: Arc<Mutex<state::State>>,
    outbox: Arc<Outbox>,
}

impl Sintegre {
    pub fn new(config: SintegreConfig) -> Sintegre {
        let state = Arc::new(Mutex::new(state::State::new(&config)));
        let outbox = Outbox::new(SenderId::Sintegre, default_policy());
        outbox.set_observer(Arc::new(Slots { state: state.clone() }));
        Sintegre { state, outbox }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        lock(&self.state)
    }

    /// Queues one attempt of `publication` (or the made-up payload) to `integration`.
    fn send(&self, integration: u64, product: Option<u64>, publication: Option<u64>, slot: bool) {
        let state = self.state.clone();
        let render = Arc::new(move || lock(&state).render(integration, publication));
        self.outbox.enqueue(Outgoing {
            event: if publication.is_some() { "publication" } else { "test" }.into(),
            tag: json!({
                "integration": integration,
                "product": product,
                "publication": publication,
                "slot": slot,
            }),
            render,
            timeout_is_success: false,
        });
    }
}

fn lock(state: &Mutex<state::State>) -> MutexGuard<'_, state::State> {
    // Handlers do not panic while holding the lock; the state stays the best answer.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps each slot's last status from the attempts (§5.2).
struct Slots {
    state: Arc<Mutex<state::State>>,
}

impl Observer for Slots {
    fn attempted(&self, tag: &Value, record: &AttemptRecord, status: DeliveryStatus) {
        if tag["slot"] != json!(true) {
            return;
        }
        let (Some(integration), Some(product)) =
            (tag["integration"].as_u64(), tag["product"].as_u64())
        else {
            return;
        };
        let mut state = lock(&self.state);
        let Some(slot) =
            state.integrations.get_mut(&integration).and_then(|i| i.slots.get_mut(&product))
        else {
            return;
        };
        slot.attempts += 1;
        slot.last_attempt_at = Some(record.at.clone());
        // A retry still due keeps the slot `Sending`.
        (slot.last_status, slot.reason) = match status {
            DeliveryStatus::Delivered => (SlotStatus::Delivered, None),
            DeliveryStatus::Pending | DeliveryStatus::Sending => (SlotStatus::Sending, None),
            DeliveryStatus::Failed | DeliveryStatus::Cancelled => {
                let reason = match (record.status, &record.error) {
                    (Some(code), _) => format!("Http({code})"),
                    (None, Some(error)) if error == "timeout" => "Timeout".to_owned(),
                    (None, Some(error)) => format!("Connect({error})"),
                    (None, None) => "Unknown".to_owned(),
                };
                (SlotStatus::Failed, Some(reason))
            }
        };
    }
}

impl Simulator for Sintegre {
    fn owns(&self, path: &str) -> bool {
        path.starts_with(PREFIX)
    }

    fn fault_response(&self, _path: &str, status: StatusCode, _body: &[u8]) -> Response {
        (status, format!("Falha simulada: {}", status.as_u16())).into_response()
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/sintegre/ONS.Sintegre.Proxy/webhook", get(proxy))
            .merge(control::routes())
            .with_state(self.clone())
            .merge(crate::senders::routes(self.outbox.clone()))
    }
}

#[derive(Deserialize)]
struct ProxyQuery {
    token: Option<String>,
}

/// §4: a plain GET of the `url`, no credentials; the file while the token lives.
async fn proxy(State(sintegre): State<Sintegre>, Query(query): Query<ProxyQuery>) -> Response {
    let mut state = sintegre.lock();
    let Some(token) = query.token else {
        return (StatusCode::UNAUTHORIZED, "Token não informado").into_response();
    };
    let claims = match token::verify(&token, &state.key, state.now().timestamp()) {
        Ok(claims) => claims,
        Err(token::Refused::Expired) => {
            let status =
                StatusCode::from_u16(state.expired.status).unwrap_or(StatusCode::UNAUTHORIZED);
            return (status, state.expired.body.clone()).into_response();
        }
        Err(token::Refused::Invalid | token::Refused::NotYetValid) => {
            return (StatusCode::UNAUTHORIZED, "Token inválido").into_response();
        }
    };
    // The newest publication behind the claim: a file overwritten under its name (§7.1 q9).
    let Some(publication) = state.publications.values().rev().find(|p| p.inner_url == claims.url)
    else {
        return (StatusCode::NOT_FOUND, "Arquivo não encontrado").into_response();
    };
    let Some(bytes) = publication.bytes.clone() else {
        return (StatusCode::NOT_FOUND, "Arquivo não encontrado").into_response();
    };
    let (file_name, content_type, bytes) = if publication.is_file {
        (publication.file_name.clone(), publication.content_type.clone(), bytes)
    } else {
        // §4 [W]: a folder comes zipped, named after the product.
        let zipped = match crate::files::zip(&[(&publication.file_name, &bytes)]) {
            Ok(zipped) => zipped,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        (format!("{}.zip", claims.nome_produto), "application/zip".to_owned(), zipped.into())
    };
    let disposition = state.disposition;
    let truncate = state.truncate_downloads > 0;
    state.truncate_downloads = state.truncate_downloads.saturating_sub(1);
    drop(state);
    let full = bytes.len();
    let mut response = if truncate {
        // The full length announced, half the bytes sent, then the connection is cut.
        let pause = Box::pin(tokio::time::sleep(Duration::from_millis(100)));
        let mut response =
            Body::new(Truncated(Some(bytes.slice(..full / 2)), pause)).into_response();
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(full));
        response
    } else {
        bytes.into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = disposition_header(disposition, &file_name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A body that yields its bytes, then (once they had time to be written) fails: the server
/// cuts the connection mid-body.
struct Truncated(Option<Bytes>, std::pin::Pin<Box<tokio::time::Sleep>>);

impl hyper::body::Body for Truncated {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        if let Some(bytes) = self.0.take() {
            return Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes))));
        }
        match self.1.as_mut().poll(context) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err(std::io::Error::other("truncated by the sandbox"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn disposition_header(disposition: Disposition, file_name: &str) -> Option<HeaderValue> {
    let text = match disposition {
        Disposition::None => return None,
        Disposition::Rfc6266 => crate::files::content_disposition(file_name),
        Disposition::Plain => format!("attachment; filename=\"{}\"", file_name.replace('"', "_")),
        Disposition::Rfc2047 => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(file_name);
            format!("attachment; filename=\"=?utf-8?B?{encoded}?=\"")
        }
    };
    // `from_bytes`: a plain name keeps its UTF-8 bytes, as a careless server sends them.
    HeaderValue::from_bytes(text.as_bytes()).ok()
}
