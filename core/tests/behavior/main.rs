//! The behaviour suite: every scenario against every provider of
//! [`signbridge::providers::PROVIDERS`], each through its [`Harness`] (`tae.rs`, `arqsign.rs`,
//! `idocs.rs`: sandbox settings, a valid envelope, how its parties act through the sandbox's
//! control routes, the routes to break).
//!
//! A scenario is one async function, run once per provider on a sandbox and client of its own,
//! inside one `#[tokio::test]`. It reads the provider's capability record and proves it: a
//! declared operation works, an undeclared one fails as `unsupported` (101) before any request
//! (the sandbox's request log stays empty). Each scenario × provider pair prints one line
//! straight to stderr, past the test harness's capture, so the table shows in every run:
//!
//! ```text
//! behaviour <scenario> <provider>: ok | ok (note) | n/a (why) | known failure (why): …
//!                                  | skipped (SIGNBRIDGE_TEST) | FAILED: …
//! ```
//!
//! A provider without a harness fails every scenario. `SIGNBRIDGE_TEST=tae,idocs` narrows the
//! run to those providers; the others print `skipped`. A pair listed in [`KNOWN_FAILURES`] is
//! run and reported, but does not fail the suite until it passes (then it must leave the list).

use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use futures::future::LocalBoxFuture;
use serde_json::Value;
use signbridge::providers::PROVIDERS;
use signbridge::{
    Capability, Envelope, Error, ErrorKind, Handle, HostSigner, Role, TransportConfig,
};
use signbridge_sandbox::{Control, Fault, RecordedRequest, control};

/// One `#[tokio::test]` per scenario function of the module, running it for every provider.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod run {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run(stringify!($name), |h| Box::pin(super::$name(h))).await;
                }
            )*
        }
    };
}

#[path = "../common/mod.rs"]
mod common;

mod contract;
mod faults;
mod fuzz;
mod hostile;
mod lifecycle;

mod arqsign;
mod idocs;
mod sbis;
mod tae;

pub use common::{Env, fast_transport};

/// The harness of provider `id`. Every id in [`PROVIDERS`] must have one.
fn harness(id: &str) -> Option<&'static dyn Harness> {
    match id {
        "tae" => Some(&tae::Tae),
        "arqsign" => Some(&arqsign::ArqSign),
        "idocs" => Some(&idocs::IDocs),
        "sbis" => Some(&sbis::Sbis),
        _ => None,
    }
}

/// Scenario × provider pairs that fail because of a bug in core (or a simulator still being
/// written), each with why. They run and
/// are reported; a listed pair that passes fails the suite, so the list cannot go stale.
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[];

/// What one provider's sandbox and envelopes look like to the behaviour suite: only what is
/// truly provider-specific. Fault patterns use the sandbox's syntax, with `*` standing for one
/// whole path segment.
#[async_trait]
pub trait Harness: Sync {
    /// The provider id, as in [`PROVIDERS`].
    fn id(&self) -> &'static str;

    /// Client settings for the sandbox at `base` (its root URL), for its seeded account.
    fn settings(&self, base: &str) -> Value;

    /// Setting overrides with which the account keeps no client-side request budget (the
    /// hostile suite makes hundreds of requests).
    fn unbudgeted(&self) -> Value {
        Value::Object(Default::default())
    }

    /// Setting overrides with which the provider refuses the credentials at the first request.
    fn bad_credentials(&self) -> Value;

    /// The host signer `send` needs where the provider declares `send.host_signature`.
    fn signer(&self) -> Option<Arc<dyn HostSigner>> {
        None
    }

    /// A valid envelope: one PDF and the parties who sign it, in no particular order.
    fn envelope(&self, reference: &str) -> Envelope;

    /// `env.parties[party]` signs the sent document `handle` through the control routes.
    async fn sign(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
    ) -> Result<(), control::Error>;

    /// `env.parties[party]` rejects the sent document `handle`, giving `reason`.
    async fn reject(
        &self,
        control: &Control,
        handle: &Handle,
        env: &Envelope,
        party: usize,
        reason: &str,
    ) -> Result<(), control::Error>;

    /// Makes the document's deadline pass; `Err(why)` when the provider's documents have none.
    async fn expire(&self, control: &Control, handle: &Handle) -> Result<(), &'static str>;

    /// How many documents the sandbox holds for this provider (drafts included).
    async fn stored(&self, control: &Control) -> usize;

    /// Why the status of a pending or completed document lists no parties, for a provider
    /// whose status read leaves them out; None when it lists every acting party.
    fn unlisted_parties(&self) -> Option<&'static str> {
        None
    }

    /// Whether `signed` is a ZIP (each file with its detached signatures, where no signature
    /// can live inside the file) rather than the signed PDF.
    fn signed_is_zip(&self) -> bool {
        false
    }

    /// The status read's route.
    fn status_route(&self) -> &'static str;

    /// The plain writes of `send` (never repeated once they may have reached the provider), in
    /// the order `send` makes them. Writes the provider deduplicates by a key are not listed.
    fn send_writes(&self) -> &'static [SendWrite];

    /// The writes of `send` the provider deduplicates by a key they carry: retried, but once
    /// their retries are spent without a clear answer their outcome is unknown too.
    fn keyed_writes(&self) -> &'static [&'static str] {
        &[]
    }

    /// Makes the sandbox refuse every session issued so far and returns the login route, for
    /// providers that log in for a session; `Err(why)` where the credentials themselves go on
    /// every request and there is nothing to log in again with.
    async fn refuse_sessions(&self, control: &Control) -> Result<&'static str, &'static str>;

    /// Arguments of one successful call of provider call `name` about `handle`, a sent and
    /// pending document (a call about something else, such as an incoming document, may have
    /// the sandbox make it first); `None` for a name this harness does not know.
    async fn call_args(&self, control: &Control, name: &str, handle: &Handle) -> Option<Value>;

    /// A webhook delivery telling of a change to `handle`, as the provider's sender posts it
    /// (from its contract): the route's settings, the headers and the body. Only asked of a
    /// provider whose record declares a webhook source.
    fn webhook(&self, handle: &Handle) -> (Value, signbridge::webhooks::Headers, Vec<u8>);
}

/// One plain write of `send`.
pub struct SendWrite {
    pub route: &'static str,
    /// The document exists at the provider when this write goes out, so a failure of it
    /// carries the document's handle. Otherwise this write is the one that creates it.
    pub handle_known: bool,
}

/// How a scenario ended for one provider (a failure is a panic).
pub enum Outcome {
    Ok,
    /// Passed, with what the table should say of how: which side of a capability flag was
    /// proved, or what could not be checked for this provider.
    OkNote(String),
    /// The capability record (or the provider's nature) excludes the scenario: why.
    NotApplicable(String),
}

pub fn not_applicable(why: impl Into<String>) -> Outcome {
    Outcome::NotApplicable(why.into())
}

/// Passed on the side of capability `flag` that the record leaves out.
pub fn undeclared(flag: &str) -> Outcome {
    Outcome::OkNote(format!("{flag} undeclared: refused before any request"))
}

type Scenario = fn(&'static dyn Harness) -> LocalBoxFuture<'static, Outcome>;

/// No scenario needs nearly this long; a hang fails its pair instead of the whole run.
const PAIR_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `scenario` for every provider, prints one line per provider and fails when any failed.
async fn run(name: &str, scenario: Scenario) {
    let only = selection();
    let mut failures = Vec::new();
    for id in PROVIDERS {
        if only.as_ref().is_some_and(|only| !only.iter().any(|o| o == id)) {
            report(name, id, "skipped (SIGNBRIDGE_TEST)");
            continue;
        }
        let Some(h) = harness(id) else {
            report(name, id, "FAILED: no harness (add it to harness() in tests/behavior/main.rs)");
            failures.push(format!("{id}: no harness"));
            continue;
        };
        let ran = tokio::time::timeout(PAIR_TIMEOUT, AssertUnwindSafe(scenario(h)).catch_unwind())
            .await
            .unwrap_or_else(|_| Err(Box::new(format!("did not finish within {PAIR_TIMEOUT:?}"))));
        let known = KNOWN_FAILURES.iter().find(|(s, p, _)| *s == name && p == id).map(|k| k.2);
        let line = match (ran, known) {
            (Ok(Outcome::Ok), None) => "ok".to_string(),
            (Ok(Outcome::OkNote(note)), None) => format!("ok ({note})"),
            (Ok(Outcome::NotApplicable(why)), None) => format!("n/a ({why})"),
            (Err(panic), Some(why)) => format!("known failure ({why}): {}", message(&*panic)),
            (Err(panic), None) => {
                failures.push(format!("{id}: {}", message(&*panic)));
                format!("FAILED: {}", message(&*panic))
            }
            (Ok(_), Some(_)) => {
                failures.push(format!("{id}: listed in KNOWN_FAILURES but did not fail"));
                "FAILED: listed in KNOWN_FAILURES but did not fail; remove it from the list".into()
            }
        };
        report(name, id, &line);
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

/// The providers `SIGNBRIDGE_TEST` names (comma-separated), None when unset; an id that is not
/// a provider is a mistake that would silently run nothing.
fn selection() -> Option<Vec<String>> {
    let only = std::env::var("SIGNBRIDGE_TEST").ok()?;
    let ids: Vec<String> = only.split(',').map(|s| s.trim().to_string()).collect();
    for id in &ids {
        assert!(
            PROVIDERS.contains(&id.as_str()),
            "SIGNBRIDGE_TEST: {id:?} is not one of {PROVIDERS:?}"
        );
    }
    Some(ids)
}

fn report(scenario: &str, provider: &str, line: &str) {
    // Straight to the process's stderr: libtest captures only the print macros, and this table
    // is the suite's result.
    let _ = writeln!(std::io::stderr().lock(), "behaviour {scenario} {provider}: {line}");
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into());
    // One line in the table (an assertion's left and right included).
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

// ---- what scenarios share ----

/// A fresh sandbox and a client of `h`'s provider on it, with its host signer set.
pub async fn start(h: &'static dyn Harness) -> Env {
    start_with(h, Value::Object(Default::default()), fast_transport()).await
}

/// Like [`start`], with setting `overrides` (null removes one) and `transport`.
pub async fn start_with(
    h: &'static dyn Harness,
    overrides: Value,
    transport: TransportConfig,
) -> Env {
    let env = Env::start(h.id(), |base| h.settings(base), overrides, transport).await;
    env.client.set_host_signer(h.signer());
    env
}

pub fn capability(h: &dyn Harness) -> &'static Capability {
    signbridge::providers::capability(h.id()).expect("a harness for a registered provider")
}

/// Sends `h`'s envelope with `reference`.
pub async fn send(h: &dyn Harness, env: &Env, reference: &str) -> (Envelope, Handle) {
    let envelope = h.envelope(reference);
    let handle = env.client.send(&envelope).await.unwrap_or_else(|e| panic!("send: {e}"));
    assert_eq!(handle.provider, h.id());
    assert_eq!(handle.reference.as_deref(), Some(reference));
    (envelope, handle)
}

/// The indexes of the parties who act (sign or approve), in envelope order.
pub fn acting(envelope: &Envelope) -> Vec<usize> {
    (0..envelope.parties.len()).filter(|&i| envelope.parties[i].role != Role::Observe).collect()
}

/// Every acting party signs, in envelope order.
pub async fn sign_all(h: &dyn Harness, env: &Env, envelope: &Envelope, handle: &Handle) {
    for party in acting(envelope) {
        h.sign(&env.control, handle, envelope, party)
            .await
            .unwrap_or_else(|e| panic!("parties[{party}] signs: {e}"));
    }
}

/// The HTTP status answered to each request on `route` (None: no answer, the connection was
/// dropped), in arrival order.
pub fn answers(requests: &[RecordedRequest], route: &str) -> Vec<Option<u16>> {
    let on = |r: &&RecordedRequest| on_call(route, &r.path, r.rpc_method.as_deref());
    requests.iter().filter(on).map(|r| r.status).collect()
}

/// Whether a call to `path` (the JSON-RPC `rpc_method` it called, if any) is on `route`. A
/// JSON-RPC provider takes every call on one path, so its routes name the method after a `#`:
/// `/sbis/service/#СБИС.ВыполнитьДействие`.
pub fn on_call(route: &str, path: &str, rpc_method: Option<&str>) -> bool {
    match route.split_once('#') {
        Some((route, method)) => on_route(route, path) && rpc_method == Some(method),
        None => on_route(route, path),
    }
}

/// `fault` (made for a path) aimed at `route`: its path, and the JSON-RPC method after a `#`.
pub fn aimed(route: &'static str, fault: fn(&'static str) -> Fault) -> Fault {
    match route.split_once('#') {
        Some((path, method)) => fault(path).on_rpc_method(method),
        None => fault(route),
    }
}

/// Whether `path` is on `route`: case-insensitive, `*` standing for one whole segment.
pub fn on_route(route: &str, path: &str) -> bool {
    let (route, path): (Vec<&str>, Vec<&str>) =
        (route.split('/').collect(), path.split('/').collect());
    route.len() == path.len()
        && route.iter().zip(&path).all(|(r, p)| *r == "*" || r.eq_ignore_ascii_case(p))
}

/// `err` is the stable `unsupported` refusal (101).
#[track_caller]
pub fn assert_unsupported(err: &Error, what: &str) {
    assert_eq!((err.kind(), err.code()), (ErrorKind::Unsupported, 101), "{what}: {err}");
}

/// The sandbox received no provider request.
pub async fn assert_no_request(env: &Env, what: &str) {
    let requests = env.requests().await;
    assert!(requests.is_empty(), "{what}: the sandbox received {:?}", paths(&requests));
}

pub fn paths(requests: &[RecordedRequest]) -> Vec<String> {
    requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect()
}

#[test]
fn every_provider_has_a_harness() {
    for id in PROVIDERS {
        let h = harness(id).unwrap_or_else(|| panic!("provider {id} has no behaviour harness"));
        assert_eq!(h.id(), *id, "the harness registered for {id}");
    }
}

#[test]
fn routes_match_whole_segments_in_any_casing() {
    assert!(on_route("/tae/documents/v2/publicacoes/*", "/TAE/documents/V2/Publicacoes/12"));
    assert!(!on_route(
        "/tae/documents/v2/publicacoes/*",
        "/tae/documents/v2/publicacoes/12/download"
    ));
    assert!(!on_route("/a/*/c", "/a/b/d"));
    let execute = "/sbis/service/#СБИС.ВыполнитьДействие";
    assert!(on_call(execute, "/sbis/service/", Some("СБИС.ВыполнитьДействие")));
    assert!(!on_call(execute, "/sbis/service/", Some("СБИС.ПрочитатьДокумент")));
    assert!(!on_call(execute, "/sbis/service/", None));
    assert!(on_call("/sbis/service/", "/sbis/service/", Some("СБИС.ПрочитатьДокумент")));
}
