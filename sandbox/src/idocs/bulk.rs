//! Async mass operations (contract §2.7, §2.8, §7.3): every push route has a companion
//! `…/status` route, and each pushed item runs the same logic as its synchronous twin.
//!
//! A push checks only the envelope (`operations`, at most `max_bulk_items`) and answers each
//! item `Created`. An item is due `async_delay` after its push (0 by default). Any status poll
//! or registry read first runs every due item, in push order; a poll of an item not yet due
//! answers `InProcessing`. A run ends `CompletedWithOk` with the twin's answer as `data`,
//! `CompletedWithProcessingError` with the twin's errors, or
//! `CompletedWithProcessingException` when the sandbox itself failed. The control route
//! `POST /__sandbox/idocs/operations/complete` runs everything pending at once.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::company::CompanyIndex;
use super::model::{Kind, Operation, Side};
use super::queries::page;
use super::refusal::Refusal;
use super::state::State;
use super::wire::{self, AsyncStatus, ErrorCode};
use crate::aspnet;
use crate::ids::{is_guid, new_guid, normalize_guid};

/// Binds an item's `data` as the sync twin binds its body.
fn request<T: DeserializeOwned>(data: Option<&Value>) -> Result<T, Refusal> {
    let data =
        data.filter(|d| !d.is_null()).ok_or_else(|| Refusal::validation("data is required."))?;
    aspnet::bind(data.to_string().as_bytes()).map_err(|e| Refusal::validation(format!("data: {e}")))
}

fn answer<T: Serialize>(value: T) -> Result<Value, Refusal> {
    serde_json::to_value(value)
        .map_err(|e| Refusal::internal(format!("could not write the result: {e}")))
}

impl State {
    /// Accepts a push of `kind`: one `Created` operation per item.
    pub fn push(
        &mut self,
        company: CompanyIndex,
        kind: Kind,
        body: wire::BulkPush,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<wire::Operations, Refusal> {
        let items = body.operations.unwrap_or_default();
        if items.is_empty() {
            return Err(Refusal::validation("operations must have at least one item."));
        }
        let limit = self.config.max_bulk_items;
        if items.len() > limit {
            return Err(Refusal::validation(format!(
                "At most {limit} operations per push; got {}.",
                items.len()
            )));
        }
        let due = TimeDelta::from_std(self.config.async_delay)
            .ok()
            .and_then(|delay| now.checked_add_signed(delay))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let operation = Operation {
                id: new_guid(),
                company,
                kind,
                data: item.data,
                origin: origin.to_owned(),
                created_on: now,
                due,
                status: AsyncStatus::Created,
                completed_on: None,
                result: None,
                errors: None,
            };
            answers.push(wire::OperationStatus { data: Some(json!({})), ..operation.view() });
            self.operations.push(operation);
        }
        Ok(wire::Operations { operations: answers })
    }

    /// The companion `…/status` of `kind`: runs what is due, then reports each id asked for.
    /// Ids that are unknown, of another company or of another kind are `NotFound`.
    pub fn poll(
        &mut self,
        company: CompanyIndex,
        kind: Kind,
        body: wire::BulkStatus,
        now: DateTime<Utc>,
    ) -> Result<wire::Operations, Refusal> {
        let items = body.operations.unwrap_or_default();
        if items.is_empty() {
            return Err(Refusal::validation("operations must have at least one item."));
        }
        self.run_due(now, false);
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let asked = item.operation_id.unwrap_or_default();
            let id = normalize_guid(&asked);
            let found = is_guid(&id)
                .then(|| {
                    self.operations
                        .iter_mut()
                        .find(|o| o.id == id && o.company == company && o.kind == kind)
                })
                .flatten();
            let answer = match found {
                Some(operation) => {
                    if operation.status == AsyncStatus::Created {
                        operation.status = AsyncStatus::InProcessing;
                    }
                    operation.view()
                }
                None => wire::OperationStatus {
                    operation_id: asked,
                    created_on: None,
                    completed_on: None,
                    operation_status: AsyncStatus::NotFound,
                    data: None,
                    operation_errors: None,
                },
            };
            answers.push(answer);
        }
        Ok(wire::Operations { operations: answers })
    }

    /// `/api/v3/sync/bulk/operations`: every operation of `company`, newest first, `data`
    /// left empty as the swagger types it.
    pub fn operations_page(
        &mut self,
        company: CompanyIndex,
        query: wire::PageQuery,
        now: DateTime<Utc>,
    ) -> Result<wire::Page<wire::OperationStatus>, Refusal> {
        self.run_due(now, false);
        let items: Vec<wire::OperationStatus> = self
            .operations
            .iter()
            .rev()
            .filter(|o| o.company == company)
            .map(|o| wire::OperationStatus { data: Some(json!({})), ..o.view() })
            .collect();
        page(items, query.skip, query.top)
    }

    /// Runs pending operations in push order: the due ones, or all with `force`. Returns how
    /// many ran.
    pub fn run_due(&mut self, now: DateTime<Utc>, force: bool) -> usize {
        let mut ran = 0;
        for index in 0..self.operations.len() {
            let operation = &self.operations[index];
            if !operation.pending() || !(force || operation.due <= now) {
                continue;
            }
            let (company, kind, origin) =
                (operation.company, operation.kind, operation.origin.clone());
            let data = operation.data.clone();
            let outcome = self.execute(company, kind, data.as_ref(), &origin, now);
            let operation = &mut self.operations[index];
            operation.completed_on = Some(now);
            match outcome {
                Ok(result) => {
                    operation.status = AsyncStatus::CompletedWithOk;
                    operation.result = Some(result);
                }
                Err(refusal) => {
                    operation.status = if refusal.code == ErrorCode::InternalServerError {
                        AsyncStatus::CompletedWithProcessingException
                    } else {
                        AsyncStatus::CompletedWithProcessingError
                    };
                    operation.errors = Some(vec![refusal.to_wire()]);
                }
            }
            ran += 1;
        }
        ran
    }

    /// The sync twin of `kind`, with its answer as the result `data`.
    fn execute(
        &mut self,
        company: CompanyIndex,
        kind: Kind,
        data: Option<&Value>,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, Refusal> {
        let empty = || answer(wire::Empty {});
        match kind {
            Kind::OutboxCreate => answer(self.create_document(company, request(data)?, now)?),
            Kind::OutboxRoute => self.create_route(company, request(data)?).and_then(|()| empty()),
            Kind::OutboxQuickRoute => {
                self.create_quick_route(company, request(data)?).and_then(|()| empty())
            }
            Kind::OutboxGenerate => {
                answer(self.generate(company, Side::Outbox, request(data)?, origin, now)?)
            }
            Kind::OutboxSave => self
                .save_signature(company, Side::Outbox, request(data)?, now)
                .and_then(|_| empty()),
            Kind::InboxRoute => {
                self.create_inbox_route(company, request(data)?).and_then(|()| empty())
            }
            Kind::InboxGenerate => {
                answer(self.generate(company, Side::Inbox, request(data)?, origin, now)?)
            }
            Kind::InboxSave => {
                self.save_signature(company, Side::Inbox, request(data)?, now).and_then(|_| empty())
            }
            Kind::Download => answer(self.download_link(company, request(data)?, origin, now)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idocs::IDocsConfig;
    use crate::idocs::blobs::BlobKind;
    use crate::idocs::company::SENDER_EMPLOYEE_ID;

    fn push_body(items: Vec<Value>) -> wire::BulkPush {
        aspnet::bind(json!({"operations": items.into_iter().map(|d| json!({"data": d})).collect::<Vec<_>>()}).to_string().as_bytes()).unwrap()
    }

    fn status_body(ids: &[&str]) -> wire::BulkStatus {
        let items: Vec<Value> = ids.iter().map(|id| json!({"operationId": id})).collect();
        aspnet::bind(json!({"operations": items}).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_create_completes_on_the_next_poll() {
        let now = Utc::now();
        let mut state = State::new(IDocsConfig::default(), now);
        let blob = state
            .blobs
            .upload(0, BlobKind::Document, "a.pdf", "%PDF-1.7".into(), now)
            .unwrap()
            .id
            .clone();
        let good = json!({"documentMetadata": {"documentName": "A", "documentNumber": "1",
            "documentDate": 1718780400, "documentGroup": "Accounting",
            "documentAuthorEmployeeId": SENDER_EMPLOYEE_ID},
            "documentBinaryContents": [{"blobId": blob}]});
        let pushed = state
            .push(0, Kind::OutboxCreate, push_body(vec![good, json!({})]), "http://x", now)
            .unwrap();
        let ids: Vec<String> = pushed.operations.iter().map(|o| o.operation_id.clone()).collect();
        assert!(pushed.operations.iter().all(|o| o.operation_status == AsyncStatus::Created));

        let polled = state
            .poll(0, Kind::OutboxCreate, status_body(&[&ids[0], &ids[1], "nope"]), now)
            .unwrap();
        let statuses: Vec<AsyncStatus> =
            polled.operations.iter().map(|o| o.operation_status).collect();
        assert_eq!(
            statuses,
            [
                AsyncStatus::CompletedWithOk,
                AsyncStatus::CompletedWithProcessingError,
                AsyncStatus::NotFound
            ]
        );
        assert_eq!(polled.operations[0].data.as_ref().unwrap()["documentStatus"], "DRAFT");
        assert_eq!(state.documents.len(), 1);

        // Another kind's companion, or another company, does not see it.
        let other = state.poll(0, Kind::OutboxRoute, status_body(&[&ids[0]]), now).unwrap();
        assert_eq!(other.operations[0].operation_status, AsyncStatus::NotFound);
        let other = state.poll(1, Kind::OutboxCreate, status_body(&[&ids[0]]), now).unwrap();
        assert_eq!(other.operations[0].operation_status, AsyncStatus::NotFound);
    }

    #[test]
    fn a_delay_keeps_items_in_processing_until_due() {
        let now = Utc::now();
        let config = IDocsConfig {
            async_delay: std::time::Duration::from_secs(60),
            ..IDocsConfig::default()
        };
        let mut state = State::new(config, now);
        let pushed = state
            .push(0, Kind::OutboxQuickRoute, push_body(vec![json!({})]), "http://x", now)
            .unwrap();
        let id = pushed.operations[0].operation_id.clone();
        let polled = state.poll(0, Kind::OutboxQuickRoute, status_body(&[&id]), now).unwrap();
        assert_eq!(polled.operations[0].operation_status, AsyncStatus::InProcessing);
        let later = now + TimeDelta::seconds(61);
        let polled = state.poll(0, Kind::OutboxQuickRoute, status_body(&[&id]), later).unwrap();
        assert_eq!(
            polled.operations[0].operation_status,
            AsyncStatus::CompletedWithProcessingError
        );
        let errors = polled.operations[0].operation_errors.as_ref().unwrap();
        assert_eq!(errors[0].error_code, ErrorCode::ValidationError);
    }

    #[test]
    fn pushes_are_bounded() {
        let now = Utc::now();
        let config = IDocsConfig { max_bulk_items: 2, ..IDocsConfig::default() };
        let mut state = State::new(config, now);
        assert!(state.push(0, Kind::Download, push_body(vec![]), "", now).is_err());
        let three = push_body(vec![json!({}), json!({}), json!({})]);
        assert_eq!(
            state.push(0, Kind::Download, three, "", now).unwrap_err().code,
            ErrorCode::ValidationError
        );
    }
}
