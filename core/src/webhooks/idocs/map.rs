//! An iDocs notification → its key and event. A notification is an untrusted hint (§5: "always
//! confirm with GetDocumentStatusByDocumentId"): the event carries the status it claims.

use chrono::{DateTime, Utc};

use super::wire::DocumentStatusChanged;
use crate::model::EventKind;
use crate::webhooks::{Delivery, event, unreadable};

pub fn delivery(
    account: &str,
    n: DocumentStatusChanged,
    body: &[u8],
    mut flags: Vec<String>,
    received: DateTime<Utc>,
) -> Delivery {
    let Some(document) = n.document_id.clone() else {
        flags.push("missing:documentId".into());
        return unreadable("idocs", account, body, flags, received);
    };
    let status = n.document_status.clone().unwrap_or_default();
    let when = n.event_date.clone().unwrap_or_default();
    // The event id when the sender gives one; otherwise what the change is.
    let key = match &n.event_id {
        Some(id) => format!("event:{id}"),
        None => format!("{document}:{status}:{when}"),
    };
    let state = crate::providers::idocs::map::state(&status);
    let raw = serde_json::json!({"eventId": n.event_id, "documentId": document,
        "documentStatus": n.document_status, "eventDate": n.event_date, "state": state,
        "flags": flags});
    let at = n.event_date.as_deref().and_then(crate::providers::lenient::utc_date);
    let text = crate::webhooks::body_text(body, &mut flags);
    let e = event(
        "idocs",
        account,
        &document,
        &key,
        EventKind::StateChanged,
        at.unwrap_or(received),
        raw,
    );
    Delivery { key, events: vec![e], flags, body: text, link: None }
}
