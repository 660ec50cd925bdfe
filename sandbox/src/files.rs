//! Files the simulators hand out: unauthenticated download links (like a cloud-storage signed
//! URL), their HTTP answer, and the small helpers every generated file needs (names, hashes,
//! MIME types, ZIP archives).

use std::collections::BTreeMap;
use std::io::Write;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::ids::random_segment;

/// Most links kept alive at once; older ones stop working.
const MAX_LINKS: usize = 256;
/// Most bytes kept behind links at once (a file is counted even when the simulator shares it
/// with its own cache); older links stop working first. The newest link always works.
const MAX_LINKED_BYTES: usize = 512 * 1024 * 1024;

/// A file behind a download link.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Bytes,
}

/// Files reachable by key, oldest evicted first.
#[derive(Debug, Default)]
pub(crate) struct LinkStore {
    next: u64,
    total_bytes: usize,
    /// Keyed by a sequence number so the oldest is evicted first.
    blobs: BTreeMap<u64, (String, Blob)>,
}

impl LinkStore {
    /// Keeps a file; returns the unguessable key of its link.
    pub fn store(&mut self, blob: Blob) -> String {
        self.next += 1;
        let key = format!("{}{}", self.next, random_segment(24));
        self.total_bytes += blob.bytes.len();
        self.blobs.insert(self.next, (key.clone(), blob));
        while self.blobs.len() > MAX_LINKS
            || (self.total_bytes > MAX_LINKED_BYTES && self.blobs.len() > 1)
        {
            if let Some((_, (_, evicted))) = self.blobs.pop_first() {
                self.total_bytes -= evicted.bytes.len();
            }
        }
        key
    }

    pub fn get(&self, key: &str) -> Option<&Blob> {
        // At most MAX_LINKS entries: a scan is cheap.
        self.blobs.values().find(|(k, _)| k == key).map(|(_, blob)| blob)
    }
}

/// The answer to a download link: the file as an attachment, or 404 `NoSuchKey` as cloud
/// storage says it.
pub(crate) fn blob_response(blob: Option<Blob>) -> Response {
    let Some(blob) = blob else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let content_type = HeaderValue::from_str(&blob.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&blob.file_name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], blob.bytes)
        .into_response()
}

/// `attachment; filename="…"` with an ASCII fallback plus RFC 5987 `filename*` for the real
/// (possibly accented) name.
pub(crate) fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') { c } else { '_' })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The MIME type of the file types the simulated providers deal in, by the name's extension
/// (any casing); `None` for other extensions.
pub(crate) fn mime_type(file_name: &str) -> Option<&'static str> {
    let (_, extension) = file_name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt" => "text/plain",
        "zip" => "application/zip",
        "cms" | "p7m" => "application/pkcs7-mime",
        "p7s" => "application/pkcs7-signature",
        _ => return None,
    })
}

/// A deflated ZIP of `(name, bytes)` entries. Every entry carries the same fixed timestamp, so
/// the same entries always give the same bytes (a provider may hand out an archive to be signed
/// and compare it later).
pub(crate) fn zip(entries: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Set explicitly: with the crate's `time` feature the default would be "now".
    let options =
        zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
    for (name, bytes) in entries {
        writer.start_file(*name, options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// File name without its last extension.
pub(crate) fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(size: usize) -> Blob {
        Blob { file_name: "a".into(), content_type: "b".into(), bytes: vec![0; size].into() }
    }

    #[test]
    fn links_are_bounded_by_count() {
        let mut store = LinkStore::default();
        let first = store.store(blob(1));
        assert!(store.get(&first).is_some());
        for _ in 0..MAX_LINKS {
            store.store(blob(1));
        }
        assert!(store.get(&first).is_none());
        assert_eq!(store.blobs.len(), MAX_LINKS);
    }

    #[test]
    fn links_are_bounded_by_size_but_the_newest_stays() {
        let mut store = LinkStore::default();
        let first = store.store(blob(MAX_LINKED_BYTES / 2 + 1));
        let second = store.store(blob(MAX_LINKED_BYTES / 2 + 1));
        assert!(store.get(&first).is_none());
        assert!(store.get(&second).is_some());
        let huge = store.store(blob(MAX_LINKED_BYTES + 1));
        assert!(store.get(&huge).is_some());
        assert_eq!(store.total_bytes, MAX_LINKED_BYTES + 1);
    }

    #[test]
    fn unknown_or_forged_keys_are_not_found() {
        let mut store = LinkStore::default();
        let keys: Vec<String> = (0..50).map(|_| store.store(blob(1))).collect();
        assert!(keys.iter().all(|key| store.get(key).is_some()));
        let key = store.store(blob(1));
        assert!(store.get("1").is_none());
        assert!(store.get(&format!("{key}x")).is_none());
        assert!(store.get("").is_none());
        assert_eq!(blob_response(None).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn content_disposition_keeps_accents_in_the_extended_form() {
        assert_eq!(
            content_disposition("locação \"1\".pdf"),
            "attachment; filename=\"loca__o _1_.pdf\"; filename*=UTF-8''loca%C3%A7%C3%A3o%20%221%22.pdf"
        );
    }

    #[test]
    fn mime_types_by_extension() {
        assert_eq!(mime_type("a.PDF"), Some("application/pdf"));
        assert_eq!(mime_type("plan.xlsx").map(|t| t.ends_with("spreadsheetml.sheet")), Some(true));
        assert_eq!(mime_type("a.bin"), None);
        assert_eq!(mime_type("noext"), None);
    }

    #[test]
    fn zips_are_reproducible_and_readable() {
        let entries: [(&str, &[u8]); 2] = [("a.txt", b"hello"), ("b/c.pdf", b"%PDF-1.7")];
        let first = zip(&entries).unwrap();
        assert!(first.starts_with(b"PK\x03\x04"));
        assert_eq!(zip(&entries).unwrap(), first);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("a.txt").unwrap(), &mut text).unwrap();
        assert_eq!(text, "hello");
        assert!(zip(&[("same", b"1"), ("same", b"2")]).is_err());
    }

    #[test]
    fn stems() {
        assert_eq!(stem("a.b.pdf"), "a.b");
        assert_eq!(stem(".pdf"), ".pdf");
        assert_eq!(stem("noext"), "noext");
    }
}
