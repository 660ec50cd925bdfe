//! Routes: the sender's external route (T2, quick or full, contract §2.2) and a recipient's
//! own internal route on a received document (T9, §2.3).

use std::collections::HashSet;

use super::company::CompanyIndex;
use super::model::{InternalNode, InternalRoute, Node, Role, Route, Stage, waits_for_recipient};
use super::refusal::{Checked, Refusal, required_guid};
use super::state::State;
use super::wire::{self, NodeStatus, RouteOrder};

impl State {
    /// T2 with a quick route.
    pub fn create_quick_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateQuickRoute,
    ) -> Checked<()> {
        let external = request.route.and_then(|r| r.external);
        self.set_route(company, request.document_id, request.employee_id, external, None)
    }

    /// T2 with a full route (an external part and the sender's internal part).
    pub fn create_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateRoute,
    ) -> Checked<()> {
        let (external, internal) = match request.route {
            Some(route) => (route.external, route.internal),
            None => (None, None),
        };
        self.set_route(company, request.document_id, request.employee_id, external, internal)
    }

    fn set_route(
        &mut self,
        company: CompanyIndex,
        document_id: Option<String>,
        employee_id: Option<String>,
        external: Option<wire::ExternalRoute>,
        internal: Option<wire::InternalRoute>,
    ) -> Checked<()> {
        let index = self.outbox_document(company, document_id.as_deref())?;
        let employee = self.employee(company, employee_id.as_deref(), "employeeId")?;
        let document = &self.documents[index];
        if document.stage != Stage::Draft {
            return Err(Refusal::validation(format!(
                "A route can only be created for a document in DRAFT; this one is {}.",
                document.status(Role::Sender).name()
            )));
        }
        let external =
            external.ok_or_else(|| Refusal::validation("route.external is required."))?;
        let nodes = self.external_nodes(company, external.nodes.unwrap_or_default())?;
        let internal = internal.map(|route| self.internal_route(company, route)).transpose()?;
        self.documents[index].route = Some(Route {
            order: external.route_order_type.unwrap_or(RouteOrder::None),
            sign_required_by_sender: external.is_sign_required_by_sender.unwrap_or(false),
            nodes,
            internal,
            created_by: employee,
        });
        Ok(())
    }

    fn external_nodes(
        &self,
        company: CompanyIndex,
        nodes: Vec<wire::ExternalNode>,
    ) -> Checked<Vec<Node>> {
        if nodes.is_empty() {
            return Err(Refusal::validation("route.external.nodes must have at least one node."));
        }
        let own = self.companies[company].bin;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let bin = node.counterparty_bin.unwrap_or_default().trim().to_owned();
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::validation(format!(
                    "counterpartyBin must be a BIN (or IIN) of 12 digits; got {bin:?}."
                )));
            }
            if bin == own {
                return Err(Refusal::validation("A document cannot be routed to its own sender."));
            }
            if !seen.insert(bin.clone()) {
                return Err(Refusal::validation(format!("Counterparty {bin} is listed twice.")));
            }
            let emails: Vec<String> = node
                .counterparty_emails
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.trim().to_owned())
                .collect();
            if let Some(bad) = emails.iter().find(|e| !is_email(e)) {
                return Err(Refusal::validation(format!("{bad:?} is not an e-mail address.")));
            }
            let org_unit_id = match node.org_unit_id.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(id) => Some(required_guid(Some(id), "orgUnitId")?),
            };
            out.push(Node {
                order: node.order.unwrap_or(0),
                bin,
                comment: node.comment,
                is_individual: node.is_individual.unwrap_or(false),
                emails,
                // .NET's default for a bool left out.
                sign_required: node.is_sign_required_by_counterparty.unwrap_or(false),
                org_unit_id,
                status: NodeStatus::NotStarted,
                completed_on: None,
                reject_reason: None,
                internal: None,
            });
        }
        out.sort_by_key(|n| n.order);
        Ok(out)
    }

    fn internal_route(
        &self,
        company: CompanyIndex,
        route: wire::InternalRoute,
    ) -> Checked<InternalRoute> {
        let nodes = route.nodes.unwrap_or_default();
        if nodes.is_empty() {
            return Err(Refusal::validation("route.internal.nodes must have at least one node."));
        }
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let employee_id = self.employee(
                company,
                node.employee_id.as_deref(),
                "route.internal.nodes[].employeeId",
            )?;
            let action = node.required_action.ok_or_else(|| {
                Refusal::validation("route.internal.nodes[].requiredAction is required.")
            })?;
            out.push(InternalNode { order: node.order.unwrap_or(0), employee_id, action });
        }
        out.sort_by_key(|n| n.order);
        Ok(InternalRoute {
            ordering: route.route_action_ordering_type.unwrap_or(RouteOrder::None),
            nodes: out,
        })
    }

    /// T9: a recipient's internal route on a received document.
    pub fn create_inbox_route(
        &mut self,
        company: CompanyIndex,
        request: wire::CreateInboxRoute,
    ) -> Checked<()> {
        let (index, node) = self.inbox_document(company, request.document_id.as_deref())?;
        self.employee(company, request.employee_id.as_deref(), "employeeId")?;
        let internal = request
            .route
            .and_then(|r| r.internal)
            .ok_or_else(|| Refusal::validation("route.internal is required."))?;
        let internal = self.internal_route(company, internal)?;
        let document = &mut self.documents[index];
        let status = document.status(Role::Recipient(node));
        if !waits_for_recipient(status) {
            return Err(Refusal::validation(format!(
                "A route can only be added while the document waits for the company; it is {}.",
                status.name()
            )));
        }
        if let Some(node) = document.nodes_mut().get_mut(node) {
            node.internal = Some(internal);
        }
        Ok(())
    }
}

/// Something shaped like an e-mail address: `local@domain.tld`, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::IDocsConfig;
    use crate::idocs::company::{COUNTERPARTY_BIN, COUNTERPARTY_EMPLOYEE_ID, SENDER_EMPLOYEE_ID};
    use crate::idocs::model::Side;
    use crate::idocs::test_support::*;
    use crate::idocs::wire::{DocumentStatus, ErrorCode};
    use serde_json::{Value, json};

    #[test]
    fn sequential_routes_reach_one_order_at_a_time_and_skip_unsigned_nodes() {
        let mut state = State::new(IDocsConfig::default(), now());
        let nodes = json!([
            node(2, "999999999999", true),
            node(0, "111111111111", false),
            node(1, COUNTERPARTY_BIN, true)
        ]);
        let id = draft(&mut state, "SEQUENTIAL", nodes);
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        let route = state.documents[0].route.clone().unwrap();
        let statuses: Vec<NodeStatus> = route.nodes.iter().map(|n| n.status).collect();
        assert_eq!(
            statuses,
            [NodeStatus::CompletedWithOk, NodeStatus::Active, NodeStatus::NotStarted]
        );

        state.counterparty_sign(&id, COUNTERPARTY_BIN, None, None, now()).unwrap();
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::InProcess));
        assert_eq!(state.documents[0].route.as_ref().unwrap().nodes[2].status, NodeStatus::Active);
        state.counterparty_sign(&id, "999999999999", None, None, now()).unwrap();
        assert_eq!(state.documents[0].stage, Stage::Finished);
    }

    #[test]
    fn a_route_without_required_signatures_finishes_at_send() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "PARALLEL", json!([node(0, COUNTERPARTY_BIN, false)]));
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Finished));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::Finished));
    }

    #[test]
    fn routes_are_checked_and_only_for_drafts() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let route = |nodes: Value| -> wire::CreateQuickRoute {
            request(json!({"documentId": id, "employeeId": SENDER_EMPLOYEE_ID,
                "route": {"external": {"nodes": nodes}}}))
        };
        for bad in [
            json!([]),
            json!([node(0, "12345", true)]),
            json!([node(0, "100740000000", true)]),
            json!([node(0, COUNTERPARTY_BIN, true), node(1, COUNTERPARTY_BIN, true)]),
            json!([{"counterpartyBin": COUNTERPARTY_BIN, "counterpartyEmails": ["nope"]}]),
        ] {
            let refused = state.create_quick_route(A, route(bad.clone())).unwrap_err();
            assert_eq!(refused.code, ErrorCode::ValidationError, "{bad}");
        }
        let wrong_employee: wire::CreateQuickRoute = request(json!({"documentId": id,
            "employeeId": COUNTERPARTY_EMPLOYEE_ID, "route": {"external": {"nodes": [node(0, COUNTERPARTY_BIN, true)]}}}));
        assert_eq!(
            state.create_quick_route(A, wrong_employee).unwrap_err().code,
            ErrorCode::ValidationError
        );
        assert_eq!(
            state
                .create_quick_route(B, route(json!([node(0, COUNTERPARTY_BIN, true)])))
                .unwrap_err()
                .code,
            ErrorCode::ResourceNotFound,
            "B cannot see A's draft"
        );
        sign_as(&mut state, A, Side::Outbox, &id).unwrap();
        let late = state
            .create_quick_route(A, route(json!([node(0, COUNTERPARTY_BIN, true)])))
            .unwrap_err();
        assert!(late.message.contains("DRAFT"), "{}", late.message);
    }
}
