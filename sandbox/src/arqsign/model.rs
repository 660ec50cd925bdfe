//! What ArqSign keeps (contract §7.1): processes with their recipients, documents and events,
//! the status and action codes with their labels, and a validated send (`Draft`) before the
//! state takes it.

use std::sync::OnceLock;

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::text::phone_digits;
use super::wire;
use crate::files::sha256_hex;

/// Process status codes (contract §3.1) and their pt-BR labels.
pub(crate) mod status {
    pub const AGUARDANDO: i64 = 2;
    pub const EM_PROCESSO: i64 = 3;
    pub const CONCLUIDO: i64 = 4;
    pub const CANCELADO: i64 = 5;

    pub fn label(code: i64) -> &'static str {
        match code {
            1 => "Criado",
            AGUARDANDO => "Aguardando",
            EM_PROCESSO => "Em processo",
            CONCLUIDO => "Concluído",
            CANCELADO => "Cancelado",
            _ => "Desconhecido",
        }
    }

    /// Sent and still waiting for signatures.
    pub fn is_open(code: i64) -> bool {
        matches!(code, AGUARDANDO | EM_PROCESSO)
    }
}

/// `idTipoAcao`.
pub(crate) mod action {
    pub const SIGN: i64 = 1;
    pub const COPY: i64 = 2;

    pub fn label(code: i64) -> &'static str {
        if code == COPY { "Receber uma cópia" } else { "Assinar Online" }
    }
}

/// `idTipoAssinatura` label; ICP-Brasil is 2 in some pages and 3 in others (contract [X]).
pub(crate) fn signature_type_label(code: i64) -> &'static str {
    match code {
        1 => "Assinatura Eletrônica",
        2 | 3 => "Certificado Digital - ICP Brasil",
        _ => "Certificado Digital – Outros",
    }
}

/// `tipoDocumentoAInformar` / `tipoDocumentoEmpresaAInformar` label.
pub(crate) fn document_type_label(code: i64) -> &'static str {
    match code {
        1 => "CPF",
        2 => "CNH",
        3 => "RG",
        5 => "CNPJ",
        _ => "Outro",
    }
}

/// Which send route created a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V2,
    V3,
}

#[derive(Debug, Clone)]
pub(crate) struct Process {
    pub id: String,
    pub version: ApiVersion,
    pub name: String,
    pub folder_id: String,
    pub responsible_id: String,
    pub status: i64,
    pub created_at: DateTime<Utc>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub expiry_days: i64,
    pub warning_days: i64,
    pub reminder_days: i64,
    pub qr_code: bool,
    pub must_read: bool,
    pub renewal_months: Option<i64>,
    pub message: Message,
    /// `usarOrdemAssinatura`.
    pub ordered: bool,
    /// `usarPosicaoAssinaturaAutomatica`: a signature page at the end of each file; otherwise
    /// the signatures are stamped at each signer's `definirPosicaoAssinaturaManual`.
    pub automatic_position: bool,
    pub concluded_at: Option<DateTime<Utc>>,
    pub renewal_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub resent_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub recipients: Vec<Recipient>,
    pub documents: Vec<Document>,
    pub events: Vec<Event>,
    /// The send body as received, without the files (for the control routes).
    pub received: serde_json::Value,
}

impl Process {
    /// `expirado`: only an open process expires (contract §3.1).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        status::is_open(self.status) && now > self.expires_at
    }

    /// Changes with every event, so generated files can be cached per revision.
    pub fn revision(&self) -> usize {
        self.events.len()
    }

    /// The lowest signing order with a pending signer.
    pub fn current_order(&self) -> Option<i64> {
        self.signers().filter(|r| r.outcome == Outcome::Pending).map(|r| r.order).min()
    }

    /// Recipients who sign (`idTipoAcao` 1), in the order given.
    pub fn signers(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients.iter().filter(|r| r.action == action::SIGN)
    }

    /// Pending signers of the current order: those a resend reaches.
    pub fn pending_now(&self) -> Vec<&Recipient> {
        let current = self.current_order();
        self.signers()
            .filter(|r| {
                r.outcome == Outcome::Pending && (!self.ordered || Some(r.order) == current)
            })
            .collect()
    }

    /// Sets `aguardandoEnvio` from the current state: later orders wait for the current one,
    /// copy recipients wait for the conclusion.
    pub(super) fn release(&mut self) {
        let current = self.current_order();
        let (ordered, concluded) = (self.ordered, self.status == status::CONCLUIDO);
        for recipient in &mut self.recipients {
            recipient.awaiting = if recipient.action == action::COPY {
                !concluded
            } else {
                recipient.outcome == Outcome::Pending
                    && ordered
                    && current.is_some_and(|current| recipient.order > current)
            };
        }
    }

    pub(super) fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: &'static str,
        recipient: Option<&Recipient>,
    ) {
        self.push_detail(at, kind, recipient, None);
    }

    pub(super) fn push_detail(
        &mut self,
        at: DateTime<Utc>,
        kind: &'static str,
        recipient: Option<&Recipient>,
        detail: Option<String>,
    ) {
        let recipient = recipient.map(|r| RecipientRef { id: r.id.clone(), name: r.name.clone() });
        self.events.push(Event { at, kind, recipient, detail });
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    /// `idProcessoDestinatario`.
    pub id: String,
    pub action: i64,
    /// Effective signing order: 1 for everyone without `usarOrdemAssinatura`, 0 for copies.
    pub order: i64,
    pub name: String,
    pub email: Option<String>,
    /// Delivery by WhatsApp.
    pub phone: Option<String>,
    pub signature_type: Option<i64>,
    pub sign_as: Option<i64>,
    pub roles_person: Vec<String>,
    pub roles_company: Vec<String>,
    pub security: Option<Security>,
    pub attachments: Vec<AttachmentConfig>,
    /// Manual signature boxes (only without automatic positioning).
    pub placements: Vec<Placement>,
    /// `tipoDocumentoAInformar` and `tipoDocumentoEmpresaAInformar`.
    pub person_document_type: Option<i64>,
    pub company_document_type: Option<i64>,
    /// `dadosAssinatura.signatario` / `.empresa`: pre-filled signer data.
    pub person: Option<PartyData>,
    pub company: Option<PartyData>,
    /// v3 `retornarLinkProcesso`.
    pub return_link: bool,
    /// Token of the signing link.
    pub link_token: String,
    pub awaiting: bool,
    pub delivery_failed: bool,
    pub copy_sent: bool,
    pub outcome: Outcome,
    /// Files the signer attached when signing.
    pub uploads: Vec<Upload>,
    /// Every field as received.
    pub received: wire::Recipient,
}

impl Recipient {
    /// The address the process went to: `formaEnvio`.
    pub fn contact(&self) -> &str {
        self.email.as_deref().or(self.phone.as_deref()).unwrap_or_default()
    }

    /// `IdFormaEnvioProcesso`: 1 e-mail, 2 WhatsApp.
    pub fn delivery_channel(&self) -> i64 {
        if self.phone.is_some() { 2 } else { 1 }
    }

    pub(super) fn matches(&self, contact: &Contact) -> bool {
        match contact {
            Contact::Email(email) => {
                self.email.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(email.trim()))
            }
            Contact::Phone(phone) => {
                self.phone.as_deref().is_some_and(|own| phone_digits(own) == phone_digits(phone))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Security {
    pub code: Option<String>,
    /// `idMeioEnvio`: 1 SMS, 2 WhatsApp, 3 e-mail, 4 not sent.
    pub channel: Option<i64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub allow_resend: bool,
    pub delivery_failed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttachmentConfig {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub show_all: bool,
}

/// A manual signature box: millimetres, X from the left edge, Y from the top edge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placement {
    pub document_order: i64,
    /// 1-based.
    pub page: i64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The company's signature (`pessoaJuridica`) rather than the person's.
    pub company: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartyData {
    pub name: Option<String>,
    pub number: Option<String>,
    /// `validarDocumento`: the signer must type exactly this number.
    pub enforce: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Pending,
    Signed(Signature),
    Refused { at: DateTime<Utc>, reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Signature {
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub person: Option<Identity>,
    pub company: Option<Identity>,
    pub certificate: Option<Certificate>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub name: Option<String>,
    pub document_type: Option<i64>,
    pub number: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Certificate {
    pub name: String,
    pub issuer: &'static str,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Upload {
    pub id: String,
    /// The attachment configuration's name plus the file name, as `buscar-anexos` lists it.
    pub name: String,
    pub bytes: Bytes,
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// `idArquivoProcesso`.
    pub id: String,
    pub order: i64,
    pub name: String,
    pub bytes: Bytes,
    /// SHA-256 of `bytes` in hex, computed once (a 100 MB file takes a while to hash).
    pub sha256: OnceLock<String>,
    /// Generated files, kept for the process revision they were made at.
    pub signed: Option<(usize, Bytes)>,
    pub report: Option<(usize, Bytes)>,
}

impl Document {
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| sha256_hex(&self.bytes))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub recipient: Option<RecipientRef>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RecipientRef {
    pub id: String,
    pub name: String,
}

/// What was computed for one document outside the lock, to keep.
#[derive(Debug)]
pub(crate) struct Generated {
    pub document: String,
    pub sha256: Option<String>,
    pub signed: Option<Bytes>,
    pub report: Option<Bytes>,
}

/// A validated send, before the state gives it times and a status.
#[derive(Debug)]
pub(crate) struct Draft {
    pub version: ApiVersion,
    pub name: String,
    pub folder_id: String,
    pub responsible_id: String,
    pub expiry_days: Option<i64>,
    pub warning_days: Option<i64>,
    pub reminder_days: Option<i64>,
    pub qr_code: bool,
    pub must_read: bool,
    pub renewal_months: Option<i64>,
    pub message: Message,
    pub ordered: bool,
    pub automatic_position: bool,
    pub recipients: Vec<Recipient>,
    pub documents: Vec<Document>,
    pub received: serde_json::Value,
}

/// How the control routes name a recipient.
#[derive(Debug, Clone)]
pub(crate) enum Contact {
    Email(String),
    Phone(String),
}

impl std::fmt::Display for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contact::Email(text) | Contact::Phone(text) => f.write_str(text),
        }
    }
}

/// What a signer types or the sandbox observes when signing (all optional).
#[derive(Debug, Clone, Default)]
pub(crate) struct SignInput {
    pub ip: Option<String>,
    pub name: Option<String>,
    pub document: Option<String>,
}
