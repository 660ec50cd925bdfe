//! iDocs Integration API V3 JSON, spelled as its OpenAPI file spells it (`contracts/idocs.md`).
//! No logic here.

use serde::{Deserialize, Serialize};

/// The sync envelope: `{response, errors}`. Some endpoints answer bare bodies instead.
#[derive(Debug, Deserialize)]
pub struct SyncResponse<T> {
    #[serde(default = "none")]
    pub response: Option<T>,
    #[serde(default)]
    pub errors: Option<Vec<OperationError>>,
}

fn none<T>() -> Option<T> {
    None
}

/// `OperationErrorVM`.
#[derive(Debug, Clone, Deserialize)]
pub struct OperationError {
    #[serde(rename = "errorCode", default)]
    pub error_code: Option<String>,
    #[serde(rename = "errorDescription", default)]
    pub error_description: Option<String>,
}

/// ASP.NET model-binding failures: `application/problem+json`.
#[derive(Debug, Deserialize)]
pub struct ProblemDetails {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub errors: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `ClientUploadedBlobVM`.
#[derive(Debug, Deserialize)]
pub struct UploadedBlob {
    #[serde(rename = "blobId")]
    pub blob_id: String,
}

/// `CreateIntegrationDocumentVM`.
#[derive(Debug, Serialize)]
pub struct CreateDocument {
    #[serde(rename = "documentMetadata")]
    pub document_metadata: DocumentMetadata,
    #[serde(rename = "documentBinaryContents")]
    pub document_binary_contents: Vec<BlobRef>,
}

#[derive(Debug, Serialize)]
pub struct DocumentMetadata {
    #[serde(rename = "documentName")]
    pub document_name: String,
    #[serde(rename = "documentNumber")]
    pub document_number: String,
    /// Unix seconds, read as UTC.
    #[serde(rename = "documentDate")]
    pub document_date: i64,
    #[serde(rename = "documentGroup")]
    pub document_group: String,
    #[serde(rename = "documentAuthorEmployeeId")]
    pub document_author_employee_id: String,
}

#[derive(Debug, Serialize)]
pub struct BlobRef {
    #[serde(rename = "blobId")]
    pub blob_id: String,
}

/// `DocumentBaseVM` (bare), the part signbridge reads.
#[derive(Debug, Deserialize)]
pub struct DocumentBase {
    pub id: String,
}

/// `QueryDocumentsVM`: the outbox query (contract §2.3); date bounds are Unix seconds.
#[derive(Debug, Serialize)]
pub struct QueryDocuments {
    #[serde(rename = "documentDateFrom")]
    pub document_date_from: i64,
    #[serde(rename = "documentDateTo")]
    pub document_date_to: i64,
    pub skip: u64,
    pub top: u64,
}

/// `…PaginatedResponseVM`: one page of items and how many there are in all.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(rename = "pageItems", default = "Vec::new")]
    pub page_items: Vec<T>,
    #[serde(rename = "totalSize", default)]
    pub total_size: u64,
}

/// A document as the outbox query lists it, the part signbridge reads.
#[derive(Debug, Deserialize)]
pub struct Listed {
    pub id: String,
    #[serde(rename = "documentNumber", default)]
    pub document_number: String,
    #[serde(rename = "documentStatus", default)]
    pub document_status: serde_json::Value,
}

/// `CreateQuickRouteForExternalOutboxDocumentVM`.
#[derive(Debug, Serialize)]
pub struct CreateQuickRoute {
    #[serde(rename = "documentId")]
    pub document_id: String,
    #[serde(rename = "employeeId")]
    pub employee_id: String,
    pub route: QuickRoute,
}

#[derive(Debug, Serialize)]
pub struct QuickRoute {
    pub external: ExternalRoute,
}

/// `CreateExternalRouteVM`.
#[derive(Debug, Serialize)]
pub struct ExternalRoute {
    /// `NONE`, `PARALLEL` or `SEQUENTIAL`.
    #[serde(rename = "routeOrderType")]
    pub route_order_type: &'static str,
    #[serde(rename = "isSignRequiredBySender")]
    pub is_sign_required_by_sender: bool,
    pub nodes: Vec<ExternalRouteNode>,
}

/// `CreateExternalRouteNodeVM`.
#[derive(Debug, Serialize)]
pub struct ExternalRouteNode {
    pub order: u32,
    #[serde(rename = "counterpartyBin")]
    pub counterparty_bin: String,
    pub comment: String,
    #[serde(rename = "isIndividual")]
    pub is_individual: bool,
    #[serde(rename = "counterpartyEmails")]
    pub counterparty_emails: Vec<String>,
    #[serde(rename = "isSignRequiredByCounterparty")]
    pub is_sign_required_by_counterparty: bool,
}

/// `GenerateExternalDocumentSignContentVM`.
#[derive(Debug, Serialize)]
pub struct GenerateSignContent {
    #[serde(rename = "documentId")]
    pub document_id: String,
    #[serde(rename = "signedByEmployeeId")]
    pub signed_by_employee_id: String,
}

/// `GenerateExternalDocumentSignContentResponseVM` (bare).
#[derive(Debug, Deserialize)]
pub struct SignContent {
    #[serde(rename = "downloadLink")]
    pub download_link: String,
    #[serde(rename = "idempotencyTicket", default)]
    pub idempotency_ticket: Option<String>,
}

/// `AddQuickSignatureToExternalDocumentVM`.
#[derive(Debug, Serialize)]
pub struct QuickSignSave {
    #[serde(rename = "documentId")]
    pub document_id: String,
    #[serde(rename = "signedByEmployeeId")]
    pub signed_by_employee_id: String,
    #[serde(rename = "signatureBinaryContent")]
    pub signature_binary_content: BlobRef,
    #[serde(rename = "idempotencyTicket")]
    pub idempotency_ticket: Option<String>,
}

/// `DocumentExtendedVM`, the part signbridge reads.
#[derive(Debug, Deserialize)]
pub struct DocumentExtended {
    #[serde(rename = "documentStatus")]
    pub document_status: serde_json::Value,
    #[serde(rename = "documentRoute", default)]
    pub document_route: Option<RouteExtended>,
}

#[derive(Debug, Deserialize)]
pub struct RouteExtended {
    #[serde(default)]
    pub external: Option<ExternalRouteRead>,
}

#[derive(Debug, Deserialize)]
pub struct ExternalRouteRead {
    #[serde(default)]
    pub nodes: Vec<ExternalRouteNodeRead>,
}

/// `DocumentExternalRouteNodeVM`: note the read side's own field names.
#[derive(Debug, Deserialize)]
pub struct ExternalRouteNodeRead {
    #[serde(rename = "counterpartyCompanyBin", default)]
    pub counterparty_company_bin: Option<String>,
    #[serde(rename = "counterpartyCompanyEmails", default)]
    pub counterparty_company_emails: Option<Vec<String>>,
    #[serde(rename = "isSignRequired", default)]
    pub is_sign_required: Option<bool>,
    #[serde(default)]
    pub state: Option<NodeState>,
}

#[derive(Debug, Deserialize)]
pub struct NodeState {
    /// `NotStarted`, `Active`, `CompletedWithOk`, `CompletedWithFail`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(rename = "completedOn", default)]
    pub completed_on: Option<i64>,
    #[serde(rename = "rejectMetadata", default)]
    pub reject_metadata: Option<RejectMetadata>,
}

#[derive(Debug, Deserialize)]
pub struct RejectMetadata {
    #[serde(rename = "rejectReason", default)]
    pub reject_reason: Option<String>,
}

/// One entry of a bulk push or companion-status answer (`…AsyncOperationStatusResponseVM`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AsyncOperationStatus {
    #[serde(rename = "operationId")]
    pub operation_id: String,
    #[serde(rename = "operationStatus")]
    pub operation_status: String,
    #[serde(default)]
    pub data: serde_json::Value,
    #[serde(rename = "operationErrors", default)]
    pub operation_errors: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
pub struct BulkOperations {
    pub operations: Vec<AsyncOperationStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_and_bare_bodies_decode() {
        let r: SyncResponse<UploadedBlob> = serde_json::from_str(
            r#"{"response": {"blobId": "4b1e…", "fileName": "contract.pdf", "extension": ".pdf",
                "mimeType": "application/pdf", "fileLength": 120, "createdOn": 1718780400}, "errors": null}"#,
        )
        .unwrap();
        assert_eq!(r.response.unwrap().blob_id, "4b1e…");
        let e: SyncResponse<UploadedBlob> = serde_json::from_str(
            r#"{"response": null, "errors": [{"errorCode": "UPLOADED_FILE_SIZE_ERROR", "errorDescription": "too big", "errorDocumentationLink": null}]}"#,
        )
        .unwrap();
        assert_eq!(e.errors.unwrap()[0].error_code.as_deref(), Some("UPLOADED_FILE_SIZE_ERROR"));
        let c: SignContent = serde_json::from_str(
            r#"{"documentId": "d", "downloadLink": "https://x/api/v3/sync/sign-content/download//u", "disposeOn": 1718780400, "idempotencyTicket": "t-1"}"#,
        )
        .unwrap();
        assert_eq!(
            c.download_link, "https://x/api/v3/sync/sign-content/download//u",
            "kept verbatim"
        );
        assert_eq!(c.idempotency_ticket.as_deref(), Some("t-1"));
    }

    #[test]
    fn create_and_route_bodies_use_the_openapi_names() {
        let create = CreateDocument {
            document_metadata: DocumentMetadata {
                document_name: "Договор".into(),
                document_number: "MED-061824-C23-1".into(),
                document_date: 1718780400,
                document_group: "Accounting".into(),
                document_author_employee_id: "e1".into(),
            },
            document_binary_contents: vec![BlobRef { blob_id: "b1".into() }],
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            serde_json::json!({"documentMetadata": {"documentName": "Договор", "documentNumber": "MED-061824-C23-1",
                "documentDate": 1718780400, "documentGroup": "Accounting", "documentAuthorEmployeeId": "e1"},
                "documentBinaryContents": [{"blobId": "b1"}]})
        );
        let save = QuickSignSave {
            document_id: "d".into(),
            signed_by_employee_id: "e1".into(),
            signature_binary_content: BlobRef { blob_id: "s1".into() },
            idempotency_ticket: Some("t".into()),
        };
        assert_eq!(
            serde_json::to_value(&save).unwrap(),
            serde_json::json!({"documentId": "d", "signedByEmployeeId": "e1",
                "signatureBinaryContent": {"blobId": "s1"}, "idempotencyTicket": "t"})
        );
    }

    #[test]
    fn details_read_the_route_nodes() {
        let d: DocumentExtended = serde_json::from_str(
            r#"{"id": "d", "documentStatus": "REJECTED_BY_RECIPIENT", "documentRoute": {"external": {"nodes": [
                {"order": 1, "counterpartyCompanyBin": "123456789012", "counterpartyCompanyEmails": ["b@x.kz"],
                 "isSignRequired": true, "state": {"status": "CompletedWithFail", "completedOn": 1718780400,
                 "rejectMetadata": {"rejectReason": "Неверная сумма"}}}]}, "internal": null}}"#,
        )
        .unwrap();
        let node = &d.document_route.unwrap().external.unwrap().nodes[0];
        let state = node.state.as_ref().unwrap();
        assert_eq!(state.status.as_deref(), Some("CompletedWithFail"));
        assert_eq!(
            state.reject_metadata.as_ref().unwrap().reject_reason.as_deref(),
            Some("Неверная сумма")
        );
    }
}

/// WebHooks API (§5): the subscription upsert's body, `{"subscriptionUrl"}` ([C] the name,
/// [I] the shape).
#[derive(Debug, Serialize)]
pub struct Subscription {
    #[serde(rename = "subscriptionUrl")]
    pub subscription_url: String,
}
