//! What the iDocs simulator keeps (contract §7.1): documents with their routes and signatures,
//! idempotency tickets and async operations, and the document transitions (§7.2).
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

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::company::CompanyIndex;
use super::wire::{
    self, AsyncStatus, Direction, DocumentGroup, DocumentStatus, NodeStatus, RouteAction,
    RouteOrder,
};
use crate::cms_check::Form;

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
    pub(super) content: Option<Bytes>,
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

    pub(super) fn nodes_mut(&mut self) -> &mut [Node] {
        self.route.as_mut().map_or(&mut [][..], |r| &mut r.nodes[..])
    }

    /// The sender signed: the document goes to its counterparties.
    pub(super) fn send(&mut self, signature: Signature, now: DateTime<Utc>) {
        self.signatures.push(signature);
        self.stage = Stage::Sent;
        self.sent_on = Some(now);
        self.advance(now);
    }

    /// Node `n`'s company signed.
    pub(super) fn complete(&mut self, n: usize, signature: Signature, now: DateTime<Utc>) {
        self.signatures.push(signature);
        if let Some(node) = self.nodes_mut().get_mut(n) {
            node.status = NodeStatus::CompletedWithOk;
            node.completed_on = Some(now);
        }
        self.advance(now);
    }

    /// Node `n`'s company rejected: the document is rejected for everyone.
    pub(super) fn reject(&mut self, n: usize, reason: String, now: DateTime<Utc>) {
        if let Some(node) = self.nodes_mut().get_mut(n) {
            node.status = NodeStatus::CompletedWithFail;
            node.completed_on = Some(now);
            node.reject_reason = Some(reason);
        }
        self.stage = Stage::Rejected;
        self.closed_on = Some(now);
    }

    /// Activates the next nodes once none is active; finishes when none is left.
    pub(super) fn advance(&mut self, now: DateTime<Utc>) {
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

/// Whether a recipient can still act on a document it sees with `status`.
pub(super) fn waits_for_recipient(status: DocumentStatus) -> bool {
    matches!(status, DocumentStatus::InNew | DocumentStatus::InProcessByRecipient)
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

// ---- async operations (see `bulk`) ---------------------------------------------------------

/// What a pushed item does: one per push route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    OutboxCreate,
    OutboxRoute,
    OutboxQuickRoute,
    OutboxGenerate,
    OutboxSave,
    InboxRoute,
    InboxGenerate,
    InboxSave,
    Download,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::OutboxCreate,
        Kind::OutboxRoute,
        Kind::OutboxQuickRoute,
        Kind::OutboxGenerate,
        Kind::OutboxSave,
        Kind::InboxRoute,
        Kind::InboxGenerate,
        Kind::InboxSave,
        Kind::Download,
    ];

    /// The push route after `/api/v3/async/`; the companion appends `/status`.
    pub fn path(self) -> &'static str {
        match self {
            Kind::OutboxCreate => "bulk/external/outbox/document/create",
            Kind::OutboxRoute => "bulk/external/outbox/route/create",
            Kind::OutboxQuickRoute => "bulk/external/outbox/route/quick-route/create",
            Kind::OutboxGenerate => "bulk/external/outbox/signature/content-to-sign/generate",
            Kind::OutboxSave => "bulk/external/outbox/signature/quick-sign/save",
            Kind::InboxRoute => "bulk/external/inbox/route/create",
            Kind::InboxGenerate => "bulk/external/inbox/signature/content-to-sign/generate",
            Kind::InboxSave => "bulk/external/inbox/signature/quick-sign/save",
            Kind::Download => "documents/download/bulk-download",
        }
    }
}

/// One pushed item.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    pub company: CompanyIndex,
    pub kind: Kind,
    /// The item's `data` as sent.
    pub data: Option<Value>,
    /// Where the client reached the sandbox, for links in the result.
    pub origin: String,
    pub created_on: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub status: AsyncStatus,
    pub completed_on: Option<DateTime<Utc>>,
    pub result: Option<Value>,
    pub errors: Option<Vec<wire::OperationError>>,
}

impl Operation {
    pub fn pending(&self) -> bool {
        matches!(self.status, AsyncStatus::Created | AsyncStatus::InProcessing)
    }

    pub fn view(&self) -> wire::OperationStatus {
        wire::OperationStatus {
            operation_id: self.id.clone(),
            created_on: Some(self.created_on.timestamp()),
            completed_on: self.completed_on.map(|at| at.timestamp()),
            operation_status: self.status,
            data: self.result.clone(),
            operation_errors: self.errors.clone(),
        }
    }
}
