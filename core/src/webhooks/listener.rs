//! The listener: an HTTP server in the host's process (or `signbridge serve`) that carries
//! deliveries to the [`Receiver`] and runs the download worker.
//!
//! | route | what |
//! |---|---|
//! | `POST /webhooks/{source}/{account}` | one delivery, answered by [`Receiver::handle`] (404 for a route not configured, 405 for another method, 413 over the source's body limit) |
//! | `GET /health` | `200 {"status":"ok"}` while serving |
//!
//! [`Listener::stop`] stops accepting, lets the requests in flight finish (each is answered
//! only after its commit), lets the download in progress end and commit, then returns.
//!
//! With `tls` (a PEM certificate chain and private key) it serves HTTPS with rustls; each
//! handshake runs apart (bounded in time and number) so that a slow client cannot hold the
//! others up. Without it, it warns when listening beyond the loopback: SINtegre's Basic or
//! token secret travels in clear over `http` (`sintegre.md` §2, §7).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::sintegre::{Downloader, Sintegre};
use super::{Headers, PolledAccount, Receiver, ReceiverConfig, RouteConfig};
use crate::error::{Error, Result};
use crate::journal::JournalConfig;

/// How to run a [`Listener`]: the receiver's journal and routes, and where to listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `IP:port` to bind (`0.0.0.0:8443`, `[::]:8443`); port 0 picks a free one.
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub journal: JournalConfig,
    pub routes: Vec<RouteConfig>,
    /// How often the download worker looks for due links.
    #[serde(default = "default_poll")]
    pub download_poll_ms: u64,
    /// Serve HTTPS with this certificate and key (PEM files).
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Provider accounts to poll into the same event stream (see [`PolledAccount`]).
    #[serde(default)]
    pub accounts: Vec<PolledAccount>,
    /// Acknowledged events older than this many hours are pruned (hourly). Default 720
    /// (30 days); 0: never pruned.
    #[serde(default = "default_retention")]
    pub event_retention_hours: u64,
}

fn default_retention() -> u64 {
    crate::DEFAULT_RETENTION.as_secs() / 3600
}

/// The PEM files of an HTTPS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate, then its chain.
    pub certificate: std::path::PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: std::path::PathBuf,
}

impl TlsFiles {
    fn acceptor(&self) -> Result<TlsAcceptor> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |field: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
            Error::config(format!("tls.{field} {}: {e}", path.display()))
        };
        let chain = CertificateDer::pem_file_iter(&self.certificate)
            .map_err(|e| bad("certificate", &self.certificate, &e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad("certificate", &self.certificate, &e))?;
        if chain.is_empty() {
            return Err(bad("certificate", &self.certificate, &"no certificate in the file"));
        }
        // The key's own text is never put in an error.
        let key = PrivateKeyDer::from_pem_file(&self.private_key)
            .map_err(|e| bad("private_key", &self.private_key, &e))?;
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| Error::config(format!("tls: {e}")))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Handshakes in progress at once; beyond it, new connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener whose connections come out after their TLS handshake.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    handshakes: tokio::task::JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    match accepted {
                        Ok((stream, addr)) => {
                            let acceptor = self.acceptor.clone();
                            self.handshakes.spawn(async move {
                                let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                                shake.await.ok()?.ok().map(|tls| (tls, addr))
                            });
                        }
                        // Out of descriptors and the like: wait, as axum does for plain TCP.
                        Err(e) => {
                            tracing::warn!(target: "signbridge::webhooks", error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_poll() -> u64 {
    1_000
}

impl ListenerConfig {
    /// From JSON (`SIGNBRIDGE_JOURNAL` in the environment sets the journal's path); a field
    /// that does not fit is a validation error naming it.
    pub fn from_json(text: &str) -> Result<ListenerConfig> {
        let mut de = serde_json::Deserializer::from_str(text);
        let mut config: ListenerConfig = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Error::validation(e.path().to_string(), e.inner()))?;
        config.apply_env();
        Ok(config)
    }

    /// `SIGNBRIDGE_JOURNAL` in the environment sets the journal's path.
    pub fn apply_env(&mut self) {
        if let Some(path) = std::env::var_os("SIGNBRIDGE_JOURNAL") {
            self.journal.path = Some(path.into());
        }
    }
}

/// A running listener. Dropping it without [`Listener::stop`] stops it without waiting.
pub struct Listener {
    addr: SocketAddr,
    tls: bool,
    receiver: Arc<Receiver>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Listener {
    /// Opens the journal, builds the routes and the download worker, binds and serves on the
    /// current tokio runtime.
    pub async fn start(config: ListenerConfig) -> Result<Listener> {
        let mut downloads = Vec::new();
        for route in config.routes.iter().filter(|r| r.source == "sintegre") {
            let source = Sintegre::new(&route.account, route.settings.clone())?;
            if let Some(d) = source.downloads() {
                downloads.push((route.account.clone(), d.clone(), source.link_seal()));
            }
        }
        let body_limit = config
            .routes
            .iter()
            .filter_map(|r| r.settings.get("body_limit").and_then(|v| v.as_u64()))
            .max()
            .unwrap_or(0)
            .max(1 << 20);
        let acceptor = config.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
        let receiver =
            Receiver::new(ReceiverConfig { journal: config.journal, routes: config.routes })?;
        let mut polled = Vec::new();
        for (i, account) in config.accounts.iter().enumerate() {
            let client =
                account.client(receiver.journal()).map_err(|e| e.with_context("accounts", i))?;
            polled.push((Arc::new(client), account.interval()));
        }
        let receiver = Arc::new(receiver.with_accounts(
            polled.iter().map(|(c, _)| (c.provider_id().to_owned(), c.account().to_owned())),
        ));
        let downloader = Downloader::new(receiver.journal().clone(), downloads)?;
        // An address, not a name: what to bind is never left to a resolver.
        let listen: SocketAddr = config.listen.parse().map_err(|_| {
            Error::validation(
                "listen",
                format!("{:?} is not an IP address and port", config.listen),
            )
        })?;
        let socket = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            Error::config(format!("listen: cannot bind {}: {e}", config.listen)).with_source(e)
        })?;
        let addr = socket.local_addr().map_err(|e| Error::internal(e.to_string()))?;
        let app = Router::new()
            .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
            .route("/webhooks/{source}/{account}", any(deliver))
            // The receiver answers 413 by each source's own limit; this only bounds what is
            // read before it decides (a larger body is cut off with 413 here).
            .layer(DefaultBodyLimit::max(usize::try_from(body_limit).unwrap_or(usize::MAX)))
            .with_state(receiver.clone());
        let (stop, stopped) = watch::channel(false);
        let until = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let log = |r: std::io::Result<()>| {
            if let Err(e) = r {
                tracing::error!(target: "signbridge::webhooks", error = %e, "listener failed");
            }
        };
        let tls = acceptor.is_some();
        let server = match acceptor {
            Some(acceptor) => {
                let tls = TlsListener { tcp: socket, acceptor, handshakes: Default::default() };
                let server = axum::serve(tls, app).with_graceful_shutdown(until(stopped.clone()));
                tokio::spawn(async move { log(server.await) })
            }
            None => {
                if !addr.ip().is_loopback() {
                    tracing::warn!(target: "signbridge::webhooks", %addr,
                        "listening without TLS: webhook secrets travel in clear; set tls or put \
                         a TLS proxy in front");
                }
                let server =
                    axum::serve(socket, app).with_graceful_shutdown(until(stopped.clone()));
                tokio::spawn(async move { log(server.await) })
            }
        };
        let mut tasks = vec![server];
        if !downloader.is_empty() {
            let poll = Duration::from_millis(config.download_poll_ms.max(10));
            let stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                downloader.run(poll, until(stopped)).await;
            }));
        }
        for (client, every) in polled {
            if let Some(every) = every {
                tasks.push(tokio::spawn(super::poller::run(client, every, until(stopped.clone()))));
            }
        }
        if config.event_retention_hours > 0 {
            let retention = Duration::from_secs(config.event_retention_hours.saturating_mul(3600));
            let journal = receiver.journal().clone();
            tasks.push(tokio::spawn(super::poller::prune(
                journal,
                retention,
                until(stopped.clone()),
            )));
        }
        tracing::info!(target: "signbridge::webhooks", %addr, "listening");
        Ok(Listener { addr, tls, receiver, stop, tasks })
    }

    /// The address bound (with the port picked when 0 was asked for); HTTPS when `tls` is set.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR` or `http://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// The receiver behind the routes: its event stream is the host's.
    pub fn receiver(&self) -> &Arc<Receiver> {
        &self.receiver
    }

    /// Stops accepting, finishes the requests and the download in flight, and returns once
    /// they are committed.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn deliver(
    State(receiver): State<Arc<Receiver>>,
    Path((source, account)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = headers.iter().map(|(name, value)| {
        (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
    });
    let reply =
        receiver.handle(&source, &account, method.as_str(), &Headers::new(pairs), &body).await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
