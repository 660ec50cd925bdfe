//! `signbridge demo`: the whole signing flow through the real client, against the embedded
//! sandbox, for each provider: the parties sign a sample contract (two in order, or the host and
//! then one counterparty), and the signed files land under the output directory. Then SINtegre,
//! which only pushes: the sandbox publishes a product, the in-process listener receives it and
//! downloads its file into `<out>/sintegre/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::BoxFuture;
use indicatif::{ProgressBar, ProgressStyle};
use signbridge::journal::JournalConfig;
use signbridge::signing::SoftwareSigner;
use signbridge::webhooks::{Listener, ListenerConfig, RouteConfig};
use signbridge::{
    Client, ClientConfig, Document, DownloadKind, Envelope, EventKind, Handle, Message, Party,
    PartyState, State, Status, TransportConfig,
};
use signbridge_sandbox::{Control, Sandbox, arqsign, fixtures, idocs, sbis, tae};

use crate::Failure;

struct Signer {
    name: &'static str,
    email: &'static str,
    tax_id: &'static str,
}

/// Brazilian parties (TAE, ArqSign): CPF and CNPJ.
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

/// iDocs routes to companies by BIN: the sandbox's counterparty.
const IDOCS_SIGNERS: [Signer; 1] = [Signer {
    name: "ТОО Контрагент",
    email: "buh@kontragent.example",
    tax_id: idocs::COUNTERPARTY_BIN,
}];

/// SBIS sends to one counterparty by ИНН/КПП: the sandbox's.
const SBIS_SIGNERS: [Signer; 1] = [Signer {
    name: sbis::COUNTERPARTY_NAME,
    email: "edo@premier.example",
    tax_id: "7601000985/760601001",
}];

/// How long the demo waits for the sandbox to reflect a signature before giving up.
const POLL_LIMIT: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(100);
const ORIGINAL_PAGES: usize = 2;

/// Makes a party sign at the sandbox, as the person would by clicking the e-mailed link.
type SignAs = for<'a> fn(&'a Control, &'a Handle, &'a str) -> BoxFuture<'a, Result<(), String>>;

/// The `webhook_subscribe` arguments besides the URL.
type HookArgs = fn() -> serde_json::Value;

/// One provider's part of the demo.
struct Flow {
    name: &'static str,
    client: Client,
    sign: SignAs,
    signers: &'static [Signer],
    /// What to download once completed, and the file-name suffix for each.
    downloads: &'static [(DownloadKind, &'static str)],
    /// The receiver route completion is learnt from, and the `webhook_subscribe` arguments
    /// besides the URL; `None`: the status is polled.
    hook: Option<(&'static str, HookArgs)>,
}

/// Runs the demo against the sandbox at `sandbox_url` (one `signbridge sandbox` serves), or an
/// embedded one started for it; what the providers received can then be read from the former.
pub async fn run(out_dir: &Path, sandbox_url: Option<&str>) -> Result<(), Failure> {
    let embedded = match sandbox_url {
        Some(_) => None,
        None => {
            let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let sandbox = Sandbox::start(Default::default(), loopback)
                .await
                .map_err(|e| Failure::Other(format!("cannot start the sandbox: {e}")))?;
            Some(sandbox)
        }
    };
    let base = match (&embedded, sandbox_url) {
        (Some(sandbox), _) => sandbox.base_url(),
        (None, url) => url.unwrap_or_default().trim_end_matches('/').to_owned(),
    };
    let control = Control::new(base.clone());
    println!("signbridge demo, against the local provider sandbox at {base}");
    let result = async {
        let flows = flows(&base)?;
        let listener = subscribe(&flows).await?;
        let result = async {
            for flow in &flows {
                run_flow(flow, &control, &listener, out_dir).await?;
            }
            Ok::<(), Failure>(())
        }
        .await;
        listener.stop().await;
        result?;
        sintegre(&control, out_dir).await
    }
    .await;
    if let Some(sandbox) = embedded {
        sandbox.shutdown().await;
    }
    result
}

fn flows(base: &str) -> Result<Vec<Flow>, Failure> {
    let client = |provider: &str, settings: serde_json::Value| {
        Client::new(ClientConfig {
            provider: provider.into(),
            account: "demo".into(),
            transport: TransportConfig::default(),
            settings,
            // The demo's sandbox lives as long as the demo: so does its journal.
            journal: signbridge::journal::JournalConfig::in_memory(),
        })
    };
    Ok(vec![
        Flow {
            name: "TOTVS Assinatura Eletrônica (TAE)",
            client: client(
                "tae",
                serde_json::json!({
                    "auth_base": format!("{base}/tae/identityintegration"),
                    "api_base": format!("{base}/tae"),
                    "username": tae::DEFAULT_USER,
                    "password": tae::DEFAULT_PASSWORD,
                }),
            )?,
            sign: |control, handle, email| {
                Box::pin(async move {
                    let id =
                        handle.id.parse().map_err(|_| format!("unexpected id {}", handle.id))?;
                    control.tae_sign(id, email).await.map(drop).map_err(|e| e.message().to_string())
                })
            },
            signers: &SIGNERS,
            downloads: &[(DownloadKind::Signed, "signed")],
            hook: None,
        },
        Flow {
            name: "ArqSign",
            client: client(
                "arqsign",
                serde_json::json!({
                    "base_url": format!("{base}/arqsign"),
                    "app_key": arqsign::DEFAULT_APP_KEY,
                    "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
                    "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID,
                    "folder_id": arqsign::DEFAULT_FOLDER_ID,
                    // The demo polls every 100 ms; a real account keeps the default hour.
                    "min_poll_interval_secs": 0,
                }),
            )?,
            sign: |control, handle, email| {
                Box::pin(async move {
                    control
                        .arqsign_sign(&handle.id, email)
                        .await
                        .map(drop)
                        .map_err(|e| e.message().to_string())
                })
            },
            signers: &SIGNERS,
            downloads: &[(DownloadKind::Signed, "signed"), (DownloadKind::Evidence, "evidence")],
            // Trigger 8 (§6.2), "concluded by all", the default.
            hook: Some(("arqsign", || serde_json::json!({"name": "signbridge demo"}))),
        },
        Flow {
            name: "iDocs (the host signs with the reference software signer)",
            client: {
                let client = client(
                    "idocs",
                    serde_json::json!({
                        "base_url": format!("{base}/idocs"),
                        "token": idocs::DEFAULT_TOKEN,
                        "employee_id": idocs::SENDER_EMPLOYEE_ID,
                        "webhooks_base_url": format!("{base}/idocs-webhooks/api/1"),
                    }),
                )?;
                // A throwaway key made now; a real host signs with its own key (NCALayer, a
                // PKCS#12 file given to SoftwareSigner::from_pkcs12, ...).
                let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ТОО Отправитель (demo)");
                let signer = SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes())
                    .map_err(|e| Failure::Other(format!("demo signer: {e}")))?;
                client.set_host_signer(Some(std::sync::Arc::new(signer)));
                client
            },
            sign: |control, handle, _email| {
                Box::pin(async move {
                    control
                        .idocs_counterparty_sign(&handle.id)
                        .await
                        .map(drop)
                        .map_err(|e| e.message().to_string())
                })
            },
            signers: &IDOCS_SIGNERS,
            downloads: &[(DownloadKind::Signed, "print-form")],
            hook: Some(("idocs", || serde_json::json!({}))),
        },
        Flow {
            name: "SBIS / Saby (the host signs each prepared file; the counterparty approves)",
            client: {
                let client = client(
                    "sbis",
                    serde_json::json!({
                        "auth_url": format!("{base}/sbis/auth/service/"),
                        "service_url": format!("{base}/sbis/service/?srv=1"),
                        "login": sbis::LOGIN,
                        "password": sbis::PASSWORD,
                        "our_inn": sbis::OUR_INN,
                        "our_kpp": sbis::OUR_KPP,
                    }),
                )?;
                // A throwaway key; in Russia the host's signer calls CryptoPro (GOST).
                let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("ООО Наша (demo)");
                let signer = SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes())
                    .map_err(|e| Failure::Other(format!("demo signer: {e}")))?;
                client.set_host_signer(Some(std::sync::Arc::new(signer)));
                client
            },
            sign: |control, handle, _email| {
                Box::pin(async move {
                    control
                        .sbis_counterparty_sign(&handle.id, None)
                        .await
                        .map(drop)
                        .map_err(|e| e.message().to_string())
                })
            },
            signers: &SBIS_SIGNERS,
            // The sandbox serves no print form (СсылкаНаPDF): the file as sent.
            downloads: &[(DownloadKind::Original, "original")],
            hook: None,
        },
    ])
}

fn envelope(signers: &[Signer]) -> Envelope {
    let title = "Contrato de prestação de serviços nº 000123";
    let pdf = fixtures::sample_pdf(title, ORIGINAL_PAGES);
    let parties = signers
        .iter()
        .enumerate()
        .map(|(i, s)| Party {
            tax_id: Some(s.tax_id.into()),
            order: Some(i as u32 + 1),
            ..Party::signer(s.name, s.email)
        })
        .collect();
    Envelope {
        message: Some(Message {
            subject: Some("Contrato 000123 para assinatura".into()),
            body: Some("Prezado(a), segue o contrato para assinatura eletrônica.".into()),
        }),
        deadline: Some(Utc::now() + chrono::Duration::days(7)),
        // In order when there is an order to keep (SBIS sends to one counterparty, unordered).
        sequential: signers.len() > 1,
        reminder_days: Some(2),
        ..Envelope::new(
            "DEMO-000123",
            title,
            vec![Document::from_bytes("contrato-000123.pdf", pdf)],
            parties,
        )
    }
}

/// One listener with a route per hooked flow, each provider told its URL through its
/// `webhook_subscribe` call. ArqSign makes the HMAC key when the webhook is created and the route
/// needs it when the listener starts: the loopback port is picked first, then the subscriptions
/// are made, then the listener binds it.
async fn subscribe(flows: &[Flow]) -> Result<Listener, Failure> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| Failure::Other(format!("no loopback port: {e}")))?
        .port();
    let mut routes = Vec::new();
    for flow in flows {
        let Some((source, args)) = flow.hook else { continue };
        let url = format!("http://127.0.0.1:{port}/webhooks/{source}/demo");
        let mut args = args();
        args["url"] = url.into();
        let answer = flow.client.call("webhook_subscribe", args).await?;
        let settings = match answer["secret"].as_str() {
            Some(key) => serde_json::json!({"hmac_keys": [key]}),
            None => serde_json::json!({}),
        };
        routes.push(RouteConfig { source: source.into(), account: "demo".into(), settings });
    }
    let config = ListenerConfig {
        listen: format!("127.0.0.1:{port}"),
        journal: JournalConfig::in_memory(),
        routes,
        download_poll_ms: 50,
        tls: None,
        accounts: Vec::new(),
        event_retention_hours: 0,
    };
    Ok(Listener::start(config).await?)
}

/// Waits on the event stream for `handle`'s completion, acknowledging every event read.
async fn completed_by_webhook(listener: &Listener, handle: &Handle) -> Result<String, Failure> {
    loop {
        let event = listener.receiver().next_event(Some(POLL_LIMIT)).await?.ok_or_else(|| {
            Failure::Other(format!("no completion event for {} within the demo's wait", handle.id))
        })?;
        listener.receiver().ack_event(&event.id).await?;
        if event.handle.id == handle.id && event.raw["state"] == "completed" {
            return Ok(event.id);
        }
    }
}

async fn run_flow(
    flow: &Flow,
    control: &Control,
    listener: &Listener,
    out_dir: &Path,
) -> Result<(), Failure> {
    let started = Instant::now();
    let envelope = envelope(flow.signers);
    println!("\n== {}", flow.name);
    let handle = flow.client.send(&envelope).await?;
    println!(
        "sent {:?} as document {} to {}",
        envelope.title,
        handle.id,
        match flow.signers.len() {
            1 => "its signer".to_string(),
            n => format!("{n} signers, in order"),
        }
    );

    let bar = ProgressBar::new(flow.signers.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:24}] {pos}/{len} signed  {msg}")
            .map_err(|e| Failure::Other(e.to_string()))?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(80));
    for signer in flow.signers {
        bar.set_message(format!("waiting for {}", signer.name));
        (flow.sign)(control, &handle, signer.email)
            .await
            .map_err(|e| Failure::Other(format!("sandbox sign: {e}")))?;
        if flow.hook.is_none() {
            wait_for(&flow.client, &handle, |s| {
                // Providers that report parties say who signed; the others only move the state.
                s.parties.iter().any(|p| {
                    p.email.as_deref() == Some(signer.email) && p.state == PartyState::Signed
                }) || s.state == State::PartiallySigned
                    || s.state == State::Completed
            })
            .await?;
        }
        bar.inc(1);
    }
    let (status, learnt) = match flow.hook {
        None => (wait_for(&flow.client, &handle, |s| s.state == State::Completed).await?, None),
        Some((source, _)) => {
            let event = completed_by_webhook(listener, &handle).await?;
            // One status read, for the parties printed below: not a poll.
            (flow.client.status(&handle).await?, Some((source, event)))
        }
    };
    bar.finish_with_message(status.state.to_string());
    if let Some((source, event)) = learnt {
        println!("completion came from the {source} webhook (event {event})");
    }

    std::fs::create_dir_all(out_dir)
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", out_dir.display())))?;
    let mut written: Vec<(PathBuf, usize, u64)> = Vec::new();
    for (kind, suffix) in flow.downloads {
        let path = out_dir.join(format!(
            "{}-{}-{}-{suffix}.pdf",
            envelope.reference,
            flow.client.provider_id(),
            handle.id
        ));
        let info = flow.client.download_to_file(&handle, *kind, &path).await?;
        let bytes = std::fs::read(&path)
            .map_err(|e| Failure::Other(format!("reading {}: {e}", path.display())))?;
        let pages = fixtures::pdf_page_count(&bytes).map_err(Failure::Other)?;
        written.push((path, pages, info.size));
    }
    let signed_pages = written[0].1;
    let signed = flow.downloads[0].0 == DownloadKind::Signed;
    if signed && signed_pages <= ORIGINAL_PAGES {
        return Err(Failure::Other(format!(
            "the signed PDF has {signed_pages} pages, expected more than the original {ORIGINAL_PAGES}"
        )));
    }

    println!("state:      {} (provider status {})", status.state, status.provider_status);
    for p in &status.parties {
        let at = p.acted_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        println!(
            "signed by:  {} <{}> at {}",
            p.name.as_deref().unwrap_or("?"),
            p.email.as_deref().unwrap_or("?"),
            at.as_deref().unwrap_or("?")
        );
    }
    for ((_, suffix), (path, pages, size)) in flow.downloads.iter().zip(&written) {
        println!("{suffix:<11} {} ({size} bytes, {pages} pages)", path.display());
    }
    println!("took {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// SINtegre has no API: it posts a notification when a product is published, and the file
/// behind its link must be fetched before the link expires. The in-process listener receives
/// the sandbox's notification, its worker downloads the file, and both show in the event stream.
async fn sintegre(control: &Control, out_dir: &Path) -> Result<(), Failure> {
    let started = Instant::now();
    println!("\n== SINtegre (webhook)");
    let folder = out_dir.join("sintegre");
    let (user, password) = ("erp", "demo-secret");
    let settings = serde_json::json!({
        "auth": [{"basic": {"user": user, "password": password}}],
        // The sandbox's proxy is plain http on the loopback; the real one is https on
        // apps08.ons.org.br (the default allowlist).
        "downloads": {"folder": folder, "allow_hosts": [], "allow_loopback_http": true,
                      "retry_initial_ms": 200}});
    let config = ListenerConfig {
        listen: "127.0.0.1:0".into(),
        journal: JournalConfig::in_memory(),
        routes: vec![RouteConfig { source: "sintegre".into(), account: "demo".into(), settings }],
        download_poll_ms: 50,
        tls: None,
        accounts: Vec::new(),
        event_retention_hours: 0,
    };
    let listener = Listener::start(config).await?;
    let result = async {
        let sandbox = |e: signbridge_sandbox::control::Error| Failure::Other(format!("sandbox: {e}"));
        let product = control
            .sintegre("products", serde_json::json!({
                "nome": "IPDO (Informativo Preliminar Diário da Operação)",
                "processo": "Operação em Tempo Real", "macroProcesso": "Operação do Sistema"}))
            .await
            .map_err(sandbox)?;
        let route = format!("http://{}/webhooks/sintegre/demo", listener.local_addr());
        control
            .sintegre("integrations", serde_json::json!({"descricao": "ERP", "url": route,
                "auth": {"type": "basic", "user": user, "password": password},
                "produtos": [product["id"]]}))
            .await
            .map_err(sandbox)?;
        println!("listening at {route}; publishing the IPDO of 20/02/2025");
        let pdf = fixtures::sample_pdf("IPDO 20/02/2025", 1);
        control
            .sintegre(&format!("products/{}/publications", product["id"]), serde_json::json!({
                "dataProduto": "20/02/2025", "periodicidade": "2025-02-20T00:00:00",
                "periodicidadeFinal": "2025-02-20T23:59:59", "file_name": "IPDO-20-02-2025.pdf",
                "content_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pdf),
                "content_type": "application/pdf"}))
            .await
            .map_err(sandbox)?;
        loop {
            let event = listener.receiver().next_event(Some(POLL_LIMIT)).await?.ok_or_else(|| {
                Failure::Other("no SINtegre event within the demo's wait".into())
            })?;
            listener.receiver().ack_event(&event.id).await?;
            let raw = &event.raw;
            match event.kind {
                EventKind::DocumentReceived => println!(
                    "received:   {} {} (key {})",
                    raw["nome"].as_str().unwrap_or("?"),
                    raw["dataProduto"].as_str().unwrap_or("?"),
                    event.handle.id
                ),
                EventKind::FileDownloaded => {
                    println!("downloaded: {} ({} bytes)", raw["path"].as_str().unwrap_or("?"), raw["size"]);
                    println!("sha256:     {}", raw["sha256"].as_str().unwrap_or("?"));
                    return Ok(());
                }
                other => {
                    return Err(Failure::Other(format!("SINtegre: unexpected {other:?}: {raw}")));
                }
            }
        }
    }
    .await;
    listener.stop().await;
    println!("took {:.2} s", started.elapsed().as_secs_f64());
    result
}

/// Polls the status until `done` holds; fails on a terminal state that is not the goal.
async fn wait_for(
    client: &Client,
    handle: &Handle,
    done: impl Fn(&Status) -> bool,
) -> Result<Status, Failure> {
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
