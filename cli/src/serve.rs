//! `signbridge serve`: the webhook listener ([`signbridge::webhooks::Listener`]) as a process.
//!
//! Its configuration file (`--config`, JSON or TOML) is a listener's, not an account's:
//!
//! ```toml
//! listen = "0.0.0.0:8443"            # default 127.0.0.1:8080; port 0 picks one
//! [journal]
//! path = "/var/lib/signbridge/journal.sqlite3"   # or SIGNBRIDGE_JOURNAL
//! [[routes]]                          # POST /webhooks/sintegre/ons
//! source = "sintegre"
//! account = "ons"
//! settings = { auth = [{ basic = { user = "ons", password = "…" } }],
//!              downloads = { folder = "/srv/ons" } }
//! ```
//!
//! Provider accounts listed under `[[accounts]]` are polled into the same event stream: every
//! `poll_ms` the envelopes the journal knows as sent and not final are refreshed, and a
//! provider with a change list (capability `changes`) has it followed, its cursor committed
//! once the host acked what it produced. `poll_ms` defaults to 60 000, but to 0 (off) for
//! ArqSign, whose contract allows a few hundred requests a month (§9) and which sends webhooks:
//!
//! ```toml
//! event_retention_hours = 720         # acked events older than this are pruned hourly; 0: never
//! [[accounts]]
//! provider = "tae"
//! account = "main"
//! poll_ms = 60000
//! settings = { auth_base = "…", api_base = "…", username = "…", password = "…" }
//! ```
//!
//! `tls = { certificate = "cert.pem", private_key = "key.pem" }` serves HTTPS (rustls); without
//! it, a listener beyond the loopback warns that secrets travel in clear.
//!
//! Once bound it prints `SIGNBRIDGE_LISTEN=http(s)://HOST:PORT` on standard output. SIGINT or
//! SIGTERM stops it gracefully: no new connection, the deliveries in flight answered after
//! their commit, the download and the poll in progress finished.

use std::io::Write as _;
use std::path::Path;

use signbridge::webhooks::Listener;

use crate::Failure;

pub async fn run(config: &Path, listen: Option<&str>) -> Result<(), Failure> {
    let mut config = crate::config::listener(config)?;
    if let Some(listen) = listen {
        config.listen = listen.to_owned();
    }
    let routes: Vec<String> =
        config.routes.iter().map(|r| format!("/webhooks/{}/{}", r.source, r.account)).collect();
    let listener = Listener::start(config).await?;
    println!("SIGNBRIDGE_LISTEN={}", listener.url());
    let _ = std::io::stdout().flush();
    eprintln!(
        "listening on {}: {}; /health; Ctrl-C stops",
        listener.local_addr(),
        routes.join(", ")
    );
    stopped().await;
    eprintln!("stopping: finishing what is in flight");
    listener.stop().await;
    Ok(())
}

/// Resolves on SIGINT, or SIGTERM where there is one.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
