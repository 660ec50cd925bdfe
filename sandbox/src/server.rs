//! The HTTP server shared by every simulator: its own accept loop (so a fault can drop one
//! connection), body buffering, the request log, fault injection and dispatch to the routers.
//!
//! Per provider request, in this order: buffer the body → log it (with its JSON-RPC method,
//! for providers that have one) → take a matching fault, or
//! else let chaos draw → the fault's delay, canned answer or reset before the handler → let the
//! owning simulator rewrite the path for routing → route (the handler runs, its writes commit)
//! → the fault's delay, canned answer or reset after the handler. Control routes
//! (`/__sandbox/…`) skip the log, the faults and chaos.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, Response, StatusCode, Uri, header, request::Parts};
use axum::response::IntoResponse;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::control::{self, Instruments};
use crate::faults::{Answer, AnswerBody, Ending, Plan};
use crate::model::RecordedRequest;
use crate::requests::summarize_body;

/// Largest request body accepted unless a simulator says otherwise for a route (see
/// [`Simulator::body_limit`]); also the limit of control routes.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

const CONTROL_PREFIX: &str = "/__sandbox/";

/// What the server needs from one simulated provider.
pub(crate) trait Simulator: Send + Sync + 'static {
    /// Whether `path` (as the client sent it) belongs to this provider.
    fn owns(&self, path: &str) -> bool;

    /// The path to route on; lets a provider match paths the way its real server does
    /// (e.g. ASP.NET ignores case).
    fn route_path(&self, path: &str) -> String {
        path.to_owned()
    }

    /// Largest request body accepted on `path` (as the client sent it). Bodies are buffered
    /// whole before routing, so this bounds the memory one request can take.
    fn body_limit(&self, _path: &str) -> usize {
        DEFAULT_BODY_LIMIT
    }

    /// The JSON-RPC method a request body calls, for providers where every call shares one
    /// path; faults can match on it.
    fn rpc_method(&self, _body: &[u8]) -> Option<String> {
        None
    }

    /// An error answer in this provider's shape, sent by a `status` fault without a body;
    /// `body` is the request's (a JSON-RPC answer echoes the call's id).
    fn fault_response(
        &self,
        path: &str,
        status: StatusCode,
        body: &[u8],
    ) -> axum::response::Response;

    /// Provider routes with full paths, and control routes under `/__sandbox/<id>/`.
    fn routes(&self) -> Router;
}

pub(crate) struct App {
    router: Router,
    simulators: Vec<Arc<dyn Simulator>>,
    instruments: Arc<Instruments>,
}

impl App {
    pub fn new(simulators: Vec<Arc<dyn Simulator>>) -> App {
        let instruments = Arc::new(Instruments::default());
        let router = simulators
            .iter()
            .fold(control::routes(instruments.clone()), |router, simulator| {
                router.merge(simulator.routes())
            })
            // The body is already buffered under its route's limit before routing.
            .layer(DefaultBodyLimit::disable());
        App { router, simulators, instruments }
    }
}

/// Accepts connections until `stop` turns true (or its sender is dropped), then closes them.
pub(crate) async fn serve(listener: TcpListener, app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, app.clone()));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Resolves once a stop is requested or nobody can request one any more.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // Both outcomes mean "stop"; the guard returned on success is not kept across an await.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn connection(stream: TcpStream, app: Arc<App>) {
    // Small JSON answers should not wait for Nagle.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let reset = Arc::new(Notify::new());
    let service = {
        let reset = reset.clone();
        service_fn(move |request| handle(app.clone(), reset.clone(), request))
    };
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "sandbox connection ended with an error");
            }
        }
        // Dropping the connection future closes the socket with no answer written.
        () = reset.notified() => tracing::debug!("sandbox connection dropped by a reset fault"),
    }
}

async fn handle(
    app: Arc<App>,
    reset: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let control = path.starts_with(CONTROL_PREFIX);
    let simulator = if control { None } else { app.simulators.iter().find(|s| s.owns(&path)) };
    let limit = simulator.map_or(DEFAULT_BODY_LIMIT, |s| s.body_limit(&path));
    let body = match read_body(body, limit).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    if control {
        return Ok(route(&app.router, parts, body).await);
    }

    let method = parts.method.as_str().to_owned();
    let rpc_method = simulator.and_then(|s| s.rpc_method(&body));
    let log = &app.instruments.requests;
    let seq = log.start(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        status: None,
        body: summarize_body(&parts.headers, &body).await,
        rpc_method: rpc_method.clone(),
        fault: None,
        chaos: None,
    });

    // An armed fault first; chaos only draws for requests no fault took.
    let plan =
        if let Some(firing) = app.instruments.faults.take(&method, &path, rpc_method.as_deref()) {
            log.set_fault(seq, firing.id);
            firing.plan
        } else if let Some((kind, plan)) = app.instruments.chaos.take(&method, &path) {
            log.set_chaos(seq, kind.to_string());
            plan
        } else {
            Plan::default()
        };

    // Kept for the fault's answer (a cheap reference-counted clone).
    let request_body = body.clone();
    let answered = |answer: Answer| {
        let response = canned(answer, simulator.map(|s| &**s), &path, &request_body);
        log.finish(seq, response.status().as_u16());
        response
    };
    if let Some(delay) = plan.delay_before {
        tokio::time::sleep(delay).await;
    }
    match plan.instead {
        Some(Ending::Answer(answer)) => return Ok(answered(answer)),
        Some(Ending::Reset) => return drop_connection(&reset).await,
        None => {}
    }

    let mut parts = parts;
    if let Some(simulator) = simulator {
        parts.uri = with_path(&parts.uri, &simulator.route_path(&path));
    }
    let response = route(&app.router, parts, body).await;
    log.finish(seq, response.status().as_u16());
    if let Some(delay) = plan.delay_after {
        tokio::time::sleep(delay).await;
    }
    match plan.then {
        // The handler's reply is dropped: its writes stay.
        Some(Ending::Answer(answer)) => Ok(answered(answer)),
        Some(Ending::Reset) => drop_connection(&reset).await,
        None => Ok(response),
    }
}

/// A fault's answer, with the provider's own error body unless the fault gave one.
fn canned(
    answer: Answer,
    simulator: Option<&dyn Simulator>,
    path: &str,
    request_body: &[u8],
) -> Response<Body> {
    let Answer { status, retry_after, body } = answer;
    let mut response = match (body, simulator) {
        (AnswerBody::Json(body), _) => (status, axum::Json(body)).into_response(),
        (AnswerBody::Text { text, content_type }, _) => {
            (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        (AnswerBody::ProviderError, Some(simulator)) => {
            simulator.fault_response(path, status, request_body)
        }
        (AnswerBody::ProviderError, None) => status.into_response(),
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Buffers a request body of at most `limit` bytes into one allocation when its length is
/// declared (large JSON uploads are not copied while growing), or answers 413/400.
async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, Response<Body>> {
    let declared = body.size_hint().exact();
    let too_large = || {
        let message = format!("the request body is larger than this route accepts ({limit} bytes)");
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    };
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut buffer = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    let mut body = Limited::new(body, limit);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(e) => {
                let message = format!("could not read the request body: {e}");
                return Err((StatusCode::BAD_REQUEST, message).into_response());
            }
        }
    }
    Ok(Bytes::from(buffer))
}

/// Tells the connection task to drop the socket, and never answers.
async fn drop_connection(reset: &Notify) -> Result<Response<Body>, Infallible> {
    reset.notify_one();
    std::future::pending().await
}

async fn route(router: &Router, parts: Parts, body: Bytes) -> Response<Body> {
    let request = Request::from_parts(parts, Body::from(body));
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `uri` with its path replaced (the query kept).
fn with_path(uri: &Uri, path: &str) -> Uri {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    path_and_query.parse().unwrap_or_else(|_| uri.clone())
}
