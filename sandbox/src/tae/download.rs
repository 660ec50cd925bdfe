//! What `tipoDownload` gives (contract §4.5, §5.6): the original file, the signed PDF with the
//! "Protocolo de assinaturas" appended, the same for a digital-certificate signature, or a zip
//! of everything.
//!
//! The protocol follows the sections of TAE's manifesto (Documento, Assinaturas, Pendentes)
//! with the data the sandbox has; it is a readable simulation, not a signature.

use chrono::{DateTime, Utc};

use super::state::{Document, File, Progress, Refusal, action_label, status};
use crate::files::{sha256_hex, stem, zip};
use crate::pdf::{self, Line};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Original,
    Signed,
    SignedWithCertificate,
    Archive,
}

impl Kind {
    pub fn from_code(code: i64) -> Option<Kind> {
        match code {
            1 => Some(Kind::Original),
            2 => Some(Kind::Signed),
            3 => Some(Kind::SignedWithCertificate),
            4 => Some(Kind::Archive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Artifact {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Builds the requested file. Signed kinds need a finalized document.
pub(crate) fn artifact(
    document: &Document,
    kind: Kind,
    now: DateTime<Utc>,
) -> Result<Artifact, Refusal> {
    let original = document
        .files
        .first()
        .ok_or_else(|| Refusal::Invalid("O documento não tem arquivos.".into()))?;
    if kind == Kind::Original {
        return Ok(Artifact {
            file_name: original.name.clone(),
            content_type: original.content_type.clone(),
            bytes: original.bytes.clone(),
        });
    }
    if document.status != status::FINALIZADO {
        return Err(Refusal::Invalid(format!(
            "O documento ainda não foi finalizado (status \"{}\"); somente o original pode ser baixado.",
            status::label(document.status)
        )));
    }
    let certificate = kind == Kind::SignedWithCertificate;
    let signed = signed_pdf(document, original, certificate, now)?;
    if kind != Kind::Archive {
        return Ok(signed);
    }
    let mut entries: Vec<(&str, &[u8])> =
        document.files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())).collect();
    let signed_name = format!("{}_assinado.pdf", stem(&original.name));
    entries.push((&signed_name, &signed.bytes));
    Ok(Artifact {
        file_name: format!("{}.zip", stem(&original.name)),
        content_type: "application/zip".into(),
        bytes: zip(&entries).map_err(|e| Refusal::Invalid(format!("Falha ao gerar o zip: {e}")))?,
    })
}

/// The original with the protocol pages appended; the protocol alone when the original is not
/// a readable PDF (e.g. a .docx).
fn signed_pdf(
    document: &Document,
    original: &File,
    certificate: bool,
    now: DateTime<Utc>,
) -> Result<Artifact, Refusal> {
    let pages = pdf::layout(&protocol_lines(document, certificate, now));
    let bytes = pdf::append_pages(&original.bytes, &pages)
        .or_else(|_| pdf::new_document(&pages))
        .map_err(|e| Refusal::Invalid(format!("Falha ao gerar o PDF assinado: {e}")))?;
    Ok(Artifact {
        file_name: format!("{}.pdf", stem(&original.name)),
        content_type: "application/pdf".into(),
        bytes,
    })
}

pub(crate) fn protocol_lines(
    document: &Document,
    certificate: bool,
    now: DateTime<Utc>,
) -> Vec<Line> {
    let mut lines = vec![
        Line::heading(if certificate {
            "Protocolo de assinaturas — assinado com certificado digital"
        } else {
            "Protocolo de assinaturas"
        }),
        Line::blank(),
        Line::section("Documento"),
        Line::body(format!("Nome do envelope: {}", document.envelope_name)),
        Line::body(format!("Autor: {}", document.owner)),
        Line::body(format!("Status: {}", status::label(document.status))),
    ];
    for file in &document.files {
        lines.push(Line::body(format!("Arquivo: {}", file.name)));
        lines.push(Line::body(format!("Hash SHA256: {}", sha256_hex(&file.bytes))));
    }
    lines.push(Line::body(format!("Gerado em: {} UTC", now.format("%Y-%m-%d %H:%M:%S"))));

    let recipients =
        document.publication.as_ref().map(|p| p.recipients.as_slice()).unwrap_or_default();
    lines.push(Line::blank());
    lines.push(Line::section("Assinaturas"));
    let mut signed_any = false;
    for recipient in recipients {
        let Progress::Done { at } = recipient.progress else {
            continue;
        };
        signed_any = true;
        let name = recipient.name();
        lines.push(Line::body(format!(
            "Nome: {}",
            if name.is_empty() { &recipient.email } else { &name }
        )));
        let id_label = if recipient.received.tipoidentificacao == Some(2) {
            "ID Internacional"
        } else {
            "CPF/CNPJ"
        };
        let id_number = recipient
            .received
            .identificacao
            .clone()
            .filter(|i| !i.trim().is_empty())
            .unwrap_or_else(|| "Não informado".into());
        lines.push(Line::body(format!("{id_label}: {id_number}")));
        if let Some(role) = recipient.received.papelassinante.as_deref().filter(|r| !r.is_empty()) {
            lines.push(Line::body(format!("Cargo: {role}")));
        }
        lines.push(Line::body(format!("E-mail: {}", recipient.email)));
        lines.push(Line::body(format!("Ação: {}", action_label(recipient.acao))));
        lines.push(Line::body(format!("Data: {} UTC", at.format("%Y-%m-%d %H:%M:%S"))));
        lines.push(Line::body(format!("Status: {}", done_label(recipient.acao, certificate))));
        lines.push(Line::body(format!(
            "Tipo de autenticação: {}",
            if recipient.received.tipoautenticacao == Some(2) {
                "Código enviado por e-mail"
            } else {
                "Utilizando login e senha, pessoal e intransferível"
            }
        )));
        lines.push(Line::blank());
    }
    if !signed_any {
        lines.push(Line::body("Nenhuma assinatura."));
        lines.push(Line::blank());
    }

    lines.push(Line::section("Pendentes"));
    let pending: Vec<_> =
        recipients.iter().filter(|r| !matches!(r.progress, Progress::Done { .. })).collect();
    if pending.is_empty() {
        lines.push(Line::body("Nenhum destinatário pendente."));
    }
    for recipient in pending {
        lines.push(Line::body(format!(
            "E-mail: {} · Ação: {} · Status: Ainda não visualizou o documento",
            recipient.email,
            action_label(recipient.acao)
        )));
    }
    lines.push(Line::blank());
    lines.push(Line::section("Autenticidade"));
    lines.push(Line::body(
        "Gerado pelo signbridge-sandbox, simulador local do TOTVS Assinatura Eletrônica. \
         Não tem validade jurídica.",
    ));
    lines
}

fn done_label(acao: i64, certificate: bool) -> &'static str {
    match acao {
        1 => "Validado eletronicamente",
        2 => "Testemunhado eletronicamente",
        _ if certificate => "Assinado com certificado digital",
        _ => "Assinado eletronicamente",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tae::TaeConfig;
    use crate::tae::state::{Act, State};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-02T09:30:00Z").unwrap().with_timezone(&Utc)
    }

    fn finalized(bytes: Vec<u8>, name: &str) -> Document {
        let mut s = State::new(TaeConfig::default());
        let file = File { name: name.into(), content_type: "application/pdf".into(), bytes };
        let id = s.upload("svc@signbridge.test", "Contrato de locação".into(), vec![file], now());
        let body = json!({"idDocumento": id, "destinatarios": [
            {"email": "maria@x.com", "acao": 0, "nomeCompleto": "Maria da Conceição", "tipoAutenticacao": 2,
             "identificacao": "11111111111", "tipoIdentificacao": 1}]});
        let request = crate::tae::wire::bind(body.to_string().as_bytes()).unwrap();
        s.publish("svc@signbridge.test", request, body, "/x", now()).unwrap();
        s.act(id, "maria@x.com", Act::Sign, now()).unwrap().clone()
    }

    #[test]
    fn signed_pdf_appends_a_readable_protocol() {
        let original = crate::fixtures::sample_pdf("Contrato", 2);
        let document = finalized(original.clone(), "contrato.pdf");
        let signed = artifact(&document, Kind::Signed, now()).unwrap();
        assert_eq!(signed.file_name, "contrato.pdf");
        assert_eq!(pdf::page_count(&signed.bytes).unwrap(), 3);
        let text = lopdf::Document::load_mem(&signed.bytes).unwrap().extract_text(&[3]).unwrap();
        for expected in [
            "Protocolo de assinaturas",
            "Contrato de locação",
            "Maria da Conceição",
            "maria@x.com",
            "2025-06-02 09:30:00 UTC",
            "Finalizado",
            &sha256_hex(&original),
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }

    #[test]
    fn non_pdf_originals_get_a_standalone_protocol() {
        let document = finalized(b"PK\x03\x04 not a pdf".to_vec(), "contrato.docx");
        let signed = artifact(&document, Kind::SignedWithCertificate, now()).unwrap();
        assert_eq!(signed.file_name, "contrato.pdf");
        assert_eq!(pdf::page_count(&signed.bytes).unwrap(), 1);
    }

    #[test]
    fn archive_holds_original_and_signed() {
        let document = finalized(crate::fixtures::sample_pdf("C", 1), "contrato.pdf");
        let archive = artifact(&document, Kind::Archive, now()).unwrap();
        assert_eq!(
            (archive.file_name.as_str(), archive.content_type.as_str()),
            ("contrato.zip", "application/zip")
        );
        let zip = zip::ZipArchive::new(std::io::Cursor::new(archive.bytes)).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert_eq!(names, ["contrato.pdf", "contrato_assinado.pdf"]);
    }

    #[test]
    fn signed_kinds_need_a_finalized_document() {
        let mut document = finalized(crate::fixtures::sample_pdf("C", 1), "c.pdf");
        document.status = status::ASSINADO_PARCIALMENTE;
        assert!(matches!(artifact(&document, Kind::Signed, now()), Err(Refusal::Invalid(_))));
        assert_eq!(artifact(&document, Kind::Original, now()).unwrap().file_name, "c.pdf");
    }
}
