//! The one tokio runtime of the process, how blocking calls wait on it, and how coroutines are
//! driven by it.
//!
//! A forked child inherits the runtime's memory but none of its threads: a task spawned there
//! would never run. So the runtime is tied to the pid that built it; the first call in a new
//! process forgets the parent's runtime (dropping it would wait for threads that do not exist)
//! and builds its own.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime};
use signbridge::Error;
use tokio::runtime::Handle;

use crate::errors::{panic_to_pyerr, to_pyerr};
use crate::logging;

/// How often a blocked call wakes to run Python's signal handlers (Ctrl-C) and forward logs.
const TICK: Duration = Duration::from_millis(100);

struct Current {
    pid: u32,
    runtime: Arc<tokio::runtime::Runtime>,
}

/// Only locked by threads holding the GIL, so no thread can hold it while Python forks.
static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// The runtime of this process. Call it with the GIL held (see [`CURRENT`]).
pub fn runtime(_py: Python<'_>) -> Result<Arc<tokio::runtime::Runtime>, Error> {
    let pid = std::process::id();
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(c) = current.as_ref().filter(|c| c.pid == pid) {
        return Ok(c.runtime.clone());
    }
    if let Some(stale) = current.take() {
        std::mem::forget(stale);
    }
    // The work is waiting on HTTP: a few threads serve any number of calls, however many
    // cores the host has.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    // A panic on the runtime's threads is the library's: logged, not printed on stderr.
    signbridge::panics::install_hook();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .thread_name("signbridge")
        .on_thread_start(signbridge::panics::mark_library_thread)
        .build()
        .map(Arc::new)
        .map_err(|e| Error::internal(format!("cannot start the signbridge runtime: {e}")))?;
    *current = Some(Current { pid, runtime: runtime.clone() });
    Ok(runtime)
}

/// Whether the process forked since `pid` was read.
pub fn forked_since(pid: u32) -> bool {
    pid != std::process::id()
}

/// Runs `future` on the runtime while this thread waits without the GIL. Every [`TICK`] it
/// takes the GIL back to forward logs and run signal handlers: a `KeyboardInterrupt` there
/// abandons the call (the task is aborted, which drops the request) and is raised.
pub fn block_on<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let runtime = runtime(py).map_err(|e| to_pyerr(py, &e))?;
    logging::deliver(py)?;
    let (tx, mut rx) = sync_channel(1);
    let task = runtime.spawn(async move {
        let _ = tx.send(AssertUnwindSafe(future).catch_unwind().await);
    });
    loop {
        // The receiver is Send but not Sync: it moves to the detached closure and back.
        let received;
        (received, rx) = py.detach(move || (rx.recv_timeout(TICK), rx));
        match received {
            Ok(outcome) => {
                logging::deliver(py)?;
                return match outcome {
                    Ok(result) => result.map_err(|e| to_pyerr(py, &e)),
                    Err(panic) => Err(panic_to_pyerr(py, panic)),
                };
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals().and_then(|()| logging::deliver(py)) {
                    task.abort();
                    return Err(interrupted);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let e = Error::internal("the signbridge runtime dropped a call");
                return Err(to_pyerr(py, &e));
            }
        }
    }
}

/// A result computed on the runtime and turned into a Python object once the GIL is held, in
/// the callback that completes the asyncio future (so errors become our exception classes).
pub struct Deferred(Box<Convert>);

type Convert = dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send;

impl<'py> IntoPyObject<'py> for Deferred {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        logging::deliver(py)?;
        match signbridge::panics::catch(|| (self.0)(py)) {
            Ok(result) => result.map(|object| object.into_bound(py)),
            Err(panic) => Err(panic_to_pyerr(py, panic)),
        }
    }
}

/// An asyncio future (of the running loop) completed by `future` run on the runtime; `convert`
/// makes its Python result. Cancelling the asyncio future drops `future`.
pub fn spawn_for_asyncio<'py, T, F>(
    py: Python<'py>,
    future: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    // Build (or rebuild, after a fork) the runtime while the GIL is held.
    runtime(py).map_err(|e| to_pyerr(py, &e))?;
    logging::deliver(py)?;
    let future = async move {
        let outcome = AssertUnwindSafe(future).catch_unwind().await;
        Ok(Deferred(Box::new(move |py| match outcome {
            Ok(Ok(value)) => convert(py, value),
            Ok(Err(e)) => Err(to_pyerr(py, &e)),
            Err(panic) => Err(panic_to_pyerr(py, panic)),
        })))
    };
    pyo3_async_runtimes::generic::future_into_py::<Shared, _, _>(py, future)
}

/// pyo3-async-runtimes driving coroutines on [`runtime`], rather than on a runtime of its own
/// that could not be replaced after a fork.
struct Shared;

tokio::task_local! {
    static TASK_LOCALS: TaskLocals;
}

pub struct Join(tokio::task::JoinError);

impl JoinError for Join {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

/// Tasks already on the runtime spawn through its handle; the first spawn of a call comes from
/// a Python thread, holding the GIL.
fn current_handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| {
        Python::attach(|py| runtime(py).map(|r| r.handle().clone()))
            .expect("the runtime was built before the first spawn of this call")
    })
}

impl Runtime for Shared {
    type JoinError = Join;
    type JoinHandle = Pin<Box<dyn Future<Output = Result<(), Join>> + Send>>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = current_handle().spawn(fut);
        Box::pin(async move { task.await.map_err(Join) })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let task = current_handle().spawn_blocking(f);
        Box::pin(async move { task.await.map_err(Join) })
    }
}

impl ContextExt for Shared {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(locals, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(TaskLocals::clone).ok()
    }
}
