//! Panics at the edge of the library, for every shell (the C ABI, the Python module).
//!
//! A shell runs each call into the library through [`catch`], which catches the panic (an
//! unwinding panic must never cross into a C, Delphi, Free Pascal or Python frame) and marks the
//! thread as running library code meanwhile. The host's stderr is not the library's: Rust's
//! default panic hook would print the panic there before `catch_unwind` sees it. The first
//! [`catch`] installs a hook that sends panics of the library's own code (a call's body, the
//! runtime's threads, marked with [`mark_library_thread`]) to `tracing`, target `signbridge`,
//! at error, and passes every other panic to the hook that was there before.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::Once;
use std::thread;

thread_local! {
    /// Whether a panic on this thread is the library's: the thread is running a call's body,
    /// or is one of the runtime's.
    static LIBRARY_CODE: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the library's for good: for the runtime's threads.
pub fn mark_library_thread() {
    LIBRARY_CODE.set(true);
}

/// Runs `body` as library code and catches its panic.
pub fn catch<T>(body: impl FnOnce() -> T) -> thread::Result<T> {
    install_hook();
    // A host callback may call back in (a signer's reply) from a runtime thread: the outer
    // value is restored, not cleared.
    let outer = LIBRARY_CODE.replace(true);
    // AssertUnwindSafe: after a panic nothing of the body's state is used again; the client
    // only holds state that core keeps consistent under its own locks.
    let result = catch_unwind(AssertUnwindSafe(body));
    LIBRARY_CODE.set(outer);
    result
}

/// Installs the hook once, chained to the one already there (the host's, or Rust's default).
/// [`catch`] does it; a shell calls it before starting threads marked with
/// [`mark_library_thread`], whose panics may come before any call's.
pub fn install_hook() {
    static INSTALLED: Once = Once::new();
    // take_hook and set_hook panic on a thread that is panicking; the next call installs.
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

/// The panic as a log event. A panic in a call's body also reaches the host as the call's
/// error.
fn log(info: &PanicHookInfo<'_>) {
    tracing::error!(
        target: "signbridge",
        location = info.location().map(tracing::field::display),
        "panic: {}",
        message(info.payload())
    );
}

/// A panic's message.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
