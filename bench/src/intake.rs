//! Webhook intake (issue 14, "Benchmark"): a load generator on loopback keeps N connections
//! open (HTTP/1.1 keep-alive) and posts SINtegre deliveries (Basic auth, each a distinct
//! notification) to the embedded listener, in three set-ups:
//!
//! - **durable**: the listener with its journal in a file; each delivery is answered 200 only
//!   once committed (group commit: deliveries arriving together share a transaction);
//! - **memory**: the same listener with its journal in memory (committed, nothing on disk);
//! - **limit**: the same HTTP stack (axum), route and source (authenticate, parse), answering
//!   without storing — what the listener could do if keeping cost nothing.
//!
//! Prints deliveries/s and p50/p99 latency of each, and durable / limit as a ratio. The target
//! is ≥ 10,000/s durable on 2 cores and ≥ 0.5× the limit. Figures only: nothing is asserted.
//!
//! Usage: intake [--connections 64] [--deliveries 40000]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use serde_json::json;
use signbridge::webhooks::{Headers, Listener, ListenerConfig, Source};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const FILE: &str = "https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO";

struct Args {
    connections: usize,
    deliveries: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args { connections: 64, deliveries: 40_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--connections" => args.connections = number(value()?)?.max(1),
            "--deliveries" => args.deliveries = number(value()?)?.max(1),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn route_settings() -> serde_json::Value {
    json!({"auth": [{"basic": {"user": "ons", "password": "s3cr3t"}}]})
}

/// The `n`th notification of run `run`: a distinct file (so a distinct K1 key), as SINtegre
/// posts it (`sintegre.md` §1.5), with its unsigned link token.
fn delivery(run: &str, n: usize) -> Vec<u8> {
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let nbf = 1_740_000_000_i64;
    let claims = json!({"URL": format!("{FILE}-{run}-{n}.pdf"), "IsFile": "True",
        "nbf": nbf, "exp": nbf + 86_640});
    let token = format!("{}.{}.c2ln", enc(json!({"typ": "JWT", "alg": "HS256"})), enc(claims));
    json!({"nome": "IPDO (Informativo Preliminar Diário da Operação)",
        "processo": "Operação em Tempo Real", "dataProduto": "20/02/2025",
        "macroProcesso": "Operação do Sistema", "periodicidade": "2025-02-20T00:00:00",
        "periodicidadeFinal": "2025-02-20T23:59:59",
        "url": format!("https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token={token}")})
    .to_string()
    .into_bytes()
}

/// Every request of a run, ready to write: HTTP/1.1, keep-alive.
fn requests(addr: SocketAddr, run: &str, count: usize) -> Vec<Vec<u8>> {
    let auth = base64::engine::general_purpose::STANDARD.encode("ons:s3cr3t");
    (0..count)
        .map(|n| {
            let body = delivery(run, n);
            let mut request = format!(
                "POST /webhooks/sintegre/ons HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nAuthorization: Basic {auth}\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            request
        })
        .collect()
}

/// Reads one response off a keep-alive connection; returns its status.
async fn response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| broken("head not UTF-8"))?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| broken("no status"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| broken("no Content-Length"))?;
            let total = end + 4 + length;
            while buf.len() < total {
                read_more(stream, buf).await?;
            }
            buf.drain(..total);
            return Ok(status);
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
}

/// Posts every request over `connections` keep-alive connections (each takes the next request
/// not yet sent) and measures.
async fn load(addr: SocketAddr, requests: Vec<Vec<u8>>, connections: usize) -> Figures {
    let total = requests.len();
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect to the listener");
                stream.set_nodelay(true).expect("TCP_NODELAY");
                let (mut latencies, mut failed, mut buf) = (Vec::new(), 0, Vec::new());
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(request) = requests.get(i) else { break };
                    let sent = Instant::now();
                    stream.write_all(request).await.expect("send a delivery");
                    let status = response(&mut stream, &mut buf).await.expect("read the answer");
                    latencies.push(sent.elapsed());
                    failed += usize::from(status != 200);
                }
                (latencies, failed)
            })
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::with_capacity(total), 0);
    for task in tasks {
        let (l, f) = task.await.expect("a connection's task");
        latencies.extend(l);
        failed += f;
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures { rate: total as f64 / wall.as_secs_f64(), p50: at(0.50), p99: at(0.99), failed }
}

/// The listener as a host starts it, its journal at `journal` (a file, or `:memory:`).
async fn listener(journal: &str) -> Listener {
    let config = json!({"listen": "127.0.0.1:0", "journal": {"path": journal},
        "routes": [{"source": "sintegre", "account": "ons", "settings": route_settings()}]});
    let mut config = ListenerConfig::from_json(&config.to_string()).expect("listener config");
    config.journal.path = Some(journal.into());
    Listener::start(config).await.expect("start the listener")
}

type Routes = Arc<BTreeMap<(String, String), Arc<dyn Source>>>;

/// The limit: the listener's HTTP stack, route and source, answering without storing.
async fn limit_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let source = signbridge::webhooks::build("sintegre", "ons", route_settings()).unwrap();
    let routes: Routes = Arc::new(BTreeMap::from([(("sintegre".into(), "ons".into()), source)]));
    async fn deliver(
        State(routes): State<Routes>,
        Path(route): Path<(String, String)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let Some(source) = routes.get(&route) else { return (StatusCode::NOT_FOUND, "") };
        let pairs = headers.iter().map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        });
        let headers = Headers::new(pairs);
        if source.authenticate(&headers, &body).is_err() {
            return (StatusCode::UNAUTHORIZED, "");
        }
        match source.parse(&headers, &body, chrono::Utc::now()) {
            Ok(_) => (StatusCode::OK, r#"{"received":true,"duplicate":false}"#),
            Err(_) => (StatusCode::BAD_REQUEST, ""),
        }
    }
    let app = Router::new().route("/webhooks/{source}/{account}", post(deliver)).with_state(routes);
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    (addr, tokio::spawn(async move { axum::serve(socket, app).await.unwrap() }))
}

fn row(name: &str, f: &Figures) {
    println!(
        "  {name:<8} {:>9.0} deliveries/s   p50 {:>7.2} ms   p99 {:>7.2} ms{}",
        f.rate,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        if f.failed > 0 { format!("   ({} not 200)", f.failed) } else { String::new() }
    );
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: intake [--connections 64] [--deliveries 40000]");
            std::process::exit(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "intake: {} SINtegre deliveries over {} keep-alive connections on 127.0.0.1, {cores} cores",
        args.deliveries, args.connections
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("journal.sqlite3");

    let durable = listener(&file.display().to_string()).await;
    let warm = requests(durable.local_addr(), "warm", 1_000);
    load(durable.local_addr(), warm, args.connections).await;
    let figures = load(
        durable.local_addr(),
        requests(durable.local_addr(), "durable", args.deliveries),
        args.connections,
    )
    .await;
    durable.stop().await;
    row("durable", &figures);

    let memory = listener(":memory:").await;
    let addr = memory.local_addr();
    load(addr, requests(addr, "warm", 1_000), args.connections).await;
    let in_memory = load(addr, requests(addr, "memory", args.deliveries), args.connections).await;
    memory.stop().await;
    row("memory", &in_memory);

    let (addr, server) = limit_server().await;
    load(addr, requests(addr, "warm", 1_000), args.connections).await;
    let limit = load(addr, requests(addr, "limit", args.deliveries), args.connections).await;
    server.abort();
    row("limit", &limit);

    println!(
        "  durable / limit = {:.2} (target ≥ 0.5; durable target ≥ 10,000/s on 2 cores)",
        figures.rate / limit.rate
    );
}
