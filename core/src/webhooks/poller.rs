//! The accounts a listener polls: for each, every `poll_ms` the envelopes the journal knows as
//! sent and not final are refreshed ([`crate::Client::poll`]) and, when the provider declares
//! a change list (capability `changes`), its feed is followed ([`crate::Client::follow_changes`]);
//! what changed joins the listener's one event stream. Acknowledged events older than the
//! retention are pruned hourly.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Result;
use crate::journal::Journal;
use crate::transport::TransportConfig;
use crate::{Client, ClientConfig};

/// One account a listener polls (`accounts` of the listener configuration): the account's
/// client configuration (its journal is the listener's) and how often to poll it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolledAccount {
    pub provider: String,
    #[serde(default = "default_account")]
    pub account: String,
    #[serde(default)]
    pub transport: TransportConfig,
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Milliseconds between two polls; 0: never. Default 60 000, but 0 for ArqSign, whose
    /// contract allows a few hundred requests a month (`arqsign.md` §9) and which sends
    /// webhooks instead.
    pub poll_ms: Option<u64>,
}

fn default_account() -> String {
    "default".into()
}

/// Default interval between two polls of an account.
const DEFAULT_POLL: Duration = Duration::from_secs(60);

/// The most change-list batches followed in one round (each waits for the host's acks).
const FEED_BATCHES: usize = 16;

/// How often acknowledged events past the retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl PolledAccount {
    /// The interval, None when polling is off.
    pub fn interval(&self) -> Option<Duration> {
        let ms = self.poll_ms.unwrap_or(if self.provider == "arqsign" {
            0
        } else {
            DEFAULT_POLL.as_millis() as u64
        });
        (ms > 0).then(|| Duration::from_millis(ms.max(10)))
    }

    /// The account's client, over the listener's journal.
    pub fn client(&self, journal: &Journal) -> Result<Client> {
        let config = ClientConfig {
            provider: self.provider.clone(),
            account: self.account.clone(),
            transport: self.transport.clone(),
            settings: self.settings.clone(),
            journal: Default::default(),
        };
        Client::with_journal(config, journal.clone())
    }
}

/// One round for one account: a poll, then the change list's batches.
pub async fn round(client: &Client) {
    match client.poll().await {
        Ok((asked, failed)) if asked > 0 => {
            tracing::debug!(target: "signbridge::poller", provider = client.provider_id(),
                account = client.account(), asked, failed, "polled");
        }
        Ok(_) => {}
        Err(e) => tracing::error!(target: "signbridge::poller", provider = client.provider_id(),
            account = client.account(), error = %e, "poll failed"),
    }
    if !client.capability().changes {
        return;
    }
    for _ in 0..FEED_BATCHES {
        match client.follow_changes().await {
            Ok(step) if step.pulled > 0 && step.awaiting_acks == 0 => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(target: "signbridge::poller", provider = client.provider_id(),
                    account = client.account(), error = %e, "change list failed");
                break;
            }
        }
    }
}

/// Polls `client` every `every` until `stop` resolves (a round in progress is finished).
pub async fn run(
    client: Arc<Client>,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        round(&client).await;
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Prunes the journal's acknowledged events older than `retention` now and hourly, until
/// `stop` resolves.
pub async fn prune(
    journal: Journal,
    retention: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        match journal.prune_events(retention).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(target: "signbridge::poller", pruned = n, "acknowledged events pruned")
            }
            Err(e) => tracing::error!(target: "signbridge::poller", error = %e, "pruning failed"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
