//! The hostile-provider suite: every provider × operation (send, status, each download kind,
//! cancel — as its capability record declares them) against a server that plays the provider
//! badly ([`server`]). One table of [`CASES`]; each case is played on every request the
//! operation makes (learned from a clean run through the same proxy), and on that request's
//! retries. Each case must end:
//! - in a typed error (never `internal`, never a success it should not be) and the kind its
//!   place calls for: a plain write whose answer is spoiled is `outcome_unknown`, carrying the
//!   handle once the document exists; a body that never ends slowly is a `timeout`;
//! - within the operation's configured timeout;
//! - with bounded memory: an endless body is cut at the reply cap, not read on;
//! - with no credential seen by the other origin, no request led elsewhere by an id from a
//!   reply, and no file left by a failed download.
//!
//! A spoiled answer (wrong types, non-UTF-8, unsafe names, links away, ids that climb out of
//! their path) may still succeed where the SDK needs nothing of what was spoiled (an unused
//! field, a reply with no strings); then a download's name and its archive's entries must be
//! safe.
//!
//! Each case prints one line: `hostile <op> <provider> <case> @<n> <METHOD path>: <outcome>`.

pub mod server;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use signbridge::{DownloadKind, ErrorKind, Handle, Result, TransportConfig};
use signbridge_sandbox::Sandbox;

use crate::{Env, Harness, Outcome, capability, on_call, sign_all, undeclared};
use server::{Hostile, Play, Seen, Spoil};

scenarios!(hostile_send, hostile_status, hostile_download, hostile_cancel);

const HTML: &[u8] = b"<!DOCTYPE html><html><head><title>Sign in</title></head>\
    <body><form action=\"/login\"><input name=\"user\"></form></body></html>";

/// Every way of misbehaving the suite plays, by name.
const CASES: &[(&str, Play)] = &[
    ("garbage", reply(200, "application/json", b"\x00\xff{{ not json ]")),
    ("html_200", reply(200, "text/html", HTML)),
    ("html_500", reply(500, "text/html", HTML)),
    ("502", reply(502, "text/html", HTML)),
    ("504", reply(504, "text/plain", b"upstream timed out")),
    ("wrong_types", Play::Spoil(Spoil::WrongTypes)),
    ("non_utf8", Play::Spoil(Spoil::NonUtf8)),
    ("unsafe_names", Play::Spoil(Spoil::UnsafeNames)),
    ("links_away", Play::Spoil(Spoil::LinksAway)),
    ("links_broken", Play::Spoil(Spoil::LinksBroken)),
    ("path_ids", Play::Spoil(Spoil::PathIds)),
    ("huge_length", Play::HugeLength),
    ("endless_fast", Play::Endless { chunk: 64 << 10, every: None }),
    ("endless_slow", Play::Endless { chunk: 1, every: Some(Duration::from_millis(40)) }),
    ("redirect_away", Play::Redirect { away: true }),
    ("redirect_loop", Play::Redirect { away: false }),
    ("hang_up_mid_upload", Play::HangUpMidUpload),
    ("hang_up_after", Play::HangUpAfter),
];

const fn reply(status: u16, content_type: &'static str, body: &'static [u8]) -> Play {
    Play::Reply { status, content_type, body }
}

/// Short timeouts and small reply caps, so that every case ends quickly and a cap is easy to
/// see applied.
pub fn transport() -> TransportConfig {
    TransportConfig {
        read_timeout_ms: 300,
        request_timeout_ms: 800,
        operation_timeout_ms: 4_000,
        max_retries: 1,
        backoff_initial_ms: 10,
        backoff_max_ms: 50,
        max_reply_bytes: 64 << 10,
        max_file_reply_bytes: 1 << 20,
        ..TransportConfig::default()
    }
}

/// Bytes an endless answer may hand to the connection before the client stops reading: the
/// largest cap plus what the loopback socket buffers hold.
const SERVED_BOUND: u64 = (1 << 20) + (16 << 20);

/// A sandbox behind the hostile proxy, a client of `h` on the proxy, and the other origin.
pub struct Stage {
    pub env: Env,
    pub proxy: Arc<Hostile>,
    pub other: Arc<Hostile>,
    pub secrets: Vec<String>,
}

pub async fn stage(h: &'static dyn Harness) -> Stage {
    let sandbox = Sandbox::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let other = Hostile::start(None, "http://127.0.0.1:9").await;
    let proxy = Hostile::start(Some(sandbox.base_url()), other.base()).await;
    let settings = h.settings(proxy.base());
    let secrets = settings
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| ["password", "key", "token"].iter().any(|s| k.contains(s)))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect();
    let client = crate::common::client(h.id(), settings, h.unbudgeted(), transport());
    client.set_host_signer(h.signer());
    Stage { env: Env { control: sandbox.control(), sandbox, client }, proxy, other, secrets }
}

/// What the request a case is played on is, within its operation.
#[derive(Clone, Copy)]
struct Place {
    /// A plain write: never repeated, its spoiled answer leaves the outcome unknown.
    write: bool,
    /// The document exists at the provider when this request goes out (a send's error must
    /// carry its handle).
    handle_known: bool,
}

/// How one case ended.
struct Ended {
    result: Result<()>,
    elapsed: Duration,
    /// A failed download left a file behind, or a successful one has an unsafe name.
    file_problem: Option<String>,
}

/// The checks every case makes; a list of what failed (empty: passed).
fn judge(case: &str, play: Play, place: Place, ended: &Ended, stage: &Stage) -> Vec<String> {
    let mut problems = Vec::new();
    let limit = Duration::from_millis(transport().operation_timeout_ms + 1_000);
    if ended.elapsed > limit {
        problems.push(format!("took {:?}, over the operation timeout", ended.elapsed));
    }
    if let Some(problem) = &ended.file_problem {
        problems.push(problem.clone());
    }
    if let Some(seen) = stage.proxy.seen().iter().find(|s| s.path.contains(server::ESCAPED)) {
        problems.push(format!("an id from a reply led a request to {}", seen.path));
    }
    for seen in stage.other.seen() {
        problems.extend(credential_in(&seen, &stage.secrets));
    }
    if matches!(play, Play::Endless { every: None, .. }) && stage.proxy.served() > SERVED_BOUND {
        problems.push(format!("read {} bytes of an endless answer", stage.proxy.served()));
    }
    let err = match &ended.result {
        Ok(()) if matches!(play, Play::Spoil(_)) => return problems,
        Ok(()) => {
            problems.push("succeeded".into());
            return problems;
        }
        Err(err) => err,
    };
    let shown = format!("{err} {err:?}");
    if let Some(secret) = stage.secrets.iter().find(|s| shown.contains(s.as_str())) {
        problems.push(format!("the error shows the secret {secret:?}"));
    }
    let kind = err.kind();
    if kind == ErrorKind::Internal {
        problems.push(format!("internal error: {err}"));
    }
    if place.handle_known && err.handle().is_none() {
        problems.push(format!("the document exists but the error carries no handle: {err}"));
    }
    let expected: &[ErrorKind] = if place.write {
        match play {
            Play::Redirect { .. } => &[ErrorKind::OutcomeUnknown, ErrorKind::Provider],
            _ => &[ErrorKind::OutcomeUnknown],
        }
    } else {
        match play {
            Play::Endless { every: Some(_), .. } => &[ErrorKind::Timeout],
            Play::HangUpMidUpload | Play::HangUpAfter => &[ErrorKind::Transport],
            Play::Redirect { away: false } => &[ErrorKind::Provider, ErrorKind::Transport],
            Play::Spoil(_) => &[ErrorKind::Provider, ErrorKind::Validation],
            _ if place.handle_known => &[ErrorKind::Provider, ErrorKind::OutcomeUnknown],
            _ => &[ErrorKind::Provider],
        }
    };
    // A step of a send after the document exists may leave it unknown whether it went on.
    let expected_or_unknown = place.handle_known && kind == ErrorKind::OutcomeUnknown;
    if !expected.contains(&kind) && !expected_or_unknown {
        problems.push(format!("{kind:?} ({err}), expected one of {expected:?} for {case}"));
    }
    problems
}

/// Any credential (a secret's value, or an authorization header) in a request the other
/// origin received.
fn credential_in(seen: &Seen, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in &seen.headers {
        let value = String::from_utf8_lossy(value);
        if name.eq_ignore_ascii_case("authorization")
            || secrets.iter().any(|s| value.contains(s.as_str()))
        {
            found.push(format!("the other origin received header {name} on {}", seen.path));
        }
    }
    found
}

/// One line of the table, straight to stderr (as the behaviour suite's own).
fn row(op: &str, provider: &str, case: &str, n: usize, seen: &Seen, line: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "hostile {op} {provider} {case} @{n} {} {}: {line}",
        seen.method,
        seen.path.split('?').next().unwrap_or_default()
    );
}

fn describe(result: &Result<()>) -> String {
    match result {
        Ok(()) => "ok (tolerated)".into(),
        Err(e) => {
            format!("{:?} {}", e.kind(), e.http_status().map(|s| s.to_string()).unwrap_or_default())
        }
    }
}

/// Plays every case on every request of `op` (as `learn` made them on a clean run), each
/// time after `prepare`, and fails with every problem found.
async fn play_all<'a, P, R>(
    op: &str,
    h: &'static dyn Harness,
    stage: &'a Stage,
    learned: &[Seen],
    place: impl Fn(usize, &Seen) -> Place,
    prepare: P,
    run: R,
) -> Outcome
where
    P: Fn(usize) -> futures::future::LocalBoxFuture<'a, ()>,
    R: Fn(usize) -> futures::future::LocalBoxFuture<'a, (Result<()>, Option<String>)>,
{
    assert!(!learned.is_empty(), "{op} made no request");
    let mut failures = Vec::new();
    let mut round = 0;
    for (case, play) in CASES {
        for (n, request) in learned.iter().enumerate() {
            round += 1;
            stage.proxy.disarm();
            prepare(round).await;
            stage.other.disarm();
            stage.proxy.arm(n, *play);
            let started = Instant::now();
            let (result, file_problem) = run(round).await;
            let ended = Ended { result, elapsed: started.elapsed(), file_problem };
            let played = stage.proxy.seen().iter().any(|s| s.played);
            // Unplayed: an earlier spoiled answer ended the flow before this request.
            let problems =
                if played { judge(case, *play, place(n, request), &ended, stage) } else { vec![] };
            let line = match (played, problems.is_empty()) {
                (false, _) => format!("not reached ({})", describe(&ended.result)),
                (true, true) => describe(&ended.result),
                (true, false) => format!("FAILED: {}", problems.join("; ")),
            };
            row(op, h.id(), case, n, request, &line);
            if !problems.is_empty() {
                failures.push(format!("{case} @{n} {}: {}", request.path, problems.join("; ")));
            }
        }
    }
    stage.proxy.disarm();
    assert!(failures.is_empty(), "{}", failures.join(" | "));
    Outcome::Ok
}

/// Learns the requests `op` makes on a clean run.
pub async fn learn(stage: &Stage, what: &str, op: impl AsyncFnOnce() -> Result<()>) -> Vec<Seen> {
    stage.proxy.disarm();
    op().await.unwrap_or_else(|e| panic!("{what} through the proxy, unspoiled: {e}"));
    stage.proxy.seen()
}

async fn hostile_send(h: &'static dyn Harness) -> Outcome {
    let stage = stage(h).await;
    // The first send logs in; the learned one is what every later send does.
    stage.env.client.send(&h.envelope("HOSTILE-WARM")).await.unwrap();
    let learned = learn(&stage, "send", async || {
        stage.env.client.send(&h.envelope("HOSTILE-LEARN")).await.map(drop)
    })
    .await;
    let on = |route: &str, seen: &Seen| {
        on_call(route, seen.path.split('?').next().unwrap(), seen.rpc_method.as_deref())
    };
    let write_route = |seen: &Seen| h.send_writes().iter().find(|w| on(w.route, seen));
    let keyed = |seen: &Seen| h.keyed_writes().iter().any(|route| on(route, seen));
    let created = learned
        .iter()
        .position(|s| write_route(s).is_some_and(|w| !w.handle_known))
        // Where the client chooses the document's id (SBIS), a keyed write creates it.
        .or_else(|| learned.iter().position(keyed))
        .expect("one of send's writes creates the document");
    let place = |n: usize, seen: &Seen| Place {
        write: write_route(seen).is_some() || keyed(seen),
        handle_known: n > created,
    };
    let client = &stage.env.client;
    play_all(
        "send",
        h,
        &stage,
        &learned,
        place,
        |_| Box::pin(async {}),
        |round| {
            Box::pin(async move {
                let reference = format!("HOSTILE-{round}");
                (client.send(&h.envelope(&reference)).await.map(drop), None)
            })
        },
    )
    .await
}

async fn hostile_status(h: &'static dyn Harness) -> Outcome {
    let stage = stage(h).await;
    let (_, handle) = crate::send(h, &stage.env, "HOSTILE-STATUS").await;
    let learned =
        learn(&stage, "status", async || stage.env.client.status(&handle).await.map(drop)).await;
    let client = &stage.env.client;
    let handle = &handle;
    play_all(
        "status",
        h,
        &stage,
        &learned,
        |_, _| Place { write: false, handle_known: false },
        |_| Box::pin(async {}),
        |_| Box::pin(async move { (client.status(handle).await.map(drop), None) }),
    )
    .await
}

async fn hostile_download(h: &'static dyn Harness) -> Outcome {
    let kinds = capability(h).download.kinds;
    if kinds.is_empty() {
        return undeclared("download.kinds");
    }
    let stage = stage(h).await;
    let (envelope, handle) = crate::send(h, &stage.env, "HOSTILE-DOWNLOAD").await;
    sign_all(h, &stage.env, &envelope, &handle).await;
    for &kind in kinds {
        let dir = tempfile::tempdir().unwrap();
        let learned = learn(&stage, &format!("download of {kind}"), async || {
            download(&stage, &handle, kind, dir.path(), 0).await.0
        })
        .await;
        let handle = &handle;
        let stage_ref = &stage;
        let dir = dir.path();
        play_all(
            &format!("download:{kind}"),
            h,
            &stage,
            &learned,
            |_, _| Place { write: false, handle_known: false },
            |_| Box::pin(async {}),
            |round| Box::pin(download(stage_ref, handle, kind, dir, round)),
        )
        .await;
    }
    Outcome::Ok
}

/// Downloads `kind` into a file in `dir`; on failure, `dir` must hold nothing of it, and on
/// success its name must be a safe one.
async fn download(
    stage: &Stage,
    handle: &Handle,
    kind: DownloadKind,
    dir: &std::path::Path,
    round: usize,
) -> (Result<()>, Option<String>) {
    let path = dir.join(format!("{round}-{kind}.bin"));
    let result = stage.env.client.download_to_file(handle, kind, &path).await;
    let problem = match &result {
        Err(_) => {
            let left: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    name.starts_with(&format!("{round}-")) || name.contains(&format!(".{round}-"))
                })
                .collect();
            (!left.is_empty()).then(|| format!("a failed download left {left:?}"))
        }
        Ok(info) => info
            .file_name
            .as_deref()
            .filter(|name| !safe_name(name))
            .map(|name| format!("the file name {name:?} is unsafe"))
            .or_else(|| archive_problem(&path)),
    };
    (result.map(drop), problem)
}

fn safe_name(name: &str) -> bool {
    !name.contains(['/', '\\', '\0']) && !name.starts_with('.')
}

/// An unsafe entry name in a ZIP the download wrote.
fn archive_problem(path: &std::path::Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut zip = zip::ZipArchive::new(file).ok()?;
    (0..zip.len()).find_map(|i| {
        let name = zip.by_index(i).ok()?.name().ok()?.into_owned();
        (name.contains(['\\', '\0']) || name.split('/').any(|part| part == ".." || part.is_empty()))
            .then(|| format!("the archive holds the unsafe name {name:?}"))
    })
}

async fn hostile_cancel(h: &'static dyn Harness) -> Outcome {
    if !capability(h).cancel {
        return undeclared("cancel");
    }
    let stage = stage(h).await;
    let (_, handle) = crate::send(h, &stage.env, "HOSTILE-CANCEL-LEARN").await;
    let learned = learn(&stage, "cancel", async || stage.env.client.cancel(&handle).await).await;
    let handles = std::cell::RefCell::new(Vec::<Handle>::new());
    let (stage_ref, handles_ref) = (&stage, &handles);
    play_all(
        "cancel",
        h,
        &stage,
        &learned,
        |_, seen| Place { write: seen.method != "GET", handle_known: false },
        |round| {
            Box::pin(async move {
                let (_, handle) =
                    crate::send(h, &stage_ref.env, &format!("HOSTILE-CANCEL-{round}")).await;
                handles_ref.borrow_mut().push(handle);
            })
        },
        |_| {
            Box::pin(async move {
                let handle = handles_ref.borrow().last().cloned().unwrap();
                (stage_ref.env.client.cancel(&handle).await, None)
            })
        },
    )
    .await
}
