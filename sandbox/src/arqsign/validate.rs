//! The rules of the send (contract §2.1, §2.2, §5.2, §5.3) and of resend edits (§2.6), turning
//! a bound request into a [`Draft`] or the first broken rule's exact message.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use axum::body::Bytes;

use super::account::Account;
use super::messages as msg;
use super::model::{
    ApiVersion, AttachmentConfig, Document, Draft, Message, Outcome, PartyData, Placement,
    Recipient, Security, action,
};
use super::text::{chars, digits, is_cnpj, is_cpf, is_email, is_phone, phone_digits};
use super::wire;
use crate::ids::{is_guid, new_guid, normalize_guid, random_segment};
use crate::pdf::{self, POINTS_PER_MM};

/// At most 25 files per process (§5.3).
pub(crate) const MAX_FILES: usize = 25;
/// At most 100 MB of files per process (§5.3). Taken as MiB: 25 files of 4 MiB fit exactly.
pub(crate) const MAX_TOTAL_BYTES: usize = 100 * 1024 * 1024;

type Checked<T> = Result<T, String>;

/// Validates a send body; the error is the message of the first broken rule (400).
pub(crate) fn send(
    request: wire::SendRequest,
    version: ApiVersion,
    account: &Account,
) -> Checked<Draft> {
    // What the client sent, files left out, for the control routes.
    let received = serde_json::to_value(&request).unwrap_or_default();
    let wire::SendRequest {
        id_responsavel,
        nome_processo,
        id_pasta,
        configuracoes_avancadas,
        renovacao_meses,
        mensagem_padrao,
        usar_ordem_assinatura,
        usar_posicao_assinatura_automatica,
        destinatarios,
        documentos,
    } = request;

    let responsible = text(id_responsavel);
    let name = text(nome_processo);
    let folder = text(id_pasta);
    let recipients = destinatarios.filter(|list| !list.is_empty());
    let missing: Vec<&str> = [
        ("idResponsavel", responsible.is_none()),
        ("nomeProcesso", name.is_none()),
        ("idPasta", folder.is_none()),
        ("usarOrdemAssinatura", usar_ordem_assinatura.is_none()),
        ("usarPosicaoAssinaturaAutomatica", usar_posicao_assinatura_automatica.is_none()),
        ("destinatarios", recipients.is_none()),
    ]
    .into_iter()
    .filter_map(|(field, absent)| absent.then_some(field))
    .collect();
    let (
        Some(responsible),
        Some(name),
        Some(folder),
        Some(ordered),
        Some(automatic),
        Some(recipients),
    ) = (
        responsible,
        name,
        folder,
        usar_ordem_assinatura,
        usar_posicao_assinatura_automatica,
        recipients,
    )
    else {
        return Err(msg::required(&missing.join(", ")));
    };

    let malformed: Vec<&str> = [
        ("idResponsavel", !is_guid(&responsible)),
        ("idPasta", !is_guid(&folder)),
        ("nomeProcesso", chars(&name) > 250),
        ("renovacaoMeses", renovacao_meses.is_some_and(|m| !(0..=255).contains(&m))),
    ]
    .into_iter()
    .filter_map(|(field, bad)| bad.then_some(field))
    .collect();
    if !malformed.is_empty() {
        return Err(msg::malformed(&malformed.join(", ")));
    }
    if account.folder(&folder).is_none() {
        return Err(msg::FOLDER_NOT_FOUND.into());
    }
    if account.user(&responsible).is_none() {
        return Err(msg::unknown_ids("idResponsavel"));
    }

    let settings = configuracoes_avancadas.unwrap_or_default();
    let out_of =
        |value: Option<i64>, max: i64| value.is_some_and(|v| v != 0 && !(1..=max).contains(&v));
    if out_of(settings.tempo_expiracao_documento_dias, 999) {
        return Err(msg::malformed("tempoExpiracaoDocumentoDias"));
    }
    if out_of(settings.aviso_antes_expiracao_documento_dias, 99) {
        return Err(msg::malformed("avisoAntesExpiracaoDocumentoDias"));
    }
    if settings.frequencia_lembretes_dias.is_some_and(|v| !(0..=999).contains(&v)) {
        return Err(msg::malformed("frequenciaLembretesDias"));
    }
    let message = default_message(mensagem_padrao, &name)?;

    let documents = documents(documentos, version)?;
    let mut recipients = recipients_of(recipients, version, ordered, account)?;
    // With automatic positioning manual boxes are ignored (§2.1).
    if !automatic {
        placements(&mut recipients, &documents)?;
    }
    let recipients = recipients.into_iter().map(|(r, _)| r).collect();

    Ok(Draft {
        version,
        name,
        folder_id: normalize_guid(&folder),
        responsible_id: normalize_guid(&responsible),
        expiry_days: settings.tempo_expiracao_documento_dias,
        warning_days: settings.aviso_antes_expiracao_documento_dias,
        reminder_days: settings.frequencia_lembretes_dias,
        qr_code: settings.gerar_qr_code.unwrap_or(false),
        must_read: settings.obrigar_leitura.unwrap_or(false),
        renewal_months: renovacao_meses,
        message,
        ordered,
        automatic_position: automatic,
        recipients,
        documents,
        received,
    })
}

/// `mensagemPadrao`, or the defaults of contract §2.1.
fn default_message(message: Option<wire::Message>, process: &str) -> Checked<Message> {
    let message = message.unwrap_or_default();
    let title = text(message.titulo);
    if title.as_deref().is_some_and(|t| chars(t) > 150) {
        return Err(msg::malformed("titulo"));
    }
    Ok(Message {
        title: title.unwrap_or_else(|| format!("ArqSign: {process}")),
        text: text(message.texto).unwrap_or_else(|| {
            format!("Você recebeu o(s) documento(s): {process} para assinaturas.")
        }),
    })
}

fn documents(list: Option<Vec<wire::Document>>, version: ApiVersion) -> Checked<Vec<Document>> {
    let list = list.filter(|l| !l.is_empty()).ok_or(msg::NO_FILE)?;
    if list.len() > MAX_FILES {
        return Err(msg::TOO_MANY_FILES.into());
    }
    let several = list.len() > 1;
    let mut total = 0usize;
    let mut documents = Vec::with_capacity(list.len());
    for item in list {
        let linked = item.link_do_arquivo.is_some() || item.link_documento.is_some();
        if version == ApiVersion::V2 && linked {
            return Err(msg::UNKNOWN_PARAMETER.into());
        }
        let name = text(item.nome_com_extensao).ok_or_else(|| msg::required("nomeComExtensao"))?;
        if chars(&name) > 150 {
            return Err(msg::FILE_NAME_TOO_LONG.into());
        }
        let bytes = match (item.arquivo, item.link_do_arquivo.or(item.link_documento)) {
            (Some(file), None) => file,
            (None, Some(wire::FileLink::Data(file))) => file,
            (None, Some(wire::FileLink::Remote(_))) => return Err(msg::LINK_UNAVAILABLE.into()),
            (None, None) if version == ApiVersion::V2 => return Err(msg::required("arquivo")),
            _ => return Err(msg::FILE_OR_LINK.into()),
        };
        let bytes = match bytes {
            wire::FileBytes::Decoded(bytes) if bytes.starts_with(b"%PDF-") => bytes,
            _ => return Err(msg::not_pdf(&name)),
        };
        total += bytes.len();
        if total > MAX_TOTAL_BYTES {
            return Err(msg::TOO_LARGE.into());
        }
        let order = match item.ordem_documento {
            None if several => return Err(msg::DOCUMENT_ORDER_EACH.into()),
            None => 1,
            Some(order) if !(1..=255).contains(&order) => {
                return Err(msg::malformed("ordemDocumento"));
            }
            Some(order) => order,
        };
        documents.push(Document {
            id: new_guid(),
            order,
            name,
            bytes: Bytes::from(bytes),
            sha256: OnceLock::new(),
            signed: None,
            report: None,
        });
    }
    let mut by_order: HashMap<i64, Vec<&str>> = HashMap::new();
    for document in &documents {
        by_order.entry(document.order).or_default().push(&document.name);
    }
    let mut clashes: Vec<&str> =
        by_order.values().filter(|names| names.len() > 1).flatten().copied().collect();
    if !clashes.is_empty() {
        clashes.sort_unstable();
        // The manual says the offending files are listed after the message.
        return Err(format!("{} Arquivos: {}.", msg::SAME_ORDER, clashes.join(", ")));
    }
    let mut names = HashSet::new();
    if !documents.iter().all(|d| names.insert(d.name.to_lowercase())) {
        return Err(msg::SAME_NAME.into());
    }
    documents.sort_by_key(|d| d.order);
    Ok(documents)
}

/// Each recipient checked and converted, with its manual positions as received.
fn recipients_of(
    list: Vec<wire::Recipient>,
    version: ApiVersion,
    ordered: bool,
    account: &Account,
) -> Checked<Vec<(Recipient, Vec<wire::ManualPosition>)>> {
    let mut recipients = Vec::with_capacity(list.len());
    for item in list {
        recipients.push(recipient(item, version, ordered, account)?);
    }
    if !recipients.iter().any(|(r, _)| r.action == action::SIGN) {
        return Err(msg::required("destinatarios"));
    }
    let mut seen = HashSet::new();
    for (recipient, _) in recipients.iter().filter(|(r, _)| r.action == action::SIGN) {
        let contact = match (&recipient.email, &recipient.phone) {
            (Some(email), _) => email.to_lowercase(),
            (None, Some(phone)) => phone_digits(phone),
            (None, None) => String::new(),
        };
        if !seen.insert((recipient.order, contact)) {
            return Err(msg::DUPLICATE_AT_ORDER.into());
        }
    }
    Ok(recipients)
}

fn recipient(
    item: wire::Recipient,
    version: ApiVersion,
    ordered: bool,
    account: &Account,
) -> Checked<(Recipient, Vec<wire::ManualPosition>)> {
    let received = item.clone();
    if version == ApiVersion::V2
        && (item.alterar_notificacoes.is_some() || item.retornar_link_processo.is_some())
    {
        return Err(msg::UNKNOWN_PARAMETER.into());
    }
    let action = item.id_tipo_acao.ok_or_else(|| msg::required("idTipoAcao"))?;
    if ![action::SIGN, action::COPY].contains(&action) {
        return Err(msg::malformed("idTipoAcao"));
    }
    let name = text(item.nome).ok_or_else(|| msg::required("nome"))?;
    if chars(&name) > 150 {
        return Err(msg::malformed("nome"));
    }
    let (email, phone) = contact(item.email, item.telefone)?;
    if item.representacao_visual_assinatura.is_some_and(|v| !(1..=3).contains(&v)) {
        return Err(msg::VISUAL_REPRESENTATION.into());
    }
    let notifications = item.alterar_notificacoes.flatten();
    if notifications.is_some_and(|n| !(1..=4).contains(&n)) {
        return Err(msg::malformed("alterarNotificacoes"));
    }
    let return_link = item.retornar_link_processo.flatten().unwrap_or(false);
    if matches!(notifications, Some(1 | 3)) && !return_link {
        return Err(msg::LINK_REQUIRED_FOR_EMBED.into());
    }

    let mut recipient = Recipient {
        id: new_guid(),
        action,
        order: 0,
        name,
        email,
        phone,
        signature_type: None,
        sign_as: None,
        roles_person: Vec::new(),
        roles_company: Vec::new(),
        security: None,
        attachments: Vec::new(),
        placements: Vec::new(),
        person_document_type: None,
        company_document_type: None,
        person: None,
        company: None,
        return_link,
        link_token: random_segment(32),
        awaiting: false,
        delivery_failed: false,
        copy_sent: false,
        outcome: Outcome::Pending,
        uploads: Vec::new(),
        received,
    };
    if action == action::COPY {
        // `assinarOnline` and the order are ignored for copy recipients (§2.1).
        return Ok((recipient, Vec::new()));
    }

    let online = item.assinar_online.ok_or_else(|| msg::required("assinarOnline"))?;
    let sign_as = online.assinar_como.ok_or_else(|| msg::required("assinarComo"))?;
    if !(1..=3).contains(&sign_as) {
        return Err(msg::malformed("assinarComo"));
    }
    let signature_type =
        online.id_tipo_assinatura.ok_or_else(|| msg::required("idTipoAssinatura"))?;
    // 2 is ICP-Brasil in v1 and on the GET page, 3 on the send page (contract [X]): both pass.
    if !(1..=4).contains(&signature_type) {
        return Err(msg::SIGNATURE_TYPE.into());
    }
    if recipient.phone.is_some() && signature_type != 1 {
        return Err(msg::WHATSAPP_ONLY_ELECTRONIC.into());
    }
    recipient.order = if ordered {
        match item.ordem_assinatura {
            None | Some(0) => return Err(msg::ORDER_REQUIRED.into()),
            Some(order) if !(1..=255).contains(&order) => {
                return Err(msg::malformed("ordemAssinatura"));
            }
            Some(order) => order,
        }
    } else {
        1
    };
    recipient.sign_as = Some(sign_as);
    recipient.signature_type = Some(signature_type);
    let (person, company) = (sign_as != 2, sign_as != 1);
    if person {
        recipient.roles_person = roles(online.papel_pessoa_fisica, "papelPessoaFisica", account)?;
    }
    if company {
        recipient.roles_company =
            roles(online.papel_pessoa_juridica, "papelPessoaJuridica", account)?;
    }
    recipient.security = security(online.seguranca)?;
    if let Some(custom) = online.mensagem_personalizada {
        match (text(custom.titulo), text(custom.texto)) {
            (Some(title), Some(_)) if chars(&title) > 150 => return Err(msg::malformed("titulo")),
            (Some(_), None) => return Err(msg::required("texto")),
            (None, Some(_)) => return Err(msg::required("titulo")),
            _ => {}
        }
    }
    recipient.attachments = attachments(online.anexos.unwrap_or_default())?;

    if signature_type == 1 {
        let electronic =
            online.assinatura_eletronica.ok_or_else(|| msg::required("assinaturaEletronica"))?;
        let (person_type, company_type) = electronic_rules(&electronic, sign_as)?;
        recipient.person_document_type = person_type;
        recipient.company_document_type = company_type;
        if let Some(data) = online.dados_assinatura {
            let (signer, firm) =
                signer_data(data, person_type, company_type, &electronic, company)?;
            recipient.person = signer;
            recipient.company = firm;
        }
    }
    Ok((recipient, online.definir_posicao_assinatura_manual.unwrap_or_default()))
}

/// Exactly one of e-mail and phone, each well formed.
fn contact(
    email: Option<String>,
    phone: Option<String>,
) -> Checked<(Option<String>, Option<String>)> {
    match (text(email), text(phone)) {
        (None, None) => Err(msg::CONTACT_REQUIRED.into()),
        (Some(_), Some(_)) => Err(msg::ONE_CONTACT.into()),
        (Some(email), None) if !is_email(&email) => Err(msg::INVALID_EMAIL.into()),
        (None, Some(phone)) if !is_phone(&phone) => Err(msg::INVALID_PHONE.into()),
        pair => Ok(pair),
    }
}

fn roles(list: Option<Vec<String>>, field: &str, account: &Account) -> Checked<Vec<String>> {
    let list = list.unwrap_or_default();
    if list.iter().any(|role| chars(role) > 50) {
        return Err(msg::malformed(field));
    }
    if !list.iter().all(|role| account.has_role(role)) {
        return Err(msg::UNKNOWN_ROLES.into());
    }
    Ok(list)
}

fn security(given: Option<wire::Security>) -> Checked<Option<Security>> {
    let Some(given) = given else { return Ok(None) };
    let code = text(given.codigo_seguranca);
    if code.is_none() && given.id_meio_envio.is_none() {
        return Ok(None);
    }
    if code.as_deref().is_some_and(|c| c.len() != 4 || !c.bytes().all(|b| b.is_ascii_digit())) {
        return Err(msg::malformed("codigoSeguranca"));
    }
    let channel = given.id_meio_envio.ok_or_else(|| msg::required("idMeioEnvio"))?;
    let (email, phone) = security_contact(
        channel,
        text(given.codigo_seguranca_email),
        text(given.codigo_seguranca_telefone),
        msg::SECURITY_EMAIL_REQUIRED.into(),
        msg::SECURITY_PHONE_REQUIRED.into(),
    )?;
    Ok(Some(Security {
        code,
        channel: Some(channel),
        email,
        phone,
        allow_resend: given.reenviar_codigo.unwrap_or(false),
        delivery_failed: false,
    }))
}

/// The address a security code goes to, as `idMeioEnvio` requires.
fn security_contact(
    channel: i64,
    email: Option<String>,
    phone: Option<String>,
    email_missing: String,
    phone_missing: String,
) -> Checked<(Option<String>, Option<String>)> {
    match channel {
        3 => {
            let email = email.ok_or(email_missing)?;
            if !is_email(&email) {
                return Err(msg::INVALID_EMAIL.into());
            }
            Ok((Some(email), None))
        }
        1 | 2 => {
            let phone = phone.ok_or(phone_missing)?;
            if !is_phone(&phone) {
                return Err(msg::INVALID_PHONE.into());
            }
            Ok((None, Some(phone)))
        }
        4 => Ok((None, None)),
        _ => Err(msg::SECURITY_CHANNEL.into()),
    }
}

fn attachments(list: Vec<wire::Attachment>) -> Checked<Vec<AttachmentConfig>> {
    let mut configs: Vec<AttachmentConfig> = Vec::new();
    for item in list {
        let name = text(item.anexo_documento_nome);
        let given = [
            name.is_some(),
            item.anexo_obrigatorio.is_some(),
            item.anexo_exibir_todos_destinatarios.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => continue,
            3 => {}
            _ => return Err(msg::ATTACHMENT_FIELDS.into()),
        }
        let name = name.unwrap_or_default();
        if chars(&name) > 75 {
            return Err(msg::malformed("anexoDocumentoNome"));
        }
        if configs.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
            return Err(msg::ATTACHMENT_NAMES.into());
        }
        configs.push(AttachmentConfig {
            id: new_guid(),
            name,
            required: item.anexo_obrigatorio.unwrap_or(false),
            show_all: item.anexo_exibir_todos_destinatarios.unwrap_or(false),
        });
    }
    Ok(configs)
}

/// `assinaturaEletronica`; the document types the signer (and company) must type.
fn electronic_rules(
    electronic: &wire::Electronic,
    sign_as: i64,
) -> Checked<(Option<i64>, Option<i64>)> {
    let person_type = electronic.tipo_documento_a_informar;
    if person_type.is_some_and(|t| !(1..=4).contains(&t)) {
        return Err(msg::PERSON_DOCUMENT_TYPE.into());
    }
    if electronic.obrigar_signatario_informar_numero_documento == Some(true)
        && person_type.is_none()
    {
        return Err(msg::required("tipoDocumentoAInformar"));
    }
    if person_type == Some(4) {
        let other =
            electronic.configuracao_documento_outro.as_ref().ok_or(msg::PERSON_OTHER_REQUIRED)?;
        other_document(other)?;
    }
    if sign_as == 1 {
        return Ok((person_type, None));
    }
    let missing: Vec<&str> = [
        (
            "obrigarSignatarioInformarNomeEmpresa",
            electronic.obrigar_signatario_informar_nome_empresa.is_none(),
        ),
        (
            "obrigarSignatarioInformarNumeroDocumentoEmpresa",
            electronic.obrigar_signatario_informar_numero_documento_empresa.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(field, absent)| absent.then_some(field))
    .collect();
    if !missing.is_empty() {
        return Err(msg::required(&missing.join(", ")));
    }
    let company_type = electronic.tipo_documento_empresa_a_informar;
    if company_type.is_some_and(|t| ![4, 5].contains(&t)) {
        return Err(msg::COMPANY_DOCUMENT_TYPE.into());
    }
    if electronic.obrigar_signatario_informar_numero_documento_empresa == Some(true)
        && company_type.is_none()
    {
        return Err(msg::required("tipoDocumentoEmpresaAInformar"));
    }
    if company_type == Some(4) {
        let other = electronic
            .configuracao_documento_empresa_outro
            .as_ref()
            .ok_or(msg::COMPANY_OTHER_REQUIRED)?;
        other_document(other)?;
    }
    Ok((person_type, company_type))
}

fn other_document(other: &wire::OtherDocument) -> Checked<()> {
    let name = other.nome_documento.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let missing: Vec<&str> = [
        ("nomeDocumento", name.is_none()),
        ("formatoDadosDocumento", other.formato_dados_documento.is_none()),
        ("qtdeCaracteresDocumento", other.qtde_caracteres_documento.is_none()),
    ]
    .into_iter()
    .filter_map(|(field, absent)| absent.then_some(field))
    .collect();
    if !missing.is_empty() {
        return Err(msg::required(&missing.join(", ")));
    }
    let malformed: Vec<&str> = [
        ("nomeDocumento", name.is_some_and(|n| chars(n) > 50)),
        (
            "formatoDadosDocumento",
            other.formato_dados_documento.is_some_and(|f| ![1, 2].contains(&f)),
        ),
        (
            "qtdeCaracteresDocumento",
            other.qtde_caracteres_documento.is_some_and(|q| !(1..=255).contains(&q)),
        ),
    ]
    .into_iter()
    .filter_map(|(field, bad)| bad.then_some(field))
    .collect();
    if !malformed.is_empty() {
        return Err(msg::malformed(&malformed.join(", ")));
    }
    Ok(())
}

/// `dadosAssinatura` of the send: the signer's and the company's pre-filled data.
fn signer_data(
    data: wire::SignerData,
    person_type: Option<i64>,
    company_type: Option<i64>,
    electronic: &wire::Electronic,
    company: bool,
) -> Checked<(Option<PartyData>, Option<PartyData>)> {
    for extra in data.dados_complementares.unwrap_or_default() {
        match (text(extra.label), text(extra.valor)) {
            (None, Some(_)) => return Err(msg::LABEL_REQUIRED.into()),
            (Some(_), None) => return Err(msg::VALUE_REQUIRED.into()),
            (Some(label), Some(_)) if chars(&label) > 40 => return Err(msg::malformed("label")),
            (Some(_), Some(value)) if chars(&value) > 56 => return Err(msg::malformed("valor")),
            _ => {}
        }
    }
    let signer = data
        .signatario
        .map(|party| {
            party_data(
                party.nome,
                party.numero_documento,
                party.validar_documento,
                person_type,
                electronic.configuracao_documento_outro.as_ref(),
                msg::PERSON_NUMBER_INVALID,
            )
        })
        .transpose()?;
    // Company data is ignored for signers who sign only as a person (§2.1).
    let firm = data
        .empresa
        .filter(|_| company)
        .map(|party| {
            party_data(
                party.nome,
                party.numero_documento,
                party.validar_documento,
                company_type,
                electronic.configuracao_documento_empresa_outro.as_ref(),
                msg::COMPANY_NUMBER_INVALID,
            )
        })
        .transpose()?;
    Ok((signer, firm))
}

fn party_data(
    name: Option<String>,
    number: Option<String>,
    enforce: Option<bool>,
    document_type: Option<i64>,
    other: Option<&wire::OtherDocument>,
    invalid_number: &str,
) -> Checked<PartyData> {
    let name = text(name);
    if name.as_deref().is_some_and(|n| chars(n) > 250) {
        return Err(msg::NAME_TOO_LONG.into());
    }
    let number = text(number);
    if let Some(number) = &number {
        if !document_number_fits(number, document_type, other) {
            return Err(invalid_number.into());
        }
    }
    Ok(PartyData { name, number, enforce: enforce.unwrap_or(false) })
}

/// Whether a tax or id number is valid for its declared type (1 CPF, 2 CNH, 3 RG, 4 Outro,
/// 5 CNPJ); any number fits when no type is declared.
fn document_number_fits(
    number: &str,
    document_type: Option<i64>,
    other: Option<&wire::OtherDocument>,
) -> bool {
    match document_type {
        Some(1) => is_cpf(number),
        Some(2) => {
            digits(number).len() == 11
                && number.chars().all(|c| c.is_ascii_digit() || ".- ".contains(c))
        }
        Some(3) => {
            let plain: String = number.chars().filter(char::is_ascii_alphanumeric).collect();
            (5..=14).contains(&plain.len())
        }
        Some(4) => other.is_none_or(|other| {
            let numeric = other.formato_dados_documento == Some(2);
            let length = other.qtde_caracteres_documento.and_then(|q| usize::try_from(q).ok());
            (!numeric || number.bytes().all(|b| b.is_ascii_digit()))
                && length.is_none_or(|max| chars(number) <= max)
        }),
        Some(5) => is_cnpj(number),
        _ => true,
    }
}

/// Manual positions (`usarPosicaoAssinaturaAutomatica` false): every signer needs a box per
/// file for each way it signs, on a page that exists, inside that page. Fills each signer's
/// `placements`.
fn placements(
    recipients: &mut [(Recipient, Vec<wire::ManualPosition>)],
    documents: &[Document],
) -> Checked<()> {
    let mut sizes: HashMap<i64, Vec<(f32, f32)>> = HashMap::new();
    for (recipient, positions) in recipients.iter_mut().filter(|(r, _)| r.action == action::SIGN) {
        let sign_as = recipient.sign_as.unwrap_or(1);
        let mut by_document: HashMap<i64, &wire::ManualPosition> = HashMap::new();
        for position in positions.iter() {
            let order = match position.documento_de_ordem {
                Some(order) => order,
                None if documents.len() > 1 => return Err(msg::DOCUMENT_ORDER_REQUIRED.into()),
                None => documents[0].order,
            };
            if !documents.iter().any(|d| d.order == order) {
                return Err(msg::no_document_at(order));
            }
            if by_document.insert(order, position).is_some() {
                return Err(msg::ONE_POSITION_PER_TYPE.into());
            }
        }
        let mut placed = Vec::new();
        for document in documents {
            let position = by_document.get(&document.order);
            let person = position.and_then(|p| p.pessoa_fisica.as_ref()).filter(|_| sign_as != 2);
            let company =
                position.and_then(|p| p.pessoa_juridica.as_ref()).filter(|_| sign_as != 1);
            if sign_as != 2 && person.is_none() {
                return Err(msg::PERSON_POSITION_REQUIRED.into());
            }
            if sign_as != 1 && company.is_none() {
                return Err(msg::COMPANY_POSITION_REQUIRED.into());
            }
            // A file that starts like a PDF but cannot be read has no pages to place on.
            let pages = sizes
                .entry(document.order)
                .or_insert_with(|| pdf::page_sizes(&document.bytes).unwrap_or_default());
            for (signature_box, is_company) in [(person, false), (company, true)] {
                if let Some(signature_box) = signature_box {
                    let mut placement = check_box(signature_box, pages)?;
                    placement.document_order = document.order;
                    placement.company = is_company;
                    placed.push(placement);
                }
            }
        }
        recipient.placements = placed;
    }
    Ok(())
}

/// One box, checked against the file's pages (sizes in points).
fn check_box(signature_box: &wire::SignatureBox, pages: &[(f32, f32)]) -> Checked<Placement> {
    let wire::SignatureBox { pagina, altura, largura, posicao_x, posicao_y } = signature_box;
    let missing: Vec<&str> = [
        ("pagina", pagina.is_none()),
        ("altura", altura.is_none()),
        ("largura", largura.is_none()),
        ("posicaoX", posicao_x.is_none()),
        ("posicaoY", posicao_y.is_none()),
    ]
    .into_iter()
    .filter_map(|(field, absent)| absent.then_some(field))
    .collect();
    let (Some(page), Some(height), Some(width), Some(x), Some(y)) =
        (*pagina, *altura, *largura, *posicao_x, *posicao_y)
    else {
        return Err(msg::required(&missing.join(", ")));
    };
    if page < 1 || height <= 0.0 || width <= 0.0 || x < 0.0 || y < 0.0 {
        return Err(msg::POSITION_OUTSIDE.into());
    }
    let index = usize::try_from(page - 1).unwrap_or(usize::MAX);
    let Some(&(page_width, page_height)) = pages.get(index) else {
        return Err(msg::missing_pages(&[page]));
    };
    let (page_width, page_height) =
        (f64::from(page_width / POINTS_PER_MM), f64::from(page_height / POINTS_PER_MM));
    if x + width > page_width || y + height > page_height {
        return Err(msg::POSITION_OUTSIDE.into());
    }
    Ok(Placement { document_order: 0, page, x, y, width, height, company: false })
}

/// Why a resend edit was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EditError {
    /// `idProcessoDestinatario` is not a recipient of the process.
    Unknown,
    Invalid(String),
}

impl From<String> for EditError {
    fn from(message: String) -> EditError {
        EditError::Invalid(message)
    }
}

impl From<&str> for EditError {
    fn from(message: &str) -> EditError {
        EditError::Invalid(message.into())
    }
}

/// Applies one resend item to the process's recipients (contract §2.6).
pub(crate) fn apply_resend_edit(
    recipients: &mut [Recipient],
    item: wire::ResendItem,
) -> Result<(), EditError> {
    let id = text(item.id_processo_destinatario)
        .ok_or_else(|| msg::required("idProcessoDestinatario"))?;
    if !is_guid(&id) {
        return Err(msg::malformed("idProcessoDestinatario").into());
    }
    let recipient =
        recipients.iter_mut().find(|r| r.id == normalize_guid(&id)).ok_or(EditError::Unknown)?;
    if recipient.action == action::COPY {
        return Err(msg::RESEND_COPY.into());
    }
    if recipient.outcome != Outcome::Pending {
        return Err(msg::RESEND_NOT_PENDING.into());
    }

    let channel = item.id_forma_envio_processo;
    if channel.is_some_and(|c| ![1, 2].contains(&c)) {
        return Err(msg::malformed("idFormaEnvioProcesso").into());
    }
    let (email, phone) = (text(item.email), text(item.telefone));
    match (channel, &email, &phone) {
        (_, Some(_), Some(_)) => return Err(msg::ONE_CONTACT.into()),
        (Some(1), None, _) => return Err(msg::required("email").into()),
        (Some(2), _, None) => return Err(msg::required("telefone").into()),
        _ => {}
    }
    if let Some(email) = email {
        if !is_email(&email) {
            return Err(msg::INVALID_EMAIL.into());
        }
        recipient.email = Some(email);
        recipient.phone = None;
    }
    if let Some(phone) = phone {
        if !is_phone(&phone) {
            return Err(msg::INVALID_PHONE.into());
        }
        if recipient.signature_type != Some(1) {
            return Err(msg::WHATSAPP_ONLY_ELECTRONIC.into());
        }
        recipient.phone = Some(phone);
        recipient.email = None;
    }
    if let Some(name) = text(item.nome) {
        if chars(&name) > 150 {
            return Err(msg::malformed("nome").into());
        }
        recipient.name = name;
    }

    let security_given = item.id_meio_envio_codigo_seguranca.is_some()
        || item.email_seguranca.is_some()
        || item.telefone_seguranca.is_some()
        || item.permitir_reenviar_codigo.is_some();
    if security_given {
        let security =
            recipient.security.as_mut().filter(|s| s.code.is_some()).ok_or(msg::RESEND_SECURITY)?;
        let channel = item.id_meio_envio_codigo_seguranca.or(security.channel).unwrap_or(4);
        let (email, phone) = security_contact(
            channel,
            text(item.email_seguranca).or_else(|| security.email.clone()),
            text(item.telefone_seguranca).or_else(|| security.phone.clone()),
            msg::required("emailSeguranca"),
            msg::required("telefoneSeguranca"),
        )?;
        security.channel = Some(channel);
        security.email = email;
        security.phone = phone;
        if let Some(allow) = item.permitir_reenviar_codigo {
            security.allow_resend = allow;
        }
    }

    if let Some(data) = item.dados_assinatura {
        if let Some(party) = data.signatario {
            let merged = merge_party(
                recipient.person.take(),
                party,
                recipient.person_document_type,
                msg::PERSON_NUMBER_INVALID,
            )?;
            recipient.person = Some(merged);
        }
        if let Some(party) = data.empresa {
            let merged = merge_party(
                recipient.company.take(),
                party,
                recipient.company_document_type,
                msg::COMPANY_NUMBER_INVALID,
            )?;
            recipient.company = Some(merged);
        }
    }
    recipient.delivery_failed = false;
    Ok(())
}

/// Resend `dadosAssinatura`: `DescartarDadosAnteriores` drops what is not sent again.
fn merge_party(
    previous: Option<PartyData>,
    party: wire::ResendParty,
    document_type: Option<i64>,
    invalid_number: &str,
) -> Result<PartyData, EditError> {
    let discard = party.descartar_dados_anteriores.unwrap_or(false);
    let previous = previous.filter(|_| !discard);
    let update = party_data(
        party.nome,
        party.numero_documento,
        party.validar.or(party.validar_documento),
        document_type,
        None,
        invalid_number,
    )?;
    let enforce_given = party.validar.or(party.validar_documento).is_some();
    Ok(match previous {
        Some(previous) => PartyData {
            name: update.name.or(previous.name),
            number: update.number.or(previous.number),
            enforce: if enforce_given { update.enforce } else { previous.enforce },
        },
        None => update,
    })
}

/// Trimmed text, `None` when absent or blank.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arqsign::account::{
        Credits, DEFAULT_FOLDER_ID, DEFAULT_RESPONSIBLE_ID, DELETED_FOLDER_ID, INACTIVE_USER_ID,
    };
    use crate::aspnet::bind;
    use base64::Engine;
    use serde_json::{Value, json};

    fn account() -> Account {
        Account::seeded(Credits::default(), chrono::Utc::now())
    }

    fn pdf_b64() -> String {
        base64::engine::general_purpose::STANDARD.encode(crate::fixtures::sample_pdf("C", 2))
    }

    fn signer() -> Value {
        json!({"idTipoAcao": 1, "ordemAssinatura": 1, "nome": "Ana", "email": "ana@example.com",
               "assinarOnline": {"assinarComo": 1, "idTipoAssinatura": 1,
                   "assinaturaEletronica": {"obrigarSignatarioInformarNome": 1,
                       "obrigarSignatarioInformarNumeroDocumento": 1, "tipoDocumentoAInformar": 1}}})
    }

    fn body() -> Value {
        json!({"idResponsavel": DEFAULT_RESPONSIBLE_ID, "nomeProcesso": "Contrato",
               "idPasta": DEFAULT_FOLDER_ID, "usarOrdemAssinatura": 1,
               "usarPosicaoAssinaturaAutomatica": 1, "destinatarios": [signer()],
               "documentos": [{"ordemDocumento": 1, "nomeComExtensao": "contrato.pdf", "arquivo": pdf_b64()}]})
    }

    fn check_version(body: &Value, version: ApiVersion) -> Checked<Draft> {
        let request = bind(body.to_string().as_bytes()).map_err(|e| e.to_string())?;
        send(request, version, &account())
    }

    fn check(body: &Value) -> Checked<Draft> {
        check_version(body, ApiVersion::V2)
    }

    fn error(body: &Value) -> String {
        check(body).map(|_| ()).unwrap_err()
    }

    #[test]
    fn a_minimal_send_passes() {
        let draft = check(&body()).unwrap();
        assert_eq!(draft.recipients.len(), 1);
        assert_eq!(draft.documents[0].name, "contrato.pdf");
        assert_eq!(draft.message.title, "ArqSign: Contrato");
        assert!(draft.received.get("documentos").is_none());
        assert_eq!(draft.received["destinatarios"][0]["nome"], "Ana");
    }

    #[test]
    fn process_level_rules() {
        let mut b = body();
        b.as_object_mut().unwrap().remove("nomeProcesso");
        b.as_object_mut().unwrap().remove("usarOrdemAssinatura");
        assert_eq!(error(&b), msg::required("nomeProcesso, usarOrdemAssinatura"));
        let mut b = body();
        b["idPasta"] = json!(crate::ids::new_guid());
        assert_eq!(error(&b), msg::FOLDER_NOT_FOUND);
        b["idPasta"] = json!(DELETED_FOLDER_ID);
        assert!(check(&b).is_ok(), "a deleted folder is accepted");
        b["idResponsavel"] = json!(crate::ids::new_guid());
        assert_eq!(error(&b), msg::unknown_ids("idResponsavel"));
        b["idResponsavel"] = json!(INACTIVE_USER_ID);
        assert!(check(&b).is_ok(), "any user of the account may send");
        b["idResponsavel"] = json!("abc");
        assert_eq!(error(&b), msg::malformed("idResponsavel"));
        let mut b = body();
        b["configuracoesAvancadas"] = json!({"tempoExpiracaoDocumentoDias": 1000});
        assert_eq!(error(&b), msg::malformed("tempoExpiracaoDocumentoDias"));
    }

    #[test]
    fn contact_rules() {
        let mut b = body();
        b["destinatarios"][0]["telefone"] = json!("+5511987654321");
        assert_eq!(error(&b), msg::ONE_CONTACT);
        b["destinatarios"][0].as_object_mut().unwrap().remove("email");
        b["destinatarios"][0]["assinarOnline"]["idTipoAssinatura"] = json!(3);
        assert_eq!(error(&b), msg::WHATSAPP_ONLY_ELECTRONIC);
        b["destinatarios"][0]["assinarOnline"]["idTipoAssinatura"] = json!(1);
        assert!(check(&b).is_ok());
        b["destinatarios"][0]["telefone"] = json!("123");
        assert_eq!(error(&b), msg::INVALID_PHONE);
        b["destinatarios"][0].as_object_mut().unwrap().remove("telefone");
        assert_eq!(error(&b), msg::CONTACT_REQUIRED);
        b["destinatarios"][0]["email"] = json!("ana@");
        assert_eq!(error(&b), msg::INVALID_EMAIL);
    }

    #[test]
    fn signature_types_accept_both_icp_codes() {
        let mut b = body();
        for code in [2, 3, 4] {
            b["destinatarios"][0]["assinarOnline"]["idTipoAssinatura"] = json!(code);
            assert!(check(&b).is_ok(), "{code}");
        }
        b["destinatarios"][0]["assinarOnline"]["idTipoAssinatura"] = json!(5);
        assert_eq!(error(&b), msg::SIGNATURE_TYPE);
    }

    #[test]
    fn order_rules() {
        let mut b = body();
        b["destinatarios"][0]["ordemAssinatura"] = json!(0);
        assert_eq!(error(&b), msg::ORDER_REQUIRED);
        b["usarOrdemAssinatura"] = json!(false);
        assert_eq!(check(&b).unwrap().recipients[0].order, 1);
        b["destinatarios"] = json!([signer(), signer()]);
        assert_eq!(error(&b), msg::DUPLICATE_AT_ORDER);
        b["usarOrdemAssinatura"] = json!(true);
        b["destinatarios"][1]["ordemAssinatura"] = json!(2);
        assert!(check(&b).is_ok(), "the same person may sign at two orders");
        b["destinatarios"] = json!([{"idTipoAcao": 2, "nome": "C", "email": "c@x.com"}]);
        assert_eq!(error(&b), msg::required("destinatarios"));
    }

    #[test]
    fn file_rules() {
        let mut b = body();
        b["documentos"][0] = json!({"nomeComExtensao": "a.docx", "arquivo": "UEsDBAo="});
        assert_eq!(error(&b), msg::not_pdf("a.docx"));
        b["documentos"][0] = json!({"nomeComExtensao": "a.pdf", "arquivo": "***"});
        assert_eq!(error(&b), msg::not_pdf("a.pdf"));
        let file = json!({"nomeComExtensao": "a.pdf", "arquivo": "JVBERi0="});
        b["documentos"] = json!(vec![file.clone(); 26]);
        assert_eq!(error(&b), msg::TOO_MANY_FILES);
        b["documentos"] = json!([file, {"nomeComExtensao": "b.pdf", "arquivo": "JVBERi0="}]);
        assert_eq!(error(&b), msg::DOCUMENT_ORDER_EACH);
        b["documentos"][0]["ordemDocumento"] = json!(1);
        b["documentos"][1]["ordemDocumento"] = json!(1);
        assert_eq!(error(&b), format!("{} Arquivos: a.pdf, b.pdf.", msg::SAME_ORDER));
        b["documentos"][1]["ordemDocumento"] = json!(2);
        b["documentos"][1]["nomeComExtensao"] = json!("A.PDF");
        assert_eq!(error(&b), msg::SAME_NAME);
        b["documentos"] = json!([]);
        assert_eq!(error(&b), msg::NO_FILE);
        b["documentos"] = json!([{"nomeComExtensao": "a.pdf", "linkDoArquivo": "data:application/pdf;base64,JVBERi0="}]);
        assert_eq!(error(&b), msg::UNKNOWN_PARAMETER);
        assert!(check_version(&b, ApiVersion::V3).is_ok());
        b["documentos"][0]["linkDoArquivo"] = json!("https://example.com/a.pdf");
        assert_eq!(
            check_version(&b, ApiVersion::V3).map(|_| ()).unwrap_err(),
            msg::LINK_UNAVAILABLE
        );
        b["documentos"][0]["arquivo"] = json!("JVBERi0=");
        assert_eq!(check_version(&b, ApiVersion::V3).map(|_| ()).unwrap_err(), msg::FILE_OR_LINK);
    }

    #[test]
    fn v3_fields_only_on_v3() {
        let mut b = body();
        b["destinatarios"][0]["retornarLinkProcesso"] = json!(true);
        assert_eq!(error(&b), msg::UNKNOWN_PARAMETER);
        assert!(check_version(&b, ApiVersion::V3).unwrap().recipients[0].return_link);
        b["destinatarios"][0]["alterarNotificacoes"] = json!(3);
        b["destinatarios"][0]["retornarLinkProcesso"] = json!(false);
        let err = check_version(&b, ApiVersion::V3).map(|_| ()).unwrap_err();
        assert_eq!(err, msg::LINK_REQUIRED_FOR_EMBED);
    }

    #[test]
    fn security_attachment_role_and_data_rules() {
        let mut b = body();
        fn online(b: &mut Value) -> &mut Value {
            &mut b["destinatarios"][0]["assinarOnline"]
        }
        online(&mut b)["seguranca"] = json!({"codigoSeguranca": "1234", "idMeioEnvio": 3});
        assert_eq!(error(&b), msg::SECURITY_EMAIL_REQUIRED);
        online(&mut b)["seguranca"] = json!({"codigoSeguranca": "1234", "idMeioEnvio": 2});
        assert_eq!(error(&b), msg::SECURITY_PHONE_REQUIRED);
        online(&mut b)["seguranca"] = json!({"codigoSeguranca": "1234", "idMeioEnvio": 9});
        assert_eq!(error(&b), msg::SECURITY_CHANNEL);
        online(&mut b)["seguranca"] = json!({"codigoSeguranca": "12a4", "idMeioEnvio": 4});
        assert_eq!(error(&b), msg::malformed("codigoSeguranca"));
        online(&mut b)["seguranca"] = json!({"codigoSeguranca": 1234, "idMeioEnvio": 4});
        assert!(check(&b).is_ok());

        online(&mut b)["anexos"] = json!([{"anexoDocumentoNome": "RG"}]);
        assert_eq!(error(&b), msg::ATTACHMENT_FIELDS);
        let attachment = json!({"anexoDocumentoNome": "RG", "anexoObrigatorio": 1, "anexoExibirTodosDestinatarios": 0});
        online(&mut b)["anexos"] = json!([attachment.clone(), attachment]);
        assert_eq!(error(&b), msg::ATTACHMENT_NAMES);
        online(&mut b)["anexos"] = json!([]);

        online(&mut b)["papelPessoaFisica"] = json!(["Fiador"]);
        assert_eq!(error(&b), msg::UNKNOWN_ROLES);
        online(&mut b)["papelPessoaFisica"] = json!(["contratante"]);
        assert!(check(&b).is_ok());

        online(&mut b)["dadosAssinatura"] =
            json!({"signatario": {"numeroDocumento": "123.456.789-00"}});
        assert_eq!(error(&b), msg::PERSON_NUMBER_INVALID);
        online(&mut b)["dadosAssinatura"] = json!({"signatario": {"numeroDocumento": "529.982.247-25"},
                                                   "dadosComplementares": [{"label": "Matrícula"}]});
        assert_eq!(error(&b), msg::VALUE_REQUIRED);
        online(&mut b)["dadosAssinatura"]["dadosComplementares"] = json!([{"valor": "1"}]);
        assert_eq!(error(&b), msg::LABEL_REQUIRED);
        online(&mut b)["dadosAssinatura"]["dadosComplementares"] = json!([]);
        online(&mut b)["assinaturaEletronica"]["tipoDocumentoAInformar"] = json!(4);
        assert_eq!(error(&b), msg::PERSON_OTHER_REQUIRED);
        online(&mut b)["assinaturaEletronica"]["tipoDocumentoAInformar"] = json!(9);
        assert_eq!(error(&b), msg::PERSON_DOCUMENT_TYPE);
        online(&mut b)["assinaturaEletronica"]["tipoDocumentoAInformar"] = json!(1);
        online(&mut b)["assinarComo"] = json!(3);
        assert_eq!(
            error(&b),
            msg::required(
                "obrigarSignatarioInformarNomeEmpresa, obrigarSignatarioInformarNumeroDocumentoEmpresa"
            )
        );
        online(&mut b)["assinaturaEletronica"]["obrigarSignatarioInformarNomeEmpresa"] =
            json!(true);
        online(&mut b)["assinaturaEletronica"]["obrigarSignatarioInformarNumeroDocumentoEmpresa"] =
            json!(true);
        online(&mut b)["assinaturaEletronica"]["tipoDocumentoEmpresaAInformar"] = json!(1);
        assert_eq!(error(&b), msg::COMPANY_DOCUMENT_TYPE);
        online(&mut b)["assinaturaEletronica"]["tipoDocumentoEmpresaAInformar"] = json!(5);
        online(&mut b)["dadosAssinatura"]["empresa"] =
            json!({"numeroDocumento": "11.222.333/0001-00"});
        assert_eq!(error(&b), msg::COMPANY_NUMBER_INVALID);
        online(&mut b)["dadosAssinatura"]["empresa"] =
            json!({"numeroDocumento": "11.222.333/0001-81"});
        assert!(check(&b).is_ok());
        online(&mut b).as_object_mut().unwrap().remove("assinaturaEletronica");
        assert_eq!(error(&b), msg::required("assinaturaEletronica"));
    }

    #[test]
    fn manual_positions_must_cover_every_file_inside_its_pages() {
        let mut b = body();
        b["usarPosicaoAssinaturaAutomatica"] = json!(false);
        assert_eq!(error(&b), msg::PERSON_POSITION_REQUIRED);
        let place = |page: i64, x: f64| json!([{"pessoaFisica": {"pagina": page, "altura": 20, "largura": 60, "posicaoX": x, "posicaoY": 250}}]);
        b["destinatarios"][0]["assinarOnline"]["definirPosicaoAssinaturaManual"] = place(3, 10.0);
        assert_eq!(error(&b), msg::missing_pages(&[3]));
        b["destinatarios"][0]["assinarOnline"]["definirPosicaoAssinaturaManual"] = place(2, 180.0);
        assert_eq!(error(&b), msg::POSITION_OUTSIDE);
        b["destinatarios"][0]["assinarOnline"]["definirPosicaoAssinaturaManual"] = place(2, 10.0);
        let draft = check(&b).unwrap();
        let placement = &draft.recipients[0].placements[0];
        assert_eq!((placement.document_order, placement.page, placement.company), (1, 2, false));
        b["destinatarios"][0]["assinarOnline"]["definirPosicaoAssinaturaManual"][0]["documentoDeOrdem"] =
            json!(2);
        assert_eq!(error(&b), msg::no_document_at(2));
    }
}
