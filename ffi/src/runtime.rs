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
        .get_or_init(|| builder().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Failure::internal(format!("cannot start the signbridge runtime: {e}")))
}

/// How the runtime is built; a test builds one of its own from it.
fn builder() -> Builder {
    let mut builder = Builder::new_multi_thread();
    builder
        .enable_all()
        .thread_name("signbridge")
        // Workers and the blocking pool alike (the host signer runs there): SIGPIPE stays
        // off them, and their panics are the library's.
        .on_thread_start(|| {
            #[cfg(unix)]
            crate::sigpipe::block_for_good();
            signbridge::panics::mark_library_thread();
        });
    builder
}

/// Runs `future` to completion, blocking the caller's thread. The future itself is polled on
/// that thread, so SIGPIPE is blocked there meanwhile (see `sigpipe`).
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = runtime()?;
    #[cfg(unix)]
    let _sigpipe = crate::sigpipe::Blocked::on_this_thread();
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn runtime_threads_block_sigpipe() {
        use crate::sigpipe::tests::{blocked, on_own_thread};
        // A runtime of its own, started from a thread that lets SIGPIPE through, so its threads
        // block it only if they do so themselves.
        on_own_thread(|| {
            assert!(!blocked());
            let runtime = builder().build().unwrap();
            let (worker, pool) = runtime.block_on(async {
                tokio::spawn(async { (blocked(), tokio::task::spawn_blocking(blocked).await) })
                    .await
                    .unwrap()
            });
            assert!(worker, "a worker thread lets SIGPIPE through");
            assert!(pool.unwrap(), "a blocking-pool thread lets SIGPIPE through");
        });
    }
}
