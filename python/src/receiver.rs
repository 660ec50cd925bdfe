//! `NativeReceiver`: the core webhook `Receiver`, for hosts whose own web server (Flask,
//! Django, FastAPI) hands each request to `signbridge.Receiver.handle` (or, under asyncio,
//! `signbridge.AsyncReceiver.handle`). Each call has a blocking form that releases the GIL and
//! a coroutine form; the reply and events cross as JSON.

use std::future::Future;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use signbridge::Error;
use signbridge::webhooks::{Headers, Receiver, ReceiverConfig, Reply};

use crate::client::{boolean, optional_string, to_json};
use crate::errors::{boundary, to_pyerr};
use crate::runtime::{block_on, spawn_for_asyncio};

#[pyclass(frozen, module = "signbridge._native")]
pub struct NativeReceiver {
    receiver: std::sync::Arc<Receiver>,
}

/// `(status, {"headers": [[name, value]], "body": text})`.
type ReplyJson = (u16, String);

fn reply_json(reply: Reply) -> ReplyJson {
    let pairs: Vec<[&str; 2]> =
        reply.headers.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
    (reply.status, serde_json::json!({"headers": pairs, "body": reply.body}).to_string())
}

fn reply_object(py: Python<'_>, reply: ReplyJson) -> PyResult<Py<PyAny>> {
    Ok(reply.into_pyobject(py)?.into_any().unbind())
}

impl NativeReceiver {
    fn handle_future(
        &self,
        py: Python<'_>,
        source: String,
        account: String,
        method: String,
        headers_json: &str,
        body: Vec<u8>,
    ) -> PyResult<impl Future<Output = Result<ReplyJson, Error>> + use<>> {
        let headers: serde_json::Value = serde_json::from_str(headers_json)
            .map_err(|e| PyValueError::new_err(format!("headers: {e}")))?;
        let headers = Headers::from_json(&headers).map_err(|e| to_pyerr(py, &e))?;
        let receiver = self.receiver.clone();
        Ok(async move {
            Ok(reply_json(receiver.handle(&source, &account, &method, &headers, &body).await))
        })
    }

    fn next_event_future(
        &self,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = Result<Option<String>, Error>> + use<>> {
        let timeout = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
        let receiver = self.receiver.clone();
        Ok(async move { receiver.next_event(timeout).await?.as_ref().map(to_json).transpose() })
    }

    fn ack_event_future(&self, id: String) -> impl Future<Output = Result<bool, Error>> + use<> {
        let receiver = self.receiver.clone();
        async move { receiver.ack_event(&id).await }
    }
}

#[pymethods]
impl NativeReceiver {
    /// `config`: the core's ReceiverConfig as JSON; `SIGNBRIDGE_JOURNAL` sets the journal.
    #[new]
    fn new(py: Python<'_>, config: &str) -> PyResult<NativeReceiver> {
        boundary(py, || {
            let receiver = ReceiverConfig::from_json(config)
                .and_then(Receiver::new)
                .map_err(|e| to_pyerr(py, &e))?;
            Ok(NativeReceiver { receiver: std::sync::Arc::new(receiver) })
        })
    }

    /// The reply to one delivery: `(status, reply_json)`, the reply `{"headers", "body"}`.
    fn handle(
        &self,
        py: Python<'_>,
        source: String,
        account: String,
        method: String,
        headers_json: &str,
        body: Vec<u8>,
    ) -> PyResult<ReplyJson> {
        boundary(py, || {
            let future = self.handle_future(py, source, account, method, headers_json, body)?;
            block_on(py, future)
        })
    }

    fn handle_async<'py>(
        &self,
        py: Python<'py>,
        source: String,
        account: String,
        method: String,
        headers_json: &str,
        body: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            let future = self.handle_future(py, source, account, method, headers_json, body)?;
            spawn_for_asyncio(py, future, reply_object)
        })
    }

    #[pyo3(signature = (timeout=None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        boundary(py, || optional_string(py, block_on(py, self.next_event_future(timeout)?)?))
    }

    #[pyo3(signature = (timeout=None))]
    fn next_event_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.next_event_future(timeout)?, optional_string))
    }

    fn ack_event(&self, py: Python<'_>, id: String) -> PyResult<bool> {
        boundary(py, || block_on(py, self.ack_event_future(id)))
    }

    fn ack_event_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.ack_event_future(id), boolean))
    }
}
