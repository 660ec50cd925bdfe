//! What every host-facing shell (the C ABI, the Python package, the CLI) needs from core, in one
//! place so that they agree: reading envelopes and handles from text, the rows of a batch
//! refresh, and the JSON of the capability records. The shells only convert types.

use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::intent::{Reconciled, Resolution};
use crate::journal::{IntentRecord, Period, StoredEvent, WindowUsage};
use crate::model::{Envelope, Handle, Status};
use crate::providers;

/// Reads `text` as JSON of `T`. Malformed JSON is a validation error naming `what` with the
/// line and column; JSON of the wrong shape names the field that does not fit
/// (`parties[1].email: invalid type: integer`).
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(what, &path, e.into_inner())
    })?;
    de.end().map_err(|e| json_error(what, ".", e))?;
    Ok(value)
}

fn json_error(what: &str, path: &str, e: serde_json::Error) -> Error {
    // serde's message ends with the position; for a field, the field is what the host needs.
    let message = strip_position(&e.to_string());
    if e.is_data() {
        let field = if path == "." { what.to_string() } else { format!("{what}.{path}") };
        Error::validation(field, message)
    } else {
        Error::validation(
            what,
            format!("not valid JSON at line {} column {}: {message}", e.line(), e.column()),
        )
    }
}

/// serde_json ends its messages with " at line L column C".
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// An envelope from its JSON: unknown fields and wrong types are validation errors naming the
/// field (`envelope.parties[0].role`), malformed JSON names line and column.
pub fn envelope(text: &str) -> Result<Envelope> {
    from_json::<Envelope>("envelope", text).map_err(rename_root)
}

/// Fields of the envelope are named as the host wrote them (`parties[0].email`), not under a
/// prefix; only a whole-document problem is about `envelope`.
fn rename_root(e: Error) -> Error {
    match e.field() {
        Some(field) if field.starts_with("envelope.") => {
            let field = field["envelope.".len()..].to_string();
            let message = e.message().split_once(": ").map_or("", |(_, m)| m).to_string();
            Error::validation(field, message)
        }
        _ => e,
    }
}

/// A handle given as its JSON, as `provider:account:id`, or as a bare id of the account
/// `provider`/`account` (what ERP scripts store).
pub fn handle(text: &str, provider: &str, account: &str) -> Result<Handle> {
    let text = text.trim();
    if text.starts_with('{') {
        return from_json("handle", text);
    }
    if !text.is_empty() && !text.contains(':') {
        return Ok(Handle {
            provider: provider.into(),
            account: account.into(),
            id: text.into(),
            reference: None,
        });
    }
    Handle::parse(text)
}

/// A handle inside JSON arguments: an object, or a string as [`handle`] reads it. `field`
/// names it in errors (`handles[3]`).
pub fn handle_value(value: &Value, field: &str, provider: &str, account: &str) -> Result<Handle> {
    match value {
        Value::String(text) => handle(text, provider, account).map_err(|e| with_field(e, field)),
        Value::Object(_) => Handle::deserialize(value).map_err(|e| Error::validation(field, e)),
        other => Err(Error::validation(
            field,
            format!("expected a handle object or string, found {other}"),
        )),
    }
}

/// A JSON array of handles (objects or strings), each named by its position in errors.
pub fn handles(text: &str, provider: &str, account: &str) -> Result<Vec<Handle>> {
    let items: Vec<Value> = from_json("handles", text)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| handle_value(item, &format!("handles[{i}]"), provider, account))
        .collect()
}

/// The same error, about `field` (an item of a list rather than "a handle").
fn with_field(e: Error, field: &str) -> Error {
    let message = match e.field() {
        Some(old) => {
            e.message().strip_prefix(&format!("{old}: ")).unwrap_or(e.message()).to_string()
        }
        None => e.message().to_string(),
    };
    Error::validation(field, message)
}

/// One entry of a batch refresh as hosts read it: `{"handle", "status"}` or
/// `{"handle", "error"}` with the error's JSON.
pub fn refresh_row(handle: &Handle, result: &Result<Status>) -> Value {
    match result {
        Ok(status) => json!({"handle": handle, "status": status}),
        Err(e) => json!({"handle": handle, "error": e.to_json()}),
    }
}

/// The capability record of `provider`, or of every provider (an array) when None.
pub fn capabilities(provider: Option<&str>) -> Result<Value> {
    let record = |id: &str| {
        providers::capability(id).map(|c| c.to_json(id)).ok_or_else(|| {
            Error::validation(
                "provider",
                format!("unknown provider {id:?}; known: {}", providers::PROVIDERS.join(", ")),
            )
        })
    };
    match provider {
        Some(id) => record(id),
        None => providers::PROVIDERS.iter().map(|id| record(id)).collect::<Result<_>>(),
    }
}

/// An intent of the journal as hosts read it (`signbridge journal show`, `signbridge_pending`):
/// where the send stands, the provider ids and steps recorded, the handle once sent.
pub fn intent_json(record: &IntentRecord) -> Value {
    let steps: Vec<Value> =
        record.steps.iter().map(|s| json!({"name": s.name, "at": s.at})).collect();
    json!({
        "provider": record.key.provider,
        "account": record.key.account,
        "reference": record.key.reference,
        "state": record.state.as_str(),
        "ids": record.ids,
        "steps": steps,
        "handle": record.handle,
        "reason": record.reason,
        "holder": record.holder,
        "lease_until": record.lease_until,
        "attempts": record.attempts,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

/// One reconciliation as hosts read it: `{"outcome": "sent"|"draft"|"not_sent"|"unknown",
/// "reference", "handle"?, "reason"?}`, or `{"reference", "error"}` when it failed.
pub fn reconciled_json(reference: &str, result: &Result<Reconciled>) -> Value {
    match result {
        Ok(found) => serde_json::to_value(found).unwrap_or_default(),
        Err(e) => json!({"reference": reference, "error": e.to_json()}),
    }
}

/// The account's rate windows as hosts read them: `[{"scope", "period", "limit", "used",
/// "remaining", "frees_at"}]`, `scope` `calls` or `logins`, the period as `second`, `minute`, `hour`, `day`, `month` or `<n>ms`.
pub fn budget_json(usage: &[WindowUsage]) -> Value {
    usage
        .iter()
        .map(|u| {
            let period = match u.window.period {
                Period::SECOND => "second".to_string(),
                Period::MINUTE => "minute".to_string(),
                Period::HOUR => "hour".to_string(),
                Period::DAY => "day".to_string(),
                Period::Fixed(d) => format!("{}ms", d.as_millis()),
                Period::CalendarMonth => "month".to_string(),
            };
            json!({
                "scope": u.scope,
                "period": period,
                "limit": u.window.limit,
                "used": u.used,
                "remaining": u.remaining,
                "frees_at": u.frees_at,
            })
        })
        .collect()
}

/// Replayed events as hosts read them: `[{"position", "committed_at", "acked_at", "event":
/// {"id", "handle", "kind", "at", "raw"}}]`, oldest first; `acked_at` is null for an event not
/// yet acknowledged. Pass the last `position` as the next replay's `since`.
pub fn replayed_json(events: &[StoredEvent]) -> Value {
    events
        .iter()
        .map(|e| {
            json!({
                "position": e.seq,
                "committed_at": e.created_at,
                "acked_at": e.acked_at,
                "event": e.event,
            })
        })
        .collect()
}

/// Where a replay starts, from the host's text: a stream position (a whole number, 0 the
/// beginning; events after it) or an RFC 3339 time (events committed at or after it).
pub fn since(text: &str) -> Result<crate::Since> {
    text.parse()
}

/// How the host settles an unknown send, from its JSON: `{"sent_as": "<provider id>"}` or
/// `{"not_sent": true}` (exactly one of them).
pub fn resolution(text: &str) -> Result<Resolution> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wire {
        sent_as: Option<String>,
        #[serde(default)]
        not_sent: bool,
    }
    let wire: Wire = from_json("resolution", text)?;
    match (wire.sent_as, wire.not_sent) {
        (Some(id), false) if !id.trim().is_empty() => Ok(Resolution::SentAs(id.trim().into())),
        (Some(_), false) => Err(Error::validation("resolution.sent_as", "is empty")),
        (None, true) => Ok(Resolution::NotSent),
        _ => Err(Error::validation(
            "resolution",
            "give exactly one of sent_as (the provider's id of the document) or not_sent: true",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn envelopes_name_the_field_or_the_position() {
        let err = envelope(r#"{"reference":"r","title":"t","parties":[{"email":7}]}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert_eq!(err.field(), Some("parties[0].email"), "{err}");
        let err = envelope(r#"{"reference":"r","title":"t","parties":[],"titel":1}"#).unwrap_err();
        assert!(err.to_string().contains("titel"), "{err}");
        let err = envelope("{\"reference\":\n\"r\",,}").unwrap_err();
        assert_eq!(err.field(), Some("envelope"));
        assert!(err.to_string().contains("line 2 column 5"), "{err}");
        let err = envelope(r#"{"reference":"r","parties":[]}"#).unwrap_err();
        assert_eq!(err.field(), Some("envelope"), "{err}");
        assert!(err.to_string().contains("missing field `title`"), "{err}");
        let err = envelope(r#"{"reference":"r","title":"t","parties":[]} trailing"#).unwrap_err();
        assert_eq!(err.field(), Some("envelope"), "{err}");
        envelope(r#"{"reference":"r","title":"t","parties":[]}"#).unwrap();
    }

    #[test]
    fn handles_are_json_compact_or_bare_ids() {
        let bare = handle(" 42 ", "tae", "rm").unwrap();
        assert_eq!(
            (bare.provider.as_str(), bare.account.as_str(), bare.id.as_str()),
            ("tae", "rm", "42")
        );
        assert_eq!(handle("tae:rm:42", "x", "y").unwrap(), bare);
        assert_eq!(
            handle(r#"{"provider":"tae","account":"rm","id":"42"}"#, "x", "y").unwrap(),
            bare
        );
        let err = handle("{\"provider\":", "tae", "rm").unwrap_err();
        assert_eq!((err.kind(), err.field()), (ErrorKind::Validation, Some("handle")));
        assert_eq!(handle("tae::1", "tae", "rm").unwrap_err().kind(), ErrorKind::Validation);
        assert_eq!(handle("", "tae", "rm").unwrap_err().kind(), ErrorKind::Validation);
    }

    #[test]
    fn handle_arrays_name_the_bad_item() {
        let list = handles(
            r#"["1", "tae:rm:2", {"provider":"tae","account":"rm","id":"3"}]"#,
            "tae",
            "rm",
        )
        .unwrap();
        assert_eq!(list.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        let err = handles(r#"["1", 7]"#, "tae", "rm").unwrap_err();
        assert_eq!(err.field(), Some("handles[1]"), "{err}");
        let err = handles(r#"["1", "a::b"]"#, "tae", "rm").unwrap_err();
        assert_eq!(err.field(), Some("handles[1]"), "{err}");
        let err = handles(r#"["1", "{\"provider\":"]"#, "tae", "rm").unwrap_err();
        assert_eq!(err.field(), Some("handles[1]"), "{err}");
        let err = handles(r#"{"id": 1}"#, "tae", "rm").unwrap_err();
        assert_eq!(err.field(), Some("handles"), "{err}");
    }

    #[test]
    fn resolutions_are_one_of_two() {
        assert_eq!(resolution(r#"{"sent_as": " 42 "}"#).unwrap(), Resolution::SentAs("42".into()));
        assert_eq!(resolution(r#"{"not_sent": true}"#).unwrap(), Resolution::NotSent);
        for bad in [r#"{}"#, r#"{"not_sent": false}"#, r#"{"sent_as": "1", "not_sent": true}"#] {
            assert_eq!(resolution(bad).unwrap_err().field(), Some("resolution"), "{bad}");
        }
        assert_eq!(
            resolution(r#"{"sent_as": ""}"#).unwrap_err().field(),
            Some("resolution.sent_as")
        );
        assert_eq!(resolution(r#"{"sent": "1"}"#).unwrap_err().kind(), ErrorKind::Validation);
    }

    #[test]
    fn budgets_name_their_period() {
        use crate::journal::Window;
        let usage = [WindowUsage {
            scope: "calls",
            window: Window::per_month(80),
            used: 3,
            remaining: 77,
            frees_at: None,
        }];
        let rows = budget_json(&usage);
        assert_eq!((&rows[0]["period"], &rows[0]["scope"]), (&json!("month"), &json!("calls")));
        assert_eq!(
            (rows[0]["limit"].as_u64(), rows[0]["remaining"].as_u64()),
            (Some(80), Some(77))
        );
    }

    #[test]
    fn capabilities_of_one_or_all() {
        assert_eq!(capabilities(Some("tae")).unwrap()["provider"], "tae");
        let all = capabilities(None).unwrap();
        assert_eq!(all.as_array().unwrap().len(), providers::PROVIDERS.len());
        assert_eq!(capabilities(Some("nope")).unwrap_err().field(), Some("provider"));
    }
}
