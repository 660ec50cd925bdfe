//! What the journal keeps of webhook deliveries (the inbox) and of the event stream.
//!
//! - **Inbox**: one row per distinct delivery of a source's account, keyed by the source's
//!   dedupe key. The row is committed before the sender is answered 2xx; a duplicate only
//!   counts one more delivery (and keeps the later link, which expires later).
//! - **Events**: every event the host is to see — from webhooks and from status polling — in
//!   one table, in the order committed, each with its stable id (a second event with an id
//!   already kept is the same event and is dropped). An event stays pending until the host
//!   acknowledges it, so a host that stops before acknowledging gets it again.

use chrono::{DateTime, Utc};

use crate::model::Event;

/// One delivery to keep, with the events it means.
#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub source: String,
    pub account: String,
    /// The source's dedupe key.
    pub key: String,
    /// The body with secrets removed.
    pub body: String,
    /// The headers with credentials removed (JSON array of `[name, value]`).
    pub headers: serde_json::Value,
    pub flags: Vec<String>,
    /// A link to fetch later, sealed by its source (it is a secret until it expires), and
    /// when it expires.
    pub link: Option<(String, Option<DateTime<Utc>>)>,
    /// What the linked file is a version of (see [`crate::webhooks::Link::group`]).
    pub content_group: Option<String>,
    pub events: Vec<Event>,
}

/// What keeping a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// First seen: kept, its events added to the stream.
    New,
    /// Seen before: counted (this is delivery number `deliveries`); no new event.
    Duplicate { deliveries: u64 },
}

/// A delivery as the inbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRecord {
    pub source: String,
    pub account: String,
    pub key: String,
    pub body: String,
    pub headers: serde_json::Value,
    pub flags: Vec<String>,
    pub link_expires_at: Option<DateTime<Utc>>,
    pub deliveries: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Where fetching its link stands (`None`: it has no link to fetch).
    pub download: Option<DownloadState>,
    /// The fetched file: where it was put and its SHA-256 (hex), once downloaded.
    pub file: Option<(String, String)>,
    /// The key of the earlier delivery whose file has the same content (K2), when this one's
    /// is a content duplicate: not told again, `file` is that delivery's.
    pub content_duplicate_of: Option<String>,
}

/// Where fetching a delivery's link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadState {
    /// Due (again) at some time; the link is kept until then.
    Pending,
    /// Fetched; the link is forgotten.
    Done,
    /// The link expired first; a resend with a fresh link makes it pending again.
    Expired,
    /// Fetched, and the same content (K2) as an earlier version of the same group: the file
    /// was removed and nothing told (`sintegre.md` §7).
    ContentDuplicate,
    /// It will not be fetched (refused by the SSRF guard, too large, the file is gone).
    Failed,
}

impl DownloadState {
    pub const fn as_str(self) -> &'static str {
        match self {
            DownloadState::Pending => "pending",
            DownloadState::Done => "done",
            DownloadState::Expired => "expired",
            DownloadState::ContentDuplicate => "content_duplicate",
            DownloadState::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<DownloadState> {
        [
            DownloadState::Pending,
            DownloadState::Done,
            DownloadState::Expired,
            DownloadState::ContentDuplicate,
            DownloadState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A link due for fetching, leased to the worker that claimed it.
#[derive(Clone)]
pub struct DueDownload {
    pub account: String,
    pub key: String,
    /// The link as kept: sealed by its source (see [`crate::webhooks::Source::seal_link`]).
    pub link: crate::transport::Secret,
    pub expires_at: Option<DateTime<Utc>>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// How many times the delivery was received.
    pub deliveries: u64,
    /// A file was fetched before (a resend with a fresh link fetches again, so that the
    /// content tells a republication under the same name from a resend).
    pub refetch: bool,
    pub first_at: DateTime<Utc>,
}

impl std::fmt::Debug for DueDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDownload")
            .field("account", &self.account)
            .field("key", &self.key)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What ending a download with a file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEnd {
    /// A new content: kept, its events added.
    Kept,
    /// The content of an earlier version of the same group (the delivery `of`, possibly this
    /// one's earlier fetch), whose file is at `path`: nothing added; the caller removes its
    /// own copy.
    Duplicate { of: String, path: String },
}

/// How fetching a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadEnd {
    Done { path: String, sha256: String, size: u64 },
    Expired,
    Failed,
}

/// Whose events a stream shows: (provider or source id, account) pairs.
pub type Scope = [(String, String)];

/// An event as the stream keeps it: its position (commit order) and whether it was acked.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: Event,
    pub created_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
}

/// What acknowledging an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Acknowledged now.
    Acked,
    /// It was acknowledged before.
    Already,
    /// No event has this id.
    Unknown,
}

/// Where an account's change list (a provider's `changes` cursor) stands in the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// The committed cursor: every event pulled before it is acknowledged (None: from the
    /// provider's beginning).
    pub cursor: Option<String>,
    /// Events of the last batch pulled from `cursor` not yet acknowledged; while any is, the
    /// batch's own next cursor waits beside them and nothing more is pulled.
    pub awaiting_acks: u64,
}
