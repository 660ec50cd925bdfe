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
    // The document's own attachments and those its events carry, once each by id; the
    // signatures of all of them, once each by link.
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
    let mut files = Vec::new();
    for (att_id, att) in &attachments {
        let Some(file) = att.file.as_ref().filter(|f| !f.link.is_empty()) else { continue };
        let dir = file_name(att_id, "attachment");
        let name = file_name(&file.name, "file");
        let path = format!("{dir}/{name}");
        save(sbis, &file.link, &folder.join(&path)).await?;
        let mut signatures = Vec::new();
        for (n, sig) in att.signatures.iter().enumerate() {
            let Some(f) = sig.file.as_ref().filter(|f| !f.link.is_empty()) else { continue };
            let sig_name = file_name(&f.name, "signature.sgn");
            let sig_path = format!("{dir}/signatures/{}-{sig_name}", n + 1);
            save(sbis, &f.link, &folder.join(&sig_path)).await?;
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
