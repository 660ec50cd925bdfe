//! `signbridge`: the command-line face of the SDK.
//!
//! `demo` runs the whole TAE flow against an embedded sandbox; `sandbox` serves the provider
//! simulators; `serve` receives webhooks and downloads what they link to; `capabilities` prints what providers can do; `send`, `validate`, `status`,
//! `refresh`, `download`, `cancel`, `call`, `changes` and `journal` work against a configured account (a
//! JSON or TOML file, secrets from `SIGNBRIDGE_<PROVIDER>_<SETTING>` variables). Envelopes,
//! handles (bare ids included), refresh rows and capability records go through
//! `signbridge::host`, so they read and print as in the C ABI and the Python package.

mod config;
mod demo;
mod serve;

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;
use signbridge::{Client, DownloadKind, Envelope, Handle, Resolution, host};

#[derive(Parser)]
#[command(
    name = "signbridge",
    version,
    about = "Electronic signature and EDO providers behind one API"
)]
struct Cli {
    /// Account configuration (JSON or TOML; default ./signbridge.toml); see the README.
    #[arg(long, global = true, env = "SIGNBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The account's configuration file: the one named, or ./signbridge.toml.
    fn config_path(&self) -> &Path {
        self.config.as_deref().unwrap_or(Path::new("signbridge.toml"))
    }

    fn client(&self) -> Result<Client, Failure> {
        config::client(self.config_path())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole TAE flow against an embedded sandbox and write the signed PDF.
    Demo {
        /// Where the signed PDF goes.
        #[arg(long, default_value = "out")]
        out_dir: PathBuf,
        /// A running sandbox (`signbridge sandbox`'s URL) instead of an embedded one.
        #[arg(long)]
        sandbox: Option<String>,
    },
    /// Serve the provider simulators until Ctrl-C; prints SIGNBRIDGE_SANDBOX_URL=… when ready.
    Sandbox {
        /// 0 picks a free port.
        #[arg(long, default_value_t = 0)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// Receive webhooks (one route per configured source and account, see `serve.rs`) and
    /// download what they link to, until SIGINT/SIGTERM; prints SIGNBRIDGE_LISTEN=… when ready.
    Serve {
        /// `host:port` to listen on, over the configuration's `listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Print a capability record as JSON: the --provider's; else, when --config or
    /// SIGNBRIDGE_CONFIG names an account, its provider's; else every provider's (an array).
    Capabilities {
        /// A provider id (tae, arqsign, idocs, sbis).
        #[arg(long, value_name = "ID")]
        provider: Option<String>,
    },
    /// Send an envelope (JSON file, or - for standard input); prints the handle as JSON.
    /// Sending a reference again prints its handle without sending (see `journal`).
    Send {
        envelope: PathBuf,
        /// Make a new document even though the reference was already sent (another envelope
        /// under a used reference is refused without it).
        #[arg(long)]
        new_document: bool,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// What the journal knows about the account's sends, and settling those whose outcome is
    /// unknown.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Check an envelope as `send` does before its first request, sending nothing.
    Validate {
        envelope: PathBuf,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Print the status of a sent envelope as JSON.
    Status { handle: String },
    /// Print the status of several envelopes as a JSON array, one entry per handle.
    Refresh {
        #[arg(required = true)]
        handles: Vec<String>,
        /// Ask the provider now, even about envelopes it was asked about recently.
        #[arg(long)]
        force: bool,
    },
    /// Download a file of a sent envelope.
    Download {
        handle: String,
        /// original, signed, digitally_signed, evidence or archive.
        #[arg(long, default_value = "signed")]
        kind: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Cancel a sent envelope.
    Cancel { handle: String },
    /// Run one of the provider's own operations (its capability record's `calls`) and print
    /// its result as JSON.
    Call {
        name: String,
        /// The operation's arguments, as JSON (e.g. '{"search": "root"}').
        args: Option<String>,
    },
    /// Print the account's pending events (from polling and from webhooks kept in the
    /// journal) as JSON lines, each acknowledged once printed; an event printed but not
    /// acknowledged (the command was killed) is printed again next time.
    ///
    /// With --since, prints instead the events from a stream position (events after it; 0 is
    /// the beginning) or an RFC 3339 time (committed at or after it), acknowledged or not, as
    /// JSON lines `{"position", "committed_at", "acked_at", "event"}`, acknowledging nothing.
    /// With --prune-hours, deletes the acknowledged events older than that (every account in
    /// the journal) and prints how many; `signbridge serve` does it hourly by itself.
    Events {
        /// Keep waiting for more events until interrupted.
        #[arg(long, conflicts_with_all = ["since", "prune_hours"])]
        follow: bool,
        /// Replay from this position or time instead.
        #[arg(long, value_name = "POSITION|TIME", conflicts_with = "prune_hours")]
        since: Option<String>,
        /// At most this many replayed events (at most 1 000).
        #[arg(long, default_value_t = 100, requires = "since")]
        limit: usize,
        /// Prune the acknowledged events older than this many hours instead.
        #[arg(long, value_name = "HOURS")]
        prune_hours: Option<u64>,
    },
    /// Print the events the provider lists since --cursor as {"events": [...], "cursor": ...}.
    Changes {
        /// Where the previous call stopped (its "cursor"); without it, from the beginning.
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// The account's sends not known to have ended (pending or unknown), oldest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Everything the journal holds about the send of REFERENCE.
    Show { reference: String },
    /// Ask the provider what became of the send of REFERENCE (or of every unfinished send):
    /// sent (with the handle), draft, not_sent (safe to send again) or unknown.
    Reconcile {
        reference: Option<String>,
        /// Without REFERENCE, at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Settle by your word a send the provider cannot reconcile.
    Resolve {
        reference: String,
        /// The document exists: the provider's id of it (later sends return its handle).
        #[arg(long, value_name = "ID", required_unless_present = "not_sent")]
        sent_as: Option<String>,
        /// Nothing was created: the reference may be sent again.
        #[arg(long, conflicts_with = "sent_as")]
        not_sent: bool,
    },
    /// What is left of the account's rate windows (shared by every process and kept across
    /// restarts).
    Budget,
}

/// The key the CLI signs with, for providers where the host signs (iDocs): the reference
/// software signer.
#[derive(clap::Args)]
struct SignerArgs {
    /// A PKCS#12 (.p12/.pfx) key file; its password comes from SIGNBRIDGE_SIGNER_PASSWORD.
    #[arg(long, value_name = "FILE", conflicts_with = "signer_pem")]
    signer_pkcs12: Option<PathBuf>,
    /// A PEM file holding the certificate (then any chain) and the unencrypted private key.
    #[arg(long, value_name = "FILE")]
    signer_pem: Option<PathBuf>,
}

impl SignerArgs {
    fn install(&self, client: &Client) -> Result<(), Failure> {
        // The key's bytes are wiped once loaded (the signer keeps its own, wiped on drop).
        let read = |path: &PathBuf| {
            std::fs::read(path)
                .map(zeroize::Zeroizing::new)
                .map_err(|e| Failure::Other(format!("reading {}: {e}", path.display())))
        };
        let signer = match (&self.signer_pkcs12, &self.signer_pem) {
            (Some(path), _) => {
                let password = std::env::var("SIGNBRIDGE_SIGNER_PASSWORD").unwrap_or_default();
                signbridge::software_signer_from_pkcs12(&read(path)?, &password)?
            }
            (None, Some(path)) => {
                let pem = read(path)?;
                signbridge::software_signer_from_pem(&pem, &pem)?
            }
            (None, None) => return Ok(()),
        };
        client.set_host_signer(Some(std::sync::Arc::new(signer)));
        Ok(())
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIGNBRIDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a command failed with: an SDK error (shown with its stable code) or a CLI-level one.
enum Failure {
    Sdk(signbridge::Error),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Sdk(e) => {
                write!(f, "[{} {}] {e}", e.code(), e.kind())?;
                if let Some(h) = e.handle() {
                    write!(f, "\n  handle: {}", serde_json::to_string(h).unwrap_or_default())?;
                }
                Ok(())
            }
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl From<signbridge::Error> for Failure {
    fn from(e: signbridge::Error) -> Self {
        Failure::Sdk(e)
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Demo { out_dir, sandbox } => demo::run(out_dir, sandbox.as_deref()).await,
        Command::Sandbox { port, host } => {
            let addr = SocketAddr::new(*host, *port);
            signbridge_sandbox::serve_forever(Default::default(), addr, |sandbox| {
                println!("SIGNBRIDGE_SANDBOX_URL={}", sandbox.base_url());
                eprintln!("sandbox listening; TAE auth base {0}/tae/identityintegration, API base {0}/tae; Ctrl-C stops it", sandbox.base_url());
            })
            .await
            .map_err(|e| Failure::Other(format!("sandbox: {e}")))
        }
        Command::Serve { listen } => serve::run(cli.config_path(), listen.as_deref()).await,
        Command::Capabilities { provider: Some(id) } => print_json(&host::capabilities(Some(id))?),
        Command::Capabilities { provider: None } if cli.config.is_some() => {
            let client = cli.client()?;
            print_json(&client.capability().to_json(client.provider_id()))
        }
        Command::Capabilities { provider: None } => print_json(&host::capabilities(None)?),
        Command::Send { envelope, new_document, signer } => {
            let client = cli.client()?;
            signer.install(&client)?;
            let envelope = read_envelope(envelope)?;
            let handle = if *new_document {
                client.send_new_document(&envelope).await?
            } else {
                client.send(&envelope).await?
            };
            print_json(&handle)
        }
        Command::Journal { command } => journal(&cli.client()?, command).await,
        Command::Validate { envelope, signer } => {
            let client = cli.client()?;
            signer.install(&client)?;
            client.validate(&read_envelope(envelope)?)?;
            println!("valid");
            Ok(())
        }
        Command::Status { handle } => {
            let client = cli.client()?;
            print_json(&client.status(&parse_handle(&client, handle)?).await?)
        }
        Command::Refresh { handles, force } => {
            let client = cli.client()?;
            let (provider, account) = (client.provider_id(), client.account());
            let handles = handles
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let field = format!("handles[{i}]");
                    host::handle_value(&Value::String(text.clone()), &field, provider, account)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let results = if *force {
                client.refresh_forced(&handles).await
            } else {
                client.refresh(&handles).await
            };
            let rows: Vec<Value> =
                handles.iter().zip(&results).map(|(h, r)| host::refresh_row(h, r)).collect();
            print_json(&rows)
        }
        Command::Download { handle, kind, out } => {
            let client = cli.client()?;
            let kind: DownloadKind = kind.parse()?;
            let info = client.download_to_file(&parse_handle(&client, handle)?, kind, out).await?;
            println!("{} ({} bytes)", out.display(), info.size);
            Ok(())
        }
        Command::Cancel { handle } => {
            let client = cli.client()?;
            client.cancel(&parse_handle(&client, handle)?).await?;
            println!("cancelled");
            Ok(())
        }
        Command::Call { name, args } => {
            let client = cli.client()?;
            let args = match args {
                Some(text) => host::from_json("args", text)?,
                None => Value::Null,
            };
            print_json(&client.call(name, args).await?)
        }
        Command::Events { since: Some(since), limit, .. } => {
            let since = host::since(since)?;
            let client = cli.client()?;
            let replayed = client.replay_events(since, *limit).await?;
            let mut out = std::io::stdout().lock();
            for line in host::replayed_json(&replayed).as_array().into_iter().flatten() {
                writeln!(out, "{line}")
                    .map_err(|e| Failure::Other(format!("writing the event: {e}")))?;
            }
            Ok(())
        }
        Command::Events { prune_hours: Some(hours), .. } => {
            let client = cli.client()?;
            let retention = std::time::Duration::from_secs(hours.saturating_mul(3600));
            print_json(&serde_json::json!({"pruned": client.prune_events(retention).await?}))
        }
        Command::Events { follow, .. } => {
            let client = cli.client()?;
            let wait = if *follow { None } else { Some(std::time::Duration::ZERO) };
            while let Some(event) = client.next_event(wait).await? {
                let line = serde_json::to_string(&event)
                    .map_err(|e| Failure::Other(format!("encoding the event: {e}")))?;
                // Acknowledged only once the line is out: a closed pipe leaves it pending.
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(|e| Failure::Other(format!("writing the event: {e}")))?;
                drop(out);
                client.ack_event(&event.id).await?;
            }
            Ok(())
        }
        Command::Changes { cursor } => {
            let client = cli.client()?;
            let (events, cursor) = client.changes(cursor.as_deref()).await?;
            print_json(&serde_json::json!({"events": events, "cursor": cursor}))
        }
    }
}

async fn journal(client: &Client, command: &JournalCommand) -> Result<(), Failure> {
    match command {
        JournalCommand::List { limit } => {
            let rows: Vec<Value> =
                client.pending(*limit).await?.iter().map(host::intent_json).collect();
            print_json(&rows)
        }
        JournalCommand::Show { reference } => match client.intent(reference).await? {
            Some(record) => print_json(&host::intent_json(&record)),
            None => Err(signbridge::Error::new(
                signbridge::ErrorKind::NotFound,
                format!("the journal has no send of {reference:?}"),
            )
            .into()),
        },
        JournalCommand::Reconcile { reference: Some(reference), .. } => {
            print_json(&client.reconcile(reference).await?)
        }
        JournalCommand::Reconcile { reference: None, limit } => {
            let results = client.reconcile_pending(*limit).await?;
            let rows: Vec<Value> =
                results.iter().map(|(r, result)| host::reconciled_json(r, result)).collect();
            print_json(&rows)
        }
        JournalCommand::Resolve { reference, sent_as, not_sent } => {
            let resolution = match (sent_as, not_sent) {
                (Some(id), false) => Resolution::SentAs(id.clone()),
                _ => Resolution::NotSent,
            };
            print_json(&client.resolve(reference, resolution).await?)
        }
        JournalCommand::Budget => print_json(&host::budget_json(&client.budget().await?)),
    }
}

/// An envelope from its file (or standard input), read as every shell reads one.
fn read_envelope(path: &Path) -> Result<Envelope, Failure> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::Other(format!("reading the envelope from stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::Other(format!("reading {}: {e}", path.display())))?
    };
    Ok(host::envelope(&text)?)
}

/// A handle as JSON, as `provider:account:id`, or as a bare id of the configured account.
fn parse_handle(client: &Client, text: &str) -> Result<Handle, Failure> {
    Ok(host::handle(text, client.provider_id(), client.account())?)
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Other(format!("encoding the result: {e}")))?;
    println!("{text}");
    Ok(())
}
