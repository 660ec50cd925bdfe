//! The iDocs simulator's state (contract §7.1) and its transitions (§7.2).
//!
//! A document belongs to the company that created it (the sender, direction `Outbox`) and is
//! seen by each counterparty of its route once that counterparty's node has been reached
//! (direction `Inbox`). Statuses are derived per viewer from the document's stage and the
//! viewer's node, so the sender and the recipients always agree:
//!
//! | Stage | Sender sees | A recipient whose node is… sees |
//! |---|---|---|
//! | draft | `DRAFT` | (not visible) |
//! | sent | `SENT_BY_SENDER` | `Active`: `IN_NEW`, or `IN_PROCESS_BY_RECIPIENT` once it made an internal route; `CompletedWithOk`: `IN_PROCESS` (others still to sign) |
//! | finished | `FINISHED` | `FINISHED` |
//! | rejected | `REJECTED_BY_RECIPIENT` | `REJECTED_BY_RECIPIENT` |
//! | recalled | `RECALLED_BY_SENDER` | `RECALLED_BY_SENDER` |
//!
//! The sender's quick-sign save sends the document: the route's first nodes (all of them
//! unless `SEQUENTIAL`) become `Active`. A node that does not require a signature is completed
//! as soon as it is reached. The document is finished when every node completed with OK, and
//! rejected as soon as one fails.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use chrono::{DateTime, TimeDelta, Utc};

use super::IDocsConfig;
use super::bulk::Operation;
use super::cms::{self, Form};
use super::company::{Company, CompanyIndex, seeded};
use super::download::{self, Names};
use super::wire::{
    self, Direction, DocumentGroup, DocumentStatus, ErrorCode, NodeStatus, RouteAction, RouteOrder,
};
use crate::files::{Blob as LinkedFile, LinkStore, mime_type};
use crate::ids::{is_guid, new_guid, normalize_guid};

/// Largest uploaded file: "ограничение по размеру = 15MB" (contract §2.1), taken as MiB.
pub(crate) const MAX_FILE_BYTES: usize = 15 * 1024 * 1024;
const DOCUMENT_EXTENSIONS: &[&str] = &[".doc", ".docx", ".xls", ".xlsx", ".pdf", ".txt"];
const SIGNATURE_EXTENSIONS: &[&str] = &[".cms"];
/// `documentName` and `documentNumber`: 1..256 characters (contract §6).
const MAX_NAME_CHARS: usize = 256;
/// The last second .NET can turn into a date (9999-12-31T23:59:59Z). Larger values are
/// almost always milliseconds sent where seconds are expected.
const MAX_EPOCH: i64 = 253_402_300_799;
/// Page size when `top` is left out (contract §2.0).
const DEFAULT_PAGE: i32 = 10;
/// Largest page the sandbox answers; the real maximum is not documented (contract §6), so a
/// larger `top` is served as this much, and the answer's `top` says so.
const MAX_PAGE: i32 = 100;
/// An unset GUID, as .NET prints `Guid.Empty`.
pub(crate) const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Why a request is refused: the `OperationErrorVM` answered with 400.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::ValidationError, message)
    }

    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::ResourceNotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::InternalServerError, message)
    }

    pub fn to_wire(&self) -> wire::OperationError {
        wire::OperationError {
            error_code: self.code,
            error_description: Some(self.message.clone()),
            error_documentation_link: None,
        }
    }
}

type Checked<T> = Result<T, Refusal>;

/// What an uploaded file is for: the upload route decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobKind {
    /// `document-content`: an original file of a document.
    Document,
    /// `document-signature-content`: a CMS signature.
    Signature,
}

impl BlobKind {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            BlobKind::Document => DOCUMENT_EXTENSIONS,
            BlobKind::Signature => SIGNATURE_EXTENSIONS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BlobKind::Document => "document",
            BlobKind::Signature => "signature",
        }
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub id: String,
    pub kind: BlobKind,
    pub company: CompanyIndex,
    pub file_name: String,
    /// Lowercase, with its dot (`.pdf`).
    pub extension: String,
    pub mime_type: String,
    pub bytes: Bytes,
    pub created_on: DateTime<Utc>,
}

impl Blob {
    pub fn view(&self) -> wire::UploadedBlob {
        wire::UploadedBlob {
            blob_id: self.id.clone(),
            file_name: self.file_name.clone(),
            extension: self.extension.clone(),
            mime_type: self.mime_type.clone(),
            // "в килобайтах", rounded up so a non-empty file never shows 0.
            file_length: (self.bytes.len() as u64).div_ceil(1024),
            created_on: self.created_on.timestamp(),
        }
    }
}

/// An original file of a document.
#[derive(Debug, Clone)]
pub(crate) struct File {
    pub blob_id: String,
    pub name: String,
    pub extension: String,
    pub mime_type: String,
    pub bytes: Bytes,
}

/// Where a document is in its life; statuses are derived from it per viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Draft,
    Sent,
    Finished,
    Rejected,
    Recalled,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Sent => "sent",
            Stage::Finished => "finished",
            Stage::Rejected => "rejected",
            Stage::Recalled => "recalled",
        }
    }
}

/// Which API a call came through: the sender's outbox or a recipient's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Outbox,
    Inbox,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Outbox => "outbox",
            Side::Inbox => "inbox",
        }
    }
}

/// A signature a document received.
#[derive(Debug, Clone)]
pub(crate) struct Signature {
    pub side: Side,
    pub company_bin: String,
    pub employee_id: String,
    /// The uploaded `.cms`; `None` for a signature simulated by a control route.
    pub blob_id: Option<String>,
    pub ticket: Option<String>,
    pub form: Option<Form>,
    pub signer_subject: Option<String>,
    pub cms: Option<Bytes>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct InternalNode {
    pub order: i32,
    pub employee_id: String,
    pub action: RouteAction,
}

/// A company's own approval route. Shown as created: V3 has no call to work its nodes.
#[derive(Debug, Clone)]
pub(crate) struct InternalRoute {
    pub ordering: RouteOrder,
    pub nodes: Vec<InternalNode>,
}

/// A counterparty of the external route.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub order: i32,
    pub bin: String,
    pub comment: Option<String>,
    pub is_individual: bool,
    pub emails: Vec<String>,
    pub sign_required: bool,
    /// The recipient's org unit, for companies that require one (contract §2.2).
    pub org_unit_id: Option<String>,
    pub status: NodeStatus,
    pub completed_on: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// The recipient company's internal route (inbox `route/create`).
    pub internal: Option<InternalRoute>,
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub order: RouteOrder,
    pub sign_required_by_sender: bool,
    /// Sorted by `order`.
    pub nodes: Vec<Node>,
    /// The sender's internal route (outbox full `route/create`).
    pub internal: Option<InternalRoute>,
    pub created_by: String,
}

/// How a company sees a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Sender,
    /// The recipient of route node `n`.
    Recipient(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub id: String,
    pub owner: CompanyIndex,
    pub sender_bin: String,
    pub name: String,
    pub number: String,
    pub date: i64,
    pub group: DocumentGroup,
    pub author: String,
    pub created_on: DateTime<Utc>,
    pub files: Vec<File>,
    pub route: Option<Route>,
    pub stage: Stage,
    pub sent_on: Option<DateTime<Utc>>,
    /// When it was finished, rejected or recalled.
    pub closed_on: Option<DateTime<Utc>>,
    pub signatures: Vec<Signature>,
    /// The content to sign, built once: the same files always give the same ZIP.
    content: Option<Bytes>,
}

impl Document {
    /// How `company` (whose BIN is `bin`) sees this document, if at all.
    pub fn role(&self, company: CompanyIndex, bin: &str) -> Option<Role> {
        if self.owner == company {
            return Some(Role::Sender);
        }
        let nodes = self.route.as_ref().map_or(&[][..], |r| &r.nodes[..]);
        nodes
            .iter()
            .position(|n| n.bin == bin && n.status != NodeStatus::NotStarted)
            .map(Role::Recipient)
    }

    /// The document status as `role` sees it (module table).
    pub fn status(&self, role: Role) -> DocumentStatus {
        match (self.stage, role) {
            (Stage::Draft, _) => DocumentStatus::Draft,
            (Stage::Finished, _) => DocumentStatus::Finished,
            (Stage::Rejected, _) => DocumentStatus::RejectedByRecipient,
            (Stage::Recalled, _) => DocumentStatus::RecalledBySender,
            (Stage::Sent, Role::Sender) => DocumentStatus::SentBySender,
            (Stage::Sent, Role::Recipient(n)) => {
                match self.route.as_ref().and_then(|r| r.nodes.get(n)) {
                    Some(node) if node.status == NodeStatus::Active && node.internal.is_some() => {
                        DocumentStatus::InProcessByRecipient
                    }
                    Some(node) if node.status == NodeStatus::Active => DocumentStatus::InNew,
                    Some(node) if node.status == NodeStatus::CompletedWithFail => {
                        DocumentStatus::RejectedByRecipient
                    }
                    _ => DocumentStatus::InProcess,
                }
            }
        }
    }

    pub fn base(&self, role: Role) -> wire::DocumentBase {
        wire::DocumentBase {
            id: self.id.clone(),
            document_name: self.name.clone(),
            document_number: self.number.clone(),
            document_date: self.date,
            document_group: self.group,
            document_author_employee_id: self.author.clone(),
            created_on: self.created_on.timestamp(),
            document_status: self.status(role),
            document_direction: match role {
                Role::Sender => Direction::Outbox,
                Role::Recipient(_) => Direction::Inbox,
            },
        }
    }

    fn nodes_mut(&mut self) -> &mut [Node] {
        self.route.as_mut().map_or(&mut [][..], |r| &mut r.nodes[..])
    }

    /// The sender signed: the document goes to its counterparties.
    fn send(&mut self, signature: Signature, now: DateTime<Utc>) {
        self.signatures.push(signature);
        self.stage = Stage::Sent;
        self.sent_on = Some(now);
        self.advance(now);
    }

    /// Node `n`'s company signed.
    fn complete(&mut self, n: usize, signature: Signature, now: DateTime<Utc>) {
        self.signatures.push(signature);
        if let Some(node) = self.nodes_mut().get_mut(n) {
            node.status = NodeStatus::CompletedWithOk;
            node.completed_on = Some(now);
        }
        self.advance(now);
    }

    /// Node `n`'s company rejected: the document is rejected for everyone.
    fn reject(&mut self, n: usize, reason: String, now: DateTime<Utc>) {
        if let Some(node) = self.nodes_mut().get_mut(n) {
            node.status = NodeStatus::CompletedWithFail;
            node.completed_on = Some(now);
            node.reject_reason = Some(reason);
        }
        self.stage = Stage::Rejected;
        self.closed_on = Some(now);
    }

    /// Activates the next nodes once none is active; finishes when none is left.
    fn advance(&mut self, now: DateTime<Utc>) {
        let Some(route) = self.route.as_mut() else { return };
        let finished = loop {
            if route.nodes.iter().any(|n| n.status == NodeStatus::Active) {
                break false;
            }
            let pending = route.nodes.iter().filter(|n| n.status == NodeStatus::NotStarted);
            let Some(first) = pending.map(|n| n.order).min() else { break true };
            let sequential = route.order == RouteOrder::Sequential;
            for node in route.nodes.iter_mut().filter(|n| n.status == NodeStatus::NotStarted) {
                if sequential && node.order != first {
                    continue;
                }
                if node.sign_required {
                    node.status = NodeStatus::Active;
                } else {
                    // Nothing to wait for: the counterparty only receives the document.
                    node.status = NodeStatus::CompletedWithOk;
                    node.completed_on = Some(now);
                }
            }
        };
        if finished {
            self.stage = Stage::Finished;
            self.closed_on = Some(now);
        }
    }
}

/// An idempotency ticket, issued with a content to sign (contract §4.3).
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub value: String,
    /// The id in the content's `downloadLink`.
    pub content_id: String,
    pub document_id: String,
    pub company: CompanyIndex,
    pub employee_id: String,
    pub side: Side,
    pub issued_on: DateTime<Utc>,
    pub dispose_on: DateTime<Utc>,
    /// The signature blob saved with it; a repeat save with the same blob is a no-op.
    pub used_blob: Option<String>,
}

impl Ticket {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.dispose_on
    }
}

/// What a quick-sign save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Saved {
    Recorded,
    /// The same ticket and signature again: nothing changed.
    Replayed,
}

pub(crate) struct State {
    pub config: IDocsConfig,
    pub companies: Vec<Company>,
    /// When the sandbox started: the seeded employees' `createdOn`.
    pub started: DateTime<Utc>,
    blobs: HashMap<String, Blob>,
    /// In creation order.
    pub documents: Vec<Document>,
    pub tickets: Vec<Ticket>,
    /// Async operations in push order (see `bulk`).
    pub operations: Vec<Operation>,
    /// Files behind bulk-download links.
    pub links: LinkStore,
}

/// A required GUID field; the zero GUID counts as missing, as it is .NET's "unset".
pub(crate) fn required_guid(value: Option<&str>, field: &str) -> Checked<String> {
    let text = value.map(str::trim).filter(|t| !t.is_empty() && *t != ZERO_GUID);
    let text = text.ok_or_else(|| Refusal::validation(format!("{field} is required.")))?;
    if !is_guid(text) {
        return Err(Refusal::validation(format!("{field} must be a GUID; got {text:?}.")));
    }
    Ok(normalize_guid(text))
}

/// A page of `items` as `skip`/`top` ask (contract §2.0).
pub(crate) fn page<T>(
    items: Vec<T>,
    skip: Option<i32>,
    top: Option<i32>,
) -> Checked<wire::Page<T>> {
    let skip = skip.unwrap_or(0);
    let top = top.unwrap_or(DEFAULT_PAGE);
    if skip < 0 || top < 0 {
        return Err(Refusal::validation("skip and top must not be negative."));
    }
    let top = top.min(MAX_PAGE);
    let total_size = items.len();
    // Both are non-negative i32 here, so they fit usize.
    let page_items = items.into_iter().skip(skip as usize).take(top as usize).collect();
    Ok(wire::Page { page_items, skip, top, total_size })
}

/// The last segment of a client file name (browsers on Windows may send a full path).
fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).trim()
}

/// `.ext`, lowercase; empty without one.
fn extension_of(file_name: &str) -> String {
    match file_name.rsplit_once('.') {
        Some((_, extension)) => format!(".{}", extension.to_ascii_lowercase()),
        None => String::new(),
    }
}

fn text_field(value: Option<String>, field: &str) -> Checked<String> {
    let value = value.filter(|v| !v.trim().is_empty());
    let value = value.ok_or_else(|| Refusal::validation(format!("{field} is required.")))?;
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Refusal::validation(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters."
        )));
    }
    Ok(value)
}

fn after(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl State {
    pub fn new(config: IDocsConfig, now: DateTime<Utc>) -> State {
        State {
            companies: seeded(config.token.clone(), config.counterparty_token.clone()),
            config,
            started: now,
            blobs: HashMap::new(),
            documents: Vec::new(),
            tickets: Vec::new(),
            operations: Vec::new(),
            links: LinkStore::default(),
        }
    }

    /// The company a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<CompanyIndex> {
        self.companies.iter().position(|c| c.token == token)
    }

    pub fn company_by_bin(&self, bin: &str) -> Option<CompanyIndex> {
        self.companies.iter().position(|c| c.bin == bin)
    }

    /// An employee of `company`, by a required GUID field.
    fn employee(&self, company: CompanyIndex, id: Option<&str>, field: &str) -> Checked<String> {
        let id = required_guid(id, field)?;
        let company = &self.companies[company];
        if company.employee(&id).is_none() {
            return Err(Refusal::validation(format!(
                "{field} {id} is not an employee of the company with BIN {}.",
                company.bin
            )));
        }
        Ok(id)
    }

    pub fn document_index(&self, id: &str) -> Option<usize> {
        let id = normalize_guid(id);
        self.documents.iter().position(|d| d.id == id)
    }

    /// A document `company` sees, and how it sees it.
    pub fn visible(&self, company: CompanyIndex, id: &str) -> Option<(usize, Role)> {
        let index = self.document_index(id)?;
        let role = self.documents[index].role(company, self.companies[company].bin)?;
        Some((index, role))
    }

    /// The caller's outgoing document named by a request.
    fn outbox_document(&self, company: CompanyIndex, id: Option<&str>) -> Checked<usize> {
        let id = required_guid(id, "documentId")?;
        match self.visible(company, &id) {
            Some((index, Role::Sender)) => Ok(index),
            _ => Err(Refusal::not_found(format!("Outgoing document {id} was not found."))),
        }
    }

    /// The caller's incoming document named by a request, with the caller's route node.
    fn inbox_document(&self, company: CompanyIndex, id: Option<&str>) -> Checked<(usize, usize)> {
        let id = required_guid(id, "documentId")?;
        match self.visible(company, &id) {
            Some((index, Role::Recipient(node))) => Ok((index, node)),
            _ => Err(Refusal::not_found(format!("Incoming document {id} was not found."))),
        }
    }

    /// The content to sign of document `index`, built on first use.
    fn content(&mut self, index: usize) -> Checked<Bytes> {
        let document = &mut self.documents[index];
        if let Some(content) = &document.content {
            return Ok(content.clone());
        }
        let content =
            Bytes::from(download::content_zip(&document.files).map_err(Refusal::internal)?);
        document.content = Some(content.clone());
        Ok(content)
    }

    pub fn names(&self) -> Names {
        Names {
            companies: self
                .companies
                .iter()
                .map(|c| (c.bin.to_owned(), c.name.to_owned()))
                .collect(),
            employees: self
                .companies
                .iter()
                .flat_map(|c| &c.employees)
                .map(|e| (e.id.to_owned(), e.full_name()))
                .collect(),
        }
    }

    // ---- blobs ------------------------------------------------------------------------------

    /// Stores an uploaded file after the checks of contract §2.1.
    pub fn upload(
        &mut self,
        company: CompanyIndex,
        kind: BlobKind,
        file_name: &str,
        bytes: Bytes,
        now: DateTime<Utc>,
    ) -> Checked<&Blob> {
        let file_name = base_name(file_name);
        let extension = extension_of(file_name);
        if !kind.extensions().contains(&extension.as_str()) {
            return Err(Refusal::new(
                ErrorCode::UploadedFileExtensionError,
                format!(
                    "File {file_name:?} has an extension that is not accepted here; allowed: {}.",
                    kind.extensions().join(", ")
                ),
            ));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Refusal::new(
                ErrorCode::UploadedFileSizeError,
                format!(
                    "File {file_name:?} is {} bytes; the limit is 15 MB ({MAX_FILE_BYTES} bytes).",
                    bytes.len()
                ),
            ));
        }
        if bytes.is_empty() {
            return Err(Refusal::validation(format!("File {file_name:?} is empty.")));
        }
        if kind == BlobKind::Signature {
            cms::inspect(&bytes)
                .map_err(|e| Refusal::new(ErrorCode::UploadedFileContentParsingError, e))?;
        }
        let blob = Blob {
            id: new_guid(),
            kind,
            company,
            file_name: file_name.to_owned(),
            mime_type: mime_type(file_name).unwrap_or("application/octet-stream").to_owned(),
            extension,
            bytes,
            created_on: now,
        };
        let id = blob.id.clone();
        Ok(self.blobs.entry(id).or_insert(blob))
    }

    /// The caller's blob named by a request, of the expected kind.
    fn blob(
        &self,
        company: CompanyIndex,
        id: Option<&str>,
        field: &str,
        kind: BlobKind,
    ) -> Checked<&Blob> {
        let id = required_guid(id, field)?;
        let blob = self.blobs.get(&id).filter(|b| b.company == company);
        let blob = blob.ok_or_else(|| Refusal::not_found(format!("Blob {id} was not found.")))?;
        if blob.kind != kind {
            return Err(Refusal::validation(format!(
                "Blob {id} was uploaded as {} content; {field} needs {} content.",
                blob.kind.name(),
                kind.name()
            )));
        }
        Ok(blob)
    }

    // ---- outbox: create and route ------------------------------------------------------------

    /// T1: a new draft.
    pub fn create_document(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateDocument,
        now: DateTime<Utc>,
    ) -> Checked<wire::DocumentBase> {
        let metadata = request
            .document_metadata
            .ok_or_else(|| Refusal::validation("documentMetadata is required."))?;
        let name = text_field(metadata.document_name, "documentMetadata.documentName")?;
        let number = text_field(metadata.document_number, "documentMetadata.documentNumber")?;
        let date = metadata.document_date.ok_or_else(|| {
            Refusal::validation(
                "documentMetadata.documentDate is required (Unix time in seconds, UTC).",
            )
        })?;
        if !(0..=MAX_EPOCH).contains(&date) {
            return Err(Refusal::validation(format!(
                "documentMetadata.documentDate must be Unix time in seconds (0..={MAX_EPOCH}); \
                 got {date} (milliseconds?)."
            )));
        }
        let group = metadata.document_group.ok_or_else(|| {
            let groups: Vec<&str> = DocumentGroup::ALL.iter().map(|g| g.name()).collect();
            Refusal::validation(format!(
                "documentMetadata.documentGroup is required: one of {}.",
                groups.join(", ")
            ))
        })?;
        let author = match metadata.document_author_employee_id.as_deref().map(str::trim) {
            None | Some("" | ZERO_GUID) => ZERO_GUID.to_owned(),
            Some(id) => {
                self.employee(company, Some(id), "documentMetadata.documentAuthorEmployeeId")?
            }
        };
        let contents = request.document_binary_contents.unwrap_or_default();
        if contents.is_empty() {
            return Err(Refusal::validation("documentBinaryContents must name at least one blob."));
        }
        let mut seen = HashSet::new();
        let mut files = Vec::with_capacity(contents.len());
        for content in contents {
            let field = "documentBinaryContents[].blobId";
            let blob = self.blob(company, content.blob_id.as_deref(), field, BlobKind::Document)?;
            if !seen.insert(blob.id.clone()) {
                return Err(Refusal::validation(format!("Blob {} is listed twice.", blob.id)));
            }
            files.push(File {
                blob_id: blob.id.clone(),
                name: blob.file_name.clone(),
                extension: blob.extension.clone(),
                mime_type: blob.mime_type.clone(),
                bytes: blob.bytes.clone(),
            });
        }
        let document = Document {
            id: new_guid(),
            owner: company,
            sender_bin: self.companies[company].bin.to_owned(),
            name,
            number,
            date,
            group,
            author,
            created_on: now,
            files,
            route: None,
            stage: Stage::Draft,
            sent_on: None,
            closed_on: None,
            signatures: Vec::new(),
            content: None,
        };
        let answer = document.base(Role::Sender);
        self.documents.push(document);
        Ok(answer)
    }

    /// T2 with a quick route.
    pub fn create_quick_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateQuickRoute,
    ) -> Checked<()> {
        let external = request.route.and_then(|r| r.external);
        self.set_route(company, request.document_id, request.employee_id, external, None)
    }

    /// T2 with a full route (an external part and the sender's internal part).
    pub fn create_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateRoute,
    ) -> Checked<()> {
        let (external, internal) = match request.route {
            Some(route) => (route.external, route.internal),
            None => (None, None),
        };
        self.set_route(company, request.document_id, request.employee_id, external, internal)
    }

    fn set_route(
        &mut self,
        company: CompanyIndex,
        document_id: Option<String>,
        employee_id: Option<String>,
        external: Option<wire::ExternalRoute>,
        internal: Option<wire::InternalRoute>,
    ) -> Checked<()> {
        let index = self.outbox_document(company, document_id.as_deref())?;
        let employee = self.employee(company, employee_id.as_deref(), "employeeId")?;
        let document = &self.documents[index];
        if document.stage != Stage::Draft {
            return Err(Refusal::validation(format!(
                "A route can only be created for a document in DRAFT; this one is {}.",
                document.status(Role::Sender).name()
            )));
        }
        let external =
            external.ok_or_else(|| Refusal::validation("route.external is required."))?;
        let nodes = self.external_nodes(company, external.nodes.unwrap_or_default())?;
        let internal = internal.map(|route| self.internal_route(company, route)).transpose()?;
        self.documents[index].route = Some(Route {
            order: external.route_order_type.unwrap_or(RouteOrder::None),
            sign_required_by_sender: external.is_sign_required_by_sender.unwrap_or(false),
            nodes,
            internal,
            created_by: employee,
        });
        Ok(())
    }

    fn external_nodes(
        &self,
        company: CompanyIndex,
        nodes: Vec<wire::ExternalNode>,
    ) -> Checked<Vec<Node>> {
        if nodes.is_empty() {
            return Err(Refusal::validation("route.external.nodes must have at least one node."));
        }
        let own = self.companies[company].bin;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let bin = node.counterparty_bin.unwrap_or_default().trim().to_owned();
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::validation(format!(
                    "counterpartyBin must be a BIN (or IIN) of 12 digits; got {bin:?}."
                )));
            }
            if bin == own {
                return Err(Refusal::validation("A document cannot be routed to its own sender."));
            }
            if !seen.insert(bin.clone()) {
                return Err(Refusal::validation(format!("Counterparty {bin} is listed twice.")));
            }
            let emails: Vec<String> = node
                .counterparty_emails
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.trim().to_owned())
                .collect();
            if let Some(bad) = emails.iter().find(|e| !is_email(e)) {
                return Err(Refusal::validation(format!("{bad:?} is not an e-mail address.")));
            }
            let org_unit_id = match node.org_unit_id.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(id) => Some(required_guid(Some(id), "orgUnitId")?),
            };
            out.push(Node {
                order: node.order.unwrap_or(0),
                bin,
                comment: node.comment,
                is_individual: node.is_individual.unwrap_or(false),
                emails,
                // .NET's default for a bool left out.
                sign_required: node.is_sign_required_by_counterparty.unwrap_or(false),
                org_unit_id,
                status: NodeStatus::NotStarted,
                completed_on: None,
                reject_reason: None,
                internal: None,
            });
        }
        out.sort_by_key(|n| n.order);
        Ok(out)
    }

    fn internal_route(
        &self,
        company: CompanyIndex,
        route: wire::InternalRoute,
    ) -> Checked<InternalRoute> {
        let nodes = route.nodes.unwrap_or_default();
        if nodes.is_empty() {
            return Err(Refusal::validation("route.internal.nodes must have at least one node."));
        }
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let employee_id = self.employee(
                company,
                node.employee_id.as_deref(),
                "route.internal.nodes[].employeeId",
            )?;
            let action = node.required_action.ok_or_else(|| {
                Refusal::validation("route.internal.nodes[].requiredAction is required.")
            })?;
            out.push(InternalNode { order: node.order.unwrap_or(0), employee_id, action });
        }
        out.sort_by_key(|n| n.order);
        Ok(InternalRoute {
            ordering: route.route_action_ordering_type.unwrap_or(RouteOrder::None),
            nodes: out,
        })
    }

    /// T9: a recipient's internal route on a received document.
    pub fn create_inbox_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateInboxRoute,
    ) -> Checked<()> {
        let (index, node) = self.inbox_document(company, request.document_id.as_deref())?;
        self.employee(company, request.employee_id.as_deref(), "employeeId")?;
        let internal = request
            .route
            .and_then(|r| r.internal)
            .ok_or_else(|| Refusal::validation("route.internal is required."))?;
        let internal = self.internal_route(company, internal)?;
        let document = &mut self.documents[index];
        let status = document.status(Role::Recipient(node));
        if !waits_for_recipient(status) {
            return Err(Refusal::validation(format!(
                "A route can only be added while the document waits for the company; it is {}.",
                status.name()
            )));
        }
        if let Some(node) = document.nodes_mut().get_mut(node) {
            node.internal = Some(internal);
        }
        Ok(())
    }

    // ---- signing ----------------------------------------------------------------------------

    /// T3/T5: the content to sign and a fresh ticket.
    pub fn generate(
        &mut self,
        company: CompanyIndex,
        side: Side,
        request: wire::GenerateSignContent,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Checked<wire::SignContent> {
        let index = match side {
            Side::Outbox => self.outbox_document(company, request.document_id.as_deref())?,
            Side::Inbox => self.inbox_document(company, request.document_id.as_deref())?.0,
        };
        let employee =
            self.employee(company, request.signed_by_employee_id.as_deref(), "signedByEmployeeId")?;
        self.content(index)?;
        let ticket = Ticket {
            value: new_guid(),
            content_id: new_guid(),
            document_id: self.documents[index].id.clone(),
            company,
            employee_id: employee,
            side,
            issued_on: now,
            dispose_on: after(now, self.config.ticket_ttl),
            used_blob: None,
        };
        let answer = wire::SignContent {
            document_id: ticket.document_id.clone(),
            download_link: format!(
                "{origin}/idocs/api/v3/sync/sign-content/download/{}",
                ticket.content_id
            ),
            dispose_on: ticket.dispose_on.timestamp(),
            idempotency_ticket: ticket.value.clone(),
        };
        self.tickets.push(ticket);
        Ok(answer)
    }

    /// The bytes behind a content-to-sign link, for the company it was issued to, until the
    /// ticket expires.
    pub fn sign_content(
        &self,
        company: CompanyIndex,
        content_id: &str,
        now: DateTime<Utc>,
    ) -> Option<(String, Bytes)> {
        let content_id = normalize_guid(content_id);
        let ticket = self.tickets.iter().find(|t| t.content_id == content_id)?;
        if ticket.company != company || ticket.expired(now) {
            return None;
        }
        let document = &self.documents[self.document_index(&ticket.document_id)?];
        let content = document.content.clone()?;
        Some((format!("{}.zip", download::archive_stem(document)), content))
    }

    /// T4/T6: the ticket rules of contract §4.3, the state rules, the CMS check, then the
    /// transition.
    pub fn save_signature(
        &mut self,
        company: CompanyIndex,
        side: Side,
        request: wire::SaveSignature,
        now: DateTime<Utc>,
    ) -> Checked<Saved> {
        let (index, node) = match side {
            Side::Outbox => (self.outbox_document(company, request.document_id.as_deref())?, None),
            Side::Inbox => {
                let (index, node) = self.inbox_document(company, request.document_id.as_deref())?;
                (index, Some(node))
            }
        };
        let employee =
            self.employee(company, request.signed_by_employee_id.as_deref(), "signedByEmployeeId")?;
        let blob_id = request.signature_binary_content.and_then(|c| c.blob_id);
        let blob = self.blob(
            company,
            blob_id.as_deref(),
            "signatureBinaryContent.blobId",
            BlobKind::Signature,
        )?;
        let (blob_id, cms) = (blob.id.clone(), blob.bytes.clone());
        let document_id = self.documents[index].id.clone();

        let ticket = match request
            .idempotency_ticket
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(value) => {
                let position = self.tickets.iter().position(|t| t.value == value);
                let position = position.ok_or_else(|| {
                    Refusal::validation(
                        "idempotencyTicket is unknown: use the ticket of content-to-sign/generate.",
                    )
                })?;
                let ticket = &self.tickets[position];
                if ticket.document_id != document_id
                    || ticket.company != company
                    || ticket.side != side
                {
                    return Err(Refusal::validation(
                        "idempotencyTicket was issued for another document.",
                    ));
                }
                if ticket.employee_id != employee {
                    return Err(Refusal::validation(
                        "idempotencyTicket was issued for another employee (signedByEmployeeId).",
                    ));
                }
                match &ticket.used_blob {
                    Some(used) if *used == blob_id => return Ok(Saved::Replayed),
                    Some(_) => {
                        return Err(Refusal::validation(
                            "idempotencyTicket was already used with another signature.",
                        ));
                    }
                    None => {}
                }
                if ticket.expired(now) {
                    return Err(Refusal::validation(format!(
                        "idempotencyTicket expired at {}; generate the content to sign again.",
                        ticket.dispose_on.timestamp()
                    )));
                }
                Some(position)
            }
            None if self.config.require_ticket => {
                return Err(Refusal::validation("idempotencyTicket is required."));
            }
            None => None,
        };

        let document = &self.documents[index];
        match node {
            None if document.route.is_none() => {
                return Err(Refusal::validation(
                    "The document has no route: create the route before signing.",
                ));
            }
            None if document.stage != Stage::Draft => {
                return Err(Refusal::validation(format!(
                    "Only a document in DRAFT can be signed and sent; this one is {}.",
                    document.status(Role::Sender).name()
                )));
            }
            Some(n) if !waits_for_recipient(document.status(Role::Recipient(n))) => {
                return Err(Refusal::validation(format!(
                    "The document does not wait for the company's signature; it is {}.",
                    document.status(Role::Recipient(n)).name()
                )));
            }
            _ => {}
        }

        let content = self.content(index)?;
        let verify = self.config.verify_signatures;
        let inspected =
            cms::check_signature(&cms, &content, verify).map_err(Refusal::validation)?;
        let signature = Signature {
            side,
            company_bin: self.companies[company].bin.to_owned(),
            employee_id: employee,
            blob_id: Some(blob_id.clone()),
            ticket: ticket.map(|i| self.tickets[i].value.clone()),
            form: Some(inspected.form),
            signer_subject: inspected.signer_subject,
            cms: Some(cms),
            at: now,
        };
        if let Some(i) = ticket {
            self.tickets[i].used_blob = Some(blob_id);
        }
        let document = &mut self.documents[index];
        match node {
            None => document.send(signature, now),
            Some(n) => document.complete(n, signature, now),
        }
        Ok(Saved::Recorded)
    }

    // ---- queries ----------------------------------------------------------------------------

    pub fn extended(&self, index: usize, role: Role) -> wire::DocumentExtended {
        let document = &self.documents[index];
        let state = |status, completed_on: Option<DateTime<Utc>>, reason: Option<&String>| {
            wire::NodeState {
                status,
                completed_on: completed_on.map(|at| at.timestamp()),
                reject_metadata: reason.map(|r| wire::RejectMetadata { reject_reason: r.clone() }),
            }
        };
        let internal_view = |route: &InternalRoute| wire::InternalRouteView {
            route_action_ordering_type: route.ordering,
            nodes: route
                .nodes
                .iter()
                .map(|n| wire::InternalNodeView {
                    order: n.order,
                    employee_id: n.employee_id.clone(),
                    required_action: n.action,
                    state: state(NodeStatus::NotStarted, None, None),
                })
                .collect(),
        };
        let route = document.route.as_ref();
        let external = route.map(|route| wire::ExternalRouteView {
            nodes: route
                .nodes
                .iter()
                .map(|n| wire::ExternalNodeView {
                    order: n.order,
                    counterparty_company_bin: n.bin.clone(),
                    counterparty_company_id: self
                        .company_by_bin(&n.bin)
                        .map_or(ZERO_GUID, |c| self.companies[c].id)
                        .to_owned(),
                    comment: n.comment.clone(),
                    is_individual: n.is_individual,
                    counterparty_company_emails: n.emails.clone(),
                    is_sign_required: n.sign_required,
                    state: state(n.status, n.completed_on, n.reject_reason.as_ref()),
                })
                .collect(),
        });
        // Each company sees its own internal route only.
        let internal = match role {
            Role::Sender => route.and_then(|r| r.internal.as_ref()),
            Role::Recipient(n) => {
                route.and_then(|r| r.nodes.get(n)).and_then(|n| n.internal.as_ref())
            }
        };
        wire::DocumentExtended {
            base: document.base(role),
            document_route: wire::RouteView { external, internal: internal.map(internal_view) },
        }
    }

    /// The outbox or inbox list of `company`, newest first, filtered as `request` asks.
    pub fn query(
        &self,
        company: CompanyIndex,
        side: Side,
        request: wire::QueryDocuments,
    ) -> Checked<wire::Page<wire::DocumentExtended>> {
        let author = match request.document_author_id.as_deref().map(str::trim) {
            None | Some("" | ZERO_GUID) => None,
            Some(id) => Some(required_guid(Some(id), "documentAuthorId")?),
        };
        let statuses = request.document_statuses.unwrap_or_default();
        // 0 (or less) means "no bound".
        let from = request.document_date_from.filter(|d| *d > 0);
        let to = request.document_date_to.filter(|d| *d > 0);
        let bin = self.companies[company].bin;
        let items: Vec<(usize, Role)> = self
            .documents
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(index, document)| {
                let role = document.role(company, bin)?;
                let wanted = match side {
                    Side::Outbox => role == Role::Sender,
                    Side::Inbox => role != Role::Sender,
                };
                let status = document.status(role);
                (wanted
                    && (statuses.is_empty() || statuses.contains(&status))
                    && from.is_none_or(|from| document.date >= from)
                    && to.is_none_or(|to| document.date <= to)
                    && author.as_ref().is_none_or(|a| *a == document.author))
                .then_some((index, role))
            })
            .collect();
        let page = page(items, request.skip, request.top)?;
        Ok(wire::Page {
            page_items: page
                .page_items
                .into_iter()
                .map(|(i, role)| self.extended(i, role))
                .collect(),
            skip: page.skip,
            top: page.top,
            total_size: page.total_size,
        })
    }

    /// The bulk download (contract §2.8): a link to the document or package.
    pub fn download_link(
        &mut self,
        company: CompanyIndex,
        request: wire::DownloadDocument,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Checked<wire::DownloadLink> {
        let id = required_guid(request.document_id.as_deref(), "documentId")?;
        if let Some(employee) = request
            .employee_id
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != ZERO_GUID)
        {
            self.employee(company, Some(employee), "employeeId")?;
        }
        let (index, _) = self
            .visible(company, &id)
            .ok_or_else(|| Refusal::not_found(format!("Document {id} was not found.")))?;
        let (file_name, content_type, bytes) =
            download::package(&self.documents[index]).map_err(Refusal::internal)?;
        let key = self.links.store(LinkedFile { file_name, content_type, bytes });
        Ok(wire::DownloadLink {
            document_id: id,
            download_link: format!("{origin}/idocs-storage/{key}"),
            dispose_on: after(now, self.config.ticket_ttl).timestamp(),
        })
    }

    // ---- control ----------------------------------------------------------------------------

    /// The route node of counterparty `bin` on document `index`.
    fn node_of(&self, index: usize, bin: &str) -> Checked<usize> {
        let nodes = self.documents[index].route.as_ref().map_or(&[][..], |r| &r.nodes[..]);
        nodes.iter().position(|n| n.bin == bin).ok_or_else(|| {
            Refusal::not_found(format!("Counterparty {bin} is not on the document's route."))
        })
    }

    fn waiting_node(&self, id: &str, bin: &str) -> Checked<(usize, usize)> {
        let index = self
            .document_index(id)
            .ok_or_else(|| Refusal::not_found(format!("No iDocs document {id}.")))?;
        let node = self.node_of(index, bin)?;
        let document = &self.documents[index];
        let current = document.route.as_ref().map(|r| r.nodes[node].status);
        if document.stage != Stage::Sent || current != Some(NodeStatus::Active) {
            return Err(Refusal::validation(format!(
                "The document does not wait for counterparty {bin}: it is {} and the node is {}.",
                document.stage.name(),
                current.map_or("absent", NodeStatus::name)
            )));
        }
        Ok((index, node))
    }

    /// The counterparty `bin` signs through the iDocs UI: with `cms` when given (checked like
    /// a quick-sign save), else a simulated signature without CMS.
    pub fn counterparty_sign(
        &mut self,
        id: &str,
        bin: &str,
        employee: Option<&str>,
        cms: Option<Bytes>,
        now: DateTime<Utc>,
    ) -> Checked<&Document> {
        let (index, node) = self.waiting_node(id, bin)?;
        let employee_id = match (self.company_by_bin(bin), employee) {
            (Some(company), Some(employee)) => {
                self.employee(company, Some(employee), "employee_id")?
            }
            (Some(company), None) => self.companies[company].employees[0].id.to_owned(),
            (None, Some(employee)) => required_guid(Some(employee), "employee_id")?,
            (None, None) => ZERO_GUID.to_owned(),
        };
        let (form, signer_subject) = match &cms {
            Some(cms) => {
                let content = self.content(index)?;
                let verify = self.config.verify_signatures;
                let inspected =
                    cms::check_signature(cms, &content, verify).map_err(Refusal::validation)?;
                (Some(inspected.form), inspected.signer_subject)
            }
            None => (None, None),
        };
        let signature = Signature {
            side: Side::Inbox,
            company_bin: bin.to_owned(),
            employee_id,
            blob_id: None,
            ticket: None,
            form,
            signer_subject,
            cms,
            at: now,
        };
        let document = &mut self.documents[index];
        document.complete(node, signature, now);
        Ok(document)
    }

    /// T7: the counterparty `bin` rejects through the iDocs UI.
    pub fn counterparty_reject(
        &mut self,
        id: &str,
        bin: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Checked<&Document> {
        if reason.trim().is_empty() {
            return Err(Refusal::validation("A rejection needs a reason."));
        }
        let (index, node) = self.waiting_node(id, bin)?;
        let document = &mut self.documents[index];
        document.reject(node, reason.trim().to_owned(), now);
        Ok(document)
    }

    /// T8: the sender recalls a sent document through the iDocs UI.
    pub fn recall(&mut self, id: &str, now: DateTime<Utc>) -> Checked<&Document> {
        let index = self
            .document_index(id)
            .ok_or_else(|| Refusal::not_found(format!("No iDocs document {id}.")))?;
        let document = &mut self.documents[index];
        if document.stage != Stage::Sent {
            return Err(Refusal::validation(format!(
                "Only a sent document can be recalled; this one is {}.",
                document.stage.name()
            )));
        }
        document.stage = Stage::Recalled;
        document.closed_on = Some(now);
        Ok(document)
    }

    /// Every ticket issued so far expires now; returns how many were still valid.
    pub fn expire_tickets(&mut self, now: DateTime<Utc>) -> usize {
        let mut expired = 0;
        for ticket in self.tickets.iter_mut().filter(|t| !t.expired(now)) {
            ticket.dispose_on = now;
            expired += 1;
        }
        expired
    }
}

/// Whether a recipient can still act on a document it sees with `status`.
fn waits_for_recipient(status: DocumentStatus) -> bool {
    matches!(status, DocumentStatus::InNew | DocumentStatus::InProcessByRecipient)
}

/// Something shaped like an e-mail address: `local@domain.tld`, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aspnet::bind;
    use crate::idocs::cms::testing::cms;
    use crate::idocs::company::{COUNTERPARTY_BIN, COUNTERPARTY_EMPLOYEE_ID, SENDER_EMPLOYEE_ID};
    use serde_json::{Value, json};

    const A: CompanyIndex = 0;
    const B: CompanyIndex = 1;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn request<T: serde::de::DeserializeOwned>(value: Value) -> T {
        bind(value.to_string().as_bytes()).unwrap()
    }

    /// A draft of one PDF, routed to `nodes`.
    fn draft(state: &mut State, order: &str, nodes: Value) -> String {
        let blob = state.upload(A, BlobKind::Document, "c.pdf", "%PDF-1.7".into(), now()).unwrap();
        let blob = blob.id.clone();
        let created = state
            .create_document(
                A,
                request(
                    json!({"documentMetadata": {"documentName": "Договор", "documentNumber": "D-1",
                    "documentDate": 1718780400, "documentGroup": "Purchase"},
                    "documentBinaryContents": [{"blobId": blob}]}),
                ),
                now(),
            )
            .unwrap();
        state
            .create_quick_route(
                A,
                request(json!({"documentId": created.id, "employeeId": SENDER_EMPLOYEE_ID,
                    "route": {"external": {"routeOrderType": order, "nodes": nodes}}})),
            )
            .unwrap();
        created.id
    }

    fn node(order: i32, bin: &str, sign: bool) -> Value {
        json!({"order": order, "counterpartyBin": bin, "isSignRequiredByCounterparty": sign})
    }

    fn sign_as(state: &mut State, company: CompanyIndex, side: Side, id: &str) -> Checked<Saved> {
        let employee = if company == A { SENDER_EMPLOYEE_ID } else { COUNTERPARTY_EMPLOYEE_ID };
        let generated = state.generate(
            company,
            side,
            request(json!({"documentId": id, "signedByEmployeeId": employee})),
            "http://sandbox",
            now(),
        )?;
        let index = state.document_index(id).unwrap();
        let content = state.content(index)?;
        let blob = state
            .upload(company, BlobKind::Signature, "s.cms", cms(&content, true).into(), now())?
            .id
            .clone();
        state.save_signature(
            company,
            side,
            request(json!({"documentId": id, "signedByEmployeeId": employee,
                "signatureBinaryContent": {"blobId": blob},
                "idempotencyTicket": generated.idempotency_ticket})),
            now(),
        )
    }

    fn status(state: &State, company: CompanyIndex, id: &str) -> Option<DocumentStatus> {
        state.visible(company, id).map(|(i, role)| state.documents[i].status(role))
    }

    #[test]
    fn the_happy_path_sends_then_finishes() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "SEQUENTIAL", json!([node(0, COUNTERPARTY_BIN, true)]));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Draft));
        assert_eq!(status(&state, B, &id), None, "a draft is the sender's only");

        assert_eq!(sign_as(&mut state, A, Side::Outbox, &id), Ok(Saved::Recorded));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::SentBySender));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::InNew));

        assert_eq!(sign_as(&mut state, B, Side::Inbox, &id), Ok(Saved::Recorded));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Finished));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::Finished));
        let document = &state.documents[0];
        assert_eq!(document.signatures.len(), 2);
        assert_eq!(document.signatures[1].side, Side::Inbox);
    }

    #[test]
    fn sequential_routes_reach_one_order_at_a_time_and_skip_unsigned_nodes() {
        let mut state = State::new(IDocsConfig::default(), now());
        let nodes = json!([
            node(2, "999999999999", true),
            node(0, "111111111111", false),
            node(1, COUNTERPARTY_BIN, true)
        ]);
        let id = draft(&mut state, "SEQUENTIAL", nodes);
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        let route = state.documents[0].route.clone().unwrap();
        let statuses: Vec<NodeStatus> = route.nodes.iter().map(|n| n.status).collect();
        assert_eq!(
            statuses,
            [NodeStatus::CompletedWithOk, NodeStatus::Active, NodeStatus::NotStarted]
        );

        state.counterparty_sign(&id, COUNTERPARTY_BIN, None, None, now()).unwrap();
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::InProcess));
        assert_eq!(state.documents[0].route.as_ref().unwrap().nodes[2].status, NodeStatus::Active);
        state.counterparty_sign(&id, "999999999999", None, None, now()).unwrap();
        assert_eq!(state.documents[0].stage, Stage::Finished);
    }

    #[test]
    fn a_route_without_required_signatures_finishes_at_send() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "PARALLEL", json!([node(0, COUNTERPARTY_BIN, false)]));
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Finished));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::Finished));
    }

    #[test]
    fn rejection_and_recall_close_the_document_for_both() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        assert!(state.counterparty_reject(&id, COUNTERPARTY_BIN, "x", now()).is_err(), "not sent");
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        assert!(state.counterparty_reject(&id, COUNTERPARTY_BIN, " ", now()).is_err());
        state.counterparty_reject(&id, COUNTERPARTY_BIN, "Неверная сумма", now()).unwrap();
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::RejectedByRecipient));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::RejectedByRecipient));
        let view = state.extended(0, Role::Sender);
        let first = &view.document_route.external.as_ref().unwrap().nodes[0];
        assert_eq!(first.state.reject_metadata.as_ref().unwrap().reject_reason, "Неверная сумма");
        assert!(state.recall(&id, now()).is_err(), "already closed");

        let other = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        sign_as(&mut state, A, Side::Outbox, &other).unwrap();
        state.recall(&other, now()).unwrap();
        assert_eq!(status(&state, B, &other), Some(DocumentStatus::RecalledBySender));
        assert_eq!(
            sign_as(&mut state, B, Side::Inbox, &other).unwrap_err().code,
            ErrorCode::ValidationError
        );
    }

    #[test]
    fn routes_are_checked_and_only_for_drafts() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let route = |nodes: Value| -> wire::CreateQuickRoute {
            request(json!({"documentId": id, "employeeId": SENDER_EMPLOYEE_ID,
                "route": {"external": {"nodes": nodes}}}))
        };
        for bad in [
            json!([]),
            json!([node(0, "12345", true)]),
            json!([node(0, "100740000000", true)]),
            json!([node(0, COUNTERPARTY_BIN, true), node(1, COUNTERPARTY_BIN, true)]),
            json!([{"counterpartyBin": COUNTERPARTY_BIN, "counterpartyEmails": ["nope"]}]),
        ] {
            let refused = state.create_quick_route(A, route(bad.clone())).unwrap_err();
            assert_eq!(refused.code, ErrorCode::ValidationError, "{bad}");
        }
        let wrong_employee: wire::CreateQuickRoute = request(json!({"documentId": id,
            "employeeId": COUNTERPARTY_EMPLOYEE_ID, "route": {"external": {"nodes": [node(0, COUNTERPARTY_BIN, true)]}}}));
        assert_eq!(
            state.create_quick_route(A, wrong_employee).unwrap_err().code,
            ErrorCode::ValidationError
        );
        assert_eq!(
            state
                .create_quick_route(B, route(json!([node(0, COUNTERPARTY_BIN, true)])))
                .unwrap_err()
                .code,
            ErrorCode::ResourceNotFound,
            "B cannot see A's draft"
        );
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        let late = state
            .create_quick_route(A, route(json!([node(0, COUNTERPARTY_BIN, true)])))
            .unwrap_err();
        assert!(late.message.contains("DRAFT"), "{}", late.message);
    }

    #[test]
    fn tickets_follow_contract_rule_4_3() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let other = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let generate = |state: &mut State, id: &str| {
            state
                .generate(
                    A,
                    Side::Outbox,
                    request(json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID})),
                    "http://s",
                    now(),
                )
                .unwrap()
                .idempotency_ticket
        };
        let ticket = generate(&mut state, &id);
        let other_ticket = generate(&mut state, &other);
        let content = state.content(0).unwrap();
        let signature = |state: &mut State, content: &[u8]| {
            state
                .upload(A, BlobKind::Signature, "s.cms", cms(content, true).into(), now())
                .unwrap()
                .id
                .clone()
        };
        let good = signature(&mut state, &content);
        let save = |state: &mut State, ticket: Option<&str>, blob: &str, at: DateTime<Utc>| {
            state.save_signature(A, Side::Outbox, request(json!({"documentId": id,
                "signedByEmployeeId": SENDER_EMPLOYEE_ID, "signatureBinaryContent": {"blobId": blob},
                "idempotencyTicket": ticket})), at)
        };
        let code = |result: Checked<Saved>| result.unwrap_err().code;
        assert_eq!(code(save(&mut state, Some("bogus"), &good, now())), ErrorCode::ValidationError);
        assert_eq!(
            code(save(&mut state, Some(&other_ticket), &good, now())),
            ErrorCode::ValidationError
        );
        let late = now() + TimeDelta::hours(1);
        assert_eq!(code(save(&mut state, Some(&ticket), &good, late)), ErrorCode::ValidationError);
        let wrong = signature(&mut state, b"PK other content");
        assert_eq!(
            code(save(&mut state, Some(&ticket), &wrong, now())),
            ErrorCode::ValidationError
        );

        assert_eq!(save(&mut state, Some(&ticket), &good, now()), Ok(Saved::Recorded));
        assert_eq!(
            save(&mut state, Some(&ticket), &good, late),
            Ok(Saved::Replayed),
            "a replay is a no-op even later"
        );
        let again = signature(&mut state, &content);
        assert_eq!(
            code(save(&mut state, Some(&ticket), &again, now())),
            ErrorCode::ValidationError
        );
        assert_eq!(state.documents[0].signatures.len(), 1);
        assert_eq!(state.tickets[0].used_blob.as_deref(), Some(good.as_str()));
    }

    #[test]
    fn a_missing_ticket_is_lenient_unless_required() {
        let config = IDocsConfig { require_ticket: true, ..IDocsConfig::default() };
        let mut state = State::new(config, now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let content = state.content(0).unwrap();
        let blob = state
            .upload(A, BlobKind::Signature, "s.cms", cms(&content, false).into(), now())
            .unwrap()
            .id
            .clone();
        let body = json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID,
            "signatureBinaryContent": {"blobId": blob}});
        assert!(state.save_signature(A, Side::Outbox, request(body.clone()), now()).is_err());
        state.config.require_ticket = false;
        assert_eq!(
            state.save_signature(A, Side::Outbox, request(body), now()),
            Ok(Saved::Recorded)
        );
        assert_eq!(state.documents[0].signatures[0].form, Some(Form::Detached));
    }

    #[test]
    fn uploads_check_extension_size_and_cms() {
        let mut state = State::new(IDocsConfig::default(), now());
        let code = |r: Checked<&Blob>| r.map(|_| ()).unwrap_err().code;
        assert_eq!(
            code(state.upload(A, BlobKind::Document, "tool.exe", "x".into(), now())),
            ErrorCode::UploadedFileExtensionError
        );
        assert_eq!(
            code(state.upload(A, BlobKind::Document, "sig.cms", "x".into(), now())),
            ErrorCode::UploadedFileExtensionError
        );
        let big = Bytes::from(vec![0; MAX_FILE_BYTES + 1]);
        assert_eq!(
            code(state.upload(A, BlobKind::Document, "a.pdf", big, now())),
            ErrorCode::UploadedFileSizeError
        );
        assert_eq!(
            code(state.upload(A, BlobKind::Signature, "s.cms", "not der".into(), now())),
            ErrorCode::UploadedFileContentParsingError
        );
        let blob = state
            .upload(A, BlobKind::Document, r"C:\docs\Plan.XLSX", Bytes::from(vec![1; 1025]), now())
            .unwrap();
        let view = blob.view();
        assert_eq!(
            (view.file_name.as_str(), view.extension.as_str(), view.file_length),
            ("Plan.XLSX", ".xlsx", 2)
        );
        assert!(view.mime_type.ends_with("spreadsheetml.sheet"));
    }

    #[test]
    fn create_checks_metadata_and_blobs() {
        let mut state = State::new(IDocsConfig::default(), now());
        let blob =
            state.upload(A, BlobKind::Document, "c.pdf", "%PDF".into(), now()).unwrap().id.clone();
        let body = |metadata: Value, blob: &str| -> wire::CreateDocument {
            request(
                json!({"documentMetadata": metadata, "documentBinaryContents": [{"blobId": blob}]}),
            )
        };
        let metadata = json!({"documentName": "A", "documentNumber": "1", "documentDate": 1718780400, "documentGroup": "HR"});
        assert!(state.create_document(A, body(metadata.clone(), &blob), now()).is_ok());
        let mut ms = metadata.clone();
        ms["documentDate"] = json!(1_718_780_400_000_i64);
        assert!(
            state
                .create_document(A, body(ms, &blob), now())
                .unwrap_err()
                .message
                .contains("milliseconds")
        );
        let mut no_group = metadata.clone();
        no_group.as_object_mut().unwrap().remove("documentGroup");
        assert_eq!(
            state.create_document(A, body(no_group, &blob), now()).unwrap_err().code,
            ErrorCode::ValidationError
        );
        assert_eq!(
            state.create_document(B, body(metadata.clone(), &blob), now()).unwrap_err().code,
            ErrorCode::ResourceNotFound
        );
        assert_eq!(
            state.create_document(A, body(metadata, &new_guid()), now()).unwrap_err().code,
            ErrorCode::ResourceNotFound
        );
    }

    #[test]
    fn lists_page_and_filter_per_viewer() {
        let mut state = State::new(IDocsConfig::default(), now());
        let ids: Vec<String> = (0..3)
            .map(|_| draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)])))
            .collect();
        sign_as(&mut state, A, Side::Outbox, &ids[1]).unwrap();
        let query = |state: &State, company, side, body: Value| {
            state.query(company, side, request(body)).unwrap()
        };
        let all = query(&state, A, Side::Outbox, json!({"skip": 0, "top": 2}));
        assert_eq!((all.total_size, all.page_items.len()), (3, 2));
        assert_eq!(all.page_items[0].base.id, ids[2], "newest first");
        let drafts = query(&state, A, Side::Outbox, json!({"documentStatuses": ["DRAFT"]}));
        assert_eq!(drafts.total_size, 2);
        let inbox = query(&state, B, Side::Inbox, json!({"documentStatuses": ["IN_NEW"]}));
        assert_eq!(inbox.total_size, 1);
        assert_eq!(inbox.page_items[0].base.document_direction, Direction::Inbox);
        assert_eq!(query(&state, B, Side::Outbox, json!({})).total_size, 0);
        assert_eq!(query(&state, A, Side::Outbox, json!({"top": 1000})).top, MAX_PAGE);
        assert!(state.query(A, Side::Outbox, request(json!({"skip": -1}))).is_err());
        assert_eq!(
            query(&state, A, Side::Outbox, json!({"documentDateFrom": 1718780401})).total_size,
            0
        );
    }

    #[test]
    fn expired_tickets_close_their_links() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let generated = state
            .generate(
                A,
                Side::Outbox,
                request(json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID})),
                "http://s",
                now(),
            )
            .unwrap();
        let content_id = generated.download_link.rsplit('/').next().unwrap().to_owned();
        assert!(
            generated
                .download_link
                .starts_with("http://s/idocs/api/v3/sync/sign-content/download/")
        );
        assert!(state.sign_content(A, &content_id, now()).unwrap().1.starts_with(b"PK\x03\x04"));
        assert!(state.sign_content(B, &content_id, now()).is_none(), "another company's link");
        assert_eq!(state.expire_tickets(now()), 1);
        assert!(state.sign_content(A, &content_id, now()).is_none());
        assert_eq!(state.expire_tickets(now()), 0);
    }
}
