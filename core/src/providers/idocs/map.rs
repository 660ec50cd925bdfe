//! iDocs ↔ neutral model: the status table, the route from the parties, and error kinds.

use chrono::{DateTime, Utc};

use super::wire;
use crate::error::{Error, ErrorKind};
use crate::model::{Envelope, PartyState, PartyStatus, Role, State, Status};
use crate::providers::http;
use crate::transport::Reply;

/// `ExternalNodeStatus`, in declaration order: a status may also come as its 0-based ordinal.
pub const STATUSES: [&str; 18] = [
    "NONE",
    "DRAFT",
    "IN_PROCESS",
    "IN_PROCESS_BY_SENDER",
    "REJECTED_BY_SENDER_EMPLOYEE",
    "SENT_BY_SENDER",
    "RECALLED_BY_SENDER",
    "IN_NEW",
    "IN_PROCESS_BY_RECIPIENT",
    "REJECTED_BY_RECIPIENT_EMPLOYEE",
    "FINISHED",
    "REJECTED_BY_RECIPIENT",
    "REJECTED_BY_COMPANY",
    "WAITING_FOR_SENDER",
    "REJECTED_BY_SENDER",
    "REJECTED_BY_EMPLOYEE",
    "FINISHED_BY_COMPANY",
    "FINISHED_EDITABLE",
];

/// iDocs document status → neutral state. The table is also in the README.
///
/// | iDocs                                                        | neutral      |
/// |--------------------------------------------------------------|--------------|
/// | `DRAFT`, `IN_PROCESS_BY_SENDER`, `WAITING_FOR_SENDER`         | `draft` (not yet sent: the sender's route or signature is pending) |
/// | `IN_PROCESS`, `SENT_BY_SENDER`, `IN_NEW`, `IN_PROCESS_BY_RECIPIENT` | `sent` |
/// | `FINISHED`, `FINISHED_BY_COMPANY`, `FINISHED_EDITABLE`        | `completed`  |
/// | `REJECTED_BY_SENDER_EMPLOYEE`, `REJECTED_BY_RECIPIENT_EMPLOYEE`, `REJECTED_BY_RECIPIENT`, `REJECTED_BY_COMPANY`, `REJECTED_BY_SENDER`, `REJECTED_BY_EMPLOYEE` | `rejected` |
/// | `RECALLED_BY_SENDER`                                          | `cancelled`  |
/// | `NONE`, anything else                                         | `unknown`, the value kept in `provider_status` |
pub fn state(status: &str) -> State {
    match status {
        "DRAFT" | "IN_PROCESS_BY_SENDER" | "WAITING_FOR_SENDER" => State::Draft,
        "IN_PROCESS" | "SENT_BY_SENDER" | "IN_NEW" | "IN_PROCESS_BY_RECIPIENT" => State::Sent,
        "FINISHED" | "FINISHED_BY_COMPANY" | "FINISHED_EDITABLE" => State::Completed,
        "REJECTED_BY_SENDER_EMPLOYEE"
        | "REJECTED_BY_RECIPIENT_EMPLOYEE"
        | "REJECTED_BY_RECIPIENT"
        | "REJECTED_BY_COMPANY"
        | "REJECTED_BY_SENDER"
        | "REJECTED_BY_EMPLOYEE" => State::Rejected,
        "RECALLED_BY_SENDER" => State::Cancelled,
        _ => State::Unknown,
    }
}

/// The status name from a string, or from an ordinal (some deployments answer a number).
pub fn status_name(value: &serde_json::Value) -> String {
    let ordinal = value.as_u64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
    match (ordinal, value.as_str()) {
        (Some(n), _) => STATUSES.get(n as usize).map_or_else(|| n.to_string(), |s| s.to_string()),
        (None, Some(s)) => s.trim().to_string(),
        (None, None) => value.to_string(),
    }
}

pub fn status(detail: wire::DocumentExtended, raw: serde_json::Value) -> Status {
    let name = status_name(&detail.document_status);
    let nodes = detail.document_route.and_then(|r| r.external).map(|e| e.nodes).unwrap_or_default();
    let mut reason = None;
    let parties = nodes
        .into_iter()
        .map(|node| {
            let state = node.state.unwrap_or(wire::NodeState {
                status: None,
                completed_on: None,
                reject_metadata: None,
            });
            let party_state = match state.status.as_deref() {
                Some("CompletedWithOk") => PartyState::Signed,
                Some("CompletedWithFail") => PartyState::Rejected,
                _ => PartyState::Pending,
            };
            if party_state == PartyState::Rejected && reason.is_none() {
                reason = state.reject_metadata.and_then(|m| m.reject_reason);
            }
            PartyStatus {
                email: node.counterparty_company_emails.and_then(|e| e.into_iter().next()),
                name: node.counterparty_company_bin,
                role: Some(if node.is_sign_required == Some(false) {
                    Role::Approve
                } else {
                    Role::Sign
                }),
                state: party_state,
                acted_at: state.completed_on.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            }
        })
        .collect();
    Status {
        state: state(&name),
        provider_status: name,
        parties,
        reason: reason.filter(|r| !r.trim().is_empty()),
        updated_at: None,
        expires_at: None,
        raw,
    }
}

/// A BIN or IIN: twelve digits.
pub fn bin(tax_id: &str) -> Result<String, String> {
    let digits: String = tax_id.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 12 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!("a BIN/IIN has 12 digits, got {tax_id:?}"))
    }
}

/// The quick route: one node per counterparty party (by BIN/IIN), in the envelope's order.
/// Observers are not part of an iDocs route. The envelope has been checked.
pub fn quick_route(env: &Envelope, individual: bool) -> wire::ExternalRoute {
    let nodes = env
        .parties
        .iter()
        .filter(|p| p.role != Role::Observe)
        .enumerate()
        .map(|(i, p)| wire::ExternalRouteNode {
            order: if env.sequential { p.order.unwrap_or(i as u32 + 1) } else { 1 },
            counterparty_bin: p.tax_id.as_deref().and_then(|t| bin(t).ok()).unwrap_or_default(),
            comment: p.name.clone().unwrap_or_default(),
            is_individual: individual,
            counterparty_emails: p.email.iter().cloned().collect(),
            is_sign_required_by_counterparty: p.role == Role::Sign,
        })
        .collect();
    wire::ExternalRoute {
        route_order_type: if env.sequential { "SEQUENTIAL" } else { "PARALLEL" },
        is_sign_required_by_sender: true,
        nodes,
    }
}

/// A failed reply as an error, by `errorCode` when the envelope carries one.
pub fn error(op: &'static str, reply: &Reply) -> Error {
    let envelope: Option<wire::SyncResponse<serde_json::Value>> =
        serde_json::from_slice(&reply.body).ok();
    let first = envelope.as_ref().and_then(|e| e.errors.as_ref()).and_then(|e| e.first().cloned());
    let message = match &first {
        Some(e) => [e.error_code.as_deref(), e.error_description.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
        None => problem_message(&reply.body).unwrap_or_else(|| http::body_excerpt(&reply.body)),
    };
    let err = http::reply_error("idocs", op, reply, ErrorKind::Validation, message);
    let kind = match first.as_ref().and_then(|e| e.error_code.as_deref()) {
        Some(
            "UPLOADED_FILE_SIZE_ERROR"
            | "UPLOADED_FILE_EXTENSION_ERROR"
            | "UPLOADED_FILE_CONTENT_PARSING_ERROR"
            | "VALIDATION_ERROR",
        ) => ErrorKind::Validation,
        Some("RESOURCE_NOT_FOUND") => ErrorKind::NotFound,
        Some("PERMISSION_ERROR") => ErrorKind::Auth,
        // Who pays for the exchange is an account matter the document's state cannot fix.
        Some("BILLING_ERROR") => ErrorKind::Conflict,
        Some("UNKNOWN" | "INTERNAL_SERVER_ERROR") => ErrorKind::Provider,
        _ => return err,
    };
    http::refine(err, kind)
}

/// Whether `error` says the idempotency ticket is no longer good (so a fresh one may help).
pub fn is_ticket_refusal(error: &Error) -> bool {
    error.kind() == ErrorKind::Validation
        && error.http_status() == Some(400)
        && error.provider_message().is_some_and(|m| m.starts_with("VALIDATION_ERROR"))
}

fn problem_message(body: &[u8]) -> Option<String> {
    let p: wire::ProblemDetails = serde_json::from_slice(body).ok()?;
    let details: Vec<String> = p
        .errors
        .iter()
        .flatten()
        .map(|(field, v)| {
            format!(
                "{field}: {}",
                v.as_array().and_then(|a| a.first()).and_then(|m| m.as_str()).unwrap_or("invalid")
            )
        })
        .collect();
    match (p.title, details.is_empty()) {
        (Some(t), true) => Some(t),
        (Some(t), false) => Some(format!("{t} {}", details.join("; "))),
        (None, false) => Some(details.join("; ")),
        (None, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Document, Party};

    #[test]
    fn each_of_the_18_statuses_maps_to_one_state() {
        let expected = [
            State::Unknown,
            State::Draft,
            State::Sent,
            State::Draft,
            State::Rejected,
            State::Sent,
            State::Cancelled,
            State::Sent,
            State::Sent,
            State::Rejected,
            State::Completed,
            State::Rejected,
            State::Rejected,
            State::Draft,
            State::Rejected,
            State::Rejected,
            State::Completed,
            State::Completed,
        ];
        for (name, want) in STATUSES.iter().zip(expected) {
            assert_eq!(state(name), want, "{name}");
        }
        assert_eq!(state("SOMETHING_NEW"), State::Unknown);
    }

    #[test]
    fn ordinals_and_strings_name_the_same_status() {
        assert_eq!(status_name(&serde_json::json!("FINISHED")), "FINISHED");
        assert_eq!(status_name(&serde_json::json!(10)), "FINISHED");
        assert_eq!(status_name(&serde_json::json!("16")), "FINISHED_BY_COMPANY");
        assert_eq!(status_name(&serde_json::json!(99)), "99");
    }

    #[test]
    fn a_rejection_carries_the_reason_and_the_party() {
        let raw = serde_json::json!({"documentStatus": "REJECTED_BY_RECIPIENT", "documentRoute": {"external": {"nodes": [
            {"counterpartyCompanyBin": "123456789012", "counterpartyCompanyEmails": ["b@x.kz"], "isSignRequired": true,
             "state": {"status": "CompletedWithFail", "completedOn": 1718780400, "rejectMetadata": {"rejectReason": "Неверная сумма"}}}]}}});
        let s = status(serde_json::from_value(raw.clone()).unwrap(), raw);
        assert_eq!((s.state, s.reason.as_deref()), (State::Rejected, Some("Неверная сумма")));
        assert_eq!(s.parties[0].state, PartyState::Rejected);
        assert_eq!(s.parties[0].email.as_deref(), Some("b@x.kz"));
        assert_eq!(s.parties[0].acted_at.unwrap().to_rfc3339(), "2024-06-19T07:00:00+00:00");
    }

    #[test]
    fn the_route_follows_the_parties() {
        let mut b = Party::signer("ТОО Контрагент", "b@x.kz");
        b.tax_id = Some("1234 5678 9012".into());
        let mut c = Party::with_role("Согласующий", "c@x.kz", Role::Approve);
        c.tax_id = Some("210987654321".into());
        let observer = Party::with_role("Наблюдатель", "o@x.kz", Role::Observe);
        let mut env = Envelope::new(
            "r",
            "Договор",
            vec![Document::from_bytes("a.pdf", vec![1])],
            vec![b, c, observer],
        );
        env.sequential = true;
        let route = serde_json::to_value(quick_route(&env, false)).unwrap();
        assert_eq!(route["routeOrderType"], "SEQUENTIAL");
        assert_eq!(route["nodes"].as_array().unwrap().len(), 2, "observers are not route nodes");
        assert_eq!(route["nodes"][0]["counterpartyBin"], "123456789012");
        assert_eq!(route["nodes"][1]["order"], 2);
        assert_eq!(route["nodes"][1]["isSignRequiredByCounterparty"], false);
        assert!(bin("12345").is_err() && bin("12345678901a").is_err());
    }

    #[test]
    fn error_codes_decide_the_kind() {
        let reply = Reply::for_test;
        let e = error(
            "save",
            &reply(
                400,
                r#"{"response": null, "errors": [{"errorCode": "VALIDATION_ERROR", "errorDescription": "ticket expired"}]}"#,
            ),
        );
        assert_eq!(
            (e.kind(), e.provider_message()),
            (ErrorKind::Validation, Some("VALIDATION_ERROR: ticket expired"))
        );
        assert!(is_ticket_refusal(&e));
        let e =
            error("status", &reply(400, r#"{"errors": [{"errorCode": "RESOURCE_NOT_FOUND"}]}"#));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!is_ticket_refusal(&e));
        let e = error(
            "create",
            &reply(
                400,
                r#"{"type": "x", "title": "One or more validation errors occurred.", "status": 400,
            "errors": {"documentMetadata.documentGroup": ["The documentGroup field is required."]}}"#,
            ),
        );
        assert_eq!(
            e.provider_message(),
            Some(
                "One or more validation errors occurred. documentMetadata.documentGroup: The documentGroup field is required."
            )
        );
        assert_eq!(error("status", &reply(404, "{}")).kind(), ErrorKind::NotFound);
        assert_eq!(error("status", &reply(401, "")).kind(), ErrorKind::Auth);
        let e =
            error("send", &reply(500, r#"<div class="titleerror">NullReferenceException</div>"#));
        assert_eq!(e.kind(), ErrorKind::Provider);
    }
}
