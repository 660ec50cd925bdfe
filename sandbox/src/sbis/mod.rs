//! Simulator of the SBIS / Saby EDO JSON-RPC API, written from `shared/contracts/sbis.md`
//! (§1 transport, §13 state machine, §14 examples).
//!
//! # Paths
//!
//! Everything lives under `/sbis`, standing for `https://online.sbis.ru`: a client's base URL
//! is `{sandbox}/sbis`.
//!
//! | Route | What |
//! |---|---|
//! | `POST /sbis/auth/service/` (any query) | auth methods: `СБИС.Аутентифицировать`, `СБИС.АутентифицироватьПоСертификату`, `СБИС.Выход`, `СБИС.ПроверитьСессию` |
//! | `POST /sbis/service/` (any query, e.g. `?srv=1`) | work methods (below), `X-SBISSessionID` required |
//! | `POST /sbis/oauth/service/` | service login `{"app_client_id", "app_secret", "secret_key"}` → `{"sid", "token"}` (§3.3) |
//! | `GET /sbis/files/{key}` | download links (`Файл.Ссылка`), `X-SBISSessionID` required |
//!
//! `X-SBISAccessToken: <token>` stands for the token's session wherever `X-SBISSessionID` does.
//! `СБИС.АутентифицироватьПоСертификату` is a challenge the host signs (see `auth`).
//!
//! Both endpoints also answer without the trailing slash. A call is read leniently (§1.3): any
//! content type, `id` a number or a string, `protocol` ignored; `params` is an object. The
//! answer is always `{"jsonrpc": "2.0", "result" | "error", "id"}` with the id echoed, as
//! `application/json; charset=utf-8`.
//!
//! Errors (§1.5): `{"code": -32000, "message", "details", "type": "error" | "warning", "data":
//! {"classid"}}` plus `X-ExceptionType`. A missing, unknown, expired or ended session is HTTP
//! 401 with `message` "Сессия не найдена" (§14.17; "…не передан идентификатор сессии" when the
//! header is missing) and classid `{…-1fa000000401}`; a business error the client must
//! fix is HTTP 500 with a fatal classid (`…1fa…`); a temporary one HTTP 500 with a non-fatal
//! classid (`…1aa…`, e.g. from a fault); an unknown method HTTP 404, code -32601; a body that is
//! no JSON-RPC call HTTP 400 with -32700/-32600 \[I: the codes of these last ones are JSON-RPC's,
//! the contract names none]. `СБИС.Выход` without the header is §14.3's warning.
//!
//! # The fixture account ([`account`])
//!
//! Login [`LOGIN`] / [`PASSWORD`]; our organisation ИНН [`OUR_INN`] КПП [`OUR_KPP`]; the
//! counterparty ИНН [`COUNTERPARTY_INN`] КПП [`COUNTERPARTY_KPP`], participant
//! [`COUNTERPARTY_PARTICIPANT_ID`]. Any other valid ИНН is a counterparty outside EDO: sending to
//! it gives state "2" (invitation). Sessions end after [`SbisConfig::session_idle`] without a
//! call (24 h, §3.4).
//!
//! # Methods and the state machine (§13)
//!
//! * `СБИС.ЗаписатьДокумент` creates an outgoing draft ("0", stage "Отправка" / action
//!   "Отправить") with the client's `Идентификатор`s; the same id again updates the draft.
//! * `СБИС.ПодготовитьДействие` hands out each attachment with `Файл.Хеш` (SHA-256 hex \[I\]) and
//!   `Файл.Ссылка`; an `.xml` file is changed first (`Модифицирован: "Да"`, a comment naming
//!   the signer appended \[I\]), so the host must sign what the link serves.
//! * `СБИС.ВыполнитьДействие` needs, for every attachment, a `Подпись` whose
//!   `Файл.ДвоичныеДанные` is a CMS over exactly those bytes (detached, or attached with that
//!   content), verified with `signbridge-signer` unless `verify_signatures` is off (GOST keys);
//!   then "3" (or "2"), event "Отправка". A second execute is refused: the document is no
//!   longer a draft.
//! * `СБИС.ПрочитатьДокумент` answers the document (§10) with its `Состояние`, `Этап`,
//!   `Вложение` (with `Подпись`), `Событие`, and `СсылкаНаАрхив`: a ZIP of every attachment
//!   and, as `<attachment>.<n>.<signature name>`, each of its signatures \[I: the layout].
//! * `СБИС.СписокИзменений` (§6): every event in the order it happened, after the
//!   `ИдентификаторСобытия` cursor or from `ДатаВремяС` (dots or colons), `РазмерСтраницы`
//!   events a page (default 25, at most 200 \[I\]), each document with the page's events and its
//!   current state; `ЕстьЕще: "Да"` when more follow. An unknown cursor is a fatal error.
//! * `СБИС.СписокДокументов` (`Тип` required, `ДатаС`/`ДатаПо`, `Направление`, paged by
//!   `Страница`) and `СБИС.СписокНашихОрганизаций` (§14.5).
//! * `СБИС.ЗаписатьВложение` (§4.4) adds files to a draft, or replaces those with the same
//!   `Идентификатор`; `СБИС.ИнформацияОКонтрагенте` (§14.6) answers the fixture counterparty
//!   with its participant id (a list with `ДопПоля: "СписокИдентификаторов"`), any other ИНН
//!   with none.
//! * Incoming documents (a control route makes one arrive) are "4" with event "Получение", each
//!   file signed by the counterparty, stage "Утверждение": `ПодготовитьДействие` of "Утвердить"
//!   generates the buyer's title (`ON_NSCHFDOPPOK_….xml`), `ВыполнитьДействие` with its signature
//!   gives "7"; "Отклонить" needs `Действие.Комментарий` and no signature \[I\] and gives "9" with
//!   `Примечание`.
//! * Service stages (§8; off with `service_stages: false`): sending adds the operator's event
//!   "Подтверждение даты отправки", receiving "Получение"; each brings a stage "Извещение о
//!   получении" (`Служебный: "Да"`, action "Обработать служебное") listed by
//!   `СБИС.ИнформацияОСлужебныхЭтапах` / `СБИС.СписокСлужебныхЭтапов` and in the document's
//!   `Этап`. Preparing it generates the notice (`DP_IZVPOL_….xml`); executing with its signature
//!   marks it processed and adds the event "Отправка служебного документа" \[I\]. The control route
//!   `service-stages` tells which were processed and when.
//!
//! # Limits (§12)
//!
//! At most [`SbisConfig::max_calls_in_flight`] work calls of one session at once (5) and
//! [`SbisConfig::max_logins_per_minute`] login calls a minute (300); past either, a non-fatal
//! error (HTTP 500, `1AA` classid) \[I: SBIS's answer is not documented]. The control route
//! `calls/hold` holds work calls once they took their place, so a test can pile them up.
//!
//! # Control routes
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `POST /__sandbox/sbis/documents/{id}/deliver` | | document: "4", event "Доставка" \[I\] |
//! | `POST /__sandbox/sbis/documents/{id}/counterparty-sign` | optional `{"cms"}` (base64) | document: "7", event "Утверждение" |
//! | `POST /__sandbox/sbis/documents/{id}/counterparty-reject` | `{"reason"}` | document: "9", `Примечание`, event "Отклонение" \[I\] |
//! | `POST /__sandbox/sbis/incoming` | optional `{"id", "type", "number", "files": [{"name", "base64"}]}` | the document that arrived |
//! | `GET /__sandbox/sbis/service-stages` | | `[{"document", "stage", "name", "cause", "since", "processed"}]` |
//! | `POST /__sandbox/sbis/sessions/expire` | optional `{"sid"}` | `{"expired": n}`: that session, or all |
//! | `GET /__sandbox/sbis/documents`, `GET /__sandbox/sbis/documents/{id}` | | documents as `ПрочитатьДокумент` shows them |
//! | `GET /__sandbox/sbis/calls` | | `{"in_flight": n}` |
//! | `POST /__sandbox/sbis/calls/hold` | `{"hold": true \| false}` | `{"hold", "in_flight"}` |
//! | `GET`/`POST /__sandbox/sbis/config` | `{"session_idle_secs", "verify_signatures", "service_stages", "max_calls_in_flight", "max_logins_per_minute"}` | settings in force |
//!
//! Sign, reject and deliver answer 404 for an unknown document and 409 when the document does
//! not wait for the counterparty.
//!
//! # Faults
//!
//! Every call shares `/sbis/service/`, so a [`crate::Fault`] can name the JSON-RPC method with
//! `rpc_method` (e.g. `Fault::status("/sbis/service/", 502).on_rpc_method("СБИС.ВыполнитьДействие")
//! .after_commit()`: the send happens, its reply is lost); the request log records each call's
//! `rpc_method`. A `status` fault without a body answers in the JSON-RPC error envelope with the
//! call's id: 401 is a refused session, 200 the same refusal inside an HTTP 200 reply (§1.5:
//! error bodies also arrive with 200), a 5xx a temporary error (`…1aa…`), anything else fatal.

pub mod account;
mod auth;
mod control;
mod feed;
mod limits;
mod model;
mod rpc;
mod state;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use account::{
    CERT_THUMBPRINT, COUNTERPARTY_INN, COUNTERPARTY_KPP, COUNTERPARTY_NAME,
    COUNTERPARTY_PARTICIPANT_ID, LOGIN, OUR_INN, OUR_KPP, OUR_NAME, PASSWORD,
};

pub use auth::{APP_CLIENT_ID, APP_SECRET, SECRET_KEY};

use crate::files::blob_response;
use crate::server::Simulator;
use rpc::{Call, RpcError};

/// Settings of the SBIS simulator; all but the credentials can be changed at run time through
/// `POST /__sandbox/sbis/config`.
#[derive(Clone)]
pub struct SbisConfig {
    pub login: String,
    pub password: String,
    /// A session ends after this long without a call (contract §3.4: 24 h).
    pub session_idle: Duration,
    /// Whether signatures are verified cryptographically (RSA or ECDSA P-256 over SHA-256), or
    /// only checked for structure, which lets GOST signatures from CryptoPro through.
    pub verify_signatures: bool,
    /// Most calls of one session at once (contract §12: 5).
    pub max_calls_in_flight: usize,
    /// Most login calls a minute (contract §12: 300).
    pub max_logins_per_minute: usize,
    /// Whether service stages appear as the regulation requires (contract §8): a notice of
    /// receipt owed after sending (on the operator's confirmation) and after receiving.
    pub service_stages: bool,
}

impl Default for SbisConfig {
    fn default() -> SbisConfig {
        SbisConfig {
            login: LOGIN.into(),
            password: PASSWORD.into(),
            session_idle: Duration::from_secs(24 * 60 * 60),
            verify_signatures: true,
            max_calls_in_flight: 5,
            max_logins_per_minute: 300,
            service_stages: true,
        }
    }
}

/// Hand-written so the password never reaches logs.
impl std::fmt::Debug for SbisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SbisConfig")
            .field("login", &self.login)
            .field("password", &"***")
            .field("session_idle", &self.session_idle)
            .field("verify_signatures", &self.verify_signatures)
            .field("max_calls_in_flight", &self.max_calls_in_flight)
            .field("max_logins_per_minute", &self.max_logins_per_minute)
            .field("service_stages", &self.service_stages)
            .finish()
    }
}

/// The whole JSON request may be up to 100 MB (contract §4.2, §12).
const BODY_LIMIT: usize = 100 * 1024 * 1024;

/// The session header (contract §1.2).
const SESSION_HEADER: &str = "x-sbissessionid";
/// The access-token header of service logins (contract §1.2, §3.3).
const TOKEN_HEADER: &str = "x-sbisaccesstoken";

/// The SBIS simulator: shared state behind a mutex (never held across an await).
#[derive(Clone)]
pub(crate) struct Sbis {
    state: Arc<Mutex<state::State>>,
    calls: Arc<limits::Calls>,
}

impl Sbis {
    pub fn new(config: SbisConfig) -> Sbis {
        Sbis { state: Arc::new(Mutex::new(state::State::new(config))), calls: limits::Calls::new() }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        // Handlers do not panic while holding the lock; if one ever did, the state is still the
        // best answer the sandbox has.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which of the two JSON-RPC endpoints a call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Auth,
    Service,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Auth => "/auth/service/",
            Endpoint::Service => "/service/",
        }
    }
}

impl Simulator for Sbis {
    fn owns(&self, path: &str) -> bool {
        path == "/sbis" || path.starts_with("/sbis/")
    }

    fn body_limit(&self, _path: &str) -> usize {
        BODY_LIMIT
    }

    /// Every call shares `/service/`, so faults match on the `method` member.
    fn rpc_method(&self, body: &[u8]) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Method {
            method: Option<String>,
        }
        serde_json::from_slice::<Method>(body).ok()?.method
    }

    /// A fault's answer: 401 is a refused session, 200 a refused session inside an HTTP 200
    /// reply ("Error bodies may also arrive with HTTP 200", §1.5), a 5xx a temporary failure,
    /// anything else a fatal error, each in the JSON-RPC error envelope with the call's id.
    fn fault_response(&self, _path: &str, status: StatusCode, body: &[u8]) -> Response {
        let error = if status == StatusCode::UNAUTHORIZED || status == StatusCode::OK {
            RpcError::session_refused()
        } else if status.is_server_error() {
            RpcError::temporary("Сервис временно недоступен", "Повторите попытку позже")
        } else {
            RpcError::fatal(format!("Simulated failure: {status}"))
        };
        let id = rpc::parse(body).map_or(Value::Null, |call| call.id);
        error.with_status(status).response(&id)
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/sbis/auth/service/", post(auth_endpoint))
            .route("/sbis/auth/service", post(auth_endpoint))
            .route("/sbis/service/", post(service_endpoint))
            .route("/sbis/service", post(service_endpoint))
            .route("/sbis/oauth/service/", post(oauth))
            .route("/sbis/oauth/service", post(oauth))
            .route("/sbis/files/{key}", get(download))
            .merge(control::routes())
            .with_state(self.clone())
    }
}

async fn auth_endpoint(State(sbis): State<Sbis>, headers: HeaderMap, body: Bytes) -> Response {
    endpoint(&sbis, &headers, &body, Endpoint::Auth).await
}

async fn service_endpoint(State(sbis): State<Sbis>, headers: HeaderMap, body: Bytes) -> Response {
    endpoint(&sbis, &headers, &body, Endpoint::Service).await
}

async fn endpoint(sbis: &Sbis, headers: &HeaderMap, body: &[u8], endpoint: Endpoint) -> Response {
    let call = match rpc::parse(body) {
        Ok(call) => call,
        Err((error, id)) => return error.response(&id),
    };
    // A work call holds its session's place until it is answered (contract §12).
    let sid = session(sbis, headers);
    let _slot = match (endpoint, &sid) {
        (Endpoint::Service, Some(sid)) => {
            let max = sbis.lock().config.max_calls_in_flight;
            match sbis.calls.enter(sid, max) {
                Ok(slot) => {
                    sbis.calls.released().await;
                    Some(slot)
                }
                Err(error) => return error.response(&call.id),
            }
        }
        _ => None,
    };
    let origin = origin(headers);
    match dispatch(sbis, &call, endpoint, sid.as_deref(), &origin, Utc::now()) {
        Ok(result) => rpc::success(result, &call.id),
        Err(error) => error.response(&call.id),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The session a request names: `X-SBISSessionID`, else the session of its `X-SBISAccessToken`.
fn session(sbis: &Sbis, headers: &HeaderMap) -> Option<String> {
    if let Some(sid) = header(headers, SESSION_HEADER) {
        return Some(sid.to_owned());
    }
    let token = header(headers, TOKEN_HEADER)?;
    // An unknown token names a session that does not exist, so it is refused like one.
    Some(sbis.lock().token_session(token).unwrap_or_else(|| format!("unknown token {token}")))
}

/// `POST /sbis/oauth/service/` (contract §3.3): plain JSON, not JSON-RPC.
async fn oauth(State(sbis): State<Sbis>, body: Bytes) -> Response {
    let answer = serde_json::from_slice::<Value>(&body)
        .map_err(|e| (400, format!("the body is not JSON: {e}")))
        .and_then(|body| sbis.lock().service_login(&body, Utc::now()));
    match answer {
        Ok(value) => axum::Json(value).into_response(),
        Err((status, message)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
        }
    }
}

/// The scheme and authority clients reached the sandbox through, for links back to it.
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Runs one call: auth methods on the auth endpoint (`СБИС.Выход` on either), every other
/// method on the service endpoint with a live session.
fn dispatch(
    sbis: &Sbis,
    call: &Call,
    endpoint: Endpoint,
    sid: Option<&str>,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Value, RpcError> {
    let params: &Map<String, Value> = &call.params;
    let mut state = sbis.lock();
    match (endpoint, call.method.as_str()) {
        (Endpoint::Auth, "СБИС.Аутентифицировать") => {
            state.authenticate(params, now).map(Value::String)
        }
        (_, "СБИС.Выход") => state.logout(sid),
        (Endpoint::Auth, "СБИС.АутентифицироватьПоСертификату") => {
            state.certificate_login(params, now).map(Value::String)
        }
        (Endpoint::Auth, "СБИС.ПроверитьСессию") => {
            Ok(state.check_session(sid, now))
        }
        (Endpoint::Auth, method) => Err(RpcError::unknown_method(method, endpoint.path())),
        (Endpoint::Service, method) => {
            state.touch(sid, now)?;
            match method {
                "СБИС.ЗаписатьДокумент" => {
                    let index = state.write_document(params, now)?;
                    Ok(state.documents[index].view(origin))
                }
                "СБИС.ПодготовитьДействие" => {
                    let (index, stage, action) = state.prepare(params)?;
                    Ok(state.documents[index].prepared_view(stage, &action, origin))
                }
                "СБИС.ВыполнитьДействие" => {
                    let index = state.execute(params, now)?;
                    Ok(state.documents[index].view(origin))
                }
                "СБИС.ПрочитатьДокумент" => {
                    let index = state.read(params)?;
                    Ok(state.documents[index].view(origin))
                }
                "СБИС.ЗаписатьВложение" => {
                    let index = state.write_attachments(params)?;
                    Ok(state.documents[index].view(origin))
                }
                "СБИС.ИнформацияОКонтрагенте" => {
                    state.counterparty_info(params)
                }
                "СБИС.ИнформацияОСлужебныхЭтапах" => {
                    state.service_info(params)
                }
                "СБИС.СписокСлужебныхЭтапов" => state.service_list(params),
                "СБИС.СписокИзменений" => state.changes(params, origin),
                "СБИС.СписокДокументов" => state.list_documents(params, origin),
                "СБИС.СписокНашихОрганизаций" => {
                    state.our_organisations(params)
                }
                _ => Err(RpcError::unknown_method(method, endpoint.path())),
            }
        }
    }
}

/// A download link: the session header is required, as clients send it (contract §1.2, §9).
async fn download(
    State(sbis): State<Sbis>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let sid = session(&sbis, &headers);
    let mut state = sbis.lock();
    if let Err(error) = state.touch(sid.as_deref(), Utc::now()) {
        return error.response(&Value::Null);
    }
    match state.file(&key) {
        Some(blob) => blob_response(Some(blob)),
        None => (StatusCode::NOT_FOUND, "Файл не найден").into_response(),
    }
}
