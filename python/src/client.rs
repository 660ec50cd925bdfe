//! `NativeClient`: one core `Client`, with a blocking and a coroutine form of each operation.
//! Arguments and results are JSON strings; `signbridge.Client` and `signbridge.AsyncClient`
//! wrap it with dataclasses.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use signbridge::{Client, ClientConfig, DownloadKind, Envelope, Error, Handle, HostSigner};

use crate::errors::{boundary, exception, to_pyerr};
use crate::runtime::{block_on, forked_since, spawn_for_asyncio};
use crate::signer::{NativeSoftwareSigner, PySigner};

pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot encode JSON: {e}")))
}

/// What a client holds until it is closed.
struct Open {
    config: ClientConfig,
    /// The process the core client was built in (see [`NativeClient::client`]).
    pid: u32,
    client: Client,
    signer: Option<Arc<dyn HostSigner>>,
}

#[pyclass(frozen, module = "signbridge._native")]
pub struct NativeClient {
    provider: String,
    account: String,
    /// Locked only by threads holding the GIL, briefly, and never while calling Python: so no
    /// thread holds it when Python forks, and it cannot deadlock against the GIL.
    open: Mutex<Option<Open>>,
}

impl NativeClient {
    /// The core client, rebuilt from its configuration in a forked child: the parent's one
    /// holds pooled connections and timers of a runtime whose threads the child lacks. The old
    /// one is leaked for the same reason (dropping it could touch that runtime). Events queued
    /// in the parent stay there.
    fn client(&self, py: Python<'_>) -> PyResult<Client> {
        let rebuilt = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(open) = open.as_mut() else {
                return Err(PyRuntimeError::new_err("this signbridge client is closed"));
            };
            if !forked_since(open.pid) {
                return Ok(open.client.clone());
            }
            Client::new(open.config.clone()).inspect(|client| {
                if let Some(signer) = &open.signer {
                    client.set_host_signer(Some(signer.clone()));
                }
                std::mem::forget(std::mem::replace(&mut open.client, client.clone()));
                open.pid = std::process::id();
            })
        };
        rebuilt.map_err(|e| to_pyerr(py, &e))
    }

    fn handle(py: Python<'_>, text: &str) -> PyResult<Handle> {
        Handle::parse(text).map_err(|e| to_pyerr(py, &e))
    }

    fn send_future(
        &self,
        py: Python<'_>,
        envelope: &str,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let envelope: Envelope = serde_json::from_str(envelope)
            .map_err(|e| to_pyerr(py, &Error::validation("envelope", e)))?;
        let client = self.client(py)?;
        Ok(async move { to_json(&client.send(&envelope).await?) })
    }

    fn status_future(
        &self,
        py: Python<'_>,
        handle: &str,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let handle = Self::handle(py, handle)?;
        let client = self.client(py)?;
        Ok(async move { to_json(&client.status(&handle).await?) })
    }

    /// One result per handle; a handle that does not parse fails alone, like the core's own
    /// per-handle failures.
    fn refresh_future(
        &self,
        py: Python<'_>,
        handles: Vec<String>,
    ) -> PyResult<impl Future<Output = Result<Vec<Result<String, Error>>, Error>> + use<>> {
        let parsed: Vec<Result<Handle, Error>> = handles.iter().map(|h| Handle::parse(h)).collect();
        let client = self.client(py)?;
        Ok(async move {
            let valid: Vec<Handle> =
                parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
            let mut statuses = client.refresh(&valid).await.into_iter();
            Ok(parsed
                .into_iter()
                .map(|p| {
                    p.and_then(|_| {
                        let status = statuses.next().unwrap_or_else(|| {
                            Err(Error::internal("refresh returned fewer statuses than handles"))
                        });
                        to_json(&status?)
                    })
                })
                .collect())
        })
    }

    /// The bytes, or None once written to `path`.
    fn download_future(
        &self,
        py: Python<'_>,
        handle: &str,
        kind: &str,
        path: Option<PathBuf>,
    ) -> PyResult<impl Future<Output = Result<Option<Vec<u8>>, Error>> + use<>> {
        let handle = Self::handle(py, handle)?;
        let kind: DownloadKind = kind.parse().map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move {
            match path {
                Some(path) => client.download_to_file(&handle, kind, &path).await.map(|_| None),
                None => client.download_bytes(&handle, kind).await.map(|(bytes, _)| Some(bytes)),
            }
        })
    }

    fn cancel_future(
        &self,
        py: Python<'_>,
        handle: &str,
    ) -> PyResult<impl Future<Output = Result<(), Error>> + use<>> {
        let handle = Self::handle(py, handle)?;
        let client = self.client(py)?;
        Ok(async move { client.cancel(&handle).await })
    }

    fn next_event_future(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = Result<Option<String>, Error>> + use<>> {
        let timeout = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
        let client = self.client(py)?;
        Ok(async move { client.next_event(timeout).await.as_ref().map(to_json).transpose() })
    }
}

fn string(py: Python<'_>, value: String) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.into_any().unbind())
}

fn optional_string(py: Python<'_>, value: Option<String>) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.unbind())
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn optional_bytes(py: Python<'_>, value: Option<Vec<u8>>) -> PyResult<Py<PyAny>> {
    Ok(value.map_or_else(|| py.None(), |b| PyBytes::new(py, &b).into_any().unbind()))
}

/// Each entry a status (JSON) or the exception instance of its failure.
fn statuses(py: Python<'_>, results: Vec<Result<String, Error>>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for result in results {
        match result {
            Ok(json) => list.append(json)?,
            Err(e) => list.append(exception(py, &e)?)?,
        }
    }
    Ok(list.into_any().unbind())
}

#[pymethods]
impl NativeClient {
    /// `config`: the core's ClientConfig as JSON; `SIGNBRIDGE_<PROVIDER>_<NAME>` environment
    /// variables fill in settings.
    #[new]
    fn new(py: Python<'_>, config: &str) -> PyResult<NativeClient> {
        boundary(py, || {
            let built = ClientConfig::from_json(config).and_then(|mut config| {
                config.apply_env();
                Ok((Client::new(config.clone())?, config))
            });
            let (client, config) = built.map_err(|e| to_pyerr(py, &e))?;
            Ok(NativeClient {
                provider: client.provider_id().to_string(),
                account: client.account().to_string(),
                open: Mutex::new(Some(Open {
                    config,
                    pid: std::process::id(),
                    client,
                    signer: None,
                })),
            })
        })
    }

    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    #[getter]
    fn account(&self) -> &str {
        &self.account
    }

    #[getter]
    fn closed(&self) -> bool {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).is_none()
    }

    /// Releases the connection pool. Calls in flight finish; later calls raise RuntimeError.
    fn close(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(open);
    }

    /// Sets, or with None removes, the host signer: a `SoftwareSigner`, which signs without
    /// calling Python, or any callable (see `signbridge.HostSigner`).
    #[pyo3(signature = (signer))]
    fn set_host_signer(&self, py: Python<'_>, signer: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        boundary(py, || {
            let signer: Option<Arc<dyn HostSigner>> = match signer {
                None => None,
                Some(s) => match s.cast::<NativeSoftwareSigner>() {
                    Ok(software) => Some(software.get().host_signer()),
                    Err(_) if s.is_callable() => Some(Arc::new(PySigner::new(s.unbind()))),
                    Err(_) => {
                        return Err(PyTypeError::new_err("the host signer must be callable"));
                    }
                },
            };
            let client = self.client(py)?;
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = open.as_mut() {
                open.signer = signer.clone();
            }
            client.set_host_signer(signer);
            Ok(())
        })
    }

    fn send(&self, py: Python<'_>, envelope: &str) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.send_future(py, envelope)?)?))
    }

    fn send_async<'py>(&self, py: Python<'py>, envelope: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.send_future(py, envelope)?, string))
    }

    fn status(&self, py: Python<'_>, handle: &str) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.status_future(py, handle)?)?))
    }

    fn status_async<'py>(&self, py: Python<'py>, handle: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.status_future(py, handle)?, string))
    }

    fn refresh(&self, py: Python<'_>, handles: Vec<String>) -> PyResult<Py<PyAny>> {
        boundary(py, || statuses(py, block_on(py, self.refresh_future(py, handles)?)?))
    }

    fn refresh_async<'py>(
        &self,
        py: Python<'py>,
        handles: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.refresh_future(py, handles)?, statuses))
    }

    #[pyo3(signature = (handle, kind, path=None))]
    fn download(
        &self,
        py: Python<'_>,
        handle: &str,
        kind: &str,
        path: Option<PathBuf>,
    ) -> PyResult<Py<PyAny>> {
        boundary(py, || {
            optional_bytes(py, block_on(py, self.download_future(py, handle, kind, path)?)?)
        })
    }

    #[pyo3(signature = (handle, kind, path=None))]
    fn download_async<'py>(
        &self,
        py: Python<'py>,
        handle: &str,
        kind: &str,
        path: Option<PathBuf>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            spawn_for_asyncio(py, self.download_future(py, handle, kind, path)?, optional_bytes)
        })
    }

    fn cancel(&self, py: Python<'_>, handle: &str) -> PyResult<Py<PyAny>> {
        boundary(py, || none(py, block_on(py, self.cancel_future(py, handle)?)?))
    }

    fn cancel_async<'py>(&self, py: Python<'py>, handle: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.cancel_future(py, handle)?, none))
    }

    #[pyo3(signature = (timeout=None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        boundary(py, || optional_string(py, block_on(py, self.next_event_future(py, timeout)?)?))
    }

    #[pyo3(signature = (timeout=None))]
    fn next_event_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            spawn_for_asyncio(py, self.next_event_future(py, timeout)?, optional_string)
        })
    }
}
