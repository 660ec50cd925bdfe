//! iDocs V3 request and response bodies, spelled as in `contracts/idocs.md` (the vendor's
//! swagger names).
//!
//! Requests are bound with [`crate::aspnet::bind`] (property names in any casing) and, like
//! System.Text.Json, ignore unknown properties (contract §2.0) but are strict about types:
//! a number where a string is declared, or an ISO date where an epoch is, fails binding.
//! Enums bind as System.Text.Json's `JsonStringEnumConverter` reads them: the name in any
//! casing, or the integer ordinal.
//!
//! Responses are camelCase; ids are lowercase GUIDs and dates Unix epoch seconds.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// A string enum of the swagger: serialised by name, bound by name (any casing) or ordinal.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value in declaration order: the index is the .NET ordinal.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// By name, in any casing.
            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.name().eq_ignore_ascii_case(text.trim()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let value = Value::deserialize(d)?;
                let found = match &value {
                    Value::String(text) => $name::parse(text),
                    Value::Number(n) => {
                        n.as_u64().and_then(|i| usize::try_from(i).ok()).and_then(|i| $name::ALL.get(i).copied())
                    }
                    _ => None,
                };
                found.ok_or_else(|| {
                    D::Error::custom(format!("{value} is not a valid {} value", stringify!($name)))
                })
            }
        }
    };
}

wire_enum!(
    /// `DocumentGroupType`.
    DocumentGroup {
        Accounting = "Accounting",
        Financial = "Financial",
        Legal = "Legal",
        Constitutive = "Constitutive",
        Hr = "HR",
        Paperwork = "Paperwork",
        Purchase = "Purchase",
        Warehouse = "Warehouse",
        Organizational = "Organizational",
        General = "General",
    }
);

wire_enum!(
    /// `DocumentDirectionEnum`.
    Direction {
        Inbox = "Inbox",
        Outbox = "Outbox",
    }
);

wire_enum!(
    /// `ExternalNodeStatus`, the document status, in the swagger's order (contract §3.1).
    DocumentStatus {
        None = "NONE",
        Draft = "DRAFT",
        InProcess = "IN_PROCESS",
        InProcessBySender = "IN_PROCESS_BY_SENDER",
        RejectedBySenderEmployee = "REJECTED_BY_SENDER_EMPLOYEE",
        SentBySender = "SENT_BY_SENDER",
        RecalledBySender = "RECALLED_BY_SENDER",
        InNew = "IN_NEW",
        InProcessByRecipient = "IN_PROCESS_BY_RECIPIENT",
        RejectedByRecipientEmployee = "REJECTED_BY_RECIPIENT_EMPLOYEE",
        Finished = "FINISHED",
        RejectedByRecipient = "REJECTED_BY_RECIPIENT",
        RejectedByCompany = "REJECTED_BY_COMPANY",
        WaitingForSender = "WAITING_FOR_SENDER",
        RejectedBySender = "REJECTED_BY_SENDER",
        RejectedByEmployee = "REJECTED_BY_EMPLOYEE",
        FinishedByCompany = "FINISHED_BY_COMPANY",
        FinishedEditable = "FINISHED_EDITABLE",
    }
);

wire_enum!(
    /// `RouteOrderType`.
    RouteOrder {
        None = "NONE",
        Parallel = "PARALLEL",
        Sequential = "SEQUENTIAL",
    }
);

wire_enum!(
    /// `RouteActionEnum`, the action of an internal route node.
    RouteAction {
        Sign = "SIGN",
        Approve = "APPROVE",
        Inform = "INFORM",
        Reject = "REJECT",
    }
);

wire_enum!(
    /// `DocumentRouteNodeActionStatus`.
    NodeStatus {
        NotStarted = "NotStarted",
        Active = "Active",
        CompletedWithOk = "CompletedWithOk",
        CompletedWithFail = "CompletedWithFail",
    }
);

wire_enum!(
    /// `AsyncOperationStatusType`.
    AsyncStatus {
        NotFound = "NotFound",
        Created = "Created",
        InProcessing = "InProcessing",
        CompletedWithProcessingError = "CompletedWithProcessingError",
        CompletedWithProcessingException = "CompletedWithProcessingException",
        CompletedWithOk = "CompletedWithOk",
    }
);

wire_enum!(
    /// `OperationErrorType`.
    ErrorCode {
        UploadedFileSizeError = "UPLOADED_FILE_SIZE_ERROR",
        UploadedFileExtensionError = "UPLOADED_FILE_EXTENSION_ERROR",
        UploadedFileContentParsingError = "UPLOADED_FILE_CONTENT_PARSING_ERROR",
        Unknown = "UNKNOWN",
        InternalServerError = "INTERNAL_SERVER_ERROR",
        ResourceNotFound = "RESOURCE_NOT_FOUND",
        ValidationError = "VALIDATION_ERROR",
        PermissionError = "PERMISSION_ERROR",
        BillingError = "BILLING_ERROR",
    }
);

// ---- requests --------------------------------------------------------------------------------

/// `CreateIntegrationDocumentVM`: outbox `document/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateDocument {
    pub document_metadata: Option<DocumentMetadata>,
    pub document_binary_contents: Option<Vec<BlobRef>>,
}

/// `DocumentMetadataVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentMetadata {
    pub document_name: Option<String>,
    pub document_number: Option<String>,
    /// Unix seconds, UTC. A string (an ISO date) fails binding, as it does on the real API.
    pub document_date: Option<i64>,
    pub document_group: Option<DocumentGroup>,
    pub document_author_employee_id: Option<String>,
}

/// `DocumentBinaryContentVM` and `SignatureBinaryContentVM`: `{blobId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlobRef {
    pub blob_id: Option<String>,
}

/// `CreateQuickRouteForExternalOutboxDocumentVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateQuickRoute {
    pub document_id: Option<String>,
    pub employee_id: Option<String>,
    pub route: Option<QuickRoute>,
}

/// `CreateExternalOutDocumentQuickRouteVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuickRoute {
    pub external: Option<ExternalRoute>,
}

/// `CreateRouteForExternalOutboxDocumentVM`: outbox `route/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRoute {
    pub document_id: Option<String>,
    pub employee_id: Option<String>,
    pub route: Option<FullRoute>,
}

/// `CreateExternalOutDocumentRouteVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FullRoute {
    pub external: Option<ExternalRoute>,
    pub internal: Option<InternalRoute>,
}

/// `CreateRouteForExternalInboxDocumentVM`: inbox `route/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateInboxRoute {
    pub document_id: Option<String>,
    pub employee_id: Option<String>,
    pub route: Option<InboxRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InboxRoute {
    pub internal: Option<InternalRoute>,
}

/// `CreateExternalRouteVM`. The PDF's `requiredActionType` and RB's payer flags
/// (`isSenderPayer`, `nodes[].isPayer`) are not in the swagger; like any unknown property they
/// are ignored (contract §2.2, §3.3).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalRoute {
    pub route_order_type: Option<RouteOrder>,
    pub is_sign_required_by_sender: Option<bool>,
    pub nodes: Option<Vec<ExternalNode>>,
}

/// `CreateExternalRouteNodeVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalNode {
    pub order: Option<i32>,
    pub counterparty_bin: Option<String>,
    pub comment: Option<String>,
    pub is_individual: Option<bool>,
    pub counterparty_emails: Option<Vec<String>>,
    pub is_sign_required_by_counterparty: Option<bool>,
    pub org_unit_id: Option<String>,
}

/// `CreateInternalRouteVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InternalRoute {
    pub route_action_ordering_type: Option<RouteOrder>,
    pub nodes: Option<Vec<InternalNode>>,
}

/// `CreateInternalRouteNodeVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InternalNode {
    pub order: Option<i32>,
    pub employee_id: Option<String>,
    pub required_action: Option<RouteAction>,
}

/// `GenerateExternalDocumentSignContentVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateSignContent {
    pub document_id: Option<String>,
    pub signed_by_employee_id: Option<String>,
}

/// `AddQuickSignatureToExternalDocumentVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SaveSignature {
    pub document_id: Option<String>,
    pub signed_by_employee_id: Option<String>,
    pub signature_binary_content: Option<BlobRef>,
    pub idempotency_ticket: Option<String>,
}

/// `QueryDocumentsVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryDocuments {
    pub document_statuses: Option<Vec<DocumentStatus>>,
    pub document_date_from: Option<i64>,
    pub document_date_to: Option<i64>,
    pub document_author_id: Option<String>,
    pub skip: Option<i32>,
    pub top: Option<i32>,
}

/// `PaginatedQueryVM`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    pub skip: Option<i32>,
    pub top: Option<i32>,
}

/// `DownloadExternalDocumentVM`: the item of the async bulk download.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DownloadDocument {
    pub document_id: Option<String>,
    pub employee_id: Option<String>,
}

/// `…BulkAsyncOperationsRequestVM`: `{"operations": [{"data": …}]}`. Each `data` is kept as
/// sent and bound when the operation runs, so a bad item fails alone.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkPush {
    pub operations: Option<Vec<PushItem>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushItem {
    pub data: Option<Value>,
}

/// `BulkAsyncOperationStatusRequestVM`: `{"operations": [{"operationId"}]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkStatus {
    pub operations: Option<Vec<StatusItem>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusItem {
    pub operation_id: Option<String>,
}

// ---- responses -------------------------------------------------------------------------------

/// `…SyncOperationResponseVM`, the container of every enveloped synchronous answer.
#[derive(Debug, Serialize)]
pub(crate) struct Envelope<T> {
    pub response: Option<T>,
    pub errors: Option<Vec<OperationError>>,
}

/// `OperationErrorVM`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationError {
    pub error_code: ErrorCode,
    pub error_description: Option<String>,
    pub error_documentation_link: Option<String>,
}

/// `EmptyResponseVM`: `{}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Empty {}

/// `ClientUploadedBlobVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadedBlob {
    pub blob_id: String,
    pub file_name: String,
    pub extension: String,
    pub mime_type: String,
    /// Kilobytes.
    pub file_length: u64,
    pub created_on: i64,
}

/// `DocumentBaseVM`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentBase {
    pub id: String,
    pub document_name: String,
    pub document_number: String,
    pub document_date: i64,
    pub document_group: DocumentGroup,
    pub document_author_employee_id: String,
    pub created_on: i64,
    pub document_status: DocumentStatus,
    pub document_direction: Direction,
}

/// `DocumentExtendedVM`: the base fields plus the route.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentExtended {
    #[serde(flatten)]
    pub base: DocumentBase,
    pub document_route: RouteView,
}

/// `RouteExtendedVM`; a part that was never created is null.
#[derive(Debug, Serialize)]
pub(crate) struct RouteView {
    pub external: Option<ExternalRouteView>,
    pub internal: Option<InternalRouteView>,
}

/// `DocumentExternalRouteVM`.
#[derive(Debug, Serialize)]
pub(crate) struct ExternalRouteView {
    pub nodes: Vec<ExternalNodeView>,
}

/// `DocumentExternalRouteNodeVM`: note the read side's names differ from the create side's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalNodeView {
    pub order: i32,
    pub counterparty_company_bin: String,
    pub counterparty_company_id: String,
    pub comment: Option<String>,
    pub is_individual: bool,
    pub counterparty_company_emails: Vec<String>,
    pub is_sign_required: bool,
    pub state: NodeState,
}

/// `DocumentInternalRouteVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InternalRouteView {
    pub route_action_ordering_type: RouteOrder,
    pub nodes: Vec<InternalNodeView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InternalNodeView {
    pub order: i32,
    pub employee_id: String,
    pub required_action: RouteAction,
    pub state: NodeState,
}

/// The `state` of a route node.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeState {
    pub status: NodeStatus,
    pub completed_on: Option<i64>,
    pub reject_metadata: Option<RejectMetadata>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RejectMetadata {
    pub reject_reason: String,
}

/// `…PaginatedResponseVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    pub page_items: Vec<T>,
    pub skip: i32,
    pub top: i32,
    pub total_size: usize,
}

/// `DocumentStatusVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusView {
    pub document_status: DocumentStatus,
}

/// `GenerateExternalDocumentSignContentResponseVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignContent {
    pub document_id: String,
    pub download_link: String,
    pub dispose_on: i64,
    pub idempotency_ticket: String,
}

/// `DownloadExternalDocumentResponseVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DownloadLink {
    pub document_id: String,
    pub download_link: String,
    pub dispose_on: i64,
}

/// `CompanyTokenInfoVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompanyTokenInfo {
    pub id: String,
    pub company_id: String,
    pub company_bin: String,
    pub company_name: String,
}

/// `EmployeeVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Employee {
    pub id: String,
    pub national_identification_number: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub position: String,
    pub email: String,
    pub created_on: i64,
}

/// `EmployeePermissionVM`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmployeePermission {
    pub employee_id: String,
    pub account_permissions: Vec<String>,
}

/// `…AsyncOperationStatusResponseVM`: one operation of a push or status answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationStatus {
    pub operation_id: String,
    pub created_on: Option<i64>,
    pub completed_on: Option<i64>,
    pub operation_status: AsyncStatus,
    pub data: Option<Value>,
    pub operation_errors: Option<Vec<OperationError>>,
}

/// `…BulkAsyncOperationsStatusResponseVM`: not wrapped in the sync envelope.
#[derive(Debug, Serialize)]
pub(crate) struct Operations {
    pub operations: Vec<OperationStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aspnet::bind;
    use serde_json::json;

    #[test]
    fn enums_bind_by_name_in_any_casing_or_by_ordinal() {
        let group = |value: Value| serde_json::from_value::<DocumentGroup>(value);
        assert_eq!(group(json!("Purchase")).unwrap(), DocumentGroup::Purchase);
        assert_eq!(group(json!("hr")).unwrap(), DocumentGroup::Hr);
        assert_eq!(group(json!(0)).unwrap(), DocumentGroup::Accounting);
        assert!(group(json!("Договоры")).is_err());
        assert!(group(json!(10)).is_err());
        assert!(group(json!(-1)).is_err());
        assert_eq!(serde_json::to_value(DocumentGroup::Hr).unwrap(), json!("HR"));
    }

    #[test]
    fn statuses_keep_the_swagger_ordinals() {
        assert_eq!(DocumentStatus::ALL.len(), 18);
        assert_eq!(DocumentStatus::ALL[10], DocumentStatus::Finished);
        assert_eq!(DocumentStatus::ALL[16], DocumentStatus::FinishedByCompany);
        assert_eq!(DocumentStatus::SentBySender.name(), "SENT_BY_SENDER");
    }

    #[test]
    fn the_create_sample_binds_and_dates_must_be_numbers() {
        let body = json!({"documentMetadata": {"documentName": "Договор 1", "documentNumber": "D-1",
            "documentDate": 1718780400, "documentGroup": "Purchase"},
            "documentBinaryContents": [{"blobId": "b"}], "somethingElse": 1});
        let request: CreateDocument = bind(body.to_string().as_bytes()).unwrap();
        let metadata = request.document_metadata.unwrap();
        assert_eq!(metadata.document_date, Some(1_718_780_400));
        assert_eq!(metadata.document_group, Some(DocumentGroup::Purchase));
        let iso = json!({"documentMetadata": {"documentDate": "2024-06-19T07:00:00Z"}});
        assert!(bind::<CreateDocument>(iso.to_string().as_bytes()).is_err());
    }

    #[test]
    fn extended_documents_flatten_the_base() {
        let base = DocumentBase {
            id: "d".into(),
            document_name: "n".into(),
            document_number: "1".into(),
            document_date: 1,
            document_group: DocumentGroup::General,
            document_author_employee_id: "e".into(),
            created_on: 2,
            document_status: DocumentStatus::Draft,
            document_direction: Direction::Outbox,
        };
        let view =
            DocumentExtended { base, document_route: RouteView { external: None, internal: None } };
        let value = serde_json::to_value(view).unwrap();
        assert_eq!(value["documentStatus"], "DRAFT");
        assert_eq!(value["documentRoute"], json!({"external": null, "internal": null}));
    }
}
