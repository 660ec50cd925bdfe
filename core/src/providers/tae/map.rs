//! TAE ↔ neutral model: the status table, the publish body, and error kinds.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::wire;
use crate::error::{Error, ErrorKind};
use crate::model::{Envelope, Party, PartyState, PartyStatus, Role, State, Status};
use crate::providers::{http, lenient};
use crate::transport::Reply;

/// TAE document status (`status`) → neutral state. The table is also in the README.
///
/// | code | TAE label                | neutral                                                   |
/// |------|--------------------------|-----------------------------------------------------------|
/// | 0    | Pendente                 | `sent` (`expired` once `dataExpiracao` has passed)        |
/// | 1    | Assinado parcialmente    | `partially_signed` (`expired` once `dataExpiracao` passed) |
/// | 2    | Finalizado               | `completed`                                               |
/// | 4    | Rejeitado                | `rejected` (reason from `motivoRejeicao`)                 |
/// | 5    | Rascunho                 | `draft`; `cancelled` when it lists recipients, since a cancelled publication returns to 5 |
/// | 7    | Cancelado                | `cancelled`                                               |
/// | 3, 6 | list filters ("Todos", "Pendente comigo"), never a document's state | `unknown` |
/// | else | —                        | `unknown`, the code kept in `provider_status`             |
///
/// TAE has no "expired" code; expiry is read from the publish options it echoes back.
pub fn state(code: i64, has_recipients: bool, expired: bool) -> State {
    match code {
        0 | 1 if expired => State::Expired,
        0 => State::Sent,
        1 => State::PartiallySigned,
        2 => State::Completed,
        4 => State::Rejected,
        5 if has_recipients => State::Cancelled,
        5 => State::Draft,
        7 => State::Cancelled,
        _ => State::Unknown,
    }
}

/// Signer action (`acao`): 0 Assinar, 1 Validar, 2 Testemunhar (contract §5.2).
pub fn role(acao: Option<i64>) -> Option<Role> {
    match acao? {
        0 => Some(Role::Sign),
        1 => Some(Role::Approve),
        2 => Some(Role::Witness),
        _ => None,
    }
}

fn acao(role: Role) -> i32 {
    match role {
        Role::Sign => 0,
        Role::Approve => 1,
        Role::Witness => 2,
        Role::Observe => unreachable!("observers are sent as observadores"),
    }
}

fn papel(role: Role) -> &'static str {
    match role {
        Role::Sign => "como assinante",
        Role::Approve => "como validador",
        Role::Witness => "como testemunha",
        Role::Observe => "como observador",
    }
}

pub fn status(
    detail: wire::PublicacaoDetalhe,
    raw: serde_json::Value,
    now: DateTime<Utc>,
) -> Status {
    let expires_at = detail
        .publicacao_opcoes
        .as_ref()
        .and_then(|o| o.data_expiracao.as_deref())
        .and_then(lenient::utc_date);
    let expired = expires_at.is_some_and(|at| at <= now);
    let assinantes = detail.assinantes.unwrap_or_default();
    let pendentes = detail.pendentes.unwrap_or_default();
    let has_recipients = !assinantes.is_empty() || !pendentes.is_empty();

    // A party is done when its e-mail is among `assinantes` and not among `pendentes`.
    let pending: HashMap<String, ()> = pendentes
        .iter()
        .filter_map(|p| p.email.as_deref())
        .map(|e| (e.to_lowercase(), ()))
        .collect();
    let mut parties: Vec<PartyStatus> = assinantes
        .iter()
        .filter(|a| a.email.as_deref().is_none_or(|e| !pending.contains_key(&e.to_lowercase())))
        .map(|a| PartyStatus {
            email: a.email.clone(),
            name: a.nome.clone(),
            role: role(a.acao),
            state: PartyState::Signed,
            acted_at: a.data.as_deref().and_then(lenient::utc_date),
        })
        .collect();
    parties.extend(pendentes.iter().map(|p| PartyStatus {
        email: p.email.clone(),
        name: p.nome.clone(),
        role: role(p.acao),
        state: PartyState::Pending,
        acted_at: None,
    }));

    Status {
        state: state(detail.status, has_recipients, expired),
        provider_status: detail.status.to_string(),
        parties,
        reason: detail.motivo_rejeicao.filter(|r| !r.trim().is_empty()),
        updated_at: detail.rec_modified_on.as_deref().and_then(lenient::utc_date),
        expires_at,
        raw,
    }
}

/// How recipients prove who they are (`tipoAutenticacao`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// 1: the recipient has a TAE account.
    Login,
    /// 2: a code is e-mailed to the recipient (needs the full name).
    EmailCode,
}

/// Publish settings after per-envelope options are laid over the account's.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub authentication: Authentication,
    pub allow_reject: bool,
    pub notify: bool,
    pub handwritten: bool,
}

/// `tipoIdentificacao` + `identificacao` from a tax id: 1 = CPF (11 digits) or CNPJ (14),
/// 2 = a foreign id (1–30 characters), 3 = none given (contract §5.5).
pub fn identification(tax_id: Option<&str>) -> Result<(i32, Option<String>), String> {
    let Some(raw) = tax_id.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((3, None));
    };
    let punctuation = |c: char| matches!(c, '.' | '-' | '/' | ' ');
    if raw.chars().all(|c| c.is_ascii_digit() || punctuation(c)) {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        return match digits.len() {
            11 | 14 => Ok((1, Some(digits))),
            n => Err(format!("a CPF has 11 digits and a CNPJ 14, this has {n}")),
        };
    }
    match raw.chars().count() {
        1..=30 => Ok((2, Some(raw.to_string()))),
        n => Err(format!("a foreign id has at most 30 characters, this has {n}")),
    }
}

/// The publish body for document `id`. The envelope has been validated.
pub fn publicacao(id: i64, env: &Envelope, opts: &PublishOptions) -> wire::Publicacao {
    let expiry = env.deadline.map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true));
    let actors: Vec<&Party> = env.parties.iter().filter(|p| p.role != Role::Observe).collect();
    let destinatarios = actors
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (tipo_identificacao, identificacao) =
                identification(p.tax_id.as_deref()).unwrap_or((3, None));
            let email_code = opts.authentication == Authentication::EmailCode;
            wire::Destinatario {
                email: p.email.clone().unwrap_or_default(),
                acao: acao(p.role),
                workflow: if env.sequential { p.order.unwrap_or(i as u32 + 1) } else { 0 },
                papel_assinante: papel(p.role).into(),
                nome_completo: p.name.clone(),
                tipo_autenticacao: if email_code { 2 } else { 1 },
                tipo_identificacao,
                identificacao,
                notifica_envio: opts.notify,
                tipo_envio_documento: 1,
                tipo_envio_codigo: email_code.then_some(1),
                telefone: p.phone.clone(),
            }
        })
        .collect();
    let observadores = env
        .parties
        .iter()
        .filter(|p| p.role == Role::Observe)
        .filter_map(|p| p.email.clone())
        .map(|email| wire::Observador { email })
        .collect();
    let message = env.message.clone().unwrap_or_default();
    wire::Publicacao {
        id_documento: id,
        destinatarios,
        observadores,
        utiliza_workflow: env.sequential,
        responsavel_assina_documento: false,
        endereco_ip: String::new(),
        data_expiracao: expiry.clone(),
        publicacao_opcoes: wire::PublicacaoOpcoes {
            id_documento: id,
            solicita_assinatura_manuscrita: opts.handwritten,
            assunto_mensagem: message.subject.unwrap_or_else(|| env.title.clone()),
            corpo_mensagem: message.body.unwrap_or_default(),
            permite_rejeitar_documento: opts.allow_reject,
            intervalo_lembrete: env.reminder_days.unwrap_or(0),
            data_expiracao: expiry,
        },
    }
}

const NOT_FOUND: &str = "Documento não encontrado.";

/// A failed documents/signintegration reply as an error. `bad_request` is what a 400 means
/// for this operation (invalid input, or a state that forbids it).
pub fn documents_error(op: &'static str, reply: &Reply, bad_request: ErrorKind) -> Error {
    let parsed: Option<wire::DocumentsResponse<serde_json::Value>> =
        serde_json::from_slice(&reply.body).ok();
    let provider_message = match &parsed {
        Some(r) => {
            let errors: Vec<String> = r
                .errors
                .iter()
                .flatten()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .collect();
            match (&r.message, errors.is_empty()) {
                (Some(m), true) => m.clone(),
                (Some(m), false) if errors.contains(m) => errors.join("; "),
                (Some(m), false) => format!("{m}; {}", errors.join("; ")),
                (None, _) => errors.join("; "),
            }
        }
        None => http::body_excerpt(&reply.body),
    };
    // TAE says "not found" in words, whatever the status.
    let not_found = provider_message.contains(NOT_FOUND);
    let err = http::reply_error("tae", op, reply, bad_request, provider_message);
    if not_found { http::refine(err, ErrorKind::NotFound) } else { err }
}

/// A failed identity reply (login) as an error: a refusal is an auth error.
pub fn identity_error(reply: &Reply) -> Error {
    let parsed: Option<wire::IdentityResponse<serde_json::Value>> =
        serde_json::from_slice(&reply.body).ok();
    let message = parsed
        .and_then(|r| {
            r.description.filter(|d| !d.is_empty()).or_else(|| {
                r.messages?.into_iter().find_map(|m| m.description.filter(|d| !d.is_empty()))
            })
        })
        .unwrap_or_else(|| http::body_excerpt(&reply.body));
    let err = http::reply_error("tae", "login", reply, ErrorKind::Auth, message);
    match err.kind() {
        ErrorKind::RateLimited | ErrorKind::Provider => err,
        _ => err.with_kind(ErrorKind::Auth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn reply(status: u16, body: &str) -> Reply {
        Reply::for_test(status, body)
    }

    #[test]
    fn every_documented_code_maps_to_one_state() {
        assert_eq!(state(0, true, false), State::Sent);
        assert_eq!(state(1, true, false), State::PartiallySigned);
        assert_eq!(state(2, true, false), State::Completed);
        assert_eq!(state(4, true, false), State::Rejected);
        assert_eq!(state(5, false, false), State::Draft);
        assert_eq!(state(5, true, false), State::Cancelled);
        assert_eq!(state(7, true, false), State::Cancelled);
        assert_eq!(state(0, true, true), State::Expired);
        assert_eq!(state(1, true, true), State::Expired);
        assert_eq!(state(2, true, true), State::Completed, "finished before expiry stays finished");
        for unknown in [3, 6, 8, 99, -1] {
            assert_eq!(state(unknown, true, false), State::Unknown, "{unknown}");
        }
    }

    fn detail(json: serde_json::Value) -> wire::PublicacaoDetalhe {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn status_reads_parties_by_membership() {
        let raw = serde_json::json!({
            "status": 1, "recModifiedOn": "2025-06-02T09:30:00.5", "motivoRejeicao": null,
            "publicacaoOpcoes": {"dataExpiracao": "2099-07-01T23:59:59"},
            "assinantes": [
                {"email": "Cliente@exemplo.com", "nome": "Maria", "data": "2025-06-02T09:30:00.5", "acao": 0},
                {"email": "gestor@empresa.com.br", "nome": "João", "data": "2025-06-02T09:00:00", "acao": 1}],
            "pendentes": [{"email": "gestor@empresa.com.br", "nome": "João", "acao": 1, "pendente": false}]
        });
        let now = Utc::now();
        let s = status(detail(raw.clone()), raw, now);
        assert_eq!(s.state, State::PartiallySigned);
        assert_eq!(s.provider_status, "1");
        assert_eq!(s.parties.len(), 2, "{:?}", s.parties);
        assert_eq!(s.parties[0].state, PartyState::Signed);
        assert_eq!(s.parties[0].role, Some(Role::Sign));
        assert_eq!(s.parties[0].acted_at.unwrap().to_rfc3339(), "2025-06-02T09:30:00.500+00:00");
        assert_eq!(s.parties[1].email.as_deref(), Some("gestor@empresa.com.br"));
        assert_eq!(s.parties[1].state, PartyState::Pending, "listed in pendentes, so not done");
        assert_eq!(s.parties[1].role, Some(Role::Approve));
        assert_eq!(s.updated_at.unwrap().to_rfc3339(), "2025-06-02T09:30:00.500+00:00");
    }

    #[test]
    fn rejected_keeps_the_reason_and_unknown_keeps_the_code() {
        let raw = serde_json::json!({"status": 4, "motivoRejeicao": "Valor errado"});
        let s = status(detail(raw.clone()), raw, Utc::now());
        assert_eq!((s.state, s.reason.as_deref()), (State::Rejected, Some("Valor errado")));
        let raw = serde_json::json!({"status": 42});
        let s = status(detail(raw.clone()), raw, Utc::now());
        assert_eq!((s.state, s.provider_status.as_str()), (State::Unknown, "42"));
    }

    #[test]
    fn past_expiry_on_a_pending_document_is_expired() {
        let raw = serde_json::json!({"status": 0, "publicacaoOpcoes": {"dataExpiracao": "2020-01-01"},
            "pendentes": [{"email": "a@b.com", "acao": 0}]});
        let s = status(detail(raw.clone()), raw, Utc::now());
        assert_eq!(s.state, State::Expired);
        assert_eq!(s.expires_at.unwrap().to_rfc3339(), "2020-01-01T00:00:00+00:00");
    }

    #[test]
    fn tax_ids_become_identification() {
        assert_eq!(identification(None), Ok((3, None)));
        assert_eq!(identification(Some("111.444.777-35")), Ok((1, Some("11144477735".into()))));
        assert_eq!(
            identification(Some("11.222.333/0001-81")),
            Ok((1, Some("11222333000181".into())))
        );
        assert_eq!(identification(Some("AB123456")), Ok((2, Some("AB123456".into()))));
        assert!(identification(Some("123")).unwrap_err().contains("11 digits"));
        assert!(identification(Some(&"X".repeat(31))).unwrap_err().contains("30"));
    }

    #[test]
    fn errors_keep_status_and_provider_message() {
        let e = documents_error(
            "status",
            &reply(
                404,
                r#"{"success": false, "message": "Documento não encontrado.", "errors": ["Documento não encontrado."]}"#,
            ),
            ErrorKind::Validation,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.http_status(), Some(404));
        assert_eq!(e.provider_message(), Some("Documento não encontrado."));

        let e = documents_error(
            "publish",
            &reply(
                400,
                r#"{"success": false, "errors": ["Existem destinatários repetidos: a@b.com"], "code": 400}"#,
            ),
            ErrorKind::Validation,
        );
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(e.provider_message(), Some("Existem destinatários repetidos: a@b.com"));

        let e = documents_error("cancel", &reply(400, r#"{"success":false}"#), ErrorKind::Conflict);
        assert_eq!(e.kind(), ErrorKind::Conflict);

        let mut r = reply(429, "");
        r.headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let e = documents_error("status", &r, ErrorKind::Validation);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
        assert_eq!(
            e.retry(),
            crate::error::Retry::Temporary,
            "the transport decides whether to wait"
        );

        let e = documents_error(
            "status",
            &reply(503, "<html>Service\n Unavailable</html>"),
            ErrorKind::Validation,
        );
        assert_eq!(e.kind(), ErrorKind::Provider);
        assert_eq!(e.provider_message(), Some("<html>Service Unavailable</html>"));
    }

    #[test]
    fn login_errors_read_description_or_messages() {
        let e = identity_error(&reply(
            400,
            r#"{"succeeded": false, "description": "Usuário ou senha inválidos.", "data": null}"#,
        ));
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.provider_message(), Some("Usuário ou senha inválidos."));
        let e = identity_error(&reply(
            401,
            r#"{"succeeded": false, "description": "", "messages": [{"description": "Bloqueado"}]}"#,
        ));
        assert_eq!(e.provider_message(), Some("Bloqueado"));
        assert_eq!(identity_error(&reply(502, "")).kind(), ErrorKind::Provider);
        assert_eq!(identity_error(&reply(404, "")).kind(), ErrorKind::Auth);
    }
}
