//! What the CLI test suites share: the binary, a sandbox process, and running the binary with
//! an account configuration and a journal file beside it.
#![allow(dead_code)] // each suite uses its own part

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_signbridge");

/// `signbridge sandbox --port 0`, killed on drop.
pub struct SandboxProcess {
    child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub fn start() -> SandboxProcess {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("SIGNBRIDGE_SANDBOX_URL=").expect(&line).to_string();
        SandboxProcess { child, url }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signbridge(config: &Path, args: &[&str]) -> (bool, String, String) {
    signbridge_with(config, args, &[])
}

pub fn signbridge_with(
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let output = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("SIGNBRIDGE_TAE_PASSWORD", signbridge_sandbox::tae::DEFAULT_PASSWORD)
        // Each test's own journal, beside its configuration: runs never share intents.
        .env("SIGNBRIDGE_JOURNAL", config.with_file_name("journal.sqlite3"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub const PROVIDERS: [&str; 3] = ["tae", "arqsign", "idocs"];

/// An account of `provider` at the sandbox `url`, written as `<dir>/<provider>.json` (its
/// journal is `<dir>/journal.sqlite3`, see [`signbridge_with`]). ArqSign's plan is `plan`
/// (`"none"`: no client-side windows).
pub fn account(dir: &Path, provider: &str, url: &str, plan: &str) -> PathBuf {
    use signbridge_sandbox::{arqsign, idocs, tae};
    let settings = match provider {
        "tae" => serde_json::json!({"auth_base": format!("{url}/tae/identityintegration"),
            "api_base": format!("{url}/tae"), "username": tae::DEFAULT_USER}),
        "arqsign" => serde_json::json!({"base_url": format!("{url}/arqsign"),
            "app_key": arqsign::DEFAULT_APP_KEY,
            "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
            "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID,
            "folder_id": arqsign::DEFAULT_FOLDER_ID, "plan": plan}),
        "idocs" => serde_json::json!({"base_url": format!("{url}/idocs"),
            "token": idocs::DEFAULT_TOKEN, "employee_id": idocs::SENDER_EMPLOYEE_ID}),
        other => panic!("no account for {other}"),
    };
    let path = dir.join(format!("{provider}.json"));
    let config = serde_json::json!({"provider": provider, "account": "cli", "settings": settings,
        "transport": {"max_retries": 0}});
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// An envelope file for `provider` under `reference` (its PDF beside it), and the arguments
/// `send` needs with it (iDocs: the host's signing key).
pub fn envelope(dir: &Path, provider: &str, reference: &str) -> (PathBuf, Vec<String>) {
    use signbridge_sandbox::{fixtures, idocs};
    let pdf = dir.join("contrato.pdf");
    if !pdf.exists() {
        std::fs::write(&pdf, fixtures::sample_pdf("Contrato", 1)).unwrap();
    }
    let party = match provider {
        "idocs" => serde_json::json!({"name": "ТОО Контрагент",
            "email": "buh@kontragent.example.kz", "tax_id": idocs::COUNTERPARTY_BIN}),
        _ => serde_json::json!({"name": "Maria da Silva", "email": "maria@cliente.example",
            "tax_id": "111.444.777-35"}),
    };
    let body = serde_json::json!({"reference": reference, "title": "Contrato",
        "documents": [{"path": pdf}], "parties": [party]});
    let path = dir.join(format!("{provider}-{reference}.json"));
    std::fs::write(&path, body.to_string()).unwrap();
    let mut args = vec!["send".to_string(), path.display().to_string()];
    if provider == "idocs" {
        let pem = dir.join("signer.pem");
        if !pem.exists() {
            let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель (CLI)");
            std::fs::write(&pem, format!("{cert}{key}")).unwrap();
        }
        args.extend(["--signer-pem".to_string(), pem.display().to_string()]);
    }
    (path, args)
}

/// How many documents the sandbox holds for `provider`.
pub async fn documents(control: &signbridge_sandbox::control::Control, provider: &str) -> usize {
    match provider {
        "tae" => control.tae_documents().await.unwrap().len(),
        "arqsign" => control.arqsign_processes().await.unwrap().len(),
        "idocs" => control.idocs_documents().await.unwrap().len(),
        other => panic!("{other}"),
    }
}

/// The route of each provider's first creating write.
pub fn create_route(provider: &str) -> &'static str {
    match provider {
        "tae" => "/tae/documents/v1/envelopes/upload",
        "arqsign" => "/arqsign/api/v2/processo/enviar-documento-para-assinar",
        "idocs" => "/idocs/api/v3/sync/external/outbox/document/create",
        other => panic!("{other}"),
    }
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}
