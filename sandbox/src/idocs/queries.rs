//! Reads: one document as a viewer sees it, the outbox and inbox lists (contract §2.4) and
//! the bulk-download link (§2.8).

use chrono::{DateTime, Utc};

use super::company::CompanyIndex;
use super::download;
use super::model::{InternalRoute, Role, Side};
use super::refusal::{Checked, Refusal, ZERO_GUID, required_guid};
use super::state::{State, after};
use super::wire::{self, NodeStatus};
use crate::files::Blob as LinkedFile;

/// Page size when `top` is left out (contract §2.0).
const DEFAULT_PAGE: i32 = 10;
/// Largest page the sandbox answers; the real maximum is not documented (contract §6), so a
/// larger `top` is served as this much, and the answer's `top` says so.
const MAX_PAGE: i32 = 100;

/// A page of `items` as `skip`/`top` ask (contract §2.0).
pub(crate) fn page<T>(
    items: Vec<T>,
    skip: Option<i32>,
    top: Option<i32>,
) -> Checked<wire::Page<T>> {
    let skip = skip.unwrap_or(0);
    let top = top.unwrap_or(DEFAULT_PAGE);
    if skip < 0 || top < 0 {
        return Err(Refusal::validation("skip and top must not be negative."));
    }
    let top = top.min(MAX_PAGE);
    let total_size = items.len();
    // Both are non-negative i32 here, so they fit usize.
    let page_items = items.into_iter().skip(skip as usize).take(top as usize).collect();
    Ok(wire::Page { page_items, skip, top, total_size })
}

impl State {
    pub fn extended(&self, index: usize, role: Role) -> wire::DocumentExtended {
        let document = &self.documents[index];
        let state = |status, completed_on: Option<DateTime<Utc>>, reason: Option<&String>| {
            wire::NodeState {
                status,
                completed_on: completed_on.map(|at| at.timestamp()),
                reject_metadata: reason.map(|r| wire::RejectMetadata { reject_reason: r.clone() }),
            }
        };
        let internal_view = |route: &InternalRoute| wire::InternalRouteView {
            route_action_ordering_type: route.ordering,
            nodes: route
                .nodes
                .iter()
                .map(|n| wire::InternalNodeView {
                    order: n.order,
                    employee_id: n.employee_id.clone(),
                    required_action: n.action,
                    state: state(NodeStatus::NotStarted, None, None),
                })
                .collect(),
        };
        let route = document.route.as_ref();
        let external = route.map(|route| wire::ExternalRouteView {
            nodes: route
                .nodes
                .iter()
                .map(|n| wire::ExternalNodeView {
                    order: n.order,
                    counterparty_company_bin: n.bin.clone(),
                    counterparty_company_id: self
                        .company_by_bin(&n.bin)
                        .map_or(ZERO_GUID, |c| self.companies[c].id)
                        .to_owned(),
                    comment: n.comment.clone(),
                    is_individual: n.is_individual,
                    counterparty_company_emails: n.emails.clone(),
                    is_sign_required: n.sign_required,
                    state: state(n.status, n.completed_on, n.reject_reason.as_ref()),
                })
                .collect(),
        });
        // Each company sees its own internal route only.
        let internal = match role {
            Role::Sender => route.and_then(|r| r.internal.as_ref()),
            Role::Recipient(n) => {
                route.and_then(|r| r.nodes.get(n)).and_then(|n| n.internal.as_ref())
            }
        };
        wire::DocumentExtended {
            base: document.base(role),
            document_route: wire::RouteView { external, internal: internal.map(internal_view) },
        }
    }

    /// The outbox or inbox list of `company`, newest first, filtered as `request` asks.
    pub fn query(
        &self,
        company: CompanyIndex,
        side: Side,
        request: wire::QueryDocuments,
    ) -> Checked<wire::Page<wire::DocumentExtended>> {
        let author = match request.document_author_id.as_deref().map(str::trim) {
            None | Some("" | ZERO_GUID) => None,
            Some(id) => Some(required_guid(Some(id), "documentAuthorId")?),
        };
        let statuses = request.document_statuses.unwrap_or_default();
        // 0 (or less) means "no bound".
        let from = request.document_date_from.filter(|d| *d > 0);
        let to = request.document_date_to.filter(|d| *d > 0);
        let bin = self.companies[company].bin;
        let items: Vec<(usize, Role)> = self
            .documents
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(index, document)| {
                let role = document.role(company, bin)?;
                let wanted = match side {
                    Side::Outbox => role == Role::Sender,
                    Side::Inbox => role != Role::Sender,
                };
                let status = document.status(role);
                (wanted
                    && (statuses.is_empty() || statuses.contains(&status))
                    && from.is_none_or(|from| document.date >= from)
                    && to.is_none_or(|to| document.date <= to)
                    && author.as_ref().is_none_or(|a| *a == document.author))
                .then_some((index, role))
            })
            .collect();
        let page = page(items, request.skip, request.top)?;
        Ok(wire::Page {
            page_items: page
                .page_items
                .into_iter()
                .map(|(i, role)| self.extended(i, role))
                .collect(),
            skip: page.skip,
            top: page.top,
            total_size: page.total_size,
        })
    }

    /// The bulk download (contract §2.8): a link to the document or package.
    pub fn download_link(
        &mut self,
        company: CompanyIndex,
        request: wire::DownloadDocument,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Checked<wire::DownloadLink> {
        let id = required_guid(request.document_id.as_deref(), "documentId")?;
        if let Some(employee) = request
            .employee_id
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != ZERO_GUID)
        {
            self.employee(company, Some(employee), "employeeId")?;
        }
        let (index, _) = self
            .visible(company, &id)
            .ok_or_else(|| Refusal::not_found(format!("Document {id} was not found.")))?;
        let (file_name, content_type, bytes) =
            download::package(&self.documents[index]).map_err(Refusal::internal)?;
        let key = self.links.store(LinkedFile { file_name, content_type, bytes });
        Ok(wire::DownloadLink {
            document_id: id,
            download_link: format!("{origin}/idocs-storage/{key}"),
            dispose_on: after(now, self.config.ticket_ttl).timestamp(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::IDocsConfig;
    use crate::idocs::company::COUNTERPARTY_BIN;
    use crate::idocs::test_support::*;
    use crate::idocs::wire::Direction;
    use serde_json::{Value, json};

    #[test]
    fn lists_page_and_filter_per_viewer() {
        let mut state = State::new(IDocsConfig::default(), now());
        let ids: Vec<String> = (0..3)
            .map(|_| draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)])))
            .collect();
        sign_as(&mut state, A, Side::Outbox, &ids[1]).unwrap();
        let query = |state: &State, company, side, body: Value| {
            state.query(company, side, request(body)).unwrap()
        };
        let all = query(&state, A, Side::Outbox, json!({"skip": 0, "top": 2}));
        assert_eq!((all.total_size, all.page_items.len()), (3, 2));
        assert_eq!(all.page_items[0].base.id, ids[2], "newest first");
        let drafts = query(&state, A, Side::Outbox, json!({"documentStatuses": ["DRAFT"]}));
        assert_eq!(drafts.total_size, 2);
        let inbox = query(&state, B, Side::Inbox, json!({"documentStatuses": ["IN_NEW"]}));
        assert_eq!(inbox.total_size, 1);
        assert_eq!(inbox.page_items[0].base.document_direction, Direction::Inbox);
        assert_eq!(query(&state, B, Side::Outbox, json!({})).total_size, 0);
        assert_eq!(query(&state, A, Side::Outbox, json!({"top": 1000})).top, MAX_PAGE);
        assert!(state.query(A, Side::Outbox, request(json!({"skip": -1}))).is_err());
        assert_eq!(
            query(&state, A, Side::Outbox, json!({"documentDateFrom": 1718780401})).total_size,
            0
        );
    }
}
