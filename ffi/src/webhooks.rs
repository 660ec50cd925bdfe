//! Webhook intake for hosts with their own web server (IIS, Protheus REST, nginx in front):
//! the host hands each request to `signbridge_webhook_ingest` and sends back the reply it
//! gets. Also acknowledging events, on a client's stream and on a receiver's.

use std::ffi::c_char;
use std::time::Duration;

use serde_json::json;
use signbridge::webhooks::{Headers, Receiver, ReceiverConfig};

use crate::client::signbridge_client;
use crate::error::{Failure, signbridge_result};
use crate::panic::boundary;
use crate::ptr::{Out, arg_bytes, arg_json, arg_ref, arg_str};
use crate::runtime::block_on;

/// A webhook receiver: routes (source, account) with their secrets, over a journal.
///
/// Created by `signbridge_receiver_new`, released by `signbridge_receiver_free`; the host
/// holds the only pointer to it (a Box). Any number of threads may call
/// `signbridge_webhook_ingest` and the event functions on it at once; only
/// `signbridge_receiver_free` must wait until every other call on it has returned.
#[allow(non_camel_case_types, reason = "C naming: the header exposes this type as is")]
pub struct signbridge_receiver {
    receiver: Receiver,
}

/// Acknowledges the event `event_id` of the client's stream: the host has taken it, and it is
/// not handed out again (an event not acknowledged is handed out again after a restart).
///
/// Returns `SIGNBRIDGE_RESULT_OK` also when the event was acknowledged before, and
/// `SIGNBRIDGE_RESULT_NOT_FOUND` for an id the journal never had.
///
/// # Safety
/// `client` is NULL or a live client; `event_id` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_ack_event(
    client: *const signbridge_client,
    event_id: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let id = unsafe { arg_str(event_id, "event_id") }?;
        block_on(client.client.ack_event(id))??;
        Ok(())
    })
}

/// Creates a receiver from its configuration, the JSON of signbridge's `ReceiverConfig`:
/// `{"journal": {"path": ...}, "routes": [{"source": "sintegre", "account": "ons",
/// "settings": {"auth": [{"basic": {"user": "...", "password": "..."}}]}}]}` (sources:
/// `sintegre`, `idocs`, `arqsign`, `tae`). `SIGNBRIDGE_JOURNAL` sets the journal's path.
///
/// On success writes the receiver to `*out_receiver`; free it with `signbridge_receiver_free`.
/// Fails with `SIGNBRIDGE_RESULT_INVALID_JSON` (malformed JSON, unknown field),
/// `SIGNBRIDGE_RESULT_VALIDATION` (an unknown source, a route's bad settings, named) or
/// `SIGNBRIDGE_RESULT_JOURNAL`.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_receiver` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_receiver_new(
    config_json: *const c_char,
    out_receiver: *mut *mut signbridge_receiver,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let text = unsafe { arg_str(config_json, "config_json") }?;
        let out = unsafe { Out::new(out_receiver, "out_receiver") }?;
        let mut config: ReceiverConfig = arg_json(text, "config_json")?;
        config.apply_env();
        let receiver = Receiver::new(config)?;
        out.write(Box::into_raw(Box::new(signbridge_receiver { receiver })));
        Ok(())
    })
}

/// Frees a receiver. NULL is accepted and ignored.
///
/// # Safety
/// `receiver` is NULL or from `signbridge_receiver_new`, not freed before, and no other call on
/// it is running or will start.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_receiver_free(receiver: *mut signbridge_receiver) {
    crate::panic::boundary_or((), || {
        if !receiver.is_null() {
            // SAFETY: the caller passes back the Box from `signbridge_receiver_new`, once.
            drop(unsafe { Box::from_raw(receiver) });
        }
    });
}

/// Handles one webhook request to the route (`source`, `account`): `method` as received,
/// `headers_json` the request's headers as a JSON object `{"Name": "value"}` or an array of
/// `["name", "value"]` pairs, and the body as (`body`, `body_len`; NULL with 0 for none).
///
/// Writes the HTTP status to answer to `*out_status` (200 only once the delivery is committed
/// to the journal; 404, 405, 413, 401, 400 or 503 otherwise) and the reply to
/// `*out_reply_json`, `{"headers": [["name", "value"], ...], "body": "..."}` (free it with
/// `signbridge_string_free`): send both back to the sender. Returns `SIGNBRIDGE_RESULT_OK`
/// whenever there is a reply, whatever its status; an error result means the arguments were
/// unusable (and nothing was stored).
///
/// # Safety
/// `receiver` is NULL or a live receiver; `source`, `account`, `method`, `headers_json` NULL or
/// NUL-terminated strings; `body` NULL or `body_len` readable bytes; the outputs NULL or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "one argument per part of the HTTP request")]
pub unsafe extern "C" fn signbridge_webhook_ingest(
    receiver: *const signbridge_receiver,
    source: *const c_char,
    account: *const c_char,
    method: *const c_char,
    headers_json: *const c_char,
    body: *const u8,
    body_len: usize,
    out_status: *mut i32,
    out_reply_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let receiver = unsafe { arg_ref(receiver, "receiver") }?;
        let source = unsafe { arg_str(source, "source") }?;
        let account = unsafe { arg_str(account, "account") }?;
        let method = unsafe { arg_str(method, "method") }?;
        let headers = unsafe { arg_str(headers_json, "headers_json") }?;
        let body = unsafe { arg_bytes(body, body_len, "body") }?;
        let out_status = unsafe { Out::new(out_status, "out_status") }?;
        let out_reply = unsafe { Out::new(out_reply_json, "out_reply_json") }?;
        let headers: serde_json::Value = arg_json(headers, "headers_json")?;
        let headers = Headers::from_json(&headers)?;
        let reply = block_on(receiver.receiver.handle(source, account, method, &headers, body))?;
        let pairs: Vec<[&str; 2]> =
            reply.headers.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
        let text = json!({"headers": pairs, "body": reply.body}).to_string();
        out_status.write(i32::from(reply.status));
        out_reply.write_string(text);
        Ok(())
    })
}

/// The oldest event of the receiver's routes not yet acknowledged nor handed out by this
/// receiver, waiting up to `timeout_ms`: as `signbridge_next_event` for a client.
///
/// # Safety
/// `receiver` is NULL or a live receiver; `out_event_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_receiver_next_event(
    receiver: *const signbridge_receiver,
    timeout_ms: u32,
    out_event_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let receiver = unsafe { arg_ref(receiver, "receiver") }?;
        let out = unsafe { Out::new(out_event_json, "out_event_json") }?;
        let timeout = Duration::from_millis(timeout_ms.into());
        match block_on(receiver.receiver.next_event(Some(timeout)))?? {
            Some(event) => out.write_json(&event),
            None => Err(Failure::no_event(timeout_ms)),
        }
    })
}

/// Acknowledges the event `event_id` of the receiver's stream: as `signbridge_ack_event`.
///
/// # Safety
/// `receiver` is NULL or a live receiver; `event_id` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_receiver_ack_event(
    receiver: *const signbridge_receiver,
    event_id: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let receiver = unsafe { arg_ref(receiver, "receiver") }?;
        let id = unsafe { arg_str(event_id, "event_id") }?;
        block_on(receiver.receiver.ack_event(id))??;
        Ok(())
    })
}
