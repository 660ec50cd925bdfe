//! The journal: what signbridge must remember across calls, restarts and processes.
//!
//! - **Intents** make sending exactly-once. Before the first write to a provider, an intent row
//!   is recorded for `(provider, account, reference)` with a digest of the envelope; every
//!   provider id is recorded the moment it is known, and every step as it completes. Sending a
//!   reference again returns the recorded handle without a request; a send that died half-way
//!   resumes from the last known id instead of creating the document again.
//! - **Sessions**: one login per account shared by every process, refreshed single-flight.
//! - **Rate budgets**: one count per account and window (second … calendar month), shared by
//!   every process and kept across restarts, so a month's budget cannot be spent twice.
//! - **Status snapshots**: the last status read of each handle, stored together with the
//!   events the change from the previous one means.
//! - **Webhook inbox and event stream** (see [`InboxEntry`], [`StoredEvent`]): deliveries
//!   committed before the sender is answered, and one stream of events from webhooks and
//!   polling, each kept until the host acknowledges it.
//!
//! # Leases
//! Whoever begins an intent holds a *lease* on it: a holder id (process id and a random number,
//! new for every attempt) and an expiry. Another thread or process sending the same reference
//! meanwhile is told the reference is busy, so two senders never create two documents. Every
//! recorded id or step renews the lease. A sender that is killed cannot release its lease; the
//! lease simply expires, and the next sender of that reference takes it over and *resumes* from
//! the ids and steps the dead one recorded. A sender whose lease was taken over is refused any
//! further write to the intent ([`ErrorKind::Conflict`]), so a late writer cannot overwrite the
//! new holder's record.
//!
//! # Storage
//! [`JournalStore`] is the seam between signbridge and a storage backend; everything the client
//! needs goes through it, so a PostgreSQL backend (many ERP servers sharing one journal, one
//! budget) can be added beside SQLite without touching providers or the client. The embedded
//! default is [`SqliteStore`]: one file, in WAL mode so that readers never wait for the writer
//! and many processes can share the file; every change runs in a `BEGIN IMMEDIATE`
//! transaction, which takes the file's write lock up front and thereby makes each
//! check-then-write (take a lease, spend a budget unit) atomic across processes. The file is
//! created with permissions 0600 because it holds session tokens.
//!
//! # Where the file lives
//! `journal.path` in the client configuration; without it, [`default_path`]:
//! - Linux and other Unix: `$XDG_DATA_HOME/signbridge/journal.sqlite3`, or
//!   `~/.local/share/signbridge/journal.sqlite3` when `XDG_DATA_HOME` is unset;
//! - macOS: `~/Library/Application Support/signbridge/journal.sqlite3`;
//! - Windows: `%LOCALAPPDATA%\signbridge\journal.sqlite3`.
//!
//! The default is per user, shared by all of that user's processes and accounts (rows are keyed
//! by provider and account). `":memory:"` keeps a private journal in memory: for tests only, as
//! nothing is shared or kept.
//!
//! # Failures
//! A journal that cannot be opened, read or written (corrupt, not a journal, written by a newer
//! signbridge, read-only, disk full, locked longer than the busy timeout) fails with
//! [`ErrorKind::Journal`] naming the file. A send must not start without its intent recorded,
//! so such a failure stops the send before any request. A journal written by a newer version is
//! refused without being changed.

mod budget;
mod group;
mod inbox;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::model::Event;

pub use budget::{Acquire, Period, Window, WindowUsage};
pub use inbox::{
    Ack, DownloadEnd, DownloadState, DueDownload, FeedState, FileEnd, InboxEntry, InboxRecord,
    Ingested, Scope, StoredEvent,
};
pub use sqlite::SqliteStore;

/// The `journal` section of the client configuration. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// The journal file; absent: [`default_path`]; `":memory:"`: a private in-memory journal.
    pub path: Option<PathBuf>,
    /// How long a sender's lease on an intent lasts without progress (each recorded id or step
    /// renews it). A sender killed mid-way blocks its reference this long. Default 120 000.
    pub lease_ms: u64,
    /// How long to wait for another process's write lock on the file before failing.
    /// Default 5 000.
    pub busy_timeout_ms: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { path: None, lease_ms: 120_000, busy_timeout_ms: 5_000 }
    }
}

impl JournalConfig {
    /// A private in-memory journal (tests).
    pub fn in_memory() -> JournalConfig {
        JournalConfig { path: Some(PathBuf::from(MEMORY)), ..Default::default() }
    }
}

const MEMORY: &str = ":memory:";

/// The per-user journal file used when `journal.path` is not set (see the module docs).
pub fn default_path() -> Result<PathBuf> {
    default_path_from(|name| std::env::var_os(name).map(PathBuf::from))
}

fn default_path_from(var: impl Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    // Only absolute values count: the XDG spec says relative ones are to be ignored, and a
    // relative journal would move with the working directory.
    let absolute = |name: &str| var(name).filter(|p| p.is_absolute());
    let (dir, vars) = if cfg!(windows) {
        (absolute("LOCALAPPDATA"), "LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        (absolute("HOME").map(|h| h.join("Library").join("Application Support")), "HOME")
    } else {
        let xdg = absolute("XDG_DATA_HOME");
        (xdg.or_else(|| absolute("HOME").map(|h| h.join(".local/share"))), "XDG_DATA_HOME or HOME")
    };
    let dir = dir.ok_or_else(|| {
        Error::config(format!(
            "journal.path is not set and no default location is known ({vars} is not set to an \
             absolute path)"
        ))
    })?;
    Ok(dir.join("signbridge").join("journal.sqlite3"))
}

/// Which intent: the host's reference for one account of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntentKey {
    pub provider: String,
    pub account: String,
    pub reference: String,
}

impl IntentKey {
    pub fn new(
        provider: impl Into<String>,
        account: impl Into<String>,
        reference: impl Into<String>,
    ) -> IntentKey {
        IntentKey {
            provider: provider.into(),
            account: account.into(),
            reference: reference.into(),
        }
    }
}

impl fmt::Display for IntentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.account, self.reference)
    }
}

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentState {
    /// A sender holds (or held, if its lease expired) the intent and may have written.
    Pending,
    /// A write's outcome is not known; reconcile with the provider before sending again.
    Unknown,
    /// Done: the handle is recorded.
    Sent,
    /// Nothing was created at the provider: sending again is safe.
    NotSent,
}

impl IntentState {
    pub const fn as_str(self) -> &'static str {
        match self {
            IntentState::Pending => "pending",
            IntentState::Unknown => "unknown",
            IntentState::Sent => "sent",
            IntentState::NotSent => "not_sent",
        }
    }

    fn parse(text: &str) -> Option<IntentState> {
        [IntentState::Pending, IntentState::Unknown, IntentState::Sent, IntentState::NotSent]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for IntentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One completed step of a send (e.g. `"uploaded"`, `"published"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub at: DateTime<Utc>,
}

/// Everything the journal knows about one intent.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRecord {
    pub key: IntentKey,
    /// Digest of the envelope the intent was begun with (chosen by the caller).
    pub digest: String,
    pub state: IntentState,
    /// Provider ids by name (`"document_id"`, `"process_id"`), as recorded.
    pub ids: BTreeMap<String, String>,
    /// Completed steps, in the order first completed.
    pub steps: Vec<Step>,
    /// The handle (JSON), once sent.
    pub handle: Option<serde_json::Value>,
    /// Why the last attempt ended not sent or unknown.
    pub reason: Option<String>,
    /// The current (or last, if expired) lease holder of a pending intent.
    pub holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// How many times the intent was begun or resumed.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The right to write an intent: held by one sender at a time, until `until` (renewed by each
/// recorded id or step). Finish it with [`Journal::finish_sent`], [`Journal::mark_not_sent`]
/// or [`Journal::mark_unknown`]; a lease dropped without that simply expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: IntentKey,
    pub holder: String,
    pub until: DateTime<Utc>,
    /// How much each renewal extends the lease by.
    pub ttl: Duration,
}

/// How [`JournalStore::begin`] treats a reference that already has an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginMode {
    /// Return the recorded handle, resume an unfinished attempt, or refuse another envelope.
    Send,
    /// The host explicitly asks for a new document under a reference already used: the old
    /// intent moves to the history (kept, with its handle) and a fresh one begins. Still busy
    /// while another live sender holds the reference.
    NewDocument,
}

/// What beginning an intent found.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// No earlier attempt that matters: send from scratch.
    New(Lease),
    /// An earlier attempt died or ended unknown: continue from what it recorded (its ids and
    /// steps; its state says whether it was cut off pending or marked unknown). Reconcile with
    /// the provider before any create whose id is not recorded.
    Resume(Lease, Box<IntentRecord>),
    /// Already sent with this envelope: the recorded handle (JSON); no request is needed.
    AlreadySent(serde_json::Value),
    /// Another live sender holds the reference until `until`.
    Busy { holder: String, until: DateTime<Utc> },
    /// The reference was used with another envelope (a validation error for the host, unless
    /// it asks for a new document with [`BeginMode::NewDocument`]).
    DigestMismatch { recorded: String, offered: String, state: IntentState },
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Created and sent: the handle (JSON) is recorded; later sends return it.
    Sent(serde_json::Value),
    /// Nothing exists at the provider: the reference may be sent again (also with another
    /// envelope).
    NotSent { reason: String },
    /// The outcome is not known (or still unknown after a reconciliation). The recorded ids
    /// stay; the next send resumes from them.
    Unknown { reason: String },
}

/// A session token or other login secret. Never shown by `Debug`; wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionValue(Zeroizing<String>);

impl SessionValue {
    pub fn new(value: impl Into<String>) -> SessionValue {
        SessionValue(Zeroizing::new(value.into()))
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionValue(***)")
    }
}

/// A cached session and when it stops being used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub value: SessionValue,
    pub expires_at: DateTime<Utc>,
}

/// The right to log in for an account while others wait (single flight across processes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLease {
    pub provider: String,
    pub account: String,
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// What looking up an account's session found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    Valid(Session),
    /// No valid session: log in, then [`JournalStore::put_session`] (or
    /// [`JournalStore::release_login`] if the login failed).
    Login(LoginLease),
    /// Someone else is logging in; look again after a moment (at the latest at this time).
    Wait(DateTime<Utc>),
}

/// The last status read of a handle.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSnapshot {
    pub status: serde_json::Value,
    pub read_at: DateTime<Utc>,
}

/// A journal backend. Every operation is atomic on its own, also across processes sharing the
/// store; `now` is passed in so that all time arithmetic is testable and one clock decides.
///
/// Later features (change-list cursors) will be new operations here; a backend that lacks one
/// answers [`ErrorKind::Unsupported`].
#[async_trait]
pub trait JournalStore: Send + Sync + fmt::Debug {
    /// Names the store in messages (the file path for SQLite).
    fn location(&self) -> &str;

    /// Begins (or resumes) the intent for `key`; see [`Begin`]. A new lease is held by
    /// `holder` for `ttl`.
    async fn begin(
        &self,
        key: &IntentKey,
        digest: &str,
        mode: BeginMode,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Begin>;

    /// Records the provider id `name` = `value` and renews the lease. Recording the same value
    /// again is a no-op; another value for a recorded name is refused (both are in the error).
    async fn record_id(
        &self,
        lease: &mut Lease,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Records a completed step (again: its time is updated) and renews the lease.
    async fn record_step(&self, lease: &mut Lease, step: &str, now: DateTime<Utc>) -> Result<()>;

    /// Extends the lease by its ttl.
    async fn renew(&self, lease: &mut Lease, now: DateTime<Utc>) -> Result<()>;

    /// Ends the attempt and releases the lease.
    async fn finish(&self, lease: &Lease, outcome: &Finish, now: DateTime<Utc>) -> Result<()>;

    /// The intent for `key`, if any.
    async fn intent(&self, key: &IntentKey) -> Result<Option<IntentRecord>>;

    /// Pending and unknown intents of one account, oldest first, at most `limit` (including
    /// those a live sender holds: see [`IntentRecord::lease_until`]).
    async fn unfinished(
        &self,
        provider: &str,
        account: &str,
        limit: usize,
    ) -> Result<Vec<IntentRecord>>;

    /// The account's session if still valid, otherwise the right to log in or a time to wait.
    async fn session(
        &self,
        provider: &str,
        account: &str,
        holder: &str,
        login_ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<SessionLookup>;

    /// Stores the account's session (replacing any) and ends whatever login was under way.
    async fn put_session(
        &self,
        provider: &str,
        account: &str,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Gives up a login that failed, so the next caller may try at once.
    async fn release_login(&self, lease: &LoginLease) -> Result<()>;

    /// Forgets the session if it is still `value` (a newer one is kept); true if forgotten.
    async fn invalidate_session(
        &self,
        provider: &str,
        account: &str,
        value: &SessionValue,
    ) -> Result<bool>;

    /// Counts one call against every window if it fits in all of them.
    async fn acquire(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
        now: DateTime<Utc>,
    ) -> Result<Acquire>;

    /// What is left of each window (counts nothing).
    async fn remaining(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowUsage>>;

    /// Stores the status read at `read_at` as the handle's snapshot, unless a later read is
    /// already stored, and adds `events` (what changed since the previous snapshot) to the
    /// stream, in one transaction: a change is never recorded without its events.
    async fn put_status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
        snapshot: &StatusSnapshot,
        events: &[Event],
    ) -> Result<()>;

    /// The handle's last status snapshot.
    async fn status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
    ) -> Result<Option<StatusSnapshot>>;

    /// Keeps a webhook delivery and adds its events to the stream, in one transaction; a
    /// delivery whose key is already kept is only counted. Returns once committed. The events
    /// of a delivery with a content group get `latest_for_period`: whether no other delivery of
    /// its group kept so far was sent later (see [`JournalStore::end_download`]).
    async fn ingest(&self, entry: &InboxEntry, now: DateTime<Utc>) -> Result<Ingested>;

    /// Keeps several deliveries in one transaction, each as [`JournalStore::ingest`] would (in
    /// order, so a second copy in the same batch is a duplicate): all committed, or none.
    async fn ingest_batch(
        &self,
        entries: &[InboxEntry],
        now: DateTime<Utc>,
    ) -> Result<Vec<Ingested>>;

    /// A kept delivery (its body without secrets; the link itself is not returned).
    async fn inbox(&self, source: &str, account: &str, key: &str) -> Result<Option<InboxRecord>>;

    /// Claims up to `limit` links of `source` whose download is pending and due at `now`,
    /// leasing each until `now + lease` so that another worker (or process) skips it meanwhile.
    async fn claim_downloads(
        &self,
        source: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<DueDownload>>;

    /// Counts a failed attempt at a pending download and makes it due again at `next`.
    async fn retry_download(
        &self,
        source: &str,
        account: &str,
        key: &str,
        next: DateTime<Utc>,
    ) -> Result<()>;

    /// Ends a download (the link is forgotten) and adds `events` to the stream, in one
    /// transaction. A file whose SHA-256 (K2) is that of an earlier version of the delivery's
    /// content group (another delivery's, or this one's previous fetch) is a duplicate: no
    /// event is added, the row points at the earlier file, and [`FileEnd::Duplicate`] says
    /// so (`Kept` otherwise, and for every end without a file). The events of a kept file get
    /// `latest_for_period` (when the row has a content group): whether no other told version
    /// of its group was sent later, as the journal knows at that commit.
    async fn end_download(
        &self,
        source: &str,
        account: &str,
        key: &str,
        end: &DownloadEnd,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<FileEnd>;

    /// The first event of `scope` after position `after` not yet acknowledged.
    async fn next_event(&self, scope: &Scope, after: i64) -> Result<Option<StoredEvent>>;

    /// Acknowledges the event `id`.
    async fn ack_event(&self, id: &str, now: DateTime<Utc>) -> Result<Ack>;

    /// Events of `scope` committed at or after `since`, acknowledged or not, in order; at most
    /// `limit`, starting after position `after`.
    async fn replay_events(
        &self,
        scope: &Scope,
        since: DateTime<Utc>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>>;

    /// Deletes the acknowledged events committed before `before`; returns how many. Pending
    /// events are kept whatever their age.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Ids of the account's status snapshots whose state is not terminal (sent and not yet
    /// final: what a poller refreshes), in id order after `after`, at most `limit`.
    async fn open_snapshots(
        &self,
        provider: &str,
        account: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>>;

    /// The account's change-list position, first committing the cursor that waits beside the
    /// last batch if every event of that batch is now acknowledged (or pruned).
    async fn feed(&self, provider: &str, account: &str, now: DateTime<Utc>) -> Result<FeedState>;

    /// Adds `events`, pulled from the committed cursor `from`, to the stream and keeps `next`
    /// (None: the cursor stays) beside them, in one transaction; `next` is committed at once
    /// when none of them awaits an ack. False, with nothing written, when the feed is no
    /// longer at `from` with no batch waiting (another puller recorded this pull first).
    async fn feed_pulled(
        &self,
        provider: &str,
        account: &str,
        from: Option<&str>,
        events: &[Event],
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}

/// How long a login may take before another process may try its own.
const LOGIN_LEASE: Duration = Duration::from_secs(30);

/// How often a caller waiting on another's login looks again.
const LOGIN_POLL: Duration = Duration::from_millis(100);

/// The journal a client holds: a store and the lease length. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Journal {
    store: Arc<dyn JournalStore>,
    lease_ttl: Duration,
    /// Commits the deliveries that arrive together in one transaction.
    inbox: Arc<group::GroupCommit>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal").field("location", &self.store.location()).finish()
    }
}

impl Journal {
    /// Opens (creating and migrating if needed) the SQLite journal the configuration names.
    /// Blocking: call it where blocking briefly is fine (building a client).
    pub fn open(config: &JournalConfig) -> Result<Journal> {
        let busy = Duration::from_millis(config.busy_timeout_ms);
        let store = match &config.path {
            Some(p) if is_memory(p) => SqliteStore::in_memory()?,
            Some(p) => SqliteStore::open(p, busy)?,
            None => SqliteStore::open(&default_path()?, busy)?,
        };
        Ok(Journal::with_store(Arc::new(store), config))
    }

    /// A private in-memory journal (tests).
    pub fn in_memory() -> Result<Journal> {
        Journal::open(&JournalConfig::in_memory())
    }

    /// A journal over another backend.
    pub fn with_store(store: Arc<dyn JournalStore>, config: &JournalConfig) -> Journal {
        let inbox = Arc::new(group::GroupCommit::new(store.clone()));
        Journal { store, lease_ttl: Duration::from_millis(config.lease_ms.max(1)), inbox }
    }

    pub fn store(&self) -> &Arc<dyn JournalStore> {
        &self.store
    }

    /// Names the journal in messages (its file).
    pub fn location(&self) -> &str {
        self.store.location()
    }

    /// Begins the intent to send `key` with an envelope whose digest is `digest`; call it
    /// before the first write to the provider and do not send unless it returns `New` or
    /// `Resume`.
    pub async fn begin(&self, key: &IntentKey, digest: &str) -> Result<Begin> {
        self.begin_with(key, digest, BeginMode::Send).await
    }

    /// Like [`Journal::begin`] when the host asked for a new document under a used reference.
    pub async fn begin_new_document(&self, key: &IntentKey, digest: &str) -> Result<Begin> {
        self.begin_with(key, digest, BeginMode::NewDocument).await
    }

    async fn begin_with(&self, key: &IntentKey, digest: &str, mode: BeginMode) -> Result<Begin> {
        self.store.begin(key, digest, mode, &new_holder(), self.lease_ttl, Utc::now()).await
    }

    /// Records a provider id the moment it is known (renews the lease).
    pub async fn record_id(&self, lease: &mut Lease, name: &str, value: &str) -> Result<()> {
        self.store.record_id(lease, name, value, Utc::now()).await
    }

    /// Records a completed step (renews the lease).
    pub async fn record_step(&self, lease: &mut Lease, step: &str) -> Result<()> {
        self.store.record_step(lease, step, Utc::now()).await
    }

    /// Extends the lease, for a step that takes long without recording anything.
    pub async fn renew(&self, lease: &mut Lease) -> Result<()> {
        self.store.renew(lease, Utc::now()).await
    }

    /// The document is sent: records its handle (JSON) and releases the lease.
    pub async fn finish_sent(&self, lease: Lease, handle: &serde_json::Value) -> Result<()> {
        self.store.finish(&lease, &Finish::Sent(handle.clone()), Utc::now()).await
    }

    /// Nothing was created at the provider: the reference may be sent again.
    pub async fn mark_not_sent(&self, lease: Lease, reason: &str) -> Result<()> {
        let outcome = Finish::NotSent { reason: reason.to_owned() };
        self.store.finish(&lease, &outcome, Utc::now()).await
    }

    /// The outcome is unknown (or still unknown after reconciling); the ids recorded stay.
    pub async fn mark_unknown(&self, lease: Lease, reason: &str) -> Result<()> {
        let outcome = Finish::Unknown { reason: reason.to_owned() };
        self.store.finish(&lease, &outcome, Utc::now()).await
    }

    /// The intent for `key`, if any (for `signbridge journal show`).
    pub async fn intent(&self, key: &IntentKey) -> Result<Option<IntentRecord>> {
        self.store.intent(key).await
    }

    /// Pending and unknown intents of one account, oldest first (for reconciliation).
    pub async fn unfinished(
        &self,
        provider: &str,
        account: &str,
        limit: usize,
    ) -> Result<Vec<IntentRecord>> {
        self.store.unfinished(provider, account, limit).await
    }

    /// The account's session: the cached one while valid, otherwise the one `login` returns.
    /// One caller logs in for all the callers of all processes sharing the journal; the others
    /// wait for its session (single flight). A login that fails lets the next caller try.
    pub async fn session<F, Fut>(&self, provider: &str, account: &str, login: F) -> Result<Session>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Session>>,
    {
        let holder = new_holder();
        loop {
            match self.store.session(provider, account, &holder, LOGIN_LEASE, Utc::now()).await? {
                SessionLookup::Valid(session) => return Ok(session),
                SessionLookup::Login(lease) => {
                    return match login().await {
                        Ok(session) => {
                            // The session is good even if it cannot be shared; the others
                            // then log in themselves once the login lease expires.
                            let now = Utc::now();
                            if let Err(e) =
                                self.store.put_session(provider, account, &session, now).await
                            {
                                tracing::warn!(target: "signbridge::journal", error = %e,
                                    "could not store the new session");
                            }
                            Ok(session)
                        }
                        Err(e) => {
                            // The login error is what the caller needs; failing to release
                            // only makes the next caller wait for the lease to expire.
                            if let Err(release) = self.store.release_login(&lease).await {
                                tracing::warn!(target: "signbridge::journal", error = %release,
                                    "could not release a failed login");
                            }
                            Err(e)
                        }
                    };
                }
                SessionLookup::Wait(until) => {
                    let left = (until - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(left.min(LOGIN_POLL)).await;
                }
            }
        }
    }

    /// Stores a session obtained elsewhere (e.g. supplied by the host).
    pub async fn put_session(
        &self,
        provider: &str,
        account: &str,
        session: &Session,
    ) -> Result<()> {
        self.store.put_session(provider, account, session, Utc::now()).await
    }

    /// The server refused `value`: forget it unless a newer session already replaced it.
    pub async fn invalidate_session(
        &self,
        provider: &str,
        account: &str,
        value: &SessionValue,
    ) -> Result<bool> {
        self.store.invalidate_session(provider, account, value).await
    }

    /// Counts one call against the account's budget. When a window is full, waits for it if
    /// the wait ends within `max_wait`, otherwise fails at once with
    /// [`ErrorKind::RateLimited`] carrying the time it may go (`retry_after`).
    pub async fn acquire(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
        max_wait: Duration,
    ) -> Result<()> {
        let deadline = later(Utc::now(), max_wait);
        loop {
            let now = Utc::now();
            match self.store.acquire(provider, account, windows, now).await? {
                Acquire::Granted => return Ok(()),
                Acquire::WaitUntil { until, .. } if until <= deadline => {
                    tokio::time::sleep((until - now).to_std().unwrap_or_default()).await;
                }
                Acquire::WaitUntil { until, window } => {
                    let wait = (until - now).to_std().unwrap_or_default();
                    return Err(Error::new(
                        ErrorKind::RateLimited,
                        format!("the rate budget of {window} is spent until {until}"),
                    )
                    .temporary()
                    .with_retry_after(wait)
                    .with_context("provider", provider)
                    .with_context("account", account));
                }
            }
        }
    }

    /// What is left of each window of the account's budget (for `signbridge journal budget`).
    pub async fn remaining(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
    ) -> Result<Vec<WindowUsage>> {
        self.store.remaining(provider, account, windows, Utc::now()).await
    }

    /// Stores a status just read (JSON) as the handle's snapshot, with the events its change
    /// means.
    pub async fn put_status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
        status: &serde_json::Value,
        events: &[Event],
    ) -> Result<()> {
        let snapshot = StatusSnapshot { status: status.clone(), read_at: Utc::now() };
        self.store.put_status(provider, account, id, &snapshot, events).await
    }

    /// Keeps a webhook delivery and its events; see [`JournalStore::ingest`]. Deliveries that
    /// arrive while a commit is under way are committed together in the next transaction
    /// (group commit): each returns once its batch is committed, and every delivery of a batch
    /// that failed gets the error (none of them is kept).
    pub async fn ingest(&self, entry: &InboxEntry) -> Result<Ingested> {
        self.inbox.ingest(entry.clone()).await
    }

    /// A kept delivery.
    pub async fn inbox(
        &self,
        source: &str,
        account: &str,
        key: &str,
    ) -> Result<Option<InboxRecord>> {
        self.store.inbox(source, account, key).await
    }

    /// Deletes the acknowledged events committed more than `retention` ago; returns how many.
    /// Pending events stay whatever their age (they are still owed to the host).
    pub async fn prune_events(&self, retention: Duration) -> Result<u64> {
        let age = chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX);
        let before = Utc::now().checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.store.prune_events(before).await
    }

    /// The handle's last status snapshot.
    pub async fn status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
    ) -> Result<Option<StatusSnapshot>> {
        self.store.status(provider, account, id).await
    }
}

/// What beginning an intent does, decided alike by every backend from the record found.
struct BeginPlan {
    begin: Begin,
    /// The record to write, if any.
    write: Option<IntentRecord>,
    /// Whether the record found moves to the history first (a new document was asked for).
    archive: bool,
}

fn plan_begin(
    found: Option<IntentRecord>,
    digest: &str,
    mode: BeginMode,
    lease: Lease,
    now: DateTime<Utc>,
) -> BeginPlan {
    let fresh = |attempts: u32, created_at: DateTime<Utc>| IntentRecord {
        key: lease.key.clone(),
        digest: digest.to_owned(),
        state: IntentState::Pending,
        ids: BTreeMap::new(),
        steps: Vec::new(),
        handle: None,
        reason: None,
        holder: Some(lease.holder.clone()),
        lease_until: Some(lease.until),
        attempts,
        created_at,
        updated_at: now,
    };
    let plan = |begin, write, archive| BeginPlan { begin, write, archive };
    let Some(rec) = found else {
        return plan(Begin::New(lease.clone()), Some(fresh(1, now)), false);
    };
    let live = rec.state == IntentState::Pending && rec.lease_until.is_some_and(|u| u > now);
    let busy = || Begin::Busy {
        holder: rec.holder.clone().unwrap_or_default(),
        until: rec.lease_until.unwrap_or(now),
    };
    match mode {
        BeginMode::NewDocument if live => plan(busy(), None, false),
        BeginMode::NewDocument => plan(Begin::New(lease.clone()), Some(fresh(1, now)), true),
        BeginMode::Send if rec.state == IntentState::NotSent => {
            let write = fresh(rec.attempts.saturating_add(1), rec.created_at);
            plan(Begin::New(lease.clone()), Some(write), false)
        }
        BeginMode::Send if rec.digest != digest => {
            let begin = Begin::DigestMismatch {
                recorded: rec.digest.clone(),
                offered: digest.to_owned(),
                state: rec.state,
            };
            plan(begin, None, false)
        }
        // The CHECK on the table guarantees a handle for every sent intent.
        BeginMode::Send if rec.state == IntentState::Sent => {
            plan(Begin::AlreadySent(rec.handle.clone().unwrap_or_default()), None, false)
        }
        BeginMode::Send if live => plan(busy(), None, false),
        BeginMode::Send => {
            let taken = IntentRecord {
                state: IntentState::Pending,
                holder: Some(lease.holder.clone()),
                lease_until: Some(lease.until),
                attempts: rec.attempts.saturating_add(1),
                updated_at: now,
                ..rec.clone()
            };
            plan(Begin::Resume(lease, Box::new(rec)), Some(taken), false)
        }
    }
}

/// A change a lease holder makes to its intent.
enum Change {
    Id { name: String, value: String },
    Step(String),
    Renew,
    Finish(Finish),
}

/// The intent after `change`, if `lease` still holds it. Every change but `Finish` renews the
/// lease.
fn apply(
    found: Option<IntentRecord>,
    lease: &Lease,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<IntentRecord> {
    let mut rec = match found {
        Some(rec)
            if rec.state == IntentState::Pending
                && rec.holder.as_deref() == Some(lease.holder.as_str()) =>
        {
            rec
        }
        other => {
            let now_held = match &other {
                None => "the intent no longer exists".to_owned(),
                Some(r) if r.state == IntentState::Pending => {
                    format!("it was taken over by {}", r.holder.as_deref().unwrap_or("?"))
                }
                Some(r) => format!("another attempt ended it as {}", r.state),
            };
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("the lease on {} is lost ({now_held}); this attempt must stop", lease.key),
            )
            .with_context("reference", &lease.key.reference));
        }
    };
    rec.updated_at = now;
    rec.lease_until = Some(later(now, lease.ttl));
    match change {
        Change::Id { name, value } => match rec.ids.get(name.as_str()) {
            Some(known) if known != value => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} already has {name} = {known}; refusing to record {value} over it",
                        lease.key
                    ),
                )
                .with_context("reference", &lease.key.reference));
            }
            Some(_) => {}
            None => {
                rec.ids.insert(name.clone(), value.clone());
            }
        },
        Change::Step(name) => match rec.steps.iter_mut().find(|s| &s.name == name) {
            Some(step) => step.at = now,
            None => rec.steps.push(Step { name: name.clone(), at: now }),
        },
        Change::Renew => {}
        Change::Finish(finish) => {
            rec.holder = None;
            rec.lease_until = None;
            (rec.state, rec.handle, rec.reason) = match finish {
                Finish::Sent(handle) => (IntentState::Sent, Some(handle.clone()), None),
                Finish::NotSent { reason } => (IntentState::NotSent, None, Some(reason.clone())),
                Finish::Unknown { reason } => (IntentState::Unknown, None, Some(reason.clone())),
            };
        }
    }
    Ok(rec)
}

/// `now + d`, saturating at the latest representable time.
fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A holder id for one attempt: the process id (for people reading the journal) and a random
/// number (so that two attempts in one process, or on two hosts, never share one).
fn new_holder() -> String {
    format!("{}-{:016x}", std::process::id(), fastrand::u64(..))
}

/// The error for a journal that cannot do its work; the message names the journal.
fn journal_error(location: &str, what: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Journal, format!("journal {location}: {what}"))
}

fn is_memory(path: &Path) -> bool {
    path.as_os_str() == MEMORY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<PathBuf> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| PathBuf::from(v))
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn default_path_follows_xdg_then_home() {
        let xdg = default_path_from(vars(&[("XDG_DATA_HOME", "/x/data"), ("HOME", "/home/u")]));
        assert_eq!(xdg.unwrap(), Path::new("/x/data/signbridge/journal.sqlite3"));
        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        let home = default_path_from(vars(&[("XDG_DATA_HOME", "data"), ("HOME", "/home/u")]));
        assert_eq!(home.unwrap(), Path::new("/home/u/.local/share/signbridge/journal.sqlite3"));
    }

    #[test]
    fn the_journal_can_be_shared_by_a_client() {
        fn shared<T: Clone + Send + Sync + 'static>() {}
        shared::<Journal>();
    }

    #[test]
    fn no_default_location_is_a_config_error() {
        let err = default_path_from(vars(&[])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("journal.path is not set"), "{err}");
    }

    #[test]
    fn only_the_holder_of_a_pending_intent_may_change_it() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let lease = |holder: &str| Lease {
            key: IntentKey::new("tae", "a", "r"),
            holder: holder.into(),
            until: now,
            ttl: Duration::from_secs(1),
        };
        let BeginPlan { write: Some(rec), .. } =
            plan_begin(None, "d", BeginMode::Send, lease("h1"), now)
        else {
            panic!("a new intent is written")
        };
        assert!(apply(Some(rec.clone()), &lease("h1"), &Change::Renew, now).is_ok());
        let err = apply(Some(rec), &lease("h2"), &Change::Renew, now).unwrap_err();
        assert!(err.to_string().contains("taken over by h1"), "{err}");
        let gone = apply(None, &lease("h1"), &Change::Renew, now).unwrap_err();
        assert!(gone.to_string().contains("no longer exists"), "{gone}");
    }
}
