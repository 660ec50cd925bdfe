//! Armed faults: which provider request misbehaves next, and how.
//!
//! A fault is matched on the request as the client sent it (method and path, path compared
//! case-insensitively, `*` standing for any text inside one segment) and fires on the next
//! `times` matching requests, in the order faults were added.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::{Fault, Reset};

/// What the server must do for one faulted request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Firing {
    pub id: u64,
    pub delay: Option<Duration>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Only the delay: the request is then handled normally.
    Handle,
    /// Answer this instead of running the handler.
    Respond { status: StatusCode, retry_after: Option<String>, body: Option<Value> },
    /// Drop the connection without running the handler.
    ResetBefore,
    /// Run the handler (its writes commit), then drop the connection without answering.
    ResetAfter,
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
    pub fn take(&self, method: &str, path: &str) -> Option<Firing> {
        let mut inner = self.lock();
        let index = inner.armed.iter().position(|armed| matches(&armed.fault, method, path))?;
        let armed = &mut inner.armed[index];
        armed.remaining -= 1;
        let firing = firing(armed.id, &armed.fault);
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
fn validate(fault: &Fault) -> Result<u32, String> {
    if !fault.path.starts_with('/') {
        return Err("\"path\" must start with '/'".into());
    }
    let times = fault.times.unwrap_or(1);
    if times == 0 {
        return Err("\"times\" must be at least 1".into());
    }
    if let Some(status) = fault.status {
        if StatusCode::from_u16(status).is_err() || status < 100 {
            return Err(format!("\"status\" {status} is not an HTTP status"));
        }
        if fault.reset.is_some() {
            return Err("a fault either answers a \"status\" or \"reset\"s, not both".into());
        }
    }
    if fault.status.is_none() && fault.reset.is_none() && fault.delay_ms.is_none() {
        return Err("a fault needs at least one of \"status\", \"reset\", \"delay_ms\"".into());
    }
    if fault.status.is_none() && (fault.retry_after.is_some() || fault.body.is_some()) {
        return Err("\"retry_after\" and \"body\" only apply together with \"status\"".into());
    }
    Ok(times)
}

fn firing(id: u64, fault: &Fault) -> Firing {
    let action = match (fault.status, fault.reset) {
        (Some(status), _) => Action::Respond {
            // `validate` accepted only valid codes.
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after: fault.retry_after.clone(),
            body: fault.body.clone(),
        },
        (None, Some(Reset::Before)) => Action::ResetBefore,
        (None, Some(Reset::After)) => Action::ResetAfter,
        (None, None) => Action::Handle,
    };
    Firing { id, delay: fault.delay_ms.map(Duration::from_millis), action }
}

fn matches(fault: &Fault, method: &str, path: &str) -> bool {
    if fault.method.as_deref().is_some_and(|wanted| !wanted.eq_ignore_ascii_case(method)) {
        return false;
    }
    let pattern: Vec<&str> = fault.path.split('/').collect();
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
        assert!(matches(&f, "GET", "/TAE/Documents/v2/Publicacoes/123"));
        assert!(!matches(&f, "GET", "/tae/documents/v2/publicacoes/123/download"));
        assert!(!matches(&f, "GET", "/tae/documents/v2/publicacoes"));
        let f = fault("/tae/*/v1/envelopes/up*");
        assert!(matches(&f, "POST", "/tae/documents/v1/envelopes/upload"));
        assert!(!matches(&f, "POST", "/tae/documents/v1/envelopes/download"));
    }

    #[test]
    fn method_filter_applies() {
        let f = fault("/x").on_method("post");
        assert!(matches(&f, "POST", "/x"));
        assert!(!matches(&f, "GET", "/x"));
    }

    #[test]
    fn fires_times_then_disarms_in_order() {
        let store = FaultStore::default();
        let first = store.add(fault("/a").times(2)).unwrap();
        let second = store.add(Fault::reset("/a", Reset::After)).unwrap();
        assert_eq!(store.take("GET", "/a").map(|f| f.id), Some(first));
        assert_eq!(store.take("GET", "/a").map(|f| f.id), Some(first));
        let third = store.take("GET", "/a").unwrap();
        assert_eq!((third.id, third.action), (second, Action::ResetAfter));
        assert_eq!(store.take("GET", "/a"), None);
        assert!(store.list().is_empty());
    }

    #[test]
    fn delay_only_fault_handles_normally() {
        let store = FaultStore::default();
        store.add(Fault::delay("/a", 1500)).unwrap();
        let firing = store.take("GET", "/a").unwrap();
        assert_eq!(firing.delay, Some(Duration::from_millis(1500)));
        assert_eq!(firing.action, Action::Handle);
    }

    #[test]
    fn invalid_faults_are_refused() {
        let store = FaultStore::default();
        assert!(store.add(fault("no-slash")).is_err());
        assert!(store.add(fault("/a").times(0)).is_err());
        assert!(store.add(Fault::status("/a", 1000)).is_err());
        let both = Fault { reset: Some(Reset::Before), ..fault("/a") };
        assert!(store.add(both).is_err());
        let nothing = Fault { path: "/a".into(), ..Fault::default() };
        assert!(store.add(nothing).is_err());
    }
}
