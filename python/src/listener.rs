//! `NativeListener`: the core's embedded webhook `Listener` (its HTTP server and download
//! worker) on the module's runtime, for hosts without a web server of their own. Its events
//! cross as JSON; each call has a blocking form (GIL released) and a coroutine form, as the
//! client's do. `signbridge.Listener` and `signbridge.AsyncListener` wrap it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use signbridge::Error;
use signbridge::webhooks::{Listener, ListenerConfig, Receiver};

use crate::client::{boolean, optional_string, to_json};
use crate::errors::{boundary, to_pyerr};
use crate::runtime::{block_on, forked_since, spawn_for_asyncio};

/// A listener until it is stopped.
struct Running {
    listener: Listener,
    /// The process that started it: a forked child has none of its threads or sockets' tasks.
    pid: u32,
}

#[pyclass(frozen, module = "signbridge._native")]
pub struct NativeListener {
    url: String,
    address: (String, u16),
    /// Locked briefly by threads holding the GIL, never across a wait (see `NativeClient`).
    running: Mutex<Option<Running>>,
}

impl NativeListener {
    /// The listener's receiver, while it runs in this process.
    fn receiver(&self) -> PyResult<Arc<Receiver>> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match running.as_ref() {
            Some(r) if forked_since(r.pid) => Err(PyRuntimeError::new_err(
                "this signbridge listener runs in the parent process, not in this fork",
            )),
            Some(r) => Ok(r.listener.receiver().clone()),
            None => Err(PyRuntimeError::new_err("this signbridge listener is stopped")),
        }
    }

    fn next_event_future(
        &self,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = Result<Option<String>, Error>> + use<>> {
        let timeout = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
        let receiver = self.receiver()?;
        Ok(async move { receiver.next_event(timeout).await?.as_ref().map(to_json).transpose() })
    }

    fn ack_event_future(
        &self,
        id: &str,
    ) -> PyResult<impl Future<Output = Result<bool, Error>> + use<>> {
        let (receiver, id) = (self.receiver()?, id.to_owned());
        Ok(async move { receiver.ack_event(&id).await })
    }

    /// Takes the listener out (later calls raise RuntimeError) and stops it; `None` when it
    /// was stopped before. In a forked child the parent's listener is only forgotten: its tasks
    /// never run here, and waiting for them would never end.
    fn stop_future(&self) -> Option<impl Future<Output = Result<(), Error>> + use<>> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        if forked_since(running.pid) {
            std::mem::forget(running);
            return None;
        }
        Some(async move {
            running.listener.stop().await;
            Ok(())
        })
    }
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

#[pymethods]
impl NativeListener {
    /// `config`: the core's ListenerConfig as JSON (as `signbridge serve` reads it);
    /// `SIGNBRIDGE_JOURNAL` sets the journal's path. Binds and serves before returning.
    #[new]
    fn new(py: Python<'_>, config: &str) -> PyResult<NativeListener> {
        boundary(py, || {
            let config = ListenerConfig::from_json(config).map_err(|e| to_pyerr(py, &e))?;
            let listener = block_on(py, async move { Listener::start(config).await })?;
            let addr = listener.local_addr();
            Ok(NativeListener {
                url: listener.url(),
                address: (addr.ip().to_string(), addr.port()),
                running: Mutex::new(Some(Running { listener, pid: std::process::id() })),
            })
        })
    }

    /// `http://IP:PORT` (`https://` with `tls`).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The bound address (the port picked when 0 was asked for).
    #[getter]
    fn address(&self) -> (String, u16) {
        self.address.clone()
    }

    #[getter]
    fn stopped(&self) -> bool {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).is_none()
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

    fn ack_event(&self, py: Python<'_>, id: &str) -> PyResult<bool> {
        boundary(py, || block_on(py, self.ack_event_future(id)?))
    }

    fn ack_event_async<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.ack_event_future(id)?, boolean))
    }

    /// Stops accepting, answers the deliveries in flight after their commit, lets the download
    /// in progress end, then returns. Stopping again does nothing.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        boundary(py, || match self.stop_future() {
            Some(stop) => block_on(py, stop),
            None => Ok(()),
        })
    }

    fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            let stop = self.stop_future();
            spawn_for_asyncio(
                py,
                async move {
                    match stop {
                        Some(stop) => stop.await,
                        None => Ok(()),
                    }
                },
                none,
            )
        })
    }
}
