//! Simulator of the iDocs (idocs.kz, Kazakhstan EDO) Integration API V3, written from
//! `shared/contracts/idocs.md`.
//!
//! # Paths
//!
//! Everything lives under `/idocs`, standing for `https://ext-edo-integration.idocs.kz`: a
//! client's base URL is `{sandbox}/idocs`. Paths match in any casing (the real service is
//! ASP.NET), and so do JSON property names.
//!
//! | Route (after `/api/v3`) | Answer |
//! |---|---|
//! | `POST /sync/references/company-token` | envelope `{id, companyId, companyBin, companyName}` |
//! | `POST /sync/references/company-employees` (`{skip, top}`) | envelope page of `EmployeeVM` |
//! | `GET /sync/references/company-employees/permission/{employeeId}` | envelope `{employeeId, accountPermissions}` |
//! | `POST /sync/blobs/document-content` (part `documentContent`) | envelope `ClientUploadedBlobVM`; .doc .docx .xls .xlsx .pdf .txt, ≤ 15 MB |
//! | `POST /sync/blobs/document-signature-content` (part `signatureContent`) | the same; .cms holding a CMS SignedData |
//! | `POST /sync/external/outbox/document/create` | bare `DocumentBaseVM` (`DRAFT`, `Outbox`) |
//! | `POST /sync/external/outbox/route/quick-route/create`, `…/route/create` | `{}`; DRAFT only |
//! | `POST /sync/external/{outbox,inbox}/signature/content-to-sign/generate` | bare `{documentId, downloadLink, disposeOn, idempotencyTicket}` |
//! | `GET /sync/sign-content/download/{id}` | the content to sign: a ZIP of the original files |
//! | `POST /sync/external/{outbox,inbox}/signature/quick-sign/save` | 200, empty body |
//! | `POST /sync/external/inbox/route/create` | `{}`; the recipient's internal route |
//! | `GET /sync/single/document/GetDocumentStatusByDocumentId/{id}` | bare `{documentStatus}` |
//! | `GET /sync/single/document/GetDocumentPrintFormByDocumentId/{id}` | PDF |
//! | `GET /sync/single/document/GetDocumentArchiveByDocumentId/{id}` | ZIP: originals, print form, `.cms` |
//! | `GET /sync/external/documents-query/single/{outbox,inbox}/{id}` | envelope `DocumentExtendedVM` |
//! | `POST /sync/external/documents-query/{outbox,inbox}` (`QueryDocumentsVM`) | envelope page of `DocumentExtendedVM` |
//! | `POST /sync/bulk/operations` | envelope page of operations |
//! | `POST /async/…` and `POST /async/…/status` | the nine pushes of contract §2.8 (see `bulk`) |
//!
//! Every `/idocs` route needs `Authorization: Bearer <token>` of a seeded company
//! ([`DEFAULT_TOKEN`] for the sender A, [`COUNTERPARTY_TOKEN`] for B): without it, 401 with an
//! empty body and `WWW-Authenticate: Bearer`, as ASP.NET's JwtBearer answers. Refusals are
//! 400 with the sync envelope `{"response": null, "errors": [{errorCode, errorDescription,
//! errorDocumentationLink}]}` on every route, bare ones included, malformed JSON too
//! (`VALIDATION_ERROR`); a single-document GET of a document the company cannot see is 404
//! `{}`. Bulk-download links point at `/idocs-storage/{key}` (no auth, like a signed URL).
//!
//! Signing follows contract §4: the content to sign is a ZIP of the original files; the
//! uploaded `.cms` may be attached (its eContent must be that ZIP) or detached; the ticket
//! rules are §4.3's (unknown, expired, or another document's or employee's ticket is
//! `VALIDATION_ERROR`; the same ticket with the same signature again is a no-op 200). The
//! signature is verified cryptographically with `signbridge-signer` (see `cms`).
//!
//! Lifecycle and statuses: see `state`. The sender's save turns `DRAFT` into
//! `SENT_BY_SENDER`, the recipient sees `IN_NEW`; when every counterparty signed both see
//! `FINISHED`; a rejection gives `REJECTED_BY_RECIPIENT`, a recall `RECALLED_BY_SENDER`.
//!
//! Webhooks (contract §5, see `webhooks`): `POST /idocs-webhooks/api/1/webhooks/document-events/
//! subscription/document-status-changed-event` with `{"subscriptionUrl"}` (same bearer tokens)
//! subscribes a company; each status change it sees is then POSTed there as
//! `{eventId, documentId, documentStatus, createdOn}` [I: the payload is undocumented; names
//! settable through `GET`/`POST /__sandbox/idocs/webhooks/settings`]. Deliveries are listed and
//! driven under `/__sandbox/idocs/deliveries…` ([`crate::senders`]).
//!
//! # Control routes
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `POST /__sandbox/idocs/documents/{id}/counterparty-sign` | optional `{"bin"?, "employee_id"?, "cms"? (base64)}` | document state |
//! | `POST /__sandbox/idocs/documents/{id}/counterparty-reject` | `{"reason", "bin"?}` | document state |
//! | `POST /__sandbox/idocs/documents/{id}/recall` | | document state |
//! | `POST /__sandbox/idocs/tickets/expire` | | `{"expired": n}` |
//! | `POST /__sandbox/idocs/operations/complete` | | `{"completed": n}` |
//! | `GET /__sandbox/idocs/documents`, `GET /__sandbox/idocs/documents/{id}` | | full internal state |
//! | `GET`/`POST /__sandbox/idocs/config` | `{"ticket_ttl_secs", "async_delay_ms", "max_bulk_items", "require_ticket", "verify_signatures"}` | settings in force |
//!
//! `bin` defaults to [`COUNTERPARTY_BIN`]; a BIN the sandbox does not know can act too (its
//! employee is the zero GUID unless given). A `cms` is checked like a quick-sign save and kept
//! for the archive; without one the signature is simulated. Sign, reject and recall answer 404
//! for an unknown document or a BIN not on its route, 409 when the document does not wait for
//! that action (or the CMS does not sign its content), 400 for a malformed body or CMS.

mod blobs;
mod bulk;
mod company;
mod control;
mod download;
mod drafts;
mod model;
mod queries;
mod refusal;
mod routes;
mod signing;
mod state;
#[cfg(test)]
mod test_support;
mod ui;
mod webhooks;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use company::{
    COUNTERPARTY_BIN, COUNTERPARTY_COMPANY_ID, COUNTERPARTY_EMPLOYEE_ID, COUNTERPARTY_TOKEN,
    DEFAULT_TOKEN, SENDER_BIN, SENDER_COMPANY_ID, SENDER_EMPLOYEE_ID,
};

use crate::aspnet::{self, BindError, bearer_challenge, bearer_token};
use crate::files::{blob_response, content_disposition};
use crate::senders::{Outbox, SenderId};
use crate::server::Simulator;
use blobs::BlobKind;
use company::CompanyIndex;
use download::Names;
use model::{Document, Kind, Role, Side};
use queries::page;
use refusal::Refusal;
use wire::ErrorCode;

/// Settings of the iDocs simulator. Everything but the tokens can also be changed at run time
/// through `POST /__sandbox/idocs/config`.
#[derive(Clone)]
pub struct IDocsConfig {
    /// Bearer token of company A, the sender ([`SENDER_BIN`]).
    pub token: String,
    /// Bearer token of company B, the counterparty ([`COUNTERPARTY_BIN`]).
    pub counterparty_token: String,
    /// Lifetime of an idempotency ticket and its content-to-sign link (`disposeOn`).
    pub ticket_ttl: Duration,
    /// How long after its push an async operation becomes due (0: on the next status poll).
    pub async_delay: Duration,
    /// Most items one async push accepts (not documented; contract §6 suggests 100).
    pub max_bulk_items: usize,
    /// Whether quick-sign save refuses a missing `idempotencyTicket` (contract §4.3 rule 6:
    /// lenient by default).
    pub require_ticket: bool,
    /// Whether signatures are verified cryptographically (RSA or ECDSA P-256 over SHA-256),
    /// or only checked for structure, which lets GOST signatures from NCALayer through.
    pub verify_signatures: bool,
}

impl Default for IDocsConfig {
    fn default() -> IDocsConfig {
        IDocsConfig {
            token: DEFAULT_TOKEN.into(),
            counterparty_token: COUNTERPARTY_TOKEN.into(),
            ticket_ttl: Duration::from_secs(15 * 60),
            async_delay: Duration::ZERO,
            max_bulk_items: 100,
            require_ticket: false,
            verify_signatures: true,
        }
    }
}

/// Hand-written so tokens never reach logs.
impl std::fmt::Debug for IDocsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IDocsConfig")
            .field("token", &"***")
            .field("counterparty_token", &"***")
            .field("ticket_ttl", &self.ticket_ttl)
            .field("async_delay", &self.async_delay)
            .field("max_bulk_items", &self.max_bulk_items)
            .field("require_ticket", &self.require_ticket)
            .field("verify_signatures", &self.verify_signatures)
            .finish()
    }
}

const STORAGE_PREFIX: &str = "/idocs-storage/";
/// Stands for `https://webhooks.idocs.kz` (contract §5).
const WEBHOOKS_PREFIX: &str = "/idocs-webhooks/";
/// Kestrel's default `MaxRequestBodySize` (about 28.6 MiB): larger bodies never reach an
/// ASP.NET service unless it raises the limit. Uploads between 15 MB and this get iDocs' own
/// `UPLOADED_FILE_SIZE_ERROR`.
const BODY_LIMIT: usize = 30_000_000;

/// The iDocs simulator: shared state behind a mutex (never held across an await).
#[derive(Clone)]
pub(crate) struct IDocs {
    state: Arc<Mutex<state::State>>,
    outbox: Arc<Outbox>,
}

impl IDocs {
    pub fn new(config: IDocsConfig) -> IDocs {
        IDocs {
            state: Arc::new(Mutex::new(state::State::new(config, Utc::now()))),
            outbox: Outbox::new(SenderId::Idocs, webhooks::default_policy()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        // Handlers do not panic while holding the lock; if one ever did, the state is still the
        // best answer the sandbox has.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Simulator for IDocs {
    fn owns(&self, path: &str) -> bool {
        let lower = path.to_ascii_lowercase();
        lower == "/idocs"
            || lower.starts_with("/idocs/")
            || lower.starts_with(WEBHOOKS_PREFIX)
            || path.starts_with(STORAGE_PREFIX)
    }

    /// ASP.NET routing ignores case and a trailing slash; link keys are case-sensitive.
    fn route_path(&self, path: &str) -> String {
        if path.starts_with(STORAGE_PREFIX) {
            return path.to_owned();
        }
        aspnet::route_path(path)
    }

    fn body_limit(&self, _path: &str) -> usize {
        BODY_LIMIT
    }

    fn fault_response(&self, path: &str, status: StatusCode, _body: &[u8]) -> Response {
        let message = format!(
            "Simulated failure: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if path.starts_with(STORAGE_PREFIX) {
            return (status, message).into_response();
        }
        if status == StatusCode::UNAUTHORIZED {
            return bearer_challenge(status.into_response());
        }
        let code = match status {
            StatusCode::NOT_FOUND => ErrorCode::ResourceNotFound,
            StatusCode::FORBIDDEN => ErrorCode::PermissionError,
            StatusCode::BAD_REQUEST => ErrorCode::ValidationError,
            s if s.is_server_error() => ErrorCode::InternalServerError,
            _ => ErrorCode::Unknown,
        };
        refused(status, &Refusal::new(code, message))
    }

    fn routes(&self) -> Router {
        const V3: &str = "/idocs/api/v3";
        let mut api = Router::new()
            .route(&format!("{V3}/sync/references/company-token"), post(company_token))
            .route(&format!("{V3}/sync/references/company-employees"), post(employees))
            .route(
                &format!("{V3}/sync/references/company-employees/permission/{{id}}"),
                get(permission),
            )
            .route(&format!("{V3}/sync/blobs/document-content"), post(upload_document))
            .route(&format!("{V3}/sync/blobs/document-signature-content"), post(upload_signature))
            .route(&format!("{V3}/sync/external/outbox/document/create"), post(create_document))
            .route(
                &format!("{V3}/sync/external/outbox/route/quick-route/create"),
                post(quick_route),
            )
            .route(&format!("{V3}/sync/external/outbox/route/create"), post(full_route))
            .route(&format!("{V3}/sync/external/inbox/route/create"), post(inbox_route))
            .route(
                &format!("{V3}/sync/external/outbox/signature/content-to-sign/generate"),
                post(|idocs, caller, headers, body| {
                    generate(idocs, caller, headers, body, Side::Outbox)
                }),
            )
            .route(
                &format!("{V3}/sync/external/inbox/signature/content-to-sign/generate"),
                post(|idocs, caller, headers, body| {
                    generate(idocs, caller, headers, body, Side::Inbox)
                }),
            )
            .route(
                &format!("{V3}/sync/external/outbox/signature/quick-sign/save"),
                post(|idocs, caller, body| save(idocs, caller, body, Side::Outbox)),
            )
            .route(
                &format!("{V3}/sync/external/inbox/signature/quick-sign/save"),
                post(|idocs, caller, body| save(idocs, caller, body, Side::Inbox)),
            )
            .route(&format!("{V3}/sync/sign-content/download/{{id}}"), get(sign_content))
            .route(
                &format!("{V3}/sync/single/document/getdocumentstatusbydocumentid/{{id}}"),
                get(status),
            )
            .route(
                &format!("{V3}/sync/single/document/getdocumentprintformbydocumentid/{{id}}"),
                get(print_form),
            )
            .route(
                &format!("{V3}/sync/single/document/getdocumentarchivebydocumentid/{{id}}"),
                get(archive),
            )
            .route(
                &format!("{V3}/sync/external/documents-query/single/outbox/{{id}}"),
                get(|idocs, caller, id| single(idocs, caller, id, Side::Outbox)),
            )
            .route(
                &format!("{V3}/sync/external/documents-query/single/inbox/{{id}}"),
                get(|idocs, caller, id| single(idocs, caller, id, Side::Inbox)),
            )
            .route(
                &format!("{V3}/sync/external/documents-query/outbox"),
                post(|idocs, caller, body| query(idocs, caller, body, Side::Outbox)),
            )
            .route(
                &format!("{V3}/sync/external/documents-query/inbox"),
                post(|idocs, caller, body| query(idocs, caller, body, Side::Inbox)),
            )
            .route(&format!("{V3}/sync/bulk/operations"), post(operations));
        for kind in Kind::ALL {
            let path = format!("{V3}/async/{}", kind.path());
            api = api
                .route(
                    &path,
                    post(move |idocs, caller, headers, body| {
                        push(idocs, caller, headers, body, kind)
                    }),
                )
                .route(
                    &format!("{path}/status"),
                    post(move |idocs, caller, body| poll(idocs, caller, body, kind)),
                );
        }
        const HOOKS: &str = "/idocs-webhooks/api/1/webhooks/document-events";
        let api = api
            .route(
                &format!("{HOOKS}/subscription/document-status-changed-event"),
                post(webhooks::subscribe),
            )
            .route(&format!("{HOOKS}/history"), get(webhooks::history))
            .route(&format!("{HOOKS}/history/{{id}}"), get(webhooks::history_of))
            .route_layer(middleware::from_fn_with_state(self.clone(), guard));
        Router::new()
            .route("/idocs", any(no_route))
            .route("/idocs/{*rest}", any(no_route))
            .route("/idocs-webhooks/{*rest}", any(no_route))
            .route("/idocs-storage/{key}", get(storage))
            .merge(api)
            .merge(control::routes())
            .route(
                "/__sandbox/idocs/webhooks/settings",
                get(webhooks::settings).post(webhooks::set_settings),
            )
            // Every request may have changed a status a subscriber sees.
            .layer(middleware::from_fn_with_state(self.clone(), deliver_changes))
            .with_state(self.clone())
            .merge(crate::senders::routes(self.outbox.clone()))
    }
}

// ---- answers ---------------------------------------------------------------------------------

type Answer = Result<Response, Refusal>;

/// A refusal in the sync envelope, with `status`.
fn refused(status: StatusCode, refusal: &Refusal) -> Response {
    let body = wire::Envelope::<()> { response: None, errors: Some(vec![refusal.to_wire()]) };
    (status, Json(body)).into_response()
}

/// 400 for what the client can fix, 500 when the sandbox itself failed.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = if self.code == ErrorCode::InternalServerError {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        refused(status, &self)
    }
}

/// A payload in the sync envelope.
fn enveloped<T: Serialize>(response: T) -> Response {
    Json(wire::Envelope { response: Some(response), errors: None }).into_response()
}

/// A bare JSON payload (the endpoints the swagger types without the envelope).
fn bare<T: Serialize>(body: T) -> Response {
    Json(body).into_response()
}

/// 404 of the single-document GETs: `EmptyResponseVM`.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(wire::Empty {})).into_response()
}

/// An unknown route: ASP.NET's bare 404, whatever the authentication.
async fn no_route() -> StatusCode {
    StatusCode::NOT_FOUND
}

fn file(file_name: &str, content_type: &str, bytes: Bytes) -> Response {
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(file_name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

/// Binds a JSON body; every binding failure is a `VALIDATION_ERROR` in the envelope.
fn bind<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    aspnet::bind(body).map_err(|e| match e {
        BindError::Syntax(message) => {
            Refusal::validation(format!("The request body is not valid JSON: {message}"))
        }
        BindError::Invalid { field: Some(field), message } => {
            Refusal::validation(format!("The value of {field} is invalid: {message}"))
        }
        BindError::Invalid { field: None, message } | BindError::UnknownField(message) => {
            Refusal::validation(format!("The request body has the wrong shape: {message}"))
        }
    })
}

/// The scheme and authority clients reached the sandbox through, for links back to it.
fn origin(headers: &HeaderMap) -> Result<String, Refusal> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("http://{host}"))
        .ok_or_else(|| Refusal::validation("The Host header is missing."))
}

/// Runs the request, then queues the webhook deliveries of the statuses it changed.
async fn deliver_changes(State(idocs): State<IDocs>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    webhooks::emit(&idocs);
    response
}

// ---- authentication --------------------------------------------------------------------------

/// The company a request's bearer token belongs to, set by [`guard`].
#[derive(Debug, Clone, Copy)]
struct Caller(CompanyIndex);

async fn guard(State(idocs): State<IDocs>, mut request: Request, next: Next) -> Response {
    let company =
        bearer_token(request.headers()).and_then(|token| idocs.lock().authenticate(token));
    match company {
        Some(company) => {
            request.extensions_mut().insert(Caller(company));
            next.run(request).await
        }
        None => bearer_challenge(StatusCode::UNAUTHORIZED.into_response()),
    }
}

// ---- references ------------------------------------------------------------------------------

async fn company_token(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
) -> Response {
    let state = idocs.lock();
    let company = &state.companies[company];
    enveloped(wire::CompanyTokenInfo {
        id: company.token_id.into(),
        company_id: company.id.into(),
        company_bin: company.bin.into(),
        company_name: company.name.into(),
    })
}

async fn employees(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let query: wire::PageQuery = bind(&body)?;
    let state = idocs.lock();
    let created_on = state.started.timestamp();
    let items = state.companies[company].employees.iter().map(|e| e.view(created_on)).collect();
    Ok(enveloped(page(items, query.skip, query.top)?))
}

async fn permission(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let state = idocs.lock();
    let employee = state.companies[company]
        .employee(&id)
        .ok_or_else(|| Refusal::not_found(format!("Employee {id} was not found.")))?;
    Ok(enveloped(wire::EmployeePermission {
        employee_id: employee.id.into(),
        account_permissions: employee.permissions().iter().map(|p| (*p).to_owned()).collect(),
    }))
}

// ---- blobs -----------------------------------------------------------------------------------

async fn upload_document(
    State(idocs): State<IDocs>,
    Extension(caller): Extension<Caller>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Answer {
    upload(idocs, caller, BlobKind::Document, "documentContent", multipart).await
}

async fn upload_signature(
    State(idocs): State<IDocs>,
    Extension(caller): Extension<Caller>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Answer {
    upload(idocs, caller, BlobKind::Signature, "signatureContent", multipart).await
}

/// Stores the first file part named `part` (any casing, like ASP.NET's form binding).
async fn upload(
    idocs: IDocs,
    Caller(company): Caller,
    kind: BlobKind,
    part: &str,
    multipart: Result<Multipart, MultipartRejection>,
) -> Answer {
    let mut multipart = multipart.map_err(|e| {
        Refusal::validation(format!("The request must be multipart/form-data: {}", e.body_text()))
    })?;
    let broken = |e: MultipartError| {
        Refusal::validation(format!("Malformed multipart body: {}", e.body_text()))
    };
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let named = field.name().is_some_and(|name| name.eq_ignore_ascii_case(part));
        // A part without a filename is a plain form value for ASP.NET, not an IFormFile.
        let Some(file_name) = field.file_name().filter(|_| named && upload.is_none()) else {
            continue;
        };
        let file_name = file_name.to_owned();
        upload = Some((file_name, field.bytes().await.map_err(broken)?));
    }
    let (file_name, bytes) = upload
        .ok_or_else(|| Refusal::validation(format!("The form has no file part named {part}.")))?;
    let mut state = idocs.lock();
    let blob = state.blobs.upload(company, kind, &file_name, bytes, Utc::now())?;
    Ok(enveloped(blob.view()))
}

// ---- documents -------------------------------------------------------------------------------

async fn create_document(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let request = bind(&body)?;
    let created = idocs.lock().create_document(company, request, Utc::now())?;
    Ok(bare(created))
}

async fn quick_route(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let request = bind(&body)?;
    idocs.lock().create_quick_route(company, request)?;
    Ok(bare(wire::Empty {}))
}

async fn full_route(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let request = bind(&body)?;
    idocs.lock().create_route(company, request)?;
    Ok(bare(wire::Empty {}))
}

async fn inbox_route(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let request = bind(&body)?;
    idocs.lock().create_inbox_route(company, request)?;
    Ok(bare(wire::Empty {}))
}

async fn generate(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
    side: Side,
) -> Answer {
    let request = bind(&body)?;
    let origin = origin(&headers)?;
    let generated = idocs.lock().generate(company, side, request, &origin, Utc::now())?;
    Ok(bare(generated))
}

async fn save(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
    side: Side,
) -> Answer {
    let request = bind(&body)?;
    // A replay with the same ticket and signature answers exactly like the first save.
    idocs.lock().save_signature(company, side, request, Utc::now())?;
    Ok(StatusCode::OK.into_response())
}

async fn sign_content(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    match idocs.lock().sign_content(company, &id, Utc::now()) {
        Some((file_name, bytes)) => file(&file_name, "application/zip", bytes),
        None => not_found(),
    }
}

async fn status(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let state = idocs.lock();
    match state.visible(company, &id) {
        Some((index, role)) => {
            bare(wire::StatusView { document_status: state.documents[index].status(role) })
        }
        None => not_found(),
    }
}

async fn single(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
    side: Side,
) -> Response {
    let state = idocs.lock();
    match state.visible(company, &id) {
        Some((index, role)) if (role == Role::Sender) == (side == Side::Outbox) => {
            enveloped(state.extended(index, role))
        }
        _ => not_found(),
    }
}

async fn query(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
    side: Side,
) -> Answer {
    let request = bind(&body)?;
    let page = idocs.lock().query(company, side, request)?;
    Ok(enveloped(page))
}

/// A file generated for a document: `(file name, content type, bytes)`, or why it failed.
type Generated = Result<(String, &'static str, Vec<u8>), String>;

/// A file generated from a document the caller sees: built off the async threads from a
/// snapshot, since a print form may rewrite a 15 MB PDF.
async fn document_file(
    idocs: &IDocs,
    company: CompanyIndex,
    id: &str,
    build: fn(&Document, &Names, DateTime<Utc>) -> Generated,
) -> Response {
    let snapshot = {
        let state = idocs.lock();
        state.visible(company, id).map(|(index, _)| (state.documents[index].clone(), state.names()))
    };
    let Some((document, names)) = snapshot else { return not_found() };
    let built = tokio::task::spawn_blocking(move || build(&document, &names, Utc::now())).await;
    match built {
        Ok(Ok((file_name, content_type, bytes))) => file(&file_name, content_type, bytes.into()),
        Ok(Err(message)) => Refusal::internal(message).into_response(),
        Err(e) => {
            Refusal::internal(format!("the file could not be generated: {e}")).into_response()
        }
    }
}

async fn print_form(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    document_file(&idocs, company, &id, |document, names, now| {
        let name = format!("{}_print_form.pdf", download::archive_stem(document));
        Ok((name, "application/pdf", download::print_form(document, names, now)?))
    })
    .await
}

async fn archive(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    document_file(&idocs, company, &id, |document, names, now| {
        let name = format!("{}.zip", download::archive_stem(document));
        Ok((name, "application/zip", download::archive(document, names, now)?))
    })
    .await
}

async fn storage(State(idocs): State<IDocs>, Path(key): Path<String>) -> Response {
    blob_response(idocs.lock().links.get(&key).cloned())
}

// ---- async operations ------------------------------------------------------------------------

async fn push(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
    kind: Kind,
) -> Answer {
    let request = bind(&body)?;
    let origin = origin(&headers)?;
    let pushed = idocs.lock().push(company, kind, request, &origin, Utc::now())?;
    Ok(bare(pushed))
}

async fn poll(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
    kind: Kind,
) -> Answer {
    let request = bind(&body)?;
    let polled = idocs.lock().poll(company, kind, request, Utc::now())?;
    Ok(bare(polled))
}

async fn operations(
    State(idocs): State<IDocs>,
    Extension(Caller(company)): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let query = bind(&body)?;
    let page = idocs.lock().operations_page(company, query, Utc::now())?;
    Ok(enveloped(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_case_insensitively_except_storage() {
        let idocs = IDocs::new(IDocsConfig::default());
        assert_eq!(
            idocs.route_path(
                "/idocs/api/v3/sync/single/document/GetDocumentStatusByDocumentId/ABC/"
            ),
            "/idocs/api/v3/sync/single/document/getdocumentstatusbydocumentid/abc"
        );
        assert_eq!(idocs.route_path("/idocs-storage/1AbC"), "/idocs-storage/1AbC");
        assert!(idocs.owns("/IDOCS/api"));
        assert!(idocs.owns("/idocs-storage/x"));
        assert!(!idocs.owns("/idocsx/api"));
    }

    #[test]
    fn debug_hides_tokens() {
        let text = format!("{:?}", IDocsConfig::default());
        assert!(!text.contains(DEFAULT_TOKEN) && !text.contains(COUNTERPARTY_TOKEN));
        assert!(text.contains("ticket_ttl"));
    }

    #[test]
    fn refusals_use_the_envelope() {
        let response = Refusal::validation("bad").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            Refusal::internal("x").into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
