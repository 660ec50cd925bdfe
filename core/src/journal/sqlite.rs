//! The embedded journal: one SQLite file (bundled SQLite, so every host has the same version).
//!
//! - WAL mode: readers never wait for the writer, and a process killed mid-transaction leaves
//!   its uncommitted frames behind, which the next opener discards.
//! - Every change is a `BEGIN IMMEDIATE` transaction: it takes the file's write lock before
//!   reading, so a check and the write that depends on it (take a lease, spend a budget unit)
//!   are atomic across processes. Waiting for the lock is bounded by the busy timeout. A
//!   deferred transaction that later upgrades to a write could instead fail at once with
//!   `SQLITE_BUSY` in WAL mode, without the busy handler being called.
//! - `synchronous = FULL`: a committed intent survives a power cut; an fsync per change is
//!   nothing next to the HTTP request it guards.
//! - `secure_delete = ON`: a replaced or invalidated session token is overwritten in the file,
//!   not only unlinked from the b-tree.
//! - The file is created with mode 0600 (it holds session tokens) before SQLite first opens
//!   it; SQLite gives its `-wal` and `-shm` files the same mode.
//! - The schema version is `PRAGMA user_version`, and `PRAGMA application_id` marks the file as
//!   a signbridge journal. Both are read before anything is written, so a journal written by a
//!   newer signbridge (or a database that is not a journal) is refused unchanged.
//!
//! One connection per store, behind a mutex; every operation runs on tokio's blocking pool so
//! that SQLite's file I/O and lock waits never hold up an async worker thread.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension as _, Row, params};
use serde::{Deserialize, Serialize};

use super::budget::{self, Acquire, Window, WindowUsage};
use super::{
    Ack, Begin, BeginMode, Change, DownloadEnd, DownloadState, DueDownload, FeedState, FileEnd,
    Finish, InboxEntry, InboxRecord, Ingested, IntentKey, IntentRecord, IntentState, JournalStore,
    Lease, LoginLease, MEMORY, Scope, Session, SessionLookup, SessionValue, StatusSnapshot, Step,
    StoredEvent, apply, journal_error, later, plan_begin,
};
use crate::error::{Error, Result};
use crate::model::{Event, State};

/// `PRAGMA application_id` of a signbridge journal ("SBJN").
const APPLICATION_ID: i32 = 0x5342_4a4e;

/// The migrations, in order: the schema version is the number applied. Append only; never
/// edit one that was released.
const MIGRATIONS: &[&str] = &[
    // 1: intents, the history of replaced intents, sessions, rate grants, status snapshots.
    "
    CREATE TABLE intents (
        provider       TEXT NOT NULL,
        account        TEXT NOT NULL,
        reference      TEXT NOT NULL,
        digest         TEXT NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('pending', 'unknown', 'sent', 'not_sent')),
        ids            TEXT NOT NULL,  -- JSON object: id name -> provider id
        steps          TEXT NOT NULL,  -- JSON array of {name, at_ms}
        handle         TEXT,           -- JSON, exactly when sent
        reason         TEXT,
        holder         TEXT,           -- exactly when pending
        lease_until_ms INTEGER,
        attempts       INTEGER NOT NULL,
        created_ms     INTEGER NOT NULL,
        updated_ms     INTEGER NOT NULL,
        PRIMARY KEY (provider, account, reference),
        CHECK ((state = 'sent') = (handle IS NOT NULL)),
        CHECK ((state = 'pending') = (holder IS NOT NULL))
    ) WITHOUT ROWID;
    CREATE INDEX intents_unfinished ON intents (provider, account, created_ms)
        WHERE state IN ('pending', 'unknown');
    CREATE TABLE replaced_intents (
        provider TEXT NOT NULL, account TEXT NOT NULL, reference TEXT NOT NULL,
        digest TEXT NOT NULL, state TEXT NOT NULL, ids TEXT NOT NULL, steps TEXT NOT NULL,
        handle TEXT, reason TEXT, attempts INTEGER NOT NULL,
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, replaced_ms INTEGER NOT NULL
    );
    CREATE INDEX replaced_intents_key ON replaced_intents (provider, account, reference);
    CREATE TABLE sessions (
        provider       TEXT NOT NULL,
        account        TEXT NOT NULL,
        value          TEXT,
        expires_ms     INTEGER,
        login_holder   TEXT,
        login_until_ms INTEGER,
        updated_ms     INTEGER NOT NULL,
        PRIMARY KEY (provider, account)
    ) WITHOUT ROWID;
    CREATE TABLE rate_grants (
        provider TEXT NOT NULL,
        account  TEXT NOT NULL,
        at_ms    INTEGER NOT NULL
    );
    CREATE INDEX rate_grants_account ON rate_grants (provider, account, at_ms);
    CREATE TABLE status_snapshots (
        provider TEXT NOT NULL,
        account  TEXT NOT NULL,
        id       TEXT NOT NULL,
        status   TEXT NOT NULL,
        read_ms  INTEGER NOT NULL,
        PRIMARY KEY (provider, account, id)
    ) WITHOUT ROWID;
    ",
    // 2: the webhook inbox and the event stream.
    "
    CREATE TABLE inbox (
        source          TEXT NOT NULL,
        account         TEXT NOT NULL,
        key             TEXT NOT NULL,  -- the source's dedupe key
        body            TEXT NOT NULL,  -- as received, secrets removed
        headers         TEXT NOT NULL,  -- JSON array of [name, value], credentials removed
        flags           TEXT NOT NULL,  -- JSON array of strings
        link            TEXT,           -- a link to fetch, a secret until link_expires_ms
        link_expires_ms INTEGER,
        deliveries      INTEGER NOT NULL,
        first_ms        INTEGER NOT NULL,
        last_ms         INTEGER NOT NULL,
        PRIMARY KEY (source, account, key)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order, never reused
        id         TEXT NOT NULL UNIQUE,
        provider   TEXT NOT NULL,  -- the handle's provider (or source)
        account    TEXT NOT NULL,
        event      TEXT NOT NULL,  -- JSON
        created_ms INTEGER NOT NULL,
        acked_ms   INTEGER
    );
    CREATE INDEX events_pending ON events (provider, account, seq) WHERE acked_ms IS NULL;
    CREATE INDEX events_created ON events (provider, account, created_ms);
    ",
    // 3: fetching the inbox's links (SINtegre's files).
    "
    ALTER TABLE inbox ADD COLUMN download TEXT;  -- pending, done, expired, failed; NULL: no link
    ALTER TABLE inbox ADD COLUMN download_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE inbox ADD COLUMN download_due_ms INTEGER;  -- when pending: due (or leased) until
    ALTER TABLE inbox ADD COLUMN file_path TEXT;
    ALTER TABLE inbox ADD COLUMN file_sha256 TEXT;  -- K2 (sintegre.md §3.6)
    ALTER TABLE inbox ADD COLUMN file_size INTEGER;
    UPDATE inbox SET download = 'pending', download_due_ms = first_ms WHERE link IS NOT NULL;
    CREATE INDEX inbox_downloads ON inbox (source, download_due_ms) WHERE download = 'pending';
    ",
    // 4: change-list cursors, pruning acknowledged events.
    "
    CREATE TABLE feeds (
        provider    TEXT NOT NULL,
        account     TEXT NOT NULL,
        cursor      TEXT,  -- committed: every event pulled before it is acknowledged
        next_cursor TEXT,  -- pulled, committed once every id in next_ids is acknowledged
        next_ids    TEXT,  -- JSON array of event ids; NULL: no batch awaits its acks
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (provider, account)
    ) WITHOUT ROWID;
    CREATE INDEX events_acked ON events (created_ms) WHERE acked_ms IS NOT NULL;
    ",
    // 5: content dedupe (K2, sintegre.md §7). Rows kept before have no group: their files
    // are not compared.
    "
    ALTER TABLE inbox ADD COLUMN content_group TEXT;  -- what the file is a version of
    ALTER TABLE inbox ADD COLUMN content_of TEXT;  -- the key of the earlier same content
    CREATE INDEX inbox_contents ON inbox (source, account, content_group, file_sha256)
        WHERE file_sha256 IS NOT NULL;
    ",
];

/// The journal in one SQLite file (or in memory).
pub struct SqliteStore {
    location: Arc<str>,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("location", &self.location).finish()
    }
}

impl SqliteStore {
    /// Opens the journal file at `path`, creating it (mode 0600, and its directory, mode 0700)
    /// if missing, and migrating it to the current schema. `busy_timeout` bounds every wait for
    /// another process's write lock.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteStore> {
        let location: Arc<str> = path.display().to_string().into();
        let fail = |what: String| journal_error(&location, what);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .map_err(|e| fail(format!("cannot create its directory: {e}")).with_source(e))?;
        }
        create_private_file(path)
            .map_err(|e| fail(format!("cannot create the file: {e}")).with_source(e))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| db_error(&location, e))?;
        conn.busy_timeout(busy_timeout).map_err(|e| db_error(&location, e))?;
        prepare(&mut conn, Some(busy_timeout)).map_err(|f| f.into_error(&location))?;
        Ok(SqliteStore { location, conn: Arc::new(Mutex::new(conn)) })
    }

    /// A private journal in memory (tests): nothing is shared with other stores or kept.
    pub fn in_memory() -> Result<SqliteStore> {
        let location: Arc<str> = MEMORY.into();
        let mut conn = Connection::open_in_memory().map_err(|e| db_error(&location, e))?;
        prepare(&mut conn, None).map_err(|f| f.into_error(&location))?;
        Ok(SqliteStore { location, conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` on the connection, on the blocking pool.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Fallible<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            // A panic while the lock was held cannot leave a transaction open (rusqlite rolls
            // back on drop), so the connection is still good.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|e| Error::internal(format!("journal {}: task failed: {e}", self.location)))?;
        done.map_err(|f| f.into_error(&self.location))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates the file if missing, readable and writable by its owner only (an existing file
/// keeps its mode: whoever made it shared may have meant it).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks that the database is a journal this build can use, then sets the connection up and
/// migrates. Nothing is written before the checks pass.
fn prepare(conn: &mut Connection, wal: Option<Duration>) -> Fallible<()> {
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(Failure::Refused("the file is read-only".into()));
    }
    // One read transaction, so that the checks see one state of a file another process may
    // be migrating right now.
    let snapshot = conn.transaction()?;
    let due = migrations_due(&snapshot)?;
    snapshot.finish()?;
    if let Some(busy_timeout) = wal {
        enable_wal(conn, busy_timeout)?;
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")?;
    if due.is_none() {
        return Ok(());
    }
    let tx = immediate(conn)?;
    // Another process may have migrated while we waited for the lock: look again.
    if let Some(version) = migrations_due(&tx)? {
        for (done, migration) in (1_i64..).zip(MIGRATIONS).skip(version) {
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", done)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(())
}

/// Puts the file in WAL mode (a lasting property of the file, so this is done once per file).
fn enable_wal(conn: &Connection, busy_timeout: Duration) -> Fallible<()> {
    let deadline = std::time::Instant::now() + busy_timeout;
    loop {
        let mode = match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        {
            Ok(mode) => mode,
            // The switch needs the file to itself for a moment, and SQLite answers BUSY at once
            // instead of calling the busy handler (seen when processes open a new journal
            // together): wait for it as the busy handler would.
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        return if mode.eq_ignore_ascii_case("wal") {
            Ok(())
        } else {
            Err(Failure::Refused(format!("cannot use WAL mode (got {mode})")))
        };
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// The schema version to migrate from (`None`: the journal is current), if this build can use
/// the database at all.
fn migrations_due(conn: &Connection) -> Fallible<Option<usize>> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    // Reading the schema also finds a damaged first page.
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    let foreign = application != APPLICATION_ID && (application != 0 || tables > 0);
    if foreign {
        return Err(Failure::Refused(
            "the file is an SQLite database but not a signbridge journal".into(),
        ));
    }
    let known = MIGRATIONS.len();
    match usize::try_from(version) {
        Ok(v) if v == known && application == APPLICATION_ID => Ok(None),
        Ok(v) if v <= known => Ok(Some(v)),
        _ => Err(Failure::Refused(format!(
            "written by a newer signbridge (schema version {version}; this build knows up to \
             {known}); refused, left unchanged"
        ))),
    }
}

/// Which other rows of a content group count as versions for [`latest_for_period`].
#[derive(Clone, Copy)]
enum Versions {
    /// Every notification kept (for the events made at receipt).
    Received,
    /// Only told files: fetched, not content duplicates (for the events of a told file).
    Told,
}

/// Whether no other version of the row's content group was sent later: `None` for a row
/// without a group. Versions are ordered by their link's expiry, a fixed time after the send
/// (SINtegre's `nbf` order, §7 "latest per (`nome`, period) ordered by `nbf`, then
/// `received_at`"), then by receipt; a link whose expiry is unknown counts as expiring 24 h
/// after its receipt, as the download worker counts it.
fn latest_for_period(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    account: &str,
    key: &str,
    versions: Versions,
) -> Fallible<Option<bool>> {
    const UNKNOWN_EXPIRY_MS: i64 = 24 * 3600 * 1000;
    let told_only = matches!(versions, Versions::Told);
    let latest = tx
        .query_row(
            "SELECT CASE WHEN me.content_group IS NULL THEN NULL ELSE NOT EXISTS (\
                 SELECT 1 FROM inbox o WHERE o.source = me.source AND o.account = me.account \
                 AND o.content_group = me.content_group AND o.key <> me.key \
                 AND (NOT ?5 OR (o.download = 'done' AND o.content_of IS NULL)) \
                 AND (COALESCE(o.link_expires_ms, o.last_ms + ?4), o.last_ms) \
                     > (COALESCE(me.link_expires_ms, me.last_ms + ?4), me.last_ms)) END \
             FROM inbox me WHERE me.source = ?1 AND me.account = ?2 AND me.key = ?3",
            params![source, account, key, UNKNOWN_EXPIRY_MS, told_only],
            |r| r.get(0),
        )
        .optional()?;
    Ok(latest.flatten())
}

/// Adds `latest_for_period` to the events' raw JSON, when the row has a content group.
fn mark_latest(events: &mut [Event], latest: Option<bool>) {
    let Some(latest) = latest else { return };
    for event in events {
        if let Some(raw) = event.raw.as_object_mut() {
            raw.insert("latest_for_period".into(), latest.into());
        }
    }
}

/// Keeps one delivery inside the batch's transaction: see [`JournalStore::ingest`].
fn ingest_one(
    tx: &rusqlite::Transaction<'_>,
    entry: &InboxEntry,
    now: DateTime<Utc>,
) -> Fallible<Ingested> {
    let now = ms(now);
    let (link, expires) = match &entry.link {
        Some((url, expires)) => (Some(url.as_str()), expires.map(ms)),
        None => (None, None),
    };
    let known: Option<i64> = tx
        .query_row(
            "SELECT deliveries FROM inbox WHERE source = ?1 AND account = ?2 AND key = ?3",
            params![entry.source, entry.account, entry.key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match known {
        Some(count) => {
            // A resend carries a fresh link (SINtegre mints a token per send): keep the
            // one that expires last. One that had expired before its file was fetched
            // is due again ("Enviar Tudo" is how SINtegre recovers, §4); so is one whose
            // file was fetched: the same name may hold new content, which only the bytes
            // (K2) tell from a resend (§3.6), so the file is fetched again and compared.
            tx.execute(
                "UPDATE inbox SET download = 'pending', download_due_ms = ?4, \
                     download_attempts = 0 WHERE source = ?1 AND account = ?2 AND key = ?3 \
                     AND download IN ('expired', 'done', 'content_duplicate') \
                     AND ?5 IS NOT NULL \
                     AND (link_expires_ms IS NULL OR ?6 > link_expires_ms)",
                params![entry.source, entry.account, entry.key, now, link, expires],
            )?;
            tx.execute(
                "UPDATE inbox SET deliveries = deliveries + 1, last_ms = ?4, \
                     link = CASE WHEN ?5 IS NOT NULL AND (link_expires_ms IS NULL \
                       OR ?6 >= link_expires_ms) AND download = 'pending' \
                       THEN ?5 ELSE link END, \
                     link_expires_ms = CASE WHEN ?5 IS NOT NULL AND (link_expires_ms IS NULL \
                       OR ?6 >= link_expires_ms) AND download = 'pending' \
                       THEN ?6 ELSE link_expires_ms END \
                     WHERE source = ?1 AND account = ?2 AND key = ?3",
                params![entry.source, entry.account, entry.key, now, link, expires],
            )?;
            Ingested::Duplicate { deliveries: u64::try_from(count).unwrap_or(0).saturating_add(1) }
        }
        None => {
            tx.execute(
                "INSERT INTO inbox (source, account, key, body, headers, flags, link, \
                     link_expires_ms, deliveries, first_ms, last_ms, download, \
                     download_due_ms, content_group) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                     1, ?9, ?9, CASE WHEN ?7 IS NULL THEN NULL ELSE 'pending' END, ?9, ?10)",
                params![
                    entry.source,
                    entry.account,
                    entry.key,
                    entry.body,
                    entry.headers.to_string(),
                    to_json(&entry.flags)?,
                    link,
                    expires,
                    now,
                    entry.content_group
                ],
            )?;
            let mut events = entry.events.clone();
            let latest = latest_for_period(
                tx,
                &entry.source,
                &entry.account,
                &entry.key,
                Versions::Received,
            )?;
            mark_latest(&mut events, latest);
            insert_events(tx, &events, now)?;
            Ingested::New
        }
    })
}

fn immediate(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// What can go wrong inside a store operation, before the journal's location is known.
enum Failure {
    Db(rusqlite::Error),
    /// The journal cannot be used: what follows "journal <file>: ".
    Refused(String),
    /// A complete error about the operation itself (e.g. a lease that was lost).
    Op(Error),
}

type Fallible<T> = std::result::Result<T, Failure>;

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Db(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Op(e)
    }
}

impl Failure {
    fn into_error(self, location: &str) -> Error {
        match self {
            Failure::Db(e) => db_error(location, e),
            Failure::Refused(what) => journal_error(location, what),
            Failure::Op(e) => e,
        }
    }
}

/// An SQLite failure as a journal error naming the file.
fn db_error(location: &str, e: rusqlite::Error) -> Error {
    let (what, temporary) = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                ("the file is locked by another process longer than the busy timeout", true)
            }
            ErrorCode::DatabaseCorrupt => ("the file is corrupt", false),
            ErrorCode::NotADatabase => {
                ("the file is not a journal (not an SQLite database)", false)
            }
            ErrorCode::ReadOnly => ("the file is read-only", false),
            ErrorCode::DiskFull => ("the file cannot grow: the disk is full", true),
            ErrorCode::CannotOpen => ("the file cannot be opened", false),
            ErrorCode::PermissionDenied => ("access to the file is denied", false),
            ErrorCode::SystemIoFailure => ("reading or writing the file failed", false),
            _ => ("the operation failed", false),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            ("the file holds a value this build cannot read", false)
        }
        _ => ("the operation failed", false),
    };
    let error = journal_error(location, format!("{what} ({e})")).with_source(e);
    if temporary { error.temporary() } else { error }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A JSON column that does not parse, as a conversion failure of that column.
fn bad_column(index: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| bad_column(index, e))
}

#[derive(Serialize, Deserialize)]
struct StoredStep {
    name: String,
    at_ms: i64,
}

#[derive(Debug)]
struct UnknownState(String);

impl std::fmt::Display for UnknownState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown intent state {:?}", self.0)
    }
}

impl std::error::Error for UnknownState {}

const INTENT_COLUMNS: &str = "provider, account, reference, digest, state, ids, steps, handle, \
                              reason, holder, lease_until_ms, attempts, created_ms, updated_ms";

fn intent_from_row(row: &Row<'_>) -> rusqlite::Result<IntentRecord> {
    let state: String = row.get(4)?;
    let steps: Vec<StoredStep> = json_column(row, 6)?;
    let handle: Option<String> = row.get(7)?;
    Ok(IntentRecord {
        key: IntentKey { provider: row.get(0)?, account: row.get(1)?, reference: row.get(2)? },
        digest: row.get(3)?,
        state: IntentState::parse(&state).ok_or_else(|| bad_column(4, UnknownState(state)))?,
        ids: json_column(row, 5)?,
        steps: steps
            .into_iter()
            .map(|s| Step { name: s.name, at: budget::time(s.at_ms) })
            .collect(),
        handle: handle
            .map(|h| serde_json::from_str(&h).map_err(|e| bad_column(7, e)))
            .transpose()?,
        reason: row.get(8)?,
        holder: row.get(9)?,
        lease_until: row.get::<_, Option<i64>>(10)?.map(budget::time),
        attempts: row.get(11)?,
        created_at: budget::time(row.get(12)?),
        updated_at: budget::time(row.get(13)?),
    })
}

fn load_intent(conn: &Connection, key: &IntentKey) -> rusqlite::Result<Option<IntentRecord>> {
    conn.query_row(
        &format!(
            "SELECT {INTENT_COLUMNS} FROM intents \
             WHERE provider = ?1 AND account = ?2 AND reference = ?3"
        ),
        params![key.provider, key.account, key.reference],
        intent_from_row,
    )
    .optional()
}

const EVENT_COLUMNS: &str = "seq, event, created_ms, acked_ms";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: row.get(0)?,
        event: json_column(row, 1)?,
        created_at: budget::time(row.get(2)?),
        acked_at: row.get::<_, Option<i64>>(3)?.map(budget::time),
    })
}

/// Adds events to the stream; one whose id is already there is the same event, dropped.
fn insert_events(conn: &Connection, events: &[Event], now_ms: i64) -> Fallible<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO events (id, provider, account, event, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    )?;
    for event in events {
        stmt.execute(params![
            event.id,
            event.handle.provider,
            event.handle.account,
            to_json(event)?,
            now_ms
        ])?;
    }
    Ok(())
}

/// `(provider = ?1 AND account = ?2) OR …` for a scope, and its arguments.
fn scope_filter(scope: &Scope) -> (String, Vec<rusqlite::types::Value>) {
    let mut filter = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    for (provider, account) in scope {
        filter.push(format!("(provider = ?{} AND account = ?{})", args.len() + 1, args.len() + 2));
        args.push(provider.clone().into());
        args.push(account.clone().into());
    }
    (filter.join(" OR "), args)
}

fn write_intent(conn: &Connection, rec: &IntentRecord) -> Fallible<()> {
    let steps: Vec<StoredStep> =
        rec.steps.iter().map(|s| StoredStep { name: s.name.clone(), at_ms: ms(s.at) }).collect();
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO intents ({INTENT_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        params![
            rec.key.provider,
            rec.key.account,
            rec.key.reference,
            rec.digest,
            rec.state.as_str(),
            to_json(&rec.ids)?,
            to_json(&steps)?,
            rec.handle.as_ref().map(|h| h.to_string()),
            rec.reason,
            rec.holder,
            rec.lease_until.map(ms),
            rec.attempts,
            ms(rec.created_at),
            ms(rec.updated_at),
        ],
    )?;
    Ok(())
}

fn to_json(value: &impl Serialize) -> Fallible<String> {
    serde_json::to_string(value)
        .map_err(|e| Failure::Op(Error::internal(format!("cannot encode a journal record: {e}"))))
}

impl SqliteStore {
    /// Applies a lease holder's change to its intent; the lease's expiry follows the record.
    async fn change(&self, lease: &mut Lease, change: Change, now: DateTime<Utc>) -> Result<()> {
        let held = lease.clone();
        let rec = self
            .run(move |conn| {
                let tx = immediate(conn)?;
                let rec = apply(load_intent(&tx, &held.key)?, &held, &change, now)?;
                write_intent(&tx, &rec)?;
                tx.commit()?;
                Ok(rec)
            })
            .await?;
        if let Some(until) = rec.lease_until {
            lease.until = until;
        }
        Ok(())
    }

    /// The account's session, if still valid at `now`.
    fn valid_session(
        conn: &Connection,
        provider: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<Option<Session>> {
        conn.query_row(
            "SELECT value, expires_ms FROM sessions WHERE provider = ?1 AND account = ?2 \
             AND value IS NOT NULL AND expires_ms > ?3",
            params![provider, account, ms(now)],
            |r| {
                Ok(Session {
                    value: SessionValue::new(r.get::<_, String>(0)?),
                    expires_at: budget::time(r.get(1)?),
                })
            },
        )
        .optional()
    }

    /// The grants of an account that count in some window at `now`, oldest first.
    fn grants(
        conn: &Connection,
        provider: &str,
        account: &str,
        since: i64,
    ) -> rusqlite::Result<Vec<i64>> {
        let mut stmt = conn.prepare(
            "SELECT at_ms FROM rate_grants WHERE provider = ?1 AND account = ?2 AND at_ms >= ?3 \
             ORDER BY at_ms",
        )?;
        let rows = stmt.query_map(params![provider, account, since], |r| r.get(0))?;
        rows.collect()
    }
}

#[async_trait]
impl JournalStore for SqliteStore {
    fn location(&self) -> &str {
        &self.location
    }

    async fn begin(
        &self,
        key: &IntentKey,
        digest: &str,
        mode: BeginMode,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Begin> {
        let lease =
            Lease { key: key.clone(), holder: holder.to_owned(), until: later(now, ttl), ttl };
        let digest = digest.to_owned();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let found = load_intent(&tx, &lease.key)?;
            let key = lease.key.clone();
            let plan = plan_begin(found, &digest, mode, lease, now);
            if plan.archive {
                tx.execute(
                    "INSERT INTO replaced_intents (provider, account, reference, digest, state, \
                     ids, steps, handle, reason, attempts, created_ms, updated_ms, replaced_ms) \
                     SELECT provider, account, reference, digest, state, ids, steps, handle, \
                     reason, attempts, created_ms, updated_ms, ?4 FROM intents \
                     WHERE provider = ?1 AND account = ?2 AND reference = ?3",
                    params![key.provider, key.account, key.reference, ms(now)],
                )?;
            }
            if let Some(rec) = &plan.write {
                write_intent(&tx, rec)?;
            }
            tx.commit()?;
            Ok(plan.begin)
        })
        .await
    }

    async fn record_id(
        &self,
        lease: &mut Lease,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let change = Change::Id { name: name.to_owned(), value: value.to_owned() };
        self.change(lease, change, now).await
    }

    async fn record_step(&self, lease: &mut Lease, step: &str, now: DateTime<Utc>) -> Result<()> {
        self.change(lease, Change::Step(step.to_owned()), now).await
    }

    async fn renew(&self, lease: &mut Lease, now: DateTime<Utc>) -> Result<()> {
        self.change(lease, Change::Renew, now).await
    }

    async fn finish(&self, lease: &Lease, outcome: &Finish, now: DateTime<Utc>) -> Result<()> {
        self.change(&mut lease.clone(), Change::Finish(outcome.clone()), now).await
    }

    async fn intent(&self, key: &IntentKey) -> Result<Option<IntentRecord>> {
        let key = key.clone();
        self.run(move |conn| Ok(load_intent(conn, &key)?)).await
    }

    async fn unfinished(
        &self,
        provider: &str,
        account: &str,
        limit: usize,
    ) -> Result<Vec<IntentRecord>> {
        let (provider, account) = (provider.to_owned(), account.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM intents WHERE provider = ?1 AND account = ?2 \
                 AND state IN ('pending', 'unknown') ORDER BY created_ms, reference LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![provider, account, limit], intent_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn session(
        &self,
        provider: &str,
        account: &str,
        holder: &str,
        login_ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<SessionLookup> {
        let (provider, account, holder) =
            (provider.to_owned(), account.to_owned(), holder.to_owned());
        self.run(move |conn| {
            // The common case, a valid session, needs no write lock.
            if let Some(session) = SqliteStore::valid_session(conn, &provider, &account, now)? {
                return Ok(SessionLookup::Valid(session));
            }
            let tx = immediate(conn)?;
            if let Some(session) = SqliteStore::valid_session(&tx, &provider, &account, now)? {
                return Ok(SessionLookup::Valid(session));
            }
            let login: Option<(Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT login_holder, login_until_ms FROM sessions \
                     WHERE provider = ?1 AND account = ?2",
                    params![provider, account],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((Some(other), Some(until))) = login {
                if until > ms(now) && other != holder {
                    return Ok(SessionLookup::Wait(budget::time(until)));
                }
            }
            let until = later(now, login_ttl);
            tx.execute(
                "INSERT INTO sessions (provider, account, login_holder, login_until_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, account) DO UPDATE SET \
                 login_holder = excluded.login_holder, login_until_ms = excluded.login_until_ms, \
                 updated_ms = excluded.updated_ms",
                params![provider, account, holder, ms(until), ms(now)],
            )?;
            tx.commit()?;
            Ok(SessionLookup::Login(LoginLease { provider, account, holder, until }))
        })
        .await
    }

    async fn put_session(
        &self,
        provider: &str,
        account: &str,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (provider, account, session) =
            (provider.to_owned(), account.to_owned(), session.clone());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO sessions (provider, account, value, expires_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, account) DO UPDATE SET \
                 value = excluded.value, expires_ms = excluded.expires_ms, login_holder = NULL, \
                 login_until_ms = NULL, updated_ms = excluded.updated_ms",
                params![provider, account, session.value.expose(), ms(session.expires_at), ms(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn release_login(&self, lease: &LoginLease) -> Result<()> {
        let lease = lease.clone();
        self.run(move |conn| {
            conn.execute(
                "UPDATE sessions SET login_holder = NULL, login_until_ms = NULL \
                 WHERE provider = ?1 AND account = ?2 AND login_holder = ?3",
                params![lease.provider, lease.account, lease.holder],
            )?;
            Ok(())
        })
        .await
    }

    async fn invalidate_session(
        &self,
        provider: &str,
        account: &str,
        value: &SessionValue,
    ) -> Result<bool> {
        let (provider, account, value) = (provider.to_owned(), account.to_owned(), value.clone());
        self.run(move |conn| {
            let changed = conn.execute(
                "UPDATE sessions SET value = NULL, expires_ms = NULL \
                 WHERE provider = ?1 AND account = ?2 AND value = ?3",
                params![provider, account, value.expose()],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn acquire(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
        now: DateTime<Utc>,
    ) -> Result<Acquire> {
        if windows.is_empty() {
            // No limit; and no window means no grant to prune, so others' counts stay.
            return Ok(Acquire::Granted);
        }
        let (provider, account, windows) =
            (provider.to_owned(), account.to_owned(), windows.to_vec());
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let now = ms(now);
            let since = budget::keep_since(&windows, now);
            // Grants no window counts any more: the rows stay bounded by the largest limit.
            tx.execute(
                "DELETE FROM rate_grants WHERE provider = ?1 AND account = ?2 AND at_ms < ?3",
                params![provider, account, since],
            )?;
            let grants = SqliteStore::grants(&tx, &provider, &account, since)?;
            let answer = budget::decide(&windows, &grants, now);
            if answer == Acquire::Granted {
                tx.execute(
                    "INSERT INTO rate_grants (provider, account, at_ms) VALUES (?1, ?2, ?3)",
                    params![provider, account, now],
                )?;
            }
            tx.commit()?;
            Ok(answer)
        })
        .await
    }

    async fn remaining(
        &self,
        provider: &str,
        account: &str,
        windows: &[Window],
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowUsage>> {
        let (provider, account, windows) =
            (provider.to_owned(), account.to_owned(), windows.to_vec());
        self.run(move |conn| {
            let now = ms(now);
            let grants =
                SqliteStore::grants(conn, &provider, &account, budget::keep_since(&windows, now))?;
            Ok(budget::usage(&windows, &grants, now))
        })
        .await
    }

    async fn put_status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
        snapshot: &StatusSnapshot,
        events: &[Event],
    ) -> Result<()> {
        let (provider, account, id) = (provider.to_owned(), account.to_owned(), id.to_owned());
        let (status, read) = (snapshot.status.to_string(), ms(snapshot.read_at));
        let events = events.to_vec();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            insert_events(&tx, &events, read)?;
            // Two processes may read the same handle; the later reading wins, whoever writes last.
            tx.execute(
                "INSERT INTO status_snapshots (provider, account, id, status, read_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, account, id) DO UPDATE SET \
                 status = excluded.status, read_ms = excluded.read_ms \
                 WHERE excluded.read_ms >= status_snapshots.read_ms",
                params![provider, account, id, status, read],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn status(
        &self,
        provider: &str,
        account: &str,
        id: &str,
    ) -> Result<Option<StatusSnapshot>> {
        let (provider, account, id) = (provider.to_owned(), account.to_owned(), id.to_owned());
        self.run(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT status, read_ms FROM status_snapshots \
                     WHERE provider = ?1 AND account = ?2 AND id = ?3",
                    params![provider, account, id],
                    |r| {
                        Ok(StatusSnapshot {
                            status: json_column(r, 0)?,
                            read_at: budget::time(r.get(1)?),
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn ingest(&self, entry: &InboxEntry, now: DateTime<Utc>) -> Result<Ingested> {
        let mut kept = self.ingest_batch(std::slice::from_ref(entry), now).await?;
        kept.pop().ok_or_else(|| Error::internal("journal: a batch of one kept nothing"))
    }

    async fn ingest_batch(
        &self,
        entries: &[InboxEntry],
        now: DateTime<Utc>,
    ) -> Result<Vec<Ingested>> {
        let entries = entries.to_vec();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let kept = entries
                .iter()
                .map(|entry| ingest_one(&tx, entry, now))
                .collect::<Fallible<Vec<_>>>()?;
            tx.commit()?;
            Ok(kept)
        })
        .await
    }

    async fn inbox(&self, source: &str, account: &str, key: &str) -> Result<Option<InboxRecord>> {
        let (source, account, key) = (source.to_owned(), account.to_owned(), key.to_owned());
        self.run(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT source, account, key, body, headers, flags, link_expires_ms, \
                     deliveries, first_ms, last_ms, download, file_path, file_sha256, \
                     content_of FROM inbox \
                     WHERE source = ?1 AND account = ?2 AND key = ?3",
                    params![source, account, key],
                    |r| {
                        Ok(InboxRecord {
                            source: r.get(0)?,
                            account: r.get(1)?,
                            key: r.get(2)?,
                            body: r.get(3)?,
                            headers: json_column(r, 4)?,
                            flags: json_column(r, 5)?,
                            link_expires_at: r.get::<_, Option<i64>>(6)?.map(budget::time),
                            deliveries: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                            first_at: budget::time(r.get(8)?),
                            last_at: budget::time(r.get(9)?),
                            download: r
                                .get::<_, Option<String>>(10)?
                                .as_deref()
                                .and_then(DownloadState::parse),
                            file: r.get::<_, Option<String>>(11)?.zip(r.get(12)?),
                            content_duplicate_of: r.get(13)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn claim_downloads(
        &self,
        source: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<DueDownload>> {
        let source = source.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (now, until) = (ms(now), ms(later(now, lease)));
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let due = {
                let mut stmt = tx.prepare(
                    "SELECT account, key, link, link_expires_ms, download_attempts, first_ms, \
                     deliveries, file_sha256 IS NOT NULL FROM inbox WHERE source = ?1 AND download = 'pending' \
                     AND download_due_ms <= ?2 AND link IS NOT NULL \
                     ORDER BY download_due_ms LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![source, now, limit], |r| {
                    Ok(DueDownload {
                        account: r.get(0)?,
                        key: r.get(1)?,
                        link: crate::transport::Secret::new(r.get::<_, String>(2)?),
                        expires_at: r.get::<_, Option<i64>>(3)?.map(budget::time),
                        attempts: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(u32::MAX),
                        first_at: budget::time(r.get(5)?),
                        deliveries: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                        refetch: r.get(7)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            for d in &due {
                tx.execute(
                    "UPDATE inbox SET download_due_ms = ?4 \
                     WHERE source = ?1 AND account = ?2 AND key = ?3",
                    params![source, d.account, d.key, until],
                )?;
            }
            tx.commit()?;
            Ok(due)
        })
        .await
    }

    async fn retry_download(
        &self,
        source: &str,
        account: &str,
        key: &str,
        next: DateTime<Utc>,
    ) -> Result<()> {
        let (source, account, key) = (source.to_owned(), account.to_owned(), key.to_owned());
        self.run(move |conn| {
            conn.execute(
                "UPDATE inbox SET download_attempts = download_attempts + 1, download_due_ms = ?4 \
                 WHERE source = ?1 AND account = ?2 AND key = ?3 AND download = 'pending'",
                params![source, account, key, ms(next)],
            )?;
            Ok(())
        })
        .await
    }

    async fn end_download(
        &self,
        source: &str,
        account: &str,
        key: &str,
        end: &DownloadEnd,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<FileEnd> {
        let (source, account, key) = (source.to_owned(), account.to_owned(), key.to_owned());
        let (end, mut events) = (end.clone(), events.to_vec());
        self.run(move |conn| {
            let tx = immediate(conn)?;
            if let DownloadEnd::Done { sha256, .. } = &end {
                // An earlier version of the same group with this content: this row's own
                // previous fetch first, else another delivery's (not itself a duplicate).
                let earlier: Option<(String, String)> = tx
                    .query_row(
                        "SELECT o.key, o.file_path FROM inbox o JOIN inbox me \
                         ON me.source = o.source AND me.account = o.account \
                         AND me.content_group = o.content_group \
                         WHERE me.source = ?1 AND me.account = ?2 AND me.key = ?3 \
                         AND o.file_sha256 = ?4 AND o.file_path IS NOT NULL \
                         AND o.content_of IS NULL ORDER BY o.key = ?3 DESC, o.first_ms LIMIT 1",
                        params![source, account, key, sha256],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((of, path)) = earlier {
                    let state = if of == key { "done" } else { "content_duplicate" };
                    tx.execute(
                        "UPDATE inbox SET download = ?4, download_due_ms = NULL, link = NULL, \
                         download_attempts = download_attempts + 1, file_path = ?5, \
                         file_sha256 = ?6, content_of = CASE WHEN ?7 = key THEN NULL ELSE ?7 END \
                         WHERE source = ?1 AND account = ?2 AND key = ?3",
                        params![source, account, key, state, path, sha256, of],
                    )?;
                    tx.commit()?;
                    return Ok(FileEnd::Duplicate { of, path });
                }
            }
            if matches!(end, DownloadEnd::Done { .. }) {
                let latest = latest_for_period(&tx, &source, &account, &key, Versions::Told)?;
                mark_latest(&mut events, latest);
            }
            let (state, path, sha256, size) = match &end {
                DownloadEnd::Done { path, sha256, size } => {
                    ("done", Some(path.as_str()), Some(sha256.as_str()), i64::try_from(*size).ok())
                }
                DownloadEnd::Expired => ("expired", None, None, None),
                DownloadEnd::Failed => ("failed", None, None, None),
            };
            // The link is a secret until it expires: forgotten once it is of no more use.
            tx.execute(
                "UPDATE inbox SET download = ?4, download_due_ms = NULL, link = NULL, \
                 download_attempts = download_attempts + 1, \
                 file_path = ?5, file_sha256 = ?6, file_size = ?7, content_of = NULL \
                 WHERE source = ?1 AND account = ?2 AND key = ?3",
                params![source, account, key, state, path, sha256, size],
            )?;
            insert_events(&tx, &events, ms(now))?;
            tx.commit()?;
            Ok(FileEnd::Kept)
        })
        .await
    }

    async fn next_event(&self, scope: &Scope, after: i64) -> Result<Option<StoredEvent>> {
        let scope = scope.to_vec();
        self.run(move |conn| {
            let (filter, mut args) = scope_filter(&scope);
            if args.is_empty() {
                return Ok(None);
            }
            args.push(after.into());
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE acked_ms IS NULL AND ({filter}) \
                 AND seq > ?{} ORDER BY seq LIMIT 1",
                args.len()
            );
            Ok(conn.query_row(&sql, rusqlite::params_from_iter(args), event_from_row).optional()?)
        })
        .await
    }

    async fn ack_event(&self, id: &str, now: DateTime<Utc>) -> Result<Ack> {
        let id = id.to_owned();
        self.run(move |conn| {
            let acked = conn.execute(
                "UPDATE events SET acked_ms = ?2 WHERE id = ?1 AND acked_ms IS NULL",
                params![id, ms(now)],
            )?;
            if acked > 0 {
                return Ok(Ack::Acked);
            }
            let known = conn
                .query_row("SELECT 1 FROM events WHERE id = ?1", params![id], |_| Ok(()))
                .optional()?;
            Ok(if known.is_some() { Ack::Already } else { Ack::Unknown })
        })
        .await
    }

    async fn replay_events(
        &self,
        scope: &Scope,
        since: DateTime<Utc>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let scope = scope.to_vec();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let (filter, mut args) = scope_filter(&scope);
            if args.is_empty() {
                return Ok(Vec::new());
            }
            let n = args.len();
            args.extend([ms(since).into(), after.into(), limit.into()]);
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE ({filter}) AND created_ms >= ?{} \
                 AND seq > ?{} ORDER BY seq LIMIT ?{}",
                n + 1,
                n + 2,
                n + 3
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), event_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        self.run(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM events WHERE acked_ms IS NOT NULL AND created_ms < ?1",
                params![ms(before)],
            )?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn open_snapshots(
        &self,
        provider: &str,
        account: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let (provider, account, after) =
            (provider.to_owned(), account.to_owned(), after.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let terminal = serde_json::to_string(&TERMINAL.map(State::as_str)).unwrap_or_default();
        self.run(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id FROM status_snapshots WHERE provider = ?1 AND account = ?2 \
                 AND id > ?3 AND json_extract(status, '$.state') NOT IN \
                 (SELECT value FROM json_each(?4)) ORDER BY id LIMIT ?5",
            )?;
            let rows =
                stmt.query_map(params![provider, account, after, terminal, limit], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    async fn feed(&self, provider: &str, account: &str, now: DateTime<Utc>) -> Result<FeedState> {
        let (provider, account) = (provider.to_owned(), account.to_owned());
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let row: Option<(Option<String>, Option<String>, Option<String>)> = tx
                .query_row(
                    "SELECT cursor, next_cursor, next_ids FROM feeds \
                     WHERE provider = ?1 AND account = ?2",
                    params![provider, account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((cursor, next, Some(ids))) = row else {
                return Ok(FeedState { cursor: row.and_then(|r| r.0), awaiting_acks: 0 });
            };
            let awaiting = unacked(&tx, &ids)?;
            if awaiting > 0 {
                return Ok(FeedState { cursor, awaiting_acks: awaiting });
            }
            let cursor = next.or(cursor);
            tx.execute(
                "UPDATE feeds SET cursor = ?3, next_cursor = NULL, next_ids = NULL, \
                 updated_ms = ?4 WHERE provider = ?1 AND account = ?2",
                params![provider, account, cursor, ms(now)],
            )?;
            tx.commit()?;
            Ok(FeedState { cursor, awaiting_acks: 0 })
        })
        .await
    }

    async fn feed_pulled(
        &self,
        provider: &str,
        account: &str,
        from: Option<&str>,
        events: &[Event],
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (provider, account) = (provider.to_owned(), account.to_owned());
        let (from, next) = (from.map(str::to_owned), next.map(str::to_owned));
        let events = events.to_vec();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let row: Option<(Option<String>, Option<String>)> = tx
                .query_row(
                    "SELECT cursor, next_ids FROM feeds WHERE provider = ?1 AND account = ?2",
                    params![provider, account],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((cursor, waiting)) = &row {
                if *cursor != from || waiting.is_some() {
                    return Ok(false);
                }
            }
            let now = ms(now);
            insert_events(&tx, &events, now)?;
            let ids = to_json(&events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())?;
            let next = next.or(from);
            let (cursor, next_cursor, next_ids) = if unacked(&tx, &ids)? == 0 {
                (next, None, None)
            } else {
                (row.and_then(|r| r.0), next, Some(ids))
            };
            tx.execute(
                "INSERT INTO feeds (provider, account, cursor, next_cursor, next_ids, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (provider, account) DO UPDATE SET \
                 cursor = excluded.cursor, next_cursor = excluded.next_cursor, \
                 next_ids = excluded.next_ids, updated_ms = excluded.updated_ms",
                params![provider, account, cursor, next_cursor, next_ids, now],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

/// The states after which a status no longer changes: their snapshots are not polled.
const TERMINAL: [State; 5] =
    [State::Completed, State::Rejected, State::Cancelled, State::Expired, State::Failed];

/// How many of the events whose ids `ids` lists (JSON) are still pending; a pruned one was
/// acknowledged before it went.
fn unacked(conn: &Connection, ids: &str) -> Fallible<u64> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM events WHERE acked_ms IS NULL \
         AND id IN (SELECT value FROM json_each(?1))",
        params![ids],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn the_states_not_polled_are_the_terminal_ones() {
        use State::*;
        for state in
            [Draft, Sent, PartiallySigned, Completed, Rejected, Cancelled, Expired, Failed, Unknown]
        {
            assert_eq!(TERMINAL.contains(&state), state.is_terminal(), "{state}");
        }
    }

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_failures_name_the_file_and_say_what_to_expect() {
        let full = db_error("/j.sqlite3", failure(rusqlite::ffi::SQLITE_FULL));
        assert_eq!(full.kind(), ErrorKind::Journal);
        assert!(
            full.to_string()
                .starts_with("journal /j.sqlite3: the file cannot grow: the disk is full")
        );
        assert!(full.is_temporary(), "space may be freed");
        let busy = db_error("/j.sqlite3", failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(busy.to_string().contains("locked by another process"), "{busy}");
        assert!(busy.is_temporary());
        let read_only = db_error("/j.sqlite3", failure(rusqlite::ffi::SQLITE_READONLY));
        assert!(read_only.to_string().contains("read-only") && !read_only.is_temporary());
    }
}
