//! The client: one configured provider account, and every operation on it.
//!
//! Each export converts its arguments, runs the core call to completion on the library's
//! runtime while the caller's thread waits, and converts the result. Behaviour belongs to core.

use std::ffi::c_char;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use signbridge::{Client, ClientConfig, Document, DownloadKind, Envelope, Handle};

use crate::error::{Failure, signbridge_result};
use crate::panic::boundary;
use crate::ptr::{Out, arg_bytes, arg_json, arg_ref, arg_str, into_raw_bytes};
use crate::runtime::block_on;

/// One provider account (a configured signbridge client).
///
/// Created by `signbridge_client_new`, released by `signbridge_client_free`; the host holds
/// the only pointer to it (a Box, not reference-counted). A client is safe to share between
/// threads: any number of threads may call any function on the same client at once, and
/// calls share its connections, token, rate limit and events. Only `signbridge_client_free`
/// must wait until every other call on that client has returned.
#[allow(non_camel_case_types, reason = "C naming: the header exposes this type as is")]
pub struct signbridge_client {
    pub(crate) client: Client,
}

/// A handle argument: the handle JSON, or `provider:account:id`.
/// A bare id is one of `client`'s account. Core reads it, as in every shell: a malformed one is
/// a validation error naming `handle`.
fn arg_handle(client: &signbridge_client, text: &str) -> Result<Handle, Failure> {
    let (provider, account) = (client.client.provider_id(), client.client.account());
    Ok(signbridge::host::handle(text, provider, account)?)
}

/// A string argument that may be NULL (None).
///
/// # Safety
/// As for `arg_str`.
pub(crate) unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: as the caller guaranteed.
    unsafe { arg_str(ptr, name) }.map(Some)
}

fn arg_kind(text: &str) -> Result<DownloadKind, Failure> {
    Ok(text.parse::<DownloadKind>()?)
}

impl signbridge_client {
    /// Sends through the journal; `new_document` asks for a new document under a reference
    /// already used.
    pub(crate) fn send(
        &self,
        envelope: &Envelope,
        new_document: bool,
        out: Out<*mut c_char>,
    ) -> Result<(), Failure> {
        let handle = if new_document {
            block_on(self.client.send_new_document(envelope))??
        } else {
            block_on(self.client.send(envelope))??
        };
        out.write_json(&handle)
    }

    /// One row per handle of the JSON array `text` (core's rows, as every shell prints them).
    fn refresh(&self, text: &str, force: bool, out: Out<*mut c_char>) -> Result<(), Failure> {
        let (provider, account) = (self.client.provider_id(), self.client.account());
        let handles = signbridge::host::handles(text, provider, account)?;
        let results = if force {
            block_on(self.client.refresh_forced(&handles))?
        } else {
            block_on(self.client.refresh(&handles))?
        };
        let rows: Vec<Value> = handles
            .iter()
            .zip(&results)
            .map(|(handle, result)| signbridge::host::refresh_row(handle, result))
            .collect();
        out.write_json(&rows)
    }
}

/// Creates a client from its configuration, the JSON of signbridge's `ClientConfig`:
/// `{"provider": "tae", "account": "rm-producao", "settings": {...}, "transport": {...}}`.
///
/// Each environment variable `SIGNBRIDGE_<PROVIDER>_<SETTING>` then sets `settings.<setting>`
/// (e.g. `SIGNBRIDGE_TAE_PASSWORD`), so secrets can stay out of the configuration. Makes no
/// request: a wrong password shows on the first call.
///
/// On success writes the client to `*out_client`; free it with `signbridge_client_free`.
/// Fails with `SIGNBRIDGE_RESULT_INVALID_JSON` (malformed JSON, unknown field) or
/// `SIGNBRIDGE_RESULT_CONFIG` (unknown provider, missing setting).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_client` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_client_new(
    config_json: *const c_char,
    out_client: *mut *mut signbridge_client,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let text = unsafe { arg_str(config_json, "config_json") }?;
        let out = unsafe { Out::new(out_client, "out_client") }?;
        let mut config: ClientConfig = arg_json(text, "config_json")?;
        config.apply_env();
        let client = Client::new(config)?;
        out.write(Box::into_raw(Box::new(signbridge_client { client })));
        Ok(())
    })
}

/// Frees a client. NULL is accepted and ignored.
///
/// # Safety
/// `client` is NULL or from `signbridge_client_new`, not freed before, and no other call on it
/// is running or will start.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_client_free(client: *mut signbridge_client) {
    crate::panic::boundary_or((), || {
        if !client.is_null() {
            // SAFETY: the caller passes back the Box from `signbridge_client_new`, once.
            drop(unsafe { Box::from_raw(client) });
        }
    });
}

/// Validates an envelope, creates it at the provider and sends it to the parties.
///
/// `envelope_json` is the JSON of signbridge's `Envelope`; documents are given by `path` or by
/// `content_base64` (with a `name`). On success writes the handle JSON to `*out_handle_json`
/// (free it with `signbridge_string_free`); store it to refer to the envelope later.
///
/// An envelope that is not JSON, or whose JSON does not fit, and a local check that fails are
/// `SIGNBRIDGE_RESULT_VALIDATION`, naming the field (`parties[0].email`), or `envelope` with
/// the line and column of malformed JSON: the same error as the CLI's and Python's. When the
/// provider's answer to a write is lost the result is `SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN`:
/// `signbridge_last_error_handle` then gives the handle if the document was created.
///
/// # Safety
/// `client` is NULL or a live client; `envelope_json` NULL or a NUL-terminated string;
/// `out_handle_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_send(
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
        client.send(&envelope, false, out)
    })
}

/// Like `signbridge_send`, adding one document whose content is in memory: `len` bytes at
/// `bytes`, shown to the parties as `name` (with its extension, e.g. "contrato.pdf"). It comes
/// after the envelope's own `documents`, which may be `[]`. The bytes are copied; the host
/// keeps ownership of its buffer.
///
/// # Safety
/// As `signbridge_send`; `bytes` is NULL (only when `len` is 0) or `len` readable bytes;
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_send_with_document(
    client: *const signbridge_client,
    envelope_json: *const c_char,
    bytes: *const u8,
    len: usize,
    name: *const c_char,
    out_handle_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(envelope_json, "envelope_json") }?;
        let bytes = unsafe { arg_bytes(bytes, len, "bytes") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let out = unsafe { Out::new(out_handle_json, "out_handle_json") }?;
        let mut envelope = signbridge::host::envelope(text)?;
        envelope.documents.push(Document::from_bytes(name, bytes.to_vec()));
        client.send(&envelope, false, out)
    })
}

/// The status of one envelope. `handle` is the handle JSON, `provider:account:id`, or a bare
/// id of the client's account (`12978325`); one that does not parse is
/// `SIGNBRIDGE_RESULT_VALIDATION`. On success writes the status JSON (`{"state": "partially_signed", "parties": [...], ...}`) to
/// `*out_status_json`; free it with `signbridge_string_free`.
///
/// # Safety
/// `client` is NULL or a live client; `handle` NULL or a NUL-terminated string;
/// `out_status_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_status(
    client: *const signbridge_client,
    handle: *const c_char,
    out_status_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let handle = unsafe { arg_str(handle, "handle") }?;
        let out = unsafe { Out::new(out_status_json, "out_status_json") }?;
        let handle = arg_handle(client, handle)?;
        let status = block_on(client.client.status(&handle))??;
        out.write_json(&status)
    })
}

/// The status of many envelopes at once. `handles_json` is a JSON array whose items are handle
/// objects or handle strings (as for `signbridge_status`, bare ids included).
///
/// On success writes to `*out_json` (free it with `signbridge_string_free`) one entry per
/// handle, in input order: `{"handle": {...}, "status": {...}}`, or `{"handle": {...},
/// "error": {"code", "kind", "message", "http_status", "provider_message", "retry_after_ms",
/// "field", "handle"}}`. One failing handle never fails the call; a malformed array or item
/// does, before any request (`SIGNBRIDGE_RESULT_VALIDATION`, naming `handles` or the item,
/// `handles[2]`).
///
/// Providers that ask to be polled sparingly (ArqSign) answer from a recent reading: see
/// `signbridge_refresh_forced`.
///
/// # Safety
/// `client` is NULL or a live client; `handles_json` NULL or a NUL-terminated string;
/// `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_refresh(
    client: *const signbridge_client,
    handles_json: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(handles_json, "handles_json") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        client.refresh(text, false, out)
    })
}

/// Like `signbridge_refresh`, but asks the provider about every handle now, even one it was
/// asked about recently (ArqSign otherwise answers from a reading younger than its
/// `min_poll_interval_secs`). Use it when the host must be sure, sparingly.
///
/// # Safety
/// As `signbridge_refresh`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_refresh_forced(
    client: *const signbridge_client,
    handles_json: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(handles_json, "handles_json") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        client.refresh(text, true, out)
    })
}

/// Downloads the file of `kind` ("original", "signed", "digitally_signed", "evidence" or
/// "archive"; each provider has some of them) to `path`. The file appears only when complete:
/// the bytes go to a temporary file beside it, renamed on success and removed on failure.
///
/// # Safety
/// `client` is NULL or a live client; `handle`, `kind` and `path` NULL or NUL-terminated
/// strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_download_to_file(
    client: *const signbridge_client,
    handle: *const c_char,
    kind: *const c_char,
    path: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let handle = unsafe { arg_str(handle, "handle") }?;
        let kind = unsafe { arg_str(kind, "kind") }?;
        let path = unsafe { arg_str(path, "path") }?;
        let (handle, kind) = (arg_handle(client, handle)?, arg_kind(kind)?);
        block_on(client.client.download_to_file(&handle, kind, Path::new(path)))??;
        Ok(())
    })
}

/// Downloads the file of `kind` (as in `signbridge_download_to_file`) into memory. On success
/// writes a buffer to `*out_bytes` and its length to `*out_len`; free it with
/// `signbridge_bytes_free(bytes, len)`. An empty file is (NULL, 0).
///
/// # Safety
/// `client` is NULL or a live client; `handle` and `kind` NULL or NUL-terminated strings;
/// `out_bytes` and `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_download(
    client: *const signbridge_client,
    handle: *const c_char,
    kind: *const c_char,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let handle = unsafe { arg_str(handle, "handle") }?;
        let kind = unsafe { arg_str(kind, "kind") }?;
        let out_bytes = unsafe { Out::new(out_bytes, "out_bytes") }?;
        let out_len = unsafe { Out::new(out_len, "out_len") }?;
        let (handle, kind) = (arg_handle(client, handle)?, arg_kind(kind)?);
        let (bytes, _info) = block_on(client.client.download_bytes(&handle, kind))??;
        let (ptr, len) = into_raw_bytes(bytes);
        out_bytes.write(ptr);
        out_len.write(len);
        Ok(())
    })
}

/// Cancels an envelope the parties have not finished.
///
/// # Safety
/// `client` is NULL or a live client; `handle` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_cancel(
    client: *const signbridge_client,
    handle: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let handle = unsafe { arg_str(handle, "handle") }?;
        let handle = arg_handle(client, handle)?;
        block_on(client.client.cancel(&handle))??;
        Ok(())
    })
}

/// Takes the oldest event of the account not yet taken: changes that `signbridge_status` and
/// `signbridge_refresh` saw (a party signed, the state moved) and webhook deliveries a receiver
/// on the same journal kept for the account. Waits up to `timeout_ms`
/// milliseconds for one (0: do not wait).
///
/// On success writes the event JSON (`{"id", "handle", "kind", "at", "raw"}`; `id` is stable,
/// so duplicates can be dropped) to `*out_event_json`; free it with `signbridge_string_free`.
/// When none came in time returns `SIGNBRIDGE_RESULT_NO_EVENT` and writes nothing. An event
/// stays pending until `signbridge_ack_event`: it is not handed out again by this client, but
/// a new client on the same journal (after a restart) hands it out again.
///
/// # Safety
/// `client` is NULL or a live client; `out_event_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_next_event(
    client: *const signbridge_client,
    timeout_ms: u32,
    out_event_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let out = unsafe { Out::new(out_event_json, "out_event_json") }?;
        let timeout = Duration::from_millis(timeout_ms.into());
        match block_on(client.client.next_event(Some(timeout)))?? {
            Some(event) => out.write_json(&event),
            None => Err(Failure::no_event(timeout_ms)),
        }
    })
}

/// Checks an envelope as `signbridge_send` does before its first request, and sends nothing:
/// the provider's rules (documents, parties, lengths), `provider_options`, whether it can sign
/// sequentially, and whether a host signer is set where the provider needs one.
///
/// Returns `SIGNBRIDGE_RESULT_OK` for an envelope `signbridge_send` would send; otherwise
/// `SIGNBRIDGE_RESULT_VALIDATION` naming the field (malformed JSON as in `signbridge_send`),
/// `SIGNBRIDGE_RESULT_UNSUPPORTED` (e.g. sequential signing the provider lacks) or
/// `SIGNBRIDGE_RESULT_SIGNING` (no host signer). Documents given by `path` are read.
///
/// # Safety
/// `client` is NULL or a live client; `envelope_json` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_validate(
    client: *const signbridge_client,
    envelope_json: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(envelope_json, "envelope_json") }?;
        let envelope = signbridge::host::envelope(text)?;
        Ok(client.client.validate(&envelope)?)
    })
}

/// The capability record of the client's provider: what it can do, which every call checks
/// before any request. On success writes its JSON to `*out_json` (free it with
/// `signbridge_string_free`): `{"provider": "tae", "send": {"host_signature", "sequential",
/// "envelope": {"max_documents", "max_document_bytes", "document_extensions",
/// "party_email_required", "max_title_chars"}}, "status": {"batch"}, "download": {"kinds"},
/// "cancel", "changes", "webhooks", "calls"}` (null where there is no limit). The same JSON as
/// `signbridge_capabilities`, the CLI's `signbridge capabilities` and Python's.
///
/// # Safety
/// `client` is NULL or a live client; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_capability(
    client: *const signbridge_client,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let client = &client.client;
        out.write_json(&client.capability().to_json(client.provider_id()))
    })
}

/// The capability record of a provider, without a client: `provider` is its id (`"arqsign"`),
/// or NULL for a JSON array of every provider's record. The record is as in
/// `signbridge_capability`; free the string with `signbridge_string_free`. An unknown id is
/// `SIGNBRIDGE_RESULT_VALIDATION`, listing the known ones.
///
/// # Safety
/// `provider` is NULL or a NUL-terminated string; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_capabilities(
    provider: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let provider = unsafe { arg_opt_str(provider, "provider") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        out.write_json(&signbridge::host::capabilities(provider)?)
    })
}

/// A provider-specific operation, for what the neutral model has no word for: `name` is one of
/// the capability record's `calls` (ArqSign: `users`, `folders`, `resend`, `signer_data`; iDocs:
/// `inbox`, `bulk`), `args_json` its arguments as JSON, or NULL for none (each provider's
/// documentation lists them). On success writes the result JSON to `*out_json`; free it with
/// `signbridge_string_free`.
///
/// A name the provider does not declare is `SIGNBRIDGE_RESULT_UNSUPPORTED` and arguments that
/// are not JSON `SIGNBRIDGE_RESULT_VALIDATION` (naming `args`), both before any request.
///
/// # Safety
/// `client` is NULL or a live client; `name` NULL or a NUL-terminated string; `args_json` NULL
/// or a NUL-terminated string; `out_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_call(
    client: *const signbridge_client,
    name: *const c_char,
    args_json: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let args = unsafe { arg_opt_str(args_json, "args_json") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let args = match args {
            Some(text) => signbridge::host::from_json::<Value>("args", text)?,
            None => Value::Null,
        };
        let result = block_on(client.client.call(name, args))??;
        out.write_json(&result)
    })
}

/// The events the provider lists since `cursor` (NULL: from the provider's beginning), for
/// providers with a change list (capability `changes`; the others fail with
/// `SIGNBRIDGE_RESULT_UNSUPPORTED` before any request). On success writes
/// `{"events": [{"id", "handle", "kind", "at", "raw"}, ...], "cursor": "..."}` to `*out_json`
/// (free it with `signbridge_string_free`); pass that `cursor` next time (null when the
/// provider gave none).
///
/// # Safety
/// `client` is NULL or a live client; `cursor` NULL or a NUL-terminated string; `out_json`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_changes(
    client: *const signbridge_client,
    cursor: *const c_char,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let cursor = unsafe { arg_opt_str(cursor, "cursor") }?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let (events, cursor) = block_on(client.client.changes(cursor))??;
        out.write_json(&json!({"events": events, "cursor": cursor}))
    })
}

/// The account's events from `since` — a stream position (`"0"` is the beginning; events after
/// it) or an RFC 3339 time (events committed at or after it) — acknowledged or not, oldest
/// first, at most `limit` (capped at 1 000). Nothing is acknowledged or handed out by it. On
/// success writes `[{"position", "committed_at", "acked_at", "event": {"id", "handle", "kind",
/// "at", "raw"}}, ...]` to `*out_json` (free it with `signbridge_string_free`); pass the last
/// `position` as the next `since`. Acknowledged events older than the retention may have been
/// pruned (`signbridge_prune_events`). A `since` that is neither is
/// `SIGNBRIDGE_RESULT_VALIDATION` naming `since`.
///
/// # Safety
/// `client` is NULL or a live client; `since` NULL or a NUL-terminated string; `out_json`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_replay_events(
    client: *const signbridge_client,
    since: *const c_char,
    limit: u32,
    out_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let since = signbridge::host::since(unsafe { arg_str(since, "since") }?)?;
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let events = block_on(client.client.replay_events(since, limit))??;
        out.write_json(&signbridge::host::replayed_json(&events))
    })
}

/// Deletes the acknowledged events committed more than `retention_hours` hours ago from the
/// client's journal (every account in it; pending events are kept whatever their age) and
/// writes how many to `*out_count`. `signbridge serve` does this hourly by itself
/// (`event_retention_hours`, default 720).
///
/// # Safety
/// `client` is NULL or a live client; `out_count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_prune_events(
    client: *const signbridge_client,
    retention_hours: u32,
    out_count: *mut u64,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let out = unsafe { Out::new(out_count, "out_count") }?;
        let retention = Duration::from_secs(u64::from(retention_hours) * 3600);
        let pruned = block_on(client.client.prune_events(retention))??;
        out.write(pruned);
        Ok(())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::error::*;
    use crate::ptr::signbridge_string_free;

    /// A TAE client whose endpoints nobody listens on: fine for everything that fails or
    /// succeeds before the first request.
    pub(crate) fn offline_client() -> *mut signbridge_client {
        let config = c"{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"http://127.0.0.1:9/a\",\
            \"api_base\":\"http://127.0.0.1:9\",\"username\":\"u\",\"password\":\"p\"}}";
        let mut client = std::ptr::null_mut();
        assert_eq!(
            unsafe { signbridge_client_new(config.as_ptr(), &mut client) },
            SIGNBRIDGE_RESULT_OK
        );
        client
    }

    fn last_message() -> String {
        unsafe { CStr::from_ptr(signbridge_last_error_message()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn config_errors_are_json_or_config_codes() {
        let mut client = std::ptr::null_mut();
        let code = unsafe { signbridge_client_new(c"{\"provider\":".as_ptr(), &mut client) };
        assert_eq!(code, SIGNBRIDGE_RESULT_INVALID_JSON);
        assert!(last_message().starts_with("config_json: EOF"), "{}", last_message());
        let code = unsafe { signbridge_client_new(c"{\"provider\":7}".as_ptr(), &mut client) };
        assert_eq!(code, SIGNBRIDGE_RESULT_INVALID_JSON);
        assert!(last_message().contains("invalid type: integer `7`"), "{}", last_message());
        let code =
            unsafe { signbridge_client_new(c"{\"provider\":\"nope\"}".as_ptr(), &mut client) };
        assert_eq!(code, SIGNBRIDGE_RESULT_CONFIG);
        assert!(client.is_null(), "no output on failure");
    }

    /// The JSON a successful call wrote, freed.
    fn take_json(out: *mut c_char) -> Value {
        assert!(!out.is_null());
        let value = serde_json::from_str(unsafe { CStr::from_ptr(out) }.to_str().unwrap());
        unsafe { signbridge_string_free(out) };
        value.unwrap()
    }

    #[test]
    fn handles_are_json_compact_or_bare_ids_of_the_account() {
        let client = offline_client();
        let c = unsafe { &*client };
        let compact = arg_handle(c, "tae:default:42").unwrap();
        assert_eq!(compact.id, "42");
        let json = arg_handle(c, r#" {"provider":"tae","account":"default","id":"42"}"#);
        assert_eq!(json.unwrap(), compact);
        assert_eq!(arg_handle(c, "42").unwrap(), compact);
        let err = arg_handle(c, "{\"provider\":").unwrap_err();
        assert_eq!(err.code(), SIGNBRIDGE_RESULT_VALIDATION);
        assert_eq!(arg_handle(c, "tae::42").unwrap_err().code(), SIGNBRIDGE_RESULT_VALIDATION);
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn refresh_rejects_items_that_are_not_handles_before_any_request() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        let handles = c"[\"tae:default:1\", 7]";
        for forced in [false, true] {
            let refresh = if forced { signbridge_refresh_forced } else { signbridge_refresh };
            let code = unsafe { refresh(client, handles.as_ptr(), &mut out) };
            assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
            assert!(
                last_message().starts_with("handles[1]: expected a handle"),
                "{}",
                last_message()
            );
            assert!(out.is_null());
        }
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn a_bad_envelope_is_a_validation_error_naming_the_field_or_the_position() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        let cases = [
            (c"{\"reference\":\n\"r\",,}", "envelope: not valid JSON at line 2 column 5"),
            (
                c"{\"reference\":\"r\",\"title\":\"t\",\"parties\":[{\"email\":7}]}",
                "parties[0].email",
            ),
            (c"{\"reference\":\"r\",\"title\":\"t\",\"parties\":[]}", "documents"),
        ];
        for (envelope, message) in cases {
            let code = unsafe { signbridge_validate(client, envelope.as_ptr()) };
            assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
            assert!(last_message().starts_with(message), "{}", last_message());
            let code = unsafe { signbridge_send(client, envelope.as_ptr(), &mut out) };
            assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
            assert!(last_message().starts_with(message), "{}", last_message());
            assert!(out.is_null());
        }
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn capabilities_of_the_client_of_one_provider_or_of_all() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        assert_eq!(unsafe { signbridge_capability(client, &mut out) }, SIGNBRIDGE_RESULT_OK);
        let own = take_json(out);
        let code = unsafe { signbridge_capabilities(c"tae".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_OK);
        assert_eq!(take_json(out), own);
        assert_eq!(own, signbridge::host::capabilities(Some("tae")).unwrap());
        let code = unsafe { signbridge_capabilities(std::ptr::null(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_OK);
        assert_eq!(take_json(out), signbridge::host::capabilities(None).unwrap());

        out = std::ptr::null_mut();
        let code = unsafe { signbridge_capabilities(c"sbiss".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(last_message().contains("unknown provider \"sbiss\""), "{}", last_message());
        assert!(out.is_null());
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn calls_and_changes_the_provider_lacks_fail_before_any_request() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        let code =
            unsafe { signbridge_call(client, c"users".as_ptr(), std::ptr::null(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_UNSUPPORTED);
        assert_eq!(last_message(), "tae does not support users [provider=tae]");
        let code = unsafe { signbridge_call(client, c"users".as_ptr(), c"{".as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(last_message().starts_with("args: not valid JSON at line 1"), "{}", last_message());
        let code = unsafe { signbridge_changes(client, std::ptr::null(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_UNSUPPORTED);
        assert!(out.is_null());
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn refresh_reports_each_handle_on_its_own() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        // Handles of another account fail in core's check, before any request.
        let handles =
            c"[\"tae:other:1\", {\"provider\":\"idocs\",\"account\":\"default\",\"id\":\"2\"}]";
        let code = unsafe { signbridge_refresh(client, handles.as_ptr(), &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_OK);
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap();
        let rows: Vec<Value> = serde_json::from_str(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["handle"]["account"], "other");
        assert_eq!(rows[0]["error"]["code"], SIGNBRIDGE_RESULT_VALIDATION);
        assert_eq!(rows[1]["error"]["kind"], "validation");
        unsafe { signbridge_string_free(out) };
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn no_event_is_its_own_code_and_writes_nothing() {
        let client = offline_client();
        let mut out = std::ptr::null_mut();
        let code = unsafe { signbridge_next_event(client, 10, &mut out) };
        assert_eq!(code, SIGNBRIDGE_RESULT_NO_EVENT);
        assert_eq!(last_message(), "no event within 10 ms");
        assert!(out.is_null());
        unsafe { signbridge_client_free(client) };
    }

    #[test]
    fn download_kind_is_checked_before_any_request() {
        let client = offline_client();
        let code = unsafe {
            signbridge_download_to_file(
                client,
                c"tae:default:1".as_ptr(),
                c"pdf".as_ptr(),
                c"x".as_ptr(),
            )
        };
        assert_eq!(code, SIGNBRIDGE_RESULT_VALIDATION);
        assert!(last_message().starts_with("kind: unknown download kind \"pdf\""));
        unsafe { signbridge_client_free(client) };
    }
}
