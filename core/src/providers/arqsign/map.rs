//! ArqSign ↔ neutral model: the status table, the send body, local rules, and error kinds.

use chrono::{DateTime, Utc};

use super::wire;
use crate::error::{Error, ErrorKind};
use crate::model::{Envelope, Party, PartyState, PartyStatus, Role, State, Status};
use crate::providers::{http, lenient};
use crate::transport::Reply;

/// ArqSign process status (`idStatus`; `status` is a label in the sender's language) → neutral
/// state. The table is also in the README.
///
/// | idStatus | label        | neutral                                                        |
/// |----------|--------------|----------------------------------------------------------------|
/// | 1        | Criado       | `draft`                                                        |
/// | 2        | Aguardando   | `sent` (`expired` when `expirado`)                             |
/// | 3        | Em processo  | `partially_signed` (`expired` when `expirado`)                 |
/// | 4        | Concluído    | `completed`                                                    |
/// | 5        | Cancelado    | `cancelled`; `rejected` when a signer refused (`assinaturaRecusada`), the reason from `motivoRecusa` |
/// | else     | —            | `unknown`, the code kept in `provider_status`                  |
pub fn state(id_status: u64, expired: bool, refused: bool) -> State {
    match id_status {
        2 | 3 if expired => State::Expired,
        1 => State::Draft,
        2 => State::Sent,
        3 => State::PartiallySigned,
        4 => State::Completed,
        5 if refused => State::Rejected,
        5 => State::Cancelled,
        _ => State::Unknown,
    }
}

/// The neutral status from the light poll, and the signer data when it was fetched (it is only
/// fetched for a cancelled process, to tell a refusal from a cancellation).
pub fn status(
    poll: wire::StatusProcesso,
    signers: Option<wire::DadosSignatarios>,
    raw: serde_json::Value,
) -> Status {
    let signers = signers.map(|s| s.signatarios).unwrap_or_default();
    let refusal = signers.iter().find(|s| s.assinatura_recusada == Some(true));
    let parties = signers
        .iter()
        .map(|s| PartyStatus {
            email: s.email.clone().or_else(|| s.telefone.clone()),
            name: s.nome.clone(),
            role: Some(Role::Sign),
            state: if s.assinatura_recusada == Some(true) {
                PartyState::Rejected
            } else if s.assinado == Some(true) || s.data_assinatura.is_some() {
                PartyState::Signed
            } else {
                PartyState::Pending
            },
            acted_at: s.data_assinatura.as_deref().and_then(lenient::utc_date),
        })
        .collect();
    let date = |d: &Option<String>| d.as_deref().and_then(lenient::utc_date);
    Status {
        state: state(poll.id_status, poll.expirado == Some(true), refusal.is_some()),
        provider_status: poll.id_status.to_string(),
        parties,
        reason: refusal.and_then(|s| s.motivo_recusa.clone()).filter(|r| !r.trim().is_empty()),
        updated_at: date(&poll.data_conclusao).or_else(|| date(&poll.data_cancelamento)),
        expires_at: date(&poll.data_expiracao),
        raw,
    }
}

/// How a signer signs (`idTipoAssinatura`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureType {
    /// 1: Assinatura Eletrônica.
    Electronic,
    /// ICP-Brasil certificate: 3 on the v2 send page, 2 on older pages (see `icp_brasil_code`).
    IcpBrasil,
    /// 4: another digital certificate.
    OtherCertificate,
}

/// How the invitation travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Email,
    /// WhatsApp, to the party's phone.
    Whatsapp,
}

/// Send settings after per-envelope options are laid over the account's.
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub responsible_id: String,
    pub folder_id: String,
    pub signature_type: SignatureType,
    pub icp_brasil_code: u8,
    pub validate_tax_id: bool,
    pub delivery: Delivery,
}

/// Limits from the manual (§5.3), checked before any request.
pub const MAX_PROCESS_NAME: usize = 250;
pub const MAX_FILE_NAME: usize = 150;
pub const MAX_NAME: usize = 150;
pub const MAX_EMAIL: usize = 150;
pub const MAX_PHONE: usize = 20;
pub const MAX_MESSAGE_TITLE: usize = 150;
pub const MAX_TOTAL_BYTES: u64 = 100 * 1024 * 1024;

fn too_long(field: String, value: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::validation(field, format!("{n} characters, at most {max}")));
    }
    Ok(())
}

/// Where the invitation to `party` goes: exactly one of e-mail and phone.
pub fn contact(party: &Party, delivery: Delivery) -> (Option<String>, Option<String>) {
    let email = party.email.clone().filter(|e| !e.trim().is_empty());
    let phone = party.phone.clone().filter(|p| !p.trim().is_empty());
    match (email, phone, delivery) {
        (_, Some(phone), Delivery::Whatsapp) | (None, Some(phone), _) => (None, Some(phone)),
        (email, _, _) => (email, None),
    }
}

/// The rules of §2.1 and §5 that can be checked without asking ArqSign.
pub fn check(env: &Envelope, opts: &SendOptions) -> Result<(), Error> {
    too_long("title".into(), &env.title, MAX_PROCESS_NAME)?;
    if let Some(title) = env.message.as_ref().and_then(|m| m.subject.as_deref()) {
        too_long("message.subject".into(), title, MAX_MESSAGE_TITLE)?;
    }
    let mut names = std::collections::HashSet::new();
    for (i, doc) in env.documents.iter().enumerate() {
        too_long(format!("documents[{i}].name"), &doc.name, MAX_FILE_NAME)?;
        if !names.insert(doc.name.to_lowercase()) {
            return Err(Error::validation(
                format!("documents[{i}].name"),
                "two documents have this name",
            ));
        }
    }
    let mut orders = std::collections::HashMap::new();
    for (i, party) in env.parties.iter().enumerate() {
        let field = |name: &str| format!("parties[{i}].{name}");
        let name = party.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err(Error::validation(field("name"), "ArqSign needs every recipient's name"));
        }
        too_long(field("name"), name, MAX_NAME)?;
        match contact(party, opts.delivery) {
            (None, None) => {
                return Err(Error::validation(field("email"), "an e-mail or a phone is required"));
            }
            (Some(email), None) => too_long(field("email"), &email, MAX_EMAIL)?,
            (None, Some(phone)) => {
                too_long(field("phone"), &phone, MAX_PHONE)?;
                let digits = phone.chars().filter(char::is_ascii_digit).count();
                if digits < 8 || phone.chars().any(|c| !(c.is_ascii_digit() || "+ ()-".contains(c)))
                {
                    return Err(Error::validation(
                        field("phone"),
                        format!("{phone:?} is not a phone number"),
                    ));
                }
                if party.role != Role::Observe && opts.signature_type != SignatureType::Electronic {
                    return Err(Error::validation(
                        field("phone"),
                        "WhatsApp delivery is only for electronic signatures or copy recipients",
                    ));
                }
            }
            (Some(_), Some(_)) => unreachable!("contact gives one of the two"),
        }
        if let Some(code) = &party.access_code {
            if code.len() != 4 || !code.chars().all(|c| c.is_ascii_digit()) {
                return Err(Error::validation(
                    field("access_code"),
                    "ArqSign access codes are 4 digits",
                ));
            }
            if party.email.is_none() {
                return Err(Error::validation(
                    field("access_code"),
                    "the access code is sent by e-mail, so an e-mail is required",
                ));
            }
        }
        if let Some(tax_id) = &party.tax_id {
            document_number(tax_id).map_err(|e| Error::validation(field("tax_id"), e))?;
        }
        if env.sequential && party.role != Role::Observe {
            let order = signing_order(env, i);
            if let Some(first) = orders.insert(order, i) {
                return Err(Error::validation(
                    field("order"),
                    format!("parties[{first}] has the same signing order {order}"),
                ));
            }
        }
    }
    if opts.responsible_id.trim().is_empty() {
        return Err(Error::validation(
            "provider_options.arqsign.responsible_id",
            "no responsible user id (idResponsavel) configured",
        ));
    }
    if opts.folder_id.trim().is_empty() {
        return Err(Error::validation(
            "provider_options.arqsign.folder_id",
            "no folder id (idPasta) configured",
        ));
    }
    Ok(())
}

/// A signer's position: its `order`, or its place among the signers.
fn signing_order(env: &Envelope, index: usize) -> u32 {
    env.parties[index].order.unwrap_or_else(|| {
        env.parties[..=index].iter().filter(|p| p.role != Role::Observe).count() as u32
    })
}

/// CPF (11 digits) or CNPJ (14 digits), punctuation dropped.
pub fn document_number(tax_id: &str) -> Result<(bool, String), String> {
    let digits: String = tax_id.chars().filter(char::is_ascii_digit).collect();
    if tax_id.chars().any(|c| !(c.is_ascii_digit() || ".-/ ".contains(c))) {
        return Err("a CPF or CNPJ has only digits and . - /".into());
    }
    match digits.len() {
        11 => Ok((false, digits)),
        14 => Ok((true, digits)),
        n => Err(format!("a CPF has 11 digits and a CNPJ 14, this has {n}")),
    }
}

/// The send body (all but the documents). The envelope has been checked.
pub fn enviar(env: &Envelope, opts: &SendOptions, now: DateTime<Utc>) -> wire::EnviarProcesso {
    let expiry_days = env
        .deadline
        .map(|d| ((d - now).num_seconds().max(0) as u64).div_ceil(86_400).clamp(1, 999) as u32);
    let advanced = (expiry_days.is_some() || env.reminder_days.is_some_and(|d| d > 0)).then(|| {
        wire::ConfiguracoesAvancadas {
            tempo_expiracao_documento_dias: expiry_days,
            frequencia_lembretes_dias: env.reminder_days.filter(|d| *d > 0).map(|d| d.min(999)),
        }
    });
    let message = env.message.as_ref().and_then(|m| {
        let title = m.subject.clone().unwrap_or_else(|| env.title.clone());
        m.body.clone().map(|texto| wire::Mensagem { titulo: title, texto })
    });
    let destinatarios = env
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (email, telefone) = contact(p, opts.delivery);
            let signer = p.role != Role::Observe;
            wire::Destinatario {
                id_tipo_acao: if signer { 1 } else { 2 },
                ordem_assinatura: signer
                    .then(|| if env.sequential { signing_order(env, i) } else { 1 }),
                nome: p.name.clone().unwrap_or_default(),
                email,
                telefone,
                assinar_online: signer.then(|| assinar_online(p, opts)),
            }
        })
        .collect();
    wire::EnviarProcesso {
        id_responsavel: opts.responsible_id.clone(),
        nome_processo: env.title.clone(),
        id_pasta: opts.folder_id.clone(),
        configuracoes_avancadas: advanced,
        mensagem_padrao: message,
        usar_ordem_assinatura: env.sequential,
        usar_posicao_assinatura_automatica: true,
        destinatarios,
    }
}

fn assinar_online(p: &Party, opts: &SendOptions) -> wire::AssinarOnline {
    let number = p.tax_id.as_deref().and_then(|t| document_number(t).ok());
    let company = number.as_ref().is_some_and(|(is_company, _)| *is_company);
    let electronic = opts.signature_type == SignatureType::Electronic;
    wire::AssinarOnline {
        assinar_como: if company { 2 } else { 1 },
        id_tipo_assinatura: match opts.signature_type {
            SignatureType::Electronic => 1,
            SignatureType::IcpBrasil => opts.icp_brasil_code,
            SignatureType::OtherCertificate => 4,
        },
        seguranca: p.access_code.as_ref().map(|code| wire::Seguranca {
            codigo_seguranca: code.clone(),
            id_meio_envio: 3,
            codigo_seguranca_email: p.email.clone(),
        }),
        assinatura_eletronica: electronic.then(|| wire::AssinaturaEletronica {
            obrigar_signatario_informar_nome: true,
            obrigar_signatario_informar_numero_documento: !company,
            tipo_documento_a_informar: 1,
            obrigar_signatario_informar_nome_empresa: company.then_some(true),
            obrigar_signatario_informar_numero_documento_empresa: company.then_some(true),
            tipo_documento_empresa_a_informar: company.then_some(5),
        }),
        // Electronic signatures only: the CPF/CNPJ pre-fills, or with validation is enforced.
        dados_assinatura: number.filter(|_| electronic).map(|(is_company, digits)| {
            let person = wire::DadosPessoa {
                nome: p.name.clone(),
                numero_documento: digits,
                validar_documento: opts.validate_tax_id,
            };
            if is_company {
                wire::DadosAssinatura { signatario: None, empresa: Some(person) }
            } else {
                wire::DadosAssinatura { signatario: Some(person), empresa: None }
            }
        }),
    }
}

/// A failed reply as an error. ArqSign's error body is undocumented ("código e mensagem"), so
/// the message is looked for in the usual places and the raw text kept otherwise.
pub fn error(op: &'static str, reply: &Reply) -> Error {
    let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| http::body_excerpt(&reply.body));
    // "Documento excluído." and "O(s) id(s) listado(s) não existe(m)" are 400s meaning gone.
    let gone = message.contains("Documento excluído") || message.contains("não existe(m)");
    let err = http::reply_error("arqsign", op, reply, ErrorKind::Validation, message);
    if gone && err.kind() == ErrorKind::Validation {
        err.with_kind(ErrorKind::NotFound)
    } else {
        err
    }
}

fn message_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => {
            let texts: Vec<String> = items.iter().filter_map(message_of).collect();
            (!texts.is_empty()).then(|| texts.join("; "))
        }
        serde_json::Value::Object(map) => [
            "mensagem",
            "message",
            "mensagens",
            "errors",
            "erros",
            "error",
            "erro",
            "detail",
            "title",
        ]
        .iter()
        .find_map(|key| {
            map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| message_of(v))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Document, Message};

    #[test]
    fn every_documented_code_maps_to_one_state() {
        assert_eq!(state(1, false, false), State::Draft);
        assert_eq!(state(2, false, false), State::Sent);
        assert_eq!(state(3, false, false), State::PartiallySigned);
        assert_eq!(state(4, false, false), State::Completed);
        assert_eq!(state(5, false, false), State::Cancelled);
        assert_eq!(state(5, false, true), State::Rejected);
        assert_eq!(state(2, true, false), State::Expired);
        assert_eq!(state(3, true, false), State::Expired);
        assert_eq!(state(4, true, false), State::Completed);
        for unknown in [0, 6, 99] {
            assert_eq!(state(unknown, false, false), State::Unknown);
        }
    }

    #[test]
    fn a_refusal_surfaces_as_rejected_with_its_reason() {
        let poll: wire::StatusProcesso = serde_json::from_value(serde_json::json!(
            {"idStatus": 5, "status": "Cancelado", "expirado": false, "dataCancelamento": "2025-06-02T10:00:00"}))
        .unwrap();
        let signers: wire::DadosSignatarios = serde_json::from_value(serde_json::json!({"signatarios": [
            {"nome": "Ana", "email": "ana@example.com", "assinado": true, "dataAssinatura": "2025-06-01T10:00:00"},
            {"nome": "Bia", "email": "bia@example.com", "assinado": false, "assinaturaRecusada": "true", "motivoRecusa": "valor errado"}]}))
        .unwrap();
        let s = status(poll, Some(signers), serde_json::Value::Null);
        assert_eq!((s.state, s.reason.as_deref()), (State::Rejected, Some("valor errado")));
        assert_eq!(
            s.parties.iter().map(|p| p.state).collect::<Vec<_>>(),
            [PartyState::Signed, PartyState::Rejected]
        );
        assert_eq!(s.updated_at.unwrap().to_rfc3339(), "2025-06-02T10:00:00+00:00");
    }

    fn options() -> SendOptions {
        SendOptions {
            responsible_id: "u1".into(),
            folder_id: "p1".into(),
            signature_type: SignatureType::Electronic,
            icp_brasil_code: 3,
            validate_tax_id: true,
            delivery: Delivery::Email,
        }
    }

    fn party(name: &str, email: Option<&str>, phone: Option<&str>, role: Role) -> Party {
        Party {
            email: email.map(Into::into),
            phone: phone.map(Into::into),
            ..Party::with_role(name, "", role)
        }
    }

    fn envelope(parties: Vec<Party>) -> Envelope {
        let pdf = Document::from_bytes("contrato.pdf", b"%PDF-1.7".to_vec());
        Envelope::new("r", "Contrato", vec![pdf], parties)
    }

    #[test]
    fn the_send_body_follows_the_envelope() {
        let mut ana = party("Ana", Some("ana@example.com"), None, Role::Sign);
        ana.tax_id = Some("111.444.777-35".into());
        ana.access_code = Some("1234".into());
        let mut acme =
            party("Acme", Some("acme@example.com"), Some("+55 11 99999-0000"), Role::Sign);
        acme.tax_id = Some("11.222.333/0001-81".into());
        let copy = party("Jurídico", None, Some("+5511988887777"), Role::Observe);
        let mut env = envelope(vec![ana, acme, copy]);
        env.sequential = true;
        env.reminder_days = Some(2);
        env.message = Some(Message { subject: Some("Assine".into()), body: Some("Olá".into()) });
        let now = Utc::now();
        env.deadline = Some(now + chrono::Duration::hours(36));
        check(&env, &options()).unwrap();
        let body = serde_json::to_value(enviar(&env, &options(), now)).unwrap();
        assert_eq!(
            body["configuracoesAvancadas"],
            serde_json::json!({"tempoExpiracaoDocumentoDias": 2, "frequenciaLembretesDias": 2})
        );
        assert_eq!(body["mensagemPadrao"], serde_json::json!({"titulo": "Assine", "texto": "Olá"}));
        assert_eq!(body["usarOrdemAssinatura"], true);
        let d = &body["destinatarios"];
        assert_eq!(
            (d[0]["ordemAssinatura"].clone(), d[1]["ordemAssinatura"].clone()),
            (1.into(), 2.into())
        );
        assert_eq!(d[0]["assinarOnline"]["assinarComo"], 1);
        assert_eq!(
            d[0]["assinarOnline"]["dadosAssinatura"],
            serde_json::json!({"signatario": {"nome": "Ana", "numeroDocumento": "11144477735", "validarDocumento": true}})
        );
        assert_eq!(
            d[0]["assinarOnline"]["seguranca"],
            serde_json::json!({"codigoSeguranca": "1234", "idMeioEnvio": 3, "codigoSegurancaEmail": "ana@example.com"})
        );
        assert_eq!(d[1]["email"], "acme@example.com", "e-mail wins unless WhatsApp is asked for");
        assert!(d[1].get("telefone").is_none());
        assert_eq!(d[1]["assinarOnline"]["assinarComo"], 2);
        assert_eq!(
            d[1]["assinarOnline"]["dadosAssinatura"]["empresa"]["numeroDocumento"],
            "11222333000181"
        );
        assert_eq!(d[2]["idTipoAcao"], 2);
        assert_eq!(d[2]["telefone"], "+5511988887777");
        assert!(d[2].get("assinarOnline").is_none() && d[2].get("ordemAssinatura").is_none());
    }

    #[test]
    fn icp_brasil_uses_the_configured_code() {
        // The manual gives ICP-Brasil as 3 on the v2 send page and as 2 elsewhere ([X]).
        let env = envelope(vec![party("Ana", Some("a@x.com"), None, Role::Sign)]);
        let code = |icp_brasil_code| {
            let opts = SendOptions {
                signature_type: SignatureType::IcpBrasil,
                icp_brasil_code,
                ..options()
            };
            let body = serde_json::to_value(enviar(&env, &opts, Utc::now())).unwrap();
            let online = body["destinatarios"][0]["assinarOnline"].clone();
            assert!(
                online.get("assinaturaEletronica").is_none()
                    && online.get("dadosAssinatura").is_none()
            );
            online["idTipoAssinatura"].clone()
        };
        assert_eq!(code(3), 3);
        assert_eq!(code(2), 2);
        let other = SendOptions { signature_type: SignatureType::OtherCertificate, ..options() };
        let body = serde_json::to_value(enviar(&env, &other, Utc::now())).unwrap();
        assert_eq!(body["destinatarios"][0]["assinarOnline"]["idTipoAssinatura"], 4);
    }

    #[test]
    fn local_rules_name_the_field() {
        let field = |env: &Envelope, opts: &SendOptions| {
            check(env, opts).unwrap_err().field().unwrap().to_string()
        };
        let o = options();
        assert_eq!(
            field(&envelope(vec![party("Ana", None, None, Role::Sign)]), &o),
            "parties[0].email"
        );
        assert_eq!(
            field(&envelope(vec![party("", Some("a@x.com"), None, Role::Sign)]), &o),
            "parties[0].name"
        );
        assert_eq!(
            field(&envelope(vec![party("Ana", None, Some("12ab"), Role::Sign)]), &o),
            "parties[0].phone"
        );
        let mut coded = party("Ana", Some("a@x.com"), None, Role::Sign);
        coded.access_code = Some("12345".into());
        assert_eq!(field(&envelope(vec![coded]), &o), "parties[0].access_code");
        let mut env = envelope(vec![
            party("Ana", Some("a@x.com"), None, Role::Sign),
            party("Bia", Some("b@x.com"), None, Role::Sign),
        ]);
        env.sequential = true;
        env.parties[1].order = Some(1);
        assert_eq!(field(&env, &o), "parties[1].order");
        let mut env = envelope(vec![party("Ana", Some("a@x.com"), None, Role::Sign)]);
        env.title = "x".repeat(251);
        assert_eq!(field(&env, &o), "title");
        env.title = "t".into();
        env.documents.push(Document::from_bytes("CONTRATO.pdf", b"%PDF".to_vec()));
        assert_eq!(field(&env, &o), "documents[1].name");
        let whatsapp_icp = SendOptions {
            signature_type: SignatureType::IcpBrasil,
            delivery: Delivery::Whatsapp,
            ..options()
        };
        let env = envelope(vec![party("Ana", Some("a@x.com"), Some("+5511999990000"), Role::Sign)]);
        assert_eq!(field(&env, &whatsapp_icp), "parties[0].phone");
        let no_folder = SendOptions { folder_id: String::new(), ..options() };
        assert_eq!(
            field(&envelope(vec![party("Ana", Some("a@x.com"), None, Role::Sign)]), &no_folder),
            "provider_options.arqsign.folder_id"
        );
    }

    #[test]
    fn error_messages_come_from_any_shape() {
        let reply = Reply::for_test;
        let e = error("send", &reply(400, r#"{"codigo": 400, "mensagem": "E-mail inválido."}"#));
        assert_eq!(
            (e.kind(), e.provider_message()),
            (ErrorKind::Validation, Some("E-mail inválido."))
        );
        let e = error("status", &reply(400, r#"["Documento excluído."]"#));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = error(
            "status",
            &reply(400, r#"{"Errors": ["O(s) id(s) listado(s) não existe(m): x"]}"#),
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = error("cancel", &reply(422, "\"Processo não pode ser cancelado\""));
        assert_eq!(
            (e.kind(), e.provider_message()),
            (ErrorKind::Conflict, Some("Processo não pode ser cancelado"))
        );
        let e = error("send", &reply(500, "Formato do JSON incorreto"));
        assert_eq!(
            (e.kind(), e.provider_message()),
            (ErrorKind::Provider, Some("Formato do JSON incorreto"))
        );
        assert_eq!(error("send", &reply(401, "")).kind(), ErrorKind::Auth);
    }
}
