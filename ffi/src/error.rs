//! Result codes and the thread-local last error.
//!
//! Every fallible export returns a [`signbridge_result`]. On failure it also stores the details
//! (message, HTTP status, provider message, handle) for the calling thread, where the
//! `signbridge_last_error_*` functions read them, like `errno`: a success leaves them alone.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::fmt::Display;

use signbridge::ErrorKind;

use crate::panic::boundary_or;

/// The status a fallible export returns: `SIGNBRIDGE_RESULT_OK` (0), or one of the other
/// `SIGNBRIDGE_RESULT_*` codes.
///
/// Codes come in append-only blocks and are never reused: 1-99 belong to the C ABI itself
/// (misuse, a caught panic, no event); every other code is a signbridge error kind, the same
/// number the CLI and the Python package report (100s configuration, 200s authentication,
/// 300s refused, 400s rate limit and transport, 500s provider, 600s journal, 700s host signing, 900s
/// internal).
#[allow(non_camel_case_types, reason = "C naming: the header exposes this typedef as is")]
pub type signbridge_result = i32;

/// Success; the outputs were written.
pub const SIGNBRIDGE_RESULT_OK: signbridge_result = 0;
/// A required pointer argument was NULL. The message names the argument.
pub const SIGNBRIDGE_RESULT_NULL_ARGUMENT: signbridge_result = 1;
/// A string argument is not valid UTF-8. The message names the argument and the byte offset.
pub const SIGNBRIDGE_RESULT_INVALID_UTF8: signbridge_result = 2;
/// A JSON argument does not parse, or does not have the expected shape (a missing field, a
/// wrong type, an unknown field). The message names the argument and what was wrong.
pub const SIGNBRIDGE_RESULT_INVALID_JSON: signbridge_result = 3;
/// signbridge panicked (a bug). The panic was caught; the library stays usable.
pub const SIGNBRIDGE_RESULT_PANIC: signbridge_result = 4;
/// `signbridge_next_event` waited its whole timeout and no event came. Not a failure of the
/// client; the last error says how long it waited.
pub const SIGNBRIDGE_RESULT_NO_EVENT: signbridge_result = 5;

/// The client configuration is incomplete or inconsistent (e.g. an unknown provider).
pub const SIGNBRIDGE_RESULT_CONFIG: signbridge_result = 100;
/// The provider cannot do what was asked (e.g. a download kind it does not have).
pub const SIGNBRIDGE_RESULT_UNSUPPORTED: signbridge_result = 101;
/// Credentials were refused, or a token could not be obtained.
pub const SIGNBRIDGE_RESULT_AUTH: signbridge_result = 200;
/// The request is invalid: caught locally before any request (the message names the field,
/// e.g. `parties[1].email`), or refused by the provider.
pub const SIGNBRIDGE_RESULT_VALIDATION: signbridge_result = 300;
/// The document does not exist (any more) at the provider.
pub const SIGNBRIDGE_RESULT_NOT_FOUND: signbridge_result = 301;
/// The document's state forbids the operation (e.g. cancel a finished one).
pub const SIGNBRIDGE_RESULT_CONFLICT: signbridge_result = 302;
/// The provider asked to wait longer than the configuration allows.
pub const SIGNBRIDGE_RESULT_RATE_LIMITED: signbridge_result = 400;
/// The connection failed or broke.
pub const SIGNBRIDGE_RESULT_TRANSPORT: signbridge_result = 401;
/// The operation did not finish within its deadline.
pub const SIGNBRIDGE_RESULT_TIMEOUT: signbridge_result = 402;
/// A write was sent and its answer lost: it may have taken effect. When the document exists,
/// `signbridge_last_error_handle` gives its handle: check its status before sending again.
pub const SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN: signbridge_result = 403;
/// The provider failed or answered something unexpected.
pub const SIGNBRIDGE_RESULT_PROVIDER: signbridge_result = 500;
/// The journal (the local store of intents, sessions and budgets) cannot be opened, read or
/// written; the message names its file.
pub const SIGNBRIDGE_RESULT_JOURNAL: signbridge_result = 600;
/// The host signer is missing or failed; its message is the provider message.
pub const SIGNBRIDGE_RESULT_SIGNING: signbridge_result = 700;
/// A bug in signbridge.
pub const SIGNBRIDGE_RESULT_INTERNAL: signbridge_result = 900;

/// The C code of a core error kind.
pub(crate) const fn result_for(kind: ErrorKind) -> signbridge_result {
    match kind {
        ErrorKind::Config => SIGNBRIDGE_RESULT_CONFIG,
        ErrorKind::Unsupported => SIGNBRIDGE_RESULT_UNSUPPORTED,
        ErrorKind::Auth => SIGNBRIDGE_RESULT_AUTH,
        ErrorKind::Validation => SIGNBRIDGE_RESULT_VALIDATION,
        ErrorKind::NotFound => SIGNBRIDGE_RESULT_NOT_FOUND,
        ErrorKind::Conflict => SIGNBRIDGE_RESULT_CONFLICT,
        ErrorKind::RateLimited => SIGNBRIDGE_RESULT_RATE_LIMITED,
        ErrorKind::Transport => SIGNBRIDGE_RESULT_TRANSPORT,
        ErrorKind::Timeout => SIGNBRIDGE_RESULT_TIMEOUT,
        ErrorKind::OutcomeUnknown => SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN,
        ErrorKind::Provider => SIGNBRIDGE_RESULT_PROVIDER,
        ErrorKind::Journal => SIGNBRIDGE_RESULT_JOURNAL,
        ErrorKind::Signing => SIGNBRIDGE_RESULT_SIGNING,
        ErrorKind::Internal => SIGNBRIDGE_RESULT_INTERNAL,
    }
}

/// A failed call, on its way to the thread-local last error.
#[derive(Debug)]
pub(crate) struct Failure {
    code: signbridge_result,
    message: String,
    http_status: Option<u16>,
    provider_message: Option<String>,
    /// The handle JSON, when the error concerns a document that exists.
    handle: Option<String>,
}

impl Failure {
    fn abi(code: signbridge_result, message: String) -> Failure {
        Failure { code, message, http_status: None, provider_message: None, handle: None }
    }

    pub fn null(argument: &str) -> Failure {
        Failure::abi(SIGNBRIDGE_RESULT_NULL_ARGUMENT, format!("{argument} is NULL"))
    }

    pub fn utf8(argument: &str, error: std::str::Utf8Error) -> Failure {
        Failure::abi(SIGNBRIDGE_RESULT_INVALID_UTF8, format!("{argument} is not UTF-8: {error}"))
    }

    pub fn json(argument: &str, problem: impl Display) -> Failure {
        Failure::abi(SIGNBRIDGE_RESULT_INVALID_JSON, format!("{argument}: {problem}"))
    }

    pub fn panic(message: &str) -> Failure {
        Failure::abi(SIGNBRIDGE_RESULT_PANIC, format!("signbridge panicked (a bug): {message}"))
    }

    pub fn no_event(timeout_ms: u32) -> Failure {
        Failure::abi(SIGNBRIDGE_RESULT_NO_EVENT, format!("no event within {timeout_ms} ms"))
    }

    pub fn internal(message: impl Into<String>) -> Failure {
        signbridge::Error::internal(message).into()
    }

    #[cfg(test)]
    pub fn code(&self) -> signbridge_result {
        self.code
    }

    /// Stores this failure as the calling thread's last error and returns its code.
    pub fn record(self) -> signbridge_result {
        let code = self.code;
        let last = LastError {
            code,
            message: c_string_lossy(self.message),
            http_status: self.http_status.map_or(0, i32::from),
            provider_message: c_string_lossy(self.provider_message.unwrap_or_default()),
            handle: c_string_lossy(self.handle.unwrap_or_default()),
        };
        // During thread teardown the slot may be gone; the code still reaches the caller.
        let _ = LAST.try_with(|slot| *slot.borrow_mut() = last);
        code
    }
}

impl From<signbridge::Error> for Failure {
    fn from(e: signbridge::Error) -> Failure {
        Failure {
            code: result_for(e.kind()),
            message: e.to_string(),
            http_status: e.http_status(),
            provider_message: e.provider_message().map(str::to_owned),
            handle: e.handle().and_then(|h| serde_json::to_string(h).ok()),
        }
    }
}

/// A C string of `text`; a NUL inside (a provider message can hold anything) becomes U+FFFD
/// instead of cutting the text short.
pub(crate) fn c_string_lossy(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let text = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{FFFD}");
        CString::new(text).expect("every NUL was replaced")
    })
}

#[derive(Default)]
struct LastError {
    code: signbridge_result,
    message: CString,
    http_status: i32,
    provider_message: CString,
    handle: CString,
}

thread_local! {
    static LAST: RefCell<LastError> = RefCell::new(LastError::default());
}

/// Reads a string of the last error. The pointer stays valid after the borrow ends: the
/// CString's buffer lives until the thread's next failure replaces it.
fn last_string(field: fn(&LastError) -> &CString) -> *const c_char {
    boundary_or(c"".as_ptr(), || {
        LAST.try_with(|slot| field(&slot.borrow()).as_ptr()).unwrap_or(c"".as_ptr())
    })
}

/// The code of the calling thread's last failure, or 0 when this thread has had none.
///
/// Only meaningful right after a call returned a non-zero code: a success does not clear it.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_last_error_code() -> signbridge_result {
    boundary_or(SIGNBRIDGE_RESULT_OK, || LAST.try_with(|slot| slot.borrow().code).unwrap_or(0))
}

/// The message of the calling thread's last failure (UTF-8), or "" when there was none.
///
/// Owned by the library: do not free it. It stays valid until the next call into signbridge
/// on this thread; copy it to keep it. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_last_error_message() -> *const c_char {
    last_string(|last| &last.message)
}

/// The HTTP status of the response behind the calling thread's last failure, or 0 when there
/// was no response (a local check, a connection failure).
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_last_error_http_status() -> i32 {
    boundary_or(0, || LAST.try_with(|slot| slot.borrow().http_status).unwrap_or(0))
}

/// The provider's own message (or the host signer's) behind the calling thread's last failure
/// (UTF-8), or "" when there was none. Ownership and lifetime as for
/// `signbridge_last_error_message`.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_last_error_provider_message() -> *const c_char {
    last_string(|last| &last.provider_message)
}

/// The handle JSON of the document the calling thread's last failure concerns, or "" when
/// there is none. Set when `signbridge_send` fails after the document was created (notably
/// `SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN`): store it and check its status before sending again.
/// Ownership and lifetime as for `signbridge_last_error_message`.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_last_error_handle() -> *const c_char {
    last_string(|last| &last.handle)
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    const KIND_CONSTANTS: [signbridge_result; 14] = [
        SIGNBRIDGE_RESULT_CONFIG,
        SIGNBRIDGE_RESULT_UNSUPPORTED,
        SIGNBRIDGE_RESULT_AUTH,
        SIGNBRIDGE_RESULT_VALIDATION,
        SIGNBRIDGE_RESULT_NOT_FOUND,
        SIGNBRIDGE_RESULT_CONFLICT,
        SIGNBRIDGE_RESULT_RATE_LIMITED,
        SIGNBRIDGE_RESULT_TRANSPORT,
        SIGNBRIDGE_RESULT_TIMEOUT,
        SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN,
        SIGNBRIDGE_RESULT_PROVIDER,
        SIGNBRIDGE_RESULT_JOURNAL,
        SIGNBRIDGE_RESULT_SIGNING,
        SIGNBRIDGE_RESULT_INTERNAL,
    ];

    const ABI_CONSTANTS: [signbridge_result; 5] = [
        SIGNBRIDGE_RESULT_NULL_ARGUMENT,
        SIGNBRIDGE_RESULT_INVALID_UTF8,
        SIGNBRIDGE_RESULT_INVALID_JSON,
        SIGNBRIDGE_RESULT_PANIC,
        SIGNBRIDGE_RESULT_NO_EVENT,
    ];

    #[test]
    fn every_kind_has_a_constant() {
        let mut mapped: Vec<_> = ErrorKind::ALL.iter().map(|&k| result_for(k)).collect();
        for kind in ErrorKind::ALL {
            assert_eq!(result_for(kind), kind.code(), "{kind}");
        }
        mapped.sort_unstable();
        let mut constants = KIND_CONSTANTS.to_vec();
        constants.sort_unstable();
        assert_eq!(mapped, constants, "a kind without a SIGNBRIDGE_RESULT_* constant");
    }

    #[test]
    fn abi_codes_stay_in_their_block() {
        let mut seen = std::collections::HashSet::from([SIGNBRIDGE_RESULT_OK]);
        for code in ABI_CONSTANTS {
            assert!((1..=99).contains(&code), "{code}");
            assert!(seen.insert(code), "duplicate {code}");
        }
        assert!(KIND_CONSTANTS.iter().all(|c| !(0..=99).contains(c)));
    }

    #[test]
    fn a_failure_becomes_the_threads_last_error() {
        let error = signbridge::Error::new(ErrorKind::NotFound, "document not found")
            .with_http_status(404)
            .with_provider_message("Documento não encontrado.");
        assert_eq!(Failure::from(error).record(), 301);
        assert_eq!(signbridge_last_error_code(), 301);
        assert_eq!(signbridge_last_error_http_status(), 404);
        let read = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        assert_eq!(
            read(signbridge_last_error_message()),
            "document not found: Documento não encontrado. (HTTP 404)"
        );
        assert_eq!(read(signbridge_last_error_provider_message()), "Documento não encontrado.");
        assert_eq!(read(signbridge_last_error_handle()), "");
        // Another thread has its own last error.
        let other = std::thread::spawn(|| signbridge_last_error_code()).join().unwrap();
        assert_eq!(other, 0);
    }

    #[test]
    fn nul_inside_a_message_is_replaced_not_truncated() {
        assert_eq!(c_string_lossy("a\0b".into()).to_str().unwrap(), "a\u{FFFD}b");
    }
}
