//! The provider-neutral model: what hosts send and what they get back.
//!
//! These types are also the JSON the C ABI and the Python package exchange, so their serde
//! names are part of the public API (snake_case, never a provider's wire name).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One signing request: documents, the people who act on them, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The host's own id for this request (e.g. the ERP record key).
    pub reference: String,
    /// The name the provider shows for the envelope.
    pub title: String,
    /// Absent means none: `send` then reports the missing documents by field name.
    #[serde(default)]
    pub documents: Vec<Document>,
    pub parties: Vec<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// After this instant the parties can no longer act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Parties act one after the other, in `order`.
    #[serde(default)]
    pub sequential: bool,
    /// Days between reminder e-mails; none or 0 sends no reminders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_days: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Per-provider settings the neutral model has no word for, keyed by provider id
    /// (`{"tae": {"allow_reject": false}}`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub provider_options: serde_json::Value,
}

impl Envelope {
    /// An envelope with these documents and parties and nothing else set: no message, deadline,
    /// order, reminders, metadata or provider options.
    pub fn new(
        reference: impl Into<String>,
        title: impl Into<String>,
        documents: Vec<Document>,
        parties: Vec<Party>,
    ) -> Envelope {
        Envelope {
            reference: reference.into(),
            title: title.into(),
            documents,
            parties,
            message: None,
            deadline: None,
            sequential: false,
            reminder_days: None,
            metadata: BTreeMap::new(),
            provider_options: serde_json::Value::Null,
        }
    }

    /// This envelope's options for `provider`, or null.
    pub fn options_for(&self, provider: &str) -> &serde_json::Value {
        self.provider_options.get(provider).unwrap_or(&serde_json::Value::Null)
    }
}

/// The e-mail the provider sends to the parties.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// One file of an envelope.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "DocumentJson", into = "DocumentJson")]
pub struct Document {
    /// File name shown to the parties, with its extension (`contrato.pdf`).
    pub name: String,
    pub content: DocumentContent,
    /// MIME type; guessed from the name when absent.
    pub media_type: Option<String>,
}

/// Where a document's bytes come from.
#[derive(Clone, PartialEq, Eq)]
pub enum DocumentContent {
    /// Read from this file when the envelope is sent.
    Path(PathBuf),
    /// Held in memory; clones share the buffer, so retries never copy it.
    Bytes(Bytes),
}

impl Document {
    pub fn from_path(path: impl Into<PathBuf>) -> Document {
        let path = path.into();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Document { name, content: DocumentContent::Path(path), media_type: None }
    }

    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> Document {
        Document {
            name: name.into(),
            content: DocumentContent::Bytes(bytes.into()),
            media_type: None,
        }
    }

    /// The file extension of `name`, lowercased.
    pub fn extension(&self) -> Option<String> {
        let (_, ext) = self.name.rsplit_once('.')?;
        (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
    }

    /// The declared media type, or one guessed from the extension.
    pub fn media_type(&self) -> &str {
        if let Some(m) = &self.media_type {
            return m;
        }
        match self.extension().as_deref() {
            Some("pdf") => "application/pdf",
            Some("doc") => "application/msword",
            Some("docx") => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Some("xml") => "application/xml",
            Some("zip") => "application/zip",
            _ => "application/octet-stream",
        }
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("name", &self.name)
            .field("content", &self.content)
            .field("media_type", &self.media_type)
            .finish()
    }
}

impl fmt::Debug for DocumentContent {
    // Document bytes never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentContent::Path(p) => write!(f, "path {}", p.display()),
            DocumentContent::Bytes(b) => write!(f, "{} bytes", b.len()),
        }
    }
}

/// The JSON form of a [`Document`]: exactly one of `path` and `content_base64`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentJson {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
}

impl TryFrom<DocumentJson> for Document {
    type Error = String;

    fn try_from(j: DocumentJson) -> Result<Self, Self::Error> {
        let content = match (j.path, j.content_base64) {
            (Some(path), None) => DocumentContent::Path(path),
            (None, Some(b64)) => DocumentContent::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| format!("content_base64 is not valid base64: {e}"))?
                    .into(),
            ),
            _ => return Err("a document needs exactly one of `path` and `content_base64`".into()),
        };
        let name = match (j.name, &content) {
            (Some(n), _) => n,
            (None, DocumentContent::Path(p)) => {
                p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
            (None, DocumentContent::Bytes(_)) => {
                return Err("a document given as content_base64 needs a `name`".into());
            }
        };
        Ok(Document { name, content, media_type: j.media_type })
    }
}

impl From<Document> for DocumentJson {
    fn from(d: Document) -> Self {
        let (path, content_base64) = match d.content {
            DocumentContent::Path(p) => (Some(p), None),
            DocumentContent::Bytes(b) => {
                (None, Some(base64::engine::general_purpose::STANDARD.encode(b)))
            }
        };
        DocumentJson { name: Some(d.name), path, content_base64, media_type: d.media_type }
    }
}

/// What a party does with the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Sign,
    Approve,
    Witness,
    /// Receives copies; does not act.
    Observe,
}

/// A person who signs, approves, witnesses or observes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// National tax id: CPF/CNPJ (Brazil), BIN/IIN (Kazakhstan), INN (Russia); or a foreign id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub role: Role,
    /// Position in a sequential envelope (1 acts first); parties without one follow list order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// A code the party must type before signing, sent to them separately (where supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_code: Option<String>,
}

impl Party {
    /// A party who signs, reached by e-mail.
    pub fn signer(name: impl Into<String>, email: impl Into<String>) -> Party {
        Party::with_role(name, email, Role::Sign)
    }

    pub fn with_role(name: impl Into<String>, email: impl Into<String>, role: Role) -> Party {
        Party {
            name: Some(name.into()),
            email: Some(email.into()),
            tax_id: None,
            phone: None,
            role,
            order: None,
            access_code: None,
        }
    }
}

impl fmt::Debug for Party {
    // E-mails and tax ids are personal data: masked in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("email", &self.email.as_deref().map(mask))
            .field("tax_id", &self.tax_id.as_deref().map(mask))
            .field("role", &self.role)
            .field("order", &self.order)
            .field("access_code", &self.access_code.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// Keeps the first two characters and the domain of an e-mail, hides the rest.
pub fn mask(value: &str) -> String {
    let (local, domain) = value.split_once('@').map_or((value, None), |(l, d)| (l, Some(d)));
    let shown: String = local.chars().take(2).collect();
    match domain {
        Some(d) => format!("{shown}***@{d}"),
        None => format!("{shown}***"),
    }
}

/// What the host stores to refer to a sent envelope later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handle {
    pub provider: String,
    pub account: String,
    /// The provider's id for the document.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Handle {
    /// Parses the JSON form, or the compact `provider:account:id` form.
    pub fn parse(text: &str) -> Result<Handle> {
        let text = text.trim();
        if text.starts_with('{') {
            return serde_json::from_str(text)
                .map_err(|e| Error::validation("handle", format!("not valid JSON: {e}")));
        }
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(p), Some(a), Some(id)) if !p.is_empty() && !a.is_empty() && !id.is_empty() => {
                Ok(Handle { provider: p.into(), account: a.into(), id: id.into(), reference: None })
            }
            _ => Err(Error::validation(
                "handle",
                format!("{text:?} is neither JSON nor provider:account:id"),
            )),
        }
    }

    /// The compact `provider:account:id` form (without the reference).
    pub fn compact(&self) -> String {
        format!("{}:{}:{}", self.provider, self.account, self.id)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact())
    }
}

/// Where an envelope stands, in the neutral vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created at the provider, not yet sent to the parties.
    Draft,
    /// Waiting for the parties; nobody has acted yet.
    Sent,
    PartiallySigned,
    Completed,
    Rejected,
    Cancelled,
    Expired,
    Failed,
    /// The provider reported a code outside the documented set; see `Status::provider_status`.
    Unknown,
}

impl State {
    /// No further change is expected.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Completed | State::Rejected | State::Cancelled | State::Expired | State::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Sent => "sent",
            State::PartiallySigned => "partially_signed",
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one party stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyState {
    Pending,
    Signed,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyStatus {
    pub email: Option<String>,
    pub name: Option<String>,
    /// None when the provider's action code is not one the model knows.
    pub role: Option<Role>,
    pub state: PartyState,
    pub acted_at: Option<DateTime<Utc>>,
}

/// The status of one envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// The provider's own status code or label, exactly as received.
    pub provider_status: String,
    pub parties: Vec<PartyStatus>,
    /// Why it was rejected or failed, in the provider's words.
    pub reason: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The provider's response, for what the model does not carry.
    pub raw: serde_json::Value,
}

/// Something that happened to an envelope, from polling, a change list or a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable across deliveries, so duplicates can be dropped.
    pub id: String,
    pub handle: Handle,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    StateChanged,
    PartySigned,
    PartyRejected,
    DocumentReceived,
    /// A received document's file is in the configured folder (`raw`: `path`, `sha256`, `size`).
    FileDownloaded,
    /// A received document's link expired before its file could be fetched: the sender must
    /// send it again (SINtegre: press "Enviar Tudo").
    LinkExpired,
    /// A received document's file will not be fetched (`raw.reason`: off the allowlist, too
    /// large, refused by the server).
    DownloadFailed,
    Other,
}

/// Which file to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadKind {
    /// The file as sent.
    Original,
    /// The signed file, with the provider's signature report when it appends one.
    Signed,
    /// The signed file carrying a digital-certificate (ICP/PKI) signature.
    DigitallySigned,
    /// The signature report / evidence on its own.
    Evidence,
    /// Everything in one archive (zip).
    Archive,
}

impl DownloadKind {
    pub const ALL: [DownloadKind; 5] = [
        DownloadKind::Original,
        DownloadKind::Signed,
        DownloadKind::DigitallySigned,
        DownloadKind::Evidence,
        DownloadKind::Archive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DownloadKind::Original => "original",
            DownloadKind::Signed => "signed",
            DownloadKind::DigitallySigned => "digitally_signed",
            DownloadKind::Evidence => "evidence",
            DownloadKind::Archive => "archive",
        }
    }
}

impl fmt::Display for DownloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DownloadKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DownloadKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = DownloadKind::ALL.iter().map(|k| k.as_str()).collect();
            Error::validation("kind", format!("unknown download kind {s:?}; one of {known:?}"))
        })
    }
}

/// What a download produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadInfo {
    /// The name the provider gave the file, if any.
    pub file_name: Option<String>,
    pub media_type: Option<String>,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn document_json_takes_exactly_one_source() {
        let d: Document =
            serde_json::from_str(r#"{"name":"a.pdf","content_base64":"JVBERg=="}"#).unwrap();
        assert_eq!(d.content, DocumentContent::Bytes(Bytes::from_static(b"%PDF")));
        let d: Document = serde_json::from_str(r#"{"path":"/tmp/x/contrato.pdf"}"#).unwrap();
        assert_eq!(d.name, "contrato.pdf");
        let both = r#"{"name":"a.pdf","path":"/a","content_base64":"JVBERg=="}"#;
        let err = serde_json::from_str::<Document>(both).unwrap_err().to_string();
        assert!(err.contains("exactly one"), "{err}");
        let err = serde_json::from_str::<Document>(r#"{"content_base64":"JVBERg=="}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a `name`"), "{err}");
        let err = serde_json::from_str::<Document>(r#"{"name":"a","content_base64":"%%"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid base64"), "{err}");
    }

    #[test]
    fn document_debug_hides_bytes() {
        let d = Document::from_bytes("a.pdf", b"secret contract".to_vec());
        let dbg = format!("{d:?}");
        assert!(dbg.contains("15 bytes") && !dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn media_type_is_guessed_from_extension() {
        assert_eq!(Document::from_bytes("A.PDF", vec![]).media_type(), "application/pdf");
        assert_eq!(Document::from_bytes("x", vec![]).media_type(), "application/octet-stream");
    }

    #[test]
    fn party_debug_masks_personal_data() {
        let p = Party {
            name: Some("Maria".into()),
            email: Some("maria.silva@exemplo.com".into()),
            tax_id: Some("12345678901".into()),
            phone: None,
            role: Role::Sign,
            order: None,
            access_code: Some("1234".into()),
        };
        let dbg = format!("{p:?}");
        assert!(dbg.contains("ma***@exemplo.com"), "{dbg}");
        assert!(!dbg.contains("12345678901") && !dbg.contains("Maria"), "{dbg}");
        assert!(!dbg.contains("1234\""), "{dbg}");
    }

    #[test]
    fn handle_parses_json_and_compact_forms() {
        let h = Handle::parse("tae:default:12978325").unwrap();
        assert_eq!((h.provider.as_str(), h.id.as_str()), ("tae", "12978325"));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(Handle::parse(&json).unwrap(), h);
        assert_eq!(h.to_string(), "tae:default:12978325");
        for bad in ["tae::1", "{nope", "", "::", "tae:a"] {
            let err = Handle::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Validation, "{bad:?}");
            assert_eq!(err.context("field"), Some("handle"), "{bad:?}: the field is named");
        }
    }

    #[test]
    fn envelope_rejects_unknown_fields() {
        let err = serde_json::from_str::<Envelope>(
            r#"{"reference":"r","title":"t","documents":[],"parties":[],"titel":"x"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("titel"), "{err}");
    }

    #[test]
    fn download_kind_parses_its_names() {
        for k in DownloadKind::ALL {
            assert_eq!(k.as_str().parse::<DownloadKind>().unwrap(), k);
        }
        assert_eq!("zip".parse::<DownloadKind>().unwrap_err().kind(), ErrorKind::Validation);
    }
}
