//! Core errors and Rust panics as exceptions of `signbridge.errors`.
//!
//! The classes are Python code; `signbridge.errors._from_native` picks one by the kind's stable
//! name and fills in its attributes. The drift test in python/tests checks that every kind
//! listed in `ERROR_KINDS` (all of core's `ErrorKind::ALL`) has a class.

use std::any::Any;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use signbridge::Error;

/// The exception for `e`. If even building it fails (the package is broken), that failure.
pub fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    match exception(py, e) {
        Ok(exception) => PyErr::from_value(exception),
        Err(failure) => failure,
    }
}

/// The exception instance for `e`.
fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("http_status", e.http_status())?;
    kwargs.set_item("provider_message", e.provider_message())?;
    kwargs.set_item("retry_after", e.retry_after().map(|d| d.as_secs_f64()))?;
    kwargs.set_item("field", e.field())?;
    let handle = e.handle().map(serde_json::to_string).transpose().ok().flatten();
    kwargs.set_item("handle", handle)?;
    py.import("signbridge.errors")?
        .getattr("_from_native")?
        .call((e.kind().name(), e.to_string()), Some(&kwargs))
}

/// A panic as `InternalError`: it is a bug in signbridge, reported like any other error.
pub fn panic_to_pyerr(py: Python<'_>, panic: Box<dyn Any + Send>) -> PyErr {
    let what = signbridge::panics::message(&*panic);
    to_pyerr(py, &Error::internal(format!("signbridge panicked (a bug): {what}")))
}

/// Runs the body of an entry point, turning a panic into `InternalError`. The panic goes to
/// the `signbridge` logger (ERROR), never to the host's stderr (`signbridge::panics`), and its
/// record reaches Python logging before the exception is raised.
pub fn boundary<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    signbridge::panics::catch(body).unwrap_or_else(|panic| {
        // A failure to forward (an interrupt meanwhile) must not hide the panic's error.
        let _ = crate::logging::deliver(py);
        Err(panic_to_pyerr(py, panic))
    })
}
