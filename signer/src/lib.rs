//! Reference software CMS signer for signbridge.
//!
//! Some providers (iDocs) need the host to sign bytes as CMS (PKCS#7 `SignedData`, DER). Hosts
//! with a national PKI key sign through their own crypto; [`SoftwareSigner`] is for hosts
//! without one, and for tests, the demo and the sandbox. [`verify`] checks such a CMS, and the
//! `testkeys` feature makes throw-away keys and certificates so none is ever committed.
//!
//! This crate stands alone: the sandbox uses it and must never depend on the `signbridge` core,
//! which adapts [`SoftwareSigner`] to its `HostSigner` hook itself.
//!
//! What [`SoftwareSigner::sign`] writes:
//!
//! | part | value |
//! | --- | --- |
//! | `ContentInfo.contentType` | id-signedData `1.2.840.113549.1.7.2` |
//! | `SignedData.version` | 1 |
//! | `digestAlgorithms` | { id-sha256 `2.16.840.1.101.3.4.2.1`, parameters absent } |
//! | `eContentType` | id-data `1.2.840.113549.1.7.1` |
//! | `eContent` | the signed bytes when [`CmsForm::Attached`]; absent when detached |
//! | `certificates` | the signer's certificate and any chain certificates (a DER `SET`, so sorted by encoding) |
//! | `SignerInfo` | version 1, `sid` = issuerAndSerialNumber |
//! | signed attributes | contentType `1.2.840.113549.1.9.3` (id-data), signingTime `1.2.840.113549.1.9.5` (UTCTime, now), messageDigest `1.2.840.113549.1.9.4` (SHA-256 of the bytes) |
//! | `signatureAlgorithm` | RSA: sha256WithRSAEncryption `1.2.840.113549.1.1.11` (NULL parameters); P-256: ecdsa-with-SHA256 `1.2.840.10045.4.3.2` |
//! | `signature` | over the DER `SET OF` signed attributes; ECDSA as DER `Ecdsa-Sig-Value` |

mod error;
mod key;
mod pem;
mod sign;
#[cfg(feature = "testkeys")]
pub mod testkeys;
mod verify;

pub use error::SignerError;
pub use sign::{CmsForm, SoftwareSigner};
pub use verify::{Verified, verify};
