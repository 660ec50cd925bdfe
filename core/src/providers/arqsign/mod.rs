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
//! | `plan` | `profissional`, `empresarial`, `corporativo` (`_anual` for annual plans), or `none`: the request limits shared by every process using the account | `profissional` |
//!
//! Per envelope, `provider_options.arqsign` may set `responsible_id`, `folder_id`,
//! `signature_type`, `validate_tax_id`, `delivery` and `send_version`.
//!
//! Provider-specific calls (`Client::call`):
//!
//! | call | arguments | does |
//! |---|---|---|
//! | `resend` | `{"handle", "recipients"?: [...]}` | sends the signing links again |
//! | `signer_data` | `{"handle"}` | the signers' data |
//! | `users` | `{"active"?, "ids"?}` | the account's users |
//! | `folders` | `{"search": "root"\|"children"\|"full_path", "folders"?, "active"?}` | the account's folders |
//! | `webhook_subscribe` | `{"url", "name", "triggers"?: [1..=8] (default `[8]`, concluded by all), "active"?: true}` | creates an account webhook (§6.1, `POST /api/v1/confwebhook`) returning process and signer data; answers `{"id", "url", "secret"}`, `secret` being its `chaveHMAC`, the key for the `arqsign` receiver route's `hmac_keys` |
//!
//! The status table is in [`map::state`].

mod body;
mod map;
mod wire;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::Utc;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

pub use map::{Delivery, SignatureType};

use super::{Base, Build, BuildContext, http, lenient, webhook_subscribe};
use crate::error::{Error, Result};
use crate::journal::Window;
use crate::model::{DownloadInfo, DownloadKind, Envelope, Handle, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Lookup, OutgoingDocument, Progress, Provider,
    SendCapability, Sink, WebhookCapability,
};
use crate::transport::{Call, Classify, FixedHeaders, Idempotency, Reply, Secret};
use crate::{host, names};

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
    calls: &["resend", "signer_data", "users", "folders", webhook_subscribe::CALL],
    webhooks: WebhookCapability {
        // Account webhooks signed with HMAC (contract §6); with a budget of a few hundred
        // requests a month they, not polling, are how changes are learnt.
        source: Some("arqsign"),
    },
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
    /// The account's plan, whose request limits every process using the account shares.
    #[serde(default = "default_plan")]
    pub plan: Plan,
}

/// ArqSign's plans and their request limits (contract §9.3, from the manual's own table):
/// every plan 4 per second; per minute 80 / 160 / 240; per hour 80 / 200 / 400; per month
/// 80 / 200 / 400 on monthly plans and 200 / 200 / 400 on annual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Profissional,
    Empresarial,
    Corporativo,
    ProfissionalAnual,
    EmpresarialAnual,
    CorporativoAnual,
    /// A custom (post-paid) plan: no client-side limits; ArqSign's 429s are still honoured.
    None,
}

impl Plan {
    /// The windows every process using an account on this plan counts its requests in.
    pub fn windows(self) -> Vec<Window> {
        let (minute, hour, month) = match self {
            Plan::Profissional => (80, 80, 80),
            Plan::Empresarial => (160, 200, 200),
            Plan::Corporativo => (240, 400, 400),
            Plan::ProfissionalAnual => (80, 80, 200),
            Plan::EmpresarialAnual => (160, 200, 200),
            Plan::CorporativoAnual => (240, 400, 400),
            Plan::None => return Vec::new(),
        };
        vec![
            Window::per_second(4),
            Window::per_minute(minute),
            Window::per_hour(hour),
            Window::per_month(month),
        ]
    }
}

/// The smallest plan: a host that does not say is kept within what every plan allows.
fn default_plan() -> Plan {
    Plan::Profissional
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
    base: Base,
    config: ArqSignConfig,
    /// The AppKey and SubscriptionKey headers.
    keys: FixedHeaders,
    /// The last status read of each process, for the batch refresh's minimum interval.
    polled: Mutex<HashMap<String, (Instant, Status)>>,
}

impl std::fmt::Debug for ArqSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArqSign").field("base", &self.base).field("config", &self.config).finish()
    }
}

impl Build for ArqSign {
    fn build(ctx: BuildContext) -> Result<ArqSign> {
        let config: ArqSignConfig = super::settings("arqsign", &ctx)?;
        http::check_base_url("arqsign", "base_url", &config.base_url)?;
        if !matches!(config.icp_brasil_code, 2 | 3) {
            return Err(Error::config("settings.icp_brasil_code for provider arqsign is 2 or 3"));
        }
        let keys = FixedHeaders::new(
            "arqsign",
            &[
                ("app_key_header", &config.app_key_header, &config.app_key),
                (
                    "subscription_key_header",
                    &config.subscription_key_header,
                    &config.subscription_key,
                ),
            ],
        )?;
        let base =
            Base::new("arqsign", &CAPABILITY, &ctx, &[&config.base_url], config.plan.windows())?;
        Ok(ArqSign { base, config, keys, polled: Mutex::default() })
    }
}

impl Classify for ArqSign {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        if reply.status.is_success() { Ok(()) } else { Err(map::error(op, reply)) }
    }
}

/// What a send records (see [`Progress`]): when its one request went out, and the process id
/// it answered.
const SENT_AT: &str = "sent_at";
const PROCESS_ID: &str = "process_id";

/// What `send` and `validate` decide about an envelope, once.
struct SendPlan {
    options: map::SendOptions,
    version: SendVersion,
}

impl ArqSign {
    fn url(&self, path: &str) -> String {
        http::join(&self.config.base_url, path)
    }

    fn plan(&self, env: &Envelope) -> Result<SendPlan> {
        let o: EnvelopeOptions = self.base.options(env)?;
        let options = map::SendOptions {
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
        map::check(env, &options)?;
        Ok(SendPlan { options, version: o.send_version.unwrap_or(self.config.send_version) })
    }

    /// One call with the keys; the body is read whole.
    async fn request(&self, call: Call<'_>) -> Result<Reply> {
        self.base.transport.execute(call.auth(&self.keys)).await
    }

    async fn get_json(&self, op: &'static str, url: &str) -> Result<(Reply, serde_json::Value)> {
        let build = |http: &reqwest::Client| http.get(url);
        let reply = self.request(Call::new(op, Idempotency::Read, self, &build)).await?;
        let value = Self::camel(&reply)?;
        Ok((reply, value))
    }

    /// A success reply's JSON with its keys camel-cased (ArqSign mixes `IdProcesso` and
    /// `idProcesso` between endpoints).
    fn camel(reply: &Reply) -> Result<serde_json::Value> {
        http::decode::<serde_json::Value>(reply).map(lenient::camel_keys)
    }

    fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T> {
        T::deserialize(Self::camel(reply)?).map_err(|e| reply.malformed(e))
    }

    fn process_id(handle: &Handle) -> Result<&str> {
        http::handle_guid("ArqSign", handle)
    }

    async fn poll(&self, id: &str) -> Result<(wire::StatusProcesso, serde_json::Value)> {
        let url = self.url(&format!("api/v1/processo/{id}/status-do-processo"));
        let (reply, raw) = self.get_json("status", &url).await?;
        let poll = wire::StatusProcesso::deserialize(&raw).map_err(|e| reply.malformed(e))?;
        Ok((poll, raw))
    }

    async fn signer_data(&self, id: &str) -> Result<(wire::DadosSignatarios, serde_json::Value)> {
        let url = self.url(&format!("api/v1/processo/{id}/dados-signatarios"));
        let (reply, raw) = self.get_json("signer_data", &url).await?;
        let data = wire::DadosSignatarios::deserialize(&raw).map_err(|e| reply.malformed(e))?;
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
        let build = |http: &reqwest::Client| http.get(&url).query(&query);
        let mut call = Call::new("download", Idempotency::Read, self, &build);
        if form == DownloadForm::Base64 {
            call = call.carrying_file();
        }
        let reply = self.request(call).await?;
        let process: wire::Processo = Self::decode(&reply)?;
        if process.documentos.is_empty() {
            return Err(reply.malformed("the process lists no documents"));
        }
        // Each document's id goes into the evidence report's URL.
        process
            .documentos
            .into_iter()
            .map(|mut doc| {
                doc.id = http::reply_guid(&reply, "id", std::mem::take(&mut doc.id))?;
                Ok(doc)
            })
            .collect()
    }

    async fn evidence(&self, document_id: &str) -> Result<(String, Vec<u8>)> {
        let url = self.url(&format!("api/v1/processo/{document_id}/registro-assinaturas"));
        let build = |http: &reqwest::Client| http.get(&url);
        let call = Call::new("download", Idempotency::Read, self, &build).carrying_file();
        let reply = self.request(call).await?;
        let report: wire::RegistroAssinaturas = Self::decode(&reply)?;
        let name =
            report.nome.unwrap_or_else(|| format!("{document_id}_Registro de Assinaturas.pdf"));
        Ok((name, decode_base64(&reply, &report.base64)?))
    }

    /// One document's signed bytes, into `sink`.
    async fn document_into(
        &self,
        doc: &wire::DocumentoProcesso,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let file_name = doc.nome_documento.clone();
        if let Some(link) = &doc.link_para_baixar_documento {
            return http::stream_link("arqsign", &self.base.transport, link, file_name, sink).await;
        }
        let b64 = doc.base64_documento.as_deref().ok_or_else(|| {
            http::unexpected(
                "arqsign",
                "download",
                "a document came with neither base64 nor a link",
            )
        })?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| {
            http::unexpected("arqsign", "download", format!("the file is not base64: {e}"))
        })?;
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
                // Each entry is checked as a download of its own would be: an error page must
                // not reach the host inside a valid archive.
                crate::download::check("arqsign", DownloadKind::Signed, &bytes)?;
                entries.push((
                    info.file_name.unwrap_or_else(|| format!("documento-{}.pdf", i + 1)),
                    bytes,
                ));
            }
            if evidence {
                let (name, bytes) = self.evidence(&doc.id).await?;
                crate::download::check("arqsign", DownloadKind::Evidence, &bytes)?;
                entries.push((name, bytes));
            }
        }
        // The names are ArqSign's: made plain and unique before they name entries.
        let mut unique = names::Unique::default();
        let entries: Vec<(String, Vec<u8>)> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (name, bytes))| {
                (unique.name(names::file_name(&name, &format!("documento-{}.pdf", i + 1))), bytes)
            })
            .collect();
        http::zip_into(&entries, sink).await
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

    /// The `handle` (and `recipients`) of a call's arguments.
    fn handle_args(&self, args: &serde_json::Value) -> Result<(Handle, Vec<serde_json::Value>)> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct HandleArgs {
            handle: serde_json::Value,
            #[serde(default)]
            recipients: Vec<serde_json::Value>,
        }
        let a = HandleArgs::deserialize(args).map_err(|e| Error::validation("args", e))?;
        let handle = host::handle_value(&a.handle, "args.handle", "arqsign", &self.base.account)?;
        Ok((handle, a.recipients))
    }

    async fn post_json(
        &self,
        op: &'static str,
        idempotency: Idempotency,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let url = self.url(path);
        let build = |http: &reqwest::Client| http.post(&url).json(body);
        let reply = self.request(Call::new(op, idempotency, self, &build)).await?;
        Self::decode(&reply)
    }

    async fn provider_call(
        &self,
        name: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value> {
        match name {
            "resend" => {
                let (handle, recipients) = self.handle_args(&args)?;
                let id = Self::process_id(&handle)?;
                let url = self.url(&format!("api/v2/processo/{id}/reenviar-processo"));
                let build = |http: &reqwest::Client| http.patch(&url).json(&recipients);
                // Resending refreshes signing links and restarts expiry: never repeated blindly.
                let reply =
                    self.request(Call::new("resend", Idempotency::Write, self, &build)).await?;
                Self::decode(&reply)
            }
            "signer_data" => {
                let (handle, _) = self.handle_args(&args)?;
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
                let a = Users::deserialize(&args).map_err(|e| Error::validation("args", e))?;
                let body = serde_json::json!({"ativos": a.active, "usuarios": a.ids});
                self.post_json("users", Idempotency::Read, "api/v1/usuarios/buscar-usuarios", &body)
                    .await
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
                let a = Folders::deserialize(&args).map_err(|e| Error::validation("args", e))?;
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
                let body = serde_json::json!({"buscarPor": buscar_por, "ativas": a.active,
                    "pastas": a.folders});
                self.post_json(
                    "folders",
                    Idempotency::Read,
                    "api/v1/diretorio/buscar-pastas",
                    &body,
                )
                .await
            }
            webhook_subscribe::CALL => self.webhook_subscribe(args).await,
            other => Err(self.unsupported(other)),
        }
    }

    /// §6.1 `POST /api/v1/confwebhook`: one account webhook posting to `url` on `triggers`.
    async fn webhook_subscribe(&self, args: serde_json::Value) -> Result<serde_json::Value> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Args {
            url: String,
            name: String,
            #[serde(default = "concluded")]
            triggers: Vec<u8>,
            #[serde(default = "yes")]
            active: bool,
        }
        fn concluded() -> Vec<u8> {
            vec![TRIGGER_CONCLUDED]
        }
        let a: Args = webhook_subscribe::args(args)?;
        let url = webhook_subscribe::receiver_url(&a.url)?;
        // §6.1: "`nome`: string ≤150, unique in the account, required".
        let name = a.name.trim();
        if name.is_empty() || name.chars().count() > MAX_WEBHOOK_NAME {
            return Err(Error::validation(
                "args.name",
                format!("needs 1 to {MAX_WEBHOOK_NAME} characters"),
            ));
        }
        // §6.1 "`gatilhos[]`: tinyint, ≥1 required"; §6.2 numbers them 1 to 8.
        let mut triggers = a.triggers;
        triggers.sort_unstable();
        triggers.dedup();
        if triggers.is_empty() || triggers.iter().any(|t| !(1..=8).contains(t)) {
            return Err(Error::validation(
                "args.triggers",
                "lists 1 or more of the triggers 1 to 8",
            ));
        }
        let body = wire::ConfWebhook {
            nome: name.to_owned(),
            status: if a.active { 1 } else { 2 },
            url_publicar: url.clone(),
            aguardar_retorno: 0,
            gatilhos: triggers,
            // Process and signer data, no files: the host downloads what it needs.
            dados_retorno: wire::DadosRetorno { processo: 1, signatarios: 1, documentos: 0 },
        };
        let endpoint = self.url("api/v1/confwebhook");
        let build = |http: &reqwest::Client| http.post(&endpoint).json(&body);
        // A second webhook for the same URL would double every delivery: never repeated
        // blindly (a repeat with the same `nome` is refused anyway).
        let call = Call::new("webhook_subscribe", Idempotency::Write, self, &build);
        let reply = self.request(call).await?;
        let created: wire::ConfWebhookCriada = Self::decode(&reply)?;
        let id = http::reply_guid(&reply, "id", created.id)?;
        let secret = Some(created.chave_hmac);
        Ok(webhook_subscribe::Subscription { id: Some(id), url, secret }.to_json())
    }
}

/// §6.2 trigger 8, "Processo assinado/concluído por todos os signatários".
const TRIGGER_CONCLUDED: u8 = 8;
/// §6.1: `nome` "string ≤150".
const MAX_WEBHOOK_NAME: usize = 150;

fn yes() -> bool {
    true
}

fn decode_base64(reply: &Reply, text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| reply.malformed(format!("the file is not base64: {e}")))
}

#[async_trait]
impl Provider for ArqSign {
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
        let plan = self.plan(env)?;
        // One call creates and sends the process: recorded, it is done.
        if let Some(id) = progress.id(PROCESS_ID) {
            return Ok(self.base.handle(id, env));
        }
        let mut total = 0u64;
        for doc in documents {
            // ArqSign takes PDFs only, and would say so only after the whole upload.
            if !doc.starts_with(b"%PDF-") {
                return Err(Error::validation(
                    doc.field(),
                    format!("{:?} is not a PDF (ArqSign takes PDFs only)", doc.name),
                ));
            }
            total += doc.len;
        }
        if total > map::MAX_TOTAL_BYTES {
            return Err(Error::validation(
                "documents",
                format!("{total} bytes in all, at most {} (100 MB)", map::MAX_TOTAL_BYTES),
            ));
        }
        let head = map::enviar(env, &plan.options, Utc::now());
        let path = match plan.version {
            SendVersion::V2 => "api/v2/processo/enviar-documento-para-assinar",
            SendVersion::V3 => "api/v3/processo/enviar-documento-para-assinar",
        };
        let url = self.url(path);
        // The body is a stream, so each attempt rebuilds it (re-opening the files). Attempts
        // beyond the first happen only when the server provably did not take the request.
        let build = |http: &reqwest::Client| {
            let request = http.post(&url).header(CONTENT_TYPE, "application/json");
            let (body, length) = body::build(&head, documents);
            request.header(CONTENT_LENGTH, length).body(body)
        };
        // Recorded before the request: from here a lost answer leaves the outcome unknown.
        progress.record_id(SENT_AT, &Utc::now().to_rfc3339()).await?;
        let reply = self.request(Call::new("send", Idempotency::Write, self, &build)).await?;
        let sent: wire::ProcessoEnviado = Self::decode(&reply)?;
        let id = http::reply_guid(&reply, "idProcesso", sent.id_processo)?;
        progress.record_id(PROCESS_ID, &id).await?;
        Ok(self.base.handle(id, env))
    }

    async fn find(&self, _reference: &str, progress: &mut dyn Progress) -> Result<Lookup> {
        if let Some(id) = progress.id(PROCESS_ID) {
            return Ok(Lookup::Found { id, sent: true });
        }
        Ok(match progress.id(SENT_AT) {
            None => Lookup::Absent,
            // The API lists no processes and searches none by name (contract §2.0): only
            // ArqSign's web console, or its webhook, can tell.
            Some(at) => Lookup::Unknowable(format!(
                "ArqSign has no search by reference; a send was made at {at}: check the \
                 account's processes in ArqSign's console"
            )),
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
        let build = |http: &reqwest::Client| http.patch(&url);
        let reply = self.request(Call::new("cancel", Idempotency::Write, self, &build)).await?;
        // "200 juntamente com a mensagem de documento cancelado com sucesso"; its exact shape
        // is unknown (contract §2.7): a JSON message or object, or nothing.
        http::acknowledged(&reply, |v| v.is_object() || v.is_string())?;
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
            journal: crate::journal::Journal::in_memory().unwrap(),
        })
    }

    #[test]
    fn settings_are_checked_at_build() {
        let ok = serde_json::json!({"app_key": "k", "subscription_key": "s"});
        let a = build(ok.clone()).unwrap();
        assert_eq!(a.config.base_url, "https://api-rest.arqsign.com");
        assert_eq!(a.keys.names().collect::<Vec<_>>(), ["appkey", "subscriptionkey"]);
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
}
