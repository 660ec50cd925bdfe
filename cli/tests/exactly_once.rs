//! The CLI killed with SIGKILL at random points of a send, then run again with the same
//! reference, as an ERP's job runner would after a crash: each reference ends with exactly one
//! document at the sandbox and its handle printed, never two and never none. And two workers
//! sending the same 100 references at once, one CLI process per send: 100 documents.
//!
//! 100 iterations here; `SIGNBRIDGE_CRASH_ITERATIONS` sets another number (scripts/soak.sh runs
//! 1,000), and `SIGNBRIDGE_CRASH_SEED` replays a run (the seed is printed).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, SandboxProcess, account, documents, envelope, json};
use signbridge_sandbox::control::Control;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn a_send_killed_at_any_point_ends_as_one_document_when_run_again() {
    let iterations = env_number("SIGNBRIDGE_CRASH_ITERATIONS", 100);
    let seed = env_number("SIGNBRIDGE_CRASH_SEED", fastrand::u64(..));
    println!("crash loop: {iterations} iterations, SIGNBRIDGE_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    // TAE (upload, publish) and iDocs (create, route, sign, save) can look a document up by
    // its reference; ArqSign cannot, so a kill there ends in an explicit unknown, which
    // tests/journal.rs covers.
    let providers = ["tae", "idocs"];
    let configs: Vec<_> = providers
        .iter()
        .map(|p| {
            let config = account(dir.path(), p, &sandbox.url, "none");
            // A killed sender's lease blocks its reference this long: short, so the rerun
            // takes over soon.
            let mut value = json(&std::fs::read_to_string(&config).unwrap());
            value["journal"] = serde_json::json!({"lease_ms": 300});
            std::fs::write(&config, value.to_string()).unwrap();
            config
        })
        .collect();
    let journal = dir.path().join("journal.sqlite3");
    let run = |config: &std::path::Path, args: &[String]| {
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .env("SIGNBRIDGE_TAE_PASSWORD", signbridge_sandbox::tae::DEFAULT_PASSWORD)
            .env("SIGNBRIDGE_JOURNAL", &journal)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };

    // How long a whole send takes here, so kills land anywhere in it (and sometimes after).
    let mut span = [Duration::ZERO; 2];
    for (i, provider) in providers.iter().enumerate() {
        let (_, send) = envelope(dir.path(), provider, "CRASH-WARMUP");
        let started = Instant::now();
        let output = run(&configs[i], &send).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        span[i] = started.elapsed() + started.elapsed() / 4;
    }

    let mut killed = 0;
    let mut sent = [1usize; 2];
    for n in 0..iterations {
        let i = (n % 2) as usize;
        let provider = providers[i];
        let reference = format!("CRASH-{n}");
        let (_, send) = envelope(dir.path(), provider, &reference);
        let mut child = run(&configs[i], &send).spawn().unwrap();
        let at = span[i].mul_f64(rng.f64());
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();

        // The rerun: the same reference until it prints a handle. The only refusal allowed is
        // the dead sender's lease (conflict), which expires.
        let handle = loop {
            let output = run(&configs[i], &send).output().unwrap();
            let err = String::from_utf8_lossy(&output.stderr);
            if output.status.success() {
                break json(&String::from_utf8_lossy(&output.stdout));
            }
            assert!(
                err.contains("[302 conflict]"),
                "{reference} ({provider}, killed at {at:?}): {err}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(handle["reference"], reference.as_str(), "{handle}");
        sent[i] += 1;
        assert_eq!(
            runtime.block_on(documents(&control, provider)),
            sent[i],
            "{reference} ({provider}, killed at {at:?}): exactly one document per reference"
        );
    }
    println!("crash loop: {killed} of {iterations} sends killed mid-way; {sent:?} documents");
    assert!(killed > iterations / 4, "the kills must land inside sends: {killed}");
}

#[test]
fn two_processes_sending_the_same_hundred_references_make_a_hundred_documents() {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    let config = account(dir.path(), "tae", &sandbox.url, "none");
    let journal = dir.path().join("journal.sqlite3");
    let sends: Vec<Vec<String>> =
        (0..100).map(|n| envelope(dir.path(), "tae", &format!("TWICE-{n}")).1).collect();
    // Two ERP workers each send every reference, one CLI process per send, at the same time.
    // A reference the other holds is refused as a conflict; the worker tries it again.
    let worker = |order: Vec<usize>| {
        let (config, journal, sends) = (&config, &journal, &sends);
        move || {
            let mut handles = vec![serde_json::Value::Null; sends.len()];
            let mut conflicts = 0;
            for i in order {
                handles[i] = loop {
                    let output = Command::new(BIN)
                        .arg("--config")
                        .arg(config)
                        .args(&sends[i])
                        .env("SIGNBRIDGE_TAE_PASSWORD", signbridge_sandbox::tae::DEFAULT_PASSWORD)
                        .env("SIGNBRIDGE_JOURNAL", journal)
                        .output()
                        .unwrap();
                    if output.status.success() {
                        break json(&String::from_utf8_lossy(&output.stdout));
                    }
                    let err = String::from_utf8_lossy(&output.stderr);
                    assert!(err.contains("[302 conflict]"), "TWICE-{i}: {err}");
                    conflicts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                };
            }
            (handles, conflicts)
        }
    };
    let ((first, a), (second, b)) = std::thread::scope(|s| {
        let one = s.spawn(worker((0..100).collect()));
        // Both in the same order, so they meet on the same references all along.
        let two = s.spawn(worker((0..100).collect()));
        (one.join().unwrap(), two.join().unwrap())
    });
    println!("two workers: {a} + {b} conflicts retried");
    assert_eq!(first, second, "both workers got the same handle for every reference");
    assert_eq!(runtime.block_on(documents(&control, "tae")), 100, "one document per reference");
}
