//! The data of the control API: what a test arms ([`Fault`], [`Chaos`]) and what it reads
//! back ([`RecordedRequest`], [`ChaosReport`]). Nothing else of the crate is imported here, so
//! that the control routes, the server, the fault store, chaos and the request log can all
//! share these types without importing each other.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A misbehaviour armed on provider routes. JSON form:
/// `{"method"?: "POST", "path": "/tae/signintegration/v2/Publicacoes", "times"?: 1,
///   "when"?: "before" | "after", "status"?: 503, "retry_after"?: "2", "body"?: {…},
///   "text"?: "…", "content_type"?: "text/html", "delay_ms"?: 1500,
///   "reset"?: "before" | "after"}`.
///
/// `path` is compared case-insensitively with the path the client sent, `*` matching any text
/// inside one segment; `method`, when given, scopes the fault to that method (any casing), so a
/// fault on `POST` of a path leaves `GET` of the same path alone. `rpc_method`, when given,
/// scopes it to JSON-RPC calls of that method (exactly, e.g. `"СБИС.ВыполнитьДействие"`), for
/// providers where every call shares one path (SBIS). The fault fires on the next `times`
/// (default 1) matching requests.
///
/// `when` (default `"before"`) says when `delay_ms` and `status` act:
/// - `"before"`: `delay_ms` sleeps first; `status` is answered *instead of* running the
///   handler, so nothing happens on the provider side.
/// - `"after"`: the handler runs first, so its writes commit; then `delay_ms` sleeps (a client
///   timeout fires after the commit), then `status` is answered *instead of the handler's
///   reply*, or the handler's reply is sent when there is no `status`.
///
/// A `status` is sent with `Retry-After: retry_after` if given, and with `body` (JSON), or
/// `text` (sent verbatim as `content_type`, default `text/plain; charset=utf-8`: an HTML error
/// page, a cut JSON document), or else an error body shaped like the provider's.
///
/// `reset` drops the connection without any answer: `"before"` without running the handler,
/// `"after"` once the handler ran (its writes commit; with `when: "after"`, also after the
/// delay). A fault either answers a `status` or `reset`s.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,
}

/// When a fault acts, relative to the handler of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Before the handler runs: nothing happened on the provider side.
    Before,
    /// After the handler ran: the write took effect, whatever the client hears.
    After,
}

/// When a `reset` fault drops the connection (the name the `reset` field had first).
pub type Reset = When;

/// `Content-Type` of a `text` body when the fault does not name one.
pub(crate) const DEFAULT_TEXT_TYPE: &str = "text/plain; charset=utf-8";

impl Fault {
    /// Answer `status` instead of handling the request (or, with [`Fault::after_commit`],
    /// instead of the handler's reply).
    pub fn status(path: impl Into<String>, status: u16) -> Fault {
        Fault { path: path.into(), status: Some(status), ..Fault::default() }
    }

    /// Drop the connection before or after the handler runs.
    pub fn reset(path: impl Into<String>, when: Reset) -> Fault {
        Fault { path: path.into(), reset: Some(when), ..Fault::default() }
    }

    /// Only delay the request by `millis`, then handle it normally (or, with
    /// [`Fault::after_commit`], handle it, then delay the reply).
    pub fn delay(path: impl Into<String>, millis: u64) -> Fault {
        Fault { path: path.into(), delay_ms: Some(millis), ..Fault::default() }
    }

    /// `status` with an HTML error page, as a gateway in front of the provider answers.
    pub fn html(path: impl Into<String>, status: u16) -> Fault {
        Fault::status(path, status).text(html_page(status), "text/html; charset=utf-8")
    }

    /// HTTP 200 whose body is a JSON document cut short: the client cannot read it.
    pub fn garbage(path: impl Into<String>) -> Fault {
        Fault::status(path, 200).text(GARBAGE, "application/json; charset=utf-8")
    }

    /// Only requests with this method (any casing).
    pub fn on_method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    /// Only JSON-RPC calls of this method (compared exactly: SBIS method names are Cyrillic).
    pub fn on_rpc_method(mut self, method: impl Into<String>) -> Fault {
        self.rpc_method = Some(method.into());
        self
    }

    /// Fire on this many matching requests (default 1).
    pub fn times(mut self, times: u32) -> Fault {
        self.times = Some(times);
        self
    }

    /// Act once the handler ran and its writes committed (`"when": "after"`): the status,
    /// body or delay replace or hold back the handler's reply.
    pub fn after_commit(mut self) -> Fault {
        self.when = Some(When::After);
        self
    }

    /// `Retry-After` header value sent with a `status` fault.
    pub fn retry_after(mut self, value: impl Into<String>) -> Fault {
        self.retry_after = Some(value.into());
        self
    }

    /// JSON body sent with a `status` fault instead of the provider-shaped error.
    pub fn body(mut self, body: Value) -> Fault {
        self.body = Some(body);
        self
    }

    /// Body sent verbatim as `content_type` with a `status` fault.
    pub fn text(mut self, text: impl Into<String>, content_type: impl Into<String>) -> Fault {
        self.text = Some(text.into());
        self.content_type = Some(content_type.into());
        self
    }

    /// Also sleep `millis` (before the handler, or after it with [`Fault::after_commit`]).
    pub fn delayed(mut self, millis: u64) -> Fault {
        self.delay_ms = Some(millis);
        self
    }
}

/// What `garbage` answers: JSON that stops in the middle of a string.
const GARBAGE: &str = "{\"success\": true, \"data\": {\"id\": \"the reply was cut he";

/// A gateway's error page for `status`, in the shape nginx sends.
fn html_page(status: u16) -> String {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    let title = match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    };
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>\
         </center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// Seeded random faults for soak tests. JSON form:
/// `{"seed": 42, "rate": 0.1, "kinds": ["status_after:502", "reset_after", …],
///   "methods"?: ["POST", "PATCH", "PUT", "DELETE"], "paths"?: ["/tae/*/v1/envelopes/upload"]}`.
///
/// Chaos considers the provider requests whose method is in `methods` (default: the writes
/// POST, PATCH, PUT, DELETE) and, when `paths` is given, whose path matches one of its patterns
/// (as a fault's `path`), and on which no armed [`Fault`] fired. For each of them, in arrival
/// order, it draws from a splitmix64 stream seeded with `seed`: with probability `rate` one of
/// `kinds` (each equally likely) fires. The same seed and the same request sequence therefore
/// give the same firings, on any machine and any version of the sandbox. Control routes
/// (`/__sandbox/…`) are never considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    pub seed: u64,
    pub rate: f64,
    pub kinds: Vec<ChaosKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

impl Chaos {
    /// Chaos on every write route of every provider.
    pub fn new(seed: u64, rate: f64, kinds: impl IntoIterator<Item = ChaosKind>) -> Chaos {
        Chaos { seed, rate, kinds: kinds.into_iter().collect(), methods: None, paths: None }
    }

    /// Only requests with one of these methods (any casing) instead of the writes.
    pub fn methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Chaos {
        self.methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Only requests whose path matches one of these patterns.
    pub fn paths<S: Into<String>>(mut self, paths: impl IntoIterator<Item = S>) -> Chaos {
        self.paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }
}

/// One misbehaviour chaos can pick; each is the [`Fault`] of the same name fired once. JSON
/// (and [`FromStr`] / [`fmt::Display`]) form, `<when>` being `before` or `after`:
///
/// | Form | Fault |
/// |---|---|
/// | `status_<when>:<status>[:<retry-after secs>]` | `status`, with the provider-shaped error body |
/// | `html_<when>:<status>` | [`Fault::html`] |
/// | `garbage_<when>` | [`Fault::garbage`] |
/// | `reset_<when>` | [`Fault::reset`] |
/// | `delay_<when>:<millis>` | [`Fault::delay`] |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ChaosKind {
    Status { when: When, status: u16, retry_after_secs: Option<u32> },
    Html { when: When, status: u16 },
    Garbage { when: When },
    Reset { when: When },
    Delay { when: When, millis: u64 },
}

impl ChaosKind {
    pub fn when(self) -> When {
        match self {
            ChaosKind::Status { when, .. }
            | ChaosKind::Html { when, .. }
            | ChaosKind::Garbage { when }
            | ChaosKind::Reset { when }
            | ChaosKind::Delay { when, .. } => when,
        }
    }

    /// The fault this kind fires, on `path`, once.
    pub fn fault(self, path: impl Into<String>) -> Fault {
        let fault = match self {
            ChaosKind::Status { status, retry_after_secs, .. } => {
                let fault = Fault::status(path, status);
                match retry_after_secs {
                    Some(secs) => fault.retry_after(secs.to_string()),
                    None => fault,
                }
            }
            ChaosKind::Html { status, .. } => Fault::html(path, status),
            ChaosKind::Garbage { .. } => Fault::garbage(path),
            ChaosKind::Reset { when } => return Fault::reset(path, when),
            ChaosKind::Delay { millis, .. } => Fault::delay(path, millis),
        };
        Fault { when: Some(self.when()), ..fault }
    }
}

const CHAOS_FORMS: &str = "status_<when>:<status>[:<retry-after secs>], html_<when>:<status>, \
     garbage_<when>, reset_<when>, delay_<when>:<millis> (<when> is before or after)";

impl FromStr for ChaosKind {
    type Err = String;

    fn from_str(text: &str) -> Result<ChaosKind, String> {
        let fail = |why: &str| format!("chaos kind {text:?}: {why}; expected one of {CHAOS_FORMS}");
        let mut parts = text.split(':');
        let head = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        let (form, when) = match head.rsplit_once('_') {
            Some((form, "before")) => (form, When::Before),
            Some((form, "after")) => (form, When::After),
            _ => return Err(fail("it must end in _before or _after")),
        };
        let status = |arg: Option<&&str>| -> Result<u16, String> {
            let arg = arg.ok_or_else(|| fail("the status is missing"))?;
            arg.parse().ok().filter(|s| is_http_status(*s)).ok_or_else(|| fail("bad status"))
        };
        let kind = match (form, args.len()) {
            ("status", 1 | 2) => ChaosKind::Status {
                when,
                status: status(args.first())?,
                retry_after_secs: match args.get(1) {
                    Some(secs) => Some(secs.parse().map_err(|_| fail("bad Retry-After"))?),
                    None => None,
                },
            },
            ("html", 1) => ChaosKind::Html { when, status: status(args.first())? },
            ("garbage", 0) => ChaosKind::Garbage { when },
            ("reset", 0) => ChaosKind::Reset { when },
            ("delay", 1) => ChaosKind::Delay {
                when,
                millis: args[0].parse().map_err(|_| fail("bad milliseconds"))?,
            },
            _ => return Err(fail("unknown form or wrong number of arguments")),
        };
        Ok(kind)
    }
}

impl fmt::Display for ChaosKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when() {
            When::Before => "before",
            When::After => "after",
        };
        match self {
            ChaosKind::Status { status, retry_after_secs: Some(secs), .. } => {
                write!(f, "status_{when}:{status}:{secs}")
            }
            ChaosKind::Status { status, retry_after_secs: None, .. } => {
                write!(f, "status_{when}:{status}")
            }
            ChaosKind::Html { status, .. } => write!(f, "html_{when}:{status}"),
            ChaosKind::Garbage { .. } => write!(f, "garbage_{when}"),
            ChaosKind::Reset { .. } => write!(f, "reset_{when}"),
            ChaosKind::Delay { millis, .. } => write!(f, "delay_{when}:{millis}"),
        }
    }
}

impl TryFrom<String> for ChaosKind {
    type Error = String;

    fn try_from(text: String) -> Result<ChaosKind, String> {
        text.parse()
    }
}

impl From<ChaosKind> for String {
    fn from(kind: ChaosKind) -> String {
        kind.to_string()
    }
}

/// A status code HTTP can carry: three digits.
pub(crate) fn is_http_status(status: u16) -> bool {
    StatusCode::from_u16(status).is_ok()
}

/// What `GET /__sandbox/chaos` answers: the chaos in force (null when none), how many requests
/// it considered, and how many times each kind fired, by its string form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChaosReport {
    pub chaos: Option<Chaos>,
    pub considered: u64,
    pub fired: BTreeMap<String, u64>,
}

/// One provider request as the sandbox saw it. JSON form:
/// `{"method", "path", "query", "status", "body", "fault", "chaos"}`.
///
/// `path` is as the client sent it; `query` is the raw query string or null; `status` is the
/// HTTP status answered (for a request whose handler ran, the handler's status until a fault
/// answered something else; it stays the handler's when a fault then dropped the connection or
/// the client left during a delay), null while nothing was answered (still in progress, or a
/// reset before the handler); `body` is the JSON body with secrets (password, token…) replaced
/// by `"***"` and strings longer than 512 bytes cut to their start plus `…(N bytes)` (base64
/// files), for multipart a summary `{"multipart": [{"name", "filename"?, "content_type"?,
/// "size", "value"?}]}`, for anything else `{"content_type", "size"}`, null when empty;
/// `fault` is the id of the fault that fired on this request; `chaos` the kind chaos fired on
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: Option<u16>,
    pub body: Value,
    /// The JSON-RPC method of the call, for JSON-RPC providers (SBIS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_method: Option<String>,
    #[serde(default)]
    pub fault: Option<u64>,
    #[serde(default)]
    pub chaos: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_kinds_read_and_print_their_string_form() {
        for text in [
            "status_before:503",
            "status_after:429:1",
            "html_after:502",
            "garbage_after",
            "garbage_before",
            "reset_after",
            "reset_before",
            "delay_after:1500",
            "delay_before:0",
        ] {
            let kind: ChaosKind = text.parse().unwrap();
            assert_eq!(kind.to_string(), text);
        }
        assert_eq!(
            "status_after:429:1".parse::<ChaosKind>(),
            Ok(ChaosKind::Status { when: When::After, status: 429, retry_after_secs: Some(1) })
        );
        for bad in [
            "",
            "status",
            "status_after",
            "status_after:99",
            "status_after:1000",
            "status_after:429:soon",
            "status_during:500",
            "reset_after:1",
            "delay_after",
            "delay_after:-1",
            "teapot_after:418",
        ] {
            let error = bad.parse::<ChaosKind>().unwrap_err();
            assert!(error.contains("expected one of"), "{bad}: {error}");
        }
    }

    #[test]
    fn chaos_kinds_are_the_faults_of_the_same_name() {
        let kind = ChaosKind::Status { when: When::After, status: 429, retry_after_secs: Some(1) };
        assert_eq!(kind.fault("/p"), Fault::status("/p", 429).retry_after("1").after_commit());
        let html = ChaosKind::Html { when: When::Before, status: 502 }.fault("/p");
        assert_eq!(html.when, Some(When::Before));
        assert!(html.text.unwrap().contains("<title>502 Bad Gateway</title>"));
        assert_eq!(
            ChaosKind::Reset { when: When::After }.fault("/p"),
            Fault::reset("/p", When::After)
        );
        let garbage = ChaosKind::Garbage { when: When::After }.fault("/p");
        assert_eq!(garbage.status, Some(200));
        assert!(serde_json::from_str::<Value>(garbage.text.as_deref().unwrap()).is_err());
    }

    #[test]
    fn old_fault_json_still_reads() {
        let fault: Fault =
            serde_json::from_value(serde_json::json!({"path": "/a", "reset": "after"})).unwrap();
        assert_eq!(fault, Fault::reset("/a", Reset::After));
        assert_eq!(
            serde_json::to_value(&fault).unwrap(),
            serde_json::json!({"path": "/a", "reset": "after"})
        );
    }
}
