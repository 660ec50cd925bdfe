//! The library's runtime, and how an export waits for a future on it.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::Failure;

/// The one runtime every call runs on, started by the first call that needs it. It is never
/// shut down: hosts unload the library, if at all, at process exit.
static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime, Failure> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .enable_all()
                .thread_name("signbridge")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Failure::internal(format!("cannot start the signbridge runtime: {e}")))
}

/// Runs `future` to completion, blocking the caller's thread.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    Ok(runtime()?.block_on(future))
}
