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
//! TLS is not served here: put a TLS-terminating proxy in front (SINtegre sends the secret in
//! clear over `http`, `sintegre.md` §2).

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
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::sintegre::{Downloader, Sintegre};
use super::{Headers, Receiver, ReceiverConfig, RouteConfig};
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
                downloads.push((route.account.clone(), d.clone()));
            }
        }
        let body_limit = config
            .routes
            .iter()
            .filter_map(|r| r.settings.get("body_limit").and_then(|v| v.as_u64()))
            .max()
            .unwrap_or(0)
            .max(1 << 20);
        let receiver = Arc::new(Receiver::new(ReceiverConfig {
            journal: config.journal,
            routes: config.routes,
        })?);
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
        let server = axum::serve(socket, app).with_graceful_shutdown(until(stopped.clone()));
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(target: "signbridge::webhooks", error = %e, "listener failed");
            }
        })];
        if !downloader.is_empty() {
            let poll = Duration::from_millis(config.download_poll_ms.max(10));
            tasks.push(tokio::spawn(async move {
                downloader.run(poll, until(stopped)).await;
            }));
        }
        tracing::info!(target: "signbridge::webhooks", %addr, "listening");
        Ok(Listener { addr, receiver, stop, tasks })
    }

    /// The address bound (with the port picked when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
