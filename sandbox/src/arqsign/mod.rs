//! Simulator of ArqSign (Arquivar) Integration API, written from `shared/contracts/arqsign.md`.
//!
//! # Paths
//!
//! Everything lives under `/arqsign`, standing for `https://api-rest.arqsign.com`: a client's
//! base URL is `{sandbox}/arqsign`. Paths match in any casing (the real service is ASP.NET),
//! and so do JSON property names and query parameters.
//!
//! | Route | Notes |
//! |---|---|
//! | `POST /api/v2/processo/enviar-documento-para-assinar` | send: 1–25 base64 PDFs, ≤ 100 MB (bodies up to 140 MiB) |
//! | `POST /api/v3/processo/enviar-documento-para-assinar` | as v2, plus `alterarNotificacoes`, `retornarLinkProcesso` → `linkProcesso`, `documentos[].linkDoArquivo` (only `data:…;base64,` links: the sandbox does not fetch) |
//! | `GET /api/v2/processo/{id}?arquivoTipo=1\|2&retornarRegistroAssinatura=` | full process; files as `base64Documento` (1, default) or `linkParaBaixarDocumento` (2) |
//! | `PATCH /api/v2/processo/{id}/reenviar-processo` | JSON array of edits (`[]` = none) → pending signers of the current order |
//! | `GET /api/v1/processo/{id}/status-do-processo` | light status |
//! | `GET /api/v1/processo/{id}/dados-signatarios` | signers (`idTipoAcao` 1) |
//! | `PATCH /api/v1/processo/{id}/cancelar-processo` | 200 `{"codigo": 200, "mensagem"}`; 422 unless status 2 or 3 |
//! | `POST /api/v1/processo/{id}/buscar-anexos-signatarios` | files signers attached (required attachments are generated when they sign) |
//! | `GET /api/v1/processo/{idArquivoProcesso}/registro-assinaturas` | evidence report of one document |
//! | `POST /api/v1/diretorio/buscar-pastas`, `POST /api/v1/usuarios/buscar-usuarios` | seeded folders and users |
//! | `GET /api/v1/conta/papeis-signatarios`, `GET /api/v1/conta/dados-assinatura` | roles; account, plan and credits |
//! | `POST`/`GET /api/v1/confwebhook`, `PATCH /api/v1/confwebhook/{id}/alterar-status` | account webhooks (up to 25); their triggers fire deliveries signed with `HMAC` (§6.3) |
//!
//! Download links point at `/arqsign-storage/{key}` (no auth); v3 signing links at
//! `/arqsign-app/assinar/{token}` (a small HTML page).
//!
//! Every `/arqsign` route needs the `AppKey` and `SubscriptionKey` headers (names configurable,
//! matched case-insensitively): a missing or wrong AppKey, an inactive account, or a
//! subscription key that is not one of the account's two answers 401. Errors are
//! `{"codigo": <HTTP status>, "mensagem": "…"}` with §5.2's exact texts; malformed JSON is 500
//! `Formato do JSON incorreto`; unknown properties are 400 `Algum parâmetro está incorreto ou
//! é inexistente.`; an unknown id is 400 `O(s) id(s) listado(s) não existe(m): <parameter>.`
//!
//! Rate limits (both off by default, settable at run time): `requests_per_second` for the
//! whole account, and `status_poll_interval_ms` between two polls of the same process on
//! `status-do-processo` (and, separately, on the v2 GET). Over the limit: 429 with
//! `Retry-After` in whole seconds.
//!
//! # Control routes
//!
//! | Route | Body |
//! |---|---|
//! | `POST /__sandbox/arqsign/processes/{id}/sign` | `{"email"}` or `{"phone"}`, optional `"ip"`, `"name"`, `"document"` |
//! | `POST /__sandbox/arqsign/processes/{id}/refuse` | `{"email"\|"phone", "reason"}` |
//! | `POST /__sandbox/arqsign/processes/{id}/expire` | |
//! | `POST /__sandbox/arqsign/processes/{id}/fail-delivery` | `{"email"\|"phone"}` |
//! | `POST /__sandbox/arqsign/processes/{id}/delete` | logical deletion: reads answer `Documento excluído.` |
//! | `GET /__sandbox/arqsign/processes/{id}`, `GET /__sandbox/arqsign/processes` | full internal state |
//! | `GET`/`POST /__sandbox/arqsign/webhooks/settings` | `{"casing": "pascal"\|"camel", "date_format": "doc"\|"iso", "hmac_encoding": "base64"\|"hex", "event_names": {"1": …, "8": "ProcessoConcluido"}}` |
//! | `/__sandbox/arqsign/deliveries…` | webhook deliveries ([`crate::senders`]); §6.3's policy by default: only 200, 100 s, 14 attempts over 5 days, 401/403/404 stop |
//! | `GET`/`POST /__sandbox/arqsign/config` | `{"status_poll_interval_ms", "requests_per_second", "account_active", "app_key_header", "subscription_key_header", "default_expiry_days", "credits": {"envios", "whatsapp", "sms"}}` |
//!
//! Sign, refuse and fail-delivery answer the process state, or 409 when it is not that
//! signer's turn, they already acted, the process expired or is not open; 404 for an unknown
//! process or recipient.

mod account;
mod control;
mod download;
mod limits;
mod messages;
mod model;
mod state;
mod text;
mod validate;
mod webhooks;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, patch, post};
use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use account::{
    ACCOUNT_ID, BLOCKED_USER_ID, Credits, DEFAULT_FOLDER_ID, DEFAULT_RESPONSIBLE_ID,
    DELETED_FOLDER_ID, INACTIVE_USER_ID, ROOT_FOLDER_ID,
};

use crate::aspnet::{self, BindError, query_param, wire_utc};
use crate::files::{Blob, blob_response};
use crate::ids::is_guid;
use crate::senders::{Outbox, SenderId};
use crate::server::{DEFAULT_BODY_LIMIT, Simulator};
use download::Context;
use limits::{Poll, retry_after_secs};
use messages as msg;
use model::{ApiVersion, Outcome, Process, Recipient, action, status};
use state::Refusal;

/// The account's API key ("API AppKey" in the app).
pub const DEFAULT_APP_KEY: &str = "a7c3e9f1b5d24680ace13579bdf02468";
/// The account's subscription key "Chave 1".
pub const DEFAULT_SUBSCRIPTION_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The account's subscription key "Chave 2", valid as well.
pub const DEFAULT_SUBSCRIPTION_KEY_2: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";

/// Settings of the ArqSign simulator. Everything but the keys can also be changed at run time
/// through `POST /__sandbox/arqsign/config`.
#[derive(Clone)]
pub struct ArqSignConfig {
    /// The account's AppKey.
    pub app_key: String,
    /// The account's subscription keys ("Chave 1", "Chave 2"); any of them is accepted.
    pub subscription_keys: Vec<String>,
    /// Header carrying the AppKey (contract §1.2: `AppKey`).
    pub app_key_header: String,
    /// Header carrying the subscription key: `SubscriptionKey` per the manual's text; Azure API
    /// Management's default would be `Ocp-Apim-Subscription-Key`.
    pub subscription_key_header: String,
    /// An account that is not active answers 401 to everything.
    pub account_active: bool,
    /// Minimum time between two polls of the same process (0 = no limit).
    pub status_poll_interval_ms: u64,
    /// Account-wide requests per second (0 = no limit).
    pub requests_per_second: u32,
    /// Expiry when `tempoExpiracaoDocumentoDias` is left out (the account default).
    pub default_expiry_days: u32,
    /// Initial credit balances; each send consumes them.
    pub credits: Credits,
}

impl Default for ArqSignConfig {
    fn default() -> ArqSignConfig {
        ArqSignConfig {
            app_key: DEFAULT_APP_KEY.into(),
            subscription_keys: vec![
                DEFAULT_SUBSCRIPTION_KEY.into(),
                DEFAULT_SUBSCRIPTION_KEY_2.into(),
            ],
            app_key_header: "AppKey".into(),
            subscription_key_header: "SubscriptionKey".into(),
            account_active: true,
            status_poll_interval_ms: 0,
            requests_per_second: 0,
            default_expiry_days: 30,
            credits: Credits::default(),
        }
    }
}

/// Hand-written so keys never reach logs.
impl std::fmt::Debug for ArqSignConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArqSignConfig")
            .field("app_key", &"***")
            .field("subscription_keys", &format_args!("[{} keys]", self.subscription_keys.len()))
            .field("app_key_header", &self.app_key_header)
            .field("subscription_key_header", &self.subscription_key_header)
            .field("account_active", &self.account_active)
            .field("status_poll_interval_ms", &self.status_poll_interval_ms)
            .field("requests_per_second", &self.requests_per_second)
            .field("default_expiry_days", &self.default_expiry_days)
            .field("credits", &self.credits)
            .finish()
    }
}

const PREFIX: &str = "/arqsign";
const STORAGE_PREFIX: &str = "/arqsign-storage/";
const APP_PREFIX: &str = "/arqsign-app/";
/// A send carries up to 25 PDFs of 100 MB in total as base64 inside JSON: about 134 MiB.
const SEND_BODY_LIMIT: usize = 140 * 1024 * 1024;

/// The ArqSign simulator: shared state behind a mutex (never held across an await).
#[derive(Clone)]
pub(crate) struct ArqSign {
    state: Arc<Mutex<state::State>>,
    outbox: Arc<Outbox>,
}

impl ArqSign {
    pub fn new(config: ArqSignConfig) -> ArqSign {
        let state = Arc::new(Mutex::new(state::State::new(config, Utc::now())));
        let outbox = Outbox::new(SenderId::Arqsign, webhooks::default_policy());
        outbox.set_observer(Arc::new(webhooks::Consequences {
            state: state.clone(),
            outbox: Arc::downgrade(&outbox),
        }));
        ArqSign { state, outbox }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        // Handlers do not panic while holding the lock; if one ever did, the state is still the
        // best answer the sandbox has.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spaces polls of one process (`status_poll_interval_ms`).
    fn poll(&self, route: Poll, id: &str) -> Result<(), Fail> {
        let mut state = self.lock();
        let interval = Duration::from_millis(state.config.status_poll_interval_ms);
        state.limiter.poll(route, id, interval, Instant::now()).map_err(|wait| {
            Fail::rate_limited(
                wait,
                format!("O processo {id} foi consultado há menos de {} ms.", interval.as_millis()),
            )
        })
    }
}

impl Simulator for ArqSign {
    fn owns(&self, path: &str) -> bool {
        let lower = path.to_ascii_lowercase();
        lower == PREFIX
            || lower.starts_with("/arqsign/")
            || path.starts_with(STORAGE_PREFIX)
            || path.starts_with(APP_PREFIX)
    }

    /// ASP.NET routing ignores case and a trailing slash; link keys and tokens are
    /// case-sensitive.
    fn route_path(&self, path: &str) -> String {
        if path.starts_with(STORAGE_PREFIX) || path.starts_with(APP_PREFIX) {
            return path.to_owned();
        }
        aspnet::route_path(path)
    }

    fn body_limit(&self, path: &str) -> usize {
        if aspnet::route_path(path).ends_with("/processo/enviar-documento-para-assinar") {
            SEND_BODY_LIMIT
        } else {
            DEFAULT_BODY_LIMIT
        }
    }

    fn fault_response(&self, path: &str, status: StatusCode, _body: &[u8]) -> Response {
        let message = format!(
            "Falha simulada: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if path.starts_with(STORAGE_PREFIX) || path.starts_with(APP_PREFIX) {
            return (status, message).into_response();
        }
        Fail::new(status, message).into_response()
    }

    fn routes(&self) -> Router {
        let api = Router::new()
            .route("/arqsign/api/v2/processo/enviar-documento-para-assinar", post(send_v2))
            .route("/arqsign/api/v3/processo/enviar-documento-para-assinar", post(send_v3))
            .route("/arqsign/api/v2/processo/{id}", get(process))
            .route("/arqsign/api/v2/processo/{id}/reenviar-processo", patch(resend))
            .route("/arqsign/api/v1/processo/{id}/status-do-processo", get(status_of))
            .route("/arqsign/api/v1/processo/{id}/dados-signatarios", get(signers))
            .route("/arqsign/api/v1/processo/{id}/cancelar-processo", patch(cancel))
            .route("/arqsign/api/v1/processo/{id}/buscar-anexos-signatarios", post(attachments))
            .route("/arqsign/api/v1/processo/{id}/registro-assinaturas", get(evidence))
            .route("/arqsign/api/v1/diretorio/buscar-pastas", post(folders))
            .route("/arqsign/api/v1/usuarios/buscar-usuarios", post(users))
            .route("/arqsign/api/v1/conta/papeis-signatarios", get(roles))
            .route("/arqsign/api/v1/conta/dados-assinatura", get(subscription))
            .route("/arqsign/api/v1/confwebhook", get(webhooks::list).post(webhooks::create))
            .route("/arqsign/api/v1/confwebhook/{id}/alterar-status", patch(webhooks::set_status))
            .route_layer(middleware::from_fn_with_state(self.clone(), guard));
        Router::new()
            .route("/arqsign", any(no_route))
            .route("/arqsign/{*rest}", any(no_route))
            .route("/arqsign-storage/{key}", get(storage))
            .route("/arqsign-app/assinar/{token}", get(signing_page))
            .route("/arqsign-app/compartilhado/{id}", get(shared))
            .merge(api)
            .merge(control::routes())
            .route(
                "/__sandbox/arqsign/webhooks/settings",
                get(webhooks::settings).post(webhooks::set_settings),
            )
            // Every request may have changed a process: its events become webhook deliveries.
            .layer(middleware::from_fn_with_state(self.clone(), deliver_events))
            .with_state(self.clone())
            .merge(crate::senders::routes(self.outbox.clone()))
    }
}

// ---- answers ---------------------------------------------------------------------------------

/// A failed request: `{"codigo", "mensagem"}` with the status, plus `Retry-After` on 429.
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl Fail {
    fn new(status: StatusCode, message: impl Into<String>) -> Fail {
        Fail { status, message: message.into(), retry_after: None }
    }

    fn bad_request(message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, message)
    }

    fn unauthorized(message: &str) -> Fail {
        Fail::new(StatusCode::UNAUTHORIZED, message)
    }

    fn rate_limited(wait: Duration, why: String) -> Fail {
        let secs = retry_after_secs(wait);
        let message =
            format!("{why} Limite de requisições excedido; tente novamente em {secs} segundo(s).");
        Fail { status: StatusCode::TOO_MANY_REQUESTS, message, retry_after: Some(secs) }
    }

    fn internal(message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let body = wire::Reply { codigo: self.status.as_u16(), mensagem: self.message };
        let mut response = json(self.status, &body, 256);
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Refusal> for Fail {
    fn from(refusal: Refusal) -> Fail {
        match refusal {
            Refusal::Unknown(field) => Fail::bad_request(msg::unknown_ids(field)),
            Refusal::Deleted => Fail::bad_request(msg::DELETED),
            Refusal::Invalid(message) | Refusal::NoRecipient(message) => Fail::bad_request(message),
            Refusal::Unprocessable(message) | Refusal::Conflict(message) => {
                Fail::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
        }
    }
}

type Answer = Result<Response, Fail>;

/// A JSON answer serialised into one buffer of about `capacity` bytes (large files are written
/// into it as base64 directly).
fn json<T: Serialize>(status: StatusCode, body: &T, capacity: usize) -> Response {
    let mut buffer = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buffer, body) {
        Ok(()) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))],
            buffer,
        )
            .into_response(),
        Err(e) => {
            // Answer types hold only strings, numbers and bytes: this is not expected.
            tracing::error!(error = %e, "could not serialise an ArqSign answer");
            (StatusCode::INTERNAL_SERVER_ERROR, "falha ao serializar a resposta").into_response()
        }
    }
}

fn ok<T: Serialize>(body: &T) -> Answer {
    Ok(json(StatusCode::OK, body, 1024))
}

/// Binds a JSON body the way ArqSign answers binding errors: 500 for malformed JSON (contract
/// §5.1), the generic message for unknown properties, "formato incorreto" for a bad value.
fn bind<T: DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    aspnet::bind(body).map_err(|e| match e {
        BindError::Syntax(_) | BindError::Invalid { field: None, .. } => {
            Fail::internal(msg::MALFORMED_JSON)
        }
        BindError::UnknownField(_) => Fail::bad_request(msg::UNKNOWN_PARAMETER),
        BindError::Invalid { field: Some(field), .. } => Fail::bad_request(msg::malformed(&field)),
    })
}

fn time(at: DateTime<Utc>) -> String {
    wire_utc(at)
}

/// The scheme and authority clients reached the sandbox through, for links back to it.
fn origin(headers: &HeaderMap) -> Result<String, Fail> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("http://{host}"))
        .ok_or_else(|| Fail::bad_request("Cabeçalho Host ausente."))
}

/// A path id that must be a GUID.
fn guid(id: &str, field: &str) -> Result<(), Fail> {
    if is_guid(id) { Ok(()) } else { Err(Fail::bad_request(msg::malformed(field))) }
}

async fn no_route() -> Fail {
    Fail::new(StatusCode::NOT_FOUND, "O recurso solicitado ou o endpoint não foi localizado.")
}

/// Runs the request, then queues the webhook deliveries of the events it recorded.
async fn deliver_events(State(arq): State<ArqSign>, request: Request, next: Next) -> Response {
    let origin = origin(request.headers()).ok();
    let response = next.run(request).await;
    webhooks::emit(&arq, origin);
    response
}

// ---- authentication and account rate ---------------------------------------------------------

/// Contract §1.2, in the documented order: AppKey → account active → subscription key of the
/// account; then the account's request rate.
async fn guard(State(arq): State<ArqSign>, request: Request, next: Next) -> Response {
    let verdict = authorize(&mut arq.lock(), request.headers(), Instant::now());
    match verdict {
        Ok(()) => next.run(request).await,
        Err(fail) => fail.into_response(),
    }
}

fn authorize(state: &mut state::State, headers: &HeaderMap, now: Instant) -> Result<(), Fail> {
    let value = |name: &str| {
        HeaderName::from_bytes(name.as_bytes())
            .ok()
            .and_then(|name| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let config = &state.config;
    if value(&config.app_key_header) != Some(config.app_key.as_str()) {
        return Err(Fail::unauthorized("Acesso negado: AppKey ausente ou inválida."));
    }
    if !config.account_active {
        return Err(Fail::unauthorized("Acesso negado: a conta não está ativa."));
    }
    let subscription = value(&config.subscription_key_header);
    if !subscription.is_some_and(|key| config.subscription_keys.iter().any(|k| k == key)) {
        return Err(Fail::unauthorized(
            "Acesso negado: SubscriptionKey ausente ou não pertence à conta da AppKey.",
        ));
    }
    let per_second = config.requests_per_second;
    state.limiter.admit(per_second, now).map_err(|wait| {
        Fail::rate_limited(
            wait,
            format!("A conta permite {per_second} requisição(ões) por segundo."),
        )
    })
}

// ---- processes -------------------------------------------------------------------------------

async fn send_v2(State(arq): State<ArqSign>, headers: HeaderMap, body: Bytes) -> Answer {
    send(arq, ApiVersion::V2, &headers, body).await
}

async fn send_v3(State(arq): State<ArqSign>, headers: HeaderMap, body: Bytes) -> Answer {
    send(arq, ApiVersion::V3, &headers, body).await
}

async fn send(arq: ArqSign, version: ApiVersion, headers: &HeaderMap, body: Bytes) -> Answer {
    let origin = origin(headers)?;
    let account = arq.lock().account.clone();
    // Decoding up to 100 MB of base64 (and reading pages for manual positions) is CPU work.
    let draft = tokio::task::spawn_blocking(move || {
        let request: wire::SendRequest = bind(&body)?;
        // The files now live in the request: the raw JSON can go before validation.
        drop(body);
        validate::send(request, version, &account).map_err(Fail::bad_request)
    })
    .await
    .map_err(|e| Fail::internal(format!("falha ao validar o envio: {e}")))??;

    let mut state = arq.lock();
    let process = state.send(draft, Utc::now())?;
    let answer = wire::Sent {
        id_processo: process.id.clone(),
        documentos: process
            .documents
            .iter()
            .map(|d| wire::SentDocument { id: d.id.clone(), ordem: d.order, nome: d.name.clone() })
            .collect(),
        destinatarios: process
            .recipients
            .iter()
            .map(|r| wire::SentRecipient {
                id_processo_destinatario: r.id.clone(),
                ordem: r.order,
                forma_envio: r.contact().to_owned(),
                nome_signatario: r.name.clone(),
                configuracoes_anexos: attachment_refs(r),
                link_processo: (version == ApiVersion::V3).then(|| {
                    (r.return_link && r.action == action::SIGN)
                        .then(|| format!("{origin}{APP_PREFIX}assinar/{}", r.link_token))
                }),
            })
            .collect(),
    };
    ok(&answer)
}

fn attachment_refs(recipient: &Recipient) -> Option<Vec<wire::AttachmentRef>> {
    (!recipient.attachments.is_empty()).then(|| {
        recipient
            .attachments
            .iter()
            .map(|a| wire::AttachmentRef { id: a.id.clone(), nome: a.name.clone() })
            .collect()
    })
}

async fn status_of(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    arq.poll(Poll::Status, &id)?;
    let state = arq.lock();
    let process = state.process(&id)?;
    let now = Utc::now();
    ok(&wire::Status {
        nome_processo: process.name.clone(),
        status: status::label(process.status),
        id_status: process.status,
        expirado: process.is_expired(now),
        data_conclusao: process.concluded_at.map(time),
        data_cancelamento: process.cancelled_at.map(time),
        data_expiracao: status::is_open(process.status).then(|| time(process.expires_at)),
    })
}

/// The signed file and (when asked) the report of every document, from the cache or built
/// off the async threads, then cached for the process revision.
async fn files(
    arq: &ArqSign,
    process: Process,
    context: Context,
    reports: bool,
) -> Result<(Process, Vec<(Bytes, Option<Bytes>)>), Fail> {
    let built = tokio::task::spawn_blocking(move || {
        let revision = process.revision();
        let mut fresh = Vec::new();
        let mut files = Vec::with_capacity(process.documents.len());
        for document in &process.documents {
            let cached = |entry: &Option<(usize, Bytes)>| {
                entry.as_ref().filter(|(r, _)| *r == revision).map(|(_, bytes)| bytes.clone())
            };
            let (signed, new_signed) = match cached(&document.signed) {
                Some(bytes) => (bytes, None),
                None => {
                    let bytes = download::signed_pdf(&process, document);
                    (bytes.clone(), Some(bytes))
                }
            };
            let (report, new_report) = match (reports, cached(&document.report)) {
                (false, _) => (None, None),
                (true, Some(bytes)) => (Some(bytes), None),
                (true, None) => {
                    let bytes = download::evidence_pdf(&process, document, &context)
                        .map_err(|e| format!("falha ao gerar o registro de assinaturas: {e}"))?;
                    (Some(bytes.clone()), Some(bytes))
                }
            };
            if new_signed.is_some() || new_report.is_some() {
                fresh.push(model::Generated {
                    document: document.id.clone(),
                    sha256: document.sha256.get().cloned(),
                    signed: new_signed,
                    report: new_report,
                });
            }
            files.push((signed, report));
        }
        Ok::<_, String>((process, files, fresh))
    })
    .await
    .map_err(|e| Fail::internal(format!("falha ao gerar os arquivos: {e}")))?
    .map_err(Fail::internal)?;
    let (process, files, fresh) = built;
    if !fresh.is_empty() {
        arq.lock().cache_files(&process.id, process.revision(), fresh);
    }
    Ok((process, files))
}

fn context(state: &state::State, process: &Process) -> Context {
    let account = &state.account;
    let responsible = account.user(&process.responsible_id).map(|u| u.name).unwrap_or_default();
    Context { responsible: responsible.to_owned(), folder_path: folder_path(state, process, "|") }
}

/// The folder's path; the root's for a deleted folder (its files go to the root, §2.1).
fn folder_path(state: &state::State, process: &Process, separator: &str) -> String {
    let account = &state.account;
    let folder =
        account.folder(&process.folder_id).filter(|f| !f.deleted).unwrap_or(account.root());
    account.path(folder).join(separator)
}

async fn process(
    State(arq): State<ArqSign>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    arq.poll(Poll::Process, &id)?;
    // Absent or invalid values fall back to the defaults: base64, with reports (§2.3).
    let links = query_param(&uri, "arquivoTipo").is_some_and(|t| t.trim() == "2");
    let reports = !query_param(&uri, "retornarRegistroAssinatura")
        .is_some_and(|r| r.trim().eq_ignore_ascii_case("false"));
    let origin = origin(&headers)?;
    let (snapshot, context, responsible_email, folder) = {
        let state = arq.lock();
        let process = state.process(&id)?.clone();
        let context = context(&state, &process);
        let email = state.account.user(&process.responsible_id).map(|u| u.email.to_owned());
        let folder = folder_path(&state, &process, "\\");
        (process, context, email, folder)
    };
    let responsible = context.responsible.clone();
    let (process, files) = files(&arq, snapshot, context, reports).await?;

    let urls: Vec<String> = if links {
        let mut state = arq.lock();
        process
            .documents
            .iter()
            .zip(&files)
            .map(|(document, (signed, _))| {
                let key = state.links.store(Blob {
                    file_name: document.name.clone(),
                    content_type: "application/pdf".into(),
                    bytes: signed.clone(),
                });
                format!("{origin}{STORAGE_PREFIX}{key}")
            })
            .collect()
    } else {
        Vec::new()
    };
    let answer = wire::Process {
        nome_processo: &process.name,
        id_pasta: &process.folder_id,
        caminho_da_pasta: folder,
        id_responsavel: &process.responsible_id,
        nome_responsavel: &responsible,
        status: status::label(process.status),
        id_status: process.status,
        data_cadastro: time(process.created_at),
        data_envio: Some(time(process.sent_at)),
        data_conclusao: process.concluded_at.map(time),
        data_renovacao: process.renewal_at.map(time),
        data_cancelamento: process.cancelled_at.map(time),
        usuario_cancelamento: process.cancelled_by.as_deref(),
        data_reenvio: process.resent_at.map(time),
        data_expiracao: Some(time(process.expires_at)),
        expiracao_dias: process.expiry_days,
        aviso_expiracao_dias: process.warning_days,
        lembrete: process.reminder_days > 0,
        frequencia_lembrete: process.reminder_days,
        signatarios: process
            .recipients
            .iter()
            .map(|r| process_signer(r, responsible_email.as_deref()))
            .collect(),
        documentos: process
            .documents
            .iter()
            .zip(&files)
            .enumerate()
            .map(|(i, (document, (signed, report)))| wire::ProcessDocument {
                id: &document.id,
                ordem_documento: document.order,
                nome_documento: &document.name,
                link_documento_compartilhado: (process.qr_code
                    && process.status == status::CONCLUIDO)
                    .then(|| format!("{origin}{APP_PREFIX}compartilhado/{}", document.id)),
                link_para_baixar_documento: urls.get(i).cloned(),
                base64_documento: (!links).then_some(wire::Base64(signed)),
                registro_assinaturas: report.as_ref().map(|report| wire::Report {
                    nome: download::evidence_name(&document.name),
                    base64: wire::Base64(report),
                }),
            })
            .collect(),
    };
    // base64 is 4/3 of the bytes; the rest of the answer is small.
    let size: usize = files
        .iter()
        .map(|(signed, report)| {
            (if links { 0 } else { signed.len() }) + report.as_ref().map_or(0, Bytes::len)
        })
        .sum();
    Ok(json(StatusCode::OK, &answer, size / 3 * 4 + 8192))
}

fn process_signer<'a>(
    r: &'a Recipient,
    responsible_email: Option<&str>,
) -> wire::ProcessSigner<'a> {
    let refused = match &r.outcome {
        Outcome::Refused { reason, .. } => Some(reason.as_str()),
        _ => None,
    };
    wire::ProcessSigner {
        ordem_assinatura: r.order,
        id: &r.id,
        nome: &r.name,
        email: r.email.as_deref(),
        telefone: r.phone.as_deref(),
        aguardando_envio: r.awaiting,
        falha_envio: r.delivery_failed,
        copia_enviada: r.copy_sent,
        remetente: responsible_email.is_some_and(|email| {
            r.email.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(email))
        }),
        assinatura_recusada: refused.is_some(),
        motivo_recusa: refused,
        tipo_acao: action::label(r.action),
        id_tipo_acao: r.action,
        papel_signatario: roles_of(r),
        seguranca: r.security.as_ref().map(|s| wire::SecurityEcho {
            codigo_seguranca: s.code.as_deref(),
            codigo_seguranca_email: s.email.as_deref(),
            codigo_seguranca_telefone: s.phone.as_deref(),
            falha_envio_codigo_seguranca: s.delivery_failed,
        }),
        dados_assinatura: signature_data(r),
    }
}

fn roles_of(r: &Recipient) -> wire::Roles<'_> {
    wire::Roles { pessoa_fisica: &r.roles_person, pessoa_juridica: &r.roles_company }
}

/// `dadosAssinatura`: null while pending ("null = Pendente; presença de dados = Assinado").
fn signature_data(r: &Recipient) -> Option<wire::SignatureData<'_>> {
    let Outcome::Signed(signature) = &r.outcome else { return None };
    Some(wire::SignatureData {
        tipo_assinatura: r.signature_type.map(model::signature_type_label),
        id_tipo_assinatura: r.signature_type,
        data_assinatura: time(signature.at),
        ip: signature.ip.as_deref(),
        geo_localizacao: None,
        dados_certificado: signature.certificate.as_ref().map(|c| wire::Certificate {
            nome: &c.name,
            emissor: c.issuer,
            validade_inicio: time(c.valid_from),
            validade_fim: time(c.valid_until),
        }),
        dados_pessoa_fisica: signature.person.as_ref().map(|p| wire::Person {
            nome: p.name.as_deref(),
            tipo_documento: p.document_type.map(model::document_type_label),
            numero_documento: p.number.as_deref(),
        }),
        dados_pessoa_juridica: signature.company.as_ref().map(|c| wire::Company {
            nome_empresa: c.name.as_deref(),
            tipo_documento_empresa: c.document_type.map(model::document_type_label),
            numero_documento_empresa: c.number.as_deref(),
        }),
        anexos: uploads_of(r),
    })
}

fn uploads_of(r: &Recipient) -> Vec<wire::SignerAttachment<'_>> {
    r.uploads
        .iter()
        .map(|u| wire::SignerAttachment { id: &u.id, anexo_documento_nome: &u.name })
        .collect()
}

async fn signers(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    let state = arq.lock();
    let process = state.process(&id)?;
    let rows = process
        .signers()
        .map(|r| {
            let signed_at = match &r.outcome {
                Outcome::Signed(signature) => Some(time(signature.at)),
                _ => None,
            };
            let refused = match &r.outcome {
                Outcome::Refused { reason, .. } => Some(reason.as_str()),
                _ => None,
            };
            let security = r.security.as_ref();
            wire::SignerRow {
                ordem: r.order,
                id_processo_destinatario: &r.id,
                nome: &r.name,
                id_tipo_assinatura: r.signature_type,
                id_forma_envio_processo: r.delivery_channel(),
                email: r.email.as_deref(),
                telefone: r.phone.as_deref(),
                papel_signatario: roles_of(r),
                tipo_acao: action::label(r.action),
                id_tipo_acao: r.action,
                id_meio_envio_codigo_seguranca: security.and_then(|s| s.channel),
                email_seguranca: security.and_then(|s| s.email.as_deref()),
                telefone_seguranca: security.and_then(|s| s.phone.as_deref()),
                permitir_reenviar_codigo: security.is_some_and(|s| s.allow_resend),
                falha_envio: r.delivery_failed,
                falha_envio_codigo_seguranca: security.is_some_and(|s| s.delivery_failed),
                assinado: signed_at.is_some(),
                data_assinatura: signed_at,
                assinatura_recusada: refused.is_some(),
                motivo_recusa: refused,
                anexos: uploads_of(r),
            }
        })
        .collect();
    ok(&wire::SignersData {
        nome_processo: &process.name,
        status: status::label(process.status),
        id_status: process.status,
        data_conclusao: process.concluded_at.map(time),
        data_cancelamento: process.cancelled_at.map(time),
        usuario_cancelamento: process.cancelled_by.as_deref(),
        data_expiracao: status::is_open(process.status).then(|| time(process.expires_at)),
        signatarios: rows,
    })
}

/// The body of a cancel is not documented (a screenshot): whatever comes is ignored.
async fn cancel(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    arq.lock().cancel(&id, Utc::now())?;
    ok(&wire::Reply { codigo: StatusCode::OK.as_u16(), mensagem: msg::CANCELLED.into() })
}

async fn resend(State(arq): State<ArqSign>, Path(id): Path<String>, body: Bytes) -> Answer {
    // No body at all is taken as `[]`, the "no edits" form.
    let edits: Vec<wire::ResendItem> =
        if body.iter().all(u8::is_ascii_whitespace) { Vec::new() } else { bind(&body)? };
    let resent = arq.lock().resend(&id, edits, Utc::now())?;
    let answer: Vec<wire::Resent> = resent
        .into_iter()
        .map(|r| wire::Resent {
            forma_envio_processo: r.contact().to_owned(),
            anexos: (!r.attachments.is_empty()).then(|| {
                r.attachments
                    .iter()
                    .map(|a| wire::ResentAttachment {
                        id_configuracao_anexo: a.id.clone(),
                        nome_anexo: a.name.clone(),
                    })
                    .collect()
            }),
            id_processo_destinatario: r.id,
            ordem: r.order,
            nome: r.name,
        })
        .collect();
    ok(&answer)
}

async fn attachments(
    State(arq): State<ArqSign>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let request: wire::AttachmentSearch = bind(&body)?;
    let links = match request.arquivo_tipo {
        None => return Err(Fail::bad_request(msg::required("arquivoTipo"))),
        Some(1) => false,
        Some(2) => true,
        Some(_) => return Err(Fail::bad_request(msg::FILE_TYPE)),
    };
    let wanted: Vec<String> = request.signatarios.unwrap_or_default();
    if wanted.iter().any(|w| !is_guid(w)) {
        return Err(Fail::bad_request(msg::malformed("signatarios")));
    }
    let origin = origin(&headers)?;
    let mut state = arq.lock();
    let process = state.process(&id)?;
    let mut chosen: Vec<Recipient> = process
        .signers()
        .filter(|r| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&r.id)))
        .cloned()
        .collect();
    // Ids not in the process are ignored as long as one matches (§2.8).
    if chosen.is_empty() && !wanted.is_empty() {
        return Err(Fail::bad_request(msg::unknown_ids("signatarios")));
    }
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    let answer: Vec<wire::SignerAttachments> = chosen
        .into_iter()
        .map(|r| {
            let mut uploads = r.uploads.clone();
            uploads.sort_by(|a, b| a.name.cmp(&b.name));
            let anexos: Vec<wire::UploadedAttachment> = uploads
                .into_iter()
                .map(|u| {
                    let arquivo = if links {
                        let key = state.links.store(Blob {
                            file_name: u.name.clone(),
                            content_type: "application/pdf".into(),
                            bytes: u.bytes.clone(),
                        });
                        format!("{origin}{STORAGE_PREFIX}{key}")
                    } else {
                        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &u.bytes)
                    };
                    wire::UploadedAttachment { id: u.id, nome: u.name, arquivo }
                })
                .collect();
            wire::SignerAttachments {
                id_signatario: r.id,
                nome: r.name,
                anexos: (!anexos.is_empty()).then_some(anexos),
            }
        })
        .collect();
    ok(&answer)
}

async fn evidence(State(arq): State<ArqSign>, Path(id): Path<String>) -> Answer {
    guid(&id, "idArquivoProcesso")?;
    let (snapshot, context, document_id) = {
        let state = arq.lock();
        let (process, document) = state.document(&id)?;
        (process.clone(), context(&state, process), document.id.clone())
    };
    let (process, files) = files(&arq, snapshot, context, true).await?;
    let index = process
        .documents
        .iter()
        .position(|d| d.id == document_id)
        .ok_or(Refusal::Unknown("idArquivoProcesso"))?;
    let document = &process.documents[index];
    let report = files[index].1.clone().unwrap_or_default();
    let answer = wire::Evidence {
        id_arquivo_processo: &document.id,
        nome: download::evidence_name(&document.name),
        base64: wire::Base64(&report),
    };
    Ok(json(StatusCode::OK, &answer, report.len() / 3 * 4 + 1024))
}

// ---- account lookups -------------------------------------------------------------------------

async fn folders(State(arq): State<ArqSign>, body: Bytes) -> Answer {
    let request: wire::FolderSearch = bind(&body)?;
    let by = request.buscar_por.ok_or_else(|| Fail::bad_request(msg::required("buscarPor")))?;
    if !(1..=3).contains(&by) {
        return Err(Fail::bad_request(msg::malformed("buscarPor")));
    }
    // `ativas` false (the default) includes logically deleted folders.
    let active_only = request.ativas.unwrap_or(false);
    let ids = request.pastas.unwrap_or_default();
    let state = arq.lock();
    let account = &state.account;
    let requested = if by == 3 {
        vec![account.root()]
    } else {
        if ids.is_empty() {
            return Err(Fail::bad_request(msg::required("pastas")));
        }
        if (by == 2 && ids.len() != 1) || ids.iter().any(|id| !is_guid(id)) {
            return Err(Fail::bad_request(msg::malformed("pastas")));
        }
        let found: Vec<_> = ids.iter().filter_map(|id| account.folder(id)).collect();
        if found.len() != ids.len() {
            return Err(Fail::bad_request(msg::unknown_ids("pastas")));
        }
        found
    };
    let visible = |deleted: bool| !(active_only && deleted);
    let folder_status = |deleted: bool| if deleted { "Excluída" } else { "Ativa" };
    let answer: Vec<wire::Folder> = requested
        .into_iter()
        .filter(|f| visible(f.deleted))
        .map(|f| wire::Folder {
            id: f.id.into(),
            nome: f.name.into(),
            caminho_completo: account.path(f).join("|"),
            status: folder_status(f.deleted),
            filhos: (by != 1).then(|| {
                account
                    .children(f)
                    .into_iter()
                    .filter(|c| visible(c.deleted))
                    .map(|c| wire::FolderChild {
                        id: c.id.into(),
                        nome: c.name.into(),
                        caminho_completo: account.path(c).join("|"),
                        status: folder_status(c.deleted),
                        possui_filhos: account.children(c).iter().any(|g| visible(g.deleted)),
                    })
                    .collect()
            }),
        })
        .collect();
    ok(&answer)
}

async fn users(State(arq): State<ArqSign>, body: Bytes) -> Answer {
    let request: wire::UserSearch = bind(&body)?;
    let ids = request.usuarios.unwrap_or_default();
    let state = arq.lock();
    let account = &state.account;
    let mut chosen: Vec<_> = if ids.is_empty() {
        // When ids are given `ativos` is ignored; otherwise it is required.
        let active_only =
            request.ativos.ok_or_else(|| Fail::bad_request(msg::required("ativos")))?;
        account
            .users
            .iter()
            .filter(|u| !active_only || u.status == account::UserStatus::Active)
            .collect()
    } else {
        if ids.iter().any(|id| !is_guid(id)) {
            return Err(Fail::bad_request(msg::malformed("usuarios")));
        }
        let found: Vec<_> = ids.iter().filter_map(|id| account.user(id)).collect();
        if found.is_empty() {
            return Err(Fail::bad_request(msg::unknown_ids("usuarios")));
        }
        found
    };
    chosen.sort_by(|a, b| a.name.cmp(b.name));
    chosen.dedup_by(|a, b| a.id == b.id);
    let answer: Vec<wire::User> = chosen
        .into_iter()
        .map(|u| wire::User {
            id: u.id.into(),
            nome: u.name.into(),
            status: u.status.label(),
            remetente: u.sender,
        })
        .collect();
    ok(&answer)
}

async fn roles(State(arq): State<ArqSign>) -> Answer {
    let state = arq.lock();
    let answer: Vec<wire::Role> = state
        .account
        .roles
        .iter()
        .map(|r| wire::Role { id: r.id.into(), nome: r.name.into(), padrao: r.default })
        .collect();
    ok(&answer)
}

async fn subscription(State(arq): State<ArqSign>) -> Answer {
    let state = arq.lock();
    let account = &state.account;
    let credits = account.credits;
    let start = account.subscribed_at;
    let end = start.checked_add_months(Months::new(12)).unwrap_or(start);
    let item = |id, nome, saldo| wire::CreditItem { id, nome, saldo, permite_excedente: false };
    ok(&wire::Subscription {
        // Only an active account gets this far (an inactive one answers 401).
        conta: wire::AccountInfo {
            id: account.id.into(),
            nome: account.name.into(),
            id_status: 1,
            status: "Ativo",
        },
        plano: wire::Plan {
            id: account::PLAN_ID.into(),
            tipo_plano: "C",
            nome: "Corporativo (sandbox)".into(),
            periodo: "Mensal",
            valor: 0.0,
        },
        assinatura: wire::SubscriptionInfo {
            id: account::SUBSCRIPTION_ID.into(),
            inicio_vigencia: time(start),
            fim_vigencia: time(end),
            trial: false,
            itens: vec![
                item(1, "Envios", credits.envios),
                item(2, "WhatsApp", credits.whatsapp),
                item(3, "SMS", credits.sms),
            ],
        },
    })
}

// ---- links -----------------------------------------------------------------------------------

/// The unauthenticated target of `linkParaBaixarDocumento` and attachment links.
async fn storage(State(arq): State<ArqSign>, Path(key): Path<String>) -> Response {
    let blob = arq.lock().links.get(&key).cloned();
    blob_response(blob)
}

/// The target of `linkDocumentoCompartilhado` (QR code share link): the signed document of a
/// concluded process with `gerarQrCode`, without auth.
async fn shared(State(arq): State<ArqSign>, Path(id): Path<String>) -> Response {
    let found = {
        let state = arq.lock();
        state.document(&id).ok().filter(|(p, _)| p.qr_code && p.status == status::CONCLUIDO).map(
            |(process, document)| (process.clone(), context(&state, process), document.id.clone()),
        )
    };
    let Some((snapshot, context, document_id)) = found else {
        return blob_response(None);
    };
    let blob = match files(&arq, snapshot, context, false).await {
        Ok((process, files)) => process.documents.iter().zip(files).find_map(|(d, (signed, _))| {
            (d.id == document_id).then(|| Blob {
                file_name: d.name.clone(),
                content_type: "application/pdf".into(),
                bytes: signed,
            })
        }),
        Err(fail) => return fail.into_response(),
    };
    blob_response(blob)
}

/// The page behind a v3 `linkProcesso`: what the signer would open.
async fn signing_page(State(arq): State<ArqSign>, Path(token): Path<String>) -> Response {
    let state = arq.lock();
    let found = state
        .processes()
        .find_map(|p| p.recipients.iter().find(|r| r.link_token == token).map(|r| (p, r)));
    let Some((process, recipient)) = found else {
        return (StatusCode::NOT_FOUND, Html("<h1>Link inválido ou expirado.</h1>"))
            .into_response();
    };
    let escape = |text: &str| {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    };
    let documents: String =
        process.documents.iter().map(|d| format!("<li>{}</li>", escape(&d.name))).collect();
    let page = format!(
        "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>ArqSign (sandbox)</title>\
         <h1>{}</h1><p>Signatário: {} ({})</p><p>Status do processo: {}</p><ul>{documents}</ul>\
         <p>Simulador signbridge-sandbox: assine pela rota de controle \
         <code>POST /__sandbox/arqsign/processes/{}/sign</code>.</p></html>",
        escape(&process.name),
        escape(&recipient.name),
        escape(recipient.contact()),
        status::label(process.status),
        process.id,
    );
    Html(page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_case_insensitively_except_links() {
        let arq = ArqSign::new(ArqSignConfig::default());
        assert_eq!(arq.route_path("/ArqSign/API/v2/Processo/ABC/"), "/arqsign/api/v2/processo/abc");
        assert_eq!(arq.route_path("/arqsign-storage/1AbC"), "/arqsign-storage/1AbC");
        assert!(arq.owns("/ARQSIGN/api"));
        assert!(arq.owns("/arqsign-app/assinar/x"));
        assert!(!arq.owns("/arqsignx/api"));
    }

    #[test]
    fn only_the_send_accepts_large_bodies() {
        let arq = ArqSign::new(ArqSignConfig::default());
        assert_eq!(
            arq.body_limit("/arqsign/api/v3/processo/Enviar-Documento-Para-Assinar/"),
            SEND_BODY_LIMIT
        );
        assert_eq!(arq.body_limit("/arqsign/api/v2/processo/x"), DEFAULT_BODY_LIMIT);
    }

    #[test]
    fn authorization_follows_the_documented_order() {
        let mut state = state::State::new(ArqSignConfig::default(), Utc::now());
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            map
        };
        let now = Instant::now();
        let good = headers(&[
            ("appkey", DEFAULT_APP_KEY),
            ("SUBSCRIPTIONKEY", DEFAULT_SUBSCRIPTION_KEY_2),
        ]);
        assert!(authorize(&mut state, &good, now).is_ok());
        let wrong = headers(&[("AppKey", "x"), ("SubscriptionKey", DEFAULT_SUBSCRIPTION_KEY)]);
        let fail = authorize(&mut state, &wrong, now).unwrap_err();
        assert!(fail.message.contains("AppKey"));
        let other = headers(&[("AppKey", DEFAULT_APP_KEY), ("SubscriptionKey", "other")]);
        assert!(
            authorize(&mut state, &other, now).unwrap_err().message.contains("SubscriptionKey")
        );
        state.config.account_active = false;
        assert!(authorize(&mut state, &good, now).unwrap_err().message.contains("ativa"));
        state.config.account_active = true;
        state.config.requests_per_second = 1;
        assert!(authorize(&mut state, &good, now).is_ok());
        let limited = authorize(&mut state, &good, now).unwrap_err();
        assert_eq!((limited.status, limited.retry_after), (StatusCode::TOO_MANY_REQUESTS, Some(1)));
    }

    #[test]
    fn debug_hides_keys() {
        let text = format!("{:?}", ArqSignConfig::default());
        assert!(!text.contains(DEFAULT_APP_KEY));
        assert!(!text.contains(DEFAULT_SUBSCRIPTION_KEY));
        assert!(text.contains("SubscriptionKey"));
    }
}
