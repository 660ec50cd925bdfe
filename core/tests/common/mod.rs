//! What the end-to-end suites share (the behaviour suite and the provider suites): a sandbox
//! and a client per test, a fast transport, and request-log helpers.

#![allow(dead_code)] // each test crate uses its own part of this module

use signbridge::{Client, ClientConfig, TransportConfig};
use signbridge_sandbox::{Control, RecordedRequest, Sandbox};

/// A running sandbox and one client of it.
pub struct Env {
    pub sandbox: Sandbox,
    pub control: Control,
    pub client: Client,
}

impl Env {
    /// A fresh sandbox and a `provider` client for it, with the settings `settings` gives for
    /// the sandbox's base URL, `overrides` laid over them (null removes a setting).
    pub async fn start(
        provider: &str,
        settings: impl FnOnce(&str) -> serde_json::Value,
        overrides: serde_json::Value,
        transport: TransportConfig,
    ) -> Env {
        let sandbox =
            Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = client(provider, settings(&sandbox.base_url()), overrides, transport);
        Env { control: sandbox.control(), sandbox, client }
    }

    /// Every provider request the sandbox received so far.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        self.control.requests().await.unwrap()
    }
}

pub fn client(
    provider: &str,
    mut settings: serde_json::Value,
    overrides: serde_json::Value,
    transport: TransportConfig,
) -> Client {
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            settings.as_object_mut().unwrap().remove(k);
        } else {
            settings[k] = v.clone();
        }
    }
    Client::new(ClientConfig {
        provider: provider.into(),
        account: "test".into(),
        transport,
        settings,
        journal: signbridge::journal::JournalConfig::in_memory(),
    })
    .unwrap()
}

/// Short backoff and no client-side rate limit, so fault tests run quickly.
pub fn fast_transport() -> TransportConfig {
    TransportConfig {
        backoff_initial_ms: 20,
        backoff_max_ms: 200,
        rate_limit_per_second: 0.0,
        ..TransportConfig::default()
    }
}

/// Requests with `method` whose path contains `path_part` (case-insensitive).
pub fn count(reqs: &[RecordedRequest], method: &str, path_part: &str) -> usize {
    let part = path_part.to_lowercase();
    reqs.iter().filter(|r| r.method == method && r.path.to_lowercase().contains(&part)).count()
}
