//! The host signer from Python: a callable, `signer(data: bytes, form: str) -> bytes`, `form`
//! being `"attached"` or `"detached"`, the result a DER-encoded CMS; or the core's reference
//! [`SoftwareSigner`], which signs without Python (nor the GIL) being involved.
//!
//! The core calls it on a blocking thread of the runtime, which takes the GIL for the call.
//! The Python thread that made the signbridge call is waiting without the GIL meanwhile, so
//! the two cannot deadlock.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use signbridge::{CmsForm, Error, ErrorKind, HostSigner, SignRequest};
use zeroize::Zeroizing;

use crate::errors::{boundary, to_pyerr};

pub struct PySigner {
    callable: Py<PyAny>,
}

impl PySigner {
    pub fn new(callable: Py<PyAny>) -> PySigner {
        PySigner { callable }
    }
}

impl HostSigner for PySigner {
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String> {
        let form = request.form.as_str();
        Python::attach(|py| {
            let result = self
                .callable
                .bind(py)
                .call1((PyBytes::new(py, &request.data), form))
                .map_err(|e| describe(py, &e))?;
            let cms = result.cast::<PyBytes>().map_err(|_| {
                let type_name = result.get_type().name().map_or("?".into(), |n| n.to_string());
                format!("the host signer returned {type_name}, not bytes")
            })?;
            Ok(cms.as_bytes().to_vec())
        })
    }
}

/// `ExceptionType: message`, what the host sees as the provider message of the SigningError.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let type_name = e.get_type(py).name().map_or("Exception".into(), |n| n.to_string());
    format!("{type_name}: {}", e.value(py))
}

/// The reference software signer (`signbridge.SoftwareSigner`): an RSA or ECDSA P-256 key and
/// its certificate, loaded from PEM or PKCS#12, signing inside signbridge.
#[pyclass(frozen, name = "SoftwareSigner", module = "signbridge._native")]
pub struct NativeSoftwareSigner {
    signer: Arc<signbridge::SoftwareSigner>,
}

impl NativeSoftwareSigner {
    /// The core signer, to install as a client's host signer.
    pub fn host_signer(&self) -> Arc<dyn HostSigner> {
        self.signer.clone()
    }
}

#[pymethods]
impl NativeSoftwareSigner {
    /// Loads the certificate (then any chain) and an unencrypted PKCS#8, PKCS#1 or SEC1 key,
    /// as text or bytes; without `private_key_pem`, the key is looked for in `certificate_pem`.
    #[staticmethod]
    #[pyo3(signature = (certificate_pem, private_key_pem = None))]
    fn from_pem(
        py: Python<'_>,
        certificate_pem: &Bound<'_, PyAny>,
        private_key_pem: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeSoftwareSigner> {
        boundary(py, || {
            let certificate_pem = pem_bytes(certificate_pem, "certificate_pem")?;
            let private_key_pem =
                private_key_pem.map(|key| pem_bytes(key, "private_key_pem")).transpose()?;
            let private_key_pem = private_key_pem.as_deref().unwrap_or(&certificate_pem);
            let signer = signbridge::software_signer_from_pem(&certificate_pem, private_key_pem)
                .map_err(|e| to_pyerr(py, &e))?;
            Ok(NativeSoftwareSigner { signer: Arc::new(signer) })
        })
    }

    /// Loads a PKCS#12 (`.p12` / `.pfx`) file's bytes, protected by `password`.
    #[staticmethod]
    #[pyo3(signature = (data, password = ""))]
    fn from_pkcs12(py: Python<'_>, data: &[u8], password: &str) -> PyResult<NativeSoftwareSigner> {
        boundary(py, || {
            let signer = signbridge::software_signer_from_pkcs12(data, password)
                .map_err(|e| to_pyerr(py, &e))?;
            Ok(NativeSoftwareSigner { signer: Arc::new(signer) })
        })
    }

    /// The signer's certificate, DER.
    #[getter]
    fn certificate_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.signer.certificate_der())
    }

    /// Signs `data` as a DER CMS, embedding it when `form` is `"attached"`; without the GIL.
    fn sign<'py>(&self, py: Python<'py>, data: &[u8], form: &str) -> PyResult<Bound<'py, PyBytes>> {
        boundary(py, || {
            let form: CmsForm =
                form.parse().map_err(|e: Error| PyValueError::new_err(e.to_string()))?;
            let request =
                SignRequest { provider: "software", document_id: None, form, data: data.to_vec() };
            let signer = self.signer.clone();
            let cms =
                py.detach(move || HostSigner::sign(&*signer, &request)).map_err(|message| {
                    let e = Error::new(ErrorKind::Signing, "the software signer failed")
                        .with_provider_message(message);
                    to_pyerr(py, &e)
                })?;
            Ok(PyBytes::new(py, &cms))
        })
    }

    /// The same as `sign`, so the signer is a `signbridge.HostSigner` callable too.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
        form: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.sign(py, data, form)
    }

    fn __repr__(&self) -> String {
        format!("<signbridge.{:?}>", self.signer)
    }
}

/// The PEM text as bytes, in a copy wiped on drop (the caller's object is the caller's).
fn pem_bytes(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Zeroizing<Vec<u8>>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Zeroizing::new(bytes.as_bytes().to_vec()));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Zeroizing::new(text.to_cow()?.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(format!("{name} must be str or bytes")))
}
