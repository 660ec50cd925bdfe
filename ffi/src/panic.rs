//! The panic boundary every export runs inside.
//!
//! An unwinding panic must never cross into a C, Delphi or Free Pascal frame (since Rust 1.81
//! it would abort the host process). Each export's body runs in [`boundary`] (fallible calls)
//! or [`boundary_or`] (getters and `_free` functions); a caught panic becomes
//! `SIGNBRIDGE_RESULT_PANIC` and the thread's last error, and the library stays usable.
//! Plain functions rather than a macro: the body is a closure, so `?` works in it and the
//! compiler checks its type.
//!
//! The host's stderr is not the library's: panics of the library's own code go to `tracing`
//! instead (see `signbridge::panics`, shared with the Python module).

use signbridge::panics::{catch, message};

use crate::error::{Failure, SIGNBRIDGE_RESULT_OK, signbridge_result};

/// Runs a fallible export body: `Ok` is `SIGNBRIDGE_RESULT_OK`; a failure or a panic is
/// recorded as the thread's last error and its code returned.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> signbridge_result {
    match catch(body) {
        Ok(Ok(())) => SIGNBRIDGE_RESULT_OK,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => Failure::panic(&message(&*payload)).record(),
    }
}

/// Runs an infallible export body; a panic is recorded as the last error and `fallback`
/// returned instead.
pub(crate) fn boundary_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch(body).unwrap_or_else(|payload| {
        Failure::panic(&message(&*payload)).record();
        fallback
    })
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::Mutex;

    use std::panic::catch_unwind;
    use std::sync::Once;

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
        assert_eq!(message(&*payload), "formatted 1");
        let payload = catch_unwind(|| panic!("literal")).unwrap_err();
        assert_eq!(message(&*payload), "literal");
    }
}
