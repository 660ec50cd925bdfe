//! The data of the control API: what a test arms ([`Fault`]) and what it reads back
//! ([`RecordedRequest`]). Nothing else of the crate is imported here, so that the control
//! routes, the server, the fault store and the request log can all share these types without
//! importing each other.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A misbehaviour armed on provider routes. JSON form:
/// `{"method"?: "POST", "path": "/tae/signintegration/v2/Publicacoes", "times"?: 1,
///   "status"?: 503, "retry_after"?: "2", "body"?: {…}, "delay_ms"?: 1500,
///   "reset"?: "before" | "after"}`.
///
/// `path` is compared case-insensitively with the path the client sent, `*` matching any text
/// inside one segment. The fault fires on the next `times` (default 1) matching requests:
/// `delay_ms` sleeps first; `status` answers that status without running the handler (with
/// `Retry-After` if given, and `body` or else an error body shaped like the provider's);
/// `reset: "before"` drops the connection without running the handler; `reset: "after"` runs
/// the handler, so its writes commit, then drops the connection without answering.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,
}

/// When a `reset` fault drops the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reset {
    /// Before the handler runs: nothing happened on the provider side.
    Before,
    /// After the handler ran: the write took effect but the client never hears about it.
    After,
}

impl Fault {
    /// Answer `status` instead of handling the request.
    pub fn status(path: impl Into<String>, status: u16) -> Fault {
        Fault { path: path.into(), status: Some(status), ..Fault::default() }
    }

    /// Drop the connection before or after the handler runs.
    pub fn reset(path: impl Into<String>, when: Reset) -> Fault {
        Fault { path: path.into(), reset: Some(when), ..Fault::default() }
    }

    /// Only delay the request by `millis`, then handle it normally.
    pub fn delay(path: impl Into<String>, millis: u64) -> Fault {
        Fault { path: path.into(), delay_ms: Some(millis), ..Fault::default() }
    }

    /// Only requests with this method (any casing).
    pub fn on_method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    /// Fire on this many matching requests (default 1).
    pub fn times(mut self, times: u32) -> Fault {
        self.times = Some(times);
        self
    }

    /// `Retry-After` header value sent with a `status` fault.
    pub fn retry_after(mut self, value: impl Into<String>) -> Fault {
        self.retry_after = Some(value.into());
        self
    }

    /// Body sent with a `status` fault instead of the provider-shaped error.
    pub fn body(mut self, body: Value) -> Fault {
        self.body = Some(body);
        self
    }

    /// Also sleep `millis` before acting.
    pub fn delayed(mut self, millis: u64) -> Fault {
        self.delay_ms = Some(millis);
        self
    }
}

/// One provider request as the sandbox saw it. JSON form:
/// `{"method", "path", "query", "status", "body", "fault"}`.
///
/// `path` is as the client sent it; `query` is the raw query string or null; `status` is the
/// HTTP status answered, null when no answer was sent (a reset, or still in progress); `body`
/// is the JSON body with secrets (password, token…) replaced by `"***"` and strings longer than
/// 512 bytes cut to their start plus `…(N bytes)` (base64 files), for multipart a
/// summary `{"multipart": [{"name", "filename"?, "content_type"?, "size", "value"?}]}`, for
/// anything else `{"content_type", "size"}`, null when empty; `fault` is the id of the fault
/// that fired on this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: Option<u16>,
    pub body: Value,
    #[serde(default)]
    pub fault: Option<u64>,
}
