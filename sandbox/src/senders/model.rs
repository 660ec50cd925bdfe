//! What the senders' control routes take and answer, shared with [`crate::control::Control`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A simulator that sends webhooks; names its control routes `/__sandbox/<id>/deliveries…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderId {
    Sintegre,
    Idocs,
    Arqsign,
    Tae,
}

impl SenderId {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderId::Sintegre => "sintegre",
            SenderId::Idocs => "idocs",
            SenderId::Arqsign => "arqsign",
            SenderId::Tae => "tae",
        }
    }
}

/// Which answers count as a successful delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Success {
    /// Any 2xx (SINtegre §3.2: "Retornar StatusCode 20X").
    #[serde(rename = "2xx")]
    Any2xx,
    /// Exactly 200 (ArqSign §6.3: "only HTTP 200 counts as success").
    #[serde(rename = "200")]
    Only200,
}

impl Success {
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Success::Any2xx => (200..300).contains(&status),
            Success::Only200 => status == 200,
        }
    }
}

/// How one sender delivers: every field can be changed at run time through
/// `POST /__sandbox/<id>/deliveries/policy` (missing fields keep their value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPolicy {
    /// How long one attempt waits for the answer's status line.
    pub timeout_ms: u64,
    /// Attempts per delivery, the first included; 1 means no automatic retry (a failed delivery
    /// waits for a manual fire).
    pub max_attempts: u32,
    /// Delay before the n-th automatic retry (the last value repeats).
    pub backoff_ms: Vec<u64>,
    pub success: Success,
    /// Statuses after which no retry is made whatever `max_attempts` says.
    pub give_up_statuses: Vec<u16>,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// Queue deliveries without sending them until `run` or `fire` (makes order a function of
    /// the chaos seed alone).
    pub hold: bool,
}

/// Seeded delivery chaos: each queued delivery is duplicated with probability
/// `duplicate_percent` / 100 (the copy is queued right behind it), and with `shuffle` each next
/// delivery to send is drawn at random among the due ones instead of the oldest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryChaos {
    pub seed: u64,
    #[serde(default)]
    pub duplicate_percent: f64,
    #[serde(default)]
    pub shuffle: bool,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or an automatic retry (or held).
    Pending,
    Sending,
    Delivered,
    /// Out of attempts (or given up); a fire sends it again.
    Failed,
    /// Replaced before it was delivered (e.g. a newer publication, a webhook turned off).
    Cancelled,
}

/// One attempt: the answer's status, or why there was none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// RFC 3339, UTC.
    pub at: String,
    pub status: Option<u16>,
    /// `timeout`, `connect: …` or another transport error.
    pub error: Option<String>,
    pub elapsed_ms: u64,
    /// Whether the policy counted it as delivered.
    pub success: bool,
}

/// A delivery as the control routes show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: u64,
    /// The sender's name for what happened (`publication`, `ProcessoConcluido`, …).
    pub event: String,
    /// Sender-specific identity of the delivery (integration, product, document…).
    pub tag: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The delivery this one duplicates (chaos).
    pub duplicate_of: Option<u64>,
    /// Position in sending order of the first attempt (1-based).
    pub sent_order: Option<u64>,
    /// The last attempt's answer.
    pub last_answer: Option<AttemptRecord>,
    /// The last request sent (or the one to send): URL, headers with `Authorization` masked,
    /// body as JSON when it is JSON.
    pub request: Option<Value>,
}

/// Counts by status, as `settle` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverySummary {
    pub settled: bool,
    pub pending: u64,
    pub held: u64,
    pub sending: u64,
    pub delivered: u64,
    pub failed: u64,
    pub cancelled: u64,
}
