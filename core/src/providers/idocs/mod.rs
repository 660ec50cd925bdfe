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
//!
//! Per envelope, `provider_options.idocs` may set `document_number` (default: the reference),
//! `document_date` (Unix seconds; default now), `document_group` and `individual_counterparties`.
//! Provider calls: `inbox` (a page of incoming documents) and `bulk` (start an async mass
//! operation and poll its companion until every operation is done). The status table is in
//! [`map::state`].

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt as _;

use super::{Build, BuildContext, http, lenient};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{DocumentContent, DownloadInfo, DownloadKind, Envelope, Handle, Role, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Provider, SendCapability, Sink,
};
use crate::signing::{CmsForm, SignRequest, SignerSlot};
use crate::transport::{Authenticator, Call, Idempotency, Reply, Secret, Transport};

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
    calls: &["inbox", "bulk"],
    // V3 has no recall endpoint: recalls happen in the iDocs web UI, so no `cancel`.
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
}

fn default_base_url() -> String {
    "https://ext-edo-integration.idocs.kz".into()
}
fn default_group() -> String {
    "General".into()
}
fn default_form() -> CmsForm {
    CmsForm::Attached
}

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
    account: String,
    config: IDocsConfig,
    transport: Transport,
    signer: SignerSlot,
}

impl std::fmt::Debug for IDocs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IDocs")
            .field("account", &self.account)
            .field("config", &self.config)
            .finish()
    }
}

impl Build for IDocs {
    fn build(ctx: BuildContext) -> Result<IDocs> {
        let config: IDocsConfig = super::settings("idocs", &ctx)?;
        http::check_base_url("idocs", "base_url", &config.base_url)?;
        if !GROUPS.contains(&config.document_group.as_str()) {
            return Err(Error::config(format!(
                "settings.document_group for provider idocs is one of {}",
                GROUPS.join(", ")
            )));
        }
        if config.employee_id.trim().is_empty() {
            return Err(Error::config("settings.employee_id for provider idocs is empty"));
        }
        Ok(IDocs {
            account: ctx.account,
            transport: Transport::new("idocs", &ctx.transport)?,
            config,
            signer: ctx.signer,
        })
    }
}

/// The token is long-lived and issued by the iDocs manager: there is nothing to refresh, and a
/// 401 means it was revoked or has expired.
#[async_trait]
impl Authenticator for IDocs {
    async fn token(&self) -> Result<Secret> {
        Ok(self.config.token.clone())
    }

    async fn invalidate(&self, _token: &Secret) {}

    fn can_relogin(&self) -> bool {
        false
    }
}

impl IDocs {
    fn url(&self, path: &str) -> String {
        http::join(&self.config.base_url, path)
    }

    fn options(&self, env: &Envelope) -> Result<EnvelopeOptions> {
        let o: EnvelopeOptions = match env.options_for("idocs") {
            serde_json::Value::Null => EnvelopeOptions::default(),
            v => serde_json::from_value(v.clone())
                .map_err(|e| Error::validation("provider_options.idocs", e))?,
        };
        if let Some(group) = &o.document_group {
            if !GROUPS.contains(&group.as_str()) {
                return Err(Error::validation(
                    "provider_options.idocs.document_group",
                    format!("{group:?} is not one of {}", GROUPS.join(", ")),
                ));
            }
        }
        Ok(o)
    }

    async fn request(
        &self,
        op: &'static str,
        idempotency: Idempotency,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        let reply =
            self.transport.execute(Call { op, idempotency, auth: Some(self), build }).await?;
        if reply.status.is_success() { Ok(reply) } else { Err(map::error(op, &reply)) }
    }

    /// A bare JSON body.
    fn bare<T: DeserializeOwned>(op: &'static str, reply: &Reply) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|e| http::unexpected("idocs", op, e))
    }

    /// The payload of the `{response, errors}` envelope; errors in a 2xx are failures too.
    fn enveloped<T: DeserializeOwned>(op: &'static str, reply: &Reply) -> Result<T> {
        let envelope: wire::SyncResponse<T> = Self::bare(op, reply)?;
        if envelope.errors.as_ref().is_some_and(|e| !e.is_empty()) {
            return Err(map::error(op, reply));
        }
        envelope
            .response
            .ok_or_else(|| http::unexpected("idocs", op, "no response in the envelope"))
    }

    async fn upload(
        &self,
        op: &'static str,
        path: &str,
        part: &'static str,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<String> {
        let url = self.url(path);
        let bytes = bytes::Bytes::from(bytes);
        // The extension iDocs checks is the part's file name's: it must always be there.
        let build = |http: &reqwest::Client| {
            let file = Part::stream(reqwest::Body::from(bytes.clone())).file_name(name.clone());
            http.post(&url).multipart(Form::new().part(part, file))
        };
        // A lost upload only leaves an unused blob behind: safe to repeat.
        let reply = self.request(op, Idempotency::KeyedWrite, &build).await?;
        Ok(Self::enveloped::<wire::UploadedBlob>(op, &reply)?.blob_id)
    }

    /// Content to sign → host signature → `.cms` blob → save with the ticket.
    async fn sign_and_send(&self, document_id: &str) -> Result<()> {
        let mut fresh_ticket_allowed = true;
        loop {
            let body = wire::GenerateSignContent {
                document_id: document_id.into(),
                signed_by_employee_id: self.config.employee_id.clone(),
            };
            let url = self.url("api/v3/sync/external/outbox/signature/content-to-sign/generate");
            let reply = self
                .request("content_to_sign", Idempotency::KeyedWrite, &|http| {
                    http.post(&url).json(&body)
                })
                .await?;
            let content: wire::SignContent = Self::bare("content_to_sign", &reply)?;
            // The link is fetched verbatim: sources saw it with a double slash that must stay.
            let link = content.download_link.clone();
            let zip = self
                .request("content_to_sign", Idempotency::Read, &|http| http.get(&link))
                .await?
                .body
                .to_vec();
            let cms = self
                .signer
                .sign(SignRequest {
                    provider: "idocs",
                    document_id: Some(document_id.into()),
                    form: self.config.cms_form,
                    data: zip,
                })
                .await?;
            let blob = self
                .upload(
                    "upload_signature",
                    "api/v3/sync/blobs/document-signature-content",
                    "signatureContent",
                    "signature.cms".into(),
                    cms,
                )
                .await?;
            let save = wire::QuickSignSave {
                document_id: document_id.into(),
                signed_by_employee_id: self.config.employee_id.clone(),
                signature_binary_content: wire::BlobRef { blob_id: blob },
                idempotency_ticket: content.idempotency_ticket,
            };
            let url = self.url("api/v3/sync/external/outbox/signature/quick-sign/save");
            // With a ticket, a save whose answer was lost is sent again: the same ticket and
            // blob cannot sign twice. Without one there is no such guarantee.
            let idempotency = if save.idempotency_ticket.is_some() {
                Idempotency::KeyedWrite
            } else {
                Idempotency::Write
            };
            match self
                .request("quick_sign_save", idempotency, &|http| http.post(&url).json(&save))
                .await
            {
                Ok(_) => return Ok(()),
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
        let a: Bulk = serde_json::from_value(args).map_err(|e| Error::validation("args", e))?;
        if a.operation.contains("..")
            || !a.operation.chars().all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c))
        {
            return Err(Error::validation(
                "args.operation",
                format!("{:?} is not an operation path", a.operation),
            ));
        }
        let push_url = self.url(&format!("api/v3/async/{}", a.operation));
        let push = serde_json::json!({"operations": a.items.iter().map(|d| serde_json::json!({"data": d})).collect::<Vec<_>>()});
        // Each push starts new operations: never repeated blindly.
        let reply = self
            .request("bulk", Idempotency::Write, &|http| http.post(&push_url).json(&push))
            .await?;
        let mut operations = Self::bare::<wire::BulkOperations>("bulk", &reply)?.operations;
        let status_url = format!("{push_url}/status");
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
            let ask = serde_json::json!({"operations": operations.iter().map(|o| serde_json::json!({"operationId": o.operation_id})).collect::<Vec<_>>()});
            let reply = self
                .request("bulk_status", Idempotency::Read, &|http| {
                    http.post(&status_url).json(&ask)
                })
                .await?;
            operations = Self::bare::<wire::BulkOperations>("bulk_status", &reply)?.operations;
        }
        serde_json::to_value(&operations).map_err(|e| Error::internal(e.to_string()))
    }
}

#[async_trait]
impl Provider for IDocs {
    fn id(&self) -> &'static str {
        "idocs"
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn capability(&self) -> &Capability {
        &CAPABILITY
    }

    fn validate(&self, env: &Envelope) -> Result<()> {
        self.options(env)?;
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
        Ok(())
    }

    async fn send(&self, env: &Envelope) -> Result<Handle> {
        let opts = self.options(env)?;
        let mut blobs = Vec::with_capacity(env.documents.len());
        for (i, doc) in env.documents.iter().enumerate() {
            let bytes = match &doc.content {
                DocumentContent::Bytes(b) => b.clone(),
                DocumentContent::Path(p) => tokio::fs::read(p)
                    .await
                    .map_err(|e| Error::validation(format!("documents[{i}].content"), e))?,
            };
            let blob = self
                .upload(
                    "upload",
                    "api/v3/sync/blobs/document-content",
                    "documentContent",
                    doc.name.clone(),
                    bytes,
                )
                .await
                .map_err(|e| e.with_context("reference", &env.reference))?;
            blobs.push(wire::BlobRef { blob_id: blob });
        }
        let create = wire::CreateDocument {
            document_metadata: wire::DocumentMetadata {
                document_name: env.title.clone(),
                document_number: opts
                    .document_number
                    .clone()
                    .unwrap_or_else(|| env.reference.clone()),
                document_date: opts.document_date.unwrap_or_else(|| Utc::now().timestamp()),
                document_group: opts
                    .document_group
                    .clone()
                    .unwrap_or_else(|| self.config.document_group.clone()),
                document_author_employee_id: self.config.employee_id.clone(),
            },
            document_binary_contents: blobs,
        };
        let url = self.url("api/v3/sync/external/outbox/document/create");
        let reply = self
            .request("create", Idempotency::Write, &|http| http.post(&url).json(&create))
            .await
            .map_err(|e| e.with_context("reference", &env.reference))?;
        let document: wire::DocumentBase = Self::bare("create", &reply)?;
        let handle = Handle {
            provider: "idocs".into(),
            account: self.account.clone(),
            id: document.id,
            reference: Some(env.reference.clone()),
        };
        // From here the draft exists at iDocs: every error carries its handle.
        async {
            let route = wire::CreateQuickRoute {
                document_id: handle.id.clone(),
                employee_id: self.config.employee_id.clone(),
                route: wire::QuickRoute {
                    external: map::quick_route(
                        env,
                        opts.individual_counterparties
                            .unwrap_or(self.config.individual_counterparties),
                    ),
                },
            };
            let url = self.url("api/v3/sync/external/outbox/route/quick-route/create");
            self.request("quick_route", Idempotency::Write, &|http| http.post(&url).json(&route))
                .await?;
            self.sign_and_send(&handle.id).await
        }
        .await
        .map_err(|e| e.with_handle(handle.clone()))?;
        Ok(handle)
    }

    async fn status(&self, handle: &Handle) -> Result<Status> {
        let url =
            self.url(&format!("api/v3/sync/external/documents-query/single/outbox/{}", handle.id));
        let reply = self.request("status", Idempotency::Read, &|http| http.get(&url)).await?;
        let raw: serde_json::Value = Self::enveloped("status", &reply)?;
        let detail: wire::DocumentExtended = serde_json::from_value(raw.clone())
            .map_err(|e| http::unexpected("idocs", "status", e))?;
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
        let url = self.url(&format!("api/v3/sync/single/document/{path}/{}", handle.id));
        let reply = self.request("download", Idempotency::Read, &|http| http.get(&url)).await?;
        sink.write_all(&reply.body).await.map_err(http::sink_error)?;
        Ok(DownloadInfo {
            file_name: None,
            media_type: Some(media_type.into()),
            size: reply.body.len() as u64,
        })
    }

    async fn call(&self, name: &str, args: serde_json::Value) -> Result<serde_json::Value> {
        match name {
            "inbox" => {
                let url = self.url("api/v3/sync/external/documents-query/inbox");
                let body =
                    if args.is_null() { serde_json::json!({"skip": 0, "top": 10}) } else { args };
                let reply = self
                    .request("inbox", Idempotency::Read, &|http| http.post(&url).json(&body))
                    .await?;
                Self::enveloped("inbox", &reply)
            }
            "bulk" => self.bulk(args).await,
            other => Err(self.unsupported(other)),
        }
    }
}
