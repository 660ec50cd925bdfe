//! Simulator of TOTVS Assinatura Eletrônica ("TAE", TOTVS Sign), written from
//! `shared/contracts/tae.md`.
//!
//! # Paths
//!
//! Everything lives under `/tae`, standing for the real host: the auth base is
//! `{sandbox}/tae/identityintegration` and the API base `{sandbox}/tae`. Paths match in any
//! casing (the real service is ASP.NET), and so do JSON property names and query parameters.
//!
//! | Route | Notes |
//! |---|---|
//! | `POST /identityintegration/v3/auth/login` | `data {token, expirationDate}` |
//! | `POST /identityintegration/v2/auth/login` | `data {token, refreshToken}` |
//! | `POST /identityintegration/api/auth/login` | `data {token}` |
//! | `GET /identityintegration/api/users/profile` | the token owner |
//! | `POST /documents/v1/envelopes/upload` | multipart `NomeEnvelope` + one or more `Envelope` files → `data` id |
//! | `POST /signintegration/v2/Publicacoes`, `POST /documents/v1/publicacoes` | publish a draft |
//! | `GET /documents/v{1,2}/publicacoes/{id}` | status and parties |
//! | `POST /documents/v1/publicacoes/{id}/cancelar` | back to draft (or 7) |
//! | `POST /documents/v{1,2}/publicacoes/pesquisas?PaginaAtual=&TamanhoPagina=` | search |
//! | `POST /documents/v1/publicacoes/pesquisas/destinatario` | search by recipient |
//! | `POST /documents/v1/publicacoes/{id}/destinatarios` | recipients and access keys |
//! | `GET /documents/v1/publicacoes/{id}/download?tipoDownload=N` | base64 in JSON |
//! | `GET /documents/v2/publicacoes/{id}/download?tipoDownload=N` | a link under `/tae-storage/` |
//!
//! Every `/documents` and `/signintegration` route needs `Authorization: Bearer <token>` from a
//! login that has not expired (401 otherwise). Identity answers are wrapped as
//! `{"succeeded", "description", "data"}`, the others as `{"success", "data"}` or
//! `{"success": false, "errors": [..], "code", "message"}`.
//!
//! # Control routes
//!
//! | Route | Body |
//! |---|---|
//! | `POST /__sandbox/tae/documents/{id}/sign` | `{"email"}` |
//! | `POST /__sandbox/tae/documents/{id}/reject` | `{"email", "reason"}` |
//! | `POST /__sandbox/tae/documents/{id}/expire` | |
//! | `GET /__sandbox/tae/documents/{id}`, `GET /__sandbox/tae/documents` | full internal state |
//! | `POST /__sandbox/tae/tokens/expire` | every issued token now answers 401 |
//! | `GET`/`POST /__sandbox/tae/config` | `{"token_ttl_secs", "login_routes": ["v3","v2","api"], "cancel_status": 5\|7, "download_url_shape": "string"\|"fileUrl"\|"url"\|"signedURL"}` |
//!
//! | `GET`/`POST`/`DELETE /__sandbox/tae/webhooks` | a made-up webhook sender (\[I\], contract §7): see `webhooks` |
//! | `/__sandbox/tae/deliveries…` | its deliveries ([`crate::senders`]) |
//!
//! Sign/reject answer 409 when the document is not waiting (status other than 0/1), expired,
//! out of workflow order, already acted on by that recipient, or (reject) not rejectable.

mod control;
mod download;
mod state;
mod webhooks;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::aspnet::{self, bearer_challenge, bearer_token, query_param, wire_time, wire_utc};
use crate::files::{Blob, blob_response, mime_type};
use crate::senders::{Outbox, SenderId};
use crate::server::Simulator;
use download::Kind;
use state::{Progress, Refusal};

/// Settings of the TAE simulator. Everything but `users` and `first_document_id` can also be
/// changed at run time through `POST /__sandbox/tae/config`.
#[derive(Clone)]
pub struct TaeConfig {
    /// Accounts that can log in: `(userName, password)`. User names compare case-insensitively.
    pub users: Vec<(String, String)>,
    /// Lifetime of a login token (the real service: 12 hours).
    pub token_ttl: Duration,
    /// Login routes that exist; a missing one answers 404, to exercise v3 → v2 → api fallback.
    pub login_routes: Vec<LoginRoute>,
    /// Status after a cancel: 5 (back to draft, default) or 7 (Cancelado); sources disagree.
    pub cancel_status: i64,
    /// How the v2 download gives its link.
    pub download_url_shape: DownloadUrlShape,
    /// Id of the first uploaded document (ids then count up).
    pub first_document_id: i64,
}

impl Default for TaeConfig {
    fn default() -> TaeConfig {
        TaeConfig {
            users: vec![(DEFAULT_USER.into(), DEFAULT_PASSWORD.into())],
            token_ttl: Duration::from_secs(12 * 60 * 60),
            login_routes: vec![LoginRoute::V3, LoginRoute::V2, LoginRoute::Api],
            cancel_status: state::status::RASCUNHO,
            download_url_shape: DownloadUrlShape::String,
            first_document_id: 12_978_325,
        }
    }
}

/// Hand-written so passwords never reach logs.
impl std::fmt::Debug for TaeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("TaeConfig")
            .field("users", &users)
            .field("token_ttl", &self.token_ttl)
            .field("login_routes", &self.login_routes)
            .field("cancel_status", &self.cancel_status)
            .field("download_url_shape", &self.download_url_shape)
            .field("first_document_id", &self.first_document_id)
            .finish()
    }
}

/// The account a default sandbox accepts.
pub const DEFAULT_USER: &str = "svc@signbridge.test";
pub const DEFAULT_PASSWORD: &str = "sandbox-password";

/// One of the login routes (contract §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginRoute {
    /// `/v3/auth/login` → `{token, expirationDate}`.
    V3,
    /// `/v2/auth/login` → `{token, refreshToken}`.
    V2,
    /// `/api/auth/login` → `{token}`.
    Api,
}

/// Shape of `data` in the v2 download answer; sources disagree (contract §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DownloadUrlShape {
    /// `"data": "<url>"`.
    #[serde(rename = "string")]
    String,
    /// `"data": {"fileUrl": "<url>"}`.
    #[serde(rename = "fileUrl")]
    FileUrl,
    /// `"data": {"url": "<url>"}`.
    #[serde(rename = "url")]
    Url,
    /// `"data": {"signedURL": "<url>"}`.
    #[serde(rename = "signedURL")]
    SignedUrl,
}

const PREFIX: &str = "/tae/";
const STORAGE_PREFIX: &str = "/tae-storage/";

/// The TAE simulator: shared state behind a mutex (never held across an await).
#[derive(Clone)]
pub(crate) struct Tae {
    state: Arc<Mutex<state::State>>,
    outbox: Arc<Outbox>,
}

impl Tae {
    pub fn new(config: TaeConfig) -> Tae {
        Tae {
            state: Arc::new(Mutex::new(state::State::new(config))),
            outbox: Outbox::new(SenderId::Tae, webhooks::default_policy()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        // Handlers do not panic while holding the lock; if one ever did, the state is still the
        // best answer the sandbox has.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Simulator for Tae {
    fn owns(&self, path: &str) -> bool {
        let lower = path.to_ascii_lowercase();
        lower == "/tae" || lower.starts_with(PREFIX) || path.starts_with(STORAGE_PREFIX)
    }

    /// ASP.NET routing ignores case and a trailing slash; storage keys are case-sensitive.
    fn route_path(&self, path: &str) -> String {
        if path.starts_with(STORAGE_PREFIX) {
            return path.to_owned();
        }
        aspnet::route_path(path)
    }

    fn fault_response(&self, path: &str, status: StatusCode, _body: &[u8]) -> Response {
        let message = format!(
            "Falha simulada: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if path.starts_with(STORAGE_PREFIX) {
            return (status, message).into_response();
        }
        if path.to_ascii_lowercase().contains("/identityintegration/") {
            return identity_failure(status, message);
        }
        failure(status, message)
    }

    fn routes(&self) -> Router {
        let protected = Router::new()
            .route("/tae/documents/v1/envelopes/upload", post(upload))
            .route("/tae/signintegration/v2/publicacoes", post(publish))
            .route("/tae/documents/v1/publicacoes", post(publish))
            .route("/tae/documents/v1/publicacoes/{id}", get(publication))
            .route("/tae/documents/v2/publicacoes/{id}", get(publication))
            .route("/tae/documents/v1/publicacoes/{id}/cancelar", post(cancel))
            .route("/tae/documents/v1/publicacoes/pesquisas", post(search))
            .route("/tae/documents/v2/publicacoes/pesquisas", post(search))
            .route(
                "/tae/documents/v1/publicacoes/pesquisas/destinatario",
                post(search_by_recipient),
            )
            .route("/tae/documents/v1/publicacoes/{id}/destinatarios", post(recipients))
            .route("/tae/documents/v1/publicacoes/{id}/download", get(download_v1))
            .route("/tae/documents/v2/publicacoes/{id}/download", get(download_v2))
            .route_layer(middleware::from_fn_with_state(self.clone(), require_bearer));
        Router::new()
            .route("/tae/identityintegration/v3/auth/login", post(login_v3))
            .route("/tae/identityintegration/v2/auth/login", post(login_v2))
            .route("/tae/identityintegration/api/auth/login", post(login_api))
            .route("/tae/identityintegration/api/users/profile", get(profile))
            .route("/tae-storage/{key}", get(storage))
            .merge(protected)
            .merge(control::routes())
            .route(
                "/__sandbox/tae/webhooks",
                get(webhooks::list).post(webhooks::register).delete(webhooks::clear),
            )
            // Every request may have changed a document: receivers hear of it.
            .layer(middleware::from_fn_with_state(self.clone(), deliver_changes))
            .with_state(self.clone())
            .merge(crate::senders::routes(self.outbox.clone()))
    }
}

/// Runs the request, then queues the webhook deliveries of what it changed.
async fn deliver_changes(State(tae): State<Tae>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    webhooks::emit(&tae);
    response
}

// ---- answers ----------------------------------------------------------------------------------

fn success<T: Serialize>(data: T) -> Response {
    Json(wire::Success { success: true, data }).into_response()
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = wire::Failure {
        success: false,
        errors: vec![message.clone()],
        code: status.as_u16(),
        message,
    };
    (status, Json(body)).into_response()
}

fn identity_failure(status: StatusCode, message: impl Into<String>) -> Response {
    let body =
        wire::IdentityResponse::<()> { succeeded: false, description: message.into(), data: None };
    (status, Json(body)).into_response()
}

/// A failed provider request, answered in the wrapper of the service it hit.
#[derive(Debug)]
enum Fail {
    /// `/documents`, `/signintegration`: `{"success": false, "errors", "code", "message"}`.
    Api(StatusCode, String),
    /// `/identityintegration`: `{"succeeded": false, "description", "data": null}`.
    Identity(StatusCode, String),
    /// A route this configuration does not have (a disabled login version): a bare 404.
    NoRoute,
}

impl Fail {
    fn bad_request(message: impl Into<String>) -> Fail {
        Fail::Api(StatusCode::BAD_REQUEST, message.into())
    }

    fn not_found() -> Fail {
        Fail::Api(StatusCode::NOT_FOUND, state::NOT_FOUND.into())
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::Api(status, message) => failure(status, message),
            Fail::Identity(status, message) => identity_failure(status, message),
            Fail::NoRoute => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// TAE answers 400 for state problems as well as for bad input.
impl From<Refusal> for Fail {
    fn from(refusal: Refusal) -> Fail {
        match refusal {
            Refusal::NotFound(message) => Fail::Api(StatusCode::NOT_FOUND, message),
            Refusal::Invalid(message) | Refusal::Conflict(message) => Fail::bad_request(message),
        }
    }
}

type Answer = Result<Response, Fail>;

/// Ids arrive as path text; anything that is not an id is a document that does not exist.
fn parse_id(id: &str) -> Result<i64, Fail> {
    id.trim().parse().map_err(|_| Fail::not_found())
}

/// A whole-number query parameter, `default` when absent.
fn query_number(uri: &Uri, name: &str, default: usize) -> Result<usize, Fail> {
    match query_param(uri, name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| Fail::bad_request(format!("O parâmetro {name} é inválido."))),
    }
}

// ---- identity -------------------------------------------------------------------------------

/// The user a request's bearer token belongs to, set by [`require_bearer`].
#[derive(Clone)]
struct Caller(String);

fn caller(tae: &Tae, headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).and_then(|token| tae.lock().authenticate(token, Utc::now()))
}

const UNAUTHORIZED: &str = "Token de acesso ausente, inválido ou expirado.";

async fn require_bearer(State(tae): State<Tae>, mut request: Request, next: Next) -> Response {
    match caller(&tae, request.headers()) {
        Some(user) => {
            request.extensions_mut().insert(Caller(user));
            next.run(request).await
        }
        None => bearer_challenge(failure(StatusCode::UNAUTHORIZED, UNAUTHORIZED)),
    }
}

/// Checks the route is enabled and the credentials are right; the session on success.
fn login(tae: &Tae, route: LoginRoute, body: &[u8]) -> Result<state::Session, Fail> {
    let mut state = tae.lock();
    if !state.config.login_routes.contains(&route) {
        return Err(Fail::NoRoute);
    }
    let invalid = |message: String| Fail::Identity(StatusCode::BAD_REQUEST, message);
    let request: wire::LoginRequest = wire::bind(body).map_err(invalid)?;
    let (Some(user), Some(password)) = (request.username, request.password) else {
        return Err(invalid("Informe o usuário e a senha.".into()));
    };
    state
        .login(&user, &password, Utc::now())
        .ok_or_else(|| invalid("Usuário ou senha inválidos.".into()))
}

fn logged_in<T: Serialize>(data: T) -> Response {
    Json(wire::IdentityResponse {
        succeeded: true,
        description: "Login realizado com sucesso.".into(),
        data: Some(data),
    })
    .into_response()
}

async fn login_v3(State(tae): State<Tae>, body: Bytes) -> Answer {
    let session = login(&tae, LoginRoute::V3, &body)?;
    Ok(logged_in(wire::LoginV3 {
        token: session.token,
        expiration_date: session.expires_at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
    }))
}

async fn login_v2(State(tae): State<Tae>, body: Bytes) -> Answer {
    let session = login(&tae, LoginRoute::V2, &body)?;
    Ok(logged_in(wire::LoginV2 { token: session.token, refresh_token: session.refresh_token }))
}

async fn login_api(State(tae): State<Tae>, body: Bytes) -> Answer {
    let session = login(&tae, LoginRoute::Api, &body)?;
    Ok(logged_in(wire::LoginApi { token: session.token }))
}

async fn profile(State(tae): State<Tae>, headers: HeaderMap) -> Response {
    let Some(user) = caller(&tae, &headers) else {
        return bearer_challenge(identity_failure(StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    };
    Json(wire::IdentityResponse {
        succeeded: true,
        description: "Perfil do usuário.".into(),
        data: Some(wire::Profile { email: user.clone(), full_name: user.clone(), user_name: user }),
    })
    .into_response()
}

// ---- documents ------------------------------------------------------------------------------

async fn upload(
    State(tae): State<Tae>,
    Extension(Caller(user)): Extension<Caller>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Answer {
    let mut multipart = multipart.map_err(|e| {
        Fail::bad_request(format!("O envio deve ser multipart/form-data: {}", e.body_text()))
    })?;
    let broken =
        |e: MultipartError| Fail::bad_request(format!("Multipart inválido: {}", e.body_text()));
    let mut envelope_name = None;
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let declared_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(broken)?;
        if name.eq_ignore_ascii_case("NomeEnvelope") && file_name.is_none() {
            envelope_name = Some(String::from_utf8_lossy(&bytes).trim().to_owned());
        } else if name.eq_ignore_ascii_case("Envelope") {
            // A part without a filename is a plain form value, not a file, for ASP.NET.
            let file_name = file_name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
                Fail::bad_request("O campo Envelope deve ser um arquivo (com filename).")
            })?;
            if bytes.is_empty() {
                return Err(Fail::bad_request(format!("O arquivo {file_name} está vazio.")));
            }
            files.push(state::File {
                content_type: content_type_for(&file_name, declared_type.as_deref()),
                name: file_name,
                bytes: bytes.to_vec(),
            });
        }
    }
    let envelope_name = envelope_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Fail::bad_request("O campo NomeEnvelope é obrigatório."))?;
    if files.is_empty() {
        return Err(Fail::bad_request("Envie ao menos um arquivo no campo Envelope."));
    }
    let id = tae.lock().upload(&user, envelope_name, files, Utc::now());
    Ok(success(id))
}

/// The declared part type unless it is missing or generic; then one from the extension.
fn content_type_for(file_name: &str, declared: Option<&str>) -> String {
    if let Some(declared) = declared.filter(|t| !t.is_empty() && *t != "application/octet-stream") {
        return declared.to_owned();
    }
    mime_type(file_name).unwrap_or("application/octet-stream").into()
}

async fn publish(
    State(tae): State<Tae>,
    Extension(Caller(user)): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let request: wire::PublishRequest = wire::bind(&body).map_err(Fail::bad_request)?;
    // `bind` succeeded, so the body is valid JSON; keep it exactly as sent.
    let received = serde_json::from_slice(&body).unwrap_or_default();
    tae.lock().publish(&user, request, received, uri.path(), Utc::now())?;
    Ok(success(()))
}

async fn publication(State(tae): State<Tae>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let state = tae.lock();
    let document = state.document(id).ok_or_else(Fail::not_found)?;
    Ok(success(publication_wire(document)))
}

fn publication_wire(document: &state::Document) -> wire::Publication {
    let publication = document.publication.as_ref();
    let recipients = publication.map(|p| p.recipients.as_slice()).unwrap_or_default();
    let assinantes = recipients
        .iter()
        .filter_map(|r| match r.progress {
            Progress::Done { at } => Some(wire::Signer {
                email: r.email.clone(),
                nome: r.name(),
                cpf_cnpj: r.received.identificacao.clone().unwrap_or_default(),
                data: wire_utc(at),
                acao: r.acao,
                status_tipo_assinatura: 0,
            }),
            _ => None,
        })
        .collect();
    // A recipient who rejected is still listed as pending, as TAE does.
    let pendentes = recipients
        .iter()
        .filter(|r| !matches!(r.progress, Progress::Done { .. }))
        .map(|r| wire::Pending {
            email: r.email.clone(),
            nome: r.name(),
            cpf_cnpj: r.received.identificacao.clone().unwrap_or_default(),
            acao: r.acao,
            pendente: true,
            participante_sem_cadastro: wire::Unregistered {
                // 3 = "not given" (contract §5.5).
                tipo_identificacao: r.received.tipoidentificacao.unwrap_or(3),
                identificacao: r.received.identificacao.clone().unwrap_or_default(),
            },
        })
        .collect();
    wire::Publication {
        id: document.id,
        nome_arquivo: first_file_name(document),
        status: document.status,
        rec_created_on: wire_utc(document.created_at),
        rec_modified_on: wire_utc(document.modified_at),
        motivo_rejeicao: document.rejection_reason.clone(),
        publicacao_opcoes: publication.map(|p| wire::OptionsEcho {
            data_expiracao: p.expires_at.map(wire_time),
            assunto_mensagem: p.subject.clone(),
            corpo_mensagem: p.message.clone(),
            permite_rejeitar_documento: p.allow_reject,
            intervalo_lembrete: p.reminder_days,
            solicita_assinatura_manuscrita: p.handwritten,
        }),
        assinantes,
        pendentes,
        observadores: publication
            .map(|p| {
                p.observers
                    .iter()
                    .map(|email| wire::ObserverEcho { email: email.clone() })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn first_file_name(document: &state::Document) -> String {
    document.files.first().map(|f| f.name.clone()).unwrap_or_default()
}

async fn cancel(
    State(tae): State<Tae>,
    Extension(Caller(user)): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let id = parse_id(&id)?;
    tae.lock().cancel(id, &user, Utc::now())?;
    Ok(success(()))
}

/// Binds an optional JSON body: an empty one means all defaults.
fn bind_optional<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, Fail> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    wire::bind(body).map_err(Fail::bad_request)
}

async fn search(
    State(tae): State<Tae>,
    Extension(Caller(user)): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let request: wire::SearchRequest = bind_optional(&body)?;
    let page = query_number(&uri, "PaginaAtual", 1)?;
    let size = query_number(&uri, "TamanhoPagina", 0)?;
    let state = tae.lock();
    let (total, documents) = state.search(
        &user,
        request.pesquisaremtodaempresa.unwrap_or(false),
        request.email.as_deref(),
        page,
        size,
    );
    let registro = documents
        .into_iter()
        .map(|d| wire::SearchRow {
            id: d.id,
            status: d.status,
            nome_arquivo: first_file_name(d),
            data_criacao: wire_utc(d.created_at),
            data_ultima_alteracao: wire_utc(d.modified_at),
            usuario: wire::UserRef { email: d.owner.clone() },
        })
        .collect();
    Ok(success(wire::SearchPage { total, registro }))
}

async fn search_by_recipient(State(tae): State<Tae>, body: Bytes) -> Answer {
    let request: wire::RecipientSearchRequest = bind_optional(&body)?;
    let email = request
        .destinatarioemail
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| Fail::bad_request("O campo destinatarioEmail é obrigatório."))?;
    let state = tae.lock();
    let registro: Vec<_> = state
        .search_by_recipient(&email, &request.status.unwrap_or_default())
        .into_iter()
        .map(|(d, r)| wire::RecipientSearchRow {
            id: d.id,
            nome_arquivo: first_file_name(d),
            data_criacao: wire_utc(d.created_at),
            data_expiracao: d.publication.as_ref().and_then(|p| p.expires_at).map(wire_time),
            data_ultima_alteracao: wire_utc(d.modified_at),
            status: d.status,
            autor: wire::UserRef { email: d.owner.clone() },
            destinatario: wire::RecipientRef { public_key: r.public_key.clone() },
        })
        .collect();
    Ok(success(wire::SearchPage { total: registro.len(), registro }))
}

async fn recipients(State(tae): State<Tae>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let state = tae.lock();
    let document = state.document(id).ok_or_else(Fail::not_found)?;
    let keys: Vec<_> = document
        .publication
        .iter()
        .flat_map(|p| &p.recipients)
        .map(|r| wire::RecipientKey { email: r.email.clone(), public_key: r.public_key.clone() })
        .collect();
    Ok(success(keys))
}

// ---- downloads ------------------------------------------------------------------------------

/// The file a download asks for, built outside the lock (PDF work takes a moment).
fn requested_artifact(tae: &Tae, id: &str, uri: &Uri) -> Result<download::Artifact, Fail> {
    let kind = query_param(uri, "tipoDownload")
        .and_then(|t| t.trim().parse().ok())
        .and_then(Kind::from_code)
        .ok_or_else(|| {
            Fail::bad_request("O parâmetro tipoDownload é obrigatório e deve ser 1, 2, 3 ou 4.")
        })?;
    let id = parse_id(id)?;
    let document = tae.lock().document(id).cloned().ok_or_else(Fail::not_found)?;
    Ok(download::artifact(&document, kind, Utc::now())?)
}

async fn download_v1(State(tae): State<Tae>, Path(id): Path<String>, uri: Uri) -> Answer {
    let artifact = requested_artifact(&tae, &id, &uri)?;
    Ok(success(wire::FileContent {
        file_name: artifact.file_name,
        file_bytes: base64::engine::general_purpose::STANDARD.encode(&artifact.bytes),
    }))
}

async fn download_v2(
    State(tae): State<Tae>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let artifact = requested_artifact(&tae, &id, &uri)?;
    // Links point back at whatever address the client used to reach the sandbox.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| Fail::bad_request("Cabeçalho Host ausente."))?;
    let mut state = tae.lock();
    let key = state.links.store(Blob {
        file_name: artifact.file_name,
        content_type: artifact.content_type,
        bytes: artifact.bytes.into(),
    });
    let url = format!("http://{host}{STORAGE_PREFIX}{key}");
    Ok(match state.config.download_url_shape {
        DownloadUrlShape::String => success(url),
        DownloadUrlShape::FileUrl => success(serde_json::json!({ "fileUrl": url })),
        DownloadUrlShape::Url => success(serde_json::json!({ "url": url })),
        DownloadUrlShape::SignedUrl => success(serde_json::json!({ "signedURL": url })),
    })
}

/// The unauthenticated link of a v2 download, like a cloud-storage signed URL.
async fn storage(State(tae): State<Tae>, Path(key): Path<String>) -> Response {
    let blob = tae.lock().links.get(&key).cloned();
    blob_response(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_case_insensitively_except_storage() {
        let tae = Tae::new(TaeConfig::default());
        assert_eq!(
            tae.route_path("/tae/SignIntegration/v2/Publicacoes/"),
            "/tae/signintegration/v2/publicacoes"
        );
        assert_eq!(tae.route_path("/tae-storage/1AbC"), "/tae-storage/1AbC");
        assert!(tae.owns("/TAE/documents"));
        assert!(tae.owns("/tae-storage/x"));
        assert!(!tae.owns("/taex/documents"));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a.PDF", None), "application/pdf");
        assert_eq!(content_type_for("a.pdf", Some("application/octet-stream")), "application/pdf");
        assert_eq!(content_type_for("a.bin", Some("text/plain")), "text/plain");
        assert_eq!(content_type_for("a", None), "application/octet-stream");
    }

    #[test]
    fn debug_hides_passwords() {
        let text = format!("{:?}", TaeConfig::default());
        assert!(text.contains(DEFAULT_USER));
        assert!(!text.contains(DEFAULT_PASSWORD));
    }
}
