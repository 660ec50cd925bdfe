//! The host signer: a C callback registered as core's [`HostSigner`].
//!
//! Ownership rule: the host never allocates memory for the library. The callback receives a
//! reply object owned by the library and hands its answer over with
//! `signbridge_sign_reply_set_cms` or `signbridge_sign_reply_set_error`, which copy what they
//! are given; the host frees its own buffers whenever it likes.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use signbridge::{
    CmsForm, HostSigner, SignRequest, software_signer_from_pem, software_signer_from_pkcs12,
};

use crate::client::signbridge_client;
use crate::error::{SIGNBRIDGE_RESULT_OK, signbridge_result};
use crate::panic::boundary;
use crate::ptr::{arg_bytes, arg_mut, arg_ref, arg_str};

/// The CMS must embed the signed bytes (`eContent` present).
pub const SIGNBRIDGE_CMS_ATTACHED: i32 = 1;
/// The CMS holds only the signature.
pub const SIGNBRIDGE_CMS_DETACHED: i32 = 2;

/// Where the host signer puts its answer: a DER CMS or an error message. Owned by the
/// library, valid only during the callback it was passed to.
#[allow(non_camel_case_types, reason = "C naming: the header exposes this type as is")]
pub struct signbridge_sign_reply {
    cms: Vec<u8>,
    error: Option<String>,
}

/// The host's signing function, for providers whose flow needs a signature made with a key
/// only the host holds (a certificate in a smart card or the OS store).
///
/// Called with the `userdata` given at registration; `len` bytes at `data` to sign;
/// `form`, `SIGNBRIDGE_CMS_ATTACHED` or `SIGNBRIDGE_CMS_DETACHED`; `document_id`, the
/// provider's id of the document being signed (UTF-8), or NULL when there is none; and
/// `reply`. `data`, `document_id` and `reply` are owned by the library and valid only until
/// the callback returns.
///
/// On success: sign, call `signbridge_sign_reply_set_cms(reply, der, der_len)` with a
/// DER-encoded CMS `ContentInfo`, and return `SIGNBRIDGE_RESULT_OK` (0). On failure: call
/// `signbridge_sign_reply_set_error(reply, message)` and return any other value; the call that
/// needed the signature then fails with `SIGNBRIDGE_RESULT_SIGNING`, whose provider message is
/// yours.
///
/// It runs on a thread of the library's blocking pool, never on the thread that called
/// signbridge, which waits meanwhile: do not hand the work to that thread (a Delphi
/// `TThread.Synchronize` to the main thread that called `signbridge_send` deadlocks). It may
/// run on several threads at once when several calls need signatures. It may take long (a PIN
/// prompt). It must not unwind: catch every exception (Delphi, Free Pascal, C++) inside it.
#[allow(non_camel_case_types, reason = "C naming: the header exposes this typedef as is")]
pub type signbridge_sign_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        data: *const u8,
        len: usize,
        form: i32,
        document_id: *const c_char,
        reply: *mut signbridge_sign_reply,
    ) -> signbridge_result,
>;

/// A registered callback with its userdata, as core's signer.
struct CallbackSigner {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        usize,
        i32,
        *const c_char,
        *mut signbridge_sign_reply,
    ) -> signbridge_result,
    userdata: *mut c_void,
}

// SAFETY: registering the callback, the host promises it and `userdata` may be used from any
// thread, also at once (see `signbridge_set_host_signer`); the library never touches `userdata`.
unsafe impl Send for CallbackSigner {}
// SAFETY: as for Send.
unsafe impl Sync for CallbackSigner {}

impl HostSigner for CallbackSigner {
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String> {
        let document_id = match request.document_id.as_deref().map(CString::new).transpose() {
            Ok(id) => id,
            Err(_) => return Err("the document id holds a NUL byte".into()),
        };
        let form = match request.form {
            CmsForm::Attached => SIGNBRIDGE_CMS_ATTACHED,
            CmsForm::Detached => SIGNBRIDGE_CMS_DETACHED,
        };
        let mut reply = signbridge_sign_reply { cms: Vec::new(), error: None };
        // SAFETY: the host registered a function with this signature; every pointer passed
        // lives until it returns.
        let code = unsafe {
            (self.callback)(
                self.userdata,
                request.data.as_ptr(),
                request.data.len(),
                form,
                document_id.as_deref().map_or(std::ptr::null(), |id| id.as_ptr()),
                &mut reply,
            )
        };
        match (code, reply.error) {
            (SIGNBRIDGE_RESULT_OK, _) => Ok(reply.cms),
            (_, Some(message)) => Err(message),
            (code, None) => Err(format!("the host signer returned {code} without a message")),
        }
    }
}

/// Registers `callback` as the client's host signer, replacing any previous one; NULL removes
/// it. See `signbridge_sign_callback` for when and where it is called. Providers that need a
/// host signature fail with `SIGNBRIDGE_RESULT_SIGNING` while none is set.
///
/// `userdata` is passed to every call as is; the library never reads or frees it. Keep it
/// (and the code of `callback`) alive until the signer is replaced or removed and every call
/// on the client has returned, or until the client is freed.
///
/// # Safety
/// `client` is NULL or a live client. `callback`, if not NULL, has the documented signature,
/// and it and `userdata` may be used from any thread, also at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_set_host_signer(
    client: *const signbridge_client,
    callback: signbridge_sign_callback,
    userdata: *mut c_void,
) -> signbridge_result {
    boundary(|| {
        // SAFETY: a NULL or live client, as the caller guaranteed.
        let client = unsafe { arg_ref(client, "client") }?;
        let signer = callback
            .map(|callback| Arc::new(CallbackSigner { callback, userdata }) as Arc<dyn HostSigner>);
        client.client.set_host_signer(signer);
        Ok(())
    })
}

/// Makes the reference software signer the client's host signer, replacing any previous one:
/// signatures are made inside the library with a key from PEM text, for hosts without a
/// crypto provider of their own. `certificate_pem` holds the signer's certificate first, then
/// optionally its chain; `private_key_pem` one unencrypted PKCS#8, PKCS#1 or SEC1 key. One
/// text holding both may be passed twice. Both are copied: the host may wipe its buffers on
/// return. A key that cannot be loaded (or does not match the certificate) fails with
/// `SIGNBRIDGE_RESULT_SIGNING`, its reason in the provider message, and leaves the previous
/// signer in place.
///
/// # Safety
/// `client` is NULL or a live client; `certificate_pem` and `private_key_pem` NULL or
/// NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_set_software_signer_pem(
    client: *const signbridge_client,
    certificate_pem: *const c_char,
    private_key_pem: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let certificate_pem = unsafe { arg_str(certificate_pem, "certificate_pem") }?;
        let private_key_pem = unsafe { arg_str(private_key_pem, "private_key_pem") }?;
        let signer =
            software_signer_from_pem(certificate_pem.as_bytes(), private_key_pem.as_bytes())?;
        client.client.set_host_signer(Some(Arc::new(signer)));
        Ok(())
    })
}

/// As `signbridge_set_software_signer_pem`, the key and certificates coming from the `len`
/// bytes of a PKCS#12 (`.p12` / `.pfx`) file at `pkcs12`, protected by `password` (UTF-8;
/// "" for none). A wrong password fails with `SIGNBRIDGE_RESULT_SIGNING`.
///
/// # Safety
/// `client` is NULL or a live client; `pkcs12` NULL (only when `len` is 0) or `len` readable
/// bytes; `password` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_set_software_signer_pkcs12(
    client: *const signbridge_client,
    pkcs12: *const u8,
    len: usize,
    password: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let client = unsafe { arg_ref(client, "client") }?;
        let pkcs12 = unsafe { arg_bytes(pkcs12, len, "pkcs12") }?;
        let password = unsafe { arg_str(password, "password") }?;
        let signer = software_signer_from_pkcs12(pkcs12, password)?;
        client.client.set_host_signer(Some(Arc::new(signer)));
        Ok(())
    })
}

/// Hands the signature to the library from inside the host signer: `len` bytes of DER CMS at
/// `cms`, copied (the host keeps ownership of its buffer). Calling it again replaces them.
///
/// # Safety
/// `reply` is NULL or the reply passed to the running callback; `cms` is NULL (only when `len`
/// is 0) or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_sign_reply_set_cms(
    reply: *mut signbridge_sign_reply,
    cms: *const u8,
    len: usize,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let reply = unsafe { arg_mut(reply, "reply") }?;
        let cms = unsafe { arg_bytes(cms, len, "cms") }?;
        reply.cms = cms.to_vec();
        Ok(())
    })
}

/// Tells the library why the host signer failed: `message` (UTF-8), copied. Return a non-zero
/// value from the callback as well.
///
/// # Safety
/// `reply` is NULL or the reply passed to the running callback; `message` NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signbridge_sign_reply_set_error(
    reply: *mut signbridge_sign_reply,
    message: *const c_char,
) -> signbridge_result {
    boundary(|| {
        // SAFETY (these calls): pointers as the caller guaranteed above.
        let reply = unsafe { arg_mut(reply, "reply") }?;
        let message = unsafe { arg_str(message, "message") }?;
        reply.error = Some(message.to_owned());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use signbridge::ErrorKind;
    use signbridge::signing::SignerSlot;

    use super::*;
    use crate::client::signbridge_client_free;
    use crate::client::tests::offline_client;
    use crate::error::{SIGNBRIDGE_RESULT_NULL_ARGUMENT, SIGNBRIDGE_RESULT_SIGNING};
    use crate::runtime::block_on;

    /// What the test callback answers, and what it saw.
    struct Host {
        fail: bool,
        seen: Mutex<Option<Seen>>,
    }

    struct Seen {
        data: Vec<u8>,
        form: i32,
        document_id: Option<String>,
        thread: ThreadId,
    }

    unsafe extern "C" fn host_sign(
        userdata: *mut c_void,
        data: *const u8,
        len: usize,
        form: i32,
        document_id: *const c_char,
        reply: *mut signbridge_sign_reply,
    ) -> signbridge_result {
        let host = unsafe { &*userdata.cast::<Host>() };
        let data = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
        let id = (!document_id.is_null())
            .then(|| unsafe { CStr::from_ptr(document_id) }.to_str().unwrap().to_owned());
        let thread = std::thread::current().id();
        *host.seen.lock().unwrap() = Some(Seen { data, form, document_id: id, thread });
        if host.fail {
            unsafe { signbridge_sign_reply_set_error(reply, c"PIN bloqueado".as_ptr()) };
            return 1;
        }
        let cms = [0x30, 0x03, 0x02, 0x01, 0x01];
        unsafe { signbridge_sign_reply_set_cms(reply, cms.as_ptr(), cms.len()) }
    }

    fn request(document_id: Option<&str>) -> SignRequest {
        SignRequest {
            provider: "test",
            document_id: document_id.map(str::to_owned),
            form: CmsForm::Detached,
            data: b"conteudo".to_vec(),
        }
    }

    /// Drives the callback the way a provider will: through core's signer slot, on the runtime.
    fn sign_through_core(host: &Host, request: SignRequest) -> signbridge::Result<Vec<u8>> {
        let slot = SignerSlot::default();
        let userdata = std::ptr::from_ref(host).cast_mut().cast::<c_void>();
        slot.set(Some(Arc::new(CallbackSigner { callback: host_sign, userdata })));
        block_on(slot.sign(request)).unwrap()
    }

    #[test]
    fn the_callback_signs_on_another_thread_and_its_cms_is_copied() {
        let host = Host { fail: false, seen: Mutex::new(None) };
        let cms = sign_through_core(&host, request(Some("12978325"))).unwrap();
        assert_eq!(cms, [0x30, 0x03, 0x02, 0x01, 0x01]);
        let seen = host.seen.lock().unwrap().take().unwrap();
        assert_eq!(seen.data, b"conteudo");
        assert_eq!(seen.form, SIGNBRIDGE_CMS_DETACHED);
        assert_eq!(seen.document_id.as_deref(), Some("12978325"));
        assert_ne!(seen.thread, std::thread::current().id(), "runs on a blocking-pool thread");
        sign_through_core(&host, request(None)).unwrap();
        let seen = host.seen.lock().unwrap().take().unwrap();
        assert_eq!(seen.document_id, None, "no id is NULL");
    }

    #[test]
    fn the_hosts_message_becomes_the_provider_message() {
        let host = Host { fail: true, seen: Mutex::new(None) };
        let err = sign_through_core(&host, request(None)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signing);
        assert_eq!(crate::error::result_for(err.kind()), SIGNBRIDGE_RESULT_SIGNING);
        assert_eq!(err.provider_message(), Some("PIN bloqueado"));
    }

    #[test]
    fn registering_and_clearing() {
        let client = offline_client();
        let host = Host { fail: false, seen: Mutex::new(None) };
        let userdata = std::ptr::from_ref(&host).cast_mut().cast::<c_void>();
        let set = unsafe { signbridge_set_host_signer(client, Some(host_sign), userdata) };
        assert_eq!(set, SIGNBRIDGE_RESULT_OK);
        let cleared = unsafe { signbridge_set_host_signer(client, None, std::ptr::null_mut()) };
        assert_eq!(cleared, SIGNBRIDGE_RESULT_OK);
        let no_client =
            unsafe { signbridge_set_host_signer(std::ptr::null(), Some(host_sign), userdata) };
        assert_eq!(no_client, SIGNBRIDGE_RESULT_NULL_ARGUMENT);
        unsafe { signbridge_client_free(client) };
        let null_reply =
            unsafe { signbridge_sign_reply_set_error(std::ptr::null_mut(), c"x".as_ptr()) };
        assert_eq!(null_reply, SIGNBRIDGE_RESULT_NULL_ARGUMENT);
    }

    fn provider_message() -> String {
        let message =
            unsafe { CStr::from_ptr(crate::error::signbridge_last_error_provider_message()) };
        message.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_software_signer_from_pem_or_pkcs12() {
        let client = offline_client();
        let has_signer = || unsafe { &*client }.client.has_host_signer();
        let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("signbridge ffi");
        let (other_cert, _) = signbridge_signer::testkeys::ecdsa_p256("someone else");
        let c = |text: &str| CString::new(text).unwrap();

        let wrong_pair = unsafe {
            signbridge_set_software_signer_pem(client, c(&other_cert).as_ptr(), c(&key).as_ptr())
        };
        assert_eq!(wrong_pair, SIGNBRIDGE_RESULT_SIGNING);
        assert!(!provider_message().is_empty(), "the reason is the provider message");
        assert!(!has_signer(), "a failed load sets nothing");

        let both = c(&format!("{cert}{key}"));
        let set =
            unsafe { signbridge_set_software_signer_pem(client, both.as_ptr(), both.as_ptr()) };
        assert_eq!(set, SIGNBRIDGE_RESULT_OK);
        assert!(has_signer());

        let p12 = signbridge_signer::testkeys::pkcs12(&cert, &key, "senha").unwrap();
        let bad_password = unsafe {
            signbridge_set_software_signer_pkcs12(
                client,
                p12.as_ptr(),
                p12.len(),
                c"errada".as_ptr(),
            )
        };
        assert_eq!(bad_password, SIGNBRIDGE_RESULT_SIGNING);
        assert!(has_signer(), "the previous signer stays");
        let set = unsafe {
            signbridge_set_software_signer_pkcs12(
                client,
                p12.as_ptr(),
                p12.len(),
                c"senha".as_ptr(),
            )
        };
        assert_eq!(set, SIGNBRIDGE_RESULT_OK);

        let nulls = [
            unsafe {
                signbridge_set_software_signer_pem(std::ptr::null(), both.as_ptr(), both.as_ptr())
            },
            unsafe { signbridge_set_software_signer_pem(client, std::ptr::null(), both.as_ptr()) },
            unsafe { signbridge_set_software_signer_pem(client, both.as_ptr(), std::ptr::null()) },
            unsafe {
                signbridge_set_software_signer_pkcs12(client, std::ptr::null(), 3, c"".as_ptr())
            },
            unsafe {
                signbridge_set_software_signer_pkcs12(
                    client,
                    p12.as_ptr(),
                    p12.len(),
                    std::ptr::null(),
                )
            },
        ];
        assert_eq!(nulls, [SIGNBRIDGE_RESULT_NULL_ARGUMENT; 5]);
        unsafe { signbridge_client_free(client) };
    }
}
