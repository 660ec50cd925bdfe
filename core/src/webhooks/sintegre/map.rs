//! A SINtegre notification → its dedupe key, its event and its flags (`sintegre.md` §3.5, §7).

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::download::DownloadSettings;
use super::wire::{Claims, Notification};
use crate::model::{Event, EventKind, Handle};
use crate::transport::Secret;
use crate::webhooks::{Delivery, Link, Malformed, digest};

/// What replaces the link's token wherever the notification is kept.
pub const REDACTED: &str = "REDACTED";

/// Reads one notification. Refused (400) only as §3.6 says: a missing or invalid `url`; every
/// other oddity is flagged.
/// With `downloads`, a link its SSRF guard refuses is kept out (flagged `link_not_allowed`,
/// never fetched, told to the host as `download_failed`: §6 test 11's quarantine), and `http`
/// to the loopback is a link when it allows that (the sandbox).
pub fn delivery(
    account: &str,
    notification: Notification,
    body: String,
    mut flags: Vec<String>,
    received: DateTime<Utc>,
    downloads: Option<&DownloadSettings>,
) -> Result<Delivery, Malformed> {
    let url = notification.url.as_deref().ok_or_else(|| Malformed("url is missing".into()))?;
    let sandbox_http =
        |u: &url::Url| u.scheme() == "http" && downloads.is_some_and(|d| d.allows(u));
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| (u.scheme() == "https" || sandbox_http(u)) && u.host_str().is_some())
        .ok_or_else(|| Malformed("url is not an absolute https URL".into()))?;
    let allowed = downloads.is_none_or(|d| d.allows(&parsed));
    if !allowed {
        flags.push("link_not_allowed".into());
    }
    let token = parsed.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    let claims = token.as_deref().and_then(claims);
    if claims.is_none() {
        flags.push("token_unreadable".into());
    }
    let n = &notification;
    for (name, value) in [
        ("nome", &n.nome),
        ("processo", &n.processo),
        ("macroProcesso", &n.macro_processo),
        ("dataProduto", &n.data_produto),
    ] {
        if value.is_none() {
            flags.push(format!("missing:{name}"));
        }
    }
    for (name, value) in
        [("periodicidade", &n.periodicidade), ("periodicidadeFinal", &n.periodicidade_final)]
    {
        match value.as_deref().map(local_date) {
            None => flags.push(format!("missing:{name}")),
            Some(DateForm::Naive) => {}
            Some(DateForm::Zoned) => flags.push(format!("date_not_naive:{name}")),
            Some(DateForm::Unreadable) => flags.push(format!("bad_date:{name}")),
        }
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let period = [
        text(&n.nome),
        text(&n.data_produto),
        text(&n.periodicidade),
        text(&n.periodicidade_final),
    ];
    let file = claims.as_ref().and_then(|c| c.url.clone());
    // K1 when the file is known; K3 (which cannot tell revisions apart) only without it.
    let key = match &file {
        Some(file) => {
            let mut parts: Vec<&str> = period.iter().map(String::as_str).collect();
            parts.push(file);
            format!("k1:{}", digest(&parts))
        }
        None => format!("k3:{}", digest(&period.each_ref().map(String::as_str))),
    };
    // The product and period (K3's fields): its versions are compared by content (K2).
    let group = digest(&period.each_ref().map(String::as_str));
    let time = |t: Option<i64>| t.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
    let sent_at = time(claims.as_ref().and_then(|c| c.nbf));
    let expires_at = time(claims.as_ref().and_then(|c| c.exp));
    let body = redact(body, token.as_deref(), &notification);
    let raw = serde_json::json!({
        "nome": n.nome, "processo": n.processo, "macroProcesso": n.macro_processo,
        "dataProduto": n.data_produto,
        // Brazil's wall-clock time, kept as sent (§1.6): converting needs the tz database.
        "periodicidade": n.periodicidade, "periodicidadeFinal": n.periodicidade_final,
        "file": file,
        "is_file": claims.as_ref().and_then(|c| c.is_file.as_deref())
            .map(|f| f.eq_ignore_ascii_case("true")),
        "sent_at": sent_at, "link_expires_at": expires_at,
        "key": key, "flags": flags,
    });
    let event = Event {
        id: format!("sintegre:{account}:{key}"),
        handle: Handle {
            provider: "sintegre".into(),
            account: account.into(),
            id: key.clone(),
            reference: None,
        },
        kind: EventKind::DocumentReceived,
        at: sent_at.unwrap_or(received),
        raw,
    };
    let mut events = vec![event];
    if !allowed {
        let raw = serde_json::json!({"key": key,
            "reason": "link_not_allowed: the link's host is not in downloads.allow_hosts"});
        events.push(Event {
            id: format!("sintegre:{account}:{key}:download_failed"),
            kind: EventKind::DownloadFailed,
            raw,
            ..events[0].clone()
        });
    }
    let link = allowed.then(|| Link { url: Secret::new(url), expires_at, group: Some(group) });
    Ok(Delivery { key, events, flags, body, link })
}

/// The file a link's token names, as a fallback file name: the `URL` claim's last segment, or
/// `<nomeProduto>.zip` for a folder (`IsFile` `"False"`: the proxy zips it, §4).
pub fn file_claim(link: &url::Url) -> Option<String> {
    let token = link.query_pairs().find(|(k, _)| k == "token")?.1;
    let claims = claims(&token)?;
    if claims.is_file.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("false")) {
        return claims.nome_produto.map(|n| format!("{n}.zip"));
    }
    let url = claims.url?;
    url.rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The claims of a JWT, read without verifying (the key is ONS's).
fn claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

enum DateForm {
    /// `YYYY-MM-DDTHH:MM:SS`, as SINtegre sends it.
    Naive,
    /// With a fraction, `Z` or an offset: accepted, flagged (a receiver converted it).
    Zoned,
    Unreadable,
}

fn local_date(text: &str) -> DateForm {
    if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok() {
        DateForm::Naive
    } else if DateTime::parse_from_rfc3339(text).is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
    {
        DateForm::Zoned
    } else {
        DateForm::Unreadable
    }
}

/// The body with the link's token replaced: in place (the rest kept byte for byte), or, when
/// the token is written with JSON escapes, the notification re-encoded with it replaced.
fn redact(body: String, token: Option<&str>, notification: &Notification) -> String {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return body;
    };
    let replaced = body.replace(token, REDACTED);
    let decoded = serde_json::from_str::<serde_json::Value>(&replaced).unwrap_or_default();
    if !decoded.to_string().contains(token) {
        return replaced;
    }
    let n = notification;
    serde_json::json!({
        "nome": n.nome, "processo": n.processo, "macroProcesso": n.macro_processo,
        "dataProduto": n.data_produto, "periodicidade": n.periodicidade,
        "periodicidadeFinal": n.periodicidade_final,
        "url": n.url.as_deref().map(|u| u.replace(token, REDACTED)),
    })
    .to_string()
}
