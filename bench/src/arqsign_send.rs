//! Sends one ArqSign process of N × M MB PDFs (default 25 × 4 MB, ArqSign's maximum) to the
//! sandbox running in another process, and prints the wall time and this process's peak
//! resident memory. The target is a peak under 64 MB: the files travel as base64 inside one
//! JSON body, so a client that built that body in memory would need several hundred MB.
//!
//! Usage: arqsign-send --sandbox PATH/TO/signbridge-sandbox [--files 25] [--mb 4]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use signbridge::{Client, ClientConfig, Document, Envelope, Party, TransportConfig};
use signbridge_sandbox::{arqsign, fixtures};

struct Args {
    sandbox: PathBuf,
    files: usize,
    mb: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args { sandbox: PathBuf::new(), files: 25, mb: 4 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--sandbox" => args.sandbox = value()?.into(),
            "--files" => args.files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            "--mb" => args.mb = value()?.parse().map_err(|e| format!("--mb: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.sandbox.as_os_str().is_empty() {
        return Err("usage: arqsign-send --sandbox PATH [--files 25] [--mb 4]".into());
    }
    Ok(args)
}

/// The sandbox binary, killed when dropped.
struct SandboxProcess(Child);

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sandbox(binary: &Path) -> Result<(SandboxProcess, String), String> {
    let mut child = Command::new(binary)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let process = SandboxProcess(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let url = line
        .trim()
        .strip_prefix("SIGNBRIDGE_SANDBOX_URL=")
        .ok_or(format!("unexpected first line {line:?}"))?;
    Ok((process, url.to_string()))
}

/// A real PDF padded to `size` bytes with a trailing comment (PDF readers ignore it), written
/// in pieces so that making the files does not itself raise the peak.
fn write_pdf(path: &Path, title: &str, size: usize) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let pdf = fixtures::sample_pdf(title, 1);
    file.write_all(&pdf)?;
    let mut written = pdf.len();
    let line: Vec<u8> = std::iter::once(b'%')
        .chain((0..1023).map(|i| b'a' + (i % 26) as u8))
        .chain([b'\n'])
        .collect();
    while written + line.len() <= size {
        file.write_all(&line)?;
        written += line.len();
    }
    file.flush()
}

/// Peak and current resident set size of this process, from /proc (Linux).
fn memory() -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = args()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut documents = Vec::new();
    for i in 1..=args.files {
        let path = dir.path().join(format!("documento-{i:02}.pdf"));
        write_pdf(&path, &format!("Documento {i}"), args.mb * 1024 * 1024)
            .map_err(|e| e.to_string())?;
        documents.push(Document::from_path(path));
    }
    let (_sandbox, url) = start_sandbox(&args.sandbox)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let client = Client::new(ClientConfig {
        provider: "arqsign".into(),
        account: "bench".into(),
        transport: TransportConfig::default(),
        journal: signbridge::journal::JournalConfig::in_memory(),
        settings: serde_json::json!({
            "base_url": format!("{url}/arqsign"),
            "app_key": arqsign::DEFAULT_APP_KEY,
            "subscription_key": arqsign::DEFAULT_SUBSCRIPTION_KEY,
            "responsible_id": arqsign::DEFAULT_RESPONSIBLE_ID,
            "folder_id": arqsign::DEFAULT_FOLDER_ID,
        }),
    })
    .map_err(|e| e.to_string())?;
    let title = format!("Benchmark {} × {} MB", args.files, args.mb);
    let envelope =
        Envelope::new("BENCH-1", title, documents, vec![Party::signer("Ana", "ana@example.com")]);
    let (peak_before, _) = memory();
    let started = Instant::now();
    let handle = runtime.block_on(client.send(&envelope)).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let (peak, rss) = memory();
    let total_mb = (args.files * args.mb) as f64;
    println!(
        "arqsign send: {} files × {} MB = {total_mb} MB of PDF (~{:.0} MB of JSON)",
        args.files,
        args.mb,
        total_mb * 4.0 / 3.0
    );
    println!("process id:   {}", handle.id);
    println!(
        "wall time:    {:.2} s ({:.0} MB/s of PDF)",
        elapsed.as_secs_f64(),
        total_mb / elapsed.as_secs_f64()
    );
    let mb = |kb: Option<u64>| {
        kb.map_or("unknown".to_string(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
    };
    println!("peak RSS:     {} (before the send: {}; now: {})", mb(peak), mb(peak_before), mb(rss));
    println!("target:       peak RSS under 64 MB");
    Ok(())
}
