//! The panic boundary every export runs inside.
//!
//! An unwinding panic must never cross into a C, Delphi or Free Pascal frame (since Rust 1.81
//! it would abort the host process). Each export's body runs in [`boundary`] (fallible calls)
//! or [`boundary_or`] (getters and `_free` functions); a caught panic becomes
//! `SIGNBRIDGE_RESULT_PANIC` and the thread's last error, and the library stays usable.
//! Plain functions rather than a macro: the body is a closure, so `?` works in it and the
//! compiler checks its type.
//!
//! The host's stderr is not the library's: Rust's default panic hook would print the panic
//! there before `catch_unwind` sees it. The first boundary installs a hook that sends panics
//! of the library's own code (an export's body, the runtime's threads) to `tracing`, target
//! `signbridge`, at error, and passes every other panic to the hook that was there before.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::Once;
use std::thread;

use crate::error::{Failure, SIGNBRIDGE_RESULT_OK, signbridge_result};

thread_local! {
    /// Whether a panic on this thread is the library's: the thread is running an export's
    /// body, or is one of the runtime's.
    static LIBRARY_CODE: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the library's for good: for the runtime's threads.
pub(crate) fn mark_library_thread() {
    LIBRARY_CODE.set(true);
}

/// Runs a fallible export body: `Ok` is `SIGNBRIDGE_RESULT_OK`; a failure or a panic is
/// recorded as the thread's last error and its code returned.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> signbridge_result {
    match inside(body) {
        Ok(Ok(())) => SIGNBRIDGE_RESULT_OK,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => Failure::panic(&panic_message(&*payload)).record(),
    }
}

/// Runs an infallible export body; a panic is recorded as the last error and `fallback`
/// returned instead.
pub(crate) fn boundary_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    inside(body).unwrap_or_else(|payload| {
        Failure::panic(&panic_message(&*payload)).record();
        fallback
    })
}

/// Runs `body` as library code and catches its panic.
fn inside<T>(body: impl FnOnce() -> T) -> thread::Result<T> {
    install_hook();
    // A host signer's callback may call back in (signbridge_sign_reply_set_cms) from a
    // runtime thread: the outer value is restored, not cleared.
    let outer = LIBRARY_CODE.replace(true);
    // AssertUnwindSafe: after a panic nothing of the body's state is used again; the client
    // only holds state that core keeps consistent under its own locks.
    let result = catch_unwind(AssertUnwindSafe(body));
    LIBRARY_CODE.set(outer);
    result
}

/// Installs the hook once, chained to the one already there (the host's, or Rust's default).
fn install_hook() {
    static INSTALLED: Once = Once::new();
    // take_hook and set_hook panic on a thread that is panicking; the next boundary installs.
    if thread::panicking() {
        return;
    }
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // try_with: a thread being torn down may have lost its thread-locals already.
            if LIBRARY_CODE.try_with(Cell::get).unwrap_or(false) {
                log(info);
            } else {
                previous(info);
            }
        }));
    });
}

/// The panic as a log event. A panic in an export's body also reaches the host as the call's
/// last error.
fn log(info: &PanicHookInfo<'_>) {
    tracing::error!(
        target: "signbridge",
        location = info.location().map(tracing::field::display),
        "panic: {}",
        panic_message(info.payload())
    );
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::Mutex;

    use super::*;
    use crate::error::{SIGNBRIDGE_RESULT_PANIC, signbridge_last_error_code};
    use crate::runtime::block_on;

    #[test]
    fn a_panic_becomes_a_code_and_the_last_error() {
        let code = boundary(|| panic!("boom {}", 42));
        assert_eq!(code, SIGNBRIDGE_RESULT_PANIC);
        assert_eq!(signbridge_last_error_code(), SIGNBRIDGE_RESULT_PANIC);
        assert_eq!(boundary_or(7, || -> i32 { panic!("static message") }), 7);
        assert_eq!(boundary(|| Ok(())), SIGNBRIDGE_RESULT_OK);
    }

    /// Everything logged through the global subscriber, which every thread shares (the
    /// runtime's threads have no other).
    fn logged() -> String {
        static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
        static SUBSCRIBER: Once = Once::new();
        struct Log;
        impl Write for Log {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                LOG.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        SUBSCRIBER.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| Log)
                .with_ansi(false)
                .without_time()
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
    }

    #[test]
    fn a_panic_in_an_export_is_logged_at_error() {
        logged();
        assert_eq!(boundary(|| panic!("export panic {}", 7)), SIGNBRIDGE_RESULT_PANIC);
        let log = logged();
        let line = log.lines().find(|l| l.contains("export panic 7")).expect("not logged");
        assert!(line.starts_with("ERROR signbridge: panic: export panic 7"), "{line}");
        assert!(line.contains("location=ffi/src/panic.rs:"), "{line}");
    }

    #[test]
    fn a_panic_on_a_runtime_thread_is_logged() {
        logged();
        let task = block_on(async { tokio::spawn(async { panic!("task panic") }).await });
        assert!(task.unwrap().unwrap_err().is_panic());
        assert!(logged().contains("ERROR signbridge: panic: task panic"), "{}", logged());
    }

    #[test]
    fn other_panics_go_to_the_previous_hook() {
        logged();
        boundary(|| Ok(()));
        catch_unwind(|| panic!("a panic of the host's")).unwrap_err();
        assert!(!logged().contains("a panic of the host's"), "{}", logged());
    }

    #[test]
    fn panic_messages_are_kept() {
        let payload = catch_unwind(|| panic!("formatted {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*payload), "formatted 1");
        let payload = catch_unwind(|| panic!("literal")).unwrap_err();
        assert_eq!(panic_message(&*payload), "literal");
    }
}
