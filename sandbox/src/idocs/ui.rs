//! What people do in the iDocs web UI, which the API cannot: the counterparty signs or
//! rejects (T7), the sender recalls (T8). The control routes drive these.

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::model::{Document, Side, Signature, Stage};
use super::refusal::{Checked, Refusal, ZERO_GUID, required_guid};
use super::state::State;
use super::wire::NodeStatus;
use crate::cms_check as cms;

impl State {
    /// The route node of counterparty `bin` on document `index`.
    fn node_of(&self, index: usize, bin: &str) -> Checked<usize> {
        let nodes = self.documents[index].route.as_ref().map_or(&[][..], |r| &r.nodes[..]);
        nodes.iter().position(|n| n.bin == bin).ok_or_else(|| {
            Refusal::not_found(format!("Counterparty {bin} is not on the document's route."))
        })
    }

    fn waiting_node(&self, id: &str, bin: &str) -> Checked<(usize, usize)> {
        let index = self
            .document_index(id)
            .ok_or_else(|| Refusal::not_found(format!("No iDocs document {id}.")))?;
        let node = self.node_of(index, bin)?;
        let document = &self.documents[index];
        let current = document.route.as_ref().map(|r| r.nodes[node].status);
        if document.stage != Stage::Sent || current != Some(NodeStatus::Active) {
            return Err(Refusal::validation(format!(
                "The document does not wait for counterparty {bin}: it is {} and the node is {}.",
                document.stage.name(),
                current.map_or("absent", NodeStatus::name)
            )));
        }
        Ok((index, node))
    }

    /// The counterparty `bin` signs through the iDocs UI: with `cms` when given (checked like
    /// a quick-sign save), else a simulated signature without CMS.
    pub fn counterparty_sign(
        &mut self,
        id: &str,
        bin: &str,
        employee: Option<&str>,
        cms: Option<Bytes>,
        now: DateTime<Utc>,
    ) -> Checked<&Document> {
        let (index, node) = self.waiting_node(id, bin)?;
        let employee_id = match (self.company_by_bin(bin), employee) {
            (Some(company), Some(employee)) => {
                self.employee(company, Some(employee), "employee_id")?
            }
            (Some(company), None) => self.companies[company].employees[0].id.to_owned(),
            (None, Some(employee)) => required_guid(Some(employee), "employee_id")?,
            (None, None) => ZERO_GUID.to_owned(),
        };
        let (form, signer_subject) = match &cms {
            Some(cms) => {
                let content = self.content(index)?;
                let verify = self.config.verify_signatures;
                let inspected =
                    cms::check_signature(cms, &content, verify).map_err(Refusal::validation)?;
                (Some(inspected.form), inspected.signer_subject)
            }
            None => (None, None),
        };
        let signature = Signature {
            side: Side::Inbox,
            company_bin: bin.to_owned(),
            employee_id,
            blob_id: None,
            ticket: None,
            form,
            signer_subject,
            cms,
            at: now,
        };
        let document = &mut self.documents[index];
        document.complete(node, signature, now);
        Ok(document)
    }

    /// T7: the counterparty `bin` rejects through the iDocs UI.
    pub fn counterparty_reject(
        &mut self,
        id: &str,
        bin: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Checked<&Document> {
        if reason.trim().is_empty() {
            return Err(Refusal::validation("A rejection needs a reason."));
        }
        let (index, node) = self.waiting_node(id, bin)?;
        let document = &mut self.documents[index];
        document.reject(node, reason.trim().to_owned(), now);
        Ok(document)
    }

    /// T8: the sender recalls a sent document through the iDocs UI.
    pub fn recall(&mut self, id: &str, now: DateTime<Utc>) -> Checked<&Document> {
        let index = self
            .document_index(id)
            .ok_or_else(|| Refusal::not_found(format!("No iDocs document {id}.")))?;
        let document = &mut self.documents[index];
        if document.stage != Stage::Sent {
            return Err(Refusal::validation(format!(
                "Only a sent document can be recalled; this one is {}.",
                document.stage.name()
            )));
        }
        document.stage = Stage::Recalled;
        document.closed_on = Some(now);
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::IDocsConfig;
    use crate::idocs::company::COUNTERPARTY_BIN;
    use crate::idocs::model::Role;
    use crate::idocs::test_support::*;
    use crate::idocs::wire::{DocumentStatus, ErrorCode};
    use serde_json::json;

    #[test]
    fn rejection_and_recall_close_the_document_for_both() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        assert!(state.counterparty_reject(&id, COUNTERPARTY_BIN, "x", now()).is_err(), "not sent");
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        assert!(state.counterparty_reject(&id, COUNTERPARTY_BIN, " ", now()).is_err());
        state.counterparty_reject(&id, COUNTERPARTY_BIN, "Неверная сумма", now()).unwrap();
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::RejectedByRecipient));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::RejectedByRecipient));
        let view = state.extended(0, Role::Sender);
        let first = &view.document_route.external.as_ref().unwrap().nodes[0];
        assert_eq!(first.state.reject_metadata.as_ref().unwrap().reject_reason, "Неверная сумма");
        assert!(state.recall(&id, now()).is_err(), "already closed");

        let other = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        sign_as(&mut state, A, Side::Outbox, &other).unwrap();
        state.recall(&other, now()).unwrap();
        assert_eq!(status(&state, B, &other), Some(DocumentStatus::RecalledBySender));
        assert_eq!(
            sign_as(&mut state, B, Side::Inbox, &other).unwrap_err().code,
            ErrorCode::ValidationError
        );
    }
}
