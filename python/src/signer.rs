//! A Python callable as the core's host signer: `signer(data: bytes, form: str) -> bytes`,
//! `form` being `"attached"` or `"detached"`, the result a DER-encoded CMS.
//!
//! The core calls it on a blocking thread of the runtime, which takes the GIL for the call.
//! The Python thread that made the signbridge call is waiting without the GIL meanwhile, so
//! the two cannot deadlock.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use signbridge::{CmsForm, HostSigner, SignRequest};

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
        let form = match request.form {
            CmsForm::Attached => "attached",
            CmsForm::Detached => "detached",
        };
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
