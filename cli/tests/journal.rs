//! `signbridge journal …` and `send` through the journal, run as a user would: a reference sent
//! again prints its handle, an unknown outcome is listed, reconciled and resolved.

mod common;

use common::{SandboxProcess, account, create_route, documents, envelope, json, signbridge};
use signbridge_sandbox::control::Control;
use signbridge_sandbox::{Fault, Reset};

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[test]
fn a_reference_sent_again_prints_its_handle_and_new_document_makes_another() {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    let config = account(dir.path(), "tae", &sandbox.url, "none");
    let (path, send) = envelope(dir.path(), "tae", "CLI-EO-1");

    let (ok, first, err) = signbridge(&config, &args(&send));
    assert!(ok, "{err}");
    runtime.block_on(control.clear_requests()).unwrap();
    let (ok, again, err) = signbridge(&config, &args(&send));
    assert!(ok, "{err}");
    assert_eq!(json(&again), json(&first));
    assert!(runtime.block_on(control.requests()).unwrap().is_empty(), "no request the second time");
    let (ok, out, err) = signbridge(&config, &["journal", "show", "CLI-EO-1"]);
    assert!(ok, "{err}");
    let shown = json(&out);
    assert_eq!(
        (shown["state"].as_str(), shown["reference"].as_str()),
        (Some("sent"), Some("CLI-EO-1"))
    );
    assert_eq!(shown["handle"], json(&first));
    let (ok, out, _) = signbridge(&config, &["journal", "list"]);
    assert!(ok && json(&out) == serde_json::json!([]), "{out}");

    // Another envelope under the same reference: refused, unless asked for explicitly.
    let mut other = json(&std::fs::read_to_string(&path).unwrap());
    other["title"] = "Outro contrato".into();
    std::fs::write(&path, other.to_string()).unwrap();
    let (ok, _, err) = signbridge(&config, &args(&send));
    assert!(!ok && err.contains("[300 validation] reference:"), "{err}");
    let (ok, out, err) = signbridge(&config, &[&args(&send)[..], &["--new-document"]].concat());
    assert!(ok, "{err}");
    assert_ne!(json(&out)["id"], json(&first)["id"]);
    assert_eq!(runtime.block_on(documents(&control, "tae")), 2);

    let (ok, _, err) = signbridge(&config, &["journal", "show", "CLI-NEVER"]);
    assert!(!ok && err.contains("[301 not_found]") && err.contains("CLI-NEVER"), "{err}");
}

#[test]
fn an_unknown_send_is_listed_reconciled_and_resolved_from_the_cli() {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    // ArqSign has no lookup by reference: only the host can settle a lost answer.
    let config = account(dir.path(), "arqsign", &sandbox.url, "none");
    let lost = Fault::reset(create_route("arqsign"), Reset::After).times(2);
    runtime.block_on(control.add_fault(lost)).unwrap();
    let (_, send_a) = envelope(dir.path(), "arqsign", "CLI-A");
    let (_, send_b) = envelope(dir.path(), "arqsign", "CLI-B");
    for send in [&send_a, &send_b] {
        let (ok, _, err) = signbridge(&config, &args(send));
        assert!(!ok && err.contains("outcome_unknown"), "{err}");
    }
    assert_eq!(runtime.block_on(documents(&control, "arqsign")), 2, "both creates committed");

    let (ok, out, err) = signbridge(&config, &["journal", "list"]);
    assert!(ok, "{err}");
    let rows = json(&out);
    let listed: Vec<_> = rows.as_array().unwrap().iter().map(|r| r["reference"].clone()).collect();
    assert_eq!(listed, ["CLI-A", "CLI-B"], "{out}");
    assert!(rows.as_array().unwrap().iter().all(|r| r["state"] == "unknown"), "{out}");

    let (ok, out, err) = signbridge(&config, &["journal", "reconcile", "CLI-A"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["outcome"], "unknown", "{out}");
    let (ok, out, err) = signbridge(&config, &["journal", "reconcile"]);
    assert!(ok, "{err}");
    let all = json(&out);
    assert_eq!(all.as_array().unwrap().len(), 2, "{out}");
    assert!(all.as_array().unwrap().iter().all(|r| r["outcome"] == "unknown"), "{out}");
    // Sending again would risk a second process: refused until resolved.
    let (ok, _, err) = signbridge(&config, &args(&send_a));
    assert!(!ok && err.contains("outcome_unknown") && err.contains("journal resolve"), "{err}");

    // The host found CLI-A's process in ArqSign's console; CLI-B it cancels and sends anew.
    let processes = runtime.block_on(control.arqsign_processes()).unwrap();
    let id_a = processes[0]["id"].as_str().unwrap().to_string();
    let (ok, _, err) = signbridge(&config, &["journal", "resolve", "CLI-A"]);
    assert!(!ok && err.contains("--sent-as"), "one of the two is required: {err}");
    let (ok, _, err) =
        signbridge(&config, &["journal", "resolve", "CLI-A", "--sent-as", "x", "--not-sent"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    let (ok, out, err) = signbridge(&config, &["journal", "resolve", "CLI-A", "--sent-as", &id_a]);
    assert!(ok, "{err}");
    let resolved = json(&out);
    assert_eq!(
        (resolved["outcome"].as_str(), resolved["handle"]["id"].as_str()),
        (Some("sent"), Some(id_a.as_str()))
    );
    let (ok, out, err) = signbridge(&config, &args(&send_a));
    assert!(ok, "{err}");
    assert_eq!(json(&out)["id"], id_a.as_str(), "the resolved handle, no new process");
    let (ok, out, err) = signbridge(&config, &["journal", "resolve", "CLI-B", "--not-sent"]);
    assert!(ok && json(&out)["outcome"] == "not_sent", "{out}{err}");
    let (ok, _, err) = signbridge(&config, &args(&send_b));
    assert!(ok, "{err}");
    assert_eq!(
        runtime.block_on(documents(&control, "arqsign")),
        3,
        "CLI-B sent anew, as the host said"
    );
    let (ok, out, _) = signbridge(&config, &["journal", "list"]);
    assert!(ok && json(&out) == serde_json::json!([]), "{out}");
    let (ok, _, err) = signbridge(&config, &["journal", "resolve", "CLI-A", "--not-sent"]);
    assert!(!ok && err.contains("already sent"), "{err}");
}

#[test]
fn a_lost_answer_is_found_by_the_providers_lookup() {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    for provider in ["tae", "idocs"] {
        let config = account(dir.path(), provider, &sandbox.url, "none");
        let lost = Fault::reset(create_route(provider), Reset::After);
        runtime.block_on(control.add_fault(lost)).unwrap();
        let (_, send) = envelope(dir.path(), provider, "CLI-LOST");
        let (ok, _, err) = signbridge(&config, &args(&send));
        assert!(!ok && err.contains("outcome_unknown"), "{provider}: {err}");
        let (ok, out, err) = signbridge(&config, &["journal", "reconcile", "CLI-LOST"]);
        assert!(ok, "{provider}: {err}");
        assert_eq!(json(&out)["outcome"], "draft", "{provider}: {out}");
        let (ok, out, err) = signbridge(&config, &args(&send));
        assert!(ok, "{provider}: {err}");
        assert_eq!(json(&out)["reference"], "CLI-LOST");
        assert_eq!(runtime.block_on(documents(&control, provider)), 1, "{provider}: never two");
        let (ok, out, _) = signbridge(&config, &["journal", "reconcile", "CLI-LOST"]);
        assert!(ok && json(&out)["outcome"] == "sent", "{provider}: {out}");
    }
}

#[test]
fn arqsigns_monthly_budget_spent_elsewhere_is_seen_by_every_later_process() {
    use signbridge::journal::{Journal, JournalConfig, Window};
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    let config = account(dir.path(), "arqsign", &sandbox.url, "profissional");

    let (ok, out, err) = signbridge(&config, &["journal", "budget"]);
    assert!(ok, "{err}");
    let fresh = json(&out);
    let month = |rows: &serde_json::Value| {
        rows.as_array().unwrap().iter().find(|r| r["period"] == "month").cloned().unwrap()
    };
    // Contract §9.3: the Profissional plan allows 80 requests a month.
    assert_eq!(
        (month(&fresh)["limit"].as_u64(), month(&fresh)["remaining"].as_u64()),
        (Some(80), Some(80))
    );
    assert_eq!(fresh.as_array().unwrap().len(), 4, "second, minute, hour, month: {out}");

    // Another process (this test) spends the month on the same journal file.
    let journal = Journal::open(&JournalConfig {
        path: Some(config.with_file_name("journal.sqlite3")),
        ..Default::default()
    })
    .unwrap();
    let month_only = [Window::per_month(80)];
    for _ in 0..80 {
        let spend = journal.acquire("arqsign", "cli", &month_only, Default::default());
        runtime.block_on(spend).unwrap();
    }
    drop(journal);

    // Each later CLI run is a new process: each sees the month spent, and sends nothing.
    for reference in ["CLI-BUDGET-1", "CLI-BUDGET-2"] {
        let (ok, out, err) = signbridge(&config, &["journal", "budget"]);
        assert!(ok, "{err}");
        let spent = month(&json(&out));
        assert_eq!(
            (spent["used"].as_u64(), spent["remaining"].as_u64()),
            (Some(80), Some(0)),
            "{out}"
        );
        assert!(spent["frees_at"].is_string(), "{out}");
        let (_, send) = envelope(dir.path(), "arqsign", reference);
        let (ok, _, err) = signbridge(&config, &args(&send));
        assert!(!ok && err.contains("rate_limited") && err.contains("calendar month"), "{err}");
    }
    assert!(runtime.block_on(control.requests()).unwrap().is_empty(), "no request went out");
}

#[test]
fn a_journal_that_cannot_be_used_is_a_clear_error_naming_the_file_and_nothing_is_sent() {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = Control::new(&sandbox.url);
    let dir = tempfile::tempdir().unwrap();
    let config = account(dir.path(), "tae", &sandbox.url, "none");
    let mut value = json(&std::fs::read_to_string(&config).unwrap());
    // Waiting for another process's lock: briefly, so the locked case fails soon.
    value["journal"] = serde_json::json!({"busy_timeout_ms": 300});
    std::fs::write(&config, value.to_string()).unwrap();
    let journal = config.with_file_name("journal.sqlite3");
    let (_, send) = envelope(dir.path(), "tae", "CLI-BAD-JOURNAL");
    let refused = |journal: &std::path::Path, what: &str| {
        let env = [("SIGNBRIDGE_JOURNAL", journal.to_str().unwrap())];
        for command in [args(&send), vec!["journal", "list"]] {
            let (ok, _, err) = common::signbridge_with(&config, &command, &env);
            assert!(!ok, "{what}: {command:?} succeeded");
            assert!(err.contains("[600 journal]"), "{what}: {err}");
            assert!(err.contains(journal.to_str().unwrap()), "{what}: names the file: {err}");
        }
    };
    let (ok, _, err) = signbridge(&config, &["journal", "list"]);
    assert!(ok, "a fresh journal is created: {err}");
    let fresh = std::fs::read(&journal).unwrap();

    // Corrupt: the schema on the first page overwritten.
    let mut bytes = fresh.clone();
    bytes[100..1000].fill(0xA5);
    std::fs::write(&journal, &bytes).unwrap();
    refused(&journal, "corrupt");

    // Written by a newer signbridge: the schema version (PRAGMA user_version, the big-endian
    // u32 at offset 60 of the header) beyond this build's; refused and left unchanged.
    let mut bytes = fresh.clone();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&journal, &bytes).unwrap();
    refused(&journal, "newer");
    assert_eq!(std::fs::read(&journal).unwrap(), bytes, "a newer journal is left unchanged");

    // Not creatable: its directory would be under a file.
    refused(&config.join("journal.sqlite3"), "uncreatable");

    // Read-only: a directory the user cannot write (root writes through mode bits, so then
    // /proc stands in for one).
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let locked = dir.path().join("read-only");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let privileged = std::fs::write(locked.join("probe"), "").is_ok();
        let path = if privileged {
            std::path::PathBuf::from("/proc/signbridge-cli-test/journal.sqlite3")
        } else {
            locked.join("journal.sqlite3")
        };
        refused(&path, "read-only");
    }

    // Locked: another process holds the write lock longer than the busy timeout. Reads still
    // work (WAL); a send, which must record its intent first, fails and sends nothing.
    std::fs::write(&journal, &fresh).unwrap();
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(60)",
        ])
        .arg(&journal)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 holds the lock");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let (ok, _, err) = signbridge(&config, &args(&send));
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!ok && err.contains("[600 journal]") && err.contains("locked"), "{err}");
    assert!(err.contains(journal.to_str().unwrap()), "names the file: {err}");

    assert!(runtime.block_on(control.requests()).unwrap().is_empty(), "nothing was sent");
    // Once the lock is gone, the same send goes through.
    let (ok, _, err) = signbridge(&config, &args(&send));
    assert!(ok, "{err}");
}
