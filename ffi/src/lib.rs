//! The C ABI of signbridge, for C, Delphi and Free Pascal hosts (`include/signbridge.h`,
//! `include/signbridge.pas`).
//!
//! A thin shell over the core crate: arguments are NUL-terminated UTF-8 strings (JSON for
//! structured values), results are JSON strings or byte buffers the library owns until the
//! host frees them, and every fallible function returns a `signbridge_result`. Every export
//! checks its pointers and runs inside a panic boundary. Calls block the caller's thread
//! while one global multi-thread runtime does the work. The host contract is the README's
//! section "C conventions".

mod client;
mod error;
mod journal;
mod listener;
mod panic;
mod ptr;
mod runtime;
mod signer;
#[cfg(unix)]
mod sigpipe;
mod webhooks;

use std::ffi::{CStr, c_char};

pub use client::*;
pub use error::*;
pub use journal::*;
pub use listener::*;
pub use ptr::{signbridge_bytes_free, signbridge_string_free};
pub use signer::*;
pub use webhooks::*;

/// The ABI version this header describes, bumped on every change that breaks hosts built
/// against an older header (a changed signature, a removed function, a changed meaning).
/// Compare it with `signbridge_abi_version()` at start-up.
pub const SIGNBRIDGE_ABI_VERSION: u32 = 1;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version holds a NUL"),
    };

/// The library's version, e.g. "0.1.0". A static string: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The ABI version of the loaded library; equal to `SIGNBRIDGE_ABI_VERSION` of the header the
/// host was built with, or the host must not use it.
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_abi_version() -> u32 {
    SIGNBRIDGE_ABI_VERSION
}

/// Panics inside the boundary, so the misuse suite can check that a panic becomes
/// `SIGNBRIDGE_RESULT_PANIC` and the host lives on. Only in builds with feature `test-panic`.
///
/// cbindgen:ignore
#[cfg(feature = "test-panic")]
#[unsafe(no_mangle)]
pub extern "C" fn signbridge_test_panic() -> signbridge_result {
    panic::boundary(|| panic!("signbridge_test_panic was called"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_the_package_and_the_header() {
        let version = unsafe { CStr::from_ptr(signbridge_version()) }.to_str().unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        let header = include_str!("../../include/signbridge.h");
        for (name, value) in [
            ("SIGNBRIDGE_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
            ("SIGNBRIDGE_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
            ("SIGNBRIDGE_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
            ("SIGNBRIDGE_ABI_VERSION", &signbridge_abi_version().to_string()),
        ] {
            let define = format!("#define {name} {value}\n");
            assert!(
                header.contains(&define),
                "include/signbridge.h lacks {define:?}: regenerate it"
            );
        }
    }
}
