use std::fmt;

/// Why signing, loading a key or checking a CMS failed.
///
/// The message is meant for people and logs. It names what was wrong (a PEM label, an OID, which
/// check failed) and never carries key material, passwords or the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerError {
    message: String,
}

impl SignerError {
    pub(crate) fn new(message: impl Into<String>) -> SignerError {
        SignerError { message: message.into() }
    }

    /// `context: cause`, for causes from the ASN.1 / PEM / crypto crates. Their messages describe
    /// positions, tags and lengths, never the bytes they were decoding.
    pub(crate) fn caused(context: &str, cause: impl fmt::Display) -> SignerError {
        SignerError { message: format!("{context}: {cause}") }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SignerError {}

pub(crate) type Result<T> = std::result::Result<T, SignerError>;
