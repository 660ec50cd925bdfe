//! T1: a new outbox document, a draft of uploaded files (contract §2.2).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::blobs::BlobKind;
use super::company::CompanyIndex;
use super::model::{Document, File, Role, Stage};
use super::refusal::{Checked, Refusal, ZERO_GUID};
use super::state::State;
use super::wire::{self, DocumentGroup};
use crate::ids::new_guid;

/// `documentName` and `documentNumber`: 1..256 characters (contract §6).
const MAX_NAME_CHARS: usize = 256;
/// The last second .NET can turn into a date (9999-12-31T23:59:59Z). Larger values are
/// almost always milliseconds sent where seconds are expected.
const MAX_EPOCH: i64 = 253_402_300_799;

fn text_field(value: Option<String>, field: &str) -> Checked<String> {
    let value = value.filter(|v| !v.trim().is_empty());
    let value = value.ok_or_else(|| Refusal::validation(format!("{field} is required.")))?;
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Refusal::validation(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters."
        )));
    }
    Ok(value)
}

impl State {
    /// T1: a new draft.
    pub fn create_document(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateDocument,
        now: DateTime<Utc>,
    ) -> Checked<wire::DocumentBase> {
        let metadata = request
            .document_metadata
            .ok_or_else(|| Refusal::validation("documentMetadata is required."))?;
        let name = text_field(metadata.document_name, "documentMetadata.documentName")?;
        let number = text_field(metadata.document_number, "documentMetadata.documentNumber")?;
        let date = metadata.document_date.ok_or_else(|| {
            Refusal::validation(
                "documentMetadata.documentDate is required (Unix time in seconds, UTC).",
            )
        })?;
        if !(0..=MAX_EPOCH).contains(&date) {
            return Err(Refusal::validation(format!(
                "documentMetadata.documentDate must be Unix time in seconds (0..={MAX_EPOCH}); \
                 got {date} (milliseconds?)."
            )));
        }
        let group = metadata.document_group.ok_or_else(|| {
            let groups: Vec<&str> = DocumentGroup::ALL.iter().map(|g| g.name()).collect();
            Refusal::validation(format!(
                "documentMetadata.documentGroup is required: one of {}.",
                groups.join(", ")
            ))
        })?;
        let author = match metadata.document_author_employee_id.as_deref().map(str::trim) {
            None | Some("" | ZERO_GUID) => ZERO_GUID.to_owned(),
            Some(id) => {
                self.employee(company, Some(id), "documentMetadata.documentAuthorEmployeeId")?
            }
        };
        let contents = request.document_binary_contents.unwrap_or_default();
        if contents.is_empty() {
            return Err(Refusal::validation("documentBinaryContents must name at least one blob."));
        }
        let mut seen = HashSet::new();
        let mut files = Vec::with_capacity(contents.len());
        for content in contents {
            let field = "documentBinaryContents[].blobId";
            let blob =
                self.blobs.get(company, content.blob_id.as_deref(), field, BlobKind::Document)?;
            if !seen.insert(blob.id.clone()) {
                return Err(Refusal::validation(format!("Blob {} is listed twice.", blob.id)));
            }
            files.push(File {
                blob_id: blob.id.clone(),
                name: blob.file_name.clone(),
                extension: blob.extension.clone(),
                mime_type: blob.mime_type.clone(),
                bytes: blob.bytes.clone(),
            });
        }
        let document = Document {
            id: new_guid(),
            owner: company,
            sender_bin: self.companies[company].bin.to_owned(),
            name,
            number,
            date,
            group,
            author,
            created_on: now,
            files,
            route: None,
            stage: Stage::Draft,
            sent_on: None,
            closed_on: None,
            signatures: Vec::new(),
            content: None,
        };
        let answer = document.base(Role::Sender);
        self.documents.push(document);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::IDocsConfig;
    use crate::idocs::test_support::*;
    use crate::idocs::wire::ErrorCode;
    use serde_json::{Value, json};

    #[test]
    fn create_checks_metadata_and_blobs() {
        let mut state = State::new(IDocsConfig::default(), now());
        let blob = state
            .blobs
            .upload(A, BlobKind::Document, "c.pdf", "%PDF".into(), now())
            .unwrap()
            .id
            .clone();
        let body = |metadata: Value, blob: &str| -> wire::CreateDocument {
            request(
                json!({"documentMetadata": metadata, "documentBinaryContents": [{"blobId": blob}]}),
            )
        };
        let metadata = json!({"documentName": "A", "documentNumber": "1", "documentDate": 1718780400, "documentGroup": "HR"});
        assert!(state.create_document(A, body(metadata.clone(), &blob), now()).is_ok());
        let mut ms = metadata.clone();
        ms["documentDate"] = json!(1_718_780_400_000_i64);
        assert!(
            state
                .create_document(A, body(ms, &blob), now())
                .unwrap_err()
                .message
                .contains("milliseconds")
        );
        let mut no_group = metadata.clone();
        no_group.as_object_mut().unwrap().remove("documentGroup");
        assert_eq!(
            state.create_document(A, body(no_group, &blob), now()).unwrap_err().code,
            ErrorCode::ValidationError
        );
        assert_eq!(
            state.create_document(B, body(metadata.clone(), &blob), now()).unwrap_err().code,
            ErrorCode::ResourceNotFound
        );
        assert_eq!(
            state.create_document(A, body(metadata, &new_guid()), now()).unwrap_err().code,
            ErrorCode::ResourceNotFound
        );
    }
}
