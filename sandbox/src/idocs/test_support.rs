//! What the unit tests of the iDocs state modules share: two companies, a fixed clock, a
//! routed draft and the full signing flow of one side.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::blobs::BlobKind;
use super::company::{COUNTERPARTY_EMPLOYEE_ID, CompanyIndex, SENDER_EMPLOYEE_ID};
use super::model::Side;
use super::refusal::Checked;
use super::signing::Saved;
use super::state::State;
use super::wire::DocumentStatus;
use crate::aspnet::bind;
use crate::cms_check::testing::cms;

/// Company A, the sender.
pub(super) const A: CompanyIndex = 0;
/// Company B, the counterparty.
pub(super) const B: CompanyIndex = 1;

pub(super) fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
}

pub(super) fn request<T: serde::de::DeserializeOwned>(value: Value) -> T {
    bind(value.to_string().as_bytes()).unwrap()
}

/// A draft of one PDF, routed to `nodes`.
pub(super) fn draft(state: &mut State, order: &str, nodes: Value) -> String {
    let blob =
        state.blobs.upload(A, BlobKind::Document, "c.pdf", "%PDF-1.7".into(), now()).unwrap();
    let blob = blob.id.clone();
    let created = state
        .create_document(
            A,
            request(
                json!({"documentMetadata": {"documentName": "Договор", "documentNumber": "D-1",
                "documentDate": 1718780400, "documentGroup": "Purchase"},
                "documentBinaryContents": [{"blobId": blob}]}),
            ),
            now(),
        )
        .unwrap();
    state
        .create_quick_route(
            A,
            request(json!({"documentId": created.id, "employeeId": SENDER_EMPLOYEE_ID,
                "route": {"external": {"routeOrderType": order, "nodes": nodes}}})),
        )
        .unwrap();
    created.id
}

pub(super) fn node(order: i32, bin: &str, sign: bool) -> Value {
    json!({"order": order, "counterpartyBin": bin, "isSignRequiredByCounterparty": sign})
}

pub(super) fn sign_as(
    state: &mut State,
    company: CompanyIndex,
    side: Side,
    id: &str,
) -> Checked<Saved> {
    let employee = if company == A { SENDER_EMPLOYEE_ID } else { COUNTERPARTY_EMPLOYEE_ID };
    let generated = state.generate(
        company,
        side,
        request(json!({"documentId": id, "signedByEmployeeId": employee})),
        "http://sandbox",
        now(),
    )?;
    let index = state.document_index(id).unwrap();
    let content = state.content(index)?;
    let blob = state
        .blobs
        .upload(company, BlobKind::Signature, "s.cms", cms(&content, true).into(), now())?
        .id
        .clone();
    state.save_signature(
        company,
        side,
        request(json!({"documentId": id, "signedByEmployeeId": employee,
            "signatureBinaryContent": {"blobId": blob},
            "idempotencyTicket": generated.idempotency_ticket})),
        now(),
    )
}

pub(super) fn status(state: &State, company: CompanyIndex, id: &str) -> Option<DocumentStatus> {
    state.visible(company, id).map(|(i, role)| state.documents[i].status(role))
}
