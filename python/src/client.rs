//! `NativeClient`: one core `Client`, with a blocking and a coroutine form of each operation.
//! Arguments and results are JSON strings, read and written by `signbridge::host` as in every
//! shell (bare ids, the same validation errors, the same refresh rows); documents the host
//! holds in memory cross as bytes. `signbridge.Client` and `signbridge.AsyncClient` wrap it
//! with dataclasses.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use serde_json::Value;
use signbridge::{
    Client, ClientConfig, Document, DownloadKind, Envelope, Error, Handle, HostSigner, host,
};

use crate::errors::{boundary, to_pyerr};
use crate::runtime::{block_on, forked_since, spawn_for_asyncio};
use crate::signer::{NativeSoftwareSigner, PySigner};

/// How many unfinished sends `pending` and `reconcile()` take at most (the oldest first), as
/// in C: one answer stays bounded whatever the journal holds.
const PENDING_LIMIT: usize = 1000;

pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot encode JSON: {e}")))
}

/// A document of an envelope whose content the host holds in memory: its position among the
/// envelope's documents, its name and media type, and its bytes (bytes or bytearray), which
/// cross as they are rather than as base64 inside the JSON.
type InMemoryDocument = (usize, Option<String>, Option<String>, PyBackedBytes);

/// The envelope of `text`, read as every shell reads it, with the in-memory documents put at
/// their positions (ascending).
fn envelope(text: &str, documents: Vec<InMemoryDocument>) -> Result<Envelope, Error> {
    let mut envelope = host::envelope(text)?;
    for (index, name, media_type, bytes) in documents {
        let field = format!("documents[{index}]");
        if index > envelope.documents.len() {
            let count = envelope.documents.len();
            return Err(Error::validation(field, format!("past the {count} documents before it")));
        }
        let name = name.ok_or_else(|| {
            Error::validation(
                format!("{field}.name"),
                "a document given by its content needs a name",
            )
        })?;
        let mut document = Document::from_bytes(name, bytes.to_vec());
        document.media_type = media_type;
        envelope.documents.insert(index, document);
    }
    Ok(envelope)
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

    /// A handle as JSON, `provider:account:id`, or a bare id of this account.
    fn handle(&self, py: Python<'_>, text: &str) -> PyResult<Handle> {
        host::handle(text, &self.provider, &self.account).map_err(|e| to_pyerr(py, &e))
    }

    fn send_future(
        &self,
        py: Python<'_>,
        envelope_json: &str,
        documents: Vec<InMemoryDocument>,
        new_document: bool,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let envelope = envelope(envelope_json, documents).map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move {
            let handle = if new_document {
                client.send_new_document(&envelope).await?
            } else {
                client.send(&envelope).await?
            };
            to_json(&handle)
        })
    }

    /// One reference's outcome, or (None) every unfinished send's, as C and the CLI give them.
    fn reconcile_future(
        &self,
        py: Python<'_>,
        reference: Option<String>,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let client = self.client(py)?;
        Ok(async move {
            match reference {
                Some(reference) => to_json(&client.reconcile(&reference).await?),
                None => {
                    let results = client.reconcile_pending(PENDING_LIMIT).await?;
                    let rows: Vec<Value> = results
                        .iter()
                        .map(|(r, result)| host::reconciled_json(r, result))
                        .collect();
                    to_json(&rows)
                }
            }
        })
    }

    fn pending_future(
        &self,
        py: Python<'_>,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let client = self.client(py)?;
        Ok(async move {
            let pending = client.pending(PENDING_LIMIT).await?;
            to_json(&pending.iter().map(host::intent_json).collect::<Vec<_>>())
        })
    }

    fn resolve_future(
        &self,
        py: Python<'_>,
        reference: String,
        resolution: &str,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let resolution = host::resolution(resolution).map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move { to_json(&client.resolve(&reference, resolution).await?) })
    }

    fn budget_future(
        &self,
        py: Python<'_>,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let client = self.client(py)?;
        Ok(async move { to_json(&host::budget_json(&client.budget().await?)) })
    }

    /// Local checks only, but documents given by path are read: off the caller's thread.
    fn validate_future(
        &self,
        py: Python<'_>,
        envelope_json: &str,
        documents: Vec<InMemoryDocument>,
    ) -> PyResult<impl Future<Output = Result<(), Error>> + use<>> {
        let envelope = envelope(envelope_json, documents).map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move { client.validate(&envelope) })
    }

    fn status_future(
        &self,
        py: Python<'_>,
        handle: &str,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let handle = self.handle(py, handle)?;
        let client = self.client(py)?;
        Ok(async move { to_json(&client.status(&handle).await?) })
    }

    /// The refresh rows as JSON (core's, as C and the CLI give them). A handle that does not
    /// parse fails the call, naming it (`handles[2]`), before any request.
    fn refresh_future(
        &self,
        py: Python<'_>,
        handles: Vec<String>,
        force: bool,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let handles = handles
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let field = format!("handles[{i}]");
                host::handle_value(&Value::String(text), &field, &self.provider, &self.account)
            })
            .collect::<Result<Vec<Handle>, Error>>()
            .map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move {
            let results = if force {
                client.refresh_forced(&handles).await
            } else {
                client.refresh(&handles).await
            };
            let rows: Vec<Value> =
                handles.iter().zip(&results).map(|(h, r)| host::refresh_row(h, r)).collect();
            to_json(&rows)
        })
    }

    fn call_future(
        &self,
        py: Python<'_>,
        name: String,
        args: Option<&str>,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let args = args.map_or(Ok(Value::Null), |text| host::from_json("args", text));
        let args = args.map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move { to_json(&client.call(&name, args).await?) })
    }

    /// `{"events": [...], "cursor": ...}`, as C and the CLI give it.
    fn changes_future(
        &self,
        py: Python<'_>,
        cursor: Option<String>,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let client = self.client(py)?;
        Ok(async move {
            let (events, cursor) = client.changes(cursor.as_deref()).await?;
            to_json(&serde_json::json!({"events": events, "cursor": cursor}))
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
        let handle = self.handle(py, handle)?;
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
        let handle = self.handle(py, handle)?;
        let client = self.client(py)?;
        Ok(async move { client.cancel(&handle).await })
    }

    fn ack_event_future(
        &self,
        py: Python<'_>,
        id: &str,
    ) -> PyResult<impl Future<Output = Result<bool, Error>> + use<>> {
        let (client, id) = (self.client(py)?, id.to_owned());
        Ok(async move { client.ack_event(&id).await })
    }

    /// `[{"position", "committed_at", "acked_at", "event"}]`, as C and the CLI give it.
    fn replay_events_future(
        &self,
        py: Python<'_>,
        since: &str,
        limit: usize,
    ) -> PyResult<impl Future<Output = Result<String, Error>> + use<>> {
        let since = signbridge::host::since(since).map_err(|e| to_pyerr(py, &e))?;
        let client = self.client(py)?;
        Ok(async move {
            let replayed = client.replay_events(since, limit).await?;
            to_json(&signbridge::host::replayed_json(&replayed))
        })
    }

    fn prune_events_future(
        &self,
        py: Python<'_>,
        retention_hours: u64,
    ) -> PyResult<impl Future<Output = Result<u64, Error>> + use<>> {
        let client = self.client(py)?;
        let retention = Duration::from_secs(retention_hours.saturating_mul(3600));
        Ok(async move { client.prune_events(retention).await })
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
        Ok(async move { client.next_event(timeout).await?.as_ref().map(to_json).transpose() })
    }
}

fn string(py: Python<'_>, value: String) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.into_any().unbind())
}

pub(crate) fn optional_string(py: Python<'_>, value: Option<String>) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.unbind())
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn count(py: Python<'_>, value: u64) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.into_any().unbind())
}

fn boolean(py: Python<'_>, value: bool) -> PyResult<Py<PyAny>> {
    Ok(value.into_pyobject(py)?.to_owned().into_any().unbind())
}

fn optional_bytes(py: Python<'_>, value: Option<Vec<u8>>) -> PyResult<Py<PyAny>> {
    Ok(value.map_or_else(|| py.None(), |b| PyBytes::new(py, &b).into_any().unbind()))
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

    /// The JSON of `signbridge::host::capabilities` for this client's provider.
    fn capability(&self, py: Python<'_>) -> PyResult<String> {
        boundary(py, || {
            host::capabilities(Some(&self.provider))
                .and_then(|record| to_json(&record))
                .map_err(|e| to_pyerr(py, &e))
        })
    }

    #[pyo3(signature = (envelope, documents=Vec::new(), new_document=false))]
    fn send(
        &self,
        py: Python<'_>,
        envelope: &str,
        documents: Vec<InMemoryDocument>,
        new_document: bool,
    ) -> PyResult<Py<PyAny>> {
        boundary(py, || {
            string(py, block_on(py, self.send_future(py, envelope, documents, new_document)?)?)
        })
    }

    #[pyo3(signature = (envelope, documents=Vec::new(), new_document=false))]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        envelope: &str,
        documents: Vec<InMemoryDocument>,
        new_document: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            let future = self.send_future(py, envelope, documents, new_document)?;
            spawn_for_asyncio(py, future, string)
        })
    }

    #[pyo3(signature = (reference=None))]
    fn reconcile(&self, py: Python<'_>, reference: Option<String>) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.reconcile_future(py, reference)?)?))
    }

    #[pyo3(signature = (reference=None))]
    fn reconcile_async<'py>(
        &self,
        py: Python<'py>,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.reconcile_future(py, reference)?, string))
    }

    fn pending(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.pending_future(py)?)?))
    }

    fn pending_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.pending_future(py)?, string))
    }

    /// `resolution`: `{"sent_as": "<id>"}` or `{"not_sent": true}` (core::host reads it).
    fn resolve(&self, py: Python<'_>, reference: String, resolution: &str) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.resolve_future(py, reference, resolution)?)?))
    }

    fn resolve_async<'py>(
        &self,
        py: Python<'py>,
        reference: String,
        resolution: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            spawn_for_asyncio(py, self.resolve_future(py, reference, resolution)?, string)
        })
    }

    fn budget(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.budget_future(py)?)?))
    }

    fn budget_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.budget_future(py)?, string))
    }

    #[pyo3(signature = (envelope, documents=Vec::new()))]
    fn validate(
        &self,
        py: Python<'_>,
        envelope: &str,
        documents: Vec<InMemoryDocument>,
    ) -> PyResult<Py<PyAny>> {
        boundary(py, || none(py, block_on(py, self.validate_future(py, envelope, documents)?)?))
    }

    #[pyo3(signature = (envelope, documents=Vec::new()))]
    fn validate_async<'py>(
        &self,
        py: Python<'py>,
        envelope: &str,
        documents: Vec<InMemoryDocument>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.validate_future(py, envelope, documents)?, none))
    }

    fn status(&self, py: Python<'_>, handle: &str) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.status_future(py, handle)?)?))
    }

    fn status_async<'py>(&self, py: Python<'py>, handle: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.status_future(py, handle)?, string))
    }

    #[pyo3(signature = (handles, force=false))]
    fn refresh(&self, py: Python<'_>, handles: Vec<String>, force: bool) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.refresh_future(py, handles, force)?)?))
    }

    #[pyo3(signature = (handles, force=false))]
    fn refresh_async<'py>(
        &self,
        py: Python<'py>,
        handles: Vec<String>,
        force: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.refresh_future(py, handles, force)?, string))
    }

    #[pyo3(signature = (name, args=None))]
    fn call(&self, py: Python<'_>, name: String, args: Option<&str>) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.call_future(py, name, args)?)?))
    }

    #[pyo3(signature = (name, args=None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.call_future(py, name, args)?, string))
    }

    #[pyo3(signature = (cursor=None))]
    fn changes(&self, py: Python<'_>, cursor: Option<String>) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.changes_future(py, cursor)?)?))
    }

    #[pyo3(signature = (cursor=None))]
    fn changes_async<'py>(
        &self,
        py: Python<'py>,
        cursor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.changes_future(py, cursor)?, string))
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

    fn ack_event(&self, py: Python<'_>, id: &str) -> PyResult<bool> {
        boundary(py, || block_on(py, self.ack_event_future(py, id)?))
    }

    fn ack_event_async<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.ack_event_future(py, id)?, boolean))
    }

    fn replay_events(&self, py: Python<'_>, since: &str, limit: usize) -> PyResult<Py<PyAny>> {
        boundary(py, || string(py, block_on(py, self.replay_events_future(py, since, limit)?)?))
    }

    fn replay_events_async<'py>(
        &self,
        py: Python<'py>,
        since: &str,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || spawn_for_asyncio(py, self.replay_events_future(py, since, limit)?, string))
    }

    fn prune_events(&self, py: Python<'_>, retention_hours: u64) -> PyResult<u64> {
        boundary(py, || block_on(py, self.prune_events_future(py, retention_hours)?))
    }

    fn prune_events_async<'py>(
        &self,
        py: Python<'py>,
        retention_hours: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        boundary(py, || {
            spawn_for_asyncio(py, self.prune_events_future(py, retention_hours)?, count)
        })
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
