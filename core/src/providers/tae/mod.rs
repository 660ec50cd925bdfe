//! TOTVS Assinatura Eletrônica (TAE / TOTVS Sign).
//!
//! Flow: log in (bearer token, 12 h) → upload the files as a draft envelope → publish it to the
//! recipients → poll its status → download the original, the signed file (with TAE's signature
//! protocol appended), the digitally signed file or a zip of everything → cancel.
//! The document id returned by the upload is the one id for every later call.
//!
//! Settings (`settings` in the client configuration; `SIGNBRIDGE_TAE_<NAME>` from the environment):
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `auth_base` | identity service, e.g. `https://totvssign.totvs.app/identityintegration` | required |
//! | `api_base` | the API host, e.g. `https://totvssign.totvs.app` | required |
//! | `username`, `password` | the service user | — |
//! | `token` | a token obtained elsewhere (RM's web login); used first | — |
//! | `login_routes` | order of login routes among `v3`, `v2`, `api` | `["v3","v2","api"]` |
//! | `publish_route` | `signintegration_v2` or `documents_v1` | `signintegration_v2` |
//! | `download_form` | `base64` (v1, JSON) or `url` (v2, a link streamed to the sink) | `base64` |
//! | `authentication` | recipients' `tipoAutenticacao`: `email_code` (2) or `login` (1) | `email_code` |
//! | `allow_reject`, `notify`, `handwritten` | publish options | `true`, `true`, `false` |
//! | `token_margin_secs` | a token is renewed this long before it expires | `300` |
//!
//! Per envelope, `provider_options.tae` may override `authentication`, `allow_reject`,
//! `notify` and `handwritten`. The status table is in [`map::state`].

mod auth;
mod map;
mod wire;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

pub use auth::LoginRoute;
pub use map::Authentication;

use super::{Base, Build, BuildContext, base64_json, http, lenient};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{DownloadInfo, DownloadKind, Envelope, Handle, Role, Status};
use crate::provider::{
    Capability, DownloadCapability, EnvelopeRules, Lookup, OutgoingDocument, Progress, Provider,
    SendCapability, Sink, WebhookCapability,
};
use crate::transport::{Call, Classify, Idempotency, Reply, Secret, SessionKey, Token, TokenCache};

pub const CAPABILITY: Capability = Capability {
    send: SendCapability {
        // Each recipient's `workflow` is its place in the signing order (contract §4.2).
        sequential: true,
        envelope: EnvelopeRules {
            // TecTAE (TOTVS): "pdf, doc, docx" are accepted.
            document_extensions: Some(&["pdf", "doc", "docx"]),
            // RM's GlbTotvsSignAssinante: `email` is Required.Always.
            party_email_required: true,
            ..Capability::NONE.send.envelope
        },
        ..Capability::NONE.send
    },
    download: DownloadCapability {
        // Evidence is not separate: TAE appends its signature protocol to the signed file.
        kinds: &[
            DownloadKind::Original,
            DownloadKind::Signed,
            DownloadKind::DigitallySigned,
            DownloadKind::Archive,
        ],
    },
    cancel: true,
    webhooks: WebhookCapability {
        // Configured by the company administrator; payload undocumented, read leniently (§7).
        source: Some("tae"),
    },
    ..Capability::NONE
};

/// What a send records (see [`Progress`]): the name the upload is searchable by, the id it
/// returned, and the publish.
const FILE_NAME: &str = "file_name";
const DOCUMENT_ID: &str = "document_id";
const PUBLISHED: &str = "published";

/// How far `find` pages through the company-wide search before it gives up.
const SEARCH_PAGE_SIZE: u64 = 200;
const SEARCH_PAGES: u64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishRoute {
    /// `POST /signintegration/v2/Publicacoes` (TecTAE's default).
    SignintegrationV2,
    /// `POST /documents/v1/publicacoes`.
    DocumentsV1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadForm {
    Base64,
    Url,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaeConfig {
    pub auth_base: String,
    pub api_base: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default = "default_login_routes")]
    pub login_routes: Vec<LoginRoute>,
    #[serde(default = "default_publish_route")]
    pub publish_route: PublishRoute,
    #[serde(default = "default_download_form")]
    pub download_form: DownloadForm,
    #[serde(default = "default_authentication")]
    pub authentication: Authentication,
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pub allow_reject: bool,
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pub notify: bool,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub handwritten: bool,
    #[serde(default = "default_margin", deserialize_with = "lenient::u64")]
    pub token_margin_secs: u64,
}

fn default_login_routes() -> Vec<LoginRoute> {
    vec![LoginRoute::V3, LoginRoute::V2, LoginRoute::Api]
}
fn default_publish_route() -> PublishRoute {
    PublishRoute::SignintegrationV2
}
fn default_download_form() -> DownloadForm {
    DownloadForm::Base64
}
fn default_authentication() -> Authentication {
    Authentication::EmailCode
}
fn yes() -> bool {
    true
}
fn default_margin() -> u64 {
    300
}

/// Per-envelope overrides (`provider_options.tae`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeOptions {
    authentication: Option<Authentication>,
    allow_reject: Option<bool>,
    notify: Option<bool>,
    handwritten: Option<bool>,
}

pub struct Tae {
    base: Base,
    config: TaeConfig,
    tokens: TokenCache,
}

impl std::fmt::Debug for Tae {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tae").field("base", &self.base).field("config", &self.config).finish()
    }
}

impl Build for Tae {
    fn build(ctx: BuildContext) -> Result<Tae> {
        let config: TaeConfig = super::settings("tae", &ctx)?;
        http::check_base_url("tae", "auth_base", &config.auth_base)?;
        http::check_base_url("tae", "api_base", &config.api_base)?;
        if config.token.is_none() && (config.username.is_none() || config.password.is_none()) {
            return Err(Error::config(
                "provider tae needs settings.username and settings.password (or settings.token)",
            ));
        }
        if config.login_routes.is_empty() {
            return Err(Error::config("settings.login_routes for provider tae is empty"));
        }
        let tokens = match &config.token {
            // The host vouches for it; it is used until TAE refuses it.
            Some(token) => {
                TokenCache::seeded(Token { value: token.clone(), valid_for: auth::TOKEN_LIFETIME })
            }
            // Logins are shared through the journal: one per account for every process.
            None => {
                let (user, password) = (
                    config.username.as_deref().unwrap_or_default(),
                    config.password.as_ref().map(Secret::expose).unwrap_or_default(),
                );
                let key = SessionKey::derive("tae", &ctx.account, &[user, password]);
                TokenCache::shared(ctx.journal.clone(), "tae", &ctx.account, key)
            }
        };
        // TAE documents no rate limit (contract §4.4 only says status reads are per document).
        let base = Base::new(
            "tae",
            &CAPABILITY,
            &ctx,
            &[&config.auth_base, &config.api_base],
            Vec::new(),
        )?;
        Ok(Tae { base, config, tokens })
    }
}

/// The documents and signintegration services answer `{success, data}`; `success: false` in
/// a 2xx is a failure too. What a 400 means depends on the operation.
impl Classify for Tae {
    fn classify(&self, op: &'static str, reply: &Reply) -> Result<()> {
        if reply.status.is_success() {
            // Some deployments answer a cancel with an empty body.
            if reply.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            match serde_json::from_slice::<wire::DocumentsResponse<IgnoredAny>>(&reply.body) {
                Ok(outcome) if outcome.success == Some(false) => {}
                // A body that is not the wrapper is the decoder's to report.
                _ => return Ok(()),
            }
        }
        let bad_request = match op {
            "download" | "cancel" => ErrorKind::Conflict,
            _ => ErrorKind::Validation,
        };
        Err(map::documents_error(op, reply, bad_request))
    }
}

impl Tae {
    fn api(&self, path: &str) -> String {
        http::join(&self.config.api_base, path)
    }

    fn document_id(handle: &Handle) -> Result<i64> {
        handle.id.parse().map_err(|_| {
            Error::validation("handle.id", format!("{:?} is not a TAE document id", handle.id))
        })
    }

    /// The publish options of `env` and TAE's checks of its parties: what `send` and
    /// `validate` share, computed once per send.
    fn plan(&self, env: &Envelope) -> Result<map::PublishOptions> {
        let o: EnvelopeOptions = self.base.options(env)?;
        let opts = map::PublishOptions {
            authentication: o.authentication.unwrap_or(self.config.authentication),
            allow_reject: o.allow_reject.unwrap_or(self.config.allow_reject),
            notify: o.notify.unwrap_or(self.config.notify),
            handwritten: o.handwritten.unwrap_or(self.config.handwritten),
        };
        for (i, p) in env.parties.iter().enumerate() {
            if p.role == Role::Observe {
                continue;
            }
            map::identification(p.tax_id.as_deref())
                .map_err(|e| Error::validation(format!("parties[{i}].tax_id"), e))?;
            if p.access_code.is_some() {
                return Err(Error::validation(
                    format!("parties[{i}].access_code"),
                    "TAE sends its own codes by e-mail; it takes no access code from the sender",
                ));
            }
            let named = p.name.as_deref().is_some_and(|n| !n.trim().is_empty());
            if opts.authentication == Authentication::EmailCode && !named {
                return Err(Error::validation(
                    format!("parties[{i}].name"),
                    "TAE needs the full name of recipients who sign with an e-mailed code",
                ));
            }
        }
        Ok(opts)
    }

    /// An authenticated call to the documents/signintegration services.
    async fn request(&self, call: Call<'_>) -> Result<Reply> {
        self.base.transport.execute(call.auth(self)).await
    }

    /// The `data` of a `{success, data}` reply already classified as a success.
    /// A publish or cancel went through: `{"success": true, …}`, or an empty body (some
    /// deployments answer a cancel so; contract §4.2 says only that `success` is checked).
    fn acknowledged(reply: &Reply) -> Result<()> {
        http::acknowledged(reply, |v| v.get("success") == Some(&serde_json::Value::Bool(true)))
    }

    fn data<T: DeserializeOwned>(reply: &Reply) -> Result<T> {
        http::decode::<wire::DocumentsResponse<T>>(reply)?
            .data
            .ok_or_else(|| reply.malformed("success without data"))
    }

    /// The name the first file is uploaded under: TAE's search lists documents by it
    /// (`nomeArquivo`, contract §4.4), so it carries the envelope's reference, which is how an
    /// upload whose answer was lost is found again.
    fn searchable_name(env: &Envelope, first: &OutgoingDocument) -> String {
        if first.name.starts_with(&env.reference) {
            first.name.clone()
        } else {
            format!("{}_{}", env.reference, first.name)
        }
    }

    async fn upload(
        &self,
        env: &Envelope,
        documents: &[OutgoingDocument],
        first_name: &str,
    ) -> Result<i64> {
        let mut parts = Vec::with_capacity(documents.len());
        for doc in documents {
            let mime = HeaderValue::from_str(&doc.media_type).map_err(|_| {
                Error::validation(
                    format!("documents[{}].media_type", doc.index),
                    "not a valid MIME type",
                )
            })?;
            parts.push(HeaderMap::from_iter([(CONTENT_TYPE, mime)]));
        }
        let url = self.api("documents/v1/envelopes/upload");
        let build = |http: &reqwest::Client| {
            let mut form = Form::new().text("NomeEnvelope", env.title.clone());
            for (i, (doc, headers)) in documents.iter().zip(&parts).enumerate() {
                let name = if i == 0 { first_name.to_string() } else { doc.name.clone() };
                let part = Part::stream_with_length(doc.body(), doc.len)
                    .file_name(name)
                    .headers(headers.clone());
                form = form.part("Envelope", part);
            }
            http.post(&url).multipart(form)
        };
        let reply = self.request(Call::new("upload", Idempotency::Write, self, &build)).await?;
        Self::data(&reply)
    }

    async fn publish(&self, id: i64, env: &Envelope, opts: &map::PublishOptions) -> Result<()> {
        let body = map::publicacao(id, env, opts);
        let url = match self.config.publish_route {
            PublishRoute::SignintegrationV2 => self.api("signintegration/v2/Publicacoes"),
            PublishRoute::DocumentsV1 => self.api("documents/v1/publicacoes"),
        };
        let build = |http: &reqwest::Client| http.post(&url).json(&body);
        let reply = self.request(Call::new("publish", Idempotency::Write, self, &build)).await?;
        Self::acknowledged(&reply)
    }

    /// The v1 download: the file is base64 inside the JSON reply, decoded into `sink` as the
    /// reply is read, so memory stays bounded whatever its size.
    async fn download_base64(&self, id: i64, tipo: u8, sink: Sink<'_>) -> Result<DownloadInfo> {
        let url = self.api(&format!("documents/v1/publicacoes/{id}/download"));
        let query = [("tipoDownload", tipo)];
        let build = |http: &reqwest::Client| http.get(&url).query(&query);
        let call = Call::new("download", Idempotency::Read, self, &build).auth(self);
        let response = self.base.transport.execute_streaming(call).await?;
        let (status, headers) = (response.status(), response.headers().clone());
        let config = self.base.transport.config();
        let body = http::Chunks::new("tae", response, config.max_file_reply_bytes);
        let decoded =
            base64_json::stream_field("tae", body, "fileBytes", config.max_reply_bytes, sink)
                .await?;
        // What surrounds the file is an ordinary reply: `success: false` is still a failure.
        let reply = Reply {
            status,
            headers,
            body: decoded.rest.into(),
            provider: "tae",
            op: "download",
            idempotency: Idempotency::Read,
        };
        self.classify("download", &reply)?;
        let file: wire::Arquivo = Self::data(&reply)?;
        if !decoded.found {
            return Err(reply.malformed("no fileBytes in the reply"));
        }
        Ok(DownloadInfo { file_name: file.file_name, media_type: None, size: decoded.size })
    }

    async fn download_link(&self, id: i64, tipo: u8, sink: Sink<'_>) -> Result<DownloadInfo> {
        let url = self.api(&format!("documents/v2/publicacoes/{id}/download"));
        let query = [("tipoDownload", tipo)];
        let build = |http: &reqwest::Client| http.get(&url).query(&query);
        let reply = self.request(Call::new("download", Idempotency::Read, self, &build)).await?;
        let (file_url, file_name) = match Self::data::<wire::LinkArquivo>(&reply)? {
            wire::LinkArquivo::Url(u) => (u, None),
            wire::LinkArquivo::Object { file_url, url, signed_url, file_name } => {
                let u = file_url
                    .or(url)
                    .or(signed_url)
                    .ok_or_else(|| reply.malformed("no file URL in the reply"))?;
                (u, file_name)
            }
        };
        http::stream_link("tae", &self.base.transport, &file_url, file_name, sink).await
    }
}

#[async_trait]
impl Provider for Tae {
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
            Some(id) => id.parse().map_err(|_| {
                Error::internal(format!("the journal holds {id:?} as a TAE document id"))
            })?,
            None => {
                let first_name = Self::searchable_name(env, &documents[0]);
                // Recorded before the upload: if its answer is lost, the search finds it by this.
                progress.record_id(FILE_NAME, &first_name).await?;
                let id = self.upload(env, documents, &first_name).await?;
                progress.record_id(DOCUMENT_ID, &id.to_string()).await?;
                id
            }
        };
        let handle = self.base.handle(id.to_string(), env);
        // From here on the draft exists at TAE: every error carries its handle.
        async {
            if progress.done(PUBLISHED) {
                return Ok(());
            }
            // A resumed send may follow a publish whose answer was lost: a document that left
            // the draft state was published, and publishing it again would be refused.
            let already = progress.resumed()
                && self.status(&handle).await?.state != crate::model::State::Draft;
            if !already {
                self.publish(id, env, &opts).await?;
            }
            progress.record_step(PUBLISHED).await
        }
        .await
        .map_err(|e| e.with_handle(handle.clone()))?;
        Ok(handle)
    }

    async fn find(&self, _reference: &str, progress: &mut dyn Progress) -> Result<Lookup> {
        if let Some(id) = progress.id(DOCUMENT_ID) {
            return Ok(Lookup::Found { id, sent: progress.done(PUBLISHED) });
        }
        let Some(name) = progress.id(FILE_NAME) else {
            // Nothing was recorded before an upload: none was sent.
            return Ok(Lookup::Absent);
        };
        let body = wire::Pesquisa { pesquisar_em_toda_empresa: true };
        let url = self.api("documents/v1/publicacoes/pesquisas");
        let mut found: Vec<wire::LinhaPesquisa> = Vec::new();
        for page in 1..=SEARCH_PAGES {
            let query = [("PaginaAtual", page), ("TamanhoPagina", SEARCH_PAGE_SIZE)];
            let build = |http: &reqwest::Client| http.post(&url).query(&query).json(&body);
            let reply = self.request(Call::new("find", Idempotency::Read, self, &build)).await?;
            let rows: wire::PaginaPesquisa = Self::data(&reply)?;
            let seen = page * SEARCH_PAGE_SIZE;
            let last = rows.registro.is_empty() || seen >= rows.total;
            found.extend(
                rows.registro.into_iter().filter(|r| r.nome_arquivo.as_deref() == Some(&name)),
            );
            if last {
                let one = match found.as_slice() {
                    [] => return Ok(Lookup::Absent),
                    [one] => one,
                    many => {
                        return Ok(Lookup::Unknowable(format!(
                            "{} TAE documents are named {name:?}",
                            many.len()
                        )));
                    }
                };
                // 5 is a draft (Rascunho): uploaded, not yet published.
                let sent = one.status != Some(5);
                progress.record_id(DOCUMENT_ID, &one.id.to_string()).await?;
                if sent {
                    progress.record_step(PUBLISHED).await?;
                }
                return Ok(Lookup::Found { id: one.id.to_string(), sent });
            }
        }
        Ok(Lookup::Unknowable(format!(
            "TAE's search lists more than {} documents",
            SEARCH_PAGES * SEARCH_PAGE_SIZE
        )))
    }

    async fn status(&self, handle: &Handle) -> Result<Status> {
        let id = Self::document_id(handle)?;
        let url = self.api(&format!("documents/v2/publicacoes/{id}"));
        let build = |http: &reqwest::Client| http.get(&url);
        let reply = self.request(Call::new("status", Idempotency::Read, self, &build)).await?;
        let raw: serde_json::Value = Self::data(&reply)?;
        let detail = wire::PublicacaoDetalhe::deserialize(&raw).map_err(|e| reply.malformed(e))?;
        Ok(map::status(detail, raw, Utc::now()))
    }

    async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo> {
        let id = Self::document_id(handle)?;
        // tipoDownload: 1 original, 2 signed + protocol, 3 signed with certificate, 4 zip.
        let tipo = match kind {
            DownloadKind::Original => 1,
            DownloadKind::Signed => 2,
            DownloadKind::DigitallySigned => 3,
            DownloadKind::Archive => 4,
            DownloadKind::Evidence => return Err(self.unsupported("download of evidence")),
        };
        match self.config.download_form {
            DownloadForm::Base64 => self.download_base64(id, tipo, sink).await,
            DownloadForm::Url => self.download_link(id, tipo, sink).await,
        }
    }

    async fn cancel(&self, handle: &Handle) -> Result<()> {
        let id = Self::document_id(handle)?;
        let url = self.api(&format!("documents/v1/publicacoes/{id}/cancelar"));
        let build = |http: &reqwest::Client| http.post(&url);
        let reply = self.request(Call::new("cancel", Idempotency::Write, self, &build)).await?;
        Self::acknowledged(&reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(settings: serde_json::Value) -> Result<Tae> {
        Tae::build(BuildContext {
            account: "a".into(),
            settings,
            transport: Default::default(),
            signer: Default::default(),
            journal: crate::journal::Journal::in_memory().unwrap(),
        })
    }

    #[test]
    fn success_may_be_missing_but_false_is_a_failure() {
        let tae = build(serde_json::json!({"auth_base": "http://h/identityintegration",
            "api_base": "http://h", "username": "u", "password": "p"}))
        .unwrap();
        let without = Reply::for_test(200, r#"{"data": {"id": 1, "status": 0}}"#);
        tae.classify("status", &without).expect("no `success`: the data decides");
        let failed = Reply::for_test(200, r#"{"success": false, "message": "Falhou."}"#);
        let err = tae.classify("status", &failed).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Provider, "{err}");
    }

    #[test]
    fn settings_are_checked_at_build() {
        let ok = serde_json::json!({"auth_base": "http://h/identityintegration", "api_base": "http://h",
            "username": "u", "password": "p"});
        build(ok.clone()).unwrap();
        let mut bad = ok.clone();
        bad["api_base"] = "ftp://h".into();
        assert!(build(bad).unwrap_err().to_string().contains("api_base"));
        let mut no_password = ok.clone();
        no_password.as_object_mut().unwrap().remove("password");
        assert_eq!(build(no_password).unwrap_err().kind(), ErrorKind::Config);
        let mut token_only = ok.clone();
        token_only.as_object_mut().unwrap().remove("password");
        token_only["token"] = "t".into();
        build(token_only).unwrap();
        let mut env_strings = ok;
        env_strings["allow_reject"] = "false".into();
        env_strings["token_margin_secs"] = "60".into();
        let tae = build(env_strings).unwrap();
        assert!(!tae.config.allow_reject);
        assert_eq!(tae.config.token_margin_secs, 60);
    }

    #[test]
    fn config_debug_hides_secrets() {
        let tae = build(serde_json::json!({"auth_base": "http://h", "api_base": "http://h",
            "username": "u", "password": "hunter2", "token": "tok-123"}))
        .unwrap();
        let dbg = format!("{:?}", tae.config);
        assert!(!dbg.contains("hunter2") && !dbg.contains("tok-123"), "{dbg}");
    }
}
