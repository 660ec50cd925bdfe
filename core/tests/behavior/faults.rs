//! Faults the sandbox injects: reads are retried (5xx, dropped connections, rate limits) and
//! writes never repeated once they may have reached the provider; credentials refused once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signbridge::{ErrorKind, Retry, State, TransportConfig};
use signbridge_sandbox::{Fault, Reset};

use crate::{
    Harness, Outcome, aimed, answers, fast_transport, not_applicable, on_call, paths, send, start,
    start_with,
};

scenarios!(
    status_5xx_retried,
    status_dropped_connection_retried,
    status_429_waited_out,
    status_429_beyond_the_limit_reported,
    write_answer_lost,
    write_answered_503,
    write_dropped_before_it_ran,
    bad_credentials,
    refused_session_logs_in_again,
);

/// A 5xx on a status read is retried until it succeeds; one that persists gives up after the
/// configured retries, as a provider error whose retries were spent.
async fn status_5xx_retried(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-5XX").await;
    let route = h.status_route();
    env.control.clear_requests().await.unwrap();
    env.control.add_fault(Fault::status(route, 503).times(2)).await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    assert_eq!(answers(&env.requests().await, route), [Some(503), Some(503), Some(200)]);

    env.control.clear_requests().await.unwrap();
    env.control.add_fault(Fault::status(route, 502).times(10)).await.unwrap();
    let err = env.client.status(&handle).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status(), err.retry()),
        (ErrorKind::Provider, Some(502), Retry::Persistent),
        "{err}"
    );
    let attempts = fast_transport().max_retries as usize + 1;
    assert_eq!(answers(&env.requests().await, route).len(), attempts, "first try and retries");
    Outcome::Ok
}

async fn status_dropped_connection_retried(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-RST").await;
    let route = h.status_route();
    env.control.clear_requests().await.unwrap();
    env.control.add_fault(Fault::reset(route, Reset::After)).await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    let faulted: Vec<bool> = env
        .requests()
        .await
        .iter()
        .filter(|r| on_call(route, &r.path, r.rpc_method.as_deref()))
        .map(|r| r.fault.is_some())
        .collect();
    assert_eq!(faulted, [true, false], "dropped once, then read again");
    Outcome::Ok
}

async fn status_429_waited_out(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-429").await;
    let route = h.status_route();
    env.control.clear_requests().await.unwrap();
    env.control.add_fault(Fault::status(route, 429).retry_after("1")).await.unwrap();
    let started = Instant::now();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(answers(&env.requests().await, route), [Some(429), Some(200)]);
    Outcome::Ok
}

/// A `Retry-After` longer than `transport.max_retry_after_ms` is reported, not waited.
async fn status_429_beyond_the_limit_reported(h: &'static dyn Harness) -> Outcome {
    let transport = TransportConfig { max_retry_after_ms: 500, ..fast_transport() };
    let env = start_with(h, json!({}), transport).await;
    let (_, handle) = send(h, &env, "ERP-429-LONG").await;
    let route = h.status_route();
    env.control.clear_requests().await.unwrap();
    env.control.add_fault(Fault::status(route, 429).retry_after("120")).await.unwrap();
    let err = env.client.status(&handle).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::RateLimited, 400), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(answers(&env.requests().await, route), [Some(429)]);
    Outcome::Ok
}

/// The connection drops after the write committed: its outcome is unknown.
async fn write_answer_lost(h: &'static dyn Harness) -> Outcome {
    each_send_write(h, |route| Fault::reset(route, Reset::After), None, true).await
}

/// A 503 is neither a clear success nor a clear refusal: the write may have taken effect.
async fn write_answered_503(h: &'static dyn Harness) -> Outcome {
    each_send_write(h, |route| Fault::status(route, 503), Some(503), false).await
}

/// The connection drops before the write ran; the client cannot tell that from after.
async fn write_dropped_before_it_ran(h: &'static dyn Harness) -> Outcome {
    each_send_write(h, |route| Fault::reset(route, Reset::Before), None, false).await
}

/// For each plain write of `send`, with `fault` armed on it: `send` fails as
/// `outcome_unknown` (403) with `status`, the write went out once, the error carries the
/// handle exactly when the document existed, and the sandbox holds the documents it should
/// (`commits`: the faulted write itself took effect).
async fn each_send_write(
    h: &'static dyn Harness,
    fault: fn(&'static str) -> Fault,
    status: Option<u16>,
    commits: bool,
) -> Outcome {
    let env = start(h).await;
    assert!(!h.send_writes().is_empty(), "every send writes");
    for (n, write) in h.send_writes().iter().enumerate() {
        let route = write.route;
        env.control.clear_requests().await.unwrap();
        let stored = h.stored(&env.control).await;
        env.control.add_fault(aimed(route, fault)).await.unwrap();
        let reference = format!("ERP-WRITE-{n}");
        let err = env.client.send(&h.envelope(&reference)).await.unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::OutcomeUnknown, 403), "{route}: {err}");
        assert_eq!(err.http_status(), status, "{route}: {err}");
        assert_eq!(err.context("reference"), Some(reference.as_str()), "{route}: {err}");
        let requests = env.requests().await;
        assert_eq!(answers(&requests, route).len(), 1, "{route} sent once: {:?}", paths(&requests));
        match (write.handle_known, err.handle()) {
            (true, Some(handle)) => {
                assert_eq!(handle.reference.as_deref(), Some(reference.as_str()));
                env.client.status(handle).await.expect("the document behind the handle");
            }
            (false, None) => {}
            (known, handle) => panic!("{route}: handle known {known}, error carries {handle:?}"),
        }
        let created = usize::from(write.handle_known || commits);
        assert_eq!(h.stored(&env.control).await, stored + created, "{route}: documents created");
    }
    Outcome::Ok
}

/// Refused credentials are an auth error (200) after one request: no retry, no secret shown.
async fn bad_credentials(h: &'static dyn Harness) -> Outcome {
    let overrides = h.bad_credentials();
    let env = start_with(h, overrides.clone(), fast_transport()).await;
    let err = env.client.send(&h.envelope("ERP-AUTH")).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Auth, 200), "{err}");
    let requests = env.requests().await;
    assert_eq!(requests.len(), 1, "one request, no retry: {:?}", paths(&requests));
    let shown = format!("{err} {err:?}");
    for secret in overrides.as_object().unwrap().values().filter_map(Value::as_str) {
        assert!(!shown.contains(secret), "the refused credential is not shown: {shown}");
    }
    Outcome::Ok
}

/// The provider refuses a session mid-flow: one new login, then the read succeeds, and the new
/// session is kept.
async fn refused_session_logs_in_again(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-RELOGIN").await;
    let sent = env.requests().await;
    let login = match h.refuse_sessions(&env.control).await {
        Ok(login) => login,
        Err(why) => return not_applicable(why),
    };
    assert_eq!(answers(&sent, login), [Some(200)], "one login for the send");
    env.control.clear_requests().await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    let requests = env.requests().await;
    assert_eq!(answers(&requests, login), [Some(200)], "one new login");
    assert_eq!(answers(&requests, h.status_route()), [Some(401), Some(200)]);
    env.client.status(&handle).await.unwrap();
    assert_eq!(answers(&env.requests().await, login).len(), 1, "the new session is reused");
    Outcome::Ok
}
