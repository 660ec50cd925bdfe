//! The files ArqSign hands out (contract §4): each uploaded PDF with its signatures (an
//! appended signature page with automatic positioning, stamped boxes with manual positions),
//! and per document the evidence report "Registro de Assinaturas".
//!
//! Both are readable simulations built from the process state; neither is a cryptographic
//! signature. They depend only on the process (never on the clock), so they can be cached per
//! process revision.

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::model::{
    Document, Event, Outcome, Process, Recipient, action, document_type_label,
    signature_type_label, status,
};
use crate::files::stem;
use crate::pdf::{self, Line, POINTS_PER_MM, Stamp};

/// Who sent the process and where it is filed: account data the report shows.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub responsible: String,
    pub folder_path: String,
}

/// `<name without .pdf>_Registro de Assinaturas.pdf` (contract §7.3 #7).
pub(crate) fn evidence_name(document_name: &str) -> String {
    format!("{}_Registro de Assinaturas.pdf", stem(document_name))
}

/// The document with its signatures. A file that starts like a PDF but cannot be parsed comes
/// back unchanged: the sandbox only checks the `%PDF-` header on upload, as clients do.
pub(crate) fn signed_pdf(process: &Process, document: &Document) -> Bytes {
    let built = if process.automatic_position {
        pdf::append_pages(&document.bytes, &pdf::layout(&signature_page(process, document)))
    } else {
        pdf::stamp(&document.bytes, &stamps(process, document))
    };
    match built {
        Ok(bytes) => bytes.into(),
        Err(e) => {
            tracing::warn!(document = %document.id, error = %e, "could not add signatures to an uploaded PDF");
            document.bytes.clone()
        }
    }
}

/// The "Registro de Assinaturas" of one document.
pub(crate) fn evidence_pdf(
    process: &Process,
    document: &Document,
    context: &Context,
) -> Result<Bytes, String> {
    pdf::new_document(&pdf::layout(&evidence_lines(process, document, context))).map(Bytes::from)
}

fn time(at: DateTime<Utc>) -> String {
    format!("{} UTC", at.format("%d/%m/%Y %H:%M:%S"))
}

fn contact_line(recipient: &Recipient) -> String {
    match (&recipient.email, &recipient.phone) {
        (Some(email), _) => format!("E-mail: {email}"),
        (None, Some(phone)) => format!("Telefone (WhatsApp): {phone}"),
        (None, None) => "Sem forma de envio".into(),
    }
}

fn outcome_line(recipient: &Recipient) -> String {
    match &recipient.outcome {
        Outcome::Signed(signature) => format!("Assinado em {}", time(signature.at)),
        Outcome::Refused { at, reason } => format!("Recusado em {}. Motivo: {reason}", time(*at)),
        Outcome::Pending => "Pendente".into(),
    }
}

fn sign_as_label(code: Option<i64>) -> &'static str {
    match code {
        Some(2) => "Pessoa Jurídica",
        Some(3) => "Pessoa Física e Pessoa Jurídica",
        _ => "Pessoa Física",
    }
}

/// Signers in signing order (the send order within one order).
fn signers_in_order(process: &Process) -> Vec<&Recipient> {
    let mut signers: Vec<&Recipient> = process.signers().collect();
    signers.sort_by_key(|r| r.order);
    signers
}

fn signature_page(process: &Process, document: &Document) -> Vec<Line> {
    let mut lines = vec![
        Line::heading("Página de assinaturas"),
        Line::blank(),
        Line::body(format!("Documento: {}", document.name)),
        Line::body(format!("Processo: {} ({})", process.name, process.id)),
        Line::body(format!("Hash SHA256 do arquivo original: {}", document.sha256())),
        Line::body(format!("Status do processo: {}", status::label(process.status))),
        Line::blank(),
        Line::section("Signatários"),
    ];
    for recipient in signers_in_order(process) {
        lines.push(Line::section(recipient.name.clone()));
        lines.push(Line::body(contact_line(recipient)));
        let kind = recipient.signature_type.map_or("", signature_type_label);
        lines.push(Line::body(format!(
            "Tipo de assinatura: {kind} ({})",
            sign_as_label(recipient.sign_as)
        )));
        let roles: Vec<&str> = recipient
            .roles_person
            .iter()
            .chain(&recipient.roles_company)
            .map(String::as_str)
            .collect();
        if !roles.is_empty() {
            lines.push(Line::body(format!("Papel: {}", roles.join(", "))));
        }
        lines.push(Line::body(outcome_line(recipient)));
        lines.push(Line::blank());
    }
    let copies: Vec<&Recipient> =
        process.recipients.iter().filter(|r| r.action == action::COPY).collect();
    if !copies.is_empty() {
        lines.push(Line::section("Cópias"));
        for copy in copies {
            lines.push(Line::body(format!("{} · {}", copy.name, contact_line(copy))));
        }
        lines.push(Line::blank());
    }
    lines.push(Line::body(
        "Assinaturas simuladas pelo signbridge-sandbox, simulador local do ArqSign. \
         Não têm validade jurídica.",
    ));
    lines
}

/// A box at each placement of a signer who signed, on this document.
fn stamps(process: &Process, document: &Document) -> Vec<Stamp> {
    let mut stamps = Vec::new();
    for recipient in process.signers() {
        let Outcome::Signed(signature) = &recipient.outcome else { continue };
        for placement in recipient.placements.iter().filter(|p| p.document_order == document.order)
        {
            let Ok(page) = u32::try_from(placement.page) else { continue };
            let who = if placement.company {
                signature
                    .company
                    .as_ref()
                    .and_then(|c| c.name.clone())
                    .unwrap_or_else(|| recipient.name.clone())
            } else {
                recipient.name.clone()
            };
            // Millimetre boxes checked at send; f32 is plenty for page coordinates.
            let mm = |value: f64| value as f32 * POINTS_PER_MM;
            stamps.push(Stamp {
                page,
                left: mm(placement.x),
                top: mm(placement.y),
                width: mm(placement.width),
                height: mm(placement.height),
                lines: vec![
                    "Assinado digitalmente por".into(),
                    who,
                    time(signature.at),
                    recipient.signature_type.map_or("", signature_type_label).into(),
                ],
            });
        }
    }
    stamps
}

fn evidence_lines(process: &Process, document: &Document, context: &Context) -> Vec<Line> {
    let mut lines = vec![
        Line::heading("Registro de Assinaturas"),
        Line::blank(),
        Line::section("Documento"),
        Line::body(format!("Nome: {}", document.name)),
        Line::body(format!("Id do arquivo: {}", document.id)),
        Line::body(format!("Tamanho: {} bytes", document.bytes.len())),
        Line::body(format!("Hash SHA256 do original: {}", document.sha256())),
        Line::blank(),
        Line::section("Processo"),
        Line::body(format!("Nome: {}", process.name)),
        Line::body(format!("Id: {}", process.id)),
        Line::body(format!("Remetente: {}", context.responsible)),
        Line::body(format!("Pasta: {}", context.folder_path)),
        Line::body(format!("Status: {}", status::label(process.status))),
        Line::body(format!("Enviado em: {}", time(process.sent_at))),
        Line::body(format!("Expira em: {}", time(process.expires_at))),
    ];
    if let Some(at) = process.concluded_at {
        lines.push(Line::body(format!("Concluído em: {}", time(at))));
    }
    if let Some(at) = process.cancelled_at {
        let by = process.cancelled_by.as_deref().unwrap_or("-");
        lines.push(Line::body(format!("Cancelado em: {} por {by}", time(at))));
    }
    lines.push(Line::blank());
    lines.push(Line::section("Signatários"));
    for recipient in signers_in_order(process) {
        lines.push(Line::section(format!("{} (ordem {})", recipient.name, recipient.order)));
        lines.push(Line::body(contact_line(recipient)));
        lines.push(Line::body(format!(
            "Tipo de assinatura: {} · Assinar como: {}",
            recipient.signature_type.map_or("", signature_type_label),
            sign_as_label(recipient.sign_as)
        )));
        if let Some(security) = &recipient.security {
            let channel = match security.channel {
                Some(1) => "SMS",
                Some(2) => "WhatsApp",
                Some(3) => "E-mail",
                _ => "não enviado",
            };
            lines.push(Line::body(format!("Código de segurança: exigido (envio por {channel})")));
        }
        lines.push(Line::body(outcome_line(recipient)));
        if let Outcome::Signed(signature) = &recipient.outcome {
            lines.push(Line::body(format!(
                "IP: {}",
                signature.ip.as_deref().unwrap_or("não informado")
            )));
            for identity in signature.person.iter().chain(&signature.company) {
                let kind = identity.document_type.map_or("Documento", document_type_label);
                lines.push(Line::body(format!(
                    "{} · {kind}: {}",
                    identity.name.as_deref().unwrap_or("-"),
                    identity.number.as_deref().unwrap_or("não informado")
                )));
            }
            if let Some(certificate) = &signature.certificate {
                lines.push(Line::body(format!(
                    "Certificado: {} · Emissor: {} · Válido até {}",
                    certificate.name,
                    certificate.issuer,
                    time(certificate.valid_until)
                )));
            }
            for upload in &recipient.uploads {
                lines.push(Line::body(format!("Anexo: {}", upload.name)));
            }
        }
        lines.push(Line::blank());
    }
    lines.push(Line::section("Histórico"));
    for event in &process.events {
        lines.push(Line::body(format!("{} · {}", time(event.at), describe(event))));
    }
    lines.push(Line::blank());
    lines.push(Line::section("Autenticidade"));
    lines.push(Line::body(
        "Gerado pelo signbridge-sandbox, simulador local do ArqSign. Não tem validade jurídica.",
    ));
    lines
}

fn describe(event: &Event) -> String {
    let who = event.recipient.as_ref().map_or("", |r| r.name.as_str());
    let detail = event.detail.as_deref().unwrap_or("");
    match event.kind {
        "sent" => format!("Processo enviado para: {detail}"),
        "signed" => format!("Assinado por {who}"),
        "concluded" => "Processo concluído".into(),
        "refused" => format!("Recusado por {who}. Motivo: {detail}"),
        "cancelled" => "Processo cancelado pelo remetente".into(),
        "resent" => format!("Processo reenviado para: {detail}"),
        "expired" => "Prazo para assinatura expirado".into(),
        "delivery_failed" => format!("Falha no envio para {who}"),
        "deleted" => "Processo excluído".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arqsign::ArqSignConfig;
    use crate::arqsign::account::{DEFAULT_FOLDER_ID, DEFAULT_RESPONSIBLE_ID};
    use crate::arqsign::model::{ApiVersion, Contact, SignInput};
    use crate::arqsign::state::State;
    use crate::arqsign::validate;
    use crate::aspnet::bind;
    use base64::Engine;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-02T09:30:00Z").unwrap().with_timezone(&Utc)
    }

    fn signed_process(manual: bool) -> Process {
        let pdf = base64::engine::general_purpose::STANDARD
            .encode(crate::fixtures::sample_pdf("Contrato", 2));
        let mut online = json!({"assinarComo": 1, "idTipoAssinatura": 1,
            "assinaturaEletronica": {"obrigarSignatarioInformarNome": 1,
                "obrigarSignatarioInformarNumeroDocumento": 1, "tipoDocumentoAInformar": 1}});
        if manual {
            online["definirPosicaoAssinaturaManual"] = json!([{"pessoaFisica":
                {"pagina": 2, "altura": 20, "largura": 70, "posicaoX": 20, "posicaoY": 240}}]);
        }
        let body = json!({
            "idResponsavel": DEFAULT_RESPONSIBLE_ID, "nomeProcesso": "Contrato de locação",
            "idPasta": DEFAULT_FOLDER_ID, "usarOrdemAssinatura": 0,
            "usarPosicaoAssinaturaAutomatica": !manual,
            "destinatarios": [{"idTipoAcao": 1, "nome": "Maria da Conceição", "email": "maria@x.com",
                               "assinarOnline": online}],
            "documentos": [{"nomeComExtensao": "contrato.pdf", "arquivo": pdf}]
        });
        let mut state = State::new(ArqSignConfig::default(), now());
        let request = bind(body.to_string().as_bytes()).unwrap();
        let draft = validate::send(request, ApiVersion::V2, &state.account).unwrap();
        let id = state.send(draft, now()).unwrap().id.clone();
        let input = SignInput { ip: Some("203.0.113.7".into()), ..SignInput::default() };
        state.sign(&id, &Contact::Email("maria@x.com".into()), input, now()).unwrap().clone()
    }

    fn text(bytes: &[u8], page: u32) -> String {
        lopdf::Document::load_mem(bytes).unwrap().extract_text(&[page]).unwrap()
    }

    #[test]
    fn automatic_positioning_appends_a_signature_page() {
        let process = signed_process(false);
        let signed = signed_pdf(&process, &process.documents[0]);
        assert_eq!(pdf::page_count(&signed).unwrap(), 3);
        let page = text(&signed, 3);
        for expected in [
            "Página de assinaturas",
            "Maria da Conceição",
            "maria@x.com",
            "Assinatura Eletrônica",
            "02/06/2025 09:30:00 UTC",
        ] {
            assert!(page.contains(expected), "missing {expected:?} in {page}");
        }
    }

    #[test]
    fn manual_positioning_stamps_the_page_instead() {
        let process = signed_process(true);
        let signed = signed_pdf(&process, &process.documents[0]);
        assert_eq!(pdf::page_count(&signed).unwrap(), 2);
        assert_ne!(signed, process.documents[0].bytes);
    }

    #[test]
    fn unreadable_pdfs_come_back_unchanged() {
        let mut process = signed_process(false);
        process.documents[0].bytes = Bytes::from_static(b"%PDF-1.7 but not really");
        assert_eq!(signed_pdf(&process, &process.documents[0]), process.documents[0].bytes);
    }

    #[test]
    fn the_evidence_report_names_signers_and_history() {
        let process = signed_process(false);
        let context = Context {
            responsible: "Remetente Sandbox".into(),
            folder_path: "Arquivar|Administração|Contratos".into(),
        };
        let report = evidence_pdf(&process, &process.documents[0], &context).unwrap();
        let all = text(&report, 1);
        for expected in [
            "Registro de Assinaturas",
            "contrato.pdf",
            "Remetente Sandbox",
            "203.0.113.7",
            "Processo concluído",
            "Concluído",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in {all}");
        }
        assert_eq!(evidence_name("contrato.pdf"), "contrato_Registro de Assinaturas.pdf");
        assert_eq!(
            evidence_name("Contrato de Aluguel"),
            "Contrato de Aluguel_Registro de Assinaturas.pdf"
        );
    }
}
