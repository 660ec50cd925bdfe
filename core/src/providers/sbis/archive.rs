//! The local archive (seed stage 7, contract §9): every file of a document and every signature
//! bound to it, ours and the counterparty's, service files included, written under
//! `settings.archive_dir`:
//!
//! ```text
//! <archive_dir>/<document id>/
//!     index.json                                  what is here (below)
//!     <attachment id>/<file name>                 the file, as SBIS serves it
//!     <attachment id>/signatures/<n>-<name>       each signature (detached CMS), n from 1
//! ```
//!
//! `index.json` is `{"document", "direction", "type", "number", "date", "state": {"code",
//! "name"}, "archived_at", "files": [{"attachment", "name", "path", "service", "direction",
//! "signatures": [{"name", "path", "direction"}]}]}` (a signature's `direction` is
//! `Исходящий` for ours, `Входящий` for the counterparty's), paths relative to the document's folder. Archiving
//! again overwrites the folder's files with the current ones; names SBIS gives are made safe
//! first ([`crate::names::file_name`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{Sbis, wire, yes};
use crate::error::{Error, ErrorKind, Result};
use crate::names::file_name;

#[derive(Serialize)]
struct Index {
    document: String,
    direction: String,
    #[serde(rename = "type")]
    kind: String,
    number: String,
    date: String,
    state: State,
    archived_at: String,
    files: Vec<File>,
}

#[derive(Serialize)]
struct State {
    code: String,
    name: String,
}

#[derive(Serialize)]
struct File {
    attachment: String,
    name: String,
    path: String,
    service: bool,
    direction: String,
    signatures: Vec<Signature>,
}

#[derive(Serialize)]
struct Signature {
    name: String,
    path: String,
    direction: String,
}

/// Archives document `id` and answers its index.
pub(super) async fn write(sbis: &Sbis, id: &str) -> Result<serde_json::Value> {
    let Some(root) = &sbis.config.archive_dir else {
        return Err(Error::new(ErrorKind::Config, "archive: settings.archive_dir is not set")
            .with_context("provider", "sbis"));
    };
    let (doc, _) = sbis.read(id).await?;
    let folder = root.join(file_name(&doc.id, "document"));
    let attachments = attachments(&doc);
    let mut files = Vec::new();
    for (att_id, att) in &attachments {
        let Some((name, path, link)) = file_path(att_id, att) else { continue };
        save(sbis, link, &folder.join(&path)).await?;
        let mut signatures = Vec::new();
        for (sig, sig_name, sig_path, link) in signature_paths(att_id, att) {
            save(sbis, link, &folder.join(&sig_path)).await?;
            signatures.push(Signature {
                name: sig_name,
                path: sig_path,
                direction: sig.direction.clone(),
            });
        }
        files.push(File {
            attachment: att_id.clone(),
            name,
            path,
            service: yes(&att.service),
            direction: att.direction.clone(),
            signatures,
        });
    }
    let state = doc.state.clone().unwrap_or_default();
    let index = Index {
        document: doc.id.clone(),
        direction: doc.direction.clone(),
        kind: doc.kind.clone(),
        number: doc.number.clone(),
        date: doc.date.clone(),
        state: State { code: state.code, name: state.name },
        archived_at: chrono::Utc::now().to_rfc3339(),
        files,
    };
    let json = serde_json::to_value(&index).map_err(|e| Error::internal(e.to_string()))?;
    let text = serde_json::to_vec_pretty(&json).map_err(|e| Error::internal(e.to_string()))?;
    write_file(&folder.join("index.json"), &text).await?;
    Ok(json)
}

/// The document's own attachments and those its events carry, once each by id; the
/// signatures of all of them, once each by link.
fn attachments(doc: &wire::Document) -> BTreeMap<String, wire::Attachment> {
    let mut attachments: BTreeMap<String, wire::Attachment> = BTreeMap::new();
    let all = doc.attachments.iter().chain(doc.events.iter().flat_map(|e| &e.attachments));
    for att in all.filter(|a| !a.id.is_empty()) {
        let entry = attachments.entry(att.id.clone()).or_insert_with(|| att.clone());
        if entry.file.as_ref().is_none_or(|f| f.link.is_empty()) {
            entry.file = att.file.clone();
        }
        for sig in &att.signatures {
            let link = sig.file.as_ref().map(|f| f.link.as_str()).unwrap_or_default();
            if !link.is_empty()
                && !entry.signatures.iter().any(|s| s.file.as_ref().is_some_and(|f| f.link == link))
            {
                entry.signatures.push(sig.clone());
            }
        }
    }
    attachments
}

/// An attachment's file in the layout: its safe name, its path and its link.
fn file_path<'a>(att_id: &str, att: &'a wire::Attachment) -> Option<(String, String, &'a str)> {
    let file = att.file.as_ref().filter(|f| !f.link.is_empty())?;
    let name = file_name(&file.name, "file");
    let path = format!("{}/{name}", file_name(att_id, "attachment"));
    Some((name, path, file.link.as_str()))
}

/// An attachment's signatures in the layout: each with its safe name, its path and its link.
fn signature_paths<'a>(
    att_id: &str,
    att: &'a wire::Attachment,
) -> impl Iterator<Item = (&'a wire::SignatureIn, String, String, &'a str)> {
    let dir = file_name(att_id, "attachment");
    att.signatures.iter().enumerate().filter_map(move |(n, sig)| {
        let f = sig.file.as_ref().filter(|f| !f.link.is_empty())?;
        let name = file_name(&f.name, "signature.sgn");
        let path = format!("{dir}/signatures/{}-{name}", n + 1);
        Some((sig, name, path, f.link.as_str()))
    })
}

/// The `signed` download: a zip of each file of the document (service files left out) with
/// every signature bound to it, ours and the counterparty's, under the paths the local archive
/// uses (`<attachment id>/<file name>`, `<attachment id>/signatures/<n>-<name>`).
pub(super) async fn signed_zip(
    sbis: &Sbis,
    doc: &wire::Document,
    sink: crate::provider::Sink<'_>,
) -> Result<crate::model::DownloadInfo> {
    let limit = sbis.base.transport.config().max_file_reply_bytes;
    let mut entries = Vec::new();
    let mut total = 0u64;
    for (att_id, att) in attachments(doc).iter().filter(|(_, a)| !yes(&a.service)) {
        let Some((_, path, link)) = file_path(att_id, att) else { continue };
        let mut parts = vec![(path, link, false)];
        parts.extend(signature_paths(att_id, att).map(|(_, _, path, link)| (path, link, true)));
        for (path, link, signature) in parts {
            let body = sbis.fetch("download", link).await?.body;
            // Each entry is checked as a download of its own would be: an error page must not
            // reach the host inside a valid archive.
            if signature {
                signature_check(&body)?;
            } else {
                crate::download::check("sbis", crate::model::DownloadKind::Original, &body)?;
            }
            // The zip is built in memory: all of it, not only each file, stays within the
            // transport's file limit.
            total += body.len() as u64;
            if total > limit {
                return Err(Error::new(
                    ErrorKind::Provider,
                    format!(
                        "download: the signed files are more than {limit} bytes \
                         (transport.max_file_reply_bytes)"
                    ),
                )
                .with_context("provider", "sbis"));
            }
            entries.push((path, body.to_vec()));
        }
    }
    if entries.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            "download: this SBIS document has no file yet",
        )
        .with_context("provider", "sbis"));
    }
    crate::providers::http::zip_into(&entries, sink).await
}

/// A signature file (§9 `Вложение[].Подпись[].Файл.Ссылка`) is a detached CMS: DER (an ASN.1
/// SEQUENCE) or its text (PEM or base64). Anything else, an empty body, an HTML or JSON page,
/// bytes that are neither, is SBIS failing with a success status.
fn signature_check(body: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(body).map(str::trim_start);
    let ok = body.first() == Some(&0x30)
        || text.is_ok_and(|t| !t.is_empty() && !t.starts_with(['<', '{', '[']));
    if ok {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Provider,
        "download: SBIS answered a signature link with something that is not a signature",
    )
    .with_context("provider", "sbis"))
}

async fn save(sbis: &Sbis, link: &str, path: &Path) -> Result<()> {
    let reply = sbis.fetch("archive", link).await?;
    write_file(path, &reply.body).await
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so that a reader of
/// the archive never sees half a file.
async fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| {
        crate::providers::http::sink_error(e).with_context("path", path.display())
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)
}
