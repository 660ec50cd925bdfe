//! The one trait every provider implements, and the capability record it declares.

use async_trait::async_trait;
use futures::StreamExt as _;
use serde::Serialize;
use tokio::io::AsyncWrite;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{DownloadInfo, DownloadKind, Envelope, Event, Handle, Status};
pub use crate::outgoing::OutgoingDocument;
pub use crate::providers::Base;

/// What a provider can do, declared once per provider and grouped by operation. It is a
/// contract: [`crate::Client`] checks every operation against it before any request (an
/// undeclared one fails as [`ErrorKind::Unsupported`], or [`ErrorKind::Signing`] when a host
/// signature is needed and no signer is set), hosts read it as JSON
/// ([`Capability::to_json`]), and the behaviour suite proves each declared flag true.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Capability {
    pub send: SendCapability,
    pub status: StatusCapability,
    pub download: DownloadCapability,
    /// `cancel` withdraws a sent envelope.
    pub cancel: bool,
    /// `changes(cursor)` lists events since a cursor.
    pub changes: bool,
    /// The provider pushes changes to a receiver (see [`crate::webhooks`]).
    pub webhooks: WebhookCapability,
    /// Provider-specific operations reachable through `call(name, args)`.
    pub calls: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SendCapability {
    /// The host signs bytes (CMS) during `send`, through its host signer.
    pub host_signature: bool,
    /// Parties can be made to act one after the other (`Envelope::sequential`).
    pub sequential: bool,
    /// What an envelope must meet, checked before any request.
    pub envelope: EnvelopeRules,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct StatusCapability {
    /// One request lists the status of many envelopes, so a batch refresh needs fewer
    /// requests than envelopes. Otherwise a batch fans out one status call per envelope.
    pub batch: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct WebhookCapability {
    /// The webhook source (a receiver route's `source`) whose deliveries for the account join
    /// its event stream; None: the provider pushes nothing.
    pub source: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DownloadCapability {
    /// The kinds `download` can fetch.
    pub kinds: &'static [DownloadKind],
}

/// Rules an envelope must meet for this provider, checked locally before any request.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EnvelopeRules {
    pub max_documents: Option<usize>,
    pub max_document_bytes: Option<u64>,
    /// Allowed file extensions (lowercase, without the dot); None allows any.
    pub document_extensions: Option<&'static [&'static str]>,
    /// Every party needs an e-mail address.
    pub party_email_required: bool,
    pub max_title_chars: Option<usize>,
}

impl Capability {
    /// A provider that declares nothing; providers start from it with `..Capability::NONE`.
    pub const NONE: Capability = Capability {
        send: SendCapability {
            host_signature: false,
            sequential: false,
            envelope: EnvelopeRules {
                max_documents: None,
                max_document_bytes: None,
                document_extensions: None,
                party_email_required: false,
                max_title_chars: None,
            },
        },
        status: StatusCapability { batch: false },
        download: DownloadCapability { kinds: &[] },
        cancel: false,
        changes: false,
        webhooks: WebhookCapability { source: None },
        calls: &[],
    };

    /// The record as hosts read it (C, Python and the CLI print this same JSON), with the
    /// provider id beside the groups.
    pub fn to_json(&self, provider: &str) -> serde_json::Value {
        let mut record = serde_json::Map::new();
        record.insert("provider".into(), provider.into());
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) {
            record.extend(fields);
        }
        serde_json::Value::Object(record)
    }
}

/// What a send did so far: the provider ids and the steps it completed, recorded (in the
/// journal) the moment they are known, so that a send cut short resumes from them instead of
/// creating the document again.
#[async_trait]
pub trait Progress: Send + Sync {
    /// The id `name` recorded so far (`"document_id"`).
    fn id(&self, name: &str) -> Option<String>;

    /// Whether `step` completed.
    fn done(&self, step: &str) -> bool;

    /// Whether an earlier attempt of this send recorded anything (this one resumes it).
    fn resumed(&self) -> bool;

    /// Records `name` = `value` before the send goes on.
    async fn record_id(&mut self, name: &str, value: &str) -> Result<()>;

    /// Records that `step` completed.
    async fn record_step(&mut self, step: &str) -> Result<()>;
}

/// What a provider found when asked what an earlier, interrupted send created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The document exists under this id; `sent` once it went out to the parties.
    Found { id: String, sent: bool },
    /// Nothing was created: sending again is safe.
    Absent,
    /// The provider offers no way to tell (the reason says why): the outcome stays unknown.
    Unknowable(String),
}

/// A sink for downloaded bytes.
pub type Sink<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);

/// One provider account. Implementations are `Send + Sync` and shared by threads.
///
/// Providers never retry on their own: they classify each reply and the transport decides
/// (see `transport`).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What every provider account shares: ids, capability record, transport.
    fn base(&self) -> &Base;

    /// The journal key and windows of the account's login calls, when the contract limits
    /// them apart from its other calls (shown by `budget()` with scope `logins`).
    fn login_budget(&self) -> Option<(String, &[crate::journal::Window])> {
        None
    }

    /// The provider id (`tae`): registry key, folder name, log target and env prefix.
    fn id(&self) -> &'static str {
        self.base().provider
    }

    /// The account name this instance was configured with.
    fn account(&self) -> &str {
        &self.base().account
    }

    fn capability(&self) -> &Capability {
        self.base().capability
    }

    /// Provider-specific checks beyond [`EnvelopeRules`]; run before any request. `send`
    /// makes them too (decoding `provider_options` once), so the client calls this only when
    /// the host asks to validate without sending.
    fn validate(&self, _envelope: &Envelope) -> Result<()> {
        Ok(())
    }

    /// Creates the envelope at the provider and sends it to the parties. `documents` are the
    /// envelope's documents as checked against [`EnvelopeRules`], in order. Every provider id
    /// goes to `progress` the moment it is known, and each step as it completes; a resumed
    /// send continues from what `progress` holds instead of creating again.
    async fn send(
        &self,
        envelope: &Envelope,
        documents: &[OutgoingDocument],
        progress: &mut dyn Progress,
    ) -> Result<Handle>;

    /// What an interrupted send of `reference` created, looked up with the provider's own
    /// search from what the send recorded before its first write; what it finds is recorded
    /// in `progress`, so that a send resumed from it continues with the document found.
    async fn find(&self, _reference: &str, _progress: &mut dyn Progress) -> Result<Lookup> {
        Ok(Lookup::Unknowable(format!("{} offers no lookup of a document by reference", self.id())))
    }

    async fn status(&self, handle: &Handle) -> Result<Status>;

    /// Many statuses, one result per handle in input order; one failure never fails the batch.
    /// The default fans out [`Provider::status`] with at most `concurrency` calls in flight.
    /// A provider that asks to be polled sparingly may answer from its last reading unless
    /// `force` is set.
    async fn statuses(
        &self,
        handles: &[Handle],
        concurrency: usize,
        _force: bool,
    ) -> Vec<Result<Status>> {
        let calls: Vec<_> = handles.iter().map(|h| self.status(h)).collect();
        futures::stream::iter(calls).buffered(concurrency.max(1)).collect().await
    }

    /// Writes the file of `kind` into `sink`.
    async fn download(
        &self,
        handle: &Handle,
        kind: DownloadKind,
        sink: Sink<'_>,
    ) -> Result<DownloadInfo>;

    async fn cancel(&self, _handle: &Handle) -> Result<()> {
        Err(self.unsupported("cancel"))
    }

    /// Events since `cursor`, and the cursor to pass next time.
    async fn changes(&self, _cursor: Option<&str>) -> Result<(Vec<Event>, Option<String>)> {
        Err(self.unsupported("changes"))
    }

    /// Provider-specific operations the neutral model has no word for.
    async fn call(&self, name: &str, _args: serde_json::Value) -> Result<serde_json::Value> {
        Err(self.unsupported(name))
    }

    fn unsupported(&self, op: &str) -> Error {
        Error::new(ErrorKind::Unsupported, format!("{} does not support {op}", self.id()))
            .with_context("provider", self.id())
    }
}
