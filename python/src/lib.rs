//! `signbridge._native`: the private native module under the `signbridge` Python package.
//!
//! It stays thin. Envelopes, handles, statuses and events cross the boundary as JSON strings
//! (the core's serde shapes); the pure-Python layer turns them into dataclasses. Exceptions are
//! classes of `signbridge.errors`, looked up when raised. Every entry point:
//! - releases the GIL while the core works (`runtime::block_on`), and checks for signals every
//!   100 ms so Ctrl-C interrupts it;
//! - turns a Rust panic into `signbridge.errors.InternalError`, never a `PanicException`;
//! - notices a fork and starts a fresh runtime (and rebuilds the client) in the child.

mod client;
mod errors;
mod listener;
mod logging;
mod receiver;
mod runtime;
mod signer;

use pyo3::prelude::*;

use crate::errors::boundary;

/// The JSON form of a handle given as JSON or as `provider:account:id`.
#[pyfunction]
fn parse_handle(py: Python<'_>, text: &str) -> PyResult<String> {
    boundary(py, || {
        let handle = signbridge::Handle::parse(text).map_err(|e| errors::to_pyerr(py, &e))?;
        client::to_json(&handle).map_err(|e| errors::to_pyerr(py, &e))
    })
}

/// The capability record of `provider` (JSON), or of every provider (a JSON array) when None:
/// `signbridge::host::capabilities`, the JSON C and the CLI give.
#[pyfunction]
#[pyo3(signature = (provider=None))]
fn capabilities(py: Python<'_>, provider: Option<&str>) -> PyResult<String> {
    boundary(py, || {
        let record =
            signbridge::host::capabilities(provider).map_err(|e| errors::to_pyerr(py, &e))?;
        client::to_json(&record).map_err(|e| errors::to_pyerr(py, &e))
    })
}

/// Test hook: panics, directly or inside a task on the runtime, to prove that a panic reaches
/// Python as `InternalError`.
#[pyfunction]
fn _panic_for_test(py: Python<'_>, in_task: bool) -> PyResult<()> {
    boundary(py, || {
        if in_task {
            runtime::block_on(py, async { panic!("test panic in a task") })?
        } else {
            panic!("test panic at the boundary")
        }
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let kinds: Vec<(i32, &str)> =
        signbridge::ErrorKind::ALL.iter().map(|k| (k.code(), k.name())).collect();
    m.add("ERROR_KINDS", kinds)?;
    let downloads: Vec<&str> = signbridge::DownloadKind::ALL.iter().map(|k| k.as_str()).collect();
    m.add("DOWNLOAD_KINDS", downloads)?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<receiver::NativeReceiver>()?;
    m.add_class::<listener::NativeListener>()?;
    m.add_class::<signer::NativeSoftwareSigner>()?;
    m.add_function(wrap_pyfunction!(parse_handle, m)?)?;
    m.add_function(wrap_pyfunction!(capabilities, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    Ok(())
}
