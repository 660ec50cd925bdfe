//! iDocs (Kazakhstan) EDO, Integration API V3: the first provider where the host signs.
//!
//! `send` runs the six steps of the vendor's scenario: upload each document as a blob → create
//! the external outbox document (a draft) → add a quick route (one node per counterparty, by
//! BIN/IIN) → generate the content to sign (a ZIP of the originals, with an idempotency
//! ticket) → download it, have the **host signer** sign it (CMS) → upload the `.cms` and save
//! the signature with the ticket, which sends the document to the counterparties. The save is
//! retried with the same ticket when its answer is lost (the ticket makes a repeat harmless);
//! a ticket the server no longer takes gets one fresh content-to-sign.
//!
//! From the document's creation on, every error carries its handle, and its status says where
//! the flow stopped (a draft that was never signed and sent).
//!
//! Settings (`settings` in the client configuration; `SIGNBRIDGE_IDOCS_<NAME>` from the
//! environment):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `base_url` | the V3 host | `https://ext-edo-integration.idocs.kz` |
//! | `token` | the company's long-lived bearer token from the iDocs manager | required |
//! | `employee_id` | the employee who authors and signs (`employeeId`, `signedByEmployeeId`) | required |
//! | `document_group` | `DocumentGroupType` of new documents | `General` |
//! | `cms_form` | `attached` or `detached` CMS | `attached` |
//! | `individual_counterparties` | route nodes are individuals (IIN), not companies (BIN) | `false` |
//! | `link_origins` | other origins (`https://host[:port]`) whose content-to-sign links are fetched, without the token | `[]` |
//! | `webhooks_base_url` | the WebHooks API host (§5), called with the same token | `https://webhooks.idocs.kz/api/1` |
//!
//! Per envelope, `provider_options.idocs` may set `document_number` (default: the reference),
//! `document_date` (Unix seconds; default now), `document_group` and `individual_counterparties`.
//! Provider calls:
//!
//! | call | arguments | does |
//! |---|---|---|
//! | `inbox` | the query body (default `{"skip": 0, "top": 10}`) | a page of incoming documents |
//! | `bulk` | the operation | starts an async mass operation and polls its companion until every operation is done |
//! | `webhook_subscribe` | `{"url"}` | registers the receiver of document-status-changed notifications (§5: one per company, replaced on each call); answers `{"id": null, "url", "secret": null}` |
//!
//! The status table is in [`map::state`].

pub(crate) mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::{Base, Build, BuildContext, http, lenient, webhook_subscribe};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{DownloadInfo, DownloadKind, Envelope, Handle, Role, State, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Lookup, OutgoingDocument, Progress, Provider,
    SendCapability, Sink, WebhookCapability,
};
use crate::signing::{CmsForm, SignRequest, SignerSlot};
use crate::transport::{Call, Classify, FixedHeaders, Idempotency, Reply, Secret};

pub const CAPABILITY: Capability = Capability {
    send: SendCapability {
        host_signature: true,
        // A quick route's `routeOrderType` is SEQUENTIAL or PARALLEL, nodes carry their `order`.
        sequential: true,
        envelope: EnvelopeRules {
            // "ограничение по размеру = 15MB", formats .doc, .docx, .xls, .xlsx, .pdf, .txt.
            max_document_bytes: Some(15 * 1024 * 1024),
            document_extensions: Some(&["doc", "docx", "xls", "xlsx", "pdf", "txt"]),
            // Route nodes name companies by BIN; e-mails are optional.
            party_email_required: false,
            max_title_chars: Some(256),
            max_documents: None,
        },
    },
    download: DownloadCapability {
        // The print form carries the signatures; the archive holds originals, print form and CMS.
        kinds: &[DownloadKind::Signed, DownloadKind::Archive],
    },
    calls: &["inbox", "bulk", webhook_subscribe::CALL],
    // V3 has no recall endpoint: recalls happen in the iDocs web UI, so no `cancel`.
    webhooks: WebhookCapability {
        // document-status-changed notifications (contract §5).
        source: Some("idocs"),
    },
    ..Capability::NONE
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IDocsConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub token: Secret,
    pub employee_id: String,
    #[serde(default = "default_group")]
    pub document_group: String,
    #[serde(default = "default_form")]
    pub cms_form: CmsForm,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub individual_counterparties: bool,
    /// Origins besides `base_url`'s whose links (the content to sign) may be fetched, without
    /// the token; a link anywhere else is refused.
    #[serde(default)]
    pub link_origins: Vec<String>,
    /// §5: "Base URL `https://webhooks.idocs.kz/api/1/`; Bearer auth"; whether the token is
    /// the V3 one is not said, the same one is sent.
    #[serde(default = "default_webhooks_base_url")]
    pub webhooks_base_url: String,
}

fn default_base_url() -> String {
    "https://ext-edo-integration.idocs.kz".into()
}
fn default_webhooks_base_url() -> String {
    "https://webhooks.idocs.kz/api/1".into()
}
fn default_group() -> String {
    "General".into()
}
fn default_form() -> CmsForm {
    CmsForm::Attached
}

/// What a send records (see [`Progress`]): the number and date the outbox query finds the
/// draft by, its id, and the route and the signature as they complete.
const DOCUMENT_NUMBER: &str = "document_number";
const DOCUMENT_DATE: &str = "document_date";
const DOCUMENT_ID: &str = "document_id";
const ROUTED: &str = "routed";
const SIGNED: &str = "signed";

/// Outbox documents read per query page.
const QUERY_PAGE: u64 = 100;

/// `DocumentGroupType` values (contract §3.1).
const GROUPS: [&str; 10] = [
    "Accounting",
    "Financial",
    "Legal",
    "Constitutive",
    "HR",
    "Paperwork",
    "Purchase",
    "Warehouse",
    "Organizational",
    "General",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeOptions {
    document_number: Option<String>,
    document_date: Option<i64>,
    document_group: Option<String>,
    individual_counterparties: Option<bool>,
}

pub struct IDocs {
    base: Base,
    config: IDocsConfig,
    /// The long-lived bearer token from the iDocs manager: nothing to refresh, and a 401
    /// means it was revoked or has expired.
    token: FixedHeaders,
    signer: SignerSlot,
}

impl std::fmt::Debug for IDocs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IDocs").field("base", &self.base).field("config", &self.config).finish()
    }
}

impl Build for IDocs {
    fn build(ctx: BuildContext) -> Result<IDocs> {
        let config: IDocsConfig = super::settings("idocs", &ctx)?;
        http::check_base_url("idocs", "base_url", &config.base_url)?;
        for origin in &config.link_origins {
            http::check_base_url("idocs", "link_origins", origin)?;
        }
        http::check_base_url("idocs", "webhooks_base_url", &config.webhooks_base_url)?;
        if !GROUPS.contains(&config.document_group.as_str()) {
            return Err(Error::config(format!(
                "settings.document_group for provider idocs is one of {}",
                GROUPS.join(", ")
            )));
        }
        if config.employee_id.trim().is_empty() {
            return Err(Error::config("settings.employee_id for provider idocs is empty"));
        }
        let token = FixedHeaders::bearer("idocs", "token", &config.token)?;
        // iDocs documents no rate limit: only its 429 and Retry-After.
        let origins = [config.base_url.as_str(), &config.webhooks_base_url];
        let base = Base::new("idocs", &CAPABILITY, &ctx, &origins, Vec::new())?;
        Ok(IDocs { base, config, token, signer: ctx.signer.clone() })
    }
}

/// Failures come as an HTTP error status, or as a non-empty `errors` array in a 2xx envelope.
impl Classify for IDocs {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        #[derive(Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Option<Vec<IgnoredAny>>,
        }
        let failed = !reply.status.is_success()
            || serde_json::from_slice::<Errors>(&reply.body)
                .is_ok_and(|e| e.errors.is_some_and(|e| !e.is_empty()));
        if failed { Err(map::error(op, reply)) } else { Ok(()) }
    }
}

impl IDocs {
    fn url(&self, path: &str) -> String {
        http::join(&self.config.base_url, path)
    }

    /// The per-envelope options and iDocs' checks of the parties, once per send.
    fn plan(&self, env: &Envelope) -> Result<EnvelopeOptions> {
        let o: EnvelopeOptions = self.base.options(env)?;
        if let Some(group) = &o.document_group {
            if !GROUPS.contains(&group.as_str()) {
                return Err(Error::validation(
                    "provider_options.idocs.document_group",
                    format!("{group:?} is not one of {}", GROUPS.join(", ")),
                ));
            }
        }
        let mut counterparties = 0;
        for (i, p) in env.parties.iter().enumerate() {
            if p.role == Role::Observe {
                continue;
            }
            counterparties += 1;
            let tax_id = p.tax_id.as_deref().ok_or_else(|| {
                Error::validation(
                    format!("parties[{i}].tax_id"),
                    "iDocs routes to counterparties by BIN/IIN",
                )
            })?;
            map::bin(tax_id).map_err(|e| Error::validation(format!("parties[{i}].tax_id"), e))?;
            if p.access_code.is_some() {
                return Err(Error::validation(
                    format!("parties[{i}].access_code"),
                    "iDocs has no access codes",
                ));
            }
        }
        if counterparties == 0 {
            return Err(Error::validation("parties", "at least one counterparty is required"));
        }
        Ok(o)
    }

    async fn request(&self, call: Call<'_>) -> Result<Reply> {
        self.base.transport.execute(call.auth(&self.token)).await
    }

    async fn post<B: serde::Serialize + Sync>(
        &self,
        op: &'static str,
        idempotency: Idempotency,
        path: &str,
        body: &B,
    ) -> Result<Reply> {
        let url = self.url(path);
        let build = |http: &reqwest::Client| http.post(&url).json(body);
        self.request(Call::new(op, idempotency, self, &build)).await
    }

    /// §5's subscription upsert ("Создает или обновляет подписку"), on the WebHooks host.
    async fn webhook_subscribe(&self, args: serde_json::Value) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Args {
            url: String,
        }
        let a: Args = webhook_subscribe::args(args)?;
        let url = webhook_subscribe::receiver_url(&a.url)?;
        let endpoint = http::join(
            &self.config.webhooks_base_url,
            "webhooks/document-events/subscription/document-status-changed-event",
        );
        let body = wire::Subscription { subscription_url: url.clone() };
        let build = |http: &reqwest::Client| http.post(&endpoint).json(&body);
        // An upsert of the one subscription: sending it again changes nothing more, so it is
        // retried as a read is.
        let call = Call::new("webhook_subscribe", Idempotency::KeyedWrite, self, &build);
        let reply = self.request(call).await?;
        // [I] The answer is not documented: any 2xx with a JSON body or none.
        http::acknowledged(&reply, |v| v.is_object() || v.is_null())?;
        Ok(webhook_subscribe::Subscription { id: None, url, secret: None }.to_json())
    }

    /// A write answered with `EmptyResponseVM` (route, save: contract §2): an empty body or
    /// `{}` (the envelope with no response and no errors too).
    fn empty_response(reply: &Reply) -> Result<()> {
        http::acknowledged(reply, |v| {
            v.as_object().is_some_and(|o| {
                o.iter().all(|(k, v)| match k.as_str() {
                    "response" => v.is_null() || v.as_object().is_some_and(|o| o.is_empty()),
                    "errors" => v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
                    _ => false,
                })
            })
        })
    }

    /// The payload of the `{response, errors}` envelope (errors were classified already).
    fn enveloped<T: DeserializeOwned>(reply: &Reply) -> Result<T> {
        http::decode::<wire::SyncResponse<T>>(reply)?
            .response
            .ok_or_else(|| reply.malformed("no response in the envelope"))
    }

    async fn upload(
        &self,
        op: &'static str,
        path: &str,
        part: &'static str,
        name: String,
        body: impl Fn() -> (reqwest::Body, u64) + Send + Sync,
    ) -> Result<String> {
        let url = self.url(path);
        // The extension iDocs checks is the part's file name's: it must always be there.
        let build = |http: &reqwest::Client| {
            let (body, len) = body();
            let file = Part::stream_with_length(body, len).file_name(name.clone());
            http.post(&url).multipart(Form::new().part(part, file))
        };
        // A lost upload only leaves an unused blob behind: safe to repeat.
        let reply = self.request(Call::new(op, Idempotency::KeyedWrite, self, &build)).await?;
        let blob = Self::enveloped::<wire::UploadedBlob>(&reply)?.blob_id;
        http::reply_guid(&reply, "blobId", blob)
    }

    /// The content to sign from `link`: with the account's token when it is on the configured
    /// origin, without any credential when it is on an origin the account allows for links,
    /// refused otherwise, so that the host never signs bytes from an unknown host.
    async fn content_to_sign(&self, link: &str) -> Result<Bytes> {
        // Sources saw the link with a double slash that must stay: it is used verbatim.
        let link = if link.starts_with('/') {
            format!("{}{link}", self.config.base_url.trim_end_matches('/'))
        } else {
            link.to_string()
        };
        let build = |http: &reqwest::Client| http.get(&link);
        // A ZIP of the document's files (contract §2.8): a file, bounded as one.
        let call = Call::new("content_to_sign", Idempotency::Read, self, &build).carrying_file();
        let reply = if self.base.transport.is_configured_origin(&link) {
            self.request(call).await?
        } else if url::Url::parse(&link).is_ok_and(|u| {
            self.config
                .link_origins
                .iter()
                .any(|o| url::Url::parse(o).is_ok_and(|allowed| allowed.origin() == u.origin()))
        }) {
            self.base.transport.execute(call).await?
        } else {
            return Err(Error::new(
                ErrorKind::Provider,
                "content_to_sign: iDocs gave a link to an origin that is neither settings.base_url's \
                 nor one of settings.link_origins; refused, nothing was signed",
            )
            .with_context("provider", "idocs"));
        };
        // Whatever else came (an error page, JSON) is not handed to the host's signer.
        if !crate::download::is_zip(&reply.body) {
            return Err(reply.malformed(format!(
                "the content to sign is not a ZIP archive: {}",
                http::body_excerpt(&reply.body[..reply.body.len().min(64)])
            )));
        }
        Ok(reply.body)
    }

    /// Uploads the blobs and creates the outbox draft; its number and date are recorded first,
    /// since the outbox query finds it by them if the answer is lost.
    async fn create(
        &self,
        env: &Envelope,
        documents: &[OutgoingDocument],
        opts: &EnvelopeOptions,
        progress: &mut dyn Progress,
    ) -> Result<String> {
        let mut blobs = Vec::with_capacity(documents.len());
        for doc in documents {
            let blob = self
                .upload(
                    "upload",
                    "api/v3/sync/blobs/document-content",
                    "documentContent",
                    doc.name.clone(),
                    || (doc.body(), doc.len),
                )
                .await?;
            blobs.push(wire::BlobRef { blob_id: blob });
        }
        let number = opts.document_number.clone().unwrap_or_else(|| env.reference.clone());
        let date = opts.document_date.unwrap_or_else(|| Utc::now().timestamp());
        progress.record_id(DOCUMENT_NUMBER, &number).await?;
        progress.record_id(DOCUMENT_DATE, &date.to_string()).await?;
        let create = wire::CreateDocument {
            document_metadata: wire::DocumentMetadata {
                document_name: env.title.clone(),
                document_number: number,
                document_date: date,
                document_group: opts
                    .document_group
                    .clone()
                    .unwrap_or_else(|| self.config.document_group.clone()),
                document_author_employee_id: self.config.employee_id.clone(),
            },
            document_binary_contents: blobs,
        };
        let path = "api/v3/sync/external/outbox/document/create";
        let reply = self.post("create", Idempotency::Write, path, &create).await?;
        let document: wire::DocumentBase = http::decode(&reply)?;
        let id = http::reply_guid(&reply, "id", document.id)?;
        progress.record_id(DOCUMENT_ID, &id).await?;
        Ok(id)
    }

    /// Content to sign → host signature → `.cms` blob → save with the ticket.
    async fn sign_and_send(&self, document_id: &str) -> Result<()> {
        let mut fresh_ticket_allowed = true;
        loop {
            let body = wire::GenerateSignContent {
                document_id: document_id.into(),
                signed_by_employee_id: self.config.employee_id.clone(),
            };
            let path = "api/v3/sync/external/outbox/signature/content-to-sign/generate";
            let reply = self.post("content_to_sign", Idempotency::KeyedWrite, path, &body).await?;
            let content: wire::SignContent = http::decode(&reply)?;
            let zip = self.content_to_sign(&content.download_link).await?;
            let cms = self
                .signer
                .sign(SignRequest {
                    provider: "idocs",
                    document_id: Some(document_id.into()),
                    form: self.config.cms_form,
                    data: zip.to_vec(),
                })
                .await?;
            let cms = Bytes::from(cms);
            let blob = self
                .upload(
                    "upload_signature",
                    "api/v3/sync/blobs/document-signature-content",
                    "signatureContent",
                    "signature.cms".into(),
                    || (reqwest::Body::from(cms.clone()), cms.len() as u64),
                )
                .await?;
            let save = wire::QuickSignSave {
                document_id: document_id.into(),
                signed_by_employee_id: self.config.employee_id.clone(),
                signature_binary_content: wire::BlobRef { blob_id: blob },
                idempotency_ticket: content.idempotency_ticket,
            };
            // With a ticket, a save whose answer was lost is sent again: the same ticket and
            // blob cannot sign twice. Without one there is no such guarantee.
            let idempotency = if save.idempotency_ticket.is_some() {
                Idempotency::KeyedWrite
            } else {
                Idempotency::Write
            };
            let path = "api/v3/sync/external/outbox/signature/quick-sign/save";
            match self.post("quick_sign_save", idempotency, path, &save).await {
                Ok(reply) => return Self::empty_response(&reply),
                Err(e) if fresh_ticket_allowed && map::is_ticket_refusal(&e) => {
                    fresh_ticket_allowed = false;
                    tracing::info!(target: "signbridge::providers::idocs", error = %e, "ticket refused; asking for fresh content to sign");
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn bulk(&self, args: serde_json::Value) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Bulk {
            /// The path after `/api/v3/async/`, e.g. `bulk/external/outbox/document/create`.
            operation: String,
            items: Vec<serde_json::Value>,
            #[serde(default = "default_wait")]
            wait_secs: u64,
        }
        fn default_wait() -> u64 {
            300
        }
        let a = Bulk::deserialize(&args).map_err(|e| Error::validation("args", e))?;
        if a.operation.contains("..")
            || !a.operation.chars().all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c))
        {
            return Err(Error::validation(
                "args.operation",
                format!("{:?} is not an operation path", a.operation),
            ));
        }
        let push_path = format!("api/v3/async/{}", a.operation);
        let push = serde_json::json!({"operations": a.items.iter()
            .map(|d| serde_json::json!({"data": d})).collect::<Vec<_>>()});
        // Each push starts new operations: never repeated blindly.
        let reply = self.post("bulk", Idempotency::Write, &push_path, &push).await?;
        let mut operations = http::decode::<wire::BulkOperations>(&reply)?.operations;
        let status_path = format!("{push_path}/status");
        let give_up = tokio::time::Instant::now() + Duration::from_secs(a.wait_secs);
        let mut pause = Duration::from_millis(250);
        while operations
            .iter()
            .any(|o| matches!(o.operation_status.as_str(), "Created" | "InProcessing"))
        {
            if tokio::time::Instant::now() + pause > give_up {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "bulk {}: operations still running after {}s",
                        a.operation, a.wait_secs
                    ),
                )
                .with_context("provider", "idocs")
                .with_context(
                    "operations",
                    serde_json::to_string(&operations).unwrap_or_default(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
            let ask = serde_json::json!({"operations": operations.iter()
                .map(|o| serde_json::json!({"operationId": o.operation_id})).collect::<Vec<_>>()});
            let reply = self.post("bulk_status", Idempotency::Read, &status_path, &ask).await?;
            operations = http::decode::<wire::BulkOperations>(&reply)?.operations;
        }
        serde_json::to_value(&operations).map_err(|e| Error::internal(e.to_string()))
    }
}

#[async_trait]
impl Provider for IDocs {
    fn base(&self) -> &Base {
        &self.base
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
        let opts = self.plan(env)?;
        let id = match progress.id(DOCUMENT_ID) {
            Some(id) => id,
            None => self.create(env, documents, &opts, progress).await?,
        };
        let handle = self.base.handle(id, env);
        // From here the draft exists at iDocs: every error carries its handle.
        async {
            if progress.done(SIGNED) {
                return Ok(());
            }
            // A resumed send may follow a save whose answer was lost: a document no longer a
            // draft went out, and signing it again would be refused.
            if progress.resumed() && self.status(&handle).await?.state != State::Draft {
                return progress.record_step(SIGNED).await;
            }
            if !progress.done(ROUTED) {
                let individual =
                    opts.individual_counterparties.unwrap_or(self.config.individual_counterparties);
                let route = wire::CreateQuickRoute {
                    document_id: handle.id.clone(),
                    employee_id: self.config.employee_id.clone(),
                    route: wire::QuickRoute { external: map::quick_route(env, individual) },
                };
                // A draft's route may be replaced (contract T2): safe to create again on resume.
                let path = "api/v3/sync/external/outbox/route/quick-route/create";
                let reply = self.post("quick_route", Idempotency::Write, path, &route).await?;
                Self::empty_response(&reply)?;
                progress.record_step(ROUTED).await?;
            }
            self.sign_and_send(&handle.id).await?;
            progress.record_step(SIGNED).await
        }
        .await
        .map_err(|e| e.with_handle(handle.clone()))?;
        Ok(handle)
    }

    async fn find(&self, _reference: &str, progress: &mut dyn Progress) -> Result<Lookup> {
        if let Some(id) = progress.id(DOCUMENT_ID) {
            return Ok(Lookup::Found { id, sent: progress.done(SIGNED) });
        }
        let (Some(number), Some(date)) = (progress.id(DOCUMENT_NUMBER), progress.id(DOCUMENT_DATE))
        else {
            // Nothing was recorded before a create: none was sent.
            return Ok(Lookup::Absent);
        };
        let date: i64 = date.parse().map_err(|_| {
            Error::internal(format!("the journal holds {date:?} as an iDocs document date"))
        })?;
        let path = "api/v3/sync/external/documents-query/outbox";
        let mut found = Vec::new();
        let mut skip = 0u64;
        loop {
            let query = wire::QueryDocuments {
                document_date_from: date,
                document_date_to: date,
                skip,
                top: QUERY_PAGE,
            };
            let reply = self.post("find", Idempotency::Read, path, &query).await?;
            let page: wire::Page<wire::Listed> = Self::enveloped(&reply)?;
            let count = page.page_items.len() as u64;
            found.extend(page.page_items.into_iter().filter(|d| d.document_number == number));
            skip += count;
            if count == 0 || skip >= page.total_size {
                break;
            }
        }
        let one = match found.as_slice() {
            [] => return Ok(Lookup::Absent),
            [one] => one,
            many => {
                return Ok(Lookup::Unknowable(format!(
                    "{} iDocs outbox documents carry number {number:?} and date {date}",
                    many.len()
                )));
            }
        };
        if !http::is_guid(&one.id) {
            return Err(http::unexpected("idocs", "find", "the document found has no GUID id"));
        }
        let sent = map::state(&map::status_name(&one.document_status)) != State::Draft;
        progress.record_id(DOCUMENT_ID, &one.id).await?;
        if sent {
            progress.record_step(SIGNED).await?;
        }
        Ok(Lookup::Found { id: one.id.clone(), sent })
    }

    async fn status(&self, handle: &Handle) -> Result<Status> {
        let url = self.url(&format!(
            "api/v3/sync/external/documents-query/single/outbox/{}",
            http::handle_guid("iDocs", handle)?
        ));
        let build = |http: &reqwest::Client| http.get(&url);
        let reply = self.request(Call::new("status", Idempotency::Read, self, &build)).await?;
        let raw: serde_json::Value = Self::enveloped(&reply)?;
        let detail = wire::DocumentExtended::deserialize(&raw).map_err(|e| reply.malformed(e))?;
        Ok(map::status(detail, raw))
    }

    async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let (path, media_type) = match kind {
            DownloadKind::Signed => ("GetDocumentPrintFormByDocumentId", "application/pdf"),
            DownloadKind::Archive => ("GetDocumentArchiveByDocumentId", "application/zip"),
            other => return Err(self.unsupported(&format!("download of {other}"))),
        };
        let id = http::handle_guid("iDocs", handle)?;
        let url = self.url(&format!("api/v3/sync/single/document/{path}/{id}"));
        let build = |http: &reqwest::Client| http.get(&url);
        let call = Call::new("download", Idempotency::Read, self, &build).auth(&self.token);
        let response = self.base.transport.execute_streaming(call).await?;
        let limit = self.base.transport.config().max_file_reply_bytes;
        let info = http::stream_into("idocs", response, None, limit, sink).await?;
        Ok(DownloadInfo { media_type: Some(media_type.into()), ..info })
    }

    async fn call(&self, name: &str, args: serde_json::Value) -> Result<serde_json::Value> {
        match name {
            "inbox" => {
                let body =
                    if args.is_null() { serde_json::json!({"skip": 0, "top": 10}) } else { args };
                let path = "api/v3/sync/external/documents-query/inbox";
                let reply = self.post("inbox", Idempotency::Read, path, &body).await?;
                Self::enveloped(&reply)
            }
            "bulk" => self.bulk(args).await,
            webhook_subscribe::CALL => self.webhook_subscribe(args).await,
            other => Err(self.unsupported(other)),
        }
    }
}
