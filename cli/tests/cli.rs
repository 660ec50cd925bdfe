//! The `signbridge` binary, run as a user would: the demo, and the account commands against a
//! sandbox started with `signbridge sandbox`.

use std::process::Command;

mod common;

use common::{BIN, SandboxProcess, signbridge, signbridge_with};

#[test]
fn demo_writes_signed_pdfs_with_more_pages() {
    // A sandbox process, so that what the providers received can be read after the demo.
    let sandbox = SandboxProcess::start();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["demo", "--sandbox", &sandbox.url, "--out-dir"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches("state:      completed").count(), 4, "{stdout}");
    // No status polling for them: the one status read each is the final one, for printing.
    let control = signbridge_sandbox::Control::new(sandbox.url.clone());
    let requests = tokio::runtime::Runtime::new().unwrap().block_on(control.requests()).unwrap();
    for (status_path, source) in
        [("/status-do-processo", "arqsign"), ("/documents-query/single/outbox/", "idocs")]
    {
        let reads: Vec<_> = requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains(status_path))
            .map(|r| &r.path)
            .collect();
        assert_eq!(reads.len(), 1, "{source}: {reads:?}");
    }
    // Issue 14: iDocs and ArqSign learn completion from their webhooks, not by polling.
    for source in ["arqsign", "idocs"] {
        let line = format!("completion came from the {source} webhook (event {source}:demo:");
        assert!(stdout.contains(&line), "{stdout}");
    }
    let mut files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    // Sorted: arqsign evidence, arqsign signed, idocs print form, sbis original, tae signed.
    let expected = [
        ("DEMO-000123-arqsign-", "-evidence.pdf"),
        ("DEMO-000123-arqsign-", "-signed.pdf"),
        ("DEMO-000123-idocs-", "-print-form.pdf"),
        ("DEMO-000123-sbis-", "-original.pdf"),
        ("DEMO-000123-tae-", "-signed.pdf"),
    ];
    assert_eq!(names.len(), expected.len(), "{names:?}");
    for (name, (prefix, suffix)) in names.iter().zip(expected) {
        assert!(name.starts_with(prefix) && name.ends_with(suffix), "{names:?}");
    }
    let pages = |i: usize| {
        signbridge_sandbox::fixtures::pdf_page_count(&std::fs::read(&files[i]).unwrap()).unwrap()
    };
    assert!(pages(0) >= 1, "the evidence report is a PDF");
    assert!(pages(1) > 2, "ArqSign appends its signature page");
    assert!(pages(2) > 2, "the iDocs print form lists the signatures after the original");
    assert_eq!(pages(3), 2, "SBIS: the original as sent");
    assert_eq!(pages(4), 3, "TAE: 2 pages + protocol");
    for f in &files {
        assert!(stdout.contains(&f.display().to_string()), "each path is printed: {stdout}");
    }
    // SINtegre: received by the in-process listener, downloaded, printed with its SHA-256.
    let ipdo = out.path().join("sintegre").join("IPDO-20-02-2025.pdf");
    let bytes = std::fs::read(&ipdo).unwrap();
    assert_eq!(signbridge_sandbox::fixtures::pdf_page_count(&bytes).unwrap(), 1);
    assert!(stdout.contains(&format!("downloaded: {}", ipdo.display())), "{stdout}");
    let sha: String =
        <sha2::Sha256 as sha2::Digest>::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert!(stdout.contains(&format!("sha256:     {sha}")), "{stdout}");
}

#[test]
fn account_commands_against_a_sandbox_process() {
    let sandbox = SandboxProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("signbridge.toml");
    // The password comes from the environment, never from the file.
    std::fs::write(
        &config,
        format!(
            "provider = \"tae\"\n[settings]\nauth_base = \"{0}/tae/identityintegration\"\napi_base = \"{0}/tae\"\nusername = \"{1}\"\n",
            sandbox.url,
            signbridge_sandbox::tae::DEFAULT_USER
        ),
    )
    .unwrap();
    let pdf = dir.path().join("contrato.pdf");
    std::fs::write(&pdf, signbridge_sandbox::fixtures::sample_pdf("Contrato", 1)).unwrap();
    let envelope = dir.path().join("envelope.json");
    std::fs::write(
        &envelope,
        serde_json::json!({
            "reference": "CLI-1", "title": "Contrato via CLI",
            "documents": [{"path": pdf}],
            "parties": [{"name": "Maria", "email": "maria@cliente.example"}]
        })
        .to_string(),
    )
    .unwrap();

    let (ok, out, err) = signbridge(&config, &["send", envelope.to_str().unwrap()]);
    assert!(ok, "{err}");
    let handle: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = handle["id"].as_str().unwrap().to_string();
    assert_eq!(handle["provider"], "tae");

    let (ok, out, err) = signbridge(&config, &["status", &id]);
    assert!(ok, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["state"], "sent");

    let (ok, out, _) = signbridge(&config, &["refresh", &id, "tae:default:1"]);
    assert!(ok);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["status"]["state"], "sent");
    assert_eq!(rows[0]["handle"]["id"], id.as_str(), "a bare id is a handle of the account");
    assert_eq!(rows[1]["error"]["kind"], "not_found");
    let (ok, out, err) = signbridge(&config, &["refresh", "--force", &format!("tae:default:{id}")]);
    assert!(ok, "{err}");
    assert!(out.contains("\"sent\""), "{out}");
    let (ok, _, err) = signbridge(&config, &["refresh", &id, "tae::1"]);
    assert!(!ok);
    assert!(err.contains("[300 validation] handles[1]:"), "{err}");

    // Validation as in C and Python: the field, or the line and column of malformed JSON.
    let (ok, out, err) = signbridge(&config, &["validate", envelope.to_str().unwrap()]);
    assert!(ok && out.trim() == "valid", "{out}{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"reference\":\n\"r\",,}").unwrap();
    for command in ["validate", "send"] {
        let (ok, _, err) = signbridge(&config, &[command, bad.to_str().unwrap()]);
        assert!(!ok);
        assert!(
            err.contains("[300 validation] envelope: not valid JSON at line 2 column 5"),
            "{command}: {err}"
        );
    }
    std::fs::write(&bad, r#"{"reference":"r","title":"t","parties":[{"email":7}]}"#).unwrap();
    let (ok, _, err) = signbridge(&config, &["validate", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("[300 validation] parties[0].email: invalid type"), "{err}");

    // TAE has no provider calls and no change list: refused before any request.
    let (ok, _, err) = signbridge(&config, &["call", "users"]);
    assert!(!ok && err.contains("[101 unsupported] tae does not support users"), "{err}");
    let (ok, _, err) = signbridge(&config, &["changes", "--cursor", "c-1"]);
    assert!(!ok && err.contains("[101 unsupported] tae does not support changes"), "{err}");

    let original = dir.path().join("original.pdf");
    let (ok, _, err) = signbridge(
        &config,
        &["download", &id, "--kind", "original", "--out", original.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&original).unwrap(), std::fs::read(&pdf).unwrap());

    let (ok, _, err) = signbridge(&config, &["cancel", &id]);
    assert!(ok, "{err}");
    let (_, out, _) = signbridge(&config, &["status", &id]);
    assert!(out.contains("\"cancelled\""), "{out}");

    // Errors show the stable code and never the password.
    let (ok, _, err) = signbridge(&config, &["status", "tae:default:999"]);
    assert!(!ok);
    assert!(err.contains("[301 not_found]"), "{err}");
    assert!(!err.contains(signbridge_sandbox::tae::DEFAULT_PASSWORD));
}

#[test]
fn idocs_send_signs_with_a_key_file() {
    use signbridge_sandbox::idocs;
    let sandbox = SandboxProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("signbridge.json");
    let settings = serde_json::json!({
        "base_url": format!("{}/idocs", sandbox.url),
        "token": idocs::DEFAULT_TOKEN,
        "employee_id": idocs::SENDER_EMPLOYEE_ID,
    });
    let account = serde_json::json!({"provider": "idocs", "settings": settings});
    std::fs::write(&config, account.to_string()).unwrap();
    let pdf = dir.path().join("dogovor.pdf");
    std::fs::write(&pdf, signbridge_sandbox::fixtures::sample_pdf("Dogovor", 1)).unwrap();
    let envelope = dir.path().join("envelope.json");
    let parties = [serde_json::json!({
        "name": "ТОО Контрагент", "email": "buh@kontragent.example.kz",
        "tax_id": idocs::COUNTERPARTY_BIN
    })];
    let body = serde_json::json!({"reference": "CLI-KZ-1", "title": "Договор", "documents": [{"path": pdf}], "parties": parties});
    std::fs::write(&envelope, body.to_string()).unwrap();
    let envelope = envelope.to_str().unwrap();

    let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель (CLI)");
    let pem = dir.path().join("signer.pem");
    std::fs::write(&pem, format!("{cert}{key}")).unwrap();
    let p12 = dir.path().join("signer.p12");
    std::fs::write(&p12, signbridge_signer::testkeys::pkcs12(&cert, &key, "senha").unwrap())
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let control = signbridge_sandbox::control::Control::new(&sandbox.url);
    let document = |id: &str| runtime.block_on(control.idocs_document(id)).unwrap();

    // Without a signer the send fails before any request: no draft is left behind.
    let (ok, _, err) = signbridge(&config, &["send", envelope]);
    assert!(!ok);
    assert!(err.contains("[700 signing]") && !err.contains("handle:"), "{err}");
    assert_eq!(runtime.block_on(control.requests()).unwrap().len(), 0, "no request was made");

    for (args, password) in [
        (["--signer-pem", pem.to_str().unwrap()], ""),
        (["--signer-pkcs12", p12.to_str().unwrap()], "senha"),
    ] {
        let env = [("SIGNBRIDGE_SIGNER_PASSWORD", password)];
        let (ok, out, err) =
            signbridge_with(&config, &[&["send", envelope][..], &args].concat(), &env);
        assert!(ok, "{args:?}: {err}");
        let handle: serde_json::Value = serde_json::from_str(&out).unwrap();
        let document = document(handle["id"].as_str().unwrap());
        assert_eq!(document["signature_count"], 1, "{document}");
        let subject = document["signatures"][0]["signer_subject"].as_str().unwrap();
        assert!(subject.contains("ТОО Отправитель (CLI)"), "{subject}");
    }

    let env = [("SIGNBRIDGE_SIGNER_PASSWORD", "errada")];
    let args = ["send", envelope, "--signer-pkcs12", p12.to_str().unwrap()];
    let (ok, _, err) = signbridge_with(&config, &args, &env);
    assert!(!ok);
    assert!(err.contains("[700 signing]") && err.contains("could not be loaded"), "{err}");
    assert!(!err.contains("handle:"), "nothing was sent: {err}");
}

#[test]
fn a_missing_config_says_how_to_set_one() {
    let (ok, _, err) =
        signbridge(std::path::Path::new("/nonexistent/signbridge.toml"), &["status", "1"]);
    assert!(!ok);
    assert!(err.contains("SIGNBRIDGE_CONFIG"), "{err}");
}

#[test]
fn capabilities_of_every_provider_one_or_the_accounts() {
    let dir = tempfile::tempdir().unwrap();
    // No configuration is needed, and none is read from the working directory.
    std::fs::write(dir.path().join("signbridge.toml"), "not = [toml").unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env_remove("SIGNBRIDGE_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success(), stdout, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();

    let (ok, out, err) = run(&["capabilities"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out), signbridge::host::capabilities(None).unwrap());
    let (ok, out, err) = run(&["capabilities", "--provider", "arqsign"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out), signbridge::host::capabilities(Some("arqsign")).unwrap());
    let (ok, _, err) = run(&["capabilities", "--provider", "sbiss"]);
    assert!(!ok && err.contains("[300 validation] provider: unknown provider \"sbiss\""), "{err}");

    // With an account, its provider's record, and --provider still wins.
    let config = dir.path().join("idocs.json");
    let settings = serde_json::json!({"base_url": "http://127.0.0.1:9/idocs", "token": "t",
        "employee_id": "e"});
    std::fs::write(
        &config,
        serde_json::json!({"provider": "idocs", "settings": settings}).to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (ok, out, err) = run(&["--config", config, "capabilities"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out), signbridge::host::capabilities(Some("idocs")).unwrap());
    let (ok, out, _) = run(&["--config", config, "capabilities", "--provider", "tae"]);
    assert!(ok);
    assert_eq!(json(&out)["provider"], "tae");
}

#[test]
fn arqsign_calls_through_the_cli() {
    let sandbox = SandboxProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("arqsign.json");
    let settings = serde_json::json!({
        "base_url": format!("{}/arqsign", sandbox.url),
        "app_key": signbridge_sandbox::arqsign::DEFAULT_APP_KEY,
        "subscription_key": signbridge_sandbox::arqsign::DEFAULT_SUBSCRIPTION_KEY,
    });
    std::fs::write(
        &config,
        serde_json::json!({"provider": "arqsign", "settings": settings}).to_string(),
    )
    .unwrap();

    let (ok, out, err) = signbridge(&config, &["call", "folders", r#"{"search": "root"}"#]);
    assert!(ok, "{err}");
    let folders: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(folders.is_array() || folders.is_object(), "{out}");
    let (ok, _, err) = signbridge(&config, &["call", "folders", r#"{"search": "#]);
    assert!(!ok && err.contains("[300 validation] args: not valid JSON at line 1 column"), "{err}");
    let (ok, _, err) = signbridge(&config, &["call", "folders", r#"{"search": "up"}"#]);
    assert!(!ok && err.contains("[300 validation] args.search"), "{err}");
}

#[tokio::test]
async fn events_prints_webhook_events_as_json_lines_and_acks_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("signbridge.toml");
    std::fs::write(
        &config,
        "provider = \"tae\"\naccount = \"rm\"\n[settings]\nauth_base = \"http://127.0.0.1:9/id\"\napi_base = \"http://127.0.0.1:9/\"\nusername = \"u@x.example\"\n",
    )
    .unwrap();
    // A receiver on the journal `signbridge` uses (beside the configuration) keeps two TAE
    // deliveries for the account.
    let receiver = signbridge::webhooks::Receiver::new(
        serde_json::from_value(serde_json::json!({
            "journal": {"path": config.with_file_name("journal.sqlite3")},
            "routes": [{"source": "tae", "account": "rm"}]}))
        .unwrap(),
    )
    .unwrap();
    let headers = signbridge::webhooks::Headers::default();
    for body in [r#"{"idDocumento": 1, "status": 2}"#, r#"{"idDocumento": 2, "status": 3}"#] {
        let reply = receiver.handle("tae", "rm", "POST", &headers, body.as_bytes()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let (ok, out, err) = signbridge(&config, &["events"]);
    assert!(ok, "{err}");
    let ids: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"tae:rm:1::2:\"", "\"tae:rm:2::3:\""], "{out}");
    let (ok, out, err) = signbridge(&config, &["events"]);
    assert!(ok && out.is_empty(), "acknowledged as printed: {out} {err}");

    // Replay: from the beginning, after the first position, from a time; nothing is acked
    // twice and nothing becomes pending again.
    let replay = |since: &str| -> Vec<serde_json::Value> {
        let (ok, out, err) = signbridge(&config, &["events", "--since", since]);
        assert!(ok, "{err}");
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let all = replay("0");
    let replayed: Vec<String> = all.iter().map(|e| e["event"]["id"].to_string()).collect();
    assert_eq!(replayed, ids, "acked events replay");
    assert!(all.iter().all(|e| e["acked_at"].is_string()), "{all:?}");
    let first = all[0]["position"].as_i64().unwrap();
    assert_eq!(replay(&first.to_string()).len(), 1, "after the first position, the second");
    assert_eq!(replay("2000-01-01T00:00:00Z").len(), 2);
    assert!(replay("2999-01-01T00:00:00Z").is_empty());
    let (ok, _, err) = signbridge(&config, &["events", "--since", "yesterday"]);
    assert!(!ok && err.contains("validation] since"), "{err}");
    let (ok, out, err) = signbridge(&config, &["events", "--prune-hours", "1"]);
    assert!(ok && out.contains("\"pruned\": 0"), "acked just now: kept {out} {err}");
    let (ok, out, err) = signbridge(&config, &["events"]);
    assert!(ok && out.is_empty(), "nothing pending again: {out} {err}");
}
