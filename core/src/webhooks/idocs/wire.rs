//! iDocs' document-status-changed notification (`idocs.md` §5). "Payload shape: unknown": the
//! candidate names the contract lists, all optional; keys are made camelCase first.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DocumentStatusChanged {
    #[serde(rename = "eventId", deserialize_with = "crate::webhooks::text")]
    pub event_id: Option<String>,
    #[serde(rename = "documentId", deserialize_with = "crate::webhooks::text")]
    pub document_id: Option<String>,
    /// An `ExternalNodeStatus` name (`FINISHED`, …).
    #[serde(rename = "documentStatus", deserialize_with = "crate::webhooks::text")]
    pub document_status: Option<String>,
    #[serde(rename = "eventDate", alias = "createdOn", deserialize_with = "crate::webhooks::text")]
    pub event_date: Option<String>,
}
