//! A bounded fuzz run in `cargo test` (cargo-fuzz needs a nightly toolchain this project does
//! not require): proptest drives
//! - every provider's reply parsers, through the client and the hostile proxy: each request of
//!   status and of every download kind gets its real answer (the sandbox's, written from the
//!   contracts) changed by [`mutate`], with a dictionary of the contracts' example values;
//! - the envelope JSON, the handle parser and the error JSON, from seeds in the documented
//!   shapes.
//!
//! Each input must end in a value or a typed error: no panic, never `internal`, within the
//! operation's timeout. `PROPTEST_CASES` sets the cases of each target (default 48, about 30 s
//! in all on two cores); `scripts/fuzz.sh` runs a long one.

use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use signbridge::providers::PROVIDERS;
use signbridge::{Error, ErrorKind, Handle, host};

use crate::hostile::server::{Play, mutate};
use crate::hostile::{learn, stage, transport};
use crate::{capability, harness, sign_all};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48)
}

fn config() -> Config {
    // No regression files: a failure prints its input, which goes into a test of its own.
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

/// What an operation under fuzz may end with.
fn typed(what: &str, result: Result<(), Error>, elapsed: Duration) -> Result<(), TestCaseError> {
    let limit = Duration::from_millis(transport().operation_timeout_ms + 1_000);
    prop_assert!(elapsed <= limit, "{what} took {elapsed:?}");
    if let Err(e) = result {
        prop_assert!(e.kind() != ErrorKind::Internal, "{what}: internal error {e}");
    }
    Ok(())
}

/// One operation under fuzz, run again for each input.
type Op<'a> = Box<dyn Fn() -> LocalBoxFuture<'a, signbridge::Result<()>> + 'a>;

#[test]
fn provider_replies() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in PROVIDERS {
        let h = harness(id).expect("every provider has a harness");
        let (stage, handle) = runtime.block_on(async {
            let stage = stage(h).await;
            let (envelope, handle) = crate::send(h, &stage.env, "FUZZ").await;
            sign_all(h, &stage.env, &envelope, &handle).await;
            (stage, handle)
        });
        let client = &stage.env.client;
        let mut ops: Vec<(String, Op<'_>)> = vec![(
            "status".to_string(),
            Box::new(|| Box::pin(async { client.status(&handle).await.map(drop) })),
        )];
        for &kind in capability(h).download.kinds {
            let handle = &handle;
            ops.push((
                format!("download of {kind}"),
                Box::new(move || {
                    Box::pin(async move { client.download_bytes(handle, kind).await.map(drop) })
                }),
            ));
        }
        for (what, op) in &ops {
            let learned = runtime.block_on(learn(&stage, what, async || op().await)).len();
            let mut runner = TestRunner::new(config());
            runner
                .run(&(0..learned, any::<u64>()), |(n, seed)| {
                    stage.proxy.arm(n, Play::Mutate(seed));
                    let started = Instant::now();
                    let result = runtime.block_on(op());
                    typed(&format!("{id} {what} @{n} seed {seed}"), result, started.elapsed())
                })
                .unwrap_or_else(|e| panic!("{id} {what}: {e}"));
            stage.proxy.disarm();
        }
    }
}

/// Envelopes in the documented shape, one of each kind of field.
const ENVELOPES: &[&str] = &[
    r#"{"reference":"ERP-1","title":"Contrato","documents":[{"name":"a.pdf","content_base64":"JVBERi0xLjcK"}],"parties":[{"name":"Maria","email":"maria@cliente.example","tax_id":"111.444.777-35","role":"sign","order":1}],"message":{"subject":"s","body":"b"},"deadline":"2026-01-31T00:00:00Z","sequential":true,"metadata":{"k":"v"},"provider_options":{"tae":{"notify":true}}}"#,
    r#"{"reference":"KZ-1","title":"Договор","documents":[{"name":"d.pdf","path":"/tmp/x.pdf","media_type":"application/pdf"}],"parties":[{"name":"ТОО","tax_id":"123456789012","role":"observe"}]}"#,
];

proptest! {
    #![proptest_config(config())]

    /// Any text is an envelope or a validation error (naming a field when one is at fault).
    #[test]
    fn envelope_json(seed in any::<u64>(), which in 0..ENVELOPES.len()) {
        let text = String::from_utf8_lossy(&mutate(ENVELOPES[which].as_bytes(), seed)).into_owned();
        if let Err(e) = host::envelope(&text) {
            prop_assert_eq!(e.kind(), ErrorKind::Validation, "{}", e);
        }
    }

    /// Any text is a handle or a validation error about it.
    #[test]
    fn handle_text(seed in any::<u64>(), raw in ".{0,80}") {
        let seeds = [
            r#"{"provider":"tae","account":"default","id":"12978325","reference":"ERP-1"}"#,
            "idocs:default:7a3b6a9b-7173-47d1-91c9-cbf14b544dd6",
            "12978325",
        ];
        let mutated = mutate(seeds[(seed % 3) as usize].as_bytes(), seed);
        for text in [String::from_utf8_lossy(&mutated).into_owned(), raw] {
            for parsed in [host::handle(&text, "tae", "default"), Handle::parse(&text)] {
                if let Err(e) = parsed {
                    prop_assert_eq!(e.kind(), ErrorKind::Validation, "{:?}: {}", text, e);
                    prop_assert!(e.field().is_some_and(|f| f.starts_with("handle")), "{:?}: {}", text, e);
                }
            }
        }
    }

    /// The error JSON hosts read is valid JSON that keeps the kind, code and words, whatever
    /// the words.
    #[test]
    fn error_json(kind in 0..ErrorKind::ALL.len(), message in ".*", provider in ".*",
                  field in ".{0,20}", status in any::<u16>()) {
        let kind = ErrorKind::ALL[kind];
        let err = Error::new(kind, message.clone())
            .with_provider_message(provider.clone())
            .with_http_status(status)
            .with_context("field", field);
        let text = serde_json::to_string(&err.to_json()).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back["code"].as_i64(), Some(i64::from(kind.code())));
        prop_assert_eq!(back["kind"].as_str(), Some(kind.name()));
        prop_assert!(back["message"].as_str().unwrap().contains(&message));
        // An empty provider message is none.
        let expected = Some(provider.as_str()).filter(|p| !p.is_empty());
        prop_assert_eq!(back["provider_message"].as_str(), expected);
    }
}
