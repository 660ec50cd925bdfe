//! `signbridge demo`: the whole TAE flow through the real client, against the embedded sandbox.
//! Two people sign a sample contract in order; the signed PDF (with TAE's signature protocol
//! page appended) lands under the output directory.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use signbridge::{
    Client, ClientConfig, Document, DownloadKind, Envelope, Handle, Message, Party, PartyState,
    Role, State, TransportConfig,
};
use signbridge_sandbox::{Sandbox, fixtures, tae};

use crate::Failure;

struct Signer {
    name: &'static str,
    email: &'static str,
    tax_id: &'static str,
}

const SIGNERS: [Signer; 2] = [
    Signer {
        name: "Maria da Conceição Silva",
        email: "maria.silva@cliente.example",
        tax_id: "111.444.777-35",
    },
    Signer {
        name: "João Araújo Souza",
        email: "joao.souza@empresa.example",
        tax_id: "11.222.333/0001-81",
    },
];

/// How long the demo waits for the sandbox to reflect a signature before giving up.
const POLL_LIMIT: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(100);

pub async fn run(out_dir: &Path) -> Result<(), Failure> {
    let started = Instant::now();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sandbox = Sandbox::start(Default::default(), loopback)
        .await
        .map_err(|e| Failure::Other(format!("cannot start the sandbox: {e}")))?;
    let result = flow(&sandbox, out_dir, started).await;
    sandbox.shutdown().await;
    result
}

async fn flow(sandbox: &Sandbox, out_dir: &Path, started: Instant) -> Result<(), Failure> {
    let base = sandbox.base_url();
    println!("signbridge demo: TOTVS Assinatura Eletrônica, against the local sandbox at {base}");
    let client = Client::new(ClientConfig {
        provider: "tae".into(),
        account: "demo".into(),
        transport: TransportConfig::default(),
        settings: serde_json::json!({
            "auth_base": format!("{base}/tae/identityintegration"),
            "api_base": format!("{base}/tae"),
            "username": tae::DEFAULT_USER,
            "password": tae::DEFAULT_PASSWORD,
        }),
    })?;

    let original = fixtures::sample_pdf("Contrato de prestação de serviços nº 000123", 2);
    let original_pages = fixtures::pdf_page_count(&original).map_err(Failure::Other)?;
    let envelope = Envelope {
        reference: "DEMO-000123".into(),
        title: "Contrato de prestação de serviços nº 000123".into(),
        documents: vec![Document::from_bytes("contrato-000123.pdf", original)],
        parties: SIGNERS
            .iter()
            .enumerate()
            .map(|(i, s)| Party {
                name: Some(s.name.into()),
                email: Some(s.email.into()),
                tax_id: Some(s.tax_id.into()),
                phone: None,
                role: Role::Sign,
                order: Some(i as u32 + 1),
                access_code: None,
            })
            .collect(),
        message: Some(Message {
            subject: Some("Contrato 000123 para assinatura".into()),
            body: Some("Prezado(a), segue o contrato para assinatura eletrônica.".into()),
        }),
        deadline: Some(Utc::now() + chrono::Duration::days(7)),
        sequential: true,
        reminder_days: Some(2),
        metadata: Default::default(),
        provider_options: serde_json::Value::Null,
    };

    let handle = client.send(&envelope).await?;
    println!(
        "sent {:?} as TAE document {} to {} signers, in order",
        envelope.title,
        handle.id,
        SIGNERS.len()
    );

    let bar = ProgressBar::new(SIGNERS.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:24}] {pos}/{len} signed  {msg}")
            .map_err(|e| Failure::Other(e.to_string()))?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(80));
    let control = sandbox.control();
    let id: i64 = handle.id.parse().map_err(|_| Failure::Other("unexpected id".into()))?;
    for signer in &SIGNERS {
        bar.set_message(format!("waiting for {}", signer.name));
        // In production the signer clicks a link in an e-mail; here the sandbox plays that part.
        control
            .tae_sign(id, signer.email)
            .await
            .map_err(|e| Failure::Other(format!("sandbox sign: {}", e.message())))?;
        wait_for(&client, &handle, |s| {
            s.parties
                .iter()
                .any(|p| p.email.as_deref() == Some(signer.email) && p.state == PartyState::Signed)
        })
        .await?;
        bar.inc(1);
    }
    let status = wait_for(&client, &handle, |s| s.state == State::Completed).await?;
    bar.finish_with_message(format!("{}", status.state));

    std::fs::create_dir_all(out_dir)
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", out_dir.display())))?;
    let path = out_dir.join(format!("{}-{}-signed.pdf", envelope.reference, handle.id));
    let info = client.download_to_file(&handle, DownloadKind::Signed, &path).await?;
    let signed = std::fs::read(&path)
        .map_err(|e| Failure::Other(format!("reading {}: {e}", path.display())))?;
    let signed_pages = fixtures::pdf_page_count(&signed).map_err(Failure::Other)?;
    if signed_pages <= original_pages {
        return Err(Failure::Other(format!(
            "the signed PDF has {signed_pages} pages, expected more than the original {original_pages}"
        )));
    }

    println!();
    println!("state:      {} (TAE status {})", status.state, status.provider_status);
    for p in &status.parties {
        let at = p.acted_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        println!(
            "signed by:  {} <{}> at {}",
            p.name.as_deref().unwrap_or("?"),
            p.email.as_deref().unwrap_or("?"),
            at.as_deref().unwrap_or("?")
        );
    }
    println!(
        "signed PDF: {} ({} bytes, {signed_pages} pages: {original_pages} + signature protocol)",
        path.display(),
        info.size
    );
    println!("took {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Polls the status until `done` holds; fails on a terminal state that is not the goal.
async fn wait_for(
    client: &Client,
    handle: &Handle,
    done: impl Fn(&signbridge::Status) -> bool,
) -> Result<signbridge::Status, Failure> {
    let give_up = Instant::now() + POLL_LIMIT;
    loop {
        let status = client.status(handle).await?;
        if done(&status) {
            return Ok(status);
        }
        if status.state.is_terminal() || Instant::now() > give_up {
            return Err(Failure::Other(format!(
                "document {} stopped at {} before the demo's goal",
                handle.id, status.state
            )));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
