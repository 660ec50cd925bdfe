//! The host-signer hook: providers whose flow needs a signature made by the host (a CMS over
//! bytes the provider hands out, signed with a key only the host holds) call it during `send`.
//!
//! Implementations are synchronous because host callbacks (C, Delphi, Python) are. They run on
//! a blocking-pool thread of the runtime, never on the caller's thread, and may take long
//! (a smart card asking for its PIN).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use crate::error::{Error, ErrorKind, Result};

/// Whether the CMS must embed the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmsForm {
    /// The signed content is inside the CMS (`eContent` present).
    Attached,
    /// The CMS holds only the signature.
    Detached,
}

impl CmsForm {
    pub const ALL: [CmsForm; 2] = [CmsForm::Attached, CmsForm::Detached];

    /// The name hosts see, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            CmsForm::Attached => "attached",
            CmsForm::Detached => "detached",
        }
    }
}

impl FromStr for CmsForm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        CmsForm::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = CmsForm::ALL.iter().map(|f| f.as_str()).collect();
            Error::validation("form", format!("unknown CMS form {s:?}; one of {known:?}"))
        })
    }
}

/// What the host is asked to sign.
#[derive(Debug, Clone)]
pub struct SignRequest {
    pub provider: &'static str,
    /// The provider's id of the document being signed, when it has one.
    pub document_id: Option<String>,
    pub form: CmsForm,
    pub data: Vec<u8>,
}

/// Signs bytes for the host; returns a DER-encoded CMS `ContentInfo`, or the host's own error
/// message.
pub trait HostSigner: Send + Sync {
    fn sign(&self, request: &SignRequest) -> std::result::Result<Vec<u8>, String>;
}

/// The reference software signer (a PEM or PKCS#12 key file), for hosts without a crypto
/// provider of their own, and for tests and the demo.
pub use signbridge_signer::SoftwareSigner;

impl HostSigner for SoftwareSigner {
    fn sign(&self, request: &SignRequest) -> std::result::Result<Vec<u8>, String> {
        let form = match request.form {
            CmsForm::Attached => signbridge_signer::CmsForm::Attached,
            CmsForm::Detached => signbridge_signer::CmsForm::Detached,
        };
        SoftwareSigner::sign(self, &request.data, form).map_err(|e| e.to_string())
    }
}

/// Loads the reference software signer from PEM text: the certificate (then any chain) and
/// an unencrypted private key (see [`SoftwareSigner::from_pem`]). A key that cannot be loaded
/// is a [`ErrorKind::Signing`] error whose provider message says why.
pub fn software_signer_from_pem(
    certificate_pem: &[u8],
    private_key_pem: &[u8],
) -> Result<SoftwareSigner> {
    SoftwareSigner::from_pem(certificate_pem, private_key_pem).map_err(key_error)
}

/// Loads the reference software signer from a PKCS#12 (`.p12` / `.pfx`) file (see
/// [`SoftwareSigner::from_pkcs12`]); errors as for [`software_signer_from_pem`].
pub fn software_signer_from_pkcs12(der: &[u8], password: &str) -> Result<SoftwareSigner> {
    SoftwareSigner::from_pkcs12(der, password).map_err(key_error)
}

fn key_error(e: signbridge_signer::SignerError) -> Error {
    Error::new(ErrorKind::Signing, "the signing key could not be loaded")
        .with_provider_message(e.message())
}

/// Where a client keeps its signer; shared with its provider, settable after construction.
#[derive(Clone, Default)]
pub struct SignerSlot(Arc<RwLock<Option<Arc<dyn HostSigner>>>>);

impl fmt::Debug for SignerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SignerSlot").field(&self.get().is_some()).finish()
    }
}

impl SignerSlot {
    pub fn set(&self, signer: Option<Arc<dyn HostSigner>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = signer;
    }

    pub fn get(&self) -> Option<Arc<dyn HostSigner>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks the host to sign, on a blocking thread. Fails with [`ErrorKind::Signing`] when no
    /// signer is set or the host's signer fails, carrying the host's message.
    pub async fn sign(&self, request: SignRequest) -> Result<Vec<u8>> {
        let provider = request.provider;
        let signer = self.get().ok_or_else(|| {
            Error::new(ErrorKind::Signing, "this provider needs a host signer and none is set")
                .with_context("provider", provider)
        })?;
        let outcome =
            tokio::task::spawn_blocking(move || signer.sign(&request)).await.map_err(|e| {
                Error::new(ErrorKind::Signing, format!("the host signer panicked: {e}"))
            })?;
        match outcome {
            Ok(cms) if !cms.is_empty() => Ok(cms),
            Ok(_) => Err(Error::new(ErrorKind::Signing, "the host signer returned no signature")
                .with_context("provider", provider)),
            Err(message) => Err(Error::new(ErrorKind::Signing, "the host signer failed")
                .with_provider_message(message)
                .with_context("provider", provider)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(std::result::Result<Vec<u8>, String>);

    impl HostSigner for Fixed {
        fn sign(&self, request: &SignRequest) -> std::result::Result<Vec<u8>, String> {
            assert_eq!(request.data, b"bytes");
            self.0.clone()
        }
    }

    fn request() -> SignRequest {
        SignRequest {
            provider: "test",
            document_id: None,
            form: CmsForm::Detached,
            data: b"bytes".to_vec(),
        }
    }

    #[tokio::test]
    async fn the_software_signer_is_a_host_signer() {
        let (cert, key) = signbridge_signer::testkeys::ecdsa_p256("signbridge test");
        let slot = SignerSlot::default();
        slot.set(Some(Arc::new(
            SoftwareSigner::from_pem(cert.as_bytes(), key.as_bytes()).unwrap(),
        )));
        let cms = slot.sign(request()).await.unwrap();
        let verified = signbridge_signer::verify(&cms, Some(b"bytes")).unwrap();
        assert!(verified.attached_content.is_none(), "detached was asked for");
        assert!(verified.signer_subject.contains("signbridge test"), "{}", verified.signer_subject);
    }

    #[test]
    fn form_names_are_the_serialized_ones() {
        for form in CmsForm::ALL {
            assert_eq!(serde_json::to_value(form).unwrap(), form.as_str());
            assert_eq!(form.as_str().parse::<CmsForm>().unwrap(), form);
        }
        assert_eq!("embedded".parse::<CmsForm>().unwrap_err().kind(), ErrorKind::Validation);
    }

    #[test]
    fn a_key_that_does_not_load_is_a_signing_error() {
        let (cert, key) = signbridge_signer::testkeys::rsa("signbridge test");
        let (other_cert, _) = signbridge_signer::testkeys::rsa("someone else");
        assert!(software_signer_from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
        let err = software_signer_from_pem(other_cert.as_bytes(), key.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signing);
        assert!(err.provider_message().is_some_and(|m| !m.is_empty()), "{err}");

        let p12 = signbridge_signer::testkeys::pkcs12(&cert, &key, "senha").unwrap();
        assert!(software_signer_from_pkcs12(&p12, "senha").is_ok());
        let err = software_signer_from_pkcs12(&p12, "errada").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signing);
        let err = software_signer_from_pkcs12(b"not a pfx", "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signing);
    }

    #[tokio::test]
    async fn signing_goes_through_the_slot() {
        let slot = SignerSlot::default();
        assert_eq!(slot.sign(request()).await.unwrap_err().kind(), ErrorKind::Signing);
        slot.set(Some(Arc::new(Fixed(Ok(vec![0x30, 0x00])))));
        assert_eq!(slot.sign(request()).await.unwrap(), vec![0x30, 0x00]);
        slot.set(Some(Arc::new(Fixed(Err("PIN bloqueado".into())))));
        let err = slot.sign(request()).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.provider_message()),
            (ErrorKind::Signing, Some("PIN bloqueado"))
        );
        slot.set(Some(Arc::new(Fixed(Ok(vec![])))));
        assert_eq!(slot.sign(request()).await.unwrap_err().kind(), ErrorKind::Signing);
        slot.set(None);
        assert!(slot.get().is_none());
    }
}
