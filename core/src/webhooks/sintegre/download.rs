//! Fetching the files SINtegre's notifications link to (`sintegre.md` §4 and §7 "Download
//! worker"), once the notification is committed.
//!
//! - A plain `GET` of the `url`, with no credentials (§4), through [`Transport::for_links`].
//! - The SSRF guard (§2 "Forged notifications", §7): `https` to a host of `allow_hosts` only,
//!   checked before the request and at every redirect (one elsewhere is not followed and the
//!   download fails); `http` only to the loopback and only with `allow_loopback_http` (the
//!   sandbox). A link refused by the guard is never fetched.
//! - Streamed to a temporary file in `folder` (bounded memory, at most `max_bytes`, §4 "Do not
//!   assume Content-Length"), its SHA-256 (K2, §3.6) computed on the way, synced, then given its
//!   name without ever replacing a file already there (`a.pdf`, else `a (2).pdf`).
//! - The name comes from `Content-Disposition` (`filename*`, RFC 2047 words, `filename`), else
//!   the last segment of the token's `URL` claim, made safe by [`crate::names::file_name`].
//! - A temporary failure (5xx, a broken connection) is tried again with backoff until the
//!   token's `exp` (read, not verified; receipt + 24 h when unreadable, §7). A link refused
//!   with 401, 403 or 410, or still not fetched at `exp`, has expired: the host gets a
//!   `link_expired` event saying to press "Enviar Tudo" (§4), and a resend with a fresh link
//!   makes the download due again. Success is a `file_downloaded` event with path and sha256.
//! - K2 (§3.6, §7): a file with the SHA-256 of an earlier version of the same `nome` and
//!   period (another notification's file, or this one's previous fetch) is a content
//!   duplicate: the new copy is removed (one file per content; the row points at the earlier
//!   file), the row is marked `content_duplicate` and nothing is told. A resend of a fetched
//!   notification with a fresh link fetches again, so that new content under the same name
//!   (a republication) is told, as `file_downloaded` with an id of its own. The event's
//!   `key` is K1 (or K3), `sha256` K2, `deliveries` the notification's delivery count and
//!   `latest_for_period` whether no other told version of its `nome` and period was sent
//!   later (§7 "Replay to the host"; `document_received` carries it too, among the
//!   notifications received so far; see `JournalStore::ingest` and `end_download`).
//! - The link's token is a bearer secret for a day (§1.7): never logged, never in an error or
//!   event; the journal forgets the link once the download ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::LinkSeal;
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{DownloadEnd, DueDownload, FileEnd, Journal};
use crate::model::{Event, EventKind, Handle};
use crate::providers::http::{ByStatus, Chunks, disposition_file_name};
use crate::transport::{Call, Idempotency, Secret, Transport, TransportConfig};

const SOURCE: &str = "sintegre";

/// `downloads` in a `sintegre` route's settings.
///
/// | name | meaning | default |
/// |---|---|---|
/// | `folder` | where the files go (created if missing) | required |
/// | `allow_hosts` | hosts an `https` link may lead to (the SSRF guard, §7) | `["apps08.ons.org.br"]` (§1.7: every real link) |
/// | `allow_loopback_http` | also `http` to 127.0.0.1 / ::1 / localhost (the sandbox's proxy) | false |
/// | `max_bytes` | the largest file kept (§4: size unknown, decks may reach hundreds of MB) | 2 GiB |
/// | `retry_initial_ms`, `retry_max_ms` | backoff between attempts, doubled up to the maximum, until `exp` | 30 000, 900 000 |
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadSettings {
    pub folder: PathBuf,
    #[serde(default = "default_hosts")]
    pub allow_hosts: Vec<String>,
    #[serde(default)]
    pub allow_loopback_http: bool,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default = "default_retry_initial")]
    pub retry_initial_ms: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_ms: u64,
}

fn default_hosts() -> Vec<String> {
    vec!["apps08.ons.org.br".into()]
}

fn default_max_bytes() -> u64 {
    2 << 30
}

fn default_retry_initial() -> u64 {
    30_000
}

fn default_retry_max() -> u64 {
    900_000
}

impl DownloadSettings {
    /// Whether a link (or a redirect's target) may be fetched: the SSRF guard.
    pub fn allows(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        match url.scheme() {
            "https" => self.allow_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
            "http" => self.allow_loopback_http && is_loopback(url),
            _ => false,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let field = |name: &str, why: &str| {
            Err(Error::validation(format!("routes.sintegre.settings.downloads.{name}"), why))
        };
        if self.folder.as_os_str().is_empty() {
            return field("folder", "must name a folder");
        }
        if self.max_bytes < 1024 {
            return field("max_bytes", "at least 1024 bytes");
        }
        if self.retry_initial_ms == 0 || self.retry_initial_ms > self.retry_max_ms {
            return field("retry_initial_ms", "between 1 and retry_max_ms");
        }
        Ok(())
    }

    fn transport(&self) -> Result<Transport> {
        let config = TransportConfig {
            // A large deck over a slow line: one attempt may take long, a silence may not.
            request_timeout_ms: 3_600_000,
            operation_timeout_ms: 3_600_000,
            max_file_reply_bytes: self.max_bytes,
            ..TransportConfig::default()
        };
        let guard = self.clone();
        Transport::for_links(SOURCE, &config, move |url| guard.allows(url))
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// How long a claimed download is left to its worker before another may take it (a worker
/// that died mid-download): longer than a download takes.
const LEASE: Duration = Duration::from_secs(30 * 60);

/// When a link's `exp` cannot be read: receipt + 24 h (§7).
const UNREADABLE_EXP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Downloads the pending links of every `sintegre` route that has `downloads` settings.
pub struct Downloader {
    journal: Journal,
    accounts: BTreeMap<String, (DownloadSettings, Transport, Arc<LinkSeal>)>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader").field("accounts", &self.accounts.keys()).finish()
    }
}

/// One finished attempt.
enum Outcome {
    Done { path: PathBuf, sha256: String, size: u64, name: String },
    Retry(Error),
    Expired(Option<u16>),
    Failed(String),
}

impl Downloader {
    /// A downloader for the `sintegre` accounts in `settings` (account → downloads settings
    /// and what opens the account's sealed links, [`super::Sintegre::link_seal`]).
    pub fn new(
        journal: Journal,
        settings: impl IntoIterator<Item = (String, DownloadSettings, Arc<LinkSeal>)>,
    ) -> Result<Downloader> {
        let mut accounts = BTreeMap::new();
        for (account, s, seal) in settings {
            s.check()?;
            let transport = s.transport()?;
            accounts.insert(account, (s, transport, seal));
        }
        Ok(Downloader { journal, accounts })
    }

    /// Whether any account downloads.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Fetches the links due now, at most `limit`; returns how many were attempted.
    pub async fn run_once(&self, limit: usize) -> Result<usize> {
        let due = self.journal.store().claim_downloads(SOURCE, Utc::now(), LEASE, limit).await?;
        let count = due.len();
        for item in due {
            let (account, key) = (item.account.clone(), item.key.clone());
            // A panic while handling one link must not end the worker: that link stays
            // leased (due again once its lease runs out), the others go on.
            match std::panic::AssertUnwindSafe(self.one(item)).catch_unwind().await {
                Ok(done) => done?,
                Err(_) => tracing::error!(target: "signbridge::webhooks", source = SOURCE,
                    %account, %key, "download worker: panicked on this link; retried later"),
            }
        }
        Ok(count)
    }

    /// Runs until `stop` resolves, looking for due links every `poll`; an attempt in progress
    /// is finished (and committed) before it returns.
    pub async fn run(&self, poll: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let worked = match self.run_once(4).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::error!(target: "signbridge::webhooks", error = %e,
                        "download worker: the journal failed");
                    false
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    async fn one(&self, item: DueDownload) -> Result<()> {
        let store = self.journal.store();
        let Some((settings, transport, seal)) = self.accounts.get(&item.account) else {
            // A route without downloads: leave the link for its expiry, look again later.
            let next = Utc::now() + chrono::TimeDelta::hours(1);
            return store.retry_download(SOURCE, &item.account, &item.key, next).await;
        };
        let expires = item.expires_at.unwrap_or(item.first_at + UNREADABLE_EXP);
        let outcome = if Utc::now() >= expires {
            Outcome::Expired(None)
        } else {
            match open(seal, &item.link) {
                Some(link) => {
                    fetch(settings, transport, &DueDownload { link, ..item.clone() }).await
                }
                None => Outcome::Failed(
                    "link_not_opened: the credential it was sealed with is no longer listed".into(),
                ),
            }
        };
        let log = |what: &str| {
            tracing::info!(target: "signbridge::webhooks", source = SOURCE,
                account = %item.account, key = %item.key, attempt = item.attempts + 1, "{what}");
        };
        let event = |kind: EventKind, suffix: String, raw: serde_json::Value| Event {
            id: format!("{SOURCE}:{}:{}:{suffix}", item.account, item.key),
            handle: Handle {
                provider: SOURCE.into(),
                account: item.account.clone(),
                id: item.key.clone(),
                reference: None,
            },
            kind,
            at: Utc::now(),
            raw,
        };
        let now = Utc::now();
        match outcome {
            Outcome::Done { path, sha256, size, name } => {
                let path_text = path.display().to_string();
                let raw = serde_json::json!({"key": item.key, "path": path_text,
                    "file_name": name, "sha256": sha256, "size": size,
                    "deliveries": item.deliveries});
                // A fetch again after a resend that finds new content is a new version: its
                // own id (a resend is a new delivery, so the count differs).
                let suffix = if item.refetch {
                    format!("file_downloaded:{}", item.deliveries)
                } else {
                    "file_downloaded".into()
                };
                let e = event(EventKind::FileDownloaded, suffix, raw);
                let end = DownloadEnd::Done { path: path_text, sha256, size };
                match store.end_download(SOURCE, &item.account, &item.key, &end, &[e], now).await? {
                    FileEnd::Kept => log("file downloaded"),
                    FileEnd::Duplicate { of, path: kept } => {
                        // One copy of a content: the earlier file stays, this one goes.
                        if Path::new(&kept) != path {
                            if let Err(e) = tokio::fs::remove_file(&path).await {
                                tracing::warn!(target: "signbridge::webhooks", source = SOURCE,
                                    path = %path.display(), error = %e,
                                    "cannot remove a content duplicate");
                            }
                        }
                        tracing::info!(target: "signbridge::webhooks", source = SOURCE,
                            account = %item.account, key = %item.key, of = %of,
                            "content duplicate (K2): not told again");
                    }
                }
                Ok(())
            }
            Outcome::Retry(error) => {
                let wait = backoff(settings, item.attempts);
                let next = (now + wait).min(expires);
                tracing::info!(target: "signbridge::webhooks", source = SOURCE,
                    account = %item.account, key = %item.key, attempt = item.attempts + 1,
                    error = %error, wait_ms = wait.num_milliseconds(), "download failed; retrying");
                store.retry_download(SOURCE, &item.account, &item.key, next).await
            }
            Outcome::Expired(status) => {
                log("link expired");
                let raw = serde_json::json!({"key": item.key, "expired_at": expires,
                    "http_status": status,
                    "action": "the link expired before the file was fetched: press \"Enviar \
                               Tudo\" in SINtegre (a fresh link arrives and is fetched), or \
                               download the file by hand"});
                let e = event(
                    EventKind::LinkExpired,
                    format!("link_expired:{}", expires.timestamp()),
                    raw,
                );
                store
                    .end_download(
                        SOURCE,
                        &item.account,
                        &item.key,
                        &DownloadEnd::Expired,
                        &[e],
                        now,
                    )
                    .await
                    .map(drop)
            }
            Outcome::Failed(reason) => {
                tracing::warn!(target: "signbridge::webhooks", source = SOURCE,
                    account = %item.account, key = %item.key, reason = %reason, "download failed");
                let raw = serde_json::json!({"key": item.key, "reason": reason});
                let e = event(EventKind::DownloadFailed, "download_failed".into(), raw);
                store
                    .end_download(SOURCE, &item.account, &item.key, &DownloadEnd::Failed, &[e], now)
                    .await
                    .map(drop)
            }
        }
    }
}

/// The link inside what the journal kept. A journal written before links were sealed (schema
/// 3) holds them in clear: such a link is taken as it is.
fn open(seal: &LinkSeal, kept: &Secret) -> Option<Secret> {
    let clear = ["https://", "http://"].iter().any(|p| kept.expose().starts_with(p));
    if clear { Some(kept.clone()) } else { seal.open(kept) }
}

fn backoff(settings: &DownloadSettings, attempts: u32) -> chrono::TimeDelta {
    let ms = settings
        .retry_initial_ms
        .saturating_mul(1u64 << attempts.min(20))
        .min(settings.retry_max_ms);
    // Jitter (up to a quarter) so that a burst of links does not retry in step.
    let jitter = fastrand::u64(0..=ms / 4);
    chrono::TimeDelta::milliseconds(i64::try_from(ms + jitter).unwrap_or(i64::MAX))
}

async fn fetch(settings: &DownloadSettings, transport: &Transport, item: &DueDownload) -> Outcome {
    let url = match url::Url::parse(item.link.expose()) {
        Ok(url) if settings.allows(&url) => url,
        _ => return Outcome::Failed("link_not_allowed: the link's host is not allowed".into()),
    };
    let claim = super::map::file_claim(&url);
    let request = |http: &reqwest::Client| http.get(url.clone());
    let call = Call::new("download", Idempotency::Read, &ByStatus(SOURCE), &request);
    let response = match transport.execute_streaming(call).await {
        Ok(response) => response,
        Err(e) => return classify(e),
    };
    let disposition = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| String::from_utf8(v.as_bytes().to_vec()).ok())
        .and_then(|v| disposition_file_name(&v));
    let fallback = format!("sintegre-{}.bin", short(&item.key));
    let raw_name = disposition.or(claim).unwrap_or_else(|| fallback.clone());
    let name = crate::names::file_name(&raw_name, &fallback);
    let mut chunks = Chunks::new(SOURCE, response, settings.max_bytes);
    match write(&settings.folder, &item.key, &name, &mut chunks).await {
        Ok((path, sha256)) => Outcome::Done { path, sha256, size: chunks.read, name },
        Err(e) => classify(e),
    }
}

fn classify(e: Error) -> Outcome {
    match e.http_status() {
        // §4: what the proxy answers after `exp` is unknown; a refused token only a fresh
        // link can cure.
        Some(s @ (401 | 403 | 410)) => Outcome::Expired(Some(s)),
        Some(s) if (300..400).contains(&s) => {
            Outcome::Failed(format!("redirect_refused: HTTP {s} to a URL off the allowlist"))
        }
        _ if e.is_temporary() => Outcome::Retry(e),
        _ => Outcome::Failed(e.to_string()),
    }
}

fn short(key: &str) -> &str {
    let hex = key.split_once(':').map_or(key, |(_, h)| h);
    &hex[..hex.len().min(16)]
}

/// Streams the body into a temporary file in `folder`, then links it under `name` (or
/// `name (n)`), never replacing a file; returns the path and the hex SHA-256.
async fn write(
    folder: &Path,
    key: &str,
    name: &str,
    chunks: &mut Chunks,
) -> Result<(PathBuf, String)> {
    let io = |what: &str, e: std::io::Error| {
        Error::new(ErrorKind::Internal, format!("download: {what} in {}: {e}", folder.display()))
    };
    tokio::fs::create_dir_all(folder).await.map_err(|e| io("cannot create the folder", e))?;
    let temp = folder.join(format!(".signbridge-{}.part", short(key)));
    // One blocking thread writes, fed through a short queue: memory stays bounded by the
    // queue whatever the file's size (tokio's own file type grew by the file's size here).
    let (feed, mut queue) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let target = temp.clone();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut out =
            std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&target)?);
        while let Some(chunk) = queue.blocking_recv() {
            out.write_all(&chunk)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    let mut hash = Sha256::new();
    let streamed = async {
        while let Some(chunk) = chunks.next().await? {
            hash.update(&chunk);
            if feed.send(chunk).await.is_err() {
                break; // the writer failed: its error follows
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    drop(feed);
    // The writer is always waited for, so that nothing writes the file after it is removed.
    let written = writer
        .await
        .map_err(|e| Error::internal(format!("download: the writer failed: {e}")))
        .and_then(|r| r.map_err(|e| io("cannot write the file", e)));
    let result = streamed.and(written).and_then(|()| {
        let path = place(&temp, folder, name).map_err(|e| io("cannot name the file", e))?;
        Ok((path, super::super::hex(&hash.finalize())))
    });
    // The temporary name is gone once linked; after a failure, nothing half-written stays.
    let _ = tokio::fs::remove_file(&temp).await;
    result
}

/// Gives `temp` its final name atomically: a hard link fails rather than replace a file
/// already there, so a second file of the same name becomes `name (2)`.
fn place(temp: &Path, folder: &Path, name: &str) -> std::io::Result<PathBuf> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 1..=1000 {
        let candidate =
            if n == 1 { folder.join(name) } else { folder.join(format!("{stem} ({n}){ext}")) };
        match std::fs::hard_link(temp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("a thousand files already have this name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: serde_json::Value) -> DownloadSettings {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_ssrf_guard_allows_only_https_to_listed_hosts_and_opt_in_loopback_http() {
        let strict = settings(serde_json::json!({"folder": "/x"}));
        let ok = |s: &DownloadSettings, u: &str| s.allows(&url::Url::parse(u).unwrap());
        assert!(ok(&strict, "https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token=a"));
        assert!(ok(&strict, "https://APPS08.ons.org.br/x"));
        for bad in [
            "http://apps08.ons.org.br/x",
            "https://apps08.ons.org.br.evil.test/x",
            "https://127.0.0.1/x",
            "http://127.0.0.1:8080/x",
            "http://169.254.169.254/latest/meta-data",
            "ftp://apps08.ons.org.br/x",
        ] {
            assert!(!ok(&strict, bad), "{bad}");
        }
        let sandbox = settings(serde_json::json!({"folder": "/x", "allow_loopback_http": true}));
        assert!(ok(&sandbox, "http://127.0.0.1:8080/sintegre/x"));
        assert!(ok(&sandbox, "http://[::1]:8080/x") && ok(&sandbox, "http://localhost/x"));
        assert!(!ok(&sandbox, "http://10.0.0.1/x") && !ok(&sandbox, "http://example.com/x"));
    }

    #[test]
    fn refused_tokens_expire_redirects_fail_and_5xx_retries() {
        let status = |s: u16| Error::new(ErrorKind::Provider, "x").with_http_status(s);
        assert!(matches!(classify(status(401)), Outcome::Expired(Some(401))));
        assert!(matches!(classify(status(410)), Outcome::Expired(Some(410))));
        assert!(
            matches!(classify(status(302)), Outcome::Failed(r) if r.starts_with("redirect_refused"))
        );
        assert!(matches!(classify(status(503).temporary()), Outcome::Retry(_)));
        assert!(matches!(classify(status(404)), Outcome::Failed(_)));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let s = settings(
            serde_json::json!({"folder": "/x", "retry_initial_ms": 100, "retry_max_ms": 1000}),
        );
        let ms = |n| backoff(&s, n).num_milliseconds();
        assert!((100..=125).contains(&ms(0)) && (200..=250).contains(&ms(1)));
        assert!((1000..=1250).contains(&ms(30)));
        let bad = settings(serde_json::json!({"folder": "/x", "retry_initial_ms": 0}));
        assert!(bad.check().unwrap_err().to_string().contains("downloads.retry_initial_ms"));
    }

    #[test]
    fn a_name_already_taken_gets_a_number_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".t.part");
        std::fs::write(&temp, b"new").unwrap();
        std::fs::write(dir.path().join("IPDO.pdf"), b"old").unwrap();
        let path = place(&temp, dir.path(), "IPDO.pdf").unwrap();
        assert_eq!(path, dir.path().join("IPDO (2).pdf"));
        assert_eq!(std::fs::read(dir.path().join("IPDO.pdf")).unwrap(), b"old");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
