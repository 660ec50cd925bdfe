//! SBIS / Saby EDO, the JSON-RPC 2.0 "API ЭДО" (contract `sbis.md`): Cyrillic method names
//! `СБИС.*` posted to one service URL, failures reported inside the reply's JSON (at HTTP 200
//! too), a session header, the host signing each prepared file, and a change list with a cursor.
//!
//! **Sending** (`send`): `СБИС.ЗаписатьДокумент` creates the outgoing document with the first
//! file, under a document `Идентификатор` chosen here (or by the host) and recorded in the
//! journal before the write; further files go with `СБИС.ЗаписатьВложение`, each under an
//! attachment id derived from the document's. Both writes are keyed by those ids (writing the
//! same id again updates it), so they are retried. Then `СБИС.ПодготовитьДействие` (stage
//! `Отправка`, action `Отправить`) hands out the files to sign; the **host signer** signs each
//! one (detached CMS over exactly the bytes behind its `Файл.Ссылка`), and
//! `СБИС.ВыполнитьДействие` sends them with the signatures. The execute is never repeated
//! blindly: when its answer is lost, the journal's reconcile reads the document by its
//! recorded id (`find`) and sees from its `Состояние` whether it went out.
//!
//! **Status** is `СБИС.ПрочитатьДокумент`'s `Состояние`, mapped by [`map::state`]:
//!
//! | `Код` | SBIS | state |
//! |---|---|---|
//! | `0`, `10`, `23` | editing / loaded / awaiting signature | `draft` |
//! | `2`, `3`, `4` | invitation sent / sent / delivered | `sent` |
//! | `6` | delivery error | `failed` |
//! | `7` | completed successfully (approved) | `completed` |
//! | `9` | completed with problems (rejected; `Примечание` is the reason) | `rejected` |
//! | `20` | deleted / annulled | `cancelled` |
//!
//! **Changes** (`changes`): `СБИС.СписокИзменений` from the cursor (the last event's id, with
//! its time as a fallback when the server no longer knows the id, §6.2), page after page while
//! `Навигация.ЕстьЕще` says more follow (at most [`MAX_PAGES`] pages a call): one neutral event
//! per `Событие`, outgoing and incoming documents alike (`Получение` of an incoming document is
//! `document_received`).
//!
//! **Calls** (`call(name, args)`, arguments as JSON objects):
//! - `incoming` `{type?, from?, to?, page?, page_size?}`: a page of incoming documents
//!   (`СБИС.СписокДокументов`, `type` defaults to `settings.incoming_type`, dates `ДД.ММ.ГГГГ`);
//! - `read` `{id}`: the document as SBIS gives it;
//! - `approve` `{id, comment?}` / `reject` `{id, reason}`: the incoming document's approval
//!   stage, through prepare → host signature → execute; answers the new status;
//! - `service_documents` `{}`: processes every pending service stage (извещения, ИОП,
//!   подтверждения) the same way; answers how many. With `settings.auto_service_documents`
//!   `changes` does it after each listing, so the host never signs them by hand;
//! - `archive` `{id}`: writes the document's files and every signature (ours and the
//!   counterparty's) under `settings.archive_dir` (layout in [`archive`]);
//! - `logout` `{}`: `СБИС.Выход` for the account's session, removed from the journal too so no
//!   other process sends it dead (they log in anew). Not done on close or drop: the session is
//!   shared through the journal with every other process using the account, which would lose
//!   it mid-call.
//!
//! `cancel` is unsupported: the contract names `СБИС.УдалитьДокумент` but documents neither its
//! answer nor what the counterparty sees.
//!
//! Settings (`settings` in the client configuration):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `auth_url` | the auth endpoint | `https://online.sbis.ru/auth/service/` |
//! | `service_url` | the service endpoint | `https://online.sbis.ru/service/?srv=1` |
//! | `login`, `password` | `СБИС.Аутентифицировать`; the session is cached in the journal | |
//! | `certificate` | base64 DER or PEM: `СБИС.АутентифицироватьПоСертификату` instead, the challenge signed by the host signer (see `auth`); the session is cached in the journal | |
//! | `session_id` | a session the host obtained (`X-SBISSessionID`) instead; never renewed | |
//! | `access_token` | a service token (`X-SBISAccessToken`, §3.3) instead; never renewed | |
//! | `our_inn`, `our_kpp` | our organisation (`НашаОрганизация`) | required |
//! | `certificate_thumbprint` | the signer's certificate (`Сертификат.Отпечаток`) | the first SBIS offers |
//! | `document_type` | `Тип` of sent documents | `ДоговорИсх` |
//! | `incoming_type` | `Тип` the `incoming` call lists | `ДокОтгрВх` |
//! | `responsible` | `{Фамилия, Имя, Отчество}` of our employee | none |
//! | `changes_days` | how far back the first change listing starts | `7` |
//! | `page_size` | `Навигация.РазмерСтраницы` of the change list and service stages (1..200) | `100` |
//! | `auto_service_documents` | process service stages after each change listing | `false` |
//! | `archive_dir` | where `archive` writes | none (`archive` refused) |
//!
//! The counterparty is the envelope's one acting party: `tax_id` is its ИНН, with the КПП
//! after a slash for a company (`7601000985/760601001`); 12 digits name an individual, whose
//! `name` is read as `Фамилия Имя Отчество`. `provider_options.sbis` sets what the neutral
//! model has no word for, spelled as SBIS spells it: `Идентификатор` (the host's own document
//! GUID), `Тип`, `Подтип`, `Номер` (default: the reference), `Дата` (default: today),
//! `Сумма`, `Примечание` (default: the title), `Регламент` (`{Идентификатор, Название}`),
//! `ДокументОснование`, `ИдентификаторУчастника` (the counterparty's EDO participant id).
//!
//! Limits (§12): one file per write keeps each request under the 100 MB JSON limit; logins
//! (by password or certificate, each call) are counted in a window of 300 a minute shared
//! through the journal, shown by `budget()` with scope `logins`: past it a login waits up to
//! `transport.max_retry_after_ms`, else fails at once as `rate_limited` with the time it may go;
//! at most 5 calls of this process are in flight on the session at once.

pub mod archive;
mod auth;
pub(crate) mod map;
mod wire;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use reqwest::header::CONTENT_TYPE;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Semaphore;

use self::auth::{Credential, JSON_RPC};
use super::{Base, Build, BuildContext, http};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::Window;
use crate::model::{DownloadInfo, DownloadKind, Envelope, Event, Handle, Role, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Lookup, OutgoingDocument, Progress, Provider,
    SendCapability, Sink,
};
use crate::signing::{CmsForm, SignRequest, SignerSlot};
use crate::transport::{
    Call, Classify, Idempotency, Reply, Secret, SessionKey, TokenCache, Transport,
};

pub const CAPABILITY: Capability = Capability {
    send: SendCapability {
        host_signature: true,
        sequential: false,
        envelope: EnvelopeRules {
            // "Запрос целиком ≤ 100 МБ" (§4.2, §12): one file per request, base64 (4/3) plus
            // the JSON around it.
            max_document_bytes: Some(72 * 1024 * 1024),
            max_documents: None,
            document_extensions: None,
            party_email_required: false,
            max_title_chars: None,
        },
    },
    download: DownloadCapability {
        // `original`: the first file as sent; `signed`: a zip of each file with its signatures
        // (ours and the counterparty's, detached CMS), laid out as the local archive; `archive`:
        // the edition's zip SBIS builds (`СсылкаНаАрхив`, §9), as SBIS serves it.
        kinds: &[DownloadKind::Original, DownloadKind::Signed, DownloadKind::Archive],
    },
    changes: true,
    calls: &["incoming", "read", "approve", "reject", "service_documents", "archive", "logout"],
    ..Capability::NONE
};

/// Pages of the change list read in one `changes` call: bounds its memory and time; the
/// cursor it returns continues from there.
pub const MAX_PAGES: usize = 10;
/// "РазмерСтраницы" 1..200 (§11); Tensor's own client asks for 100.
fn default_page_size() -> u32 {
    100
}
/// "≤ 5 параллельных потоков на сессию" (§3.4, §12).
const IN_FLIGHT: usize = 5;
/// "≤ 300 вызовов методов аутентификации в минуту" (§3.4, §12).
const LOGINS_PER_MINUTE: u32 = 300;

const SEND_STAGE: &str = "Отправка";
const SEND_ACTION: &str = "Отправить";
const APPROVE: &str = "Утвердить";
const REJECT: &str = "Отклонить";
const CERTIFICATES: &str = "ЭтапВернутьВсеСертификаты";

/// What a send records (see [`Progress`]).
const DOCUMENT_ID: &str = "document_id";
const WRITTEN: &str = "written";
const ATTACHED: &str = "attached";
const SENT: &str = "sent";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbisConfig {
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    #[serde(default = "default_service_url")]
    pub service_url: String,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub session_id: Option<Secret>,
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// The certificate of `СБИС.АутентифицироватьПоСертификату`: base64 DER or PEM.
    #[serde(default)]
    pub certificate: Option<String>,
    pub our_inn: String,
    #[serde(default)]
    pub our_kpp: Option<String>,
    #[serde(default)]
    pub certificate_thumbprint: Option<String>,
    #[serde(default = "default_document_type")]
    pub document_type: String,
    #[serde(default = "default_incoming_type")]
    pub incoming_type: String,
    #[serde(default)]
    pub responsible: Option<wire::Person>,
    #[serde(default = "default_changes_days")]
    pub changes_days: u32,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default, deserialize_with = "super::lenient::bool")]
    pub auto_service_documents: bool,
    #[serde(default)]
    pub archive_dir: Option<std::path::PathBuf>,
}

fn default_auth_url() -> String {
    "https://online.sbis.ru/auth/service/".into()
}
fn default_service_url() -> String {
    "https://online.sbis.ru/service/?srv=1".into()
}
fn default_document_type() -> String {
    "ДоговорИсх".into()
}
fn default_incoming_type() -> String {
    "ДокОтгрВх".into()
}
fn default_changes_days() -> u32 {
    7
}

/// `provider_options.sbis`, spelled as SBIS spells the fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeOptions {
    #[serde(rename = "Идентификатор")]
    id: Option<String>,
    #[serde(rename = "Тип")]
    kind: Option<String>,
    #[serde(rename = "Подтип")]
    subtype: Option<String>,
    #[serde(rename = "Номер")]
    number: Option<String>,
    #[serde(rename = "Дата")]
    date: Option<String>,
    #[serde(rename = "Сумма")]
    amount: Option<String>,
    #[serde(rename = "Примечание")]
    note: Option<String>,
    #[serde(rename = "Регламент")]
    regulation: Option<serde_json::Value>,
    #[serde(rename = "ДокументОснование")]
    basis: Option<serde_json::Value>,
    #[serde(rename = "ИдентификаторУчастника")]
    participant_id: Option<String>,
}

/// A send's checked inputs.
struct Plan {
    options: EnvelopeOptions,
    counterparty: wire::Organization,
}

pub struct Sbis {
    base: Base,
    /// The auth endpoint's logins, counted in their own window.
    auth: Transport,
    /// The journal key of the login window.
    login_account: String,
    config: SbisConfig,
    credential: Credential,
    sessions: TokenCache,
    signer: SignerSlot,
    in_flight: Semaphore,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Sbis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sbis").field("base", &self.base).field("config", &self.config).finish()
    }
}

impl Build for Sbis {
    fn build(ctx: BuildContext) -> Result<Sbis> {
        let config: SbisConfig = super::settings("sbis", &ctx)?;
        http::check_base_url("sbis", "auth_url", &config.auth_url)?;
        http::check_base_url("sbis", "service_url", &config.service_url)?;
        let credential = match (
            &config.login,
            &config.password,
            &config.session_id,
            &config.access_token,
            &config.certificate,
        ) {
            (Some(login), Some(password), None, None, None) => {
                Credential::Login { login: login.clone(), password: password.clone() }
            }
            (None, None, Some(sid), None, None) => Credential::Session(sid.clone()),
            (None, None, None, Some(token), None) => Credential::AccessToken(token.clone()),
            (None, None, None, None, Some(certificate)) => {
                Credential::Certificate(auth::certificate_base64(certificate)?)
            }
            _ => {
                return Err(Error::config(
                    "settings for provider sbis: give login and password, or certificate, or \
                     session_id, or access_token (exactly one way to authenticate)",
                ));
            }
        };
        let digits =
            |s: &str, n: &[usize]| s.bytes().all(|b| b.is_ascii_digit()) && n.contains(&s.len());
        if !digits(&config.our_inn, &[10, 12]) {
            return Err(Error::config(
                "settings.our_inn for provider sbis: an ИНН of 10 or 12 digits",
            ));
        }
        if config.our_kpp.as_deref().is_some_and(|k| !digits(k, &[9])) {
            return Err(Error::config("settings.our_kpp for provider sbis: a КПП of 9 digits"));
        }
        if !(1..=200).contains(&config.page_size) {
            return Err(Error::config("settings.page_size for provider sbis: between 1 and 200"));
        }
        if config.changes_days == 0 || config.changes_days > 366 {
            return Err(Error::config(
                "settings.changes_days for provider sbis: between 1 and 366",
            ));
        }
        let sessions = match &credential {
            Credential::Login { login, password } => {
                let key = SessionKey::derive("sbis", &ctx.account, &[login, password.expose()]);
                TokenCache::shared(ctx.journal.clone(), "sbis", &ctx.account, key)
            }
            Credential::Certificate(certificate) => {
                let key = SessionKey::derive("sbis", &ctx.account, &[certificate]);
                TokenCache::shared(ctx.journal.clone(), "sbis", &ctx.account, key)
            }
            _ => TokenCache::default(),
        };
        let base = Base::new(
            "sbis",
            &CAPABILITY,
            &ctx,
            &[&config.service_url, &config.auth_url],
            Vec::new(),
        )?;
        let login_account = format!("{}#login", ctx.account);
        let auth = Transport::new("sbis", &ctx.transport, &[&config.auth_url])?.with_budget(
            ctx.journal.clone(),
            &login_account,
            vec![Window::per_minute(LOGINS_PER_MINUTE)],
        );
        Ok(Sbis {
            base,
            auth,
            login_account,
            config,
            credential,
            sessions,
            signer: ctx.signer.clone(),
            in_flight: Semaphore::new(IN_FLIGHT),
            next_id: AtomicU64::new(1),
        })
    }
}

/// Failures come as an HTTP error status, an `X-ExceptionType: error` header, or an `error`
/// member in the JSON-RPC reply at any status (§1.5).
impl Classify for Sbis {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        classify_rpc(op, reply)
    }
}

fn classify_rpc(op: &'static str, reply: &Reply) -> Result<()> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        error: Option<IgnoredAny>,
    }
    let failed = !reply.status.is_success()
        || exception_header(&reply.headers)
        || serde_json::from_slice::<Probe>(&reply.body).is_ok_and(|p| p.error.is_some());
    if failed { Err(map::error(op, reply)) } else { Ok(()) }
}

/// File links answer the file itself; a failure is an HTTP error or `X-ExceptionType` with a
/// JSON-RPC error body (§1.2, §9).
struct Files;

impl Classify for Files {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        if reply.status.is_success() && !exception_header(&reply.headers) {
            Ok(())
        } else {
            Err(map::error(op, reply))
        }
    }
}

fn exception_header(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("x-exceptiontype")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "error" | "warning"))
}

/// A GUID of 16 bytes (the version and variant bits set as for a random one).
fn guid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn new_guid() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| Error::internal(format!("no randomness for an id: {e}")))?;
    Ok(guid(b))
}

/// The id of the document's attachment `index`: derived, so a resumed send writes the same.
fn attachment_id(document_id: &str, index: usize) -> String {
    let digest = Sha256::digest(format!("{document_id}\0attachment\0{index}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    guid(b)
}

fn yes(flag: &str) -> bool {
    flag.trim() == wire::YES
}

/// The arguments of a call, named `args` in errors.
fn args<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    let value = if value.is_null() { serde_json::json!({}) } else { value };
    T::deserialize(value).map_err(|e| Error::validation("args", e))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: String,
}

impl Sbis {
    fn our_organization(&self) -> wire::Organization {
        wire::Organization {
            legal: (self.config.our_inn.len() == 10).then(|| wire::Legal {
                inn: self.config.our_inn.clone(),
                kpp: self.config.our_kpp.clone(),
                name: None,
            }),
            individual: (self.config.our_inn.len() == 12).then(|| wire::Individual {
                inn: self.config.our_inn.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The per-envelope options and SBIS' checks of the parties and documents, once per send.
    fn plan(&self, env: &Envelope) -> Result<Plan> {
        let options: EnvelopeOptions = self.base.options(env)?;
        if let Some(id) = &options.id {
            if !http::is_guid(id) {
                return Err(Error::validation(
                    "provider_options.sbis.Идентификатор",
                    format!("{id:?} is not a GUID"),
                ));
            }
        }
        if env.documents.is_empty() {
            return Err(Error::validation("documents", "SBIS sends at least one file"));
        }
        let mut acting = None;
        for (i, p) in env.parties.iter().enumerate() {
            if p.role == Role::Observe {
                return Err(Error::validation(
                    format!("parties[{i}].role"),
                    "SBIS sends a document to its counterparty only: no observers",
                ));
            }
            if acting.replace(i).is_some() {
                return Err(Error::validation(
                    "parties",
                    "SBIS sends a document to one counterparty: give exactly one party",
                ));
            }
        }
        let Some(i) = acting else {
            return Err(Error::validation("parties", "the counterparty is required"));
        };
        let counterparty = map::counterparty(
            &env.parties[i],
            &format!("parties[{i}]"),
            options.participant_id.clone(),
        )?;
        Ok(Plan { options, counterparty })
    }

    /// A JSON-RPC call of `method` at `url` with the account's credentials; the reply's
    /// `result` (null when there is none, as for `СБИС.Выход`).
    async fn rpc_raw<P: Serialize + Sync>(
        &self,
        url: &str,
        op: &'static str,
        method: &str,
        idempotency: Idempotency,
        params: &P,
    ) -> Result<serde_json::Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&wire::Request { jsonrpc: "2.0", method, params, id })
            .map(Bytes::from)
            .map_err(|e| Error::internal(format!("{op}: the request does not encode: {e}")))?;
        let build = |http: &reqwest::Client| {
            http.post(url).header(CONTENT_TYPE, JSON_RPC).body(body.clone())
        };
        let _permit = self.permit().await?;
        let call = Call::new(op, idempotency, self, &build).auth(self);
        let reply = self.base.transport.execute(call).await?;
        let decoded: wire::Response<serde_json::Value> = http::decode(&reply)?;
        Ok(decoded.result.unwrap_or_default())
    }

    async fn rpc_at<P: Serialize + Sync, T: DeserializeOwned>(
        &self,
        url: &str,
        op: &'static str,
        method: &str,
        idempotency: Idempotency,
        params: &P,
    ) -> Result<T> {
        let raw = self.rpc_raw(url, op, method, idempotency, params).await?;
        T::deserialize(&raw).map_err(|e| {
            let err = http::unexpected("sbis", op, e);
            if idempotency.writes() { err.outcome_unknown() } else { err }
        })
    }

    /// A call on the service endpoint answering a `Документ`, kept raw too.
    async fn document_call<P: Serialize + Sync>(
        &self,
        op: &'static str,
        method: &str,
        idempotency: Idempotency,
        params: &P,
    ) -> Result<(wire::Document, serde_json::Value)> {
        let url = &self.config.service_url;
        let raw = self.rpc_raw(url, op, method, idempotency, params).await?;
        let doc = wire::Document::deserialize(&raw).map_err(|e| {
            let err = http::unexpected("sbis", op, e);
            if idempotency.writes() { err.outcome_unknown() } else { err }
        })?;
        Ok((doc, raw))
    }

    async fn read(&self, id: &str) -> Result<(wire::Document, serde_json::Value)> {
        let params = wire::DocumentParams {
            document: wire::ReadDocument { id: id.into(), extra_fields: CERTIFICATES },
        };
        let (doc, raw) = self
            .document_call("read", "СБИС.ПрочитатьДокумент", Idempotency::Read, &params)
            .await?;
        if doc.id != id {
            return Err(http::unexpected("sbis", "read", "the document read has another id"));
        }
        Ok((doc, raw))
    }

    async fn new_attachment(
        &self,
        document_id: &str,
        doc: &OutgoingDocument,
    ) -> Result<wire::NewAttachment> {
        let bytes = doc.bytes().await.map_err(|e| Error::validation(doc.field(), e))?;
        Ok(wire::NewAttachment {
            id: attachment_id(document_id, doc.index),
            file: wire::FileOut {
                name: doc.name.clone(),
                data: base64::engine::general_purpose::STANDARD.encode(&bytes),
            },
        })
    }

    /// `СБИС.ЗаписатьДокумент` with the first file.
    async fn write(
        &self,
        id: &str,
        env: &Envelope,
        plan: &Plan,
        first: &OutgoingDocument,
    ) -> Result<()> {
        let o = &plan.options;
        let now = Utc::now();
        let document = wire::WriteDocument {
            id: id.into(),
            kind: o.kind.clone().unwrap_or_else(|| self.config.document_type.clone()),
            subtype: o.subtype.clone(),
            date: o.date.clone().unwrap_or_else(|| map::sbis_date(now)),
            number: o.number.clone().unwrap_or_else(|| env.reference.clone()),
            amount: o.amount.clone(),
            // The request has no title field (§4.2): the title is the note SBIS shows and
            // searches (`Маска`).
            note: Some(o.note.clone().unwrap_or_else(|| env.title.clone())),
            deadline: env.deadline.map(map::sbis_date),
            our_organization: self.our_organization(),
            counterparty: plan.counterparty.clone(),
            responsible: self.config.responsible.clone(),
            regulation: o.regulation.clone(),
            basis: o.basis.clone(),
            edition: wire::EditionIs { is_id: env.reference.clone() },
            extra_fields: CERTIFICATES,
            attachments: vec![self.new_attachment(id, first).await?],
        };
        let params = wire::DocumentParams { document };
        // Keyed by the document's id: writing it again updates the same draft (§4.3).
        let (doc, _) = self
            .document_call("write", "СБИС.ЗаписатьДокумент", Idempotency::KeyedWrite, &params)
            .await?;
        if !doc.id.is_empty() && doc.id != id {
            return Err(http::unexpected("sbis", "write", "the document written has another id")
                .outcome_unknown());
        }
        Ok(())
    }

    /// `СБИС.ЗаписатьВложение` for each further file.
    async fn attach(&self, id: &str, documents: &[OutgoingDocument]) -> Result<()> {
        for doc in documents {
            let params = wire::DocumentParams {
                document: wire::WriteAttachment {
                    id: id.into(),
                    stage: wire::StageName {
                        name: SEND_STAGE.into(),
                        actions: vec![wire::ActionName { name: SEND_ACTION.into() }],
                    },
                    attachments: vec![self.new_attachment(id, doc).await?],
                },
            };
            // Keyed by the attachment's id, which replaces the same attachment (§4.4).
            self.document_call("attach", "СБИС.ЗаписатьВложение", Idempotency::KeyedWrite, &params)
                .await?;
        }
        Ok(())
    }

    /// The bytes behind a link SBIS gave, with the session: only from the account's
    /// configured origins, so that nothing from an unknown host is signed or archived.
    async fn fetch(&self, op: &'static str, link: &str) -> Result<Reply> {
        let url = self.link_url(op, link)?;
        let build = |http: &reqwest::Client| http.get(&url);
        let _permit = self.permit().await?;
        let call = Call::new(op, Idempotency::Read, &Files, &build).auth(self).carrying_file();
        self.base.transport.execute(call).await
    }

    /// Streams the file behind `link` into `sink` (bounded by the transport's file limit as it
    /// is read), the session header sent as on every call (§9).
    async fn stream(&self, op: &'static str, link: &str, sink: Sink<'_>) -> Result<DownloadInfo> {
        let url = self.link_url(op, link)?;
        let build = |http: &reqwest::Client| http.get(&url);
        // The permit is held until the body is read: the download is a call in flight.
        let _permit = self.permit().await?;
        let call = Call::new(op, Idempotency::Read, &Files, &build).auth(self).carrying_file();
        let response = self.base.transport.execute_streaming(call).await?;
        if exception_header(response.headers()) {
            return Err(Error::new(
                ErrorKind::Provider,
                format!("{op}: SBIS answered the file link with an exception"),
            )
            .with_context("provider", "sbis"));
        }
        let limit = self.base.transport.config().max_file_reply_bytes;
        let info = http::stream_into("sbis", response, None, limit, &mut *sink).await?;
        sink.flush().await.map_err(http::sink_error)?;
        Ok(info)
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.in_flight
            .acquire()
            .await
            .map_err(|_| Error::internal("the SBIS call limiter was closed"))
    }

    /// The absolute URL of a link SBIS gave, refused unless it is on a configured origin, so
    /// that no session header goes elsewhere and nothing from an unknown host is archived.
    fn link_url(&self, op: &'static str, link: &str) -> Result<String> {
        let url = if link.starts_with('/') {
            let base = url::Url::parse(&self.config.service_url)
                .map_err(|e| Error::config(format!("settings.service_url: {e}")))?;
            base.join(link).map(|u| u.to_string()).unwrap_or_default()
        } else {
            link.to_string()
        };
        if !self.base.transport.is_configured_origin(&url) {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "{op}: SBIS gave a link to an origin that is neither settings.service_url's \
                     nor settings.auth_url's; refused"
                ),
            )
            .with_context("provider", "sbis"));
        }
        Ok(url)
    }

    /// Prepare → the host signs each prepared file → execute, for `stage`/`action` of
    /// document `id`. `ours` are the files this send wrote (signed from the original bytes when
    /// SBIS left them unmodified and gave no link).
    async fn act(
        &self,
        id: &str,
        stage: Option<&wire::Stage>,
        stage_name: &str,
        action: &str,
        comment: Option<String>,
        ours: &[OutgoingDocument],
    ) -> Result<(wire::Document, serde_json::Value)> {
        let thumb = self.config.certificate_thumbprint.clone();
        let certificates =
            thumb.iter().map(|t| wire::Thumbprint { thumbprint: t.clone() }).collect::<Vec<_>>();
        let prepare = wire::DocumentParams {
            document: wire::Act {
                id: id.into(),
                editions: Vec::new(),
                stage: wire::ActStage {
                    id: stage.map(|s| s.id.clone()).filter(|s| !s.is_empty()),
                    name: stage_name.into(),
                    action: wire::ActAction { name: action.into(), comment: None, certificates },
                    attachments: Vec::new(),
                },
            },
        };
        // Preparing only hands out the files to sign (the document stays as it was until the
        // execute): read as a read, retried, and an answer that does not fit is no unknown
        // outcome.
        let (prepared, _) = self
            .document_call("prepare", "СБИС.ПодготовитьДействие", Idempotency::Read, &prepare)
            .await?;
        let pstage = prepared
            .stages
            .iter()
            .find(|s| s.name == stage_name)
            .or(prepared.stages.first())
            .cloned()
            .unwrap_or_default();
        let paction = pstage.actions.iter().find(|a| a.name == action).cloned().unwrap_or_default();
        let thumb = thumb.or_else(|| paction.certificates.first().map(|c| c.thumbprint.clone()));
        // "Ключ.Тип = Клиентский → the client signs"; a server key signs in SBIS (§5.4).
        let server_key = paction
            .certificates
            .iter()
            .find(|c| Some(&c.thumbprint) == thumb.as_ref())
            .and_then(|c| c.key.as_ref())
            .is_some_and(|k| !k.kind.is_empty() && k.kind != "Клиентский");
        let sign =
            !server_key && (yes(&paction.needs_signature) || paction.needs_signature.is_empty());
        let mut signed = Vec::new();
        if sign {
            for att in &pstage.attachments {
                let data = self.bytes_to_sign(att, id, ours).await?;
                let cms = self
                    .signer
                    .sign(SignRequest {
                        provider: "sbis",
                        document_id: Some(id.into()),
                        form: CmsForm::Detached,
                        data,
                    })
                    .await?;
                let name = att.file.as_ref().map(|f| f.name.as_str()).unwrap_or("file");
                let name = crate::names::file_name(name, "file");
                signed.push(wire::SignedAttachment {
                    id: att.id.clone(),
                    signatures: vec![wire::SignatureOut {
                        file: wire::FileOut {
                            name: format!("{name}.sgn"),
                            data: base64::engine::general_purpose::STANDARD.encode(cms),
                        },
                    }],
                });
            }
        }
        let execute = wire::DocumentParams {
            document: wire::Act {
                id: id.into(),
                editions: prepared
                    .editions
                    .iter()
                    .filter(|e| !e.id.is_empty())
                    .map(|e| wire::IdOnly { id: e.id.clone() })
                    .collect(),
                stage: wire::ActStage {
                    id: Some(pstage.id.clone()).filter(|s| !s.is_empty()),
                    name: stage_name.into(),
                    action: wire::ActAction {
                        name: action.into(),
                        comment: Some(comment.unwrap_or_default()),
                        certificates: thumb
                            .into_iter()
                            .map(|thumbprint| wire::Thumbprint { thumbprint })
                            .collect(),
                    },
                    attachments: signed,
                },
            },
        };
        // Never repeated blindly: a lost answer is resolved by reading the document.
        self.document_call("execute", "СБИС.ВыполнитьДействие", Idempotency::Write, &execute).await
    }

    /// Exactly the bytes SBIS prepared: behind `Файл.Ссылка` when it gives one (it may have
    /// modified the file, §5.3), else our own file when SBIS says it is unmodified.
    async fn bytes_to_sign(
        &self,
        att: &wire::Attachment,
        id: &str,
        ours: &[OutgoingDocument],
    ) -> Result<Vec<u8>> {
        if let Some(link) = att.file.as_ref().map(|f| f.link.as_str()).filter(|l| !l.is_empty()) {
            let reply = self.fetch("content_to_sign", link).await?;
            // SBIS serves a prepared file with its own type; JSON is its error answer on a file
            // link (§9) and HTML a proxy's or login page: neither goes to the host's signer.
            let kind = reply.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let kind = kind.unwrap_or_default().to_ascii_lowercase();
            if kind.starts_with("application/json") || kind.starts_with("text/html") {
                return Err(reply.malformed(format!(
                    "the file to sign came as {kind}: {}",
                    http::body_excerpt(&reply.body[..reply.body.len().min(64)])
                )));
            }
            return Ok(reply.body.to_vec());
        }
        let own = ours.iter().find(|d| attachment_id(id, d.index) == att.id);
        match own {
            Some(doc) if !yes(&att.modified) => {
                Ok(doc.bytes().await.map_err(|e| Error::validation(doc.field(), e))?.to_vec())
            }
            _ => Err(http::unexpected(
                "sbis",
                "prepare",
                format!("attachment {} to sign comes without a link", att.id),
            )),
        }
    }

    /// The incoming document's approval stage and the action named `action` on it.
    async fn decide(&self, id: &str, action: &str, comment: Option<String>) -> Result<Status> {
        if id.trim().is_empty() {
            return Err(Error::validation("args.id", "the document's id is required"));
        }
        let (doc, _) = self.read(id).await?;
        let stage = doc
            .stages
            .iter()
            .find(|s| s.actions.iter().any(|a| a.name == action))
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Conflict,
                    format!("the document has no stage offering {action:?} now"),
                )
                .with_context("provider", "sbis")
            })?;
        let (done, raw) = self.act(id, Some(&stage), &stage.name, action, comment, &[]).await?;
        Ok(map::status(&done, raw))
    }

    /// Processes every pending service stage (§8): prepare → sign → execute, page after page,
    /// until none is left or [`MAX_PAGES`] rounds went by. Returns how many were processed.
    async fn service_documents(&self) -> Result<usize> {
        let mut processed = 0;
        for _ in 0..MAX_PAGES {
            let params = wire::FilterParams {
                filter: wire::ServiceStagesFilter {
                    our_organization: self.our_organization(),
                    extra_fields: CERTIFICATES,
                    lock: wire::NO,
                    navigation: wire::Navigation {
                        page_size: self.config.page_size.to_string(),
                        page: Some("0".into()),
                    },
                },
            };
            let page: wire::Page = self
                .rpc_at(
                    &self.config.service_url,
                    "service_stages",
                    "СБИС.СписокСлужебныхЭтапов",
                    Idempotency::Read,
                    &params,
                )
                .await?;
            let mut round = 0;
            for raw in page.documents {
                let doc = wire::Document::deserialize(&raw)
                    .map_err(|e| http::unexpected("sbis", "service_stages", e))?;
                for stage in doc.stages.iter().filter(|s| yes(&s.service) || s.service.is_empty()) {
                    let Some(action) = stage.actions.first() else { continue };
                    self.act(&doc.id, Some(stage), &stage.name, &action.name, None, &[]).await?;
                    round += 1;
                }
            }
            processed += round;
            if round == 0 {
                break;
            }
        }
        Ok(processed)
    }

    /// One page of the change list after `after_event`, or from `since`.
    async fn changes_page(
        &self,
        after_event: Option<&str>,
        since: Option<&str>,
    ) -> Result<wire::Page> {
        let params = wire::FilterParams {
            filter: wire::ChangesFilter {
                after_event: after_event.map(str::to_string),
                since: since.map(str::to_string),
                full_certificate: wire::NO,
                our_organization: after_event.is_none().then(|| self.our_organization()),
                navigation: wire::Navigation {
                    page_size: self.config.page_size.to_string(),
                    page: None,
                },
            },
        };
        self.rpc_at(
            &self.config.service_url,
            "changes",
            "СБИС.СписокИзменений",
            Idempotency::Read,
            &params,
        )
        .await
    }

    async fn incoming(&self, a: serde_json::Value) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Incoming {
            #[serde(rename = "type")]
            kind: Option<String>,
            from: Option<String>,
            to: Option<String>,
            #[serde(default)]
            page: u32,
            page_size: Option<u32>,
        }
        let a: Incoming = args(a)?;
        let page_size = a.page_size.unwrap_or(50);
        if !(1..=200).contains(&page_size) {
            return Err(Error::validation("args.page_size", "between 1 and 200 (§11)"));
        }
        let params = wire::FilterParams {
            filter: wire::ListFilter {
                kind: a.kind.unwrap_or_else(|| self.config.incoming_type.clone()),
                direction: Some("Входящий".into()),
                from: a.from,
                to: a.to,
                extra_fields: "Этап",
                navigation: wire::Navigation {
                    page_size: page_size.to_string(),
                    page: Some(a.page.to_string()),
                },
            },
        };
        self.rpc_at(
            &self.config.service_url,
            "incoming",
            "СБИС.СписокДокументов",
            Idempotency::Read,
            &params,
        )
        .await
    }
}

#[async_trait]
impl Provider for Sbis {
    fn base(&self) -> &Base {
        &self.base
    }

    /// "≤ 300 вызовов методов аутентификации в минуту" (§3.4): counted apart from the calls.
    fn login_budget(&self) -> Option<(String, &[Window])> {
        Some((self.login_account.clone(), self.auth.windows()))
    }

    fn validate(&self, env: &Envelope) -> Result<()> {
        self.plan(env).map(drop)
    }

    async fn send(
        &self,
        env: &Envelope,
        documents: &[OutgoingDocument],
        progress: &mut dyn Progress,
    ) -> Result<Handle> {
        let plan = self.plan(env)?;
        let id = match progress.id(DOCUMENT_ID) {
            Some(id) => id,
            None => {
                let id = match &plan.options.id {
                    Some(id) => id.to_ascii_lowercase(),
                    None => new_guid()?,
                };
                // Before the first write: the lookup reads the document by it.
                progress.record_id(DOCUMENT_ID, &id).await?;
                id
            }
        };
        let handle = self.base.handle(id.clone(), env);
        if progress.done(SENT) {
            return Ok(handle);
        }
        let (first, further) = documents
            .split_first()
            .ok_or_else(|| Error::validation("documents", "SBIS sends at least one file"))?;
        if !progress.done(WRITTEN) {
            self.write(&id, env, &plan, first).await?;
            progress.record_step(WRITTEN).await?;
        }
        // From here the document exists at SBIS: every error carries its handle.
        async {
            if !progress.done(ATTACHED) {
                self.attach(&id, further).await?;
                progress.record_step(ATTACHED).await?;
            }
            self.act(&id, None, SEND_STAGE, SEND_ACTION, None, documents).await?;
            progress.record_step(SENT).await
        }
        .await
        .map_err(|e| e.with_handle(handle.clone()))?;
        Ok(handle)
    }

    async fn find(&self, _reference: &str, progress: &mut dyn Progress) -> Result<Lookup> {
        let Some(id) = progress.id(DOCUMENT_ID) else {
            // No id was chosen, so no write went out.
            return Ok(Lookup::Absent);
        };
        let doc = match self.read(&id).await {
            Ok((doc, _)) => doc,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Lookup::Absent),
            Err(e) => return Err(e),
        };
        let sent = map::was_sent(&doc);
        progress.record_step(WRITTEN).await?;
        if sent {
            progress.record_step(SENT).await?;
        }
        Ok(Lookup::Found { id, sent })
    }

    async fn status(&self, handle: &Handle) -> Result<Status> {
        let (doc, raw) = self.read(&handle.id).await?;
        Ok(map::status(&doc, raw))
    }

    async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        // Undeclared kinds are refused before any request.
        if !CAPABILITY.download.kinds.contains(&kind) {
            return Err(self.unsupported(&format!("download of {kind}")));
        }
        let (doc, _) = self.read(&handle.id).await?;
        let missing = || {
            Error::new(
                ErrorKind::NotFound,
                format!("download: SBIS gives no link for the {kind} of this document"),
            )
            .with_context("provider", "sbis")
        };
        match kind {
            DownloadKind::Original => {
                let first = doc.attachments.iter().find(|a| !yes(&a.service));
                let file = first.and_then(|a| a.file.clone()).unwrap_or_default();
                if file.link.is_empty() {
                    return Err(missing());
                }
                let info = self.stream("download", &file.link, sink).await?;
                let name = Some(file.name).filter(|n| !n.is_empty());
                Ok(DownloadInfo {
                    file_name: name.map(|n| crate::names::file_name(&n, "document")),
                    ..info
                })
            }
            DownloadKind::Signed => archive::signed_zip(self, &doc, sink).await,
            _ => {
                if doc.archive_link.is_empty() {
                    return Err(missing());
                }
                let info = self.stream("download", &doc.archive_link, sink).await?;
                Ok(DownloadInfo { media_type: Some("application/zip".into()), ..info })
            }
        }
    }

    async fn changes(&self, cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)> {
        let mut cursor = match cursor {
            Some(text) => map::Cursor::parse(text),
            None => {
                let since = Utc::now() - chrono::Duration::days(self.config.changes_days.into());
                map::Cursor { after: None, at: Some(map::sbis_time(since)) }
            }
        };
        let mut events = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let since = if cursor.after.is_none() { cursor.at.as_deref() } else { None };
            let page = match self.changes_page(cursor.after.as_deref(), since).await {
                // "If the saved event id is rejected, retry once with ДатаВремяС" (§6.2).
                Err(e)
                    if cursor.after.is_some()
                        && cursor.at.is_some()
                        && matches!(e.kind(), ErrorKind::Validation | ErrorKind::NotFound) =>
                {
                    tracing::info!(target: "signbridge::providers::sbis", error = %e, "the cursor's event is unknown; listing from its time");
                    cursor.after = None;
                    self.changes_page(None, cursor.at.as_deref()).await?
                }
                other => other?,
            };
            let read = map::page("sbis", &self.base.account, &page)
                .map_err(|e| http::unexpected("sbis", "changes", e))?;
            events.extend(read.events.into_iter().filter(|e| seen.insert(e.id.clone())));
            if !cursor.advance(read.last) || !read.more {
                break;
            }
        }
        if self.config.auto_service_documents {
            let processed = self.service_documents().await?;
            tracing::debug!(target: "signbridge::providers::sbis", processed, "service stages processed");
        }
        Ok((events, Some(cursor.to_string())))
    }

    async fn call(&self, name: &str, a: serde_json::Value) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Approve {
            id: String,
            comment: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Reject {
            id: String,
            reason: String,
        }
        let to_json =
            |s: Status| serde_json::to_value(s).map_err(|e| Error::internal(e.to_string()));
        match name {
            "incoming" => self.incoming(a).await,
            "read" => {
                let a: IdArgs = args(a)?;
                Ok(self.read(&a.id).await?.1)
            }
            "approve" => {
                let a: Approve = args(a)?;
                to_json(self.decide(&a.id, APPROVE, a.comment).await?)
            }
            "reject" => {
                let a: Reject = args(a)?;
                if a.reason.trim().is_empty() {
                    // "Отклонить" requires a comment (§7).
                    return Err(Error::validation("args.reason", "a rejection needs its reason"));
                }
                to_json(self.decide(&a.id, REJECT, Some(a.reason)).await?)
            }
            "service_documents" => {
                let _: IgnoredArgs = args(a)?;
                Ok(serde_json::json!({"processed": self.service_documents().await?}))
            }
            "archive" => {
                let a: IdArgs = args(a)?;
                archive::write(self, &a.id).await
            }
            "logout" => {
                let _: IgnoredArgs = args(a)?;
                self.logout().await.map(|()| serde_json::json!({}))
            }
            other => Err(self.unsupported(other)),
        }
    }
}

/// Calls without arguments: `{}` or null.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoredArgs {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_read_from_the_body_and_the_exception_header() {
        let error = r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Ошибка"},"id":1}"#;
        assert!(classify_rpc("op", &Reply::for_test(200, error)).is_err(), "an error at 200");
        let ok = r#"{"jsonrpc":"2.0","result":{"Идентификатор":"d"},"id":1}"#;
        classify_rpc("op", &Reply::for_test(200, ok)).unwrap();
        classify_rpc("op", &Reply::for_test(200, r#"{"result":null,"error":null}"#)).unwrap();
        let mut file = Reply::for_test(200, "%PDF-1.4");
        Files.classify("download", &file).unwrap();
        file.headers.insert("x-exceptiontype", "error".parse().unwrap());
        assert!(Files.classify("download", &file).is_err(), "X-ExceptionType marks a failure");
        let not_ready = r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Файл не готов",
            "data":{"classid":"{00000000-0000-0000-0000-1aa0000f1002}"}},"id":0}"#;
        let mut reply = Reply::for_test(200, not_ready);
        reply.headers.insert("x-exceptiontype", "error".parse().unwrap());
        let err = Files.classify("download", &reply).unwrap_err();
        assert!(err.is_temporary(), "not ready yet: try again (§1.5)");
    }

    #[test]
    fn ids_are_guids_and_attachment_ids_are_stable() {
        let id = new_guid().unwrap();
        assert!(http::is_guid(&id), "{id}");
        assert_ne!(id, new_guid().unwrap());
        let a = attachment_id(&id, 0);
        assert!(http::is_guid(&a));
        assert_eq!(a, attachment_id(&id, 0));
        assert_ne!(a, attachment_id(&id, 1));
    }
}
