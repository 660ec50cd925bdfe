//! [`CaptureReceiver`]: a webhook receiver for tests, on 127.0.0.1, that records every request
//! and answers a status the test chooses (and, to simulate a receiver that stored the delivery
//! but answered too late, after a delay).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// Largest body recorded; a larger one is answered 413 and not recorded.
const MAX_BODY: usize = 1024 * 1024;
/// Most requests kept; beyond it the oldest are dropped (the count goes on).
const MAX_KEPT: usize = 200_000;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The status it was answered.
    pub answered: u16,
}

impl Captured {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct State {
    received: VecDeque<Captured>,
    total: u64,
    status: Option<u16>,
    next: VecDeque<u16>,
    delay: Option<Duration>,
}

/// A running receiver; dropping it stops it.
pub struct CaptureReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl CaptureReceiver {
    /// Listens on an ephemeral port of 127.0.0.1, answering 200 until told otherwise.
    pub async fn start() -> io::Result<CaptureReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let arrived = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept(listener, state.clone(), arrived.clone(), stopped));
        Ok(CaptureReceiver { addr, state, arrived, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status answered from now on (when no queued one is left).
    pub fn set_status(&self, status: u16) {
        self.lock().status = Some(status);
    }

    /// Statuses for the next requests, in order; then the default again.
    pub fn answer_next(&self, statuses: impl IntoIterator<Item = u16>) {
        self.lock().next.extend(statuses);
    }

    /// Every request is recorded at once but answered only after `delay` (`None`: at once).
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// Requests received so far (at most the newest 200 000), in arrival order.
    pub fn received(&self) -> Vec<Captured> {
        self.lock().received.iter().cloned().collect()
    }

    /// How many requests arrived in all.
    pub fn count(&self) -> u64 {
        self.lock().total
    }

    pub fn clear(&self) {
        let mut state = self.lock();
        state.received.clear();
        state.total = 0;
    }

    /// Waits until at least `count` requests arrived, for at most `timeout`; returns whether
    /// they did.
    pub async fn wait_for(&self, count: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count() >= count;
            }
        }
    }
}

impl Drop for CaptureReceiver {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn accept(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let arrived = arrived.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        handle(state.clone(), arrived.clone(), request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn handle(
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    let (status, delay) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let status = state.next.pop_front().or(state.status).unwrap_or(200);
        let captured = Captured {
            method: parts.method.to_string(),
            target: parts.uri.path_and_query().map_or("/".to_owned(), |pq| pq.to_string()),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into())
                })
                .collect(),
            body,
            answered: status,
        };
        if state.received.len() == MAX_KEPT {
            state.received.pop_front();
        }
        state.received.push_back(captured);
        state.total += 1;
        (status, state.delay)
    };
    arrived.notify_waiters();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    Ok(answer(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)))
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
    *response.status_mut() = status;
    response
}
