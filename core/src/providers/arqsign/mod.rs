//! ArqSign (Arquivar): PDF e-signature over REST, documents as base64 inside JSON.
//!
//! Flow (the current one; the manual's v1 send was discontinued on 11/11/2024): `send` = v2
//! (or v3) `enviar-documento-para-assinar` with the files streamed into the JSON body; `status`
//! = the light v1 `status-do-processo` poll; `download` = the v2 process fetch (base64 or link
//! form) and the per-document evidence report (`registro-assinaturas`); `cancel`. Every call
//! carries the AppKey and a SubscriptionKey in headers whose names are configurable.
//!
//! ArqSign asks integrators to poll sparingly ("no máximo 1x ao dia"), so a batch refresh does
//! not ask again about a process it asked about less than `min_poll_interval_secs` ago: it
//! answers from the last status read. `Client::refresh_forced` asks anyway.
//!
//! Settings (`settings` in the client configuration; `SIGNBRIDGE_ARQSIGN_<NAME>` from the
//! environment):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `base_url` | the REST host | `https://api-rest.arqsign.com` |
//! | `app_key`, `subscription_key` | credentials (either subscription key of the pair) | required |
//! | `app_key_header`, `subscription_key_header` | their header names | `AppKey`, `SubscriptionKey` |
//! | `responsible_id` | sender user id (`idResponsavel`) | — (or per envelope) |
//! | `folder_id` | folder id (`idPasta`) | — (or per envelope) |
//! | `send_version` | `v2` or `v3` | `v2` |
//! | `download_form` | `base64` or `link` (the file streamed from a link) | `link` |
//! | `signature_type` | `electronic`, `icp_brasil` or `other_certificate` | `electronic` |
//! | `icp_brasil_code` | `idTipoAssinatura` for ICP-Brasil: the manual says 3 and 2 | `3` |
//! | `validate_tax_id` | ArqSign enforces the party's CPF/CNPJ at signing | `false` |
//! | `delivery` | `email` or `whatsapp` (to the party's phone) | `email` |
//! | `min_poll_interval_secs` | see above | `3600` |
//!
//! Per envelope, `provider_options.arqsign` may set `responsible_id`, `folder_id`,
//! `signature_type`, `validate_tax_id`, `delivery` and `send_version`.
//!
//! Provider-specific calls (`Client::call`): `resend` `{"handle", "recipients"?: [...]}`,
//! `signer_data` `{"handle"}`, `users` `{"active"?, "ids"?}`, `folders`
//! `{"search": "root"|"children"|"full_path", "folders"?, "active"?}`. The status table is in
//! [`map::state`].

mod body;
mod map;
mod wire;

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

pub use map::{Delivery, SignatureType};

use super::{Build, BuildContext, http, lenient};
use crate::error::{Error, Result};
use crate::model::{DocumentContent, DownloadInfo, DownloadKind, Envelope, Handle, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Provider, SendCapability, Sink,
};
use crate::transport::{Call, Idempotency, Reply, Secret, Transport};

pub const CAPABILITY: Capability = Capability {
    send: SendCapability {
        // `usarOrdemAssinatura` with an `ordemAssinatura` per signer (contract §2.1).
        sequential: true,
        envelope: EnvelopeRules {
            // "É permitido enviar até 25 arquivos por processo, cujo tamanho não ultrapasse a soma de 100MB."
            max_documents: Some(25),
            max_document_bytes: Some(map::MAX_TOTAL_BYTES),
            document_extensions: Some(&["pdf"]),
            // A party may be reached by WhatsApp instead.
            party_email_required: false,
            max_title_chars: Some(map::MAX_PROCESS_NAME),
        },
        ..Capability::NONE.send
    },
    download: DownloadCapability {
        // The signed files, the evidence report ("Registro de Assinaturas"), or both in a zip.
        kinds: &[DownloadKind::Signed, DownloadKind::Evidence, DownloadKind::Archive],
    },
    cancel: true,
    calls: &["resend", "signer_data", "users", "folders"],
    ..Capability::NONE
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendVersion {
    V2,
    V3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadForm {
    Base64,
    Link,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArqSignConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub app_key: Secret,
    pub subscription_key: Secret,
    #[serde(default = "default_app_key_header")]
    pub app_key_header: String,
    #[serde(default = "default_subscription_key_header")]
    pub subscription_key_header: String,
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub folder_id: Option<String>,
    #[serde(default = "default_send_version")]
    pub send_version: SendVersion,
    #[serde(default = "default_download_form")]
    pub download_form: DownloadForm,
    #[serde(default = "default_signature_type")]
    pub signature_type: SignatureType,
    #[serde(default = "default_icp_code", deserialize_with = "lenient::u64")]
    pub icp_brasil_code: u64,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub validate_tax_id: bool,
    #[serde(default = "default_delivery")]
    pub delivery: Delivery,
    #[serde(default = "default_poll_interval", deserialize_with = "lenient::u64")]
    pub min_poll_interval_secs: u64,
}

fn default_base_url() -> String {
    "https://api-rest.arqsign.com".into()
}
fn default_app_key_header() -> String {
    "AppKey".into()
}
fn default_subscription_key_header() -> String {
    "SubscriptionKey".into()
}
fn default_send_version() -> SendVersion {
    SendVersion::V2
}
fn default_download_form() -> DownloadForm {
    DownloadForm::Link
}
fn default_signature_type() -> SignatureType {
    SignatureType::Electronic
}
fn default_icp_code() -> u64 {
    3
}
fn default_delivery() -> Delivery {
    Delivery::Email
}
fn default_poll_interval() -> u64 {
    3600
}

/// Per-envelope overrides (`provider_options.arqsign`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeOptions {
    responsible_id: Option<String>,
    folder_id: Option<String>,
    signature_type: Option<SignatureType>,
    validate_tax_id: Option<bool>,
    delivery: Option<Delivery>,
    send_version: Option<SendVersion>,
}

pub struct ArqSign {
    account: String,
    config: ArqSignConfig,
    credentials: [(HeaderName, HeaderValue); 2],
    transport: Transport,
    /// The last status read of each process, for the batch refresh's minimum interval.
    polled: Mutex<HashMap<String, (Instant, Status)>>,
}

impl std::fmt::Debug for ArqSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArqSign")
            .field("account", &self.account)
            .field("config", &self.config)
            .finish()
    }
}

impl Build for ArqSign {
    fn build(ctx: BuildContext) -> Result<ArqSign> {
        let config: ArqSignConfig = super::settings("arqsign", &ctx)?;
        http::check_base_url("arqsign", "base_url", &config.base_url)?;
        if !matches!(config.icp_brasil_code, 2 | 3) {
            return Err(Error::config("settings.icp_brasil_code for provider arqsign is 2 or 3"));
        }
        let header = |setting: &str, name: &str, value: &Secret| {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::config(format!(
                    "settings.{setting} for provider arqsign is not a header name"
                ))
            })?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                Error::config(format!("the value for settings.{setting} cannot go in a header"))
            })?;
            value.set_sensitive(true);
            Ok::<_, Error>((name, value))
        };
        let credentials = [
            header("app_key_header", &config.app_key_header, &config.app_key)?,
            header(
                "subscription_key_header",
                &config.subscription_key_header,
                &config.subscription_key,
            )?,
        ];
        Ok(ArqSign {
            account: ctx.account,
            transport: Transport::new("arqsign", &ctx.transport)?,
            credentials,
            config,
            polled: Mutex::default(),
        })
    }
}

impl ArqSign {
    fn url(&self, path: &str) -> String {
        http::join(&self.config.base_url, path)
    }

    fn options(&self, env: &Envelope) -> Result<(map::SendOptions, SendVersion)> {
        let o: EnvelopeOptions = match env.options_for("arqsign") {
            serde_json::Value::Null => EnvelopeOptions::default(),
            v => serde_json::from_value(v.clone())
                .map_err(|e| Error::validation("provider_options.arqsign", e))?,
        };
        let opts = map::SendOptions {
            responsible_id: o
                .responsible_id
                .or_else(|| self.config.responsible_id.clone())
                .unwrap_or_default(),
            folder_id: o.folder_id.or_else(|| self.config.folder_id.clone()).unwrap_or_default(),
            signature_type: o.signature_type.unwrap_or(self.config.signature_type),
            icp_brasil_code: self.config.icp_brasil_code as u8,
            validate_tax_id: o.validate_tax_id.unwrap_or(self.config.validate_tax_id),
            delivery: o.delivery.unwrap_or(self.config.delivery),
        };
        Ok((opts, o.send_version.unwrap_or(self.config.send_version)))
    }

    /// One call with the credentials; the body is read whole.
    async fn call(
        &self,
        op: &'static str,
        idempotency: Idempotency,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        let with_keys = |http: &reqwest::Client| {
            let mut request = build(http);
            for (name, value) in &self.credentials {
                request = request.header(name.clone(), value.clone());
            }
            request
        };
        self.transport.execute(Call { op, idempotency, auth: None, build: &with_keys }).await
    }

    /// Decodes a success reply (keys camel-cased first), or maps the failure.
    fn decode<T: DeserializeOwned>(op: &'static str, reply: &Reply) -> Result<T> {
        if !reply.status.is_success() {
            return Err(map::error(op, reply));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|e| http::unexpected("arqsign", op, e))?;
        serde_json::from_value(lenient::camel_keys(value))
            .map_err(|e| http::unexpected("arqsign", op, e))
    }

    fn process_id(handle: &Handle) -> Result<&str> {
        let id = handle.id.as_str();
        let guid_like = !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if guid_like {
            Ok(id)
        } else {
            Err(Error::validation("handle.id", format!("{id:?} is not an ArqSign process id")))
        }
    }

    async fn poll(&self, id: &str) -> Result<(wire::StatusProcesso, serde_json::Value)> {
        let url = self.url(&format!("api/v1/processo/{id}/status-do-processo"));
        let reply = self.call("status", Idempotency::Read, &|http| http.get(&url)).await?;
        let raw: serde_json::Value = Self::decode("status", &reply)?;
        let poll = serde_json::from_value(raw.clone())
            .map_err(|e| http::unexpected("arqsign", "status", e))?;
        Ok((poll, raw))
    }

    async fn signer_data(&self, id: &str) -> Result<(wire::DadosSignatarios, serde_json::Value)> {
        let url = self.url(&format!("api/v1/processo/{id}/dados-signatarios"));
        let reply = self.call("signer_data", Idempotency::Read, &|http| http.get(&url)).await?;
        let raw: serde_json::Value = Self::decode("signer_data", &reply)?;
        let data = serde_json::from_value(raw.clone())
            .map_err(|e| http::unexpected("arqsign", "signer_data", e))?;
        Ok((data, raw))
    }

    /// The v2 process fetch: documents in base64 or as links, without the evidence reports.
    async fn documents(
        &self,
        id: &str,
        form: DownloadForm,
    ) -> Result<Vec<wire::DocumentoProcesso>> {
        let url = self.url(&format!("api/v2/processo/{id}"));
        let tipo = match form {
            DownloadForm::Base64 => "1",
            DownloadForm::Link => "2",
        };
        let query = [("arquivoTipo", tipo), ("retornarRegistroAssinatura", "false")];
        let reply =
            self.call("download", Idempotency::Read, &|http| http.get(&url).query(&query)).await?;
        let process: wire::Processo = Self::decode("download", &reply)?;
        if process.documentos.is_empty() {
            return Err(http::unexpected("arqsign", "download", "the process lists no documents"));
        }
        Ok(process.documentos)
    }

    async fn evidence(&self, document_id: &str) -> Result<(String, Vec<u8>)> {
        let url = self.url(&format!("api/v1/processo/{document_id}/registro-assinaturas"));
        let reply = self.call("download", Idempotency::Read, &|http| http.get(&url)).await?;
        let report: wire::RegistroAssinaturas = Self::decode("download", &reply)?;
        let name =
            report.nome.unwrap_or_else(|| format!("{document_id}_Registro de Assinaturas.pdf"));
        Ok((name, decode_base64(&report.base64)?))
    }

    /// One document's signed bytes, into `sink`.
    async fn document_into(
        &self,
        doc: &wire::DocumentoProcesso,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let file_name = doc.nome_documento.clone();
        if let Some(link) = &doc.link_para_baixar_documento {
            return http::stream_link("arqsign", &self.transport, link, file_name, sink).await;
        }
        let b64 = doc.base64_documento.as_deref().ok_or_else(|| {
            http::unexpected(
                "arqsign",
                "download",
                "a document came with neither base64 nor a link",
            )
        })?;
        let bytes = decode_base64(b64)?;
        sink.write_all(&bytes).await.map_err(http::sink_error)?;
        Ok(DownloadInfo {
            file_name,
            media_type: Some("application/pdf".into()),
            size: bytes.len() as u64,
        })
    }

    /// The signed files, and/or evidence reports, of a multi-file process as one zip.
    async fn zip_into(
        &self,
        docs: &[wire::DocumentoProcesso],
        signed: bool,
        evidence: bool,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            if signed {
                let mut bytes = Vec::new();
                let info = self.document_into(doc, &mut bytes).await?;
                entries.push((
                    info.file_name.unwrap_or_else(|| format!("documento-{}.pdf", i + 1)),
                    bytes,
                ));
            }
            if evidence {
                entries.push(self.evidence(&doc.id).await?);
            }
        }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        let zip_error =
            |e: &dyn std::fmt::Display| Error::internal(format!("building the zip: {e}"));
        for (name, bytes) in &entries {
            zip.start_file(name.as_str(), options).map_err(|e| zip_error(&e))?;
            zip.write_all(bytes).map_err(|e| zip_error(&e))?;
        }
        let bytes = zip.finish().map_err(|e| zip_error(&e))?.into_inner();
        sink.write_all(&bytes).await.map_err(http::sink_error)?;
        Ok(DownloadInfo {
            file_name: None,
            media_type: Some("application/zip".into()),
            size: bytes.len() as u64,
        })
    }

    fn remember(&self, id: &str, status: &Status) {
        let mut polled = self.polled.lock().unwrap_or_else(|p| p.into_inner());
        polled.insert(id.to_string(), (Instant::now(), status.clone()));
    }

    fn recent(&self, id: &str) -> Option<Status> {
        let polled = self.polled.lock().unwrap_or_else(|p| p.into_inner());
        let (at, status) = polled.get(id)?;
        (at.elapsed() < Duration::from_secs(self.config.min_poll_interval_secs))
            .then(|| status.clone())
    }

    async fn provider_call(
        &self,
        name: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct HandleArgs {
            handle: serde_json::Value,
            #[serde(default)]
            recipients: Vec<serde_json::Value>,
        }
        let handle_of = |args: &serde_json::Value| -> Result<(Handle, Vec<serde_json::Value>)> {
            let a: HandleArgs =
                serde_json::from_value(args.clone()).map_err(|e| Error::validation("args", e))?;
            let handle = match &a.handle {
                serde_json::Value::String(s) => Handle::parse(s)?,
                v => serde_json::from_value(v.clone())
                    .map_err(|e| Error::validation("args.handle", e))?,
            };
            Ok((handle, a.recipients))
        };
        match name {
            "resend" => {
                let (handle, recipients) = handle_of(&args)?;
                let id = Self::process_id(&handle)?;
                let url = self.url(&format!("api/v2/processo/{id}/reenviar-processo"));
                // Resending refreshes signing links and restarts expiry: never repeated blindly.
                let reply = self
                    .call("resend", Idempotency::Write, &|http| http.patch(&url).json(&recipients))
                    .await?;
                Self::decode("resend", &reply)
            }
            "signer_data" => {
                let (handle, _) = handle_of(&args)?;
                Ok(self.signer_data(Self::process_id(&handle)?).await?.1)
            }
            "users" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Users {
                    #[serde(default = "yes")]
                    active: bool,
                    #[serde(default)]
                    ids: Vec<String>,
                }
                let a: Users =
                    serde_json::from_value(args).map_err(|e| Error::validation("args", e))?;
                let body = serde_json::json!({"ativos": a.active, "usuarios": a.ids});
                let url = self.url("api/v1/usuarios/buscar-usuarios");
                let reply = self
                    .call("users", Idempotency::Read, &|http| http.post(&url).json(&body))
                    .await?;
                Self::decode("users", &reply)
            }
            "folders" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Folders {
                    search: String,
                    #[serde(default)]
                    folders: Vec<String>,
                    #[serde(default)]
                    active: bool,
                }
                let a: Folders =
                    serde_json::from_value(args).map_err(|e| Error::validation("args", e))?;
                let buscar_por = match a.search.as_str() {
                    "full_path" => 1,
                    "children" => 2,
                    "root" => 3,
                    other => {
                        return Err(Error::validation(
                            "args.search",
                            format!("{other:?}: one of root, children, full_path"),
                        ));
                    }
                };
                let body = serde_json::json!({"buscarPor": buscar_por, "ativas": a.active, "pastas": a.folders});
                let url = self.url("api/v1/diretorio/buscar-pastas");
                let reply = self
                    .call("folders", Idempotency::Read, &|http| http.post(&url).json(&body))
                    .await?;
                Self::decode("folders", &reply)
            }
            other => Err(self.unsupported(other)),
        }
    }
}

fn yes() -> bool {
    true
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
        http::unexpected("arqsign", "download", format!("the file is not base64: {e}"))
    })
}

/// Reads the first bytes of a document: ArqSign takes PDFs only and says so after the upload.
async fn pdf_magic(content: &DocumentContent) -> std::io::Result<bool> {
    const MAGIC: &[u8] = b"%PDF-";
    match content {
        DocumentContent::Bytes(b) => Ok(b.starts_with(MAGIC)),
        DocumentContent::Path(p) => {
            use tokio::io::AsyncReadExt as _;
            let mut head = [0u8; 5];
            let mut file = tokio::fs::File::open(p).await?;
            let mut filled = 0;
            while filled < head.len() {
                match file.read(&mut head[filled..]).await? {
                    0 => break,
                    n => filled += n,
                }
            }
            Ok(&head[..filled] == MAGIC)
        }
    }
}

#[async_trait]
impl Provider for ArqSign {
    fn id(&self) -> &'static str {
        "arqsign"
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn capability(&self) -> &Capability {
        &CAPABILITY
    }

    fn validate(&self, env: &Envelope) -> Result<()> {
        let (opts, _) = self.options(env)?;
        map::check(env, &opts)
    }

    async fn send(&self, env: &Envelope) -> Result<Handle> {
        let (opts, version) = self.options(env)?;
        let mut files = Vec::with_capacity(env.documents.len());
        let mut total = 0u64;
        for (i, doc) in env.documents.iter().enumerate() {
            let field = format!("documents[{i}].content");
            let is_pdf = pdf_magic(&doc.content).await.map_err(|e| Error::validation(&field, e))?;
            if !is_pdf {
                return Err(Error::validation(
                    field,
                    format!("{:?} is not a PDF (ArqSign takes PDFs only)", doc.name),
                ));
            }
            let (source, len) = match &doc.content {
                DocumentContent::Bytes(b) => {
                    (body::Source::Bytes(Bytes::from(b.clone())), b.len() as u64)
                }
                DocumentContent::Path(p) => {
                    let len = tokio::fs::metadata(p)
                        .await
                        .map_err(|e| Error::validation(&field, e))?
                        .len();
                    (body::Source::Path(p.clone()), len)
                }
            };
            total += len;
            files.push(body::File { name: doc.name.clone(), source, len });
        }
        if total > map::MAX_TOTAL_BYTES {
            return Err(Error::validation(
                "documents",
                format!("{total} bytes in all, at most {} (100 MB)", map::MAX_TOTAL_BYTES),
            ));
        }
        let head = map::enviar(env, &opts, Utc::now());
        let path = match version {
            SendVersion::V2 => "api/v2/processo/enviar-documento-para-assinar",
            SendVersion::V3 => "api/v3/processo/enviar-documento-para-assinar",
        };
        let url = self.url(path);
        // The body is a stream, so each attempt rebuilds it (re-opening the files). Attempts
        // beyond the first happen only when the server provably did not take the request.
        let body = |http: &reqwest::Client| {
            let request = http.post(&url).header(CONTENT_TYPE, "application/json");
            let (body, length) = body::build(&head, files.clone());
            request.header(CONTENT_LENGTH, length).body(body)
        };
        let reply = self
            .call("send", Idempotency::Write, &body)
            .await
            .map_err(|e| e.with_context("reference", &env.reference))?;
        let sent: wire::ProcessoEnviado = Self::decode("send", &reply)
            .map_err(|e| e.with_context("reference", &env.reference))?;
        Ok(Handle {
            provider: "arqsign".into(),
            account: self.account.clone(),
            id: sent.id_processo,
            reference: Some(env.reference.clone()),
        })
    }

    async fn status(&self, handle: &Handle) -> Result<Status> {
        let id = Self::process_id(handle)?;
        let (poll, raw) = self.poll(id).await?;
        // A refusal also ends as "Cancelado": only the signer data tells them apart.
        let signers = if poll.id_status == 5 { Some(self.signer_data(id).await?) } else { None };
        let raw = match &signers {
            Some((_, signer_raw)) => serde_json::json!({"status": raw, "signers": signer_raw}),
            None => raw,
        };
        let status = map::status(poll, signers.map(|(s, _)| s), raw);
        self.remember(id, &status);
        Ok(status)
    }

    async fn statuses(
        &self,
        handles: &[Handle],
        concurrency: usize,
        force: bool,
    ) -> Vec<Result<Status>> {
        let calls: Vec<_> = handles
            .iter()
            .map(|h| async move {
                let recent = if force {
                    None
                } else {
                    Self::process_id(h).ok().and_then(|id| self.recent(id))
                };
                match recent {
                    Some(status) => Ok(status),
                    None => self.status(h).await,
                }
            })
            .collect();
        use futures::StreamExt as _;
        futures::stream::iter(calls).buffered(concurrency.max(1)).collect().await
    }

    async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let id = Self::process_id(handle)?;
        match kind {
            DownloadKind::Signed => {
                let docs = self.documents(id, self.config.download_form).await?;
                match docs.as_slice() {
                    [one] => self.document_into(one, sink).await,
                    many => self.zip_into(many, true, false, sink).await,
                }
            }
            DownloadKind::Evidence => {
                // Links are enough to learn the document ids: no file travels for this.
                let docs = self.documents(id, DownloadForm::Link).await?;
                match docs.as_slice() {
                    [one] => {
                        let (name, bytes) = self.evidence(&one.id).await?;
                        sink.write_all(&bytes).await.map_err(http::sink_error)?;
                        Ok(DownloadInfo {
                            file_name: Some(name),
                            media_type: Some("application/pdf".into()),
                            size: bytes.len() as u64,
                        })
                    }
                    many => self.zip_into(many, false, true, sink).await,
                }
            }
            DownloadKind::Archive => {
                let docs = self.documents(id, self.config.download_form).await?;
                self.zip_into(&docs, true, true, sink).await
            }
            DownloadKind::Original | DownloadKind::DigitallySigned => {
                Err(self.unsupported(&format!("download of {kind}")))
            }
        }
    }

    async fn cancel(&self, handle: &Handle) -> Result<()> {
        let id = Self::process_id(handle)?;
        let url = self.url(&format!("api/v1/processo/{id}/cancelar-processo"));
        let reply = self.call("cancel", Idempotency::Write, &|http| http.patch(&url)).await?;
        if !reply.status.is_success() {
            return Err(map::error("cancel", &reply));
        }
        self.polled.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        Ok(())
    }

    async fn call(&self, name: &str, args: serde_json::Value) -> Result<serde_json::Value> {
        self.provider_call(name, args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn build(settings: serde_json::Value) -> Result<ArqSign> {
        ArqSign::build(BuildContext {
            account: "a".into(),
            settings,
            transport: Default::default(),
            signer: Default::default(),
        })
    }

    #[test]
    fn settings_are_checked_at_build() {
        let ok = serde_json::json!({"app_key": "k", "subscription_key": "s"});
        let a = build(ok.clone()).unwrap();
        assert_eq!(a.config.base_url, "https://api-rest.arqsign.com");
        assert_eq!(a.credentials[1].0.as_str(), "subscriptionkey");
        let mut apim = ok.clone();
        apim["subscription_key_header"] = "Ocp-Apim-Subscription-Key".into();
        build(apim).unwrap();
        let mut bad = ok.clone();
        bad["app_key_header"] = "App Key".into();
        assert_eq!(build(bad).unwrap_err().kind(), ErrorKind::Config);
        let mut bad = ok.clone();
        bad["icp_brasil_code"] = "5".into();
        assert_eq!(build(bad).unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(
            build(serde_json::json!({"app_key": "k"})).unwrap_err().kind(),
            ErrorKind::Config
        );
        let dbg = format!(
            "{:?}",
            build(serde_json::json!({"app_key": "k-secret", "subscription_key": "s-secret"}))
                .unwrap()
        );
        assert!(!dbg.contains("k-secret") && !dbg.contains("s-secret"), "{dbg}");
    }

    #[tokio::test]
    async fn only_pdf_bytes_are_pdfs() {
        assert!(pdf_magic(&DocumentContent::Bytes(b"%PDF-1.7\n".to_vec())).await.unwrap());
        assert!(!pdf_magic(&DocumentContent::Bytes(b"PK\x03\x04".to_vec())).await.unwrap());
        assert!(!pdf_magic(&DocumentContent::Bytes(b"%PD".to_vec())).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pdf");
        std::fs::write(&path, b"%PDF-1.4 ...").unwrap();
        assert!(pdf_magic(&DocumentContent::Path(path)).await.unwrap());
    }
}
