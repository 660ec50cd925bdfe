//! Group commit for the inbox: deliveries that arrive while a commit is under way wait in a
//! queue, and the next transaction keeps all of them. One fsync then answers a whole batch, so
//! the intake rate is no longer one delivery per fsync, and each delivery is still answered
//! only after the transaction that holds it committed.
//!
//! The committer is a task spawned when the queue gets its first entry and ending when it is
//! empty: no thread idles while nothing arrives, and a journal needs no runtime until it
//! receives. If the task dies (a panic, its runtime shutting down), the deliveries it held get
//! an error (503 to their senders, who send again) and the next delivery starts a new task.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use tokio::sync::oneshot;

use super::{InboxEntry, Ingested, JournalStore};
use crate::error::{Error, Result};

/// Most deliveries in one transaction: bounds how long a batch holds the write lock (other
/// processes on the journal wait that long at most) and what one failure sends back.
const MAX_BATCH: usize = 1024;

type Answer = oneshot::Sender<Result<Ingested>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(InboxEntry, Answer)>,
    /// A committer task is running (it takes what is waiting before it ends).
    running: bool,
}

/// Commits the deliveries given to [`GroupCommit::ingest`], many per transaction.
pub(crate) struct GroupCommit {
    store: Arc<dyn JournalStore>,
    queue: Mutex<Queue>,
}

impl GroupCommit {
    pub(crate) fn new(store: Arc<dyn JournalStore>) -> GroupCommit {
        GroupCommit { store, queue: Mutex::default() }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Nothing panics while holding it; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `entry` and returns once the transaction holding it committed (or failed).
    /// Needs a tokio runtime (the committer is spawned on it).
    pub(crate) async fn ingest(self: &Arc<Self>, entry: InboxEntry) -> Result<Ingested> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.waiting.push((entry, answer));
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.run().await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(Error::new(
                crate::ErrorKind::Journal,
                "the inbox committer stopped before committing the delivery",
            )
            .temporary())
        })
    }

    /// Commits what is queued, batch after batch, until the queue is empty.
    async fn run(self: Arc<Self>) {
        let mut running = Running { commit: &self, armed: true };
        loop {
            let batch = {
                let mut queue = self.queue();
                if queue.waiting.is_empty() {
                    queue.running = false;
                    // From here another delivery may start the next committer: ours is done.
                    running.armed = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect::<Vec<_>>()
            };
            let (entries, answers): (Vec<InboxEntry>, Vec<Answer>) = batch.into_iter().unzip();
            tracing::debug!(target: "signbridge::journal", deliveries = entries.len(),
                "committing inbox batch");
            match self.store.ingest_batch(&entries, Utc::now()).await {
                Ok(kept) => {
                    for (answer, kept) in answers.into_iter().zip(kept) {
                        let _ = answer.send(Ok(kept));
                    }
                }
                Err(e) => {
                    // Nothing of the batch is kept: every delivery in it gets the error.
                    for answer in answers {
                        let copy = Error::new(e.kind(), e.to_string()).temporary();
                        let _ = answer.send(Err(copy));
                    }
                }
            }
        }
    }
}

/// Ends a committer that stops early (a panic, a cancelled task): the deliveries still queued
/// are answered with an error by dropping their senders, and the next one starts a committer.
struct Running<'a> {
    commit: &'a GroupCommit,
    /// Until the committer ends normally (while armed, `running` is this committer's).
    armed: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.commit.queue();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}
