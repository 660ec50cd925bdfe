//! Exactly-once sending: every send of a reference goes through its intent in the journal.
//!
//! Before the first write an intent row holds the provider, account, reference and a digest of
//! the envelope, under a lease; the provider records each id the moment it is known and each
//! step as it completes. So:
//! - a reference already sent returns its handle with no request;
//! - the same reference with another envelope is refused, unless the host asks for a new
//!   document ([`Client::send_new_document`]);
//! - two senders of one reference (threads or processes) make one document: the second is
//!   refused while the first holds the lease;
//! - a send cut short (a lost answer, a crash, a killed process) resumes from what it recorded:
//!   where its first write's answer was lost, the provider's lookup ([`Provider::find`]) says
//!   what exists before anything is created again. When the provider cannot tell, the outcome
//!   stays unknown until the host resolves it ([`Client::resolve`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Begin, IntentKey, IntentRecord, IntentState, Journal, Lease, WindowUsage};
use crate::model::{DocumentContent, Envelope, Handle};
use crate::outgoing::OutgoingDocument;
use crate::provider::{Lookup, Progress};
use crate::{Client, Role};

/// A send's progress, written through to the journal under the send's lease.
pub(crate) struct JournalProgress<'a> {
    journal: &'a Journal,
    lease: Lease,
    ids: BTreeMap<String, String>,
    steps: Vec<String>,
    resumed: bool,
    /// Whether this send began with nothing at the provider: no earlier attempt, or the
    /// provider's lookup found nothing of one.
    began_clean: bool,
}

impl<'a> JournalProgress<'a> {
    fn new(journal: &'a Journal, lease: Lease, earlier: Option<&IntentRecord>) -> Self {
        let resumed = earlier.is_some_and(|r| !r.ids.is_empty() || !r.steps.is_empty());
        JournalProgress {
            journal,
            lease,
            ids: earlier.map(|r| r.ids.clone()).unwrap_or_default(),
            steps: earlier
                .map(|r| r.steps.iter().map(|s| s.name.clone()).collect())
                .unwrap_or_default(),
            resumed,
            began_clean: !resumed,
        }
    }
}

#[async_trait]
impl Progress for JournalProgress<'_> {
    fn id(&self, name: &str) -> Option<String> {
        self.ids.get(name).cloned()
    }

    fn done(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s == step)
    }

    fn resumed(&self) -> bool {
        self.resumed
    }

    async fn record_id(&mut self, name: &str, value: &str) -> Result<()> {
        self.journal.record_id(&mut self.lease, name, value).await?;
        self.ids.insert(name.into(), value.into());
        Ok(())
    }

    async fn record_step(&mut self, step: &str) -> Result<()> {
        self.journal.record_step(&mut self.lease, step).await?;
        if !self.done(step) {
            self.steps.push(step.into());
        }
        Ok(())
    }
}

/// Marks the intent unknown if the send is dropped before it ends (a host cancelled an async
/// send, or a timeout dropped it): whatever was written stays findable by `reconcile` at once,
/// rather than only after the lease expires.
struct Cancelled {
    journal: Journal,
    lease: Option<Lease>,
}

impl Cancelled {
    fn disarm(&mut self) {
        self.lease = None;
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        // Dropping cannot wait; the runtime finishes the write. Without a runtime the lease
        // simply expires and the intent reads as pending, which reconcile also answers.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let journal = self.journal.clone();
            runtime.spawn(async move {
                let recorded = journal.mark_unknown(lease, "the send was cancelled").await;
                if let Err(e) = recorded {
                    tracing::warn!(target: "signbridge", error = %e, "the journal could not record a cancelled send");
                }
            });
        }
    }
}

/// What reconciling a reference found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reconciled {
    /// The document was sent: its handle.
    Sent { reference: String, handle: Handle },
    /// A draft exists but was never sent: send the same envelope again to finish it (the send
    /// resumes with this draft), or cancel it.
    Draft { reference: String, handle: Handle },
    /// Nothing was created: sending again is safe.
    NotSent { reference: String },
    /// Still unknown: the provider cannot tell, or another sender holds the reference.
    Unknown { reference: String, reason: String },
}

/// How the host settles an intent the provider cannot reconcile (it checked the provider's
/// console, or a webhook told it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The document exists under this provider id.
    SentAs(String),
    /// Nothing was created.
    NotSent,
}

/// The digest that tells one envelope from another under one reference: its JSON without the
/// documents, then each document's name, type and size, and its bytes (in memory) or path.
pub(crate) fn digest(envelope: &Envelope, documents: &[OutgoingDocument]) -> String {
    let mut hash = Sha256::new();
    let mut shell = envelope.clone();
    shell.documents.clear();
    hash.update(serde_json::to_vec(&shell).unwrap_or_default());
    for doc in documents {
        hash.update(format!("\n{}\n{}\n{}\n", doc.name, doc.media_type, doc.len));
        match &doc.content {
            DocumentContent::Bytes(bytes) => hash.update(bytes),
            DocumentContent::Path(path) => hash.update(path.to_string_lossy().as_bytes()),
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Client {
    fn intent_key(&self, reference: &str) -> IntentKey {
        IntentKey::new(self.provider_id(), self.account(), reference)
    }

    fn handle_of(&self, id: String, reference: &str) -> Handle {
        Handle {
            provider: self.provider_id().into(),
            account: self.account().into(),
            id,
            reference: Some(reference.into()),
        }
    }

    /// Runs one send under its intent; `new_document` asks for a new document under a
    /// reference already used.
    pub(crate) async fn send_once(
        &self,
        envelope: &Envelope,
        documents: &[OutgoingDocument],
        new_document: bool,
    ) -> Result<Handle> {
        let key = self.intent_key(&envelope.reference);
        let digest = digest(envelope, documents);
        let begin = if new_document {
            self.journal.begin_new_document(&key, &digest).await?
        } else {
            self.journal.begin(&key, &digest).await?
        };
        let (lease, earlier) = match begin {
            Begin::AlreadySent(handle) => {
                tracing::info!(target: "signbridge", reference = %envelope.reference, "already sent; returning its handle");
                return serde_json::from_value(handle).map_err(|e| {
                    Error::new(
                        ErrorKind::Journal,
                        format!("the journal's handle does not read: {e}"),
                    )
                });
            }
            Begin::Busy { holder, until } => {
                let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "reference {:?} is being sent by another sender ({holder}) until {until}; \
                         try again then",
                        envelope.reference
                    ),
                )
                .with_retry_after(wait)
                .with_context("field", "reference"));
            }
            Begin::DigestMismatch { state, .. } => {
                return Err(Error::validation(
                    "reference",
                    format!(
                        "{:?} was already used for another envelope (its intent is {}); send a \
                         new document explicitly to use it again",
                        envelope.reference,
                        state.as_str()
                    ),
                ));
            }
            Begin::New(lease) => (lease, None),
            Begin::Resume(lease, record) => (lease, Some(record)),
        };
        // The holder is what the journal checks, so the lease as begun ends the intent even
        // after renewals.
        let mut cancelled = Cancelled { journal: self.journal.clone(), lease: Some(lease.clone()) };
        let mut progress = JournalProgress::new(&self.journal, lease, earlier.as_deref());
        let outcome = self.send_resumed(envelope, documents, &mut progress).await;
        // From here the outcome is known; a cancel while it is recorded leaves the recording
        // to finish on its blocking thread.
        cancelled.disarm();
        let JournalProgress { lease, began_clean, .. } = progress;
        // What the journal fails to record here, the next send resumes from anyway.
        let recorded = match &outcome {
            Ok(handle) => {
                let handle = serde_json::to_value(handle).unwrap_or_default();
                self.journal.finish_sent(lease, &handle).await
            }
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown || e.handle().is_some() => {
                self.journal.mark_unknown(lease, &e.to_string()).await
            }
            // Refused before anything was created, so the reference is free again. The
            // transport answers every write whose answer is unclear with outcome_unknown, and
            // every error after the document exists carries its handle; so any other error
            // created nothing, even after the send recorded what its lookup would search by
            // (ArqSign's time of sending, TAE's file name) and then was refused by the rate
            // budget or a login. The journal's own failures and internal errors prove nothing.
            Err(e)
                if began_clean && !matches!(e.kind(), ErrorKind::Journal | ErrorKind::Internal) =>
            {
                self.journal.mark_not_sent(lease, &e.to_string()).await
            }
            Err(e) => self.journal.mark_unknown(lease, &e.to_string()).await,
        };
        if let Err(e) = recorded {
            tracing::warn!(target: "signbridge", error = %e, "the journal could not record how a send ended");
        }
        outcome
    }

    /// The provider's send, after its lookup when an earlier attempt may have created
    /// something.
    async fn send_resumed(
        &self,
        envelope: &Envelope,
        documents: &[OutgoingDocument],
        progress: &mut JournalProgress<'_>,
    ) -> Result<Handle> {
        if progress.resumed {
            match self.provider.find(&envelope.reference, progress).await? {
                Lookup::Unknowable(reason) => {
                    return Err(Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "an earlier send of {:?} may have created the document and it \
                             cannot be checked: {reason}; resolve it (signbridge journal \
                             resolve) before sending again",
                            envelope.reference
                        ),
                    ));
                }
                Lookup::Absent => progress.began_clean = true,
                Lookup::Found { .. } => {}
            }
        }
        self.provider.send(envelope, documents, progress).await
    }

    /// Finds out what became of the send of `reference` (an answer lost, a sender killed):
    /// sent (with the handle), a draft never sent, not sent (safe to send again), or still
    /// unknown.
    pub async fn reconcile(&self, reference: &str) -> Result<Reconciled> {
        self.traced("reconcile", Some(reference), async {
            let key = self.intent_key(reference);
            let record = self.journal.intent(&key).await?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, format!("the journal has no send of {reference:?}"))
            })?;
            let reference = reference.to_string();
            match record.state {
                IntentState::Sent => {
                    let handle = record.handle.and_then(|h| serde_json::from_value(h).ok());
                    return Ok(match handle {
                        Some(handle) => Reconciled::Sent { reference, handle },
                        None => Reconciled::Unknown {
                            reference,
                            reason: "sent, but the journal lost its handle".into(),
                        },
                    });
                }
                IntentState::NotSent => return Ok(Reconciled::NotSent { reference }),
                IntentState::Pending | IntentState::Unknown => {}
            }
            let (lease, earlier) = match self.journal.begin(&key, &record.digest).await? {
                Begin::Resume(lease, earlier) => (lease, Some(earlier)),
                Begin::New(lease) => (lease, None),
                Begin::Busy { holder, until } => {
                    return Ok(Reconciled::Unknown {
                        reference,
                        reason: format!("another sender ({holder}) holds it until {until}"),
                    });
                }
                Begin::AlreadySent(handle) => {
                    let handle = serde_json::from_value(handle).map_err(|e| {
                        Error::new(
                            ErrorKind::Journal,
                            format!("the journal's handle does not read: {e}"),
                        )
                    })?;
                    return Ok(Reconciled::Sent { reference, handle });
                }
                Begin::DigestMismatch { .. } => {
                    return Err(Error::internal("the journal refused the intent's own digest"));
                }
            };
            let mut progress = JournalProgress::new(&self.journal, lease, earlier.as_deref());
            let found = self.provider.find(&reference, &mut progress).await;
            let lease = progress.lease;
            match found {
                Ok(Lookup::Found { id, sent: true }) => {
                    let handle = self.handle_of(id, &reference);
                    self.journal
                        .finish_sent(lease, &serde_json::to_value(&handle).unwrap_or_default())
                        .await?;
                    Ok(Reconciled::Sent { reference, handle })
                }
                Ok(Lookup::Found { id, sent: false }) => {
                    self.journal
                        .mark_unknown(lease, "a draft exists: send again to finish it")
                        .await?;
                    let handle = self.handle_of(id, &reference);
                    Ok(Reconciled::Draft { reference, handle })
                }
                Ok(Lookup::Absent) => {
                    self.journal.mark_not_sent(lease, "the provider has no such document").await?;
                    Ok(Reconciled::NotSent { reference })
                }
                Ok(Lookup::Unknowable(reason)) => {
                    self.journal.mark_unknown(lease, &reason).await?;
                    Ok(Reconciled::Unknown { reference, reason })
                }
                Err(e) => {
                    self.journal.mark_unknown(lease, &e.to_string()).await?;
                    Err(e)
                }
            }
        })
        .await
    }

    /// Reconciles every send of this account that is not known to have ended (at most
    /// `limit`), oldest first; one failure never stops the rest. Each result comes with its
    /// reference, so a failed one still says which send it was.
    pub async fn reconcile_pending(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, Result<Reconciled>)>> {
        let pending = self.journal.unfinished(self.provider_id(), self.account(), limit).await?;
        let mut results = Vec::with_capacity(pending.len());
        for record in pending {
            let result = self.reconcile(&record.key.reference).await;
            results.push((record.key.reference, result));
        }
        Ok(results)
    }

    /// The sends of this account not known to have ended, oldest first (at most `limit`).
    pub async fn pending(&self, limit: usize) -> Result<Vec<IntentRecord>> {
        self.journal.unfinished(self.provider_id(), self.account(), limit).await
    }

    /// What is left of each of the account's rate windows (empty when the provider's contract
    /// gives none); counted in the journal, so it is what every process using the account sees.
    pub async fn budget(&self) -> Result<Vec<WindowUsage>> {
        let windows = self.provider.base().transport.windows();
        let mut usage = self.journal.remaining(self.provider_id(), self.account(), windows).await?;
        if let Some((key, windows)) = self.provider.login_budget() {
            let logins = self.journal.remaining(self.provider_id(), &key, windows).await?;
            usage.extend(logins.into_iter().map(|u| WindowUsage { scope: "logins", ..u }));
        }
        Ok(usage)
    }

    /// What the journal holds about the send of `reference`.
    pub async fn intent(&self, reference: &str) -> Result<Option<IntentRecord>> {
        self.journal.intent(&self.intent_key(reference)).await
    }

    /// Settles by the host's word a send the provider cannot reconcile: the document exists
    /// as `SentAs(id)` (later sends of the reference return its handle), or `NotSent`.
    pub async fn resolve(&self, reference: &str, resolution: Resolution) -> Result<Reconciled> {
        let key = self.intent_key(reference);
        let record = self.journal.intent(&key).await?.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("the journal has no send of {reference:?}"))
        })?;
        let lease = match self.journal.begin(&key, &record.digest).await? {
            Begin::Resume(lease, _) | Begin::New(lease) => lease,
            Begin::AlreadySent(_) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("{reference:?} is already sent"),
                ));
            }
            Begin::Busy { holder, until } => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("another sender ({holder}) holds {reference:?} until {until}"),
                ));
            }
            Begin::DigestMismatch { .. } => {
                return Err(Error::internal("the journal refused the intent's own digest"));
            }
        };
        let reference = reference.to_string();
        match resolution {
            Resolution::SentAs(id) => {
                let handle = self.handle_of(id, &reference);
                self.journal
                    .finish_sent(lease, &serde_json::to_value(&handle).unwrap_or_default())
                    .await?;
                Ok(Reconciled::Sent { reference, handle })
            }
            Resolution::NotSent => {
                self.journal.mark_not_sent(lease, "resolved by the host: not sent").await?;
                Ok(Reconciled::NotSent { reference })
            }
        }
    }
}

/// The parties' e-mails of a sent envelope (the baseline its first status is compared with).
pub(crate) fn acting_emails(envelope: &Envelope) -> impl Iterator<Item = &str> {
    envelope.parties.iter().filter(|p| p.role != Role::Observe).filter_map(|p| p.email.as_deref())
}
