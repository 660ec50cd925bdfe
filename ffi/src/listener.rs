//! The embeddable listener: signbridge's own HTTP server for webhooks, inside the host's
//! process (`POST /webhooks/{source}/{account}`, `GET /health`), with the download worker.
//! For hosts without a web server of their own; those with one use `signbridge_webhook_ingest`.

use std::ffi::c_char;
use std::time::Duration;

use signbridge::webhooks::{Listener, ListenerConfig};

use crate::error::{Failure, signbridge_result};
use crate::panic::boundary;
use crate::ptr::{Out, arg_json, arg_ref, arg_str};
use crate::runtime::block_on;

/// A running listener. Created by `signbridge_listener_start`, stopped and released by
/// `signbridge_listener_stop`; the host holds the only pointer to it (a Box). Its event
/// functions may be called from any number of threads at once; only `signbridge_listener_stop`
/// must wait until every other call on it has returned.
#[allow(non_camel_case_types, reason = "C naming: the header exposes this type as is")]
pub struct signbridge_listener {
    listener: Listener,
}

/// Starts a listener from its configuration, the JSON of signbridge's `ListenerConfig`:
/// `{"listen": "127.0.0.1:8080", "journal": {"path": ...}, "routes": [{"source": "sintegre",
/// "account": "ons", "settings": {"auth": ["none"], "link_secret": "...",
/// "downloads": {"folder": "..."}}}], "download_poll_ms": 1000,
/// "tls": {"certificate": "cert.pem", "private_key": "key.pem"}}` (`tls` optional; `listen` port 0 picks a free port: see
/// `signbridge_listener_address`). `SIGNBRIDGE_JOURNAL` sets the journal's path. It serves on
/// the library's threads until `signbridge_listener_stop`.
///
/// Fails with `SIGNBRIDGE_RESULT_INVALID_JSON`, `SIGNBRIDGE_RESULT_VALIDATION` (a route's bad
/// settings, or a `listen` that is not an IP address and port, named),
/// `SIGNBRIDGE_RESULT_CONFIG` (the address cannot be bound) or `SIGNBRIDGE_RESULT_JOURNAL`.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_listener` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_listener_start(
    config_json: *const c_char,
    out_listener: *mut *mut signbridge_listener,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let text = unsafe { arg_str(config_json, "config_json") }?;
        let out = unsafe { Out::new(out_listener, "out_listener") }?;
        let mut config: ListenerConfig = arg_json(text, "config_json")?;
        config.apply_env();
        let listener = block_on(Listener::start(config))??;
        out.write(Box::into_raw(Box::new(signbridge_listener { listener })));
        Ok(())
    })
}

/// Writes the address the listener is bound to, `http://HOST:PORT` (`https://` with `tls`), to
/// `*out_address` (free it with `signbridge_string_free`).
///
/// # Safety
/// `listener` is NULL or a live listener; `out_address` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_listener_address(
    listener: *const signbridge_listener,
    out_address: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let listener = unsafe { arg_ref(listener, "listener") }?;
        let out = unsafe { Out::new(out_address, "out_address") }?;
        out.write_string(listener.listener.url());
        Ok(())
    })
}

/// The oldest event of the listener's routes (deliveries and downloads) not yet acknowledged
/// nor handed out, waiting up to `timeout_ms`: as `signbridge_receiver_next_event`.
///
/// # Safety
/// `listener` is NULL or a live listener; `out_event_json` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_listener_next_event(
    listener: *const signbridge_listener,
    timeout_ms: u32,
    out_event_json: *mut *mut c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let listener = unsafe { arg_ref(listener, "listener") }?;
        let out = unsafe { Out::new(out_event_json, "out_event_json") }?;
        let timeout = Duration::from_millis(timeout_ms.into());
        match block_on(listener.listener.receiver().next_event(Some(timeout)))?? {
            Some(event) => out.write_json(&event),
            None => Err(Failure::no_event(timeout_ms)),
        }
    })
}

/// Acknowledges the event `event_id` of the listener's stream: as `signbridge_ack_event`.
///
/// # Safety
/// `listener` is NULL or a live listener; `event_id` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_listener_ack_event(
    listener: *const signbridge_listener,
    event_id: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let listener = unsafe { arg_ref(listener, "listener") }?;
        let id = unsafe { arg_str(event_id, "event_id") }?;
        block_on(listener.listener.receiver().ack_event(id))??;
        Ok(())
    })
}

/// Stops the listener and frees it: no new connection; the deliveries in flight are answered
/// after their commit and the download in progress ends; then it returns. NULL is accepted and
/// ignored.
///
/// # Safety
/// `listener` is NULL or from `signbridge_listener_start`, not stopped before, and no other
/// call on it is running or will start.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_listener_stop(listener: *mut signbridge_listener) {
    crate::panic::boundary_or((), || {
        if !listener.is_null() {
            // SAFETY: the caller passes back the Box from `signbridge_listener_start`, once.
            let listener = unsafe { Box::from_raw(listener) };
            // Without the runtime the listener's tasks cannot run: dropping it stops them.
            let _ = block_on(listener.listener.stop());
        }
    });
}
