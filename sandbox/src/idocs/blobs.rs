//! Uploaded files (contract §2.1): what each upload route accepts, and the store that keeps
//! them until a document or a signature names them.

use std::collections::HashMap;

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::company::CompanyIndex;
use super::refusal::{Checked, Refusal, required_guid};
use super::wire::{self, ErrorCode};
use crate::cms_check as cms;
use crate::files::mime_type;
use crate::ids::new_guid;

/// Largest uploaded file: "ограничение по размеру = 15MB" (contract §2.1), taken as MiB.
pub(crate) const MAX_FILE_BYTES: usize = 15 * 1024 * 1024;
const DOCUMENT_EXTENSIONS: &[&str] = &[".doc", ".docx", ".xls", ".xlsx", ".pdf", ".txt"];
const SIGNATURE_EXTENSIONS: &[&str] = &[".cms"];

/// What an uploaded file is for: the upload route decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobKind {
    /// `document-content`: an original file of a document.
    Document,
    /// `document-signature-content`: a CMS signature.
    Signature,
}

impl BlobKind {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            BlobKind::Document => DOCUMENT_EXTENSIONS,
            BlobKind::Signature => SIGNATURE_EXTENSIONS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BlobKind::Document => "document",
            BlobKind::Signature => "signature",
        }
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub id: String,
    pub kind: BlobKind,
    pub company: CompanyIndex,
    pub file_name: String,
    /// Lowercase, with its dot (`.pdf`).
    pub extension: String,
    pub mime_type: String,
    pub bytes: Bytes,
    pub created_on: DateTime<Utc>,
}

impl Blob {
    pub fn view(&self) -> wire::UploadedBlob {
        wire::UploadedBlob {
            blob_id: self.id.clone(),
            file_name: self.file_name.clone(),
            extension: self.extension.clone(),
            mime_type: self.mime_type.clone(),
            // "в килобайтах", rounded up so a non-empty file never shows 0.
            file_length: (self.bytes.len() as u64).div_ceil(1024),
            created_on: self.created_on.timestamp(),
        }
    }
}

/// The last segment of a client file name (browsers on Windows may send a full path).
fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).trim()
}

/// `.ext`, lowercase; empty without one.
fn extension_of(file_name: &str) -> String {
    match file_name.rsplit_once('.') {
        Some((_, extension)) => format!(".{}", extension.to_ascii_lowercase()),
        None => String::new(),
    }
}

/// Every uploaded file, by id.
#[derive(Default)]
pub(crate) struct Blobs {
    by_id: HashMap<String, Blob>,
}

impl Blobs {
    /// Stores an uploaded file after the checks of contract §2.1.
    pub fn upload(
        &mut self,
        company: CompanyIndex,
        kind: BlobKind,
        file_name: &str,
        bytes: Bytes,
        now: DateTime<Utc>,
    ) -> Checked<&Blob> {
        let file_name = base_name(file_name);
        let extension = extension_of(file_name);
        if !kind.extensions().contains(&extension.as_str()) {
            return Err(Refusal::new(
                ErrorCode::UploadedFileExtensionError,
                format!(
                    "File {file_name:?} has an extension that is not accepted here; allowed: {}.",
                    kind.extensions().join(", ")
                ),
            ));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Refusal::new(
                ErrorCode::UploadedFileSizeError,
                format!(
                    "File {file_name:?} is {} bytes; the limit is 15 MB ({MAX_FILE_BYTES} bytes).",
                    bytes.len()
                ),
            ));
        }
        if bytes.is_empty() {
            return Err(Refusal::validation(format!("File {file_name:?} is empty.")));
        }
        if kind == BlobKind::Signature {
            cms::inspect(&bytes)
                .map_err(|e| Refusal::new(ErrorCode::UploadedFileContentParsingError, e))?;
        }
        let blob = Blob {
            id: new_guid(),
            kind,
            company,
            file_name: file_name.to_owned(),
            mime_type: mime_type(file_name).unwrap_or("application/octet-stream").to_owned(),
            extension,
            bytes,
            created_on: now,
        };
        let id = blob.id.clone();
        Ok(self.by_id.entry(id).or_insert(blob))
    }

    /// The caller's blob named by a request, of the expected kind.
    pub fn get(
        &self,
        company: CompanyIndex,
        id: Option<&str>,
        field: &str,
        kind: BlobKind,
    ) -> Checked<&Blob> {
        let id = required_guid(id, field)?;
        let blob = self.by_id.get(&id).filter(|b| b.company == company);
        let blob = blob.ok_or_else(|| Refusal::not_found(format!("Blob {id} was not found.")))?;
        if blob.kind != kind {
            return Err(Refusal::validation(format!(
                "Blob {id} was uploaded as {} content; {field} needs {} content.",
                blob.kind.name(),
                kind.name()
            )));
        }
        Ok(blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::test_support::*;

    #[test]
    fn uploads_check_extension_size_and_cms() {
        let mut blobs = Blobs::default();
        let code = |r: Checked<&Blob>| r.map(|_| ()).unwrap_err().code;
        assert_eq!(
            code(blobs.upload(A, BlobKind::Document, "tool.exe", "x".into(), now())),
            ErrorCode::UploadedFileExtensionError
        );
        assert_eq!(
            code(blobs.upload(A, BlobKind::Document, "sig.cms", "x".into(), now())),
            ErrorCode::UploadedFileExtensionError
        );
        let big = Bytes::from(vec![0; MAX_FILE_BYTES + 1]);
        assert_eq!(
            code(blobs.upload(A, BlobKind::Document, "a.pdf", big, now())),
            ErrorCode::UploadedFileSizeError
        );
        assert_eq!(
            code(blobs.upload(A, BlobKind::Signature, "s.cms", "not der".into(), now())),
            ErrorCode::UploadedFileContentParsingError
        );
        let blob = blobs
            .upload(A, BlobKind::Document, r"C:\docs\Plan.XLSX", Bytes::from(vec![1; 1025]), now())
            .unwrap();
        let view = blob.view();
        assert_eq!(
            (view.file_name.as_str(), view.extension.as_str(), view.file_length),
            ("Plan.XLSX", ".xlsx", 2)
        );
        assert!(view.mime_type.ends_with("spreadsheetml.sheet"));
    }
}
