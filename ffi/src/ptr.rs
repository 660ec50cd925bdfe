//! Arguments in, results out: NULL checks, UTF-8 and JSON decoding, and the memory the library
//! hands to hosts (strings and byte buffers) with the functions that take it back.
//!
//! Exports check every argument before doing any work, and write their outputs only once the
//! work succeeded, so a failed call leaves the host's variables as they were.

use std::ffi::{CStr, CString, c_char};

use serde::de::DeserializeOwned;

use crate::error::{Failure, c_string_lossy};
use crate::panic::boundary_or;

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays alive and unchanged for `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, and the caller guarantees the rest.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| Failure::utf8(name, e))
}

/// Borrows an object the library handed out (a client, a sign reply).
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that is not mutated for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a NULL or valid pointer.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Mutably borrows an object the library handed out.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else accesses for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller guarantees a NULL or valid, exclusive pointer.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Borrows `len` bytes; NULL is accepted for an empty buffer.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    match (ptr.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(Failure::null(name)),
        // SAFETY: not NULL, and the caller guarantees `len` readable bytes.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(ptr, len) }),
    }
}

/// Decodes a JSON argument into `T`; a syntax or shape error names the argument.
pub(crate) fn arg_json<T: DeserializeOwned>(text: &str, name: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| Failure::json(name, e))
}

/// An out-parameter, checked for NULL up front and written only on success.
///
/// It holds the raw pointer rather than a `&mut T`: the host's variable may be uninitialised,
/// and a reference to uninitialised memory is not allowed even if never read.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// # Safety
    /// `ptr` is NULL or valid for a write of `T` (aligned) until the export returns.
    pub unsafe fn new(ptr: *mut T, name: &str) -> Result<Out<T>, Failure> {
        if ptr.is_null() { Err(Failure::null(name)) } else { Ok(Out(ptr)) }
    }

    pub fn write(self, value: T) {
        // SAFETY: checked non-NULL in `new`, whose caller guaranteed it writable.
        unsafe { self.0.write(value) }
    }
}

impl Out<*mut c_char> {
    /// Hands `text` to the host as a string it frees with `signbridge_string_free`.
    pub fn write_string(self, text: String) {
        self.write(c_string_lossy(text).into_raw());
    }

    /// Hands `value` to the host as JSON text.
    pub fn write_json(self, value: &impl serde::Serialize) -> Result<(), Failure> {
        let text = serde_json::to_string(value)
            .map_err(|e| Failure::internal(format!("encoding the result as JSON: {e}")))?;
        self.write_string(text);
        Ok(())
    }
}

/// Hands `bytes` to the host as (pointer, length), freed with `signbridge_bytes_free`. An
/// empty buffer is (NULL, 0).
pub(crate) fn into_raw_bytes(bytes: Vec<u8>) -> (*mut u8, usize) {
    if bytes.is_empty() {
        return (std::ptr::null_mut(), 0);
    }
    let len = bytes.len();
    (Box::into_raw(bytes.into_boxed_slice()).cast::<u8>(), len)
}

/// Frees a string the library returned through an out-parameter (handle, status, event and
/// refresh JSON). NULL is accepted and ignored.
///
/// Never pass it the strings of `signbridge_version` or `signbridge_last_error_*`: those are
/// owned by the library.
///
/// # Safety
/// `text` is NULL or a string from a signbridge out-parameter, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_string_free(text: *mut c_char) {
    boundary_or((), || {
        if !text.is_null() {
            // SAFETY: the caller passes back a pointer from `CString::into_raw`, once.
            drop(unsafe { CString::from_raw(text) });
        }
    });
}

/// Frees a buffer returned by `signbridge_download`, with the length returned beside it.
/// NULL is accepted and ignored.
///
/// # Safety
/// `bytes` is NULL or a buffer from `signbridge_download`, not freed before, and `len` is the
/// length returned with it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_bytes_free(bytes: *mut u8, len: usize) {
    boundary_or((), || {
        if !bytes.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(bytes, len);
            // SAFETY: the caller passes back the pointer and length of `into_raw_bytes`, once.
            drop(unsafe { Box::from_raw(slice) });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        SIGNBRIDGE_RESULT_INVALID_JSON, SIGNBRIDGE_RESULT_INVALID_UTF8,
        SIGNBRIDGE_RESULT_NULL_ARGUMENT,
    };

    #[test]
    fn strings_are_checked_for_null_and_utf8() {
        let err = unsafe { arg_str(std::ptr::null(), "handle") }.unwrap_err();
        assert_eq!(err.code(), SIGNBRIDGE_RESULT_NULL_ARGUMENT);
        let latin1 = c"Jo\xe3o";
        let err = unsafe { arg_str(latin1.as_ptr(), "name") }.unwrap_err();
        assert_eq!(err.code(), SIGNBRIDGE_RESULT_INVALID_UTF8);
        assert_eq!(unsafe { arg_str(c"João".as_ptr(), "name") }.unwrap(), "João");
    }

    #[test]
    fn bytes_accept_null_only_when_empty() {
        assert!(unsafe { arg_bytes(std::ptr::null(), 0, "bytes") }.unwrap().is_empty());
        let err = unsafe { arg_bytes(std::ptr::null(), 3, "bytes") }.unwrap_err();
        assert_eq!(err.code(), SIGNBRIDGE_RESULT_NULL_ARGUMENT);
    }

    #[test]
    fn json_errors_name_the_argument() {
        let err = arg_json::<Vec<u32>>("[1,", "handles_json").unwrap_err();
        assert_eq!(err.code(), SIGNBRIDGE_RESULT_INVALID_JSON);
        assert!(format!("{err:?}").contains("handles_json: EOF"), "{err:?}");
    }

    #[test]
    fn handed_out_memory_round_trips() {
        let mut text: *mut c_char = std::ptr::null_mut();
        unsafe { Out::new(&mut text, "out") }.unwrap().write_string("ação".into());
        assert_eq!(unsafe { CStr::from_ptr(text) }.to_str().unwrap(), "ação");
        unsafe { signbridge_string_free(text) };
        let (ptr, len) = into_raw_bytes(b"%PDF".to_vec());
        assert_eq!(unsafe { std::slice::from_raw_parts(ptr, len) }, b"%PDF");
        unsafe { signbridge_bytes_free(ptr, len) };
        assert_eq!(into_raw_bytes(Vec::new()), (std::ptr::null_mut(), 0));
        unsafe { signbridge_string_free(std::ptr::null_mut()) };
        unsafe { signbridge_bytes_free(std::ptr::null_mut(), 0) };
    }
}
