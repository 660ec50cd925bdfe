//! The panic boundary every export runs inside.
//!
//! An unwinding panic must never cross into a C, Delphi or Free Pascal frame (since Rust 1.81
//! it would abort the host process). Each export's body runs in [`boundary`] (fallible calls)
//! or [`boundary_or`] (getters and `_free` functions); a caught panic becomes
//! `SIGNBRIDGE_RESULT_PANIC` and the thread's last error, and the library stays usable.
//! Plain functions rather than a macro: the body is a closure, so `?` works in it and the
//! compiler checks its type.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Failure, SIGNBRIDGE_RESULT_OK, signbridge_result};

/// Runs a fallible export body: `Ok` is `SIGNBRIDGE_RESULT_OK`; a failure or a panic is
/// recorded as the thread's last error and its code returned.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> signbridge_result {
    // AssertUnwindSafe: after a panic nothing of the body's state is used again; the client
    // only holds state that core keeps consistent under its own locks.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SIGNBRIDGE_RESULT_OK,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => Failure::panic(&panic_message(&*payload)).record(),
    }
}

/// Runs an infallible export body; a panic is recorded as the last error and `fallback`
/// returned instead.
pub(crate) fn boundary_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Failure::panic(&panic_message(&*payload)).record();
        fallback
    })
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
    use super::*;
    use crate::error::{SIGNBRIDGE_RESULT_PANIC, signbridge_last_error_code};

    #[test]
    fn a_panic_becomes_a_code_and_the_last_error() {
        let code = boundary(|| panic!("boom {}", 42));
        assert_eq!(code, SIGNBRIDGE_RESULT_PANIC);
        assert_eq!(signbridge_last_error_code(), SIGNBRIDGE_RESULT_PANIC);
        assert_eq!(boundary_or(7, || -> i32 { panic!("static message") }), 7);
        assert_eq!(boundary(|| Ok(())), SIGNBRIDGE_RESULT_OK);
    }

    #[test]
    fn panic_messages_are_kept() {
        let payload = catch_unwind(|| panic!("formatted {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*payload), "formatted 1");
        let payload = catch_unwind(|| panic!("literal")).unwrap_err();
        assert_eq!(panic_message(&*payload), "literal");
    }
}
