//! TAE's in-memory state and its rules (contract §6), free of HTTP so they can be tested
//! directly. Every operation takes `now` from the caller.
//!
//! ```text
//! upload                        -> 5 Rascunho
//! publish                       5 -> 0 Pendente
//! a recipient acts (not last)   0 -> 1 Assinado parcialmente
//! the last recipient acts       0|1 -> 2 Finalizado
//! a recipient rejects           0|1 -> 4 Rejeitado   (only if permiteRejeitarDocumento)
//! cancel                        0|1 -> 5 (or 7, configurable); recipients stay listed
//! expire (control)              dataExpiracao moves to the past; status kept, acting refused
//! ```

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use super::TaeConfig;
use super::wire;
use crate::files::LinkStore;
use crate::ids::{new_guid, random_segment};

/// Document status codes (contract §5.1).
pub(crate) mod status {
    pub const PENDENTE: i64 = 0;
    pub const ASSINADO_PARCIALMENTE: i64 = 1;
    pub const FINALIZADO: i64 = 2;
    pub const REJEITADO: i64 = 4;
    pub const RASCUNHO: i64 = 5;
    pub const CANCELADO: i64 = 7;

    pub fn label(code: i64) -> &'static str {
        match code {
            PENDENTE => "Pendente",
            ASSINADO_PARCIALMENTE => "Assinado parcialmente",
            FINALIZADO => "Finalizado",
            REJEITADO => "Rejeitado",
            RASCUNHO => "Rascunho",
            CANCELADO => "Cancelado",
            _ => "Desconhecido",
        }
    }

    /// Published and still waiting for someone.
    pub fn is_open(code: i64) -> bool {
        matches!(code, PENDENTE | ASSINADO_PARCIALMENTE)
    }
}

/// Recipient action codes (contract §5.2).
pub(crate) fn action_label(acao: i64) -> &'static str {
    match acao {
        0 => "Assinar",
        1 => "Validar",
        2 => "Testemunhar",
        3 => "Observar",
        4 => "Assinar com certificado",
        _ => "Desconhecida",
    }
}

pub(crate) const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Why an operation was refused; the HTTP layer picks the status and wrapper.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// 404 with this message.
    NotFound(String),
    /// Bad input: 400.
    Invalid(String),
    /// Valid input, wrong moment (state, order, expiry).
    Conflict(String),
}

pub(crate) const NOT_FOUND: &str = "Documento não encontrado.";

fn not_found() -> Refusal {
    Refusal::NotFound(NOT_FOUND.into())
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub id: i64,
    /// `NomeEnvelope` of the upload.
    pub envelope_name: String,
    /// `userName` of the uploader.
    pub owner: String,
    pub files: Vec<File>,
    pub status: i64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// The last publish; kept after a cancel so recipients stay listed.
    pub publication: Option<Publication>,
    pub rejection_reason: Option<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Publication {
    /// The publish body exactly as received.
    pub received: Value,
    /// The path the publish came through.
    pub route: String,
    pub recipients: Vec<Recipient>,
    pub observers: Vec<String>,
    /// `utilizaWorkflow`: recipients act in ascending `workflow` order.
    pub ordered: bool,
    pub author_signs: bool,
    /// `enderecoIp` of the publisher, as sent.
    pub ip: Option<String>,
    /// UTC; a date-only value means the end of that day.
    pub expires_at: Option<NaiveDateTime>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub allow_reject: bool,
    pub reminder_days: i64,
    pub handwritten: bool,
}

impl Publication {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now.naive_utc())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    pub email: String,
    pub acao: i64,
    pub workflow: i64,
    /// Every field as received (the validated ones included).
    pub received: wire::Recipient,
    /// Access key; the zero GUID for recipients who sign with their own login.
    pub public_key: String,
    pub progress: Progress,
}

impl Recipient {
    /// Name shown in status answers and the protocol.
    pub fn name(&self) -> String {
        self.received.nomecompleto.clone().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Progress {
    Pending,
    /// Signed, validated or witnessed, according to `acao`.
    Done {
        at: DateTime<Utc>,
    },
    Rejected {
        at: DateTime<Utc>,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub email: Option<String>,
    pub detail: Option<String>,
}

/// What a recipient does through the control routes.
#[derive(Debug, Clone)]
pub(crate) enum Act {
    Sign,
    Reject { reason: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub token: String,
    pub refresh_token: String,
    pub user: String,
    pub expires_at: DateTime<Utc>,
}

pub(crate) struct State {
    pub config: TaeConfig,
    next_id: i64,
    documents: BTreeMap<i64, Document>,
    sessions: HashMap<String, Session>,
    /// Files behind v2 download links.
    pub links: LinkStore,
    /// Webhook receivers and what they were last sent.
    pub hooks: super::webhooks::Hooks,
}

impl State {
    pub fn new(config: TaeConfig) -> State {
        State {
            next_id: config.first_document_id,
            config,
            documents: BTreeMap::new(),
            sessions: HashMap::new(),
            links: LinkStore::default(),
            hooks: Default::default(),
        }
    }

    // ---- identity ------------------------------------------------------------------------

    /// Checks the credentials and opens a session. User names compare case-insensitively
    /// (they are e-mails), passwords exactly.
    pub fn login(
        &mut self,
        user_name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Option<Session> {
        let user = self
            .config
            .users
            .iter()
            .find(|(name, pass)| name.eq_ignore_ascii_case(user_name.trim()) && pass == password)
            .map(|(name, _)| name.clone())?;
        self.sessions.retain(|_, session| session.expires_at > now);
        let ttl =
            chrono::Duration::from_std(self.config.token_ttl).unwrap_or(chrono::Duration::MAX);
        let session = Session {
            token: new_token(),
            refresh_token: random_segment(32),
            user,
            expires_at: now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        self.sessions.insert(session.token.clone(), session.clone());
        Some(session)
    }

    /// The user behind a bearer token that is still valid.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Option<String> {
        self.sessions
            .get(token)
            .filter(|session| session.expires_at > now)
            .map(|session| session.user.clone())
    }

    /// Every token issued so far stops working.
    pub fn expire_tokens(&mut self) -> usize {
        for session in self.sessions.values_mut() {
            session.expires_at = DateTime::<Utc>::MIN_UTC;
        }
        self.sessions.len()
    }

    // ---- documents -----------------------------------------------------------------------

    /// Creates a draft envelope; returns its id.
    pub fn upload(
        &mut self,
        owner: &str,
        envelope_name: String,
        files: Vec<File>,
        now: DateTime<Utc>,
    ) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let detail = files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
        self.documents.insert(
            id,
            Document {
                id,
                envelope_name,
                owner: owner.to_owned(),
                files,
                status: status::RASCUNHO,
                created_at: now,
                modified_at: now,
                publication: None,
                rejection_reason: None,
                events: vec![Event {
                    at: now,
                    kind: "uploaded",
                    email: Some(owner.to_owned()),
                    detail: Some(detail),
                }],
            },
        );
        id
    }

    pub fn document(&self, id: i64) -> Option<&Document> {
        self.documents.get(&id)
    }

    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.documents.values()
    }

    /// Publishes a draft: validates the body (§4.2 rules), stores it and moves 5 → 0.
    pub fn publish(
        &mut self,
        author: &str,
        request: wire::PublishRequest,
        received: Value,
        route: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let id = request
            .iddocumento
            .ok_or_else(|| Refusal::Invalid("O campo idDocumento é obrigatório.".into()))?;
        let document = self.documents.get(&id).ok_or_else(not_found)?;
        let publication = build_publication(author, request, received, route)?;
        if document.status != status::RASCUNHO {
            return Err(Refusal::Invalid(format!(
                "Somente documentos em rascunho podem ser publicados; este está \"{}\".",
                status::label(document.status)
            )));
        }
        let document = self.documents.get_mut(&id).ok_or_else(not_found)?;
        let recipients =
            publication.recipients.iter().map(|r| r.email.as_str()).collect::<Vec<_>>().join(", ");
        document.publication = Some(publication);
        document.status = status::PENDENTE;
        document.rejection_reason = None;
        document.modified_at = now;
        document.events.push(Event {
            at: now,
            kind: "published",
            email: Some(author.to_owned()),
            detail: Some(recipients),
        });
        Ok(())
    }

    /// A recipient signs (or validates, witnesses) or rejects.
    pub fn act(
        &mut self,
        id: i64,
        email: &str,
        act: Act,
        now: DateTime<Utc>,
    ) -> Result<&Document, Refusal> {
        let document = self.documents.get_mut(&id).ok_or_else(not_found)?;
        let current = document.status;
        let publication =
            document.publication.as_mut().filter(|_| status::is_open(current)).ok_or_else(
                || {
                    Refusal::Conflict(format!(
                        "O documento está \"{}\" e não aguarda assinaturas.",
                        status::label(current)
                    ))
                },
            )?;
        if publication.is_expired(now) {
            return Err(Refusal::Conflict(
                "O prazo para assinatura deste documento expirou.".into(),
            ));
        }
        let index = publication
            .recipients
            .iter()
            .position(|r| r.email.eq_ignore_ascii_case(email.trim()))
            .ok_or_else(|| {
                Refusal::NotFound(format!("{email} não é destinatário deste documento."))
            })?;
        let recipient = &publication.recipients[index];
        if recipient.progress != Progress::Pending {
            return Err(Refusal::Conflict(format!(
                "{} já atuou neste documento.",
                recipient.email
            )));
        }
        if publication.ordered {
            let waiting_for: Vec<&str> = publication
                .recipients
                .iter()
                .filter(|r| r.progress == Progress::Pending && r.workflow < recipient.workflow)
                .map(|r| r.email.as_str())
                .collect();
            if !waiting_for.is_empty() {
                return Err(Refusal::Conflict(format!(
                    "Fora da ordem do fluxo: aguardando {}.",
                    waiting_for.join(", ")
                )));
            }
        }
        let email = recipient.email.clone();
        let event = match act {
            Act::Sign => {
                publication.recipients[index].progress = Progress::Done { at: now };
                let all_done = publication
                    .recipients
                    .iter()
                    .all(|r| matches!(r.progress, Progress::Done { .. }));
                document.status =
                    if all_done { status::FINALIZADO } else { status::ASSINADO_PARCIALMENTE };
                Event { at: now, kind: "signed", email: Some(email), detail: None }
            }
            Act::Reject { reason } => {
                if !publication.allow_reject {
                    return Err(Refusal::Conflict(
                        "Este documento não permite rejeição (permiteRejeitarDocumento).".into(),
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(Refusal::Invalid("Informe o motivo da rejeição.".into()));
                }
                publication.recipients[index].progress =
                    Progress::Rejected { at: now, reason: reason.clone() };
                document.status = status::REJEITADO;
                document.rejection_reason = Some(reason.clone());
                Event { at: now, kind: "rejected", email: Some(email), detail: Some(reason) }
            }
        };
        document.modified_at = now;
        document.events.push(event);
        Ok(document)
    }

    /// Moves the expiry date into the past; the status is kept (TAE has no known expired code).
    pub fn expire(&mut self, id: i64, now: DateTime<Utc>) -> Result<&Document, Refusal> {
        let document = self.documents.get_mut(&id).ok_or_else(not_found)?;
        let current = document.status;
        let publication =
            document.publication.as_mut().filter(|_| status::is_open(current)).ok_or_else(
                || {
                    Refusal::Conflict(format!(
                        "Somente documentos publicados e pendentes expiram; este está \"{}\".",
                        status::label(current)
                    ))
                },
            )?;
        let past = now.naive_utc() - chrono::Duration::seconds(1);
        publication.expires_at = Some(past);
        document.modified_at = now;
        document.events.push(Event { at: now, kind: "expired", email: None, detail: None });
        Ok(document)
    }

    /// Cancels an open publication: back to draft (or 7, per config); recipients stay listed.
    pub fn cancel(&mut self, id: i64, by: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
        let cancel_status = self.config.cancel_status;
        let document = self.documents.get_mut(&id).ok_or_else(not_found)?;
        if document.publication.is_none() || !status::is_open(document.status) {
            return Err(Refusal::Invalid(format!(
                "Somente publicações pendentes podem ser canceladas; este documento está \"{}\".",
                status::label(document.status)
            )));
        }
        document.status = cancel_status;
        document.modified_at = now;
        document.events.push(Event {
            at: now,
            kind: "cancelled",
            email: Some(by.to_owned()),
            detail: None,
        });
        Ok(())
    }

    /// Company-wide or own documents, optionally by author; `(total, page)`. `page` is 1-based
    /// and a `size` of 0 means everything, as callers of the real API use it.
    pub fn search(
        &self,
        caller: &str,
        whole_company: bool,
        author: Option<&str>,
        page: usize,
        size: usize,
    ) -> (usize, Vec<&Document>) {
        let matching: Vec<&Document> = self
            .documents
            .values()
            .filter(|d| whole_company || d.owner.eq_ignore_ascii_case(caller))
            .filter(|d| {
                author.is_none_or(|a| a.trim().is_empty() || d.owner.eq_ignore_ascii_case(a.trim()))
            })
            .collect();
        let total = matching.len();
        if size == 0 {
            return (total, matching);
        }
        let skip = page.saturating_sub(1).saturating_mul(size);
        (total, matching.into_iter().skip(skip).take(size).collect())
    }

    /// Published documents that list `email` as a recipient, optionally by status.
    pub fn search_by_recipient(
        &self,
        email: &str,
        statuses: &[i64],
    ) -> Vec<(&Document, &Recipient)> {
        self.documents
            .values()
            .filter(|d| statuses.is_empty() || statuses.contains(&d.status))
            .filter_map(|d| {
                let recipient = d
                    .publication
                    .as_ref()?
                    .recipients
                    .iter()
                    .find(|r| r.email.eq_ignore_ascii_case(email.trim()))?;
                Some((d, recipient))
            })
            .collect()
    }
}

fn build_publication(
    author: &str,
    request: wire::PublishRequest,
    received: Value,
    route: &str,
) -> Result<Publication, Refusal> {
    let options = request.publicacaoopcoes.unwrap_or_default();
    let expiry_text =
        request.dataexpiracao.or(options.dataexpiracao).filter(|text| !text.trim().is_empty());
    let expires_at =
        expiry_text.as_deref().map(parse_expiry).transpose().map_err(Refusal::Invalid)?;

    let mut recipients = Vec::new();
    for (n, wire_recipient) in request.destinatarios.unwrap_or_default().into_iter().enumerate() {
        let position = n + 1;
        let email = wire_recipient
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                Refusal::Invalid(format!("O campo email é obrigatório (destinatário {position})."))
            })?
            .to_owned();
        let acao = wire_recipient.acao.ok_or_else(|| {
            Refusal::Invalid(format!("O campo acao é obrigatório (destinatário {email})."))
        })?;
        let by_code = wire_recipient.tipoautenticacao == Some(2);
        if by_code && wire_recipient.nomecompleto.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(Refusal::Invalid(format!(
                "O campo nomeCompleto é obrigatório para destinatários com autenticação por código (destinatário {email})."
            )));
        }
        recipients.push(Recipient {
            email,
            acao,
            workflow: wire_recipient.workflow.unwrap_or(0),
            public_key: if by_code { new_guid() } else { ZERO_GUID.into() },
            received: wire_recipient,
            progress: Progress::Pending,
        });
    }
    let author_signs = request.responsavelassinadocumento.unwrap_or(false);
    if author_signs && !recipients.iter().any(|r| r.email.eq_ignore_ascii_case(author)) {
        recipients.insert(
            0,
            Recipient {
                email: author.to_owned(),
                acao: 0,
                workflow: 0,
                received: wire::Recipient {
                    email: Some(author.to_owned()),
                    acao: Some(0),
                    nomecompleto: Some(author.to_owned()),
                    tipoautenticacao: Some(1),
                    ..wire::Recipient::default()
                },
                public_key: ZERO_GUID.into(),
                progress: Progress::Pending,
            },
        );
    }
    if recipients.is_empty() {
        return Err(Refusal::Invalid("Informe ao menos um destinatário.".into()));
    }
    let mut duplicates: Vec<&str> = Vec::new();
    for (i, recipient) in recipients.iter().enumerate() {
        let repeated = recipients[..i]
            .iter()
            .any(|earlier| earlier.email.eq_ignore_ascii_case(&recipient.email));
        if repeated && !duplicates.iter().any(|d| d.eq_ignore_ascii_case(&recipient.email)) {
            duplicates.push(&recipient.email);
        }
    }
    if !duplicates.is_empty() {
        return Err(Refusal::Invalid(format!(
            "Existem destinatários repetidos: {}",
            duplicates.join(", ")
        )));
    }

    let observers = request
        .observadores
        .unwrap_or_default()
        .into_iter()
        .map(|o| {
            o.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).ok_or_else(|| {
                Refusal::Invalid("O campo email é obrigatório nos observadores.".into())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Publication {
        received,
        route: route.to_owned(),
        recipients,
        observers,
        ordered: request.utilizaworkflow.unwrap_or(false),
        author_signs,
        ip: request.enderecoip,
        expires_at,
        subject: options.assuntomensagem,
        message: options.corpomensagem,
        allow_reject: options.permiterejeitardocumento.unwrap_or(false),
        reminder_days: options.intervalolembrete.unwrap_or(0),
        handwritten: options.solicitaassinaturamanuscrita.unwrap_or(false),
    })
}

/// `dataExpiracao` as callers send it: ISO with an offset or `Z`, ISO without (UTC), or a date
/// (valid through the end of that day, UTC).
pub(crate) fn parse_expiry(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc).naive_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_milli_opt(23, 59, 59, 999))
        .ok_or_else(|| format!("O campo dataExpiracao não é uma data válida: \"{text}\"."))
}

/// An opaque token shaped like TAE's nested JWE: five base64url segments, the first decoding to
/// the header the real service sends.
fn new_token() -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"A128KW","enc":"A128CBC-HS256","typ":"JWT","cty":"JWT"}"#);
    format!(
        "{header}.{}.{}.{}.{}",
        random_segment(32),
        random_segment(22),
        random_segment(256),
        random_segment(22)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AUTHOR: &str = "svc@signbridge.test";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn state() -> State {
        State::new(TaeConfig::default())
    }

    fn draft(state: &mut State) -> i64 {
        let file = File {
            name: "contrato.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF".to_vec(),
        };
        state.upload(AUTHOR, "Contrato".into(), vec![file], now())
    }

    fn publish(state: &mut State, body: Value) -> Result<(), Refusal> {
        let request = wire::bind(body.to_string().as_bytes()).unwrap();
        state.publish(AUTHOR, request, body, "/tae/documents/v1/publicacoes", now())
    }

    fn two_recipients(id: i64, ordered: bool) -> Value {
        json!({
            "idDocumento": id,
            "destinatarios": [
                {"email": "b@x.com", "acao": 1, "workflow": 2},
                {"email": "a@x.com", "acao": 0, "workflow": 1, "tipoAutenticacao": 2, "nomeCompleto": "Ana"}
            ],
            "utilizaWorkflow": ordered,
            "publicacaoOpcoes": {"permiteRejeitarDocumento": true}
        })
    }

    #[test]
    fn full_lifecycle_reaches_finalizado() {
        let mut s = state();
        let id = draft(&mut s);
        assert_eq!(id, TaeConfig::default().first_document_id);
        assert_eq!(s.document(id).unwrap().status, status::RASCUNHO);
        publish(&mut s, two_recipients(id, false)).unwrap();
        assert_eq!(s.document(id).unwrap().status, status::PENDENTE);
        assert_eq!(
            s.act(id, "B@X.COM", Act::Sign, now()).unwrap().status,
            status::ASSINADO_PARCIALMENTE
        );
        assert_eq!(s.act(id, "a@x.com", Act::Sign, now()).unwrap().status, status::FINALIZADO);
        let refused = s.act(id, "a@x.com", Act::Sign, now()).unwrap_err();
        assert!(matches!(refused, Refusal::Conflict(_)));
        let kinds: Vec<_> = s.document(id).unwrap().events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["uploaded", "published", "signed", "signed"]);
    }

    #[test]
    fn code_by_email_recipients_get_a_key() {
        let mut s = state();
        let id = draft(&mut s);
        publish(&mut s, two_recipients(id, false)).unwrap();
        let recipients = &s.document(id).unwrap().publication.as_ref().unwrap().recipients;
        assert_eq!(recipients[0].public_key, ZERO_GUID);
        let key = &recipients[1].public_key;
        assert_eq!(key.len(), 36);
        assert_ne!(key, ZERO_GUID);
        assert_eq!(&key[14..15], "4");
    }

    #[test]
    fn workflow_order_is_enforced() {
        let mut s = state();
        let id = draft(&mut s);
        publish(&mut s, two_recipients(id, true)).unwrap();
        let refused = s.act(id, "b@x.com", Act::Sign, now()).unwrap_err();
        assert_eq!(
            refused,
            Refusal::Conflict("Fora da ordem do fluxo: aguardando a@x.com.".into())
        );
        s.act(id, "a@x.com", Act::Sign, now()).unwrap();
        s.act(id, "b@x.com", Act::Sign, now()).unwrap();
    }

    #[test]
    fn reject_needs_permission_and_keeps_the_recipient_pending() {
        let mut s = state();
        let id = draft(&mut s);
        publish(&mut s, two_recipients(id, false)).unwrap();
        let reason = "Valor errado".to_owned();
        let document = s.act(id, "a@x.com", Act::Reject { reason: reason.clone() }, now()).unwrap();
        assert_eq!(document.status, status::REJEITADO);
        assert_eq!(document.rejection_reason.as_deref(), Some("Valor errado"));

        let mut s = state();
        let id = draft(&mut s);
        let mut body = two_recipients(id, false);
        body["publicacaoOpcoes"]["permiteRejeitarDocumento"] = json!(false);
        publish(&mut s, body).unwrap();
        assert!(matches!(
            s.act(id, "a@x.com", Act::Reject { reason }, now()),
            Err(Refusal::Conflict(_))
        ));
    }

    #[test]
    fn publish_rules() {
        let mut s = state();
        let id = draft(&mut s);
        let duplicate = json!({"idDocumento": id, "destinatarios": [
            {"email": "a@x.com", "acao": 0}, {"email": "A@X.com", "acao": 1}]});
        assert_eq!(
            publish(&mut s, duplicate).unwrap_err(),
            Refusal::Invalid("Existem destinatários repetidos: A@X.com".into())
        );
        let no_acao = json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com"}]});
        assert!(matches!(publish(&mut s, no_acao), Err(Refusal::Invalid(m)) if m.contains("acao")));
        let no_email = json!({"idDocumento": id, "destinatarios": [{"acao": 0}]});
        assert!(
            matches!(publish(&mut s, no_email), Err(Refusal::Invalid(m)) if m.contains("email"))
        );
        let no_name = json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com", "acao": 0, "tipoAutenticacao": 2}]});
        assert!(
            matches!(publish(&mut s, no_name), Err(Refusal::Invalid(m)) if m.contains("nomeCompleto"))
        );
        let unknown = json!({"idDocumento": 1, "destinatarios": [{"email": "a@x.com", "acao": 0}]});
        assert_eq!(publish(&mut s, unknown).unwrap_err(), Refusal::NotFound(NOT_FOUND.into()));
        assert_eq!(s.document(id).unwrap().status, status::RASCUNHO);

        publish(&mut s, two_recipients(id, false)).unwrap();
        assert!(matches!(publish(&mut s, two_recipients(id, false)), Err(Refusal::Invalid(_))));
    }

    #[test]
    fn author_can_sign_too() {
        let mut s = state();
        let id = draft(&mut s);
        let body = json!({"idDocumento": id, "responsavelAssinaDocumento": true,
                          "destinatarios": [{"email": "a@x.com", "acao": 0}]});
        publish(&mut s, body).unwrap();
        let recipients = &s.document(id).unwrap().publication.as_ref().unwrap().recipients;
        assert_eq!(
            recipients.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(),
            [AUTHOR, "a@x.com"]
        );
    }

    #[test]
    fn cancel_returns_to_the_configured_status() {
        let mut s = state();
        let id = draft(&mut s);
        assert!(matches!(s.cancel(id, AUTHOR, now()), Err(Refusal::Invalid(_))));
        publish(&mut s, two_recipients(id, false)).unwrap();
        s.cancel(id, AUTHOR, now()).unwrap();
        let document = s.document(id).unwrap();
        assert_eq!(document.status, status::RASCUNHO);
        assert_eq!(document.publication.as_ref().unwrap().recipients.len(), 2);
        assert!(matches!(s.cancel(id, AUTHOR, now()), Err(Refusal::Invalid(_))));

        let mut s = state();
        s.config.cancel_status = status::CANCELADO;
        let id = draft(&mut s);
        publish(&mut s, two_recipients(id, false)).unwrap();
        s.cancel(id, AUTHOR, now()).unwrap();
        assert_eq!(s.document(id).unwrap().status, status::CANCELADO);
    }

    #[test]
    fn expiry_stops_signing_but_keeps_status() {
        let mut s = state();
        let id = draft(&mut s);
        publish(&mut s, two_recipients(id, false)).unwrap();
        s.act(id, "a@x.com", Act::Sign, now()).unwrap();
        assert_eq!(s.expire(id, now()).unwrap().status, status::ASSINADO_PARCIALMENTE);
        let refused = s.act(id, "b@x.com", Act::Sign, now()).unwrap_err();
        assert!(matches!(refused, Refusal::Conflict(m) if m.contains("expirou")));
    }

    #[test]
    fn expiry_formats() {
        let expected =
            NaiveDate::from_ymd_opt(2025, 7, 1).unwrap().and_hms_opt(23, 59, 59).unwrap();
        assert_eq!(parse_expiry("2025-07-01T23:59:59.000Z").unwrap(), expected);
        assert_eq!(parse_expiry("2025-07-01T20:59:59-03:00").unwrap(), expected);
        assert_eq!(parse_expiry("2025-07-01T23:59:59").unwrap(), expected);
        assert_eq!(
            parse_expiry("2025-07-01T23:59:59.5").unwrap().and_utc().timestamp_subsec_millis(),
            500
        );
        assert_eq!(
            parse_expiry("2025-07-01").unwrap().and_utc().timestamp(),
            expected.and_utc().timestamp()
        );
        assert!(parse_expiry("01/07/2025").is_err());
    }

    #[test]
    fn sessions_expire() {
        let mut s = state();
        assert!(s.login(AUTHOR, "wrong", now()).is_none());
        let session = s.login("SVC@signbridge.test", "sandbox-password", now()).unwrap();
        assert_eq!(session.token.split('.').count(), 5);
        assert_eq!(s.authenticate(&session.token, now()).as_deref(), Some(AUTHOR));
        let later = now() + chrono::Duration::hours(13);
        assert_eq!(s.authenticate(&session.token, later), None);
        s.expire_tokens();
        assert_eq!(s.authenticate(&session.token, now()), None);
    }

    #[test]
    fn search_pages() {
        let mut s = state();
        let ids: Vec<i64> = (0..5).map(|_| draft(&mut s)).collect();
        let (total, page) = s.search(AUTHOR, true, None, 2, 2);
        assert_eq!(total, 5);
        assert_eq!(page.iter().map(|d| d.id).collect::<Vec<_>>(), ids[2..4]);
        assert_eq!(s.search("other@x.com", false, None, 1, 0).0, 0);
        assert_eq!(s.search("other@x.com", true, Some("nobody@x.com"), 1, 0).0, 0);
    }
}
