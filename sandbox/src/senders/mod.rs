//! The webhook machinery every sender shares (SINtegre, iDocs, ArqSign, TAE): a queue of
//! deliveries per sender, its delivery policy (timeout, retries with backoff, what counts as
//! success), seeded chaos (duplicates, shuffled order) and the control routes that list, fire,
//! run and settle deliveries.
//!
//! A sender queues a delivery with a function that builds the request when an attempt starts,
//! so a sender that mints something per attempt (SINtegre's token) or follows an edited
//! configuration does so on every retry.
//!
//! # Control routes, under `/__sandbox/<sender>/` (`sintegre`, `idocs`, `arqsign`, `tae`)
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET /deliveries` | | `[DeliveryView]` in queueing order |
//! | `DELETE /deliveries` | | `{}`: forgets every delivery not being sent |
//! | `GET /deliveries/{id}` | | `DeliveryView` |
//! | `POST /deliveries/{id}/fire` | | sends it once now and answers its `DeliveryView` afterwards |
//! | `POST /deliveries/run` | | every pending delivery (held or backing off) is due now: `{"started": n}` |
//! | `POST /deliveries/settle` | `{"timeout_ms"}` (default 10 000) | `DeliverySummary`; 408 if still busy at the deadline |
//! | `GET`/`POST /deliveries/policy` | `DeliveryPolicy` fields to change | the policy in force |
//! | `GET`/`POST`/`DELETE /deliveries/chaos` | `DeliveryChaos` | the chaos in force (`null` when none) |

mod control;
pub mod model;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

pub(crate) use control::routes;
pub use model::{
    AttemptRecord, DeliveryChaos, DeliveryPolicy, DeliveryStatus, DeliverySummary, DeliveryView,
    SenderId, Success,
};

use crate::chaos::{splitmix64, unit_fraction};

/// Most deliveries kept; beyond it the oldest finished ones are forgotten.
const MAX_KEPT: usize = 200_000;
/// Attempts kept per delivery (the newest).
const MAX_ATTEMPTS_KEPT: usize = 16;
/// Largest answer body read from a receiver; the rest is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// One HTTP request to send.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Builds a delivery's request when an attempt starts; `Err` cancels the delivery with that
/// reason (e.g. its integration was deleted).
pub(crate) type Render = Arc<dyn Fn() -> Result<Prepared, String> + Send + Sync>;

/// Told about every finished attempt (SINtegre keeps a status per slot from it).
pub(crate) trait Observer: Send + Sync {
    fn attempted(&self, tag: &Value, record: &AttemptRecord, status: DeliveryStatus);
}

/// What to queue.
pub(crate) struct Outgoing {
    pub event: String,
    pub tag: Value,
    pub render: Render,
    /// A timeout counts as delivered (ArqSign with `aguardarRetorno` = 0).
    pub timeout_is_success: bool,
}

struct Delivery {
    event: String,
    tag: Value,
    render: Render,
    timeout_is_success: bool,
    status: DeliveryStatus,
    attempts: Vec<AttemptRecord>,
    attempt_count: u32,
    duplicate_of: Option<u64>,
    sent_order: Option<u64>,
    /// When a pending delivery is due; `None` with `hold` means it waits for run or fire.
    due: Option<Instant>,
    last_request: Option<Value>,
}

struct ChaosState {
    chaos: DeliveryChaos,
    rng: u64,
}

struct Inner {
    deliveries: BTreeMap<u64, Delivery>,
    /// Pending deliveries due now, in the order they became due. Entries whose delivery is no
    /// longer pending are skipped when met (cancelling does not search this queue).
    ready: VecDeque<u64>,
    /// Pending deliveries due later (a retry backing off), by due time; stale entries as above.
    waiting: BTreeSet<(Instant, u64)>,
    next_id: u64,
    next_order: u64,
    sending: usize,
    policy: DeliveryPolicy,
    chaos: Option<ChaosState>,
    /// The earliest wake-up a timer task is already sleeping towards.
    timer: Option<Instant>,
}

/// The deliveries of one sender.
pub(crate) struct Outbox {
    id: SenderId,
    inner: Mutex<Inner>,
    changed: Notify,
    http: reqwest::Client,
    observer: Mutex<Option<Arc<dyn Observer>>>,
}

impl Outbox {
    pub fn new(id: SenderId, policy: DeliveryPolicy) -> Arc<Outbox> {
        // Receivers in tests are on loopback: a proxy from the environment must not take them;
        // a redirect is an answer like any other (SINtegre §3.2: 3xx is a failure).
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Outbox {
            id,
            inner: Mutex::new(Inner {
                deliveries: BTreeMap::new(),
                ready: VecDeque::new(),
                waiting: BTreeSet::new(),
                next_id: 1,
                next_order: 1,
                sending: 0,
                policy,
                chaos: None,
                timer: None,
            }),
            changed: Notify::new(),
            http,
            observer: Mutex::new(None),
        })
    }

    pub fn id(&self) -> SenderId {
        self.id
    }

    pub fn set_observer(&self, observer: Arc<dyn Observer>) {
        *self.observer.lock().unwrap_or_else(PoisonError::into_inner) = Some(observer);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the queue consistent, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `outgoing` (and its chaos duplicate, if one is drawn); returns the ids.
    pub fn enqueue(self: &Arc<Self>, outgoing: Outgoing) -> Vec<u64> {
        let ids = {
            let mut inner = self.lock();
            let duplicate = match &mut inner.chaos {
                Some(state) => {
                    unit_fraction(splitmix64(&mut state.rng)) * 100.0
                        < state.chaos.duplicate_percent
                }
                None => false,
            };
            let first = inner.insert(&outgoing, None);
            let mut ids = vec![first];
            if duplicate {
                ids.push(inner.insert(&outgoing, Some(first)));
            }
            inner.evict();
            ids
        };
        self.pump();
        ids
    }

    /// Pending deliveries whose tag matches `predicate` are cancelled (a newer version replaces
    /// them); returns how many.
    pub fn cancel_pending(&self, predicate: impl Fn(&Value) -> bool) -> usize {
        let mut inner = self.lock();
        let mut cancelled = 0;
        for delivery in inner.deliveries.values_mut() {
            if delivery.status == DeliveryStatus::Pending && predicate(&delivery.tag) {
                delivery.status = DeliveryStatus::Cancelled;
                cancelled += 1;
            }
        }
        drop(inner);
        self.changed.notify_waiters();
        cancelled
    }

    /// Failed deliveries whose tag matches `predicate` start over (attempt count reset) and are
    /// due now; returns how many.
    pub fn requeue_failed(self: &Arc<Self>, predicate: impl Fn(&Value) -> bool) -> usize {
        let count = {
            let mut inner = self.lock();
            let now = Instant::now();
            let mut requeued = Vec::new();
            for (id, delivery) in inner.deliveries.iter_mut() {
                if delivery.status == DeliveryStatus::Failed && predicate(&delivery.tag) {
                    delivery.status = DeliveryStatus::Pending;
                    delivery.attempt_count = 0;
                    delivery.due = Some(now);
                    requeued.push(*id);
                }
            }
            let count = requeued.len();
            inner.ready.extend(requeued);
            count
        };
        self.pump();
        count
    }

    pub fn policy(&self) -> DeliveryPolicy {
        self.lock().policy.clone()
    }

    pub fn set_policy(self: &Arc<Self>, policy: DeliveryPolicy) {
        self.lock().policy = policy;
        self.pump();
    }

    pub fn chaos(&self) -> Option<DeliveryChaos> {
        self.lock().chaos.as_ref().map(|state| state.chaos.clone())
    }

    pub fn set_chaos(&self, chaos: Option<DeliveryChaos>) {
        self.lock().chaos = chaos.map(|chaos| ChaosState { rng: chaos.seed, chaos });
    }

    pub fn views(&self) -> Vec<DeliveryView> {
        let inner = self.lock();
        inner.deliveries.iter().map(|(id, d)| d.view(*id)).collect()
    }

    pub fn view(&self, id: u64) -> Option<DeliveryView> {
        self.lock().deliveries.get(&id).map(|d| d.view(id))
    }

    /// Forgets every delivery not being sent.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.deliveries.retain(|_, d| d.status == DeliveryStatus::Sending);
        inner.next_order = 1;
    }

    pub fn summary(&self) -> DeliverySummary {
        self.lock().summary()
    }

    /// Every pending delivery is due now, held or backing off; returns how many.
    pub fn run_pending(self: &Arc<Self>) -> usize {
        let started = {
            let mut inner = self.lock();
            let now = Instant::now();
            let mut due = Vec::new();
            for (id, delivery) in inner.deliveries.iter_mut() {
                if delivery.status == DeliveryStatus::Pending {
                    delivery.due = Some(now);
                    due.push(*id);
                }
            }
            let count = due.len();
            inner.waiting.clear();
            inner.ready = due.into();
            count
        };
        self.pump();
        started
    }

    /// Sends delivery `id` once now, whatever its status (but not while it is being sent), and
    /// waits for the answer. A failed one gets one more attempt; a delivered one is sent again.
    pub async fn fire(self: &Arc<Self>, id: u64) -> Result<DeliveryView, String> {
        let render = {
            let mut inner = self.lock();
            let order = inner.next_order;
            let delivery =
                inner.deliveries.get_mut(&id).ok_or_else(|| format!("no delivery {id}"))?;
            if delivery.status == DeliveryStatus::Sending {
                return Err(format!("delivery {id} is being sent"));
            }
            delivery.status = DeliveryStatus::Sending;
            delivery.due = None;
            let fresh = delivery.sent_order.is_none();
            delivery.sent_order.get_or_insert(order);
            let render = delivery.render.clone();
            if fresh {
                inner.next_order += 1;
            }
            inner.sending += 1;
            render
        };
        self.attempt(id, render, true).await;
        self.pump();
        self.view(id).ok_or_else(|| format!("delivery {id} was forgotten"))
    }

    /// Waits until no delivery is being sent or due (held ones aside), for at most `timeout`.
    pub async fn settle(&self, timeout: Duration) -> DeliverySummary {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().is_settled() {
                return self.summary();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.summary();
            }
        }
    }

    /// Starts every due delivery the concurrency allows, and a timer for the next one due.
    fn pump(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Without a runtime (a unit test of a simulator) deliveries stay queued.
            return;
        };
        let mut starts = Vec::new();
        let mut wake = None;
        {
            let mut inner = self.lock();
            let now = Instant::now();
            inner.promote(now);
            while inner.sending < inner.policy.concurrency.max(1) {
                let Some(id) = inner.pick() else { break };
                let order = inner.next_order;
                inner.next_order += 1;
                inner.sending += 1;
                let Some(delivery) = inner.deliveries.get_mut(&id) else { break };
                delivery.status = DeliveryStatus::Sending;
                delivery.due = None;
                delivery.sent_order.get_or_insert(order);
                starts.push((id, delivery.render.clone()));
            }
            if let Some((next, _)) = inner.waiting.first().copied() {
                if inner.timer.is_none_or(|timer| next < timer || timer <= now) {
                    inner.timer = Some(next);
                    wake = Some(next);
                }
            }
        }
        for (id, render) in starts {
            let outbox = self.clone();
            runtime.spawn(async move {
                outbox.attempt(id, render, false).await;
                outbox.pump();
            });
        }
        if let Some(at) = wake {
            let outbox = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                outbox.lock().timer = None;
                outbox.pump();
            });
        }
        self.changed.notify_waiters();
    }

    /// One attempt of a delivery already marked `Sending`; records the outcome.
    async fn attempt(&self, id: u64, render: Render, fired: bool) {
        let (timeout, success) = {
            let inner = self.lock();
            (Duration::from_millis(inner.policy.timeout_ms), inner.policy.success)
        };
        let started = Instant::now();
        let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let prepared = match render() {
            Ok(prepared) => prepared,
            Err(reason) => {
                let mut inner = self.lock();
                inner.sending -= 1;
                if let Some(delivery) = inner.deliveries.get_mut(&id) {
                    delivery.status = DeliveryStatus::Cancelled;
                    delivery.push_attempt(AttemptRecord {
                        at,
                        status: None,
                        error: Some(format!("not sent: {reason}")),
                        elapsed_ms: 0,
                        success: false,
                    });
                }
                drop(inner);
                self.changed.notify_waiters();
                return;
            }
        };
        let shown = show_request(&prepared);
        let mut request = self.http.post(&prepared.url).timeout(timeout).body(prepared.body);
        for (name, value) in &prepared.headers {
            request = request.header(name, value);
        }
        let outcome = request.send().await;
        let (status, error) = match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                drain(response).await;
                (Some(status), None)
            }
            Err(e) if e.is_timeout() => (None, Some("timeout".to_owned())),
            Err(e) if e.is_connect() => (None, Some(format!("connect: {}", root_cause(&e)))),
            Err(e) => (None, Some(root_cause(&e))),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let (tag, record, final_status) = {
            let mut inner = self.lock();
            inner.sending -= 1;
            let policy = inner.policy.clone();
            let Some(delivery) = inner.deliveries.get_mut(&id) else { return };
            let timed_out = error.as_deref() == Some("timeout");
            let ok = status.is_some_and(|s| success.accepts(s))
                || (timed_out && delivery.timeout_is_success);
            let record = AttemptRecord { at, status, error, elapsed_ms, success: ok };
            delivery.attempt_count += 1;
            delivery.last_request = Some(shown);
            delivery.push_attempt(record.clone());
            let given_up = status.is_some_and(|s| policy.give_up_statuses.contains(&s));
            delivery.status = if ok {
                DeliveryStatus::Delivered
            } else if fired || given_up || delivery.attempt_count >= policy.max_attempts {
                DeliveryStatus::Failed
            } else {
                let retry = delivery.attempt_count.saturating_sub(1) as usize;
                let delay =
                    policy.backoff_ms.get(retry).or(policy.backoff_ms.last()).copied().unwrap_or(0);
                let at = Instant::now() + Duration::from_millis(delay);
                delivery.due = Some(at);
                DeliveryStatus::Pending
            };
            let retry = delivery.due.filter(|_| delivery.status == DeliveryStatus::Pending);
            let done = (delivery.tag.clone(), record, delivery.status);
            if let Some(at) = retry {
                inner.waiting.insert((at, id));
            }
            done
        };
        let observer = self.observer.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(observer) = observer {
            observer.attempted(&tag, &record, final_status);
        }
        self.changed.notify_waiters();
    }
}

impl Inner {
    fn insert(&mut self, outgoing: &Outgoing, duplicate_of: Option<u64>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let due = if self.policy.hold { None } else { Some(Instant::now()) };
        if due.is_some() {
            self.ready.push_back(id);
        }
        self.deliveries.insert(
            id,
            Delivery {
                event: outgoing.event.clone(),
                tag: outgoing.tag.clone(),
                render: outgoing.render.clone(),
                timeout_is_success: outgoing.timeout_is_success,
                status: DeliveryStatus::Pending,
                attempts: Vec::new(),
                attempt_count: 0,
                duplicate_of,
                sent_order: None,
                due,
                last_request: None,
            },
        );
        id
    }

    /// Forgets the oldest finished deliveries beyond [`MAX_KEPT`].
    fn evict(&mut self) {
        let excess = self.deliveries.len().saturating_sub(MAX_KEPT);
        if excess == 0 {
            return;
        }
        let finished: Vec<u64> = self
            .deliveries
            .iter()
            .filter(|(_, d)| {
                matches!(
                    d.status,
                    DeliveryStatus::Delivered | DeliveryStatus::Failed | DeliveryStatus::Cancelled
                )
            })
            .map(|(id, _)| *id)
            .take(excess)
            .collect();
        for id in finished {
            self.deliveries.remove(&id);
        }
    }

    fn pending(&self, id: u64) -> bool {
        self.deliveries.get(&id).is_some_and(|d| d.status == DeliveryStatus::Pending)
    }

    /// Retries whose time came join the ready queue.
    fn promote(&mut self, now: Instant) {
        while let Some((at, id)) = self.waiting.first().copied() {
            if at > now {
                break;
            }
            self.waiting.pop_first();
            if self.pending(id) {
                self.ready.push_back(id);
            }
        }
    }

    /// The next delivery to send: the first that became due, or with `shuffle` a seeded draw
    /// among the due ones.
    fn pick(&mut self) -> Option<u64> {
        loop {
            let id = match &mut self.chaos {
                Some(state) if state.chaos.shuffle && !self.ready.is_empty() => {
                    let draw = splitmix64(&mut state.rng) % self.ready.len() as u64;
                    self.ready.swap_remove_back(usize::try_from(draw).ok()?)?
                }
                _ => self.ready.pop_front()?,
            };
            if self.pending(id) {
                return Some(id);
            }
        }
    }

    /// Nothing is being sent, due or backing off (held deliveries aside); drops stale queue
    /// entries on the way.
    fn is_settled(&mut self) -> bool {
        if self.sending > 0 {
            return false;
        }
        let deliveries = &self.deliveries;
        let pending =
            |id: &u64| deliveries.get(id).is_some_and(|d| d.status == DeliveryStatus::Pending);
        self.ready.retain(pending);
        self.waiting.retain(|(_, id)| pending(id));
        self.ready.is_empty() && self.waiting.is_empty()
    }

    fn summary(&self) -> DeliverySummary {
        let mut summary = DeliverySummary::default();
        for delivery in self.deliveries.values() {
            match delivery.status {
                DeliveryStatus::Pending if delivery.due.is_none() => summary.held += 1,
                DeliveryStatus::Pending => summary.pending += 1,
                DeliveryStatus::Sending => summary.sending += 1,
                DeliveryStatus::Delivered => summary.delivered += 1,
                DeliveryStatus::Failed => summary.failed += 1,
                DeliveryStatus::Cancelled => summary.cancelled += 1,
            }
        }
        summary.settled = summary.pending == 0 && summary.sending == 0;
        summary
    }
}

impl Delivery {
    fn push_attempt(&mut self, record: AttemptRecord) {
        if self.attempts.len() == MAX_ATTEMPTS_KEPT {
            self.attempts.remove(0);
        }
        self.attempts.push(record);
    }

    fn view(&self, id: u64) -> DeliveryView {
        DeliveryView {
            id,
            event: self.event.clone(),
            tag: self.tag.clone(),
            status: self.status,
            attempts: self.attempt_count,
            duplicate_of: self.duplicate_of,
            sent_order: self.sent_order,
            last_answer: self.attempts.last().cloned(),
            request: self.last_request.clone(),
        }
    }
}

/// The request as the control routes show it: `Authorization` masked (a sandbox log is still
/// a log), the body as JSON when it parses.
fn show_request(prepared: &Prepared) -> Value {
    let headers: serde_json::Map<String, Value> = prepared
        .headers
        .iter()
        .map(|(name, value)| {
            let shown = if name.eq_ignore_ascii_case("authorization") {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} ***"),
                    None => "***".to_owned(),
                }
            } else {
                value.clone()
            };
            (name.clone(), Value::String(shown))
        })
        .collect();
    let body = serde_json::from_slice(&prepared.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&prepared.body).into_owned()));
    serde_json::json!({ "url": prepared.url, "headers": headers, "body": body })
}

/// Reads (and drops) at most [`MAX_ANSWER_BYTES`] of an answer, so the connection can be
/// reused without a receiver's large answer taking memory.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_ANSWER_BYTES {
            break;
        }
    }
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests;
