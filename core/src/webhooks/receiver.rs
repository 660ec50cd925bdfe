//! The receiver: one entry point for every delivery, whatever web server carries it.
//!
//! [`Receiver::handle`] answers, in this order:
//!
//! | status | when |
//! |---|---|
//! | 404 | no route for (source, account) |
//! | 405 | not a POST (`Allow: POST`) |
//! | 413 | the body is over the source's limit |
//! | 401 | the credential or signature does not check out (nothing is stored) |
//! | 400 | only where the source's contract says a body is unusable (SINtegre §3.6) |
//! | 503 | the journal could not commit the delivery: the sender is to send it again |
//! | 200 | the delivery (or an earlier copy of it) is committed |
//!
//! A 2xx is answered only after the journal committed the delivery and its events, so an
//! acknowledged delivery survives a crash; a duplicate is counted and answered 200 too, or a
//! sender would keep resending it. What was received is logged with source, account, status
//! and key; never a body, a credential or a link.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Headers, Source};
use crate::error::{Error, Result};
use crate::events::EventStream;
use crate::journal::{InboxEntry, Ingested, Journal, JournalConfig};
use crate::model::Event;

/// How to build a [`Receiver`]: its journal and its routes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The journal the inbox and the event stream live in; `SIGNBRIDGE_JOURNAL` in the
    /// environment sets its path.
    #[serde(default)]
    pub journal: JournalConfig,
    pub routes: Vec<RouteConfig>,
}

/// One route: deliveries of `source` for `account`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub source: String,
    pub account: String,
    /// The source's settings (see each source's documentation).
    #[serde(default)]
    pub settings: serde_json::Value,
}

impl ReceiverConfig {
    /// From JSON, then [`ReceiverConfig::apply_env`]; a field that does not fit is a
    /// validation error naming it.
    pub fn from_json(text: &str) -> Result<ReceiverConfig> {
        let mut de = serde_json::Deserializer::from_str(text);
        let mut config: ReceiverConfig = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Error::validation(e.path().to_string(), e.inner()))?;
        config.apply_env();
        Ok(config)
    }

    /// `SIGNBRIDGE_JOURNAL` in the environment sets the journal's path.
    pub fn apply_env(&mut self) {
        if let Some(path) = std::env::var_os("SIGNBRIDGE_JOURNAL") {
            self.journal.path = Some(path.into());
        }
    }
}

/// What to answer the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// A small JSON object.
    pub body: String,
}

impl Reply {
    fn new(status: u16, body: serde_json::Value) -> Reply {
        let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        Reply { status, headers, body: body.to_string() }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::new(status, serde_json::json!({ "error": message }))
    }

    fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Receives the deliveries of its routes into the journal, and hands their events to the host.
/// `Send + Sync`; share it between the threads of a web server.
pub struct Receiver {
    routes: BTreeMap<(String, String), Arc<dyn Source>>,
    journal: Journal,
    events: EventStream,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("journal", &self.journal)
            .finish()
    }
}

impl Receiver {
    /// Builds every route's source and opens the journal (blocking briefly).
    pub fn new(config: ReceiverConfig) -> Result<Receiver> {
        let journal = Journal::open(&config.journal)?;
        Receiver::with_journal(config.routes, journal)
    }

    /// A receiver of `routes` over a journal already open (e.g. a client's).
    pub fn with_journal(config: Vec<RouteConfig>, journal: Journal) -> Result<Receiver> {
        let mut routes = BTreeMap::new();
        for (i, route) in config.into_iter().enumerate() {
            let source = super::build(&route.source, &route.account, route.settings)
                .map_err(|e| e.with_context("route", i))?;
            let key = (route.source, route.account);
            if routes.insert(key.clone(), source).is_some() {
                return Err(Error::validation(
                    format!("routes[{i}]"),
                    format!("a second route for {}/{}", key.0, key.1),
                ));
            }
        }
        let events = EventStream::new(journal.clone(), routes.keys().cloned().collect());
        Ok(Receiver { routes, journal, events })
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The same receiver whose event stream also carries the events of these (provider,
    /// account) pairs (the accounts a listener polls), so that the host has one stream.
    pub fn with_accounts(
        mut self,
        accounts: impl IntoIterator<Item = (String, String)>,
    ) -> Receiver {
        let mut scope: Vec<(String, String)> = self.routes.keys().cloned().collect();
        scope.extend(accounts);
        self.events = EventStream::new(self.journal.clone(), scope);
        self
    }

    /// Handles one delivery to the route (`source`, `account`): see the module docs for what
    /// it answers. Never fails: every outcome is a reply.
    pub async fn handle(
        &self,
        source: &str,
        account: &str,
        method: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Reply {
        self.handle_at(source, account, method, headers, body, Utc::now()).await
    }

    async fn handle_at(
        &self,
        source: &str,
        account: &str,
        method: &str,
        headers: &Headers,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Reply {
        let Some(route) = self.routes.get(&(source.to_owned(), account.to_owned())) else {
            return Reply::error(404, "no such webhook route");
        };
        let log = |status: u16, what: &str| {
            tracing::info!(target: "signbridge::webhooks", source = route.id(),
                account = route.account(), status, "{what}");
        };
        if !method.eq_ignore_ascii_case("POST") {
            log(405, "not a POST");
            return Reply::error(405, "only POST is accepted").with_header("Allow", "POST");
        }
        if body.len() > route.body_limit() {
            log(413, "body over the limit");
            return Reply::error(413, &format!("the body is over {} bytes", route.body_limit()));
        }
        if let Err(denied) = route.authenticate(headers, body) {
            tracing::warn!(target: "signbridge::webhooks", source = route.id(),
                account = route.account(), reason = denied.reason, "delivery refused: 401");
            let reply = Reply::error(401, "not authenticated");
            return match denied.challenge {
                Some(challenge) => reply.with_header("WWW-Authenticate", challenge),
                None => reply,
            };
        }
        let delivery = match route.parse(headers, body, received) {
            Ok(delivery) => delivery,
            Err(malformed) => {
                log(400, &malformed.0);
                return Reply::error(400, &malformed.0);
            }
        };
        let content_group = delivery.link.as_ref().and_then(|l| l.group.clone());
        let link = match delivery.link {
            None => None,
            Some(l) => match route.seal_link(&l.url) {
                Some(sealed) => Some((sealed, l.expires_at)),
                None => {
                    tracing::error!(target: "signbridge::webhooks", source = route.id(),
                        account = route.account(), "the link could not be sealed: 503");
                    return Reply::error(503, "the delivery could not be stored; send it again")
                        .with_header("Retry-After", "30");
                }
            },
        };
        let entry = InboxEntry {
            source: route.id().to_owned(),
            account: route.account().to_owned(),
            key: delivery.key,
            body: delivery.body,
            headers: headers.redacted(),
            flags: delivery.flags,
            link,
            content_group,
            events: delivery.events,
        };
        match self.journal.ingest(&entry).await {
            Ok(Ingested::New) => {
                self.events.committed();
                tracing::info!(target: "signbridge::webhooks", source = route.id(),
                    account = route.account(), key = %entry.key, flags = ?entry.flags,
                    "delivery kept");
                Reply::new(200, serde_json::json!({"received": true, "duplicate": false}))
            }
            Ok(Ingested::Duplicate { deliveries }) => {
                tracing::info!(target: "signbridge::webhooks", source = route.id(),
                    account = route.account(), key = %entry.key, deliveries,
                    "duplicate delivery counted");
                Reply::new(200, serde_json::json!({"received": true, "duplicate": true}))
            }
            Err(e) => {
                tracing::error!(target: "signbridge::webhooks", source = route.id(),
                    account = route.account(), error = %e, "delivery not stored: 503");
                Reply::error(503, "the delivery could not be stored; send it again")
                    .with_header("Retry-After", "30")
            }
        }
    }

    /// The oldest event of the receiver's routes not yet acknowledged nor handed out by this
    /// receiver; see [`crate::Client::next_event`].
    pub async fn next_event(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        self.events.next(timeout).await
    }

    /// Acknowledges the event `id`: true if acked now, false if acked before.
    pub async fn ack_event(&self, id: &str) -> Result<bool> {
        self.events.ack(id).await
    }

    /// The routes' events from `since`, acknowledged or not, oldest first, at most `limit`;
    /// see [`crate::Client::replay_events`].
    pub async fn replay_events(
        &self,
        since: crate::Since,
        limit: usize,
    ) -> Result<Vec<crate::journal::StoredEvent>> {
        self.events.replay(since, limit).await
    }
}
