//! ArqSign's account webhooks (contract §6): the configuration routes
//! (`POST`/`GET /api/v1/confwebhook`, `PATCH /api/v1/confwebhook/{id}/alterar-status`), the
//! triggers (`gatilhos`, §6.2) fired from the process events the simulator records, and the
//! deliveries (§6.3) through the shared [`crate::senders`] machinery, signed with the `HMAC`
//! header: base64 of HMAC-SHA256 over the raw body with the configuration's `chaveHMAC`.
//!
//! Where the contract is weak the payload is configurable (`GET`/`POST
//! /__sandbox/arqsign/webhooks/settings`): key casing (`pascal`, what the one working receiver
//! decodes [W], or the doc sample's `camel`), `DataHoraAtual` format (`doc`: "dd/mm/aaaa
//! hh:mm:ss" in Brasília time, or `iso`) [X], the HMAC encoding (`base64` [W] or `hex`), and the
//! `Evento` names: only `ProcessoConcluido` is evidenced [W]; the others are guesses [I].
//! Group filters (`grupos`) are kept but not applied: the simulated account has no groups.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::model::{Outcome, Process};
use super::{Answer, ArqSign, Fail, bind, guid, ok};
use crate::aspnet::lenient;
use crate::ids::{new_guid, normalize_guid, random_segment};
use crate::senders::{
    AttemptRecord, DeliveryPolicy, DeliveryStatus, Observer, Outbox, Outgoing, Prepared, Render,
    Success,
};

/// §6.1: "Webhooks are account-level (up to 25)".
const MAX_CONFIGS: usize = 25;
/// §6.1: `nome` ≤ 150.
const MAX_NAME: usize = 150;

/// §6.2, the triggers by number, with the manual's names.
const TRIGGERS: [(u8, &str); 8] = [
    (1, "Processo enviado"),
    (2, "Processo com falha de envio"),
    (3, "Processo assinado por algum signatário"),
    (4, "Processo recusado por algum signatário"),
    (5, "Processo cancelado pelo remetente"),
    (6, "Processo expirado"),
    (7, "Processo reenviado"),
    (8, "Processo assinado/concluído por todos os signatários"),
];

/// The delivery policy §6.3 gives: only 200 succeeds, a 100 s timeout, 14 attempts at offsets
/// 0, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 16 h, 1 d, 2 d, 3 d, 4 d, 5 d (so these
/// delays between them), and 401/403/404 stop at once.
pub(super) fn default_policy() -> DeliveryPolicy {
    const MIN: u64 = 60_000;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    DeliveryPolicy {
        timeout_ms: 100_000,
        max_attempts: 14,
        backoff_ms: vec![
            5 * MIN,
            10 * MIN,
            15 * MIN,
            30 * MIN,
            HOUR,
            2 * HOUR,
            4 * HOUR,
            8 * HOUR,
            8 * HOUR,
            DAY,
            DAY,
            DAY,
            DAY,
        ],
        success: Success::Only200,
        give_up_statuses: vec![401, 403, 404],
        concurrency: 4,
        hold: false,
    }
}

/// `status` of a configuration (§6.1).
mod config_status {
    pub const ATIVO: i64 = 1;
    pub const INATIVO: i64 = 2;
    pub const INATIVO_POR_FALHAS: i64 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Casing {
    Pascal,
    Camel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum DateFormat {
    Doc,
    Iso,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Encoding {
    Base64,
    Hex,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Settings {
    casing: Casing,
    date_format: DateFormat,
    hmac_encoding: Encoding,
    /// `Evento` by trigger number.
    event_names: BTreeMap<u8, String>,
}

impl Default for Settings {
    fn default() -> Settings {
        let names = [
            "ProcessoEnviado",
            "ProcessoFalhaEnvio",
            "ProcessoAssinado",
            "ProcessoRecusado",
            "ProcessoCancelado",
            "ProcessoExpirado",
            "ProcessoReenviado",
            "ProcessoConcluido",
        ];
        Settings {
            casing: Casing::Pascal,
            date_format: DateFormat::Doc,
            hmac_encoding: Encoding::Base64,
            event_names: (1..).zip(names.map(String::from)).collect(),
        }
    }
}

#[derive(Debug, Clone)]
struct DadosRetorno {
    processo: bool,
    signatarios: bool,
    documentos: bool,
    documentos_tipo: Option<i64>,
    link_doc_compartilhado: bool,
    registros_assinatura: bool,
    registros_assinatura_tipo: Option<i64>,
}

#[derive(Clone)]
struct ConfWebhook {
    id: String,
    nome: String,
    status: i64,
    url: String,
    aguardar_retorno: bool,
    usuarios: Vec<String>,
    grupos: Vec<String>,
    pastas: Vec<String>,
    /// Trigger number → active.
    gatilhos: BTreeMap<u8, bool>,
    dados: DadosRetorno,
    chave_hmac: String,
}

/// The account's webhook configurations and how far the sender has read each process's events.
#[derive(Default)]
pub(super) struct Hooks {
    configs: Vec<ConfWebhook>,
    /// Process id → events already turned into deliveries.
    seen: HashMap<String, usize>,
    settings: Settings,
    /// Where the sandbox was reached, for document links.
    origin: Option<String>,
}

// ---- configuration routes --------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DadosRetornoForm {
    #[serde(default, deserialize_with = "lenient::boolean")]
    processo: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    signatarios: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    documentos: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    documentos_tipo: Option<i64>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    link_doc_compartilhado: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    registros_assinatura: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    registros_assinatura_tipo: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfForm {
    #[serde(default)]
    nome: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    status: Option<i64>,
    #[serde(default)]
    url_publicar: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    aguardar_retorno: Option<bool>,
    #[serde(default)]
    usuarios: Option<Vec<String>>,
    #[serde(default)]
    grupos: Option<Vec<String>>,
    #[serde(default)]
    pastas: Option<Vec<String>>,
    #[serde(default)]
    gatilhos: Option<Vec<i64>>,
    #[serde(default)]
    dados_retorno: Option<DadosRetornoForm>,
}

fn required(field: &str) -> Fail {
    Fail::bad_request(format!("O campo {field} é obrigatório."))
}

/// `POST /api/v1/confwebhook` (§6.1): 200 `{id, nome, chaveHMAC}`.
pub(super) async fn create(State(arq): State<ArqSign>, body: Bytes) -> Answer {
    let form: ConfForm = bind(&body)?;
    let mut state = arq.lock();
    let nome = form.nome.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let nome = nome.ok_or_else(|| required("nome"))?;
    if nome.chars().count() > MAX_NAME {
        return Err(Fail::bad_request(format!("O campo nome aceita até {MAX_NAME} caracteres.")));
    }
    if state.hooks.configs.iter().any(|c| c.nome.eq_ignore_ascii_case(&nome)) {
        return Err(Fail::bad_request("Já existe uma configuração de webhook com este nome."));
    }
    let status = form.status.ok_or_else(|| required("status"))?;
    if ![config_status::ATIVO, config_status::INATIVO].contains(&status) {
        return Err(Fail::bad_request("O campo status deve ser 1 (Ativo) ou 2 (Inativo)."));
    }
    // §6.1: "spaces are removed".
    let url: String =
        form.url_publicar.unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    if url.is_empty() {
        return Err(required("urlPublicar"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Fail::bad_request("O campo urlPublicar deve ser uma URL."));
    }
    let gatilhos = form.gatilhos.unwrap_or_default();
    if gatilhos.is_empty() {
        return Err(required("gatilhos"));
    }
    if let Some(bad) = gatilhos.iter().find(|g| !(1..=8).contains(*g)) {
        return Err(Fail::bad_request(format!("Gatilho {bad} inexistente.")));
    }
    let dados = form.dados_retorno.map_or(
        Ok(DadosRetorno {
            processo: false,
            signatarios: false,
            documentos: false,
            documentos_tipo: None,
            link_doc_compartilhado: false,
            registros_assinatura: false,
            registros_assinatura_tipo: None,
        }),
        dados_retorno,
    )?;
    let usuarios = ids(form.usuarios, "usuarios")?;
    // §6.1: "Only ids that belong to the account (and active users) are saved."
    for user in &usuarios {
        let found = state
            .account
            .user(user)
            .ok_or_else(|| Fail::bad_request("Usuário(s) não encontrado(s)."))?;
        if found.status != super::account::UserStatus::Active {
            return Err(Fail::bad_request("Somente é permitido usuários com status ativo."));
        }
    }
    let pastas = ids(form.pastas, "pastas")?;
    if pastas.iter().any(|p| state.account.folder(p).is_none()) {
        return Err(Fail::bad_request("Pastas(s) não encontrada(s)."));
    }
    let grupos = ids(form.grupos, "grupos")?;
    if !grupos.is_empty() {
        return Err(Fail::bad_request("Grupo(s) não encontrado(s)."));
    }
    if state.hooks.configs.len() >= MAX_CONFIGS {
        return Err(Fail::bad_request(format!(
            "A conta atingiu o limite máximo de {MAX_CONFIGS} configurações de webhook."
        )));
    }
    let config = ConfWebhook {
        id: new_guid(),
        nome,
        status,
        url,
        aguardar_retorno: form.aguardar_retorno.unwrap_or(false),
        usuarios,
        grupos,
        pastas,
        gatilhos: gatilhos.iter().map(|g| (*g as u8, true)).collect(),
        dados,
        chave_hmac: random_segment(43),
    };
    // Only events from now on are delivered to a new configuration.
    let seen: Vec<(String, usize)> =
        state.processes().map(|p| (p.id.clone(), p.events.len())).collect();
    for (id, count) in seen {
        state.hooks.seen.entry(id).or_insert(count);
    }
    let answer = json!({ "id": config.id, "nome": config.nome, "chaveHMAC": config.chave_hmac });
    state.hooks.configs.push(config);
    ok(&answer)
}

fn dados_retorno(form: DadosRetornoForm) -> Result<DadosRetorno, Fail> {
    let documentos = form.documentos.unwrap_or(false);
    if documentos && !matches!(form.documentos_tipo, Some(1 | 2)) {
        return Err(Fail::bad_request("O campo documentosTipo é obrigatório (1 ou 2)."));
    }
    let registros = form.registros_assinatura.unwrap_or(false);
    if registros && !matches!(form.registros_assinatura_tipo, Some(1 | 2)) {
        return Err(Fail::bad_request("O campo registrosAssinaturaTipo é obrigatório (1 ou 2)."));
    }
    Ok(DadosRetorno {
        processo: form.processo.unwrap_or(false),
        signatarios: form.signatarios.unwrap_or(false),
        documentos,
        documentos_tipo: form.documentos_tipo.filter(|_| documentos),
        link_doc_compartilhado: form.link_doc_compartilhado.unwrap_or(false),
        registros_assinatura: registros,
        registros_assinatura_tipo: form.registros_assinatura_tipo.filter(|_| registros),
    })
}

fn ids(list: Option<Vec<String>>, field: &str) -> Result<Vec<String>, Fail> {
    let list = list.unwrap_or_default();
    for id in &list {
        guid(id, field)?;
    }
    Ok(list.iter().map(|id| normalize_guid(id)).collect())
}

/// `GET /api/v1/confwebhook` (§6.1): sorted by name, with the GET's own spellings
/// (`aguardaRetorno`, `linkDocumentoCompartilhado`) [X as documented].
pub(super) async fn list(State(arq): State<ArqSign>) -> Answer {
    let state = arq.lock();
    let mut configs: Vec<&ConfWebhook> = state.hooks.configs.iter().collect();
    configs.sort_by_key(|c| c.nome.to_lowercase());
    let answer: Vec<Value> = configs
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id,
                "nome": c.nome,
                "status": c.status,
                "urlPublicar": c.url,
                "aguardaRetorno": c.aguardar_retorno,
                "hmac": c.chave_hmac,
                "usuarios": c.usuarios,
                "grupos": c.grupos,
                "pastas": c.pastas,
                "gatilhos": c.gatilhos.iter().map(|(id, ativo)| json!({
                    "id": id,
                    "nome": TRIGGERS.iter().find(|(n, _)| n == id).map_or("", |(_, name)| *name),
                    "ativo": ativo,
                })).collect::<Vec<_>>(),
                "dadosRetorno": {
                    "processo": c.dados.processo,
                    "signatarios": c.dados.signatarios,
                    "documentos": c.dados.documentos,
                    "documentosTipo": c.dados.documentos_tipo,
                    "linkDocumentoCompartilhado": c.dados.link_doc_compartilhado,
                    "registrosAssinatura": c.dados.registros_assinatura,
                    "registrosAssinaturaTipo": c.dados.registros_assinatura_tipo,
                },
            })
        })
        .collect();
    ok(&answer)
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default, deserialize_with = "lenient::int")]
    status: Option<i64>,
}

/// `PATCH /api/v1/confwebhook/{id}/alterar-status` (§6.1): `{status: 1 | 2}`, 200 without a
/// body. Activating resets the triggers and re-queues the failed deliveries (§6.3).
pub(super) async fn set_status(
    State(arq): State<ArqSign>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::response::Response, Fail> {
    guid(&id, "idConfWebHook")?;
    let form: StatusForm = bind(&body)?;
    let status = form.status.ok_or_else(|| required("status"))?;
    if ![config_status::ATIVO, config_status::INATIVO].contains(&status) {
        return Err(Fail::bad_request("O campo status deve ser 1 (Ativo) ou 2 (Inativo)."));
    }
    let id = normalize_guid(&id);
    {
        let mut state = arq.lock();
        let config = state
            .hooks
            .configs
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| Fail::bad_request(super::msg::unknown_ids("idConfWebHook")))?;
        config.status = status;
        if status == config_status::ATIVO {
            config.gatilhos.values_mut().for_each(|ativo| *ativo = true);
        }
    }
    let mine = |tag: &Value| tag["webhook"] == json!(id);
    if status == config_status::ATIVO {
        arq.outbox.requeue_failed(mine);
    } else {
        arq.outbox.cancel_pending(mine);
    }
    Ok(StatusCode::OK.into_response())
}

// ---- sandbox settings ------------------------------------------------------------------------

pub(super) async fn settings(State(arq): State<ArqSign>) -> Json<Settings> {
    Json(arq.lock().hooks.settings.clone())
}

pub(super) async fn set_settings(
    State(arq): State<ArqSign>,
    body: Bytes,
) -> Result<Json<Settings>, crate::control::ControlError> {
    let settings: Settings = serde_json::from_slice(&body).map_err(|e| {
        crate::control::ControlError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}"))
    })?;
    arq.lock().hooks.settings = settings.clone();
    Ok(Json(settings))
}

// ---- triggers and deliveries -----------------------------------------------------------------

/// The trigger (§6.2) a process event fires.
fn trigger(kind: &str) -> Option<u8> {
    Some(match kind {
        "sent" => 1,
        "delivery_failed" => 2,
        "signed" => 3,
        "refused" => 4,
        "cancelled" => 5,
        "expired" => 6,
        "resent" => 7,
        "concluded" => 8,
        _ => return None,
    })
}

/// Turns the events recorded since the last call into deliveries to every active
/// configuration whose trigger and filters match. Called after every request.
pub(super) fn emit(arq: &ArqSign, origin: Option<String>) {
    let outgoing = {
        let mut state = arq.lock();
        if let Some(origin) = origin {
            state.hooks.origin = Some(origin);
        }
        if state.hooks.configs.is_empty() {
            return;
        }
        let mut fired = Vec::new();
        for process in state.processes() {
            let seen = state.hooks.seen.get(&process.id).copied().unwrap_or(0);
            for event in process.events.iter().skip(seen) {
                if let Some(trigger) = trigger(event.kind) {
                    let signer = event.recipient.as_ref().map(|r| r.id.clone());
                    fired.push((process.id.clone(), trigger, signer));
                }
            }
        }
        let counts: Vec<(String, usize)> =
            state.processes().map(|p| (p.id.clone(), p.events.len())).collect();
        state.hooks.seen.extend(counts);
        let mut outgoing = Vec::new();
        for (process_id, trigger, signer) in fired {
            let Ok(process) = state.any_process(&process_id) else { continue };
            for config in &state.hooks.configs {
                let wanted = config.status == config_status::ATIVO
                    && config.gatilhos.get(&trigger) == Some(&true)
                    && (config.usuarios.is_empty()
                        || config.usuarios.contains(&normalize_guid(&process.responsible_id)))
                    && (config.pastas.is_empty()
                        || config.pastas.contains(&normalize_guid(&process.folder_id)));
                if wanted {
                    outgoing.push(delivery(
                        &state.hooks,
                        config,
                        process,
                        trigger,
                        signer.as_deref(),
                    ));
                }
            }
        }
        outgoing
    };
    for outgoing in outgoing {
        arq.outbox.enqueue(outgoing);
    }
}

fn delivery(
    hooks: &Hooks,
    config: &ConfWebhook,
    process: &Process,
    trigger: u8,
    signer: Option<&str>,
) -> Outgoing {
    let settings = &hooks.settings;
    let event = settings.event_names.get(&trigger).cloned().unwrap_or_default();
    let body = body(hooks, config, process, trigger, signer, &event);
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mac = hmac_sha256(config.chave_hmac.as_bytes(), &body);
    let signature = match settings.hmac_encoding {
        Encoding::Base64 => STANDARD.encode(mac),
        Encoding::Hex => mac.iter().map(|b| format!("{b:02x}")).collect(),
    };
    let prepared = Prepared {
        url: config.url.clone(),
        headers: vec![
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
            ("HMAC".into(), signature),
        ],
        body,
    };
    let render: Render = Arc::new(move || Ok(prepared.clone()));
    Outgoing {
        event,
        tag: json!({
            "webhook": config.id,
            "process": process.id,
            "trigger": trigger,
            "signer": signer,
        }),
        render,
        // §6.3: with `aguardarRetorno` 0 a timeout is not a failure.
        timeout_is_success: !config.aguardar_retorno,
    }
}

pub(crate) fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn date(at: DateTime<Utc>, format: DateFormat) -> String {
    match format {
        DateFormat::Iso => crate::aspnet::wire_utc(at),
        DateFormat::Doc => {
            // [I] Brasília time (UTC−3): the manual's examples are local.
            (at - chrono::Duration::hours(3)).format("%d/%m/%Y %H:%M:%S").to_string()
        }
    }
}

/// §6.3's body, in the configured casing: the general data always, then the blocks
/// `dadosRetorno` asks for.
fn body(
    hooks: &Hooks,
    config: &ConfWebhook,
    process: &Process,
    trigger: u8,
    signer: Option<&str>,
    event: &str,
) -> Value {
    let format = hooks.settings.date_format;
    let when = |at: Option<DateTime<Utc>>| at.map_or(Value::Null, |at| json!(date(at, format)));
    let mut body = Map::new();
    body.insert("Evento".into(), json!(event));
    body.insert("IdProcesso".into(), json!(process.id));
    body.insert("IdConta".into(), json!(super::ACCOUNT_ID));
    body.insert("IdWebhook".into(), json!(config.id));
    body.insert("DataHoraAtual".into(), json!(date(Utc::now(), format)));
    let dados = &config.dados;
    if dados.processo {
        body.insert("NomeProcesso".into(), json!(process.name));
        body.insert("IdPasta".into(), json!(process.folder_id));
        body.insert("IdResponsavel".into(), json!(process.responsible_id));
        body.insert("Status".into(), json!(process.status));
        body.insert("DataCadastro".into(), when(Some(process.created_at)));
        body.insert("DataEnvio".into(), when(Some(process.sent_at)));
        body.insert("DataConclusao".into(), when(process.concluded_at));
        body.insert("DataReenvio".into(), when(process.resent_at));
        body.insert("DataExpiracao".into(), when(Some(process.expires_at)));
        body.insert("ExpiracaoDias".into(), json!(process.expiry_days));
    }
    if dados.signatarios {
        // §6.2: triggers 2 and 3 carry only the signer concerned.
        let only = if matches!(trigger, 2 | 3) { signer } else { None };
        let signers: Vec<Value> = process
            .signers()
            .filter(|r| only.is_none_or(|id| r.id == id))
            .map(|r| {
                let (refused, reason) = match &r.outcome {
                    Outcome::Refused { reason, .. } => ("Sim", Some(reason.clone())),
                    _ => ("Não", None),
                };
                let signature = match &r.outcome {
                    Outcome::Signed(s) => json!({
                        "TipoAssinatura": r.signature_type,
                        "DataAssinatura": date(s.at, format),
                        "Ip": s.ip,
                    }),
                    _ => Value::Null,
                };
                json!({
                    "OrdemAssinatura": r.order,
                    "Id": r.id,
                    "Nome": r.name,
                    "Email": r.email,
                    "Telefone": r.phone,
                    "AssinaturaRecusada": refused,
                    "MotivoRecusa": reason,
                    "DadosAssinatura": signature,
                })
            })
            .collect();
        body.insert("Signatarios".into(), json!(signers));
    }
    if dados.documentos {
        let origin = hooks.origin.clone().unwrap_or_default();
        let documents: Vec<Value> = process
            .documents
            .iter()
            .map(|d| {
                let mut document = Map::new();
                document.insert("Id".into(), json!(d.id));
                document.insert("OrdemDocumento".into(), json!(d.order));
                document.insert("NomeDocumento".into(), json!(d.name));
                if dados.documentos_tipo == Some(1) {
                    // The file as sent: the signed rendition is built on download only.
                    document.insert("Base64Documento".into(), json!(STANDARD.encode(&d.bytes)));
                }
                if dados.documentos_tipo == Some(2) || dados.link_doc_compartilhado {
                    let link = format!("{origin}/arqsign-app/compartilhado/{}", d.id);
                    document.insert("LinkDocumentosCompartilhados".into(), json!(link));
                }
                Value::Object(document)
            })
            .collect();
        body.insert("Documentos".into(), json!(documents));
    }
    let body = Value::Object(body);
    match hooks.settings.casing {
        Casing::Pascal => body,
        Casing::Camel => camel(body),
    }
}

/// The same body with every key's first letter in lower case (the doc sample's casing).
fn camel(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let mut chars = key.chars();
                    let key = chars
                        .next()
                        .map(|first| first.to_lowercase().chain(chars).collect())
                        .unwrap_or_default();
                    (key, camel(value))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel).collect()),
        other => other,
    }
}

/// Applies §6.3's consequences of failures to the configurations.
pub(super) struct Consequences {
    pub state: Arc<Mutex<super::state::State>>,
    pub outbox: Weak<Outbox>,
}

impl Observer for Consequences {
    fn attempted(&self, tag: &Value, record: &AttemptRecord, status: DeliveryStatus) {
        if status != DeliveryStatus::Failed {
            return;
        }
        let Some(id) = tag["webhook"].as_str() else { return };
        let trigger = tag["trigger"].as_u64().and_then(|t| u8::try_from(t).ok());
        let whole = record.status.is_some_and(|s| matches!(s, 401 | 403 | 404));
        {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(config) = state.hooks.configs.iter_mut().find(|c| c.id == id) else { return };
            if whole {
                // §6.3: 401, 403 or 404 turn the whole webhook "Inativo por falhas" at once.
                config.status = config_status::INATIVO_POR_FALHAS;
            } else if let Some(ativo) = trigger.and_then(|t| config.gatilhos.get_mut(&t)) {
                // §6.3: out of attempts, the trigger is set "Inativo por falhas recorrentes".
                *ativo = false;
            }
        }
        if whole {
            if let Some(outbox) = self.outbox.upgrade() {
                outbox.cancel_pending(|tag| tag["webhook"] == json!(id));
            }
        }
    }
}
