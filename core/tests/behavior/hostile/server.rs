//! The hostile server: a proxy on 127.0.0.1 in front of a sandbox that passes every request
//! through until it is armed, then plays one way of misbehaving on the armed request and on
//! every later request to the same path and, for JSON-RPC (every call on one path), the same
//! method (so retries meet it too). The sandbox keeps the flow
//! real (ids, tickets, links built from the `Host` the proxy passes on); the proxy only spoils
//! what comes back. Without an upstream it is the "other origin": it answers `{}` to anything
//! and records what it was sent.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

type Body = BoxBody<Bytes, io::Error>;

/// One way of misbehaving.
#[derive(Clone, Copy, Debug)]
pub enum Play {
    /// Passes the request on, then answers this status and body instead of the sandbox.
    Reply { status: u16, content_type: &'static str, body: &'static [u8] },
    /// Passes the request on, then answers the sandbox's status with its body spoiled.
    Spoil(Spoil),
    /// Passes the request on, then announces a body of 50 GB and sends a few bytes.
    HugeLength,
    /// Passes the request on, then a 200 whose body never ends: `chunk` bytes at a time,
    /// each `every` apart (none: as fast as the client reads).
    Endless { chunk: usize, every: Option<Duration> },
    /// A redirect (not passed on): to the other origin, or to the same path (a loop).
    Redirect { away: bool },
    /// Reads at most 1 KiB of the request's body and closes the connection (not passed on).
    HangUpMidUpload,
    /// Passes the request on and closes the connection without an answer.
    HangUpAfter,
    /// Passes the request on, then answers the sandbox's status with its body changed by
    /// [`mutate`] from this seed (the fuzz run).
    Mutate(u64),
}

/// How [`Play::Spoil`] changes a sandbox answer.
#[derive(Clone, Copy, Debug)]
pub enum Spoil {
    /// Every JSON value replaced by one of another type (a body that is not JSON: `{"data":42}`).
    WrongTypes,
    /// A byte that is not UTF-8 inside every JSON string (prepended to a body that is not JSON).
    NonUtf8,
    /// Every file name (JSON strings ending in a file extension, `Content-Disposition`) made
    /// an unsafe one: a path out of the directory, with a NUL and a device name.
    UnsafeNames,
    /// Every `http(s)://` link in the JSON moved to the other origin, same path.
    LinksAway,
    /// Every `http(s)://` link in the JSON made one that is no URL at all.
    LinksBroken,
    /// Every GUID in the JSON made a path that climbs out of its route to [`ESCAPED`]: an id
    /// must be checked before it goes into a URL.
    PathIds,
}

/// Where a [`Spoil::PathIds`] id leads once put into a URL.
pub const ESCAPED: &str = "escaped-by-an-id";

/// What the proxy saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The JSON-RPC method the body calls, when it is a JSON-RPC call.
    pub rpc_method: Option<String>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub played: bool,
}

#[derive(Default)]
struct State {
    armed: Option<Armed>,
    seen: Vec<Seen>,
}

struct Armed {
    /// Requests still to pass before the one the play starts on.
    skip: usize,
    play: Play,
    /// The path (and JSON-RPC method) the play stays on, once it started.
    path: Option<(String, Option<String>)>,
}

/// How much of a request body is read before deciding on a play: enough for a JSON-RPC call's
/// `method`, which comes first (`{"jsonrpc":"2.0","method":…`).
const HEAD_BYTES: usize = 512;

/// The `method` of a JSON-RPC call whose body starts with `head`.
fn rpc_method(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    if !text.trim_start().starts_with('{') || !text.contains("\"jsonrpc\"") {
        return None;
    }
    let rest = &text[text.find("\"method\"")? + "\"method\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

pub struct Hostile {
    base: String,
    upstream: Option<String>,
    other: String,
    state: Mutex<State>,
    /// Body bytes of endless answers handed to the connection so far.
    served: AtomicU64,
    /// Requests being handled now, and the most at once so far.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    http: reqwest::Client,
}

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hostile {
    /// A proxy to `upstream` (a sandbox root URL; None: the other origin itself), whose
    /// redirects and moved links point at `other`.
    pub async fn start(upstream: Option<String>, other: &str) -> Arc<Hostile> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Arc::new(Hostile {
            base: format!("http://{}", listener.local_addr().unwrap()),
            upstream,
            other: other.trim_end_matches('/').to_string(),
            state: Mutex::default(),
            served: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
        });
        let weak = Arc::downgrade(&server);
        // Stops accepting once the test drops the server.
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Some(server) = weak.upgrade() else { break };
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let server = server.clone();
                        async move { server.handle(req).await }
                    });
                    let _ =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        server
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Plays `play` on the request after the next `skip` ones, and on later ones to its path.
    pub fn arm(&self, skip: usize, play: Play) {
        let mut state = self.state.lock().unwrap();
        state.armed = Some(Armed { skip, play, path: None });
        state.seen.clear();
        self.served.store(0, Ordering::SeqCst);
    }

    /// Passes everything through again and forgets what was seen.
    pub fn disarm(&self) {
        let mut state = self.state.lock().unwrap();
        state.armed = None;
        state.seen.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// The most requests the proxy was handling at once.
    #[allow(dead_code)] // used by core/tests/sbis.rs, which includes this file
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> io::Result<Response<Body>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let _counted = InFlight(&self.in_flight);
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
        let (parts, mut body) = req.into_parts();
        // The body's first bytes, to tell JSON-RPC calls on one path apart.
        let mut head = Vec::new();
        while head.len() < HEAD_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => head.extend_from_slice(frame.data_ref().map_or(&[][..], |d| d)),
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => break,
            }
        }
        let rpc = rpc_method(&head);
        let play = {
            let mut state = self.state.lock().unwrap();
            let bare = (parts.uri.path().to_string(), rpc.clone());
            let play = match &mut state.armed {
                Some(armed) if armed.path.is_none() && armed.skip > 0 => {
                    armed.skip -= 1;
                    None
                }
                Some(armed) if armed.path.is_none() => {
                    armed.path = Some(bare);
                    Some(armed.play)
                }
                Some(armed) if armed.path.as_ref() == Some(&bare) => Some(armed.play),
                _ => None,
            };
            state.seen.push(Seen {
                method: parts.method.to_string(),
                path: path.clone(),
                rpc_method: rpc,
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                    .collect(),
                played: play.is_some(),
            });
            play
        };
        match play {
            Some(Play::Redirect { away }) => {
                let to = if away { format!("{}{path}", self.other) } else { path };
                let mut reply = full(307, "text/plain", Bytes::new());
                reply.headers_mut().insert(LOCATION, to.parse().unwrap());
                return Ok(reply);
            }
            Some(Play::HangUpMidUpload) => {
                let mut read = head.len();
                while read < 1024 {
                    match body.frame().await {
                        Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
                return Err(io::Error::other("hung up mid-upload"));
            }
            _ => {}
        }
        let Some(upstream) = &self.upstream else {
            return Ok(full(200, "application/json", Bytes::from_static(b"{}")));
        };
        let rest = body.collect().await.map_err(io::Error::other)?.to_bytes();
        let whole = Bytes::from([head.as_slice(), &rest].concat());
        let (status, headers, body) = self.forward(upstream, &path, parts, whole).await?;
        let Some(play) = play else {
            let mut reply = full(status.as_u16(), "", body);
            for name in [CONTENT_TYPE, CONTENT_DISPOSITION] {
                if let Some(value) = headers.get(&name) {
                    reply.headers_mut().insert(name, value.clone());
                }
            }
            return Ok(reply);
        };
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        Ok(match play {
            Play::Reply { status, content_type, body } => {
                full(status, content_type, Bytes::from_static(body))
            }
            Play::Spoil(spoil) => {
                let mut reply =
                    full(status.as_u16(), content_type, Bytes::from(self.spoil(spoil, &body)));
                if let (Spoil::UnsafeNames, Some(_)) = (spoil, headers.get(CONTENT_DISPOSITION)) {
                    reply.headers_mut().insert(
                        CONTENT_DISPOSITION,
                        // A header cannot carry the NUL: the rest of the name is there.
                        format!("attachment; filename=\"{}\"", UNSAFE_NAME.replace('\0', ""))
                            .parse()
                            .unwrap(),
                    );
                } else if let Some(value) = headers.get(CONTENT_DISPOSITION) {
                    reply.headers_mut().insert(CONTENT_DISPOSITION, value.clone());
                }
                reply
            }
            Play::HugeLength => {
                // Then nothing: the head and these bytes are all the client gets to see.
                let stream = futures::stream::iter([Ok::<_, io::Error>(Frame::data(
                    Bytes::from_static(b"{\"data\":"),
                ))])
                .chain(futures::stream::pending());
                let mut reply = Response::new(BodyExt::boxed(StreamBody::new(stream)));
                reply.headers_mut().insert(CONTENT_TYPE, "application/json".parse().unwrap());
                reply.headers_mut().insert(CONTENT_LENGTH, "50000000000".parse().unwrap());
                reply
            }
            Play::Endless { chunk, every } => {
                let this = self.clone();
                // It starts as the real answer did (a JSON string, or the file's first bytes),
                // so that what is cut is the endless part, not a wrong beginning.
                let head = if body.first() == Some(&b'{') {
                    Bytes::from_static(b"{\"data\":\"")
                } else {
                    body.slice(..body.len().min(16))
                };
                let filler = Bytes::from(vec![b'A'; chunk]);
                let stream = futures::stream::once(async move { head })
                    .chain(futures::stream::repeat(filler).then(move |bytes| {
                        let this = this.clone();
                        async move {
                            if let Some(every) = every {
                                tokio::time::sleep(every).await;
                            }
                            this.served.fetch_add(bytes.len() as u64, Ordering::SeqCst);
                            bytes
                        }
                    }))
                    .map(|bytes| Ok::<_, io::Error>(Frame::data(bytes)));
                let mut reply = Response::new(BodyExt::boxed(StreamBody::new(stream)));
                reply.headers_mut().insert(CONTENT_TYPE, "application/json".parse().unwrap());
                reply
            }
            Play::Mutate(seed) => {
                full(status.as_u16(), content_type, Bytes::from(mutate(&body, seed)))
            }
            Play::HangUpAfter => return Err(io::Error::other("hung up after the request")),
            Play::Redirect { .. } | Play::HangUpMidUpload => unreachable!("answered above"),
        })
    }

    async fn forward(
        &self,
        upstream: &str,
        path: &str,
        parts: hyper::http::request::Parts,
        body: Bytes,
    ) -> io::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let mut forwarded = self
            .http
            .request(parts.method.as_str().parse().unwrap(), format!("{upstream}{path}"))
            .body(body);
        for (name, value) in &parts.headers {
            // Host passes on too: the sandbox builds its links from it, so they lead back here.
            if !matches!(name.as_str(), "content-length" | "transfer-encoding") {
                forwarded = forwarded.header(name.as_str(), value.as_bytes());
            }
        }
        let response = forwarded.send().await.map_err(io::Error::other)?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let mut headers = hyper::HeaderMap::new();
        for (name, value) in response.headers() {
            headers.insert(
                hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                value.as_bytes().try_into().unwrap(),
            );
        }
        let body = response.bytes().await.map_err(io::Error::other)?;
        Ok((status, headers, body))
    }

    fn spoil(&self, spoil: Spoil, body: &[u8]) -> Vec<u8> {
        let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
            return match spoil {
                Spoil::WrongTypes => b"{\"data\":42}".to_vec(),
                Spoil::NonUtf8 => [b"\xff\xfe".as_slice(), body].concat(),
                Spoil::UnsafeNames | Spoil::LinksAway | Spoil::LinksBroken | Spoil::PathIds => {
                    body.to_vec()
                }
            };
        };
        match spoil {
            Spoil::WrongTypes => serde_json::to_vec(&wrong_types(json)).unwrap(),
            Spoil::NonUtf8 => {
                // A marker JSON cannot carry, replaced by the raw byte once serialized.
                strings(&mut json, &mut |s| s.push('\u{1}'));
                let text = serde_json::to_vec(&json).unwrap();
                let marker = b"\\u0001";
                let mut out = Vec::with_capacity(text.len());
                let mut i = 0;
                while i < text.len() {
                    if text[i..].starts_with(marker) {
                        out.push(0xff);
                        i += marker.len();
                    } else {
                        out.push(text[i]);
                        i += 1;
                    }
                }
                out
            }
            Spoil::UnsafeNames => {
                strings(&mut json, &mut |s| {
                    if is_file_name(s) {
                        *s = UNSAFE_NAME.to_string();
                    }
                });
                serde_json::to_vec(&json).unwrap()
            }
            Spoil::LinksBroken => {
                strings(&mut json, &mut |s| {
                    if s.starts_with("http://") || s.starts_with("https://") {
                        *s = "http://[broken link/x".into();
                    }
                });
                serde_json::to_vec(&json).unwrap()
            }
            Spoil::PathIds => {
                strings(&mut json, &mut |s| {
                    if is_guid(s) {
                        *s = format!("../../../../{ESCAPED}?{s}#");
                    }
                });
                serde_json::to_vec(&json).unwrap()
            }
            Spoil::LinksAway => {
                strings(&mut json, &mut |s| {
                    if let Ok(url) = url::Url::parse(s) {
                        if matches!(url.scheme(), "http" | "https") {
                            let rest = &url[url::Position::BeforePath..];
                            *s = format!("{}{rest}", self.other);
                        }
                    }
                });
                serde_json::to_vec(&json).unwrap()
            }
        }
    }
}

/// A file name no file system should be handed: out of the directory on Unix and Windows,
/// with a NUL that would truncate it and a device name.
pub const UNSAFE_NAME: &str = "../../..\\..\\etc/CON\u{0}passwd.pdf";

/// Values the contracts show in their examples, and the edges of JSON: what a mutation
/// inserts or puts in place of a value.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "1e309",
    "-0",
    "18446744073709551616",
    "12978325",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "[]",
    "{}",
    "[{}]",
    "[null]",
    "\"../x\"",
    "\"2025-06-01T12:00:00.123456\"",
    "\"31/12/2025 23:59:59\"",
    "\"FINISHED\"",
    "\"DRAFT\"",
    "\"Aguardando\"",
    "\"Cancelado\"",
    "{\"success\":false}",
    "{\"errors\":[{}]}",
    "\"JVBERi0xLjcK\"",
    "\"7a3b6a9b-7173-47d1-91c9-cbf14b544dd6\"",
    "\"http://127.0.0.1:9/x\"",
];

/// A few changes to `body`, drawn from `seed`: bytes flipped, ranges deleted, duplicated or
/// cut off, tokens inserted or put in place of a value.
pub fn mutate(body: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = body.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(..=out.len());
        let token = TOKENS[rng.usize(..TOKENS.len())].as_bytes();
        match rng.u8(..6) {
            0 if at < out.len() => out[at] = rng.u8(..),
            1 => {
                let end = (at + rng.usize(..=16)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                out.splice(at..at, token.iter().copied());
            }
            3 => out.truncate(at),
            4 => {
                // The value after the next `:` (up to `,`, `}` or `]`) becomes the token.
                let Some(colon) = out[at..].iter().position(|&b| b == b':') else { continue };
                let start = at + colon + 1;
                let end = out[start..]
                    .iter()
                    .position(|b| b",}]".contains(b))
                    .map_or(out.len(), |n| start + n);
                out.splice(start..end, token.iter().copied());
            }
            _ => {
                let end = (at + rng.usize(..=32)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
        }
    }
    out
}

fn is_file_name(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    [".pdf", ".zip", ".p7s", ".sig", ".xml", ".docx"].iter().any(|ext| lower.ends_with(ext))
        && !lower.starts_with("http")
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() }
        })
}

fn strings(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| strings(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| strings(v, f)),
        _ => {}
    }
}

/// Every value replaced by one of another type, containers kept so the fields are still there.
fn wrong_types(value: Value) -> Value {
    match value {
        Value::Null => Value::from(7),
        Value::Bool(_) => Value::from("yes"),
        Value::Number(_) => Value::from("x"),
        Value::String(_) => Value::from(7),
        Value::Array(items) => {
            if items.is_empty() {
                Value::from("[]")
            } else {
                Value::Array(items.into_iter().map(wrong_types).collect())
            }
        }
        Value::Object(map) => {
            if map.is_empty() {
                Value::from(0)
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, wrong_types(v))).collect())
            }
        }
    }
}

fn full(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut reply =
        Response::new(Full::new(body).map_err(|never: Infallible| match never {}).boxed());
    *reply.status_mut() = StatusCode::from_u16(status).unwrap();
    if !content_type.is_empty() {
        reply.headers_mut().insert(CONTENT_TYPE, content_type.parse().unwrap());
    }
    reply
}
