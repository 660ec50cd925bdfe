//! signbridge: one provider-neutral API for electronic-signature and EDO providers.
//!
//! A [`Client`] is one configured provider account. It is `Send + Sync`; share it between
//! threads and tasks. Every call is async; the C ABI and the Python package drive it on one
//! runtime of their own.
//!
//! ```no_run
//! # async fn demo() -> signbridge::Result<()> {
//! let config = signbridge::ClientConfig::from_json(r#"{
//!     "provider": "tae",
//!     "settings": {"auth_base": "https://totvssign.totvs.app/identityintegration",
//!                  "api_base": "https://totvssign.totvs.app",
//!                  "username": "svc@empresa.com.br", "password": "…"}}"#)?;
//! let client = signbridge::Client::new(config)?;
//! # Ok(()) }
//! ```

mod download;
pub mod error;
mod events;
pub mod host;
mod intent;
pub mod journal;
pub mod model;
pub mod names;
mod outgoing;
pub mod panics;
pub mod provider;
pub mod providers;
pub mod signing;
pub mod transport;
mod validate;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;
use tracing::Instrument as _;

pub use error::{Error, ErrorKind, Result, Retry};
pub use events::{ChangeFeed, ChangeSource, DEFAULT_RETENTION, FeedStep, Since};
pub use intent::{Reconciled, Resolution};
pub use model::{
    Document, DocumentContent, DownloadInfo, DownloadKind, Envelope, Event, EventKind, Handle,
    Message, Party, PartyState, PartyStatus, Role, State, Status,
};
pub use provider::{
    Capability, DownloadCapability, EnvelopeRules, Provider, SendCapability, StatusCapability,
    WebhookCapability,
};
pub use signing::{
    CmsForm, HostSigner, SignRequest, SoftwareSigner, software_signer_from_pem,
    software_signer_from_pkcs12,
};
pub use transport::{Secret, TransportConfig};

/// How to build a [`Client`]: which provider, which account, its settings and network options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Provider id, one of [`providers::PROVIDERS`].
    pub provider: String,
    /// A name for this account, carried in every handle (lets one host use several accounts).
    #[serde(default = "default_account")]
    pub account: String,
    #[serde(default)]
    pub transport: TransportConfig,
    /// The provider's own settings (see each provider's documentation).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Where intents, sessions, rate budgets and status snapshots are kept (see
    /// [`journal`]); `SIGNBRIDGE_JOURNAL` in the environment sets its path.
    #[serde(default)]
    pub journal: journal::JournalConfig,
}

fn default_account() -> String {
    "default".into()
}

/// The settings hold passwords and keys: their text is overwritten when the configuration is
/// dropped (the provider keeps its own copies as [`Secret`]s, wiped in turn).
impl Drop for ClientConfig {
    fn drop(&mut self) {
        wipe_strings(&mut self.settings);
    }
}

/// Overwrites every string in `value` (settings that may hold secrets) before it is freed.
pub(crate) fn wipe_strings(value: &mut serde_json::Value) {
    use zeroize::Zeroize as _;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(wipe_strings),
        _ => {}
    }
}

impl ClientConfig {
    pub fn from_json(text: &str) -> Result<ClientConfig> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("client configuration: {e}")))?;
        // serde would also take a struct as an array of its fields; nobody means that.
        if !value.is_object() {
            return Err(Error::config("client configuration: expected a JSON object"));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::config(format!("client configuration: {e}")))
    }

    /// Sets `settings.<name>` from each environment variable `SIGNBRIDGE_<PROVIDER>_<NAME>`
    /// (e.g. `SIGNBRIDGE_TAE_PASSWORD`), so secrets can stay out of configuration files.
    /// Values are strings; the environment wins over the file.
    pub fn apply_env(&mut self) {
        self.apply_vars(std::env::vars());
    }

    fn apply_vars(&mut self, vars: impl Iterator<Item = (String, String)>) {
        let prefix = format!("SIGNBRIDGE_{}_", self.provider.to_ascii_uppercase());
        for (key, value) in vars {
            if key == "SIGNBRIDGE_JOURNAL" {
                self.journal.path = Some(value.into());
                continue;
            }
            let Some(name) = key.strip_prefix(&prefix) else { continue };
            if name.is_empty() {
                continue;
            }
            if !self.settings.is_object() {
                self.settings = serde_json::Value::Object(Default::default());
            }
            self.settings[name.to_ascii_lowercase()] = serde_json::Value::String(value);
        }
    }
}

/// One provider account. Clones share everything (connection pool, token, events, signer).
#[derive(Clone)]
pub struct Client {
    provider: Arc<dyn Provider>,
    batch_concurrency: usize,
    events: Arc<events::EventStream>,
    signer: signing::SignerSlot,
    journal: journal::Journal,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.provider.id())
            .field("account", &self.provider.account())
            .finish()
    }
}

impl Client {
    /// Builds the account's client and opens its journal (creating the file when needed); a
    /// journal that cannot be used is a [`ErrorKind::Journal`] error naming its file.
    pub fn new(config: ClientConfig) -> Result<Client> {
        providers::check_known(&config.provider)?;
        let journal = journal::Journal::open(&config.journal)?;
        Client::with_journal(config, journal)
    }

    /// Builds the account's client over a journal already open (`config.journal` is not
    /// used), e.g. the listener's, so that its events join the listener's stream.
    pub fn with_journal(mut config: ClientConfig, journal: journal::Journal) -> Result<Client> {
        let batch_concurrency = config.transport.batch_concurrency.max(1);
        let signer = signing::SignerSlot::default();
        providers::check_known(&config.provider)?;
        let provider = providers::build(
            &config.provider,
            providers::BuildContext {
                account: std::mem::take(&mut config.account),
                settings: std::mem::take(&mut config.settings),
                transport: config.transport.clone(),
                signer: signer.clone(),
                journal: journal.clone(),
            },
        )?;
        let scope = vec![(provider.id().to_owned(), provider.account().to_owned())];
        let events = Arc::new(events::EventStream::new(journal.clone(), scope));
        Ok(Client { provider, batch_concurrency, events, signer, journal })
    }

    /// The journal this client keeps its intents, sessions, budgets and snapshots in.
    pub fn journal(&self) -> &journal::Journal {
        &self.journal
    }

    pub fn provider_id(&self) -> &'static str {
        self.provider.id()
    }

    pub fn account(&self) -> &str {
        self.provider.account()
    }

    pub fn capability(&self) -> &Capability {
        self.provider.capability()
    }

    /// Every check `send` makes before its first request.
    pub fn validate(&self, envelope: &Envelope) -> Result<()> {
        self.check(envelope)?;
        self.provider.validate(envelope)
    }

    /// The checks every provider shares, against the capability record: the envelope's
    /// documents as the provider's `send` takes them.
    fn check(&self, envelope: &Envelope) -> Result<Vec<provider::OutgoingDocument>> {
        let send = &self.capability().send;
        if envelope.sequential {
            self.require(send.sequential, "sequential signing")?;
        }
        let documents = validate::envelope(envelope, &send.envelope)?;
        if send.host_signature && !self.has_host_signer() {
            return Err(Error::new(
                ErrorKind::Signing,
                "this provider needs a host signer and none is set",
            )
            .with_context("provider", self.provider_id()));
        }
        Ok(documents)
    }

    /// Validates the envelope, creates it at the provider and sends it to the parties, once:
    /// the envelope's `reference` is the idempotency key (see [`intent`]). Sending a reference
    /// already sent returns its handle without a request; a send cut short resumes.
    ///
    /// If the outcome of a write cannot be known (the response was lost), the error is
    /// [`ErrorKind::OutcomeUnknown`], carrying the handle when the document was already created;
    /// [`Client::reconcile`] finds out what happened.
    pub async fn send(&self, envelope: &Envelope) -> Result<Handle> {
        self.send_as(envelope, false).await
    }

    /// Like [`Client::send`], but makes a new document even when the reference was already
    /// used (the earlier intent is kept in the journal's history).
    pub async fn send_new_document(&self, envelope: &Envelope) -> Result<Handle> {
        self.send_as(envelope, true).await
    }

    async fn send_as(&self, envelope: &Envelope, new_document: bool) -> Result<Handle> {
        self.traced("send", Some(&envelope.reference), async {
            let documents = self.check(envelope)?;
            // The provider makes its own checks as it plans the send (decoding its options
            // once), before its first request.
            let handle = self
                .send_once(envelope, &documents, new_document)
                .await
                .map_err(|e| e.with_context("reference", &envelope.reference))?;
            tracing::debug!(target: "signbridge", id = %handle.id, "sent");
            self.remember(&handle, &events::Snapshot::sent(intent::acting_emails(envelope)), &[])
                .await;
            Ok(handle)
        })
        .await
    }

    pub async fn status(&self, handle: &Handle) -> Result<Status> {
        self.traced("status", handle.reference.as_deref(), async {
            self.check_handle(handle)?;
            let status = self.provider.status(handle).await?;
            self.observe(handle, &status).await;
            Ok(status)
        })
        .await
    }

    /// The status of many envelopes, one result per handle in input order. One failure never
    /// fails the batch; calls share the account's rate limit. Providers that ask to be polled
    /// sparingly (ArqSign) answer from a recent reading: see [`Client::refresh_forced`].
    pub async fn refresh(&self, handles: &[Handle]) -> Vec<Result<Status>> {
        self.refresh_with(handles, false).await
    }

    /// Like [`Client::refresh`], but asks the provider about every handle now.
    pub async fn refresh_forced(&self, handles: &[Handle]) -> Vec<Result<Status>> {
        self.refresh_with(handles, true).await
    }

    async fn refresh_with(&self, handles: &[Handle], force: bool) -> Vec<Result<Status>> {
        let checks: Vec<Result<()>> = handles.iter().map(|h| self.check_handle(h)).collect();
        let valid: Vec<Handle> = handles
            .iter()
            .zip(&checks)
            .filter(|(_, check)| check.is_ok())
            .map(|(h, _)| h.clone())
            .collect();
        let span = self.span("refresh", None);
        // Per-handle failures are the host's to judge: they come back, not logged one by one.
        let mut statuses = self
            .provider
            .statuses(&valid, self.batch_concurrency, force)
            .instrument(span)
            .await
            .into_iter();
        let mut results = Vec::with_capacity(handles.len());
        for (check, handle) in checks.into_iter().zip(handles) {
            let result = check.and_then(|()| {
                statuses.next().unwrap_or_else(|| {
                    Err(Error::internal("the provider returned fewer statuses than handles"))
                })
            });
            if let Ok(status) = &result {
                self.observe(handle, status).await;
            }
            results.push(result);
        }
        results
    }

    /// Compares `status` with the handle's snapshot in the journal, queues what changed as
    /// events, and keeps `status` as the new snapshot.
    async fn observe(&self, handle: &Handle, status: &Status) {
        let previous = match self
            .journal
            .status(self.provider_id(), self.account(), &handle.id)
            .await
        {
            Ok(snapshot) => snapshot.and_then(|s| serde_json::from_value(s.status).ok()),
            Err(e) => {
                tracing::warn!(target: "signbridge", error = %e, "the journal could not read a status snapshot");
                None
            }
        };
        let changes = match &previous {
            Some(previous) => events::changes(handle, previous, status, chrono::Utc::now()),
            None => Vec::new(),
        };
        let next = events::Snapshot::of(status);
        if previous.as_ref() != Some(&next) {
            self.remember(handle, &next, &changes).await;
        }
    }

    /// Keeps `snapshot` with the events its change means, together: if that fails, the next
    /// reading finds the old snapshot and derives the same events again.
    async fn remember(&self, handle: &Handle, snapshot: &events::Snapshot, changes: &[Event]) {
        let json = serde_json::to_value(snapshot).unwrap_or_default();
        let (provider, account) = (self.provider_id(), self.account());
        match self.journal.put_status(provider, account, &handle.id, &json, changes).await {
            Ok(()) if !changes.is_empty() => self.events.committed(),
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(target: "signbridge", error = %e, "the journal could not keep a status snapshot");
            }
        }
    }

    /// The oldest event of this account not yet acknowledged nor handed out by this client:
    /// changes seen by `status` and `refresh` (a party signed, the state moved) and webhook
    /// deliveries received for the account, from the journal. Waits up to `timeout` (None:
    /// until one arrives); None when none came. An event handed out stays pending until
    /// [`Client::ack_event`]: a new client on the same journal (after a restart) hands it out
    /// again.
    pub async fn next_event(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        self.events.next(timeout).await
    }

    /// Acknowledges the event `id` (the host has taken it): true if acked now, false if it
    /// was acked before; an unknown id is [`ErrorKind::NotFound`].
    pub async fn ack_event(&self, id: &str) -> Result<bool> {
        self.events.ack(id).await
    }

    /// The account's events from `since` (after a stream position, or committed at or after a
    /// time), acknowledged or not, oldest first, each with its position; at most `limit`
    /// (capped at 1 000). Acknowledged events older than the retention may have been pruned.
    pub async fn replay_events(
        &self,
        since: Since,
        limit: usize,
    ) -> Result<Vec<journal::StoredEvent>> {
        self.events.replay(since, limit).await
    }

    /// Refreshes every envelope the journal knows as sent and not final (its status snapshots
    /// whose state is not terminal), in pages, appending what changed to the event stream with
    /// stable ids: a poll repeated after a crash appends nothing already appended, since each
    /// change is committed with its new snapshot. Returns (envelopes asked about, failures);
    /// a failure is logged and the envelope is asked about again next time.
    pub async fn poll(&self) -> Result<(usize, usize)> {
        const PAGE: usize = 100;
        let (provider, account) = (self.provider_id(), self.account());
        let (mut asked, mut failed) = (0, 0);
        let mut after = String::new();
        loop {
            let ids = self.journal.store().open_snapshots(provider, account, &after, PAGE).await?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            let handles: Vec<Handle> = ids
                .into_iter()
                .map(|id| Handle {
                    provider: provider.to_owned(),
                    account: account.to_owned(),
                    id,
                    reference: None,
                })
                .collect();
            for (handle, result) in handles.iter().zip(self.refresh(&handles).await) {
                asked += 1;
                if let Err(e) = result {
                    failed += 1;
                    tracing::warn!(target: "signbridge", id = %handle.id, error = %e,
                        "poll: the status could not be read");
                }
            }
            if handles.len() < PAGE {
                break;
            }
        }
        Ok((asked, failed))
    }

    /// One step of the account's change list into the event stream (see [`ChangeFeed`]): the
    /// cursor is committed only once the host acknowledged every event pulled with it.
    pub async fn follow_changes(&self) -> Result<FeedStep> {
        self.require(self.capability().changes, "changes")?;
        let step = ChangeFeed::new(self.journal.clone(), self.provider_id(), self.account())
            .step(self)
            .await?;
        if step.pulled > 0 {
            self.events.committed();
        }
        Ok(step)
    }

    /// Deletes the acknowledged events committed more than `retention` ago (of every account
    /// in the journal); returns how many.
    pub async fn prune_events(&self, retention: Duration) -> Result<u64> {
        self.journal.prune_events(retention).await
    }

    /// Sets (or, with None, removes) the signer that providers needing a host signature call.
    pub fn set_host_signer(&self, signer: Option<Arc<dyn HostSigner>>) {
        self.signer.set(signer);
    }

    pub fn has_host_signer(&self) -> bool {
        self.signer.get().is_some()
    }

    /// Writes the file of `kind` into `sink`.
    pub async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: provider::Sink<'_>,
    ) -> Result<DownloadInfo> {
        self.traced("download", handle.reference.as_deref(), async {
            self.check_handle(handle)?;
            self.require(
                self.capability().download.kinds.contains(&kind),
                &format!("download of {kind}"),
            )?;
            // The bytes reach `sink` only once they show the kind asked for.
            let mut checked = download::Checked::new(sink, self.provider_id(), kind);
            let mut info = self.provider.download(handle, kind, &mut checked).await?;
            checked.flush().await.map_err(download::sink_error)?;
            // The provider names the file: never trusted as a path.
            info.file_name = info.file_name.map(|n| names::file_name(&n, kind.as_str()));
            Ok(info)
        })
        .await
    }

    /// The file of `kind`, in memory.
    pub async fn download_bytes(
        &self,
        handle: &Handle,
        kind: DownloadKind,
    ) -> Result<(Vec<u8>, DownloadInfo)> {
        let mut bytes = Vec::new();
        let info = self.download(handle, kind, &mut bytes).await?;
        Ok((bytes, info))
    }

    /// Writes the file of `kind` to `path`. The file appears only when complete: the bytes go
    /// to a temporary file beside it, renamed on success and removed on failure.
    pub async fn download_to_file(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        path: &Path,
    ) -> Result<DownloadInfo> {
        let io_err = |what: &str, e: std::io::Error| {
            Error::new(ErrorKind::Validation, format!("{what} {}: {e}", path.display()))
                .with_context("field", "path")
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .ok_or_else(|| Error::validation("path", "names no file"))?
            .to_string_lossy();
        let partial = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
        let mut file =
            tokio::fs::File::create(&partial).await.map_err(|e| io_err("cannot create", e))?;
        let result = self.download(handle, kind, &mut file).await;
        drop(file);
        match result {
            Ok(info) => {
                tokio::fs::rename(&partial, path).await.map_err(|e| io_err("cannot write", e))?;
                Ok(info)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    pub async fn cancel(&self, handle: &Handle) -> Result<()> {
        self.traced("cancel", handle.reference.as_deref(), async {
            self.check_handle(handle)?;
            self.require(self.capability().cancel, "cancel")?;
            self.provider.cancel(handle).await
        })
        .await
    }

    /// A provider-specific operation (see the provider's documentation); the names are in
    /// the capability record's `calls`.
    pub async fn call(&self, name: &str, args: serde_json::Value) -> Result<serde_json::Value> {
        self.traced("call", None, async {
            self.require(self.capability().calls.contains(&name), name)?;
            self.provider.call(name, args).await
        })
        .await
    }

    /// Events since `cursor` (None: from the provider's beginning), and the cursor to pass
    /// next time; for providers that keep a change list (capability `changes`).
    pub async fn changes(&self, cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)> {
        self.traced("changes", None, async {
            self.require(self.capability().changes, "changes")?;
            self.provider.changes(cursor).await
        })
        .await
    }

    /// Fails as [`ErrorKind::Unsupported`] unless the capability record declares `op`.
    fn require(&self, supported: bool, op: &str) -> Result<()> {
        if supported { Ok(()) } else { Err(self.provider.unsupported(op)) }
    }

    /// Runs one operation inside its span (provider, account, op, reference), so that what it
    /// logs, its failure included, carries them.
    async fn traced<T>(
        &self,
        op: &'static str,
        reference: Option<&str>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        async { work.await.inspect_err(log_failure) }.instrument(self.span(op, reference)).await
    }

    fn check_handle(&self, handle: &Handle) -> Result<()> {
        if handle.provider != self.provider.id() || handle.account != self.provider.account() {
            return Err(Error::validation(
                "handle",
                format!(
                    "{} belongs to {}:{}, this client is {}:{}",
                    handle.compact(),
                    handle.provider,
                    handle.account,
                    self.provider.id(),
                    self.provider.account()
                ),
            ));
        }
        Ok(())
    }

    fn span(&self, op: &'static str, reference: Option<&str>) -> tracing::Span {
        tracing::debug_span!(target: "signbridge", "signbridge", provider = self.provider.id(),
            account = self.provider.account(), op, reference)
    }
}

/// Expected refusals log at warn; failures that point at the provider or at us at error.
fn log_failure(e: &Error) {
    match e.kind() {
        ErrorKind::Validation
        | ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::RateLimited
        | ErrorKind::Unsupported => tracing::warn!(target: "signbridge", error = %e, "failed"),
        _ => tracing::error!(target: "signbridge", error = %e, "failed"),
    }
}

#[async_trait::async_trait]
impl ChangeSource for Client {
    async fn pull(&self, cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)> {
        self.changes(cursor).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_fills_provider_settings() {
        let mut c =
            ClientConfig::from_json(r#"{"provider":"tae","settings":{"username":"u"}}"#).unwrap();
        c.apply_vars(
            [
                ("SIGNBRIDGE_TAE_PASSWORD".to_string(), "p".to_string()),
                ("SIGNBRIDGE_TAE_".to_string(), "ignored".to_string()),
                ("SIGNBRIDGE_IDOCS_TOKEN".to_string(), "other provider".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(c.settings, serde_json::json!({"username": "u", "password": "p"}));
        assert_eq!(c.account, "default");
    }

    #[test]
    fn every_provider_has_a_capability_record_in_json() {
        for id in providers::PROVIDERS {
            let record = providers::capability(id).unwrap().to_json(id);
            assert_eq!(record["provider"], *id);
            for group in ["send", "status", "download", "cancel", "changes", "webhooks", "calls"] {
                assert!(!record[group].is_null(), "{id}: no {group} in {record}");
            }
            assert!(record["download"]["kinds"].is_array(), "{record}");
        }
        assert!(providers::capability("nope").is_none());
    }

    #[test]
    fn unknown_provider_and_fields_are_config_errors() {
        // No journal is named: an unknown provider is refused before the default one is opened.
        let err =
            Client::new(ClientConfig::from_json(r#"{"provider":"nope"}"#).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("known: tae"), "{err}");
        let err = ClientConfig::from_json(r#"{"provider":"tae","setings":{}}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = ClientConfig::from_json(r#"["tae"]"#).unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }
}
