//! Armed faults: which provider request misbehaves next, and how.
//!
//! A fault is matched on the request as the client sent it (method and path, path compared
//! case-insensitively, `*` standing for any text inside one segment, and the JSON-RPC method
//! of the body when the fault names one) and fires on the next
//! `times` matching requests, in the order faults were added. What it does is a [`Plan`] the
//! server follows; chaos (see `chaos`) makes its plans from faults too.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::model::{DEFAULT_TEXT_TYPE, Fault, When, is_http_status};

/// One fault firing on one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Firing {
    pub id: u64,
    pub plan: Plan,
}

/// What the server does for a faulted request, in this order: sleep `delay_before`; end the
/// request `instead` of running the handler; or else run the handler (its writes commit),
/// sleep `delay_after`, and end the request `then` instead of sending the handler's reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub delay_before: Option<Duration>,
    pub instead: Option<Ending>,
    pub delay_after: Option<Duration>,
    pub then: Option<Ending>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ending {
    Answer(Answer),
    /// Drop the connection without answering.
    Reset,
}

/// A canned answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: AnswerBody,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnswerBody {
    /// The error body the provider itself would send with this status.
    ProviderError,
    Json(Value),
    Text {
        text: String,
        content_type: HeaderValue,
    },
}

struct Armed {
    id: u64,
    fault: Fault,
    remaining: u32,
}

#[derive(Default)]
pub(crate) struct FaultStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    armed: Vec<Armed>,
}

impl FaultStore {
    /// Validates and arms a fault; returns its id.
    pub fn add(&self, fault: Fault) -> Result<u64, String> {
        let remaining = validate(&fault)?;
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.armed.push(Armed { id, fault, remaining });
        Ok(id)
    }

    /// Consumes one shot of the first armed fault matching this request, if any.
    pub fn take(&self, method: &str, path: &str, rpc_method: Option<&str>) -> Option<Firing> {
        let mut inner = self.lock();
        let index =
            inner.armed.iter().position(|armed| matches(&armed.fault, method, path, rpc_method))?;
        let armed = &mut inner.armed[index];
        armed.remaining -= 1;
        let firing = Firing { id: armed.id, plan: plan(&armed.fault) };
        if armed.remaining == 0 {
            inner.armed.remove(index);
        }
        Some(firing)
    }

    /// Faults still armed, with the shots they have left.
    pub fn list(&self) -> Vec<Value> {
        self.lock()
            .armed
            .iter()
            .map(|armed| {
                let mut fault = serde_json::to_value(&armed.fault).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut fault {
                    map.insert("id".into(), json!(armed.id));
                    map.insert("remaining".into(), json!(armed.remaining));
                }
                fault
            })
            .collect()
    }

    pub fn clear(&self) {
        self.lock().armed.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave this list half-updated, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Checks a fault makes sense; returns how many requests it applies to.
pub(crate) fn validate(fault: &Fault) -> Result<u32, String> {
    if !fault.path.starts_with('/') {
        return Err("\"path\" must start with '/'".into());
    }
    let times = fault.times.unwrap_or(1);
    if times == 0 {
        return Err("\"times\" must be at least 1".into());
    }
    if let Some(status) = fault.status {
        if !is_http_status(status) {
            return Err(format!("\"status\" {status} is not an HTTP status"));
        }
        if fault.reset.is_some() {
            return Err("a fault either answers a \"status\" or \"reset\"s, not both".into());
        }
    }
    if fault.rpc_method.as_deref().is_some_and(str::is_empty) {
        return Err("\"rpc_method\" must not be empty".into());
    }
    if fault.status.is_none() && fault.reset.is_none() && fault.delay_ms.is_none() {
        return Err("a fault needs at least one of \"status\", \"reset\", \"delay_ms\"".into());
    }
    let answer_parts = [
        ("retry_after", fault.retry_after.is_some()),
        ("body", fault.body.is_some()),
        ("text", fault.text.is_some()),
    ];
    if let Some((field, _)) =
        answer_parts.iter().find(|(_, given)| *given && fault.status.is_none())
    {
        return Err(format!("\"{field}\" only applies together with \"status\""));
    }
    if fault.body.is_some() && fault.text.is_some() {
        return Err("a fault answers either a JSON \"body\" or a \"text\", not both".into());
    }
    if let Some(content_type) = &fault.content_type {
        if fault.text.is_none() {
            return Err("\"content_type\" only applies together with \"text\"".into());
        }
        if HeaderValue::from_str(content_type).is_err() {
            return Err(format!("\"content_type\" {content_type:?} is not a header value"));
        }
    }
    if fault.when == Some(When::After) && fault.reset == Some(When::Before) {
        return Err(
            "\"reset\": \"before\" cannot come after the handler ran (\"when\": \"after\")".into(),
        );
    }
    Ok(times)
}

/// What a valid fault does.
pub(crate) fn plan(fault: &Fault) -> Plan {
    let delay = fault.delay_ms.map(Duration::from_millis);
    let answer = fault.status.map(|status| {
        let body = match (&fault.body, &fault.text) {
            (Some(body), _) => AnswerBody::Json(body.clone()),
            (None, Some(text)) => AnswerBody::Text {
                text: text.clone(),
                content_type: fault
                    .content_type
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                    .unwrap_or(HeaderValue::from_static(DEFAULT_TEXT_TYPE)),
            },
            (None, None) => AnswerBody::ProviderError,
        };
        Ending::Answer(Answer {
            // `validate` accepted only valid codes.
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after: fault.retry_after.clone(),
            body,
        })
    });
    let mut plan = match fault.when.unwrap_or(When::Before) {
        When::Before => Plan { delay_before: delay, instead: answer, ..Plan::default() },
        When::After => Plan { delay_after: delay, then: answer, ..Plan::default() },
    };
    match fault.reset {
        Some(When::Before) => plan.instead = Some(Ending::Reset),
        Some(When::After) => plan.then = Some(Ending::Reset),
        None => {}
    }
    plan
}

fn matches(fault: &Fault, method: &str, path: &str, rpc_method: Option<&str>) -> bool {
    fault.method.as_deref().is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
        && path_matches(&fault.path, path)
        && fault.rpc_method.as_deref().is_none_or(|wanted| rpc_method == Some(wanted))
}

/// Whether `path` matches `pattern` segment by segment.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    pattern.len() == actual.len()
        && pattern.iter().zip(&actual).all(|(p, a)| segment_matches(p.as_bytes(), a.as_bytes()))
}

/// Glob match of one path segment, ASCII case-insensitive, where `*` matches any run of bytes.
fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| segment_matches(rest, &text[skip..])),
        Some((p, rest)) => text.split_first().is_some_and(|(t, text_rest)| {
            p.eq_ignore_ascii_case(t) && segment_matches(rest, text_rest)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: &str) -> Fault {
        Fault::status(path, 503)
    }

    #[test]
    fn paths_match_case_insensitively_with_segment_wildcards() {
        let f = fault("/tae/documents/v2/publicacoes/*");
        assert!(matches(&f, "GET", "/TAE/Documents/v2/Publicacoes/123", None));
        assert!(!matches(&f, "GET", "/tae/documents/v2/publicacoes/123/download", None));
        assert!(!matches(&f, "GET", "/tae/documents/v2/publicacoes", None));
        let f = fault("/tae/*/v1/envelopes/up*");
        assert!(matches(&f, "POST", "/tae/documents/v1/envelopes/upload", None));
        assert!(!matches(&f, "POST", "/tae/documents/v1/envelopes/download", None));
    }

    #[test]
    fn method_filter_applies() {
        let f = fault("/x").on_method("post");
        assert!(matches(&f, "POST", "/x", None));
        assert!(!matches(&f, "GET", "/x", None));
    }

    #[test]
    fn rpc_method_filter_applies_to_the_call_in_the_body() {
        let f = fault("/sbis/service/").on_rpc_method("СБИС.ВыполнитьДействие");
        assert!(matches(&f, "POST", "/sbis/service/", Some("СБИС.ВыполнитьДействие")));
        assert!(!matches(&f, "POST", "/sbis/service/", Some("СБИС.ПрочитатьДокумент")));
        assert!(!matches(&f, "POST", "/sbis/service/", None));
        assert!(matches(&fault("/sbis/service/"), "POST", "/sbis/service/", Some("x")));
        assert!(validate(&fault("/a").on_rpc_method("")).is_err());
    }

    #[test]
    fn fires_times_then_disarms_in_order() {
        let store = FaultStore::default();
        let first = store.add(fault("/a").times(2)).unwrap();
        let second = store.add(Fault::reset("/a", When::After)).unwrap();
        assert_eq!(store.take("GET", "/a", None).map(|f| f.id), Some(first));
        assert_eq!(store.take("GET", "/a", None).map(|f| f.id), Some(first));
        let third = store.take("GET", "/a", None).unwrap();
        assert_eq!(third.id, second);
        assert_eq!(third.plan, Plan { then: Some(Ending::Reset), ..Plan::default() });
        assert_eq!(store.take("GET", "/a", None), None);
        assert!(store.list().is_empty());
    }

    #[test]
    fn delay_only_fault_handles_normally() {
        let store = FaultStore::default();
        store.add(Fault::delay("/a", 1500)).unwrap();
        let firing = store.take("GET", "/a", None).unwrap();
        let delay = Some(Duration::from_millis(1500));
        assert_eq!(firing.plan, Plan { delay_before: delay, ..Plan::default() });
    }

    #[test]
    fn invalid_faults_are_refused() {
        let store = FaultStore::default();
        assert!(store.add(fault("no-slash")).is_err());
        assert!(store.add(fault("/a").times(0)).is_err());
        assert!(store.add(Fault::status("/a", 1000)).is_err());
        let both = Fault { reset: Some(When::Before), ..fault("/a") };
        assert!(store.add(both).is_err());
        let nothing = Fault { path: "/a".into(), ..Fault::default() };
        assert!(store.add(nothing).is_err());
    }

    #[test]
    fn after_commit_faults_act_once_the_handler_ran() {
        let answered = plan(&Fault::status("/a", 502).after_commit());
        assert_eq!(answered.instead, None);
        let Some(Ending::Answer(answer)) = answered.then else { panic!("{answered:?}") };
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::BAD_GATEWAY, AnswerBody::ProviderError)
        );

        let millis = |ms| Some(Duration::from_millis(ms));
        let delayed = plan(&Fault::delay("/a", 20).after_commit());
        assert_eq!(delayed, Plan { delay_after: millis(20), ..Plan::default() });
        let dropped = plan(&Fault::reset("/a", When::After).delayed(5).after_commit());
        assert_eq!(
            dropped,
            Plan { delay_after: millis(5), then: Some(Ending::Reset), ..Plan::default() }
        );
        let old = plan(&Fault::reset("/a", When::After).delayed(5));
        assert_eq!(
            old,
            Plan { delay_before: millis(5), then: Some(Ending::Reset), ..Plan::default() }
        );

        let html = plan(&Fault::status("/a", 200).text("<p>", "text/html"));
        let Some(Ending::Answer(answer)) = html.instead else { panic!("{html:?}") };
        let content_type = HeaderValue::from_static("text/html");
        assert_eq!(answer.body, AnswerBody::Text { text: "<p>".into(), content_type });
        let plain = plan(&Fault { text: Some("x".into()), ..Fault::status("/a", 500) });
        let Some(Ending::Answer(answer)) = plain.instead else { panic!("{plain:?}") };
        let content_type = HeaderValue::from_static(DEFAULT_TEXT_TYPE);
        assert_eq!(answer.body, AnswerBody::Text { text: "x".into(), content_type });
    }

    #[test]
    fn contradictory_answers_are_refused() {
        let refused = |fault: Fault| validate(&fault).unwrap_err();
        let both = Fault::status("/a", 500).body(json!({})).text("x", "text/plain");
        assert!(refused(both).contains("not both"));
        let stray_type =
            Fault { content_type: Some("text/html".into()), ..Fault::status("/a", 500) };
        assert!(refused(stray_type).contains("content_type"));
        assert!(refused(Fault::delay("/a", 1).text("x", "text/plain")).contains("\"text\""));
        assert!(refused(Fault::status("/a", 500).text("x", "a\nb")).contains("header value"));
        let backwards = Fault::reset("/a", When::Before).after_commit();
        assert!(refused(backwards).contains("cannot come after"));
    }
}
