//! The iDocs simulator's state (contract §7.1): one store of companies, blobs, documents,
//! tickets and async operations, and the lookups every operation shares.
//!
//! The operations extend [`State`] in one module per concern: [`super::drafts`] (T1),
//! [`super::routes`] (T2, T9), [`super::signing`] (T3–T6 and tickets), [`super::queries`]
//! (lists, details, bulk download), [`super::ui`] (what people do in the iDocs web UI, driven by
//! control routes) and [`super::bulk`] (async operations). The types they work on are in
//! [`super::model`] and [`super::blobs`].

use axum::body::Bytes;
use chrono::{DateTime, TimeDelta, Utc};

use super::IDocsConfig;
use super::blobs::Blobs;
use super::company::{Company, CompanyIndex, seeded};
use super::download::{self, Names};
use super::model::{Document, Operation, Role, Ticket};
use super::refusal::{Checked, Refusal, required_guid};
use crate::files::LinkStore;
use crate::ids::normalize_guid;

pub(crate) struct State {
    pub config: IDocsConfig,
    pub companies: Vec<Company>,
    /// When the sandbox started: the seeded employees' `createdOn`.
    pub started: DateTime<Utc>,
    pub blobs: Blobs,
    /// In creation order.
    pub documents: Vec<Document>,
    pub tickets: Vec<Ticket>,
    /// Async operations in push order (see `bulk`).
    pub operations: Vec<Operation>,
    /// Files behind bulk-download links.
    pub links: LinkStore,
    /// Webhook subscriptions and what their subscribers last saw.
    pub hooks: super::webhooks::Hooks,
}

/// `now` plus `ttl`, saturating at the largest date.
pub(super) fn after(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl State {
    pub fn new(config: IDocsConfig, now: DateTime<Utc>) -> State {
        State {
            companies: seeded(config.token.clone(), config.counterparty_token.clone()),
            config,
            started: now,
            blobs: Blobs::default(),
            documents: Vec::new(),
            tickets: Vec::new(),
            operations: Vec::new(),
            links: LinkStore::default(),
            hooks: Default::default(),
        }
    }

    /// The company a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<CompanyIndex> {
        self.companies.iter().position(|c| c.token == token)
    }

    pub fn company_by_bin(&self, bin: &str) -> Option<CompanyIndex> {
        self.companies.iter().position(|c| c.bin == bin)
    }

    /// An employee of `company`, by a required GUID field.
    pub(super) fn employee(
        &self,
        company: CompanyIndex,
        id: Option<&str>,
        field: &str,
    ) -> Checked<String> {
        let id = required_guid(id, field)?;
        let company = &self.companies[company];
        if company.employee(&id).is_none() {
            return Err(Refusal::validation(format!(
                "{field} {id} is not an employee of the company with BIN {}.",
                company.bin
            )));
        }
        Ok(id)
    }

    pub fn document_index(&self, id: &str) -> Option<usize> {
        let id = normalize_guid(id);
        self.documents.iter().position(|d| d.id == id)
    }

    /// A document `company` sees, and how it sees it.
    pub fn visible(&self, company: CompanyIndex, id: &str) -> Option<(usize, Role)> {
        let index = self.document_index(id)?;
        let role = self.documents[index].role(company, self.companies[company].bin)?;
        Some((index, role))
    }

    /// The caller's outgoing document named by a request.
    pub(super) fn outbox_document(
        &self,
        company: CompanyIndex,
        id: Option<&str>,
    ) -> Checked<usize> {
        let id = required_guid(id, "documentId")?;
        match self.visible(company, &id) {
            Some((index, Role::Sender)) => Ok(index),
            _ => Err(Refusal::not_found(format!("Outgoing document {id} was not found."))),
        }
    }

    /// The caller's incoming document named by a request, with the caller's route node.
    pub(super) fn inbox_document(
        &self,
        company: CompanyIndex,
        id: Option<&str>,
    ) -> Checked<(usize, usize)> {
        let id = required_guid(id, "documentId")?;
        match self.visible(company, &id) {
            Some((index, Role::Recipient(node))) => Ok((index, node)),
            _ => Err(Refusal::not_found(format!("Incoming document {id} was not found."))),
        }
    }

    /// The content to sign of document `index`, built on first use.
    pub(super) fn content(&mut self, index: usize) -> Checked<Bytes> {
        let document = &mut self.documents[index];
        if let Some(content) = &document.content {
            return Ok(content.clone());
        }
        let content =
            Bytes::from(download::content_zip(&document.files).map_err(Refusal::internal)?);
        document.content = Some(content.clone());
        Ok(content)
    }

    pub fn names(&self) -> Names {
        Names {
            companies: self
                .companies
                .iter()
                .map(|c| (c.bin.to_owned(), c.name.to_owned()))
                .collect(),
            employees: self
                .companies
                .iter()
                .flat_map(|c| &c.employees)
                .map(|e| (e.id.to_owned(), e.full_name()))
                .collect(),
        }
    }
}
