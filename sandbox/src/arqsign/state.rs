//! ArqSign's in-memory state and its rules (contract §7.1), free of HTTP so they can be tested
//! directly. Every operation takes `now` from the caller; the types it keeps are in
//! [`super::model`].
//!
//! ```text
//! send (v2/v3)                           -> 2 Aguardando   (dataEnvio = now, expiry = now + days)
//! a signer signs, others remain          2|3 -> 3 Em processo  (the next order is released)
//! the last signer signs                  2|3 -> 4 Concluído    (copies sent)
//! a signer refuses                       2|3 -> 5 Cancelado    (assinaturaRecusada, motivoRecusa)
//! cancel (API)                           2|3 -> 5 Cancelado    (otherwise 422)
//! resend (API)                           2|3: dataReenvio = now, expiry recomputed (otherwise 422)
//! expire (control)                       dataExpiracao moves into the past: `expirado`, signing refused
//! ```

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, Utc};

use super::account::Account;
use super::limits::Limiter;
use super::model::{
    Certificate, Contact, Document, Draft, Generated, Identity, Outcome, Process, Recipient,
    SignInput, Signature, Upload, action, status,
};
use super::text::digits;
use super::wire;
use super::{ArqSignConfig, messages, validate};
use crate::files::LinkStore;
use crate::ids::{new_guid, normalize_guid};
use crate::pdf::{self, Line};

/// Why an operation was refused; the HTTP layer picks the status and shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// An id that is not in the account, named by its parameter (400 on the API, 404 on the
    /// control routes).
    Unknown(&'static str),
    /// The process was logically deleted: 400 `Documento excluído.`
    Deleted,
    /// Bad input: 400 with this message.
    Invalid(String),
    /// Valid input, wrong process status: 422.
    Unprocessable(String),
    /// Control routes: the action does not fit the process or signer state now (409).
    Conflict(String),
    /// Control routes: nobody with that e-mail or phone in the process (404).
    NoRecipient(String),
}

/// Account defaults for `configuracoesAvancadas` left out.
const DEFAULT_WARNING_DAYS: i64 = 5;
const DEFAULT_REMINDER_DAYS: i64 = 7;

pub(crate) struct State {
    pub config: ArqSignConfig,
    pub account: Account,
    pub links: LinkStore,
    pub limiter: Limiter,
    pub hooks: super::webhooks::Hooks,
    processes: Vec<Process>,
    /// Process id → index in `processes`.
    by_id: HashMap<String, usize>,
    /// Document id → (process index, document index).
    by_document: HashMap<String, (usize, usize)>,
}

impl State {
    pub fn new(config: ArqSignConfig, now: DateTime<Utc>) -> State {
        State {
            account: Account::seeded(config.credits, now),
            config,
            links: LinkStore::default(),
            limiter: Limiter::default(),
            hooks: Default::default(),
            processes: Vec::new(),
            by_id: HashMap::new(),
            by_document: HashMap::new(),
        }
    }

    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter()
    }

    /// A process by id (any casing), as the API sees it: a deleted one answers `Documento
    /// excluído.`
    pub fn process(&self, id: &str) -> Result<&Process, Refusal> {
        let process = self.any_process(id)?;
        if process.deleted {
            return Err(Refusal::Deleted);
        }
        Ok(process)
    }

    /// A process by id, deleted ones included (for the control routes).
    pub fn any_process(&self, id: &str) -> Result<&Process, Refusal> {
        let index = self.index(id)?;
        Ok(&self.processes[index])
    }

    /// A document by `idArquivoProcesso`, with its process.
    pub fn document(&self, id: &str) -> Result<(&Process, &Document), Refusal> {
        let &(p, d) = self
            .by_document
            .get(&normalize_guid(id))
            .ok_or(Refusal::Unknown("idArquivoProcesso"))?;
        let process = &self.processes[p];
        if process.deleted {
            return Err(Refusal::Deleted);
        }
        Ok((process, &process.documents[d]))
    }

    fn index(&self, id: &str) -> Result<usize, Refusal> {
        self.by_id.get(&normalize_guid(id)).copied().ok_or(Refusal::Unknown("idProcesso"))
    }

    fn open_process(&mut self, id: &str, now: DateTime<Utc>) -> Result<&mut Process, Refusal> {
        let index = self.index(id)?;
        let process = &mut self.processes[index];
        if process.deleted {
            return Err(Refusal::Deleted);
        }
        if !status::is_open(process.status) {
            return Err(Refusal::Conflict(format!(
                "O processo está \"{}\" e não aguarda assinaturas.",
                status::label(process.status)
            )));
        }
        if process.is_expired(now) {
            return Err(Refusal::Conflict(
                "O prazo para assinatura deste processo expirou.".into(),
            ));
        }
        Ok(process)
    }

    /// Stores a validated send: consumes credits, starts the expiry clock and notifies the
    /// first order (contract §7.1 "Send").
    pub fn send(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<&Process, Refusal> {
        let whatsapp = draft.recipients.iter().filter(|r| r.phone.is_some()).count();
        let sms = draft
            .recipients
            .iter()
            .filter(|r| r.security.as_ref().is_some_and(|s| s.channel == Some(1)))
            .count();
        let (whatsapp, sms) = (whatsapp as i64, sms as i64);
        let credits = &mut self.account.credits;
        if credits.envios < 1 || credits.whatsapp < whatsapp || credits.sms < sms {
            return Err(Refusal::Invalid(messages::NO_CREDITS.into()));
        }
        credits.envios -= 1;
        credits.whatsapp -= whatsapp;
        credits.sms -= sms;

        let expiry_days = draft
            .expiry_days
            .filter(|days| *days > 0)
            .unwrap_or(i64::from(self.config.default_expiry_days));
        let mut process = Process {
            id: new_guid(),
            version: draft.version,
            name: draft.name,
            folder_id: draft.folder_id,
            responsible_id: draft.responsible_id,
            status: status::AGUARDANDO,
            created_at: now,
            sent_at: now,
            expires_at: now + Duration::days(expiry_days),
            expiry_days,
            warning_days: draft.warning_days.filter(|d| *d > 0).unwrap_or(DEFAULT_WARNING_DAYS),
            reminder_days: draft.reminder_days.unwrap_or(DEFAULT_REMINDER_DAYS),
            qr_code: draft.qr_code,
            must_read: draft.must_read,
            renewal_months: draft.renewal_months.filter(|m| *m > 0),
            message: draft.message,
            ordered: draft.ordered,
            automatic_position: draft.automatic_position,
            concluded_at: None,
            renewal_at: None,
            cancelled_at: None,
            cancelled_by: None,
            resent_at: None,
            deleted: false,
            recipients: draft.recipients,
            documents: draft.documents,
            events: Vec::new(),
            received: draft.received,
        };
        process.release();
        let notified: Vec<String> = process
            .recipients
            .iter()
            .filter(|r| r.action == action::SIGN && !r.awaiting)
            .map(|r| r.contact().to_owned())
            .collect();
        process.push_detail(now, "sent", None, Some(notified.join(", ")));

        let index = self.processes.len();
        self.by_id.insert(process.id.clone(), index);
        for (d, document) in process.documents.iter().enumerate() {
            self.by_document.insert(document.id.clone(), (index, d));
        }
        self.processes.push(process);
        Ok(&self.processes[index])
    }

    /// The first pending signer with that contact: the same person may sign at two orders.
    fn signer_index(process: &Process, contact: &Contact) -> Result<usize, Refusal> {
        let matching: Vec<usize> = (0..process.recipients.len())
            .filter(|&i| {
                let r = &process.recipients[i];
                r.action == action::SIGN && r.matches(contact)
            })
            .collect();
        if matching.is_empty() {
            return Err(Refusal::NoRecipient(format!(
                "{contact} não é signatário deste processo."
            )));
        }
        let index = matching
            .iter()
            .copied()
            .filter(|&i| process.recipients[i].outcome == Outcome::Pending)
            .min_by_key(|&i| process.recipients[i].order)
            .ok_or_else(|| Refusal::Conflict(format!("{contact} já atuou neste processo.")))?;
        let recipient = &process.recipients[index];
        if recipient.awaiting {
            let waiting: Vec<&str> = process
                .signers()
                .filter(|r| r.outcome == Outcome::Pending && r.order < recipient.order)
                .map(Recipient::contact)
                .collect();
            return Err(Refusal::Conflict(format!(
                "Fora da ordem de assinatura: aguardando {}.",
                waiting.join(", ")
            )));
        }
        if recipient.delivery_failed {
            return Err(Refusal::Conflict(format!(
                "A entrega para {contact} falhou; reenvie o processo antes."
            )));
        }
        Ok(index)
    }

    /// A signer signs (simulator hook, contract §7.1 "Sign").
    pub fn sign(
        &mut self,
        id: &str,
        contact: &Contact,
        input: SignInput,
        now: DateTime<Utc>,
    ) -> Result<&Process, Refusal> {
        let process = self.open_process(id, now)?;
        let index = Self::signer_index(process, contact)?;
        let recipient = &process.recipients[index];
        if let Some(expected) = recipient.person.as_ref().filter(|p| p.enforce) {
            let typed = input.document.as_deref().or(expected.number.as_deref());
            if let (Some(expected), Some(typed)) = (expected.number.as_deref(), typed) {
                if digits(expected) != digits(typed) {
                    return Err(Refusal::Conflict(format!(
                        "O documento informado ({typed}) não confere com o exigido para {contact}."
                    )));
                }
            }
        }
        let signature = signature(recipient, &input, now);
        let uploads = required_uploads(recipient, now);

        let recipient = &mut process.recipients[index];
        recipient.outcome = Outcome::Signed(signature);
        recipient.uploads = uploads;
        let signed = recipient.clone();
        process.push(now, "signed", Some(&signed));
        if process.current_order().is_none() {
            process.status = status::CONCLUIDO;
            process.concluded_at = Some(now);
            process.renewal_at = process.renewal_months.and_then(|months| {
                u32::try_from(months).ok().and_then(|m| now.checked_add_months(Months::new(m)))
            });
            for copy in process.recipients.iter_mut().filter(|r| r.action == action::COPY) {
                copy.copy_sent = true;
            }
            process.push(now, "concluded", None);
        } else {
            process.status = status::EM_PROCESSO;
        }
        process.release();
        Ok(process)
    }

    /// A signer refuses: the process is cancelled (contract §3.1, §7.1 "Refuse").
    pub fn refuse(
        &mut self,
        id: &str,
        contact: &Contact,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<&Process, Refusal> {
        if reason.trim().is_empty() {
            return Err(Refusal::Invalid("Informe o motivo da recusa.".into()));
        }
        let process = self.open_process(id, now)?;
        let index = Self::signer_index(process, contact)?;
        let recipient = &mut process.recipients[index];
        recipient.outcome = Outcome::Refused { at: now, reason: reason.to_owned() };
        let refused = recipient.clone();
        process.status = status::CANCELADO;
        process.cancelled_at = Some(now);
        process.cancelled_by = Some(refused.name.clone());
        process.push_detail(now, "refused", Some(&refused), Some(reason.to_owned()));
        Ok(process)
    }

    /// `cancelar-processo`: only from 2 or 3, otherwise 422.
    pub fn cancel(&mut self, id: &str, now: DateTime<Utc>) -> Result<&Process, Refusal> {
        let index = self.index(id)?;
        let by = {
            let process = &self.processes[index];
            self.account.user(&process.responsible_id).map(|u| u.name.to_owned())
        };
        let process = &mut self.processes[index];
        if process.deleted {
            return Err(Refusal::Deleted);
        }
        if !status::is_open(process.status) {
            return Err(Refusal::Unprocessable(messages::CANCEL_NOT_ALLOWED.into()));
        }
        process.status = status::CANCELADO;
        process.cancelled_at = Some(now);
        process.cancelled_by = by;
        process.push(now, "cancelled", None);
        process.release();
        Ok(process)
    }

    /// `reenviar-processo`: applies the edits (all or none), restarts the expiry clock and
    /// resends to the pending signers of the current order, whom it returns.
    pub fn resend(
        &mut self,
        id: &str,
        edits: Vec<wire::ResendItem>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Recipient>, Refusal> {
        let index = self.index(id)?;
        let process = &mut self.processes[index];
        if process.deleted {
            return Err(Refusal::Deleted);
        }
        if !status::is_open(process.status) {
            return Err(Refusal::Unprocessable(messages::RESEND_NOT_ALLOWED.into()));
        }
        let mut edited = process.recipients.clone();
        for item in edits {
            validate::apply_resend_edit(&mut edited, item).map_err(|refusal| match refusal {
                validate::EditError::Unknown => Refusal::Unknown("idProcessoDestinatario"),
                validate::EditError::Invalid(message) => Refusal::Invalid(message),
            })?;
        }
        process.recipients = edited;
        let resent: Vec<String> = process.pending_now().iter().map(|r| r.id.clone()).collect();
        for recipient in process.recipients.iter_mut().filter(|r| resent.contains(&r.id)) {
            recipient.delivery_failed = false;
            if let Some(security) = recipient.security.as_mut() {
                security.delivery_failed = false;
            }
        }
        process.resent_at = Some(now);
        process.expires_at = now + Duration::days(process.expiry_days);
        let names: Vec<String> = process
            .recipients
            .iter()
            .filter(|r| resent.contains(&r.id))
            .map(|r| r.contact().to_owned())
            .collect();
        process.push_detail(now, "resent", None, Some(names.join(", ")));
        Ok(process.recipients.iter().filter(|r| resent.contains(&r.id)).cloned().collect())
    }

    /// Moves the expiry date into the past (simulator hook): the process keeps its status,
    /// shows `expirado` and nobody can sign until a resend.
    pub fn expire(&mut self, id: &str, now: DateTime<Utc>) -> Result<&Process, Refusal> {
        let process = self.open_process(id, now)?;
        process.expires_at = now - Duration::seconds(1);
        process.push(now, "expired", None);
        Ok(process)
    }

    /// Delivery to a recipient failed (simulator hook): `falhaEnvio` until a resend.
    pub fn fail_delivery(
        &mut self,
        id: &str,
        contact: &Contact,
        now: DateTime<Utc>,
    ) -> Result<&Process, Refusal> {
        let process = self.open_process(id, now)?;
        let index = process
            .recipients
            .iter()
            .position(|r| r.matches(contact) && r.outcome == Outcome::Pending && !r.delivery_failed)
            .ok_or_else(|| {
                Refusal::NoRecipient(format!(
                    "{contact} não é destinatário pendente deste processo."
                ))
            })?;
        process.recipients[index].delivery_failed = true;
        let failed = process.recipients[index].clone();
        process.push(now, "delivery_failed", Some(&failed));
        Ok(process)
    }

    /// Logical deletion (simulator hook): API reads answer `Documento excluído.`
    pub fn delete(&mut self, id: &str, now: DateTime<Utc>) -> Result<&Process, Refusal> {
        let index = self.index(id)?;
        let process = &mut self.processes[index];
        process.deleted = true;
        process.push(now, "deleted", None);
        Ok(process)
    }

    /// Keeps what was computed on a copy of a process: hashes always, generated files only if
    /// the process is still at the revision they were built for.
    pub fn cache_files(&mut self, process_id: &str, revision: usize, files: Vec<Generated>) {
        let Ok(index) = self.index(process_id) else { return };
        let process = &mut self.processes[index];
        let current = process.revision() == revision;
        for generated in files {
            let Some(document) = process.documents.iter_mut().find(|d| d.id == generated.document)
            else {
                continue;
            };
            if let Some(hash) = generated.sha256 {
                // Already set means already the same value.
                let _ = document.sha256.set(hash);
            }
            if current {
                if let Some(signed) = generated.signed {
                    document.signed = Some((revision, signed));
                }
                if let Some(report) = generated.report {
                    document.report = Some((revision, report));
                }
            }
        }
    }
}

/// What the signing leaves: typed data (or the pre-filled data) and, for certificate
/// signatures, a simulated certificate.
fn signature(recipient: &Recipient, input: &SignInput, now: DateTime<Utc>) -> Signature {
    let sign_as = recipient.sign_as.unwrap_or(1);
    let person = (sign_as != 2).then(|| Identity {
        name: input
            .name
            .clone()
            .or_else(|| recipient.person.as_ref().and_then(|p| p.name.clone()))
            .or_else(|| Some(recipient.name.clone())),
        document_type: recipient.person_document_type,
        number: input
            .document
            .clone()
            .or_else(|| recipient.person.as_ref().and_then(|p| p.number.clone())),
    });
    let company = (sign_as != 1).then(|| Identity {
        name: recipient.company.as_ref().and_then(|c| c.name.clone()),
        document_type: recipient.company_document_type,
        number: recipient.company.as_ref().and_then(|c| c.number.clone()),
    });
    let certificate = recipient.signature_type.filter(|t| *t != 1).map(|t| Certificate {
        name: recipient.name.to_uppercase(),
        issuer: if t == 4 {
            "AC SIGNBRIDGE SANDBOX (simulada)"
        } else {
            "AC SIGNBRIDGE SANDBOX ICP-BRASIL (simulada)"
        },
        valid_from: now - Duration::days(365),
        valid_until: now + Duration::days(730),
    });
    Signature { at: now, ip: input.ip.clone(), person, company, certificate }
}

/// The required attachments a signer must upload to sign, as small PDFs.
fn required_uploads(recipient: &Recipient, now: DateTime<Utc>) -> Vec<Upload> {
    recipient
        .attachments
        .iter()
        .filter(|config| config.required)
        .filter_map(|config| {
            let lines = [
                Line::heading(format!("Anexo: {}", config.name)),
                Line::blank(),
                Line::body(format!("Enviado por {} ({})", recipient.name, recipient.contact())),
                Line::body(format!("Em {} UTC", now.format("%Y-%m-%d %H:%M:%S"))),
                Line::blank(),
                Line::body("Arquivo gerado pelo signbridge-sandbox (simulador do ArqSign)."),
            ];
            // A one-page text PDF cannot fail to build; skipping it if it did keeps signing
            // total.
            let bytes = pdf::new_document(&pdf::layout(&lines)).ok()?;
            Some(Upload {
                id: new_guid(),
                // The configuration name plus the uploaded file's name (contract §2.8).
                name: format!("{} - documento.pdf", config.name),
                bytes: bytes.into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arqsign::account::{DEFAULT_FOLDER_ID, DEFAULT_RESPONSIBLE_ID};
    use crate::arqsign::model::ApiVersion;
    use crate::aspnet::bind;
    use axum::body::Bytes;
    use serde_json::{Value, json};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn state() -> State {
        State::new(ArqSignConfig::default(), now())
    }

    fn signer(name: &str, email: &str, order: i64) -> Value {
        json!({"idTipoAcao": 1, "ordemAssinatura": order, "nome": name, "email": email,
               "assinarOnline": {"assinarComo": 1, "idTipoAssinatura": 1,
                   "assinaturaEletronica": {"obrigarSignatarioInformarNome": 1,
                       "obrigarSignatarioInformarNumeroDocumento": 1, "tipoDocumentoAInformar": 1}}})
    }

    fn body(ordered: bool, recipients: Vec<Value>) -> Value {
        json!({
            "idResponsavel": DEFAULT_RESPONSIBLE_ID, "nomeProcesso": "Contrato",
            "idPasta": DEFAULT_FOLDER_ID, "usarOrdemAssinatura": ordered,
            "usarPosicaoAssinaturaAutomatica": true, "destinatarios": recipients,
            "configuracoesAvancadas": {"tempoExpiracaoDocumentoDias": 10},
            "renovacaoMeses": 12,
            "documentos": [{"ordemDocumento": 1, "nomeComExtensao": "contrato.pdf",
                            "arquivo": "JVBERi0xLjcK"}]
        })
    }

    fn send(state: &mut State, body: Value) -> String {
        let request = bind(body.to_string().as_bytes()).unwrap();
        let draft = validate::send(request, ApiVersion::V2, &state.account).unwrap();
        state.send(draft, now()).unwrap().id.clone()
    }

    fn email(text: &str) -> Contact {
        Contact::Email(text.into())
    }

    fn two_in_order(state: &mut State) -> String {
        let copy = json!({"idTipoAcao": 2, "nome": "Cópia", "email": "copia@x.com"});
        send(
            state,
            body(true, vec![signer("Ana", "ana@x.com", 1), signer("Bia", "bia@x.com", 2), copy]),
        )
    }

    #[test]
    fn send_starts_waiting_with_expiry_and_order() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let p = s.process(&id.to_uppercase()).unwrap();
        assert_eq!(p.status, status::AGUARDANDO);
        assert_eq!((p.sent_at, p.expires_at), (now(), now() + Duration::days(10)));
        let awaiting: Vec<bool> = p.recipients.iter().map(|r| r.awaiting).collect();
        assert_eq!(awaiting, [false, true, true]);
        assert_eq!(p.recipients[2].order, 0);
        assert_eq!(s.account.credits.envios, crate::arqsign::Credits::default().envios - 1);
    }

    #[test]
    fn signing_follows_the_order_then_concludes() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let refused = s.sign(&id, &email("bia@x.com"), SignInput::default(), now()).unwrap_err();
        assert_eq!(
            refused,
            Refusal::Conflict("Fora da ordem de assinatura: aguardando ana@x.com.".into())
        );
        let p = s.sign(&id, &email("ANA@x.com"), SignInput::default(), now()).unwrap();
        assert_eq!(p.status, status::EM_PROCESSO);
        assert!(!p.recipients[1].awaiting);
        let later = now() + Duration::hours(1);
        let p = s.sign(&id, &email("bia@x.com"), SignInput::default(), later).unwrap();
        assert_eq!(p.status, status::CONCLUIDO);
        assert_eq!(p.concluded_at, Some(later));
        assert_eq!(p.renewal_at, later.checked_add_months(Months::new(12)));
        assert!(p.recipients[2].copy_sent && !p.recipients[2].awaiting);
        let kinds: Vec<_> = p.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["sent", "signed", "signed", "concluded"]);
        assert!(matches!(
            s.sign(&id, &email("ana@x.com"), SignInput::default(), later),
            Err(Refusal::Conflict(_))
        ));
    }

    #[test]
    fn without_order_everyone_signs_at_once() {
        let mut s = state();
        let id = send(
            &mut s,
            body(false, vec![signer("Ana", "ana@x.com", 0), signer("Bia", "bia@x.com", 0)]),
        );
        assert!(s.process(&id).unwrap().recipients.iter().all(|r| !r.awaiting && r.order == 1));
        s.sign(&id, &email("bia@x.com"), SignInput::default(), now()).unwrap();
        assert_eq!(s.process(&id).unwrap().status, status::EM_PROCESSO);
    }

    #[test]
    fn refusal_cancels_with_the_reason() {
        let mut s = state();
        let id = two_in_order(&mut s);
        assert!(matches!(s.refuse(&id, &email("ana@x.com"), " ", now()), Err(Refusal::Invalid(_))));
        let p = s.refuse(&id, &email("ana@x.com"), "valor errado", now()).unwrap();
        assert_eq!((p.status, p.cancelled_at), (status::CANCELADO, Some(now())));
        assert_eq!(p.cancelled_by.as_deref(), Some("Ana"));
        assert_eq!(
            p.recipients[0].outcome,
            Outcome::Refused { at: now(), reason: "valor errado".into() }
        );
        assert!(matches!(
            s.sign(&id, &email("bia@x.com"), SignInput::default(), now()),
            Err(Refusal::Conflict(_))
        ));
    }

    #[test]
    fn cancel_only_while_open() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let p = s.cancel(&id, now()).unwrap();
        assert_eq!(p.status, status::CANCELADO);
        assert_eq!(p.cancelled_by.as_deref(), Some("Remetente Sandbox"));
        assert_eq!(
            s.cancel(&id, now()).unwrap_err(),
            Refusal::Unprocessable(messages::CANCEL_NOT_ALLOWED.into())
        );
        assert_eq!(s.cancel(&new_guid(), now()).unwrap_err(), Refusal::Unknown("idProcesso"));
    }

    #[test]
    fn expiry_stops_signing_until_a_resend() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let p = s.expire(&id, now()).unwrap();
        assert!(p.is_expired(now()));
        assert_eq!(p.status, status::AGUARDANDO);
        let refused = s.sign(&id, &email("ana@x.com"), SignInput::default(), now()).unwrap_err();
        assert!(matches!(refused, Refusal::Conflict(m) if m.contains("expirou")));

        let later = now() + Duration::days(1);
        let resent = s.resend(&id, vec![], later).unwrap();
        assert_eq!(resent.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Ana"]);
        let p = s.process(&id).unwrap();
        assert_eq!(p.resent_at, Some(later));
        assert_eq!(p.expires_at, later + Duration::days(10));
        assert!(!p.is_expired(later));
        s.sign(&id, &email("ana@x.com"), SignInput::default(), later).unwrap();
    }

    #[test]
    fn delivery_failure_blocks_signing_until_a_resend() {
        let mut s = state();
        let id = two_in_order(&mut s);
        s.fail_delivery(&id, &email("ana@x.com"), now()).unwrap();
        assert!(s.process(&id).unwrap().recipients[0].delivery_failed);
        assert!(matches!(
            s.sign(&id, &email("ana@x.com"), SignInput::default(), now()),
            Err(Refusal::Conflict(m)) if m.contains("reenvie")
        ));
        s.resend(&id, vec![], now()).unwrap();
        assert!(!s.process(&id).unwrap().recipients[0].delivery_failed);
        s.sign(&id, &email("ana@x.com"), SignInput::default(), now()).unwrap();
    }

    #[test]
    fn resend_edits_are_validated_and_atomic() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let ana = s.process(&id).unwrap().recipients[0].id.clone();
        let copy = s.process(&id).unwrap().recipients[2].id.clone();
        let edit =
            |value: Value| -> Vec<wire::ResendItem> { bind(value.to_string().as_bytes()).unwrap() };

        let refused = s.resend(&id, edit(json!([{"idProcessoDestinatario": copy}])), now());
        assert_eq!(refused.unwrap_err(), Refusal::Invalid(messages::RESEND_COPY.into()));
        let unknown = s.resend(&id, edit(json!([{"idProcessoDestinatario": new_guid()}])), now());
        assert_eq!(unknown.unwrap_err(), Refusal::Unknown("idProcessoDestinatario"));
        let bad_email = edit(json!([{"idProcessoDestinatario": ana, "idFormaEnvioProcesso": 1,
                                     "email": "nope"}]));
        assert_eq!(
            s.resend(&id, bad_email, now()).unwrap_err(),
            Refusal::Invalid(messages::INVALID_EMAIL.into())
        );
        assert_eq!(s.process(&id).unwrap().resent_at, None);

        let good = edit(json!([{"idProcessoDestinatario": ana.to_uppercase(),
                                "idFormaEnvioProcesso": 2, "telefone": "+55 11 98765-4321",
                                "nome": "Ana Maria"}]));
        let resent = s.resend(&id, good, now()).unwrap();
        assert_eq!(resent[0].name, "Ana Maria");
        assert_eq!(
            (resent[0].email.as_deref(), resent[0].phone.as_deref()),
            (None, Some("+55 11 98765-4321"))
        );
        s.sign(&id, &Contact::Phone("5511987654321".into()), SignInput::default(), now()).unwrap();
    }

    #[test]
    fn enforced_documents_must_match() {
        let mut s = state();
        let mut ana = signer("Ana", "ana@x.com", 1);
        ana["assinarOnline"]["dadosAssinatura"] = json!({"signatario": {"nome": "Ana", "numeroDocumento": "529.982.247-25", "validarDocumento": 1}});
        let id = send(&mut s, body(true, vec![ana]));
        let wrong = SignInput { document: Some("111.444.777-35".into()), ..SignInput::default() };
        assert!(matches!(
            s.sign(&id, &email("ana@x.com"), wrong, now()),
            Err(Refusal::Conflict(_))
        ));
        let right = SignInput { document: Some("52998224725".into()), ..SignInput::default() };
        let p = s.sign(&id, &email("ana@x.com"), right, now()).unwrap();
        let Outcome::Signed(signature) = &p.recipients[0].outcome else { panic!("not signed") };
        let person = signature.person.as_ref().unwrap();
        assert_eq!(
            (person.number.as_deref(), person.document_type),
            (Some("52998224725"), Some(1))
        );
    }

    #[test]
    fn credits_run_out() {
        let mut s = state();
        s.account.credits.envios = 0;
        let request =
            bind(body(false, vec![signer("Ana", "a@x.com", 1)]).to_string().as_bytes()).unwrap();
        let draft = validate::send(request, ApiVersion::V2, &s.account).unwrap();
        assert_eq!(
            s.send(draft, now()).unwrap_err(),
            Refusal::Invalid(messages::NO_CREDITS.into())
        );
    }

    #[test]
    fn deleted_processes_answer_documento_excluido() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let document = s.process(&id).unwrap().documents[0].id.clone();
        s.delete(&id, now()).unwrap();
        assert_eq!(s.process(&id).unwrap_err(), Refusal::Deleted);
        assert!(matches!(s.document(&document), Err(Refusal::Deleted)));
        assert!(s.any_process(&id).is_ok());
    }

    #[test]
    fn cached_files_are_kept_per_revision() {
        let mut s = state();
        let id = two_in_order(&mut s);
        let (revision, document) = {
            let p = s.process(&id).unwrap();
            (p.revision(), p.documents[0].id.clone())
        };
        let generated = |signed: Option<&'static [u8]>, report: Option<&'static [u8]>| Generated {
            document: document.clone(),
            sha256: Some("hash".into()),
            signed: signed.map(Bytes::from_static),
            report: report.map(Bytes::from_static),
        };
        s.cache_files(&id, revision, vec![generated(Some(b"x"), None)]);
        assert_eq!(s.document(&document).unwrap().1.signed.as_ref().unwrap().0, revision);
        assert_eq!(s.document(&document).unwrap().1.sha256(), "hash");
        s.sign(&id, &email("ana@x.com"), SignInput::default(), now()).unwrap();
        s.cache_files(&id, revision, vec![generated(None, Some(b"y"))]);
        assert!(s.document(&document).unwrap().1.report.is_none());
    }
}
