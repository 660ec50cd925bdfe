//! The one trait every provider implements, and the capability record it declares.

use async_trait::async_trait;
use futures::StreamExt as _;
use tokio::io::AsyncWrite;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{DownloadInfo, DownloadKind, Envelope, Event, Handle, Status};

/// What a provider can do, declared once so hosts can ask instead of guess, and so that
/// envelopes are checked before any request is made.
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    /// The host must sign bytes (CMS) during `send`.
    pub host_signature: bool,
    pub webhooks: bool,
    /// `changes(cursor)` lists events since a cursor.
    pub change_cursor: bool,
    /// The provider can read many statuses in one call (otherwise batches fan out `status`).
    pub batch_status: bool,
    pub cancel: bool,
    pub sequential_signing: bool,
    pub downloads: &'static [DownloadKind],
    pub envelope: EnvelopeRules,
}

/// Rules an envelope must meet for this provider, checked locally before any request.
#[derive(Debug, Clone, Copy)]
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
        host_signature: false,
        webhooks: false,
        change_cursor: false,
        batch_status: false,
        cancel: false,
        sequential_signing: false,
        downloads: &[],
        envelope: EnvelopeRules {
            max_documents: None,
            max_document_bytes: None,
            document_extensions: None,
            party_email_required: false,
            max_title_chars: None,
        },
    };
}

/// A sink for downloaded bytes.
pub type Sink<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);

/// One provider account. Implementations are `Send + Sync` and shared by threads.
///
/// Providers never retry on their own: the transport decides (see `transport`).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider id (`tae`): registry key, folder name, log target and env prefix.
    fn id(&self) -> &'static str;

    /// The account name this instance was configured with.
    fn account(&self) -> &str;

    fn capability(&self) -> &Capability;

    /// Provider-specific checks beyond [`EnvelopeRules`]; run before any request.
    fn validate(&self, _envelope: &Envelope) -> Result<()> {
        Ok(())
    }

    /// Creates the envelope at the provider and sends it to the parties.
    async fn send(&self, envelope: &Envelope) -> Result<Handle>;

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

    async fn cancel(&self, handle: &Handle) -> Result<()>;

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
