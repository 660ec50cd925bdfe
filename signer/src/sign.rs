use std::fmt;
use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{
    ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME,
};
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, DateTime, Decode, Encode, Tag};
use p12_keystore::Pkcs12Archive;
use p12_keystore::error::Error as Pkcs12Error;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use crate::error::{Result, SignerError};
use crate::key::PrivateKey;
use crate::pem;

/// Whether the CMS embeds the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsForm {
    /// The signed bytes are the `eContent` (type id-data) inside the CMS.
    Attached,
    /// `eContent` is absent; whoever verifies needs the bytes separately.
    Detached,
}

/// A private key and its certificate (and any chain certificates), held in memory, that signs
/// bytes as CMS `SignedData`.
///
/// It is the reference signer for hosts without a crypto provider of their own, and the signer
/// of tests, the demo and the sandbox's fixtures. The key is wiped from memory on drop.
pub struct SoftwareSigner {
    key: PrivateKey,
    certificate: Certificate,
    certificate_der: Vec<u8>,
    /// Further certificates to ship with every signature (intermediate and root CAs).
    chain: Vec<Certificate>,
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("algorithm", &self.key.algorithm())
            .field("subject", &self.certificate.tbs_certificate().subject().to_string())
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// Loads a signer from PEM text.
    ///
    /// `certificate_pem` holds the signer's certificate first, then optionally its chain; the
    /// whole chain goes into every signature. `private_key_pem` holds one unencrypted key:
    /// PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). Text
    /// around the blocks is ignored, so one file with both certificate and key may be passed
    /// as both arguments. Fails when the certificate's public key is not the key's.
    pub fn from_pem(certificate_pem: &[u8], private_key_pem: &[u8]) -> Result<SoftwareSigner> {
        let mut certificates = Vec::new();
        for block in pem::blocks(certificate_pem, "certificate PEM")? {
            if block.label == "CERTIFICATE" {
                certificates.push(parse_certificate(block.der.to_vec())?);
            }
        }
        if certificates.is_empty() {
            return Err(SignerError::new(
                "no \"CERTIFICATE\" block in the certificate PEM".to_owned(),
            ));
        }
        let key = PrivateKey::from_pem(private_key_pem)?;
        let (certificate, certificate_der) = certificates.remove(0);
        let chain = certificates.into_iter().map(|(certificate, _)| certificate).collect();
        SoftwareSigner::new(key, certificate, certificate_der, chain)
    }

    /// Loads a signer from a PKCS#12 (`.p12` / `.pfx`) file.
    ///
    /// Reads what OpenSSL, Windows and Java write: PBES2 (PBKDF2 with AES) and the legacy
    /// PKCS#12 schemes (3DES, RC2), with the MAC checked when present. The signer's certificate
    /// is the one whose public key matches the private key; the other certificates become the
    /// chain.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<SoftwareSigner> {
        let archive = Pkcs12Archive::from_pkcs12(der, password).map_err(pkcs12_error)?;
        let mut certificates = Vec::with_capacity(archive.certs.len());
        for bag in &archive.certs {
            certificates.push(parse_certificate(bag.cert.as_der().to_vec())?);
        }
        if archive.keys.is_empty() {
            return Err(SignerError::new("the PKCS#12 file holds no private key"));
        }
        let mut keys = Vec::with_capacity(archive.keys.len());
        for bag in &archive.keys {
            keys.push(PrivateKey::from_pkcs8_der(bag.key.as_der())?);
        }
        for key in keys {
            let public_key = key.public_key();
            let leaf = certificates.iter().position(|(certificate, _)| {
                crate::key::PublicKey::from_spki(
                    certificate.tbs_certificate().subject_public_key_info(),
                )
                .is_ok_and(|candidate| candidate == public_key)
            });
            if let Some(index) = leaf {
                let (certificate, certificate_der) = certificates.remove(index);
                let chain = certificates
                    .into_iter()
                    .filter(|(_, der)| *der != certificate_der)
                    .map(|(certificate, _)| certificate)
                    .collect();
                return SoftwareSigner::new(key, certificate, certificate_der, chain);
            }
        }
        Err(SignerError::new(if certificates.is_empty() {
            "the PKCS#12 file holds no certificate"
        } else {
            "no certificate in the PKCS#12 file matches its private key"
        }))
    }

    fn new(
        key: PrivateKey,
        certificate: Certificate,
        certificate_der: Vec<u8>,
        chain: Vec<Certificate>,
    ) -> Result<SoftwareSigner> {
        let certified = crate::key::PublicKey::from_spki(
            certificate.tbs_certificate().subject_public_key_info(),
        )?;
        if certified != key.public_key() {
            return Err(SignerError::new(
                "the certificate does not belong to the private key (their public keys differ)",
            ));
        }
        Ok(SoftwareSigner { key, certificate, certificate_der, chain })
    }

    /// Signs `data` and returns a DER `ContentInfo` holding `SignedData` (version 1):
    ///
    /// * digest SHA-256; one `SignerInfo` (version 1) naming the signer by issuer and serial
    ///   number;
    /// * signed attributes contentType (id-data), signingTime (now, UTCTime) and messageDigest
    ///   (SHA-256 of `data`), in DER order; the signature covers their DER `SET OF`;
    /// * the signer's certificate and its chain in `certificates`; no CRLs;
    /// * [`CmsForm::Attached`] puts `data` in `eContent`, [`CmsForm::Detached`] leaves it out.
    pub fn sign(&self, data: &[u8], form: CmsForm) -> Result<Vec<u8>> {
        let encoding = |e: der::Error| SignerError::caused("cannot encode the CMS", e);
        let signing_time = DateTime::from_system_time(SystemTime::now())
            .map_err(|e| SignerError::caused("the system clock is out of range", e))?;
        let signed_attributes = SignedAttributes::try_from(vec![
            attribute(ID_CONTENT_TYPE, Any::from(&ID_DATA))?,
            attribute(
                ID_SIGNING_TIME,
                Any::encode_from(&Time::from(signing_time)).map_err(encoding)?,
            )?,
            attribute(
                ID_MESSAGE_DIGEST,
                Any::new(Tag::OctetString, Sha256::digest(data).to_vec()).map_err(encoding)?,
            )?,
        ])
        .map_err(encoding)?;
        let signature = self.key.sign(&signed_attributes.to_der().map_err(encoding)?)?;

        let tbs = self.certificate.tbs_certificate();
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            digest_alg: sha256(),
            signed_attrs: Some(signed_attributes),
            signature_algorithm: self.key.signature_algorithm(),
            signature: OctetString::new(signature).map_err(encoding)?,
            unsigned_attrs: None,
        };
        let certificates = std::iter::once(&self.certificate)
            .chain(&self.chain)
            .map(|certificate| CertificateChoices::Certificate(certificate.clone()))
            .collect::<Vec<_>>();
        let econtent = match form {
            CmsForm::Attached => Some(Any::new(Tag::OctetString, data).map_err(encoding)?),
            CmsForm::Detached => None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![sha256()]).map_err(encoding)?,
            encap_content_info: EncapsulatedContentInfo { econtent_type: ID_DATA, econtent },
            certificates: Some(CertificateSet::try_from(certificates).map_err(encoding)?),
            crls: None,
            signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(encoding)?,
        };
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(encoding)?,
        }
        .to_der()
        .map_err(encoding)
    }

    /// The signer's certificate, DER, exactly as loaded.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

/// id-sha256 with absent parameters, as RFC 5754 says to write it.
fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_SHA_256, parameters: None }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    let values = SetOfVec::try_from(vec![value])
        .map_err(|e| SignerError::caused("cannot encode a signed attribute", e))?;
    Ok(Attribute { oid, values })
}

fn parse_certificate(der: Vec<u8>) -> Result<(Certificate, Vec<u8>)> {
    let certificate = Certificate::from_der(&der)
        .map_err(|e| SignerError::caused("invalid X.509 certificate", e))?;
    Ok((certificate, der))
}

/// The keystore crate's errors name the failing step, never the password or key bytes; a MAC
/// mismatch is what a wrong password looks like, so that one is said plainly.
fn pkcs12_error(error: Pkcs12Error) -> SignerError {
    match error {
        Pkcs12Error::MacError(_) => SignerError::new(
            "cannot open the PKCS#12 file: wrong password, or the file is damaged \
             (its integrity check failed)",
        ),
        other => SignerError::caused("cannot open the PKCS#12 file (or wrong password)", other),
    }
}
