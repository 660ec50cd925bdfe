//! Why the iDocs simulator refuses a request, and the field checks every operation shares.

use super::wire::{self, ErrorCode};
use crate::ids::{is_guid, normalize_guid};

/// An unset GUID, as .NET prints `Guid.Empty`.
pub(crate) const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Why a request is refused: the `OperationErrorVM` answered with 400.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::ValidationError, message)
    }

    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::ResourceNotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::InternalServerError, message)
    }

    pub fn to_wire(&self) -> wire::OperationError {
        wire::OperationError {
            error_code: self.code,
            error_description: Some(self.message.clone()),
            error_documentation_link: None,
        }
    }
}

/// What an operation answers: its result, or the refusal the HTTP layer turns into a 400.
pub(crate) type Checked<T> = Result<T, Refusal>;

/// A required GUID field; the zero GUID counts as missing, as it is .NET's "unset".
pub(crate) fn required_guid(value: Option<&str>, field: &str) -> Checked<String> {
    let text = value.map(str::trim).filter(|t| !t.is_empty() && *t != ZERO_GUID);
    let text = text.ok_or_else(|| Refusal::validation(format!("{field} is required.")))?;
    if !is_guid(text) {
        return Err(Refusal::validation(format!("{field} must be a GUID; got {text:?}.")));
    }
    Ok(normalize_guid(text))
}
