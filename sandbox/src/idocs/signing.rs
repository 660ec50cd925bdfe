//! Signing (contract §4): the content to sign with its idempotency ticket (T3/T5), the
//! quick-sign save under the ticket rules of §4.3 (T4/T6), and ticket expiry.

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::blobs::BlobKind;
use super::company::CompanyIndex;
use super::download;
use super::model::{Role, Side, Signature, Stage, Ticket, waits_for_recipient};
use super::refusal::{Checked, Refusal};
use super::state::{State, after};
use super::wire;
use crate::cms_check as cms;
use crate::ids::{new_guid, normalize_guid};

/// What a quick-sign save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Saved {
    Recorded,
    /// The same ticket and signature again: nothing changed.
    Replayed,
}

impl State {
    /// T3/T5: the content to sign and a fresh ticket.
    pub fn generate(
        &mut self,
        company: CompanyIndex,
        side: Side,
        request: wire::GenerateSignContent,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Checked<wire::SignContent> {
        let index = match side {
            Side::Outbox => self.outbox_document(company, request.document_id.as_deref())?,
            Side::Inbox => self.inbox_document(company, request.document_id.as_deref())?.0,
        };
        let employee =
            self.employee(company, request.signed_by_employee_id.as_deref(), "signedByEmployeeId")?;
        self.content(index)?;
        let ticket = Ticket {
            value: new_guid(),
            content_id: new_guid(),
            document_id: self.documents[index].id.clone(),
            company,
            employee_id: employee,
            side,
            issued_on: now,
            dispose_on: after(now, self.config.ticket_ttl),
            used_blob: None,
        };
        let answer = wire::SignContent {
            document_id: ticket.document_id.clone(),
            download_link: format!(
                "{origin}/idocs/api/v3/sync/sign-content/download/{}",
                ticket.content_id
            ),
            dispose_on: ticket.dispose_on.timestamp(),
            idempotency_ticket: ticket.value.clone(),
        };
        self.tickets.push(ticket);
        Ok(answer)
    }

    /// The bytes behind a content-to-sign link, for the company it was issued to, until the
    /// ticket expires.
    pub fn sign_content(
        &self,
        company: CompanyIndex,
        content_id: &str,
        now: DateTime<Utc>,
    ) -> Option<(String, Bytes)> {
        let content_id = normalize_guid(content_id);
        let ticket = self.tickets.iter().find(|t| t.content_id == content_id)?;
        if ticket.company != company || ticket.expired(now) {
            return None;
        }
        let document = &self.documents[self.document_index(&ticket.document_id)?];
        let content = document.content.clone()?;
        Some((format!("{}.zip", download::archive_stem(document)), content))
    }

    /// T4/T6: the ticket rules of contract §4.3, the state rules, the CMS check, then the
    /// transition.
    pub fn save_signature(
        &mut self,
        company: CompanyIndex,
        side: Side,
        request: wire::SaveSignature,
        now: DateTime<Utc>,
    ) -> Checked<Saved> {
        let (index, node) = match side {
            Side::Outbox => (self.outbox_document(company, request.document_id.as_deref())?, None),
            Side::Inbox => {
                let (index, node) = self.inbox_document(company, request.document_id.as_deref())?;
                (index, Some(node))
            }
        };
        let employee =
            self.employee(company, request.signed_by_employee_id.as_deref(), "signedByEmployeeId")?;
        let blob_id = request.signature_binary_content.and_then(|c| c.blob_id);
        let blob = self.blobs.get(
            company,
            blob_id.as_deref(),
            "signatureBinaryContent.blobId",
            BlobKind::Signature,
        )?;
        let (blob_id, cms) = (blob.id.clone(), blob.bytes.clone());
        let document_id = self.documents[index].id.clone();

        let ticket = match request
            .idempotency_ticket
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(value) => {
                let position = self.tickets.iter().position(|t| t.value == value);
                let position = position.ok_or_else(|| {
                    Refusal::validation(
                        "idempotencyTicket is unknown: use the ticket of content-to-sign/generate.",
                    )
                })?;
                let ticket = &self.tickets[position];
                if ticket.document_id != document_id
                    || ticket.company != company
                    || ticket.side != side
                {
                    return Err(Refusal::validation(
                        "idempotencyTicket was issued for another document.",
                    ));
                }
                if ticket.employee_id != employee {
                    return Err(Refusal::validation(
                        "idempotencyTicket was issued for another employee (signedByEmployeeId).",
                    ));
                }
                match &ticket.used_blob {
                    Some(used) if *used == blob_id => return Ok(Saved::Replayed),
                    Some(_) => {
                        return Err(Refusal::validation(
                            "idempotencyTicket was already used with another signature.",
                        ));
                    }
                    None => {}
                }
                if ticket.expired(now) {
                    return Err(Refusal::validation(format!(
                        "idempotencyTicket expired at {}; generate the content to sign again.",
                        ticket.dispose_on.timestamp()
                    )));
                }
                Some(position)
            }
            None if self.config.require_ticket => {
                return Err(Refusal::validation("idempotencyTicket is required."));
            }
            None => None,
        };

        let document = &self.documents[index];
        match node {
            None if document.route.is_none() => {
                return Err(Refusal::validation(
                    "The document has no route: create the route before signing.",
                ));
            }
            None if document.stage != Stage::Draft => {
                return Err(Refusal::validation(format!(
                    "Only a document in DRAFT can be signed and sent; this one is {}.",
                    document.status(Role::Sender).name()
                )));
            }
            Some(n) if !waits_for_recipient(document.status(Role::Recipient(n))) => {
                return Err(Refusal::validation(format!(
                    "The document does not wait for the company's signature; it is {}.",
                    document.status(Role::Recipient(n)).name()
                )));
            }
            _ => {}
        }

        let content = self.content(index)?;
        let verify = self.config.verify_signatures;
        let inspected =
            cms::check_signature(&cms, &content, verify).map_err(Refusal::validation)?;
        let signature = Signature {
            side,
            company_bin: self.companies[company].bin.to_owned(),
            employee_id: employee,
            blob_id: Some(blob_id.clone()),
            ticket: ticket.map(|i| self.tickets[i].value.clone()),
            form: Some(inspected.form),
            signer_subject: inspected.signer_subject,
            cms: Some(cms),
            at: now,
        };
        if let Some(i) = ticket {
            self.tickets[i].used_blob = Some(blob_id);
        }
        let document = &mut self.documents[index];
        match node {
            None => document.send(signature, now),
            Some(n) => document.complete(n, signature, now),
        }
        Ok(Saved::Recorded)
    }

    /// Every ticket issued so far expires now; returns how many were still valid.
    pub fn expire_tickets(&mut self, now: DateTime<Utc>) -> usize {
        let mut expired = 0;
        for ticket in self.tickets.iter_mut().filter(|t| !t.expired(now)) {
            ticket.dispose_on = now;
            expired += 1;
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms_check::{Form, testing::cms};
    use crate::idocs::IDocsConfig;
    use crate::idocs::company::{COUNTERPARTY_BIN, SENDER_EMPLOYEE_ID};
    use crate::idocs::test_support::*;
    use crate::idocs::wire::{DocumentStatus, ErrorCode};
    use chrono::TimeDelta;
    use serde_json::json;

    #[test]
    fn the_happy_path_sends_then_finishes() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "SEQUENTIAL", json!([node(0, COUNTERPARTY_BIN, true)]));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Draft));
        assert_eq!(status(&state, B, &id), None, "a draft is the sender's only");

        assert_eq!(sign_as(&mut state, A, Side::Outbox, &id), Ok(Saved::Recorded));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::SentBySender));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::InNew));

        assert_eq!(sign_as(&mut state, B, Side::Inbox, &id), Ok(Saved::Recorded));
        assert_eq!(status(&state, A, &id), Some(DocumentStatus::Finished));
        assert_eq!(status(&state, B, &id), Some(DocumentStatus::Finished));
        let document = &state.documents[0];
        assert_eq!(document.signatures.len(), 2);
        assert_eq!(document.signatures[1].side, Side::Inbox);
    }

    #[test]
    fn tickets_follow_contract_rule_4_3() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let other = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let generate = |state: &mut State, id: &str| {
            state
                .generate(
                    A,
                    Side::Outbox,
                    request(json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID})),
                    "http://s",
                    now(),
                )
                .unwrap()
                .idempotency_ticket
        };
        let ticket = generate(&mut state, &id);
        let other_ticket = generate(&mut state, &other);
        let content = state.content(0).unwrap();
        let signature = |state: &mut State, content: &[u8]| {
            state
                .blobs
                .upload(A, BlobKind::Signature, "s.cms", cms(content, true).into(), now())
                .unwrap()
                .id
                .clone()
        };
        let good = signature(&mut state, &content);
        let save = |state: &mut State, ticket: Option<&str>, blob: &str, at: DateTime<Utc>| {
            state.save_signature(A, Side::Outbox, request(json!({"documentId": id,
                "signedByEmployeeId": SENDER_EMPLOYEE_ID, "signatureBinaryContent": {"blobId": blob},
                "idempotencyTicket": ticket})), at)
        };
        let code = |result: Checked<Saved>| result.unwrap_err().code;
        assert_eq!(code(save(&mut state, Some("bogus"), &good, now())), ErrorCode::ValidationError);
        assert_eq!(
            code(save(&mut state, Some(&other_ticket), &good, now())),
            ErrorCode::ValidationError
        );
        let late = now() + TimeDelta::hours(1);
        assert_eq!(code(save(&mut state, Some(&ticket), &good, late)), ErrorCode::ValidationError);
        let wrong = signature(&mut state, b"PK other content");
        assert_eq!(
            code(save(&mut state, Some(&ticket), &wrong, now())),
            ErrorCode::ValidationError
        );

        assert_eq!(save(&mut state, Some(&ticket), &good, now()), Ok(Saved::Recorded));
        assert_eq!(
            save(&mut state, Some(&ticket), &good, late),
            Ok(Saved::Replayed),
            "a replay is a no-op even later"
        );
        let again = signature(&mut state, &content);
        assert_eq!(
            code(save(&mut state, Some(&ticket), &again, now())),
            ErrorCode::ValidationError
        );
        assert_eq!(state.documents[0].signatures.len(), 1);
        assert_eq!(state.tickets[0].used_blob.as_deref(), Some(good.as_str()));
    }

    #[test]
    fn a_missing_ticket_is_lenient_unless_required() {
        let config = IDocsConfig { require_ticket: true, ..IDocsConfig::default() };
        let mut state = State::new(config, now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let content = state.content(0).unwrap();
        let blob = state
            .blobs
            .upload(A, BlobKind::Signature, "s.cms", cms(&content, false).into(), now())
            .unwrap()
            .id
            .clone();
        let body = json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID,
            "signatureBinaryContent": {"blobId": blob}});
        assert!(state.save_signature(A, Side::Outbox, request(body.clone()), now()).is_err());
        state.config.require_ticket = false;
        assert_eq!(
            state.save_signature(A, Side::Outbox, request(body), now()),
            Ok(Saved::Recorded)
        );
        assert_eq!(state.documents[0].signatures[0].form, Some(Form::Detached));
    }

    #[test]
    fn expired_tickets_close_their_links() {
        let mut state = State::new(IDocsConfig::default(), now());
        let id = draft(&mut state, "NONE", json!([node(0, COUNTERPARTY_BIN, true)]));
        let generated = state
            .generate(
                A,
                Side::Outbox,
                request(json!({"documentId": id, "signedByEmployeeId": SENDER_EMPLOYEE_ID})),
                "http://s",
                now(),
            )
            .unwrap();
        let content_id = generated.download_link.rsplit('/').next().unwrap().to_owned();
        assert!(
            generated
                .download_link
                .starts_with("http://s/idocs/api/v3/sync/sign-content/download/")
        );
        assert!(state.sign_content(A, &content_id, now()).unwrap().1.starts_with(b"PK\x03\x04"));
        assert!(state.sign_content(B, &content_id, now()).is_none(), "another company's link");
        assert_eq!(state.expire_tickets(now()), 1);
        assert!(state.sign_content(A, &content_id, now()).is_none());
        assert_eq!(state.expire_tickets(now()), 0);
    }
}
