//! `NativeReceiver`: the core webhook `Receiver`, for hosts whose own web server (Flask,
//! Django, FastAPI) hands each request to `signbridge.Receiver.handle`. Blocking calls that
//! release the GIL; the reply and events cross as JSON.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use signbridge::webhooks::{Headers, Receiver, ReceiverConfig};

use crate::client::{optional_string, to_json};
use crate::errors::{boundary, to_pyerr};
use crate::runtime::block_on;

#[pyclass(frozen, module = "signbridge._native")]
pub struct NativeReceiver {
    receiver: std::sync::Arc<Receiver>,
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
    ) -> PyResult<(u16, String)> {
        boundary(py, || {
            let headers: serde_json::Value = serde_json::from_str(headers_json)
                .map_err(|e| PyValueError::new_err(format!("headers: {e}")))?;
            let headers = Headers::from_json(&headers).map_err(|e| to_pyerr(py, &e))?;
            let receiver = self.receiver.clone();
            let reply = block_on(py, async move {
                Ok(receiver.handle(&source, &account, &method, &headers, &body).await)
            })?;
            let pairs: Vec<[&str; 2]> =
                reply.headers.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
            let text = serde_json::json!({"headers": pairs, "body": reply.body}).to_string();
            Ok((reply.status, text))
        })
    }

    #[pyo3(signature = (timeout=None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        boundary(py, || {
            let timeout = timeout
                .map(Duration::try_from_secs_f64)
                .transpose()
                .map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
            let receiver = self.receiver.clone();
            let event = block_on(py, async move {
                receiver.next_event(timeout).await?.as_ref().map(to_json).transpose()
            })?;
            optional_string(py, event)
        })
    }

    fn ack_event(&self, py: Python<'_>, id: String) -> PyResult<bool> {
        boundary(py, || {
            let receiver = self.receiver.clone();
            block_on(py, async move { receiver.ack_event(&id).await })
        })
    }
}
