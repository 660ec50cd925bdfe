//! Local simulators of the electronic-signature providers signbridge talks to.
//!
//! One HTTP server hosts every simulator, each under its own path prefix, plus control routes
//! under `/__sandbox/` (see [`control`]). Each simulator is written from the provider's contract
//! (`shared/contracts/<id>.md`), never from signbridge's client, holds its state in memory and
//! is as lenient on input as the real service.
//!
//! | Provider | Module | Prefix |
//! |---|---|---|
//! | TOTVS Assinatura Eletrônica | [`tae`] | `/tae` (API), `/tae/identityintegration` (auth), `/tae-storage` (v2 download links) |
//! | ArqSign (Arquivar) | [`arqsign`] | `/arqsign` (API), `/arqsign-storage` (download links), `/arqsign-app` (signing and share links) |
//! | iDocs (idocs.kz) | [`idocs`] | `/idocs` (API), `/idocs-storage` (bulk-download links) |
//! | SINtegre (ONS), a webhook sender only | [`sintegre`] | `/sintegre` (its file proxy) |
//! | SBIS / Saby EDO (JSON-RPC) | [`sbis`] | `/sbis` (`/sbis/auth/service/`, `/sbis/service/`, `/sbis/files/…` download links) |
//!
//! Webhook senders (SINtegre, and iDocs, ArqSign and TAE on status changes) share one delivery
//! machinery, [`senders`], with control routes under `/__sandbox/<id>/deliveries`; tests
//! receive with a [`CaptureReceiver`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use signbridge_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! let auth_base = format!("{}/tae/identityintegration", sandbox.base_url());
//! let api_base = format!("{}/tae", sandbox.base_url());
//! let arqsign_base = format!("{}/arqsign", sandbox.base_url());
//! let idocs_base = format!("{}/idocs", sandbox.base_url());
//! # let _ = (auth_base, api_base, arqsign_base, idocs_base);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Adding a provider: a `src/<id>/` module implementing the crate's simulator trait, a config
//! field in [`SandboxConfig`], and its line in `simulators()` below.

pub mod arqsign;
pub mod capture;
pub mod control;
pub mod fixtures;
pub mod idocs;
pub mod tae;

mod aspnet;
mod chaos;
mod cms_check;
mod faults;
mod files;
mod ids;
mod model;
mod pdf;
mod requests;
pub mod sbis;
pub mod senders;
mod server;
pub mod sintegre;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use capture::{CaptureReceiver, Captured};
pub use control::{Chaos, ChaosKind, ChaosReport, Control, Fault, RecordedRequest, Reset, When};
pub use senders::{
    DeliveryChaos, DeliveryPolicy, DeliveryStatus, DeliverySummary, DeliveryView, SenderId,
};

/// Settings of every simulator.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    pub tae: tae::TaeConfig,
    pub arqsign: arqsign::ArqSignConfig,
    pub idocs: idocs::IDocsConfig,
    pub sintegre: sintegre::SintegreConfig,
    pub sbis: sbis::SbisConfig,
}

/// The simulators this server hosts; a new provider adds its line here.
fn simulators(config: SandboxConfig) -> Vec<Arc<dyn server::Simulator>> {
    vec![
        Arc::new(tae::Tae::new(config.tae)),
        Arc::new(arqsign::ArqSign::new(config.arqsign)),
        Arc::new(idocs::IDocs::new(config.idocs)),
        Arc::new(sintegre::Sintegre::new(config.sintegre)),
        Arc::new(sbis::Sbis::new(config.sbis)),
    ]
}

/// A running sandbox on the current tokio runtime. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `addr` (use `127.0.0.1:0` for an ephemeral port) and serves on the current tokio
    /// runtime.
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> io::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut config = config;
        // SINtegre's links lead to its proxy on this server unless a test says otherwise.
        config.sintegre.proxy_base.get_or_insert_with(|| format!("{}/sintegre", base_url(addr)));
        let app = Arc::new(server::App::new(simulators(config)));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, app, stopped));
        Ok(Sandbox { addr, stop, task: Some(task) })
    }

    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Client for this sandbox's control routes.
    pub fn control(&self) -> Control {
        Control::new(self.base_url())
    }

    /// Stops accepting, closes open connections and waits until the server task has ended.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "sandbox server task failed");
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The server task sees this and stops on its own; Drop cannot wait for it.
        self.stop.send_replace(true);
    }
}

/// A URL clients can reach: a wildcard bind address is reached through loopback.
fn base_url(addr: SocketAddr) -> String {
    let reachable = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    format!("http://{reachable}")
}

/// A sandbox running on its own thread and runtime, for synchronous callers. Dropping it stops
/// the server and joins the thread.
#[derive(Debug)]
pub struct BackgroundSandbox {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundSandbox {
    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Client for the control routes (async: call it from a runtime of your own).
    pub fn control(&self) -> Control {
        Control::new(self.base_url())
    }
}

impl Drop for BackgroundSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the thread already ended; joining below is still right.
            let _ = stop.send(());
        }
        if self.thread.take().is_some_and(|thread| thread.join().is_err()) {
            tracing::warn!("sandbox thread panicked");
        }
    }
}

/// Runs a sandbox on its own thread with its own runtime, for synchronous callers.
pub fn spawn_background(config: SandboxConfig, addr: SocketAddr) -> io::Result<BackgroundSandbox> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<SocketAddr>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread =
        std::thread::Builder::new().name("signbridge-sandbox".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("signbridge-sandbox-rt")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match Sandbox::start(config, addr).await {
                    Ok(sandbox) => {
                        let _ = ready_tx.send(Ok(sandbox.addr()));
                        // Either a stop request or the handle being dropped ends the server.
                        let _ = stop_rx.await;
                        sandbox.shutdown().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
    let started = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("the sandbox thread ended before it was ready")));
    match started {
        Ok(addr) => Ok(BackgroundSandbox { addr, stop: Some(stop_tx), thread: Some(thread) }),
        Err(e) => {
            let _ = thread.join();
            Err(e)
        }
    }
}

/// Starts a sandbox, calls `on_ready` once it listens, then serves until Ctrl-C (or SIGTERM on
/// Unix). Used by the `signbridge-sandbox` binary and `signbridge sandbox`.
pub async fn serve_forever(
    config: SandboxConfig,
    addr: SocketAddr,
    on_ready: impl FnOnce(&Sandbox),
) -> io::Result<()> {
    let sandbox = Sandbox::start(config, addr).await?;
    on_ready(&sandbox);
    let result = shutdown_signal().await;
    sandbox.shutdown().await;
    result
}

async fn shutdown_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_reaches_wildcard_binds_through_loopback() {
        assert_eq!(base_url("0.0.0.0:8080".parse().unwrap()), "http://127.0.0.1:8080");
        assert_eq!(base_url("[::]:8080".parse().unwrap()), "http://[::1]:8080");
        assert_eq!(base_url("127.0.0.1:1".parse().unwrap()), "http://127.0.0.1:1");
    }
}
