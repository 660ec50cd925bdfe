//! A TAE notification → its key and event, read leniently (§7 allows nothing firmer).

use chrono::{DateTime, Utc};

use super::wire::Aviso;
use crate::model::EventKind;
use crate::webhooks::{Delivery, event, unreadable};

/// Every object key in lowercase (TAE's names arrive in any case).
pub fn lower_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            map.into_iter().map(|(k, v)| (k.trim().to_lowercase(), lower_keys(v))).collect()
        }
        serde_json::Value::Array(items) => items.into_iter().map(lower_keys).collect(),
        other => other,
    }
}

pub fn delivery(
    account: &str,
    a: Aviso,
    body: &[u8],
    mut flags: Vec<String>,
    received: DateTime<Utc>,
) -> Delivery {
    let Some(document) = a.iddocumento.clone() else {
        flags.push("missing:idDocumento".into());
        return unreadable("tae", account, body, flags, received);
    };
    let part = |v: &Option<String>| v.clone().unwrap_or_default();
    let key = match &a.id {
        Some(id) => format!("event:{id}"),
        None => format!(
            "{document}:{}:{}:{}",
            part(&a.idpublicacao),
            part(&a.status),
            part(&a.assinante)
        ),
    };
    let kind = if a.status.is_some() { EventKind::StateChanged } else { EventKind::Other };
    let raw = serde_json::json!({"idDocumento": document, "idPublicacao": a.idpublicacao,
        "status": a.status, "assinante": a.assinante, "dataFinalizacao": a.datafinalizacao,
        "flags": flags});
    let at = a.datafinalizacao.as_deref().and_then(crate::providers::lenient::utc_date);
    let text = crate::webhooks::body_text(body, &mut flags);
    let e = event("tae", account, &document, &key, kind, at.unwrap_or(received), raw);
    Delivery { key, events: vec![e], flags, body: text, link: None }
}
