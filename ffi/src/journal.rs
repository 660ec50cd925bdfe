//! Exactly once from C: sending a new document under a used reference, and settling sends
//! whose outcome is unknown (reconcile, pending, resolve), and the account's rate budget. The
//! JSON is core::host's, as the CLI and Python print it.

use std::ffi::c_char;

use serde_json::Value;

use crate::client::{arg_opt_str, signbridge_client};
use crate::error::signbridge_result;
use crate::panic::boundary;
use crate::ptr::{Out, arg_ref, arg_str};
use crate::runtime::block_on;

/// How many unfinished sends `signbridge_pending` and `signbridge_reconcile(…, NULL, …)` take
/// at most (the oldest first): one answer stays bounded whatever the journal holds.
const PENDING_LIMIT: usize = 1000;

/// Like `signbridge_send`, but makes a new document even when `reference` was already sent
/// (the earlier intent stays in the journal's history). `signbridge_send` with another envelope
/// under a used reference fails with `SIGNBRIDGE_RESULT_VALIDATION` naming `reference`; this
/// is how the host says it means it.
///
/// # Safety
/// As `signbridge_send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_send_new_document(
    client: *const signbridge_client,
    envelope_json: *const c_char,
    out_handle_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(envelope_json, "envelope_json") }?;
        let out = unsafe { Out::new(out_handle_json, "out_handle_json") }?;
        let envelope = signbridge::host::envelope(text)?;
        client.send(&envelope, true, out)
    })
}

/// Finds out what became of the send of `reference` (a lost answer, a crashed process), asking
/// the provider where it can look the document up. On success writes
/// `{"outcome": "sent"|"draft"|"not_sent"|"unknown", "reference", "handle"?, "reason"?}` to
/// `*out_json` (free it with `signbridge_string_free`):
/// - `sent`: the document exists; `handle` is its handle (a later send returns it);
/// - `draft`: created but not sent; send the same envelope again to finish it;
/// - `not_sent`: nothing was created; sending again is safe;
/// - `unknown`: the provider cannot tell (ArqSign has no lookup) or another sender holds the
///   reference; settle it with `signbridge_resolve`.
///
/// `reference` NULL reconciles every unfinished send of the account (at most 1000, oldest
/// first) and writes an array of those objects, where one that failed is
/// `{"reference", "error": {...}}`. A reference the journal never saw is
/// `SIGNBRIDGE_RESULT_NOT_FOUND`.
///
/// # Safety
/// `client` is NULL or a live client; `reference` NULL or a NUL-terminated string; `out_json`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_reconcile(
    client: *const signbridge_client,
    reference: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let reference = unsafe { arg_opt_str(reference, "reference") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let client = &client.client;
        match reference {
            Some(reference) => out.write_json(&block_on(client.reconcile(reference))??),
            None => {
                let results = block_on(client.reconcile_pending(PENDING_LIMIT))??;
                let rows: Vec<Value> = results
                    .iter()
                    .map(|(reference, result)| signbridge::host::reconciled_json(reference, result))
                    .collect();
                out.write_json(&rows)
            }
        }
    })
}

/// The account's sends not known to have ended (pending or unknown), at most 1000, oldest
/// first. On success writes an array of
/// `{"provider", "account", "reference", "state", "ids", "steps", "handle", "reason", "holder",
/// "lease_until", "attempts", "created_at", "updated_at"}` to `*out_json` (free it with
/// `signbridge_string_free`).
///
/// # Safety
/// `client` is NULL or a live client; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_pending(
    client: *const signbridge_client,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let pending = block_on(client.client.pending(PENDING_LIMIT))??;
        let rows: Vec<Value> = pending.iter().map(signbridge::host::intent_json).collect();
        out.write_json(&rows)
    })
}

/// Settles by the host's word a send the provider cannot reconcile. `resolution_json` is
/// `{"sent_as": "<the provider's id of the document>"}` (later sends of the reference return
/// its handle) or `{"not_sent": true}` (the reference may be sent again); anything else is
/// `SIGNBRIDGE_RESULT_VALIDATION` naming `resolution`. On success writes the outcome as
/// `signbridge_reconcile` does to `*out_json`. A reference already sent is
/// `SIGNBRIDGE_RESULT_CONFLICT`; one the journal never saw `SIGNBRIDGE_RESULT_NOT_FOUND`.
///
/// # Safety
/// `client` is NULL or a live client; `reference` and `resolution_json` NULL or
/// NUL-terminated strings; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_resolve(
    client: *const signbridge_client,
    reference: *const c_char,
    resolution_json: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let reference = unsafe { arg_str(reference, "reference") }?;
        let resolution = unsafe { arg_str(resolution_json, "resolution_json") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let resolution = signbridge::host::resolution(resolution)?;
        out.write_json(&block_on(client.client.resolve(reference, resolution))??)
    })
}

/// What is left of the account's rate windows, counted in the journal (shared by every process
/// using the account, kept across restarts). On success writes an array of
/// `{"scope": "calls"|"logins", "period": "second"|"minute"|"hour"|"day"|"month", "limit",
/// "used", "remaining", "frees_at"}` to `*out_json` (free it with `signbridge_string_free`); `[]` when the
/// provider's contract gives no limits.
///
/// # Safety
/// `client` is NULL or a live client; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_budget(
    client: *const signbridge_client,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let usage = block_on(client.client.budget())??;
        out.write_json(&signbridge::host::budget_json(&usage))
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::client::tests::offline_client;
    use crate::client::{signbridge_client_free, signbridge_send};
    use crate::error::*;
    use crate::ptr::signbridge_string_free;

    fn last_message() -> String {
        unsafe { CStr::from_ptr(signbridge_last_error_message()) }.to_str().unwrap().to_owned()
    }

    fn take_json(out: *mut c_char) -> Value {
        assert!(!out.is_null());
        let value = serde_json::from_str(unsafe { CStr::from_ptr(out) }.to_str().unwrap());
        unsafe { signbridge_string_free(out) };
        value.unwrap()
    }

    #[test]
    fn an_empty_journal_has_nothing_pending_and_tae_no_budget() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        assert_eq!(unsafe { signbridge_pending(client, &mut out) }, SIGNBRIDGE_RESULT_OK);
        assert_eq!(take_json(out), serde_json::json!([]));
        assert_eq!(unsafe { signbridge_budget(client, &mut out) }, SIGNBRIDGE_RESULT_OK);
        assert_eq!(take_json(out), serde_json::json!([]), "TAE's contract gives no limits");
        let code = unsafe { signbridge_reconcile(client, std::ptr::null(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_OK);
        assert_eq!(take_json(out), serde_json::json!([]));
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn unknown_references_and_bad_resolutions_write_nothing() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        let code = unsafe { signbridge_reconcile(client, c"R-1".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_NOT_FOUND);
        assert!(last_message().contains("\"R-1\""), "{}", last_message());
        let code = unsafe {
            signbridge_resolve(client, c"R-1".as_ptr(), c"{\"not_sent\": true}".as_ptr(), &mut out)
        };
        assert_eq!(code, SIGNBRIDGE_RESULT_NOT_FOUND);
        let code = unsafe {
            signbridge_resolve(client, c"R-1".as_ptr(), c"{\"sent\": 1}".as_ptr(), &mut out)
        };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(last_message().starts_with("resolution"), "{}", last_message());
        let code = unsafe { signbridge_resolve(client, c"R-1".as_ptr(), c"{}".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(out.is_null(), "no output on failure");
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn a_send_refused_at_login_frees_its_reference_and_new_document_reads_its_envelope_alike() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        // Nobody listens at the offline client's endpoints: the send fails at its login, after
        // its intent recorded the file name it would upload. Nothing was created, so nothing
        // is left pending for the host to resolve.
        let envelope = c"{\"reference\":\"R-2\",\"title\":\"t\",\"parties\":[{\"name\":\"M\",\
            \"email\":\"m@x.example\"}],\"documents\":[{\"name\":\"a.pdf\",\
            \"content_base64\":\"JVBERi0xLjQK\"}]}";
        let code = unsafe { signbridge_send(client, envelope.as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_TRANSPORT, "{}", last_message());
        assert_eq!(unsafe { signbridge_pending(client, &mut out) }, SIGNBRIDGE_RESULT_OK);
        let pending = take_json(out);
        assert_eq!(pending, serde_json::json!([]), "{pending}");
        out = std::ptr::null_mut();
        let code = unsafe { signbridge_reconcile(client, c"R-2".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_OK, "{}", last_message());
        let reconciled = take_json(out);
        assert_eq!(reconciled["outcome"], "not_sent", "{reconciled}");
        out = std::ptr::null_mut();
        let code = unsafe { signbridge_send_new_document(client, c"{".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(last_message().starts_with("envelope: not valid JSON"), "{}", last_message());
        assert!(out.is_null());
        unsafe { signbridge_client_free(client) };
    }
}
