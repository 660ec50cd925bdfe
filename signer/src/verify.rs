use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::revocation::RevocationInfoChoices;
use cms::signed_data::{
    CertificateSet, DigestAlgorithmIdentifiers, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::OctetString;
use der::{Any, Decode, Encode, EncodingRules, Sequence};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::Attributes;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::error::{Result, SignerError};
use crate::key::PublicKey;

/// `SignedData` (RFC 5652 §5.1) with `eContent` decoded as the OCTET STRING it is. The `cms`
/// crate keeps `eContent` as `Any`, which under BER drops whether the string came in pieces
/// (as `openssl cms -stream` writes it), so the segment headers would end up in the content.
#[derive(Sequence)]
struct SignedData {
    _version: CmsVersion,
    _digest_algorithms: DigestAlgorithmIdentifiers,
    encap_content_info: EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<CertificateSet>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    _crls: Option<RevocationInfoChoices>,
    signer_infos: SignerInfos,
}

#[derive(Sequence)]
struct EncapsulatedContentInfo {
    econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    econtent: Option<OctetString>,
}

/// What [`verify`] found in a CMS that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `eContent` bytes when the CMS is attached; `None` when detached.
    pub attached_content: Option<Vec<u8>>,
    /// The signer certificate's subject, as an RFC 4514 string (`CN=…,O=…`).
    pub signer_subject: String,
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
}

/// Parses a CMS and checks it: a well-formed `ContentInfo` holding `SignedData` (DER, or BER
/// as `openssl cms -stream` writes it), at least one `SignerInfo`, and for every `SignerInfo`:
///
/// * its certificate is in the CMS (found by issuer and serial number, or subject key id);
/// * the digest is SHA-256, and signed attributes are present with a contentType equal to
///   `eContentType` and a messageDigest equal to SHA-256 of the content;
/// * the signature over the signed attributes verifies with that certificate's public key
///   (RSA PKCS#1 v1.5, or ECDSA P-256, with SHA-256).
///
/// The content is `eContent` when the CMS is attached. `detached_content` is the content the
/// caller expects: required for a detached CMS, and for an attached one it must equal
/// `eContent`. A detached CMS without `detached_content` is an error, because without the
/// content nothing proves what was signed.
///
/// The certificate itself is not judged: no chain, validity period, key usage or revocation
/// checks. The summary names the first signer.
pub fn verify(cms_der: &[u8], detached_content: Option<&[u8]>) -> Result<Verified> {
    // BER rules accept DER too, and keep SET OF elements in their encoded order: the signature
    // covers the signed attributes as the signer encoded them, so they must not be re-sorted.
    let content_info = ContentInfo::from_ber(cms_der)
        .map_err(|e| SignerError::caused("not a CMS ContentInfo", e))?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(SignerError::new(format!(
            "the CMS holds content type {}, not SignedData ({ID_SIGNED_DATA})",
            content_info.content_type
        )));
    }
    let signed_data = content_info
        .content
        .decode_as_encoding::<SignedData>(EncodingRules::Ber)
        .map_err(|e| SignerError::caused("malformed SignedData", e))?;

    let encapsulated = &signed_data.encap_content_info;
    let attached_content = encapsulated.econtent.as_ref().map(|e| e.as_bytes().to_vec());
    let content = match (&attached_content, detached_content) {
        (Some(attached), Some(expected)) if attached.as_slice() != expected => {
            return Err(SignerError::new(
                "the content attached to the CMS differs from the expected content",
            ));
        }
        (Some(attached), _) => attached.as_slice(),
        (None, Some(expected)) => expected,
        (None, None) => {
            return Err(SignerError::new(
                "the CMS is detached (no eContent): pass the signed content to verify it",
            ));
        }
    };
    let digest = Sha256::digest(content);

    let certificates: Vec<&Certificate> = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let mut first_signer = None;
    for signer_info in signed_data.signer_infos.0.iter() {
        let certificate = signer_certificate(&certificates, &signer_info.sid)?;
        check_signer_info(signer_info, certificate, encapsulated.econtent_type, &digest)?;
        first_signer.get_or_insert(certificate);
    }
    let certificate = first_signer.ok_or_else(|| SignerError::new("the CMS has no SignerInfo"))?;
    Ok(Verified {
        attached_content,
        signer_subject: certificate.tbs_certificate().subject().to_string(),
        certificate_der: certificate
            .to_der()
            .map_err(|e| SignerError::caused("cannot encode the signer's certificate", e))?,
    })
}

fn signer_certificate<'c>(
    certificates: &[&'c Certificate],
    sid: &SignerIdentifier,
) -> Result<&'c Certificate> {
    let found = certificates.iter().copied().find(|certificate| {
        let tbs = certificate.tbs_certificate();
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                *tbs.issuer() == id.issuer && *tbs.serial_number() == id.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(id) => matches!(
                tbs.get_extension::<SubjectKeyIdentifier>(),
                Ok(Some((_, key_id))) if key_id == *id
            ),
        }
    });
    found.ok_or_else(|| SignerError::new("the CMS does not include the signer's certificate"))
}

fn check_signer_info(
    signer_info: &SignerInfo,
    certificate: &Certificate,
    econtent_type: ObjectIdentifier,
    digest: &[u8],
) -> Result<()> {
    if signer_info.digest_alg.oid != ID_SHA_256 {
        return Err(SignerError::new(format!(
            "digest algorithm {} is not supported (only SHA-256, {ID_SHA_256})",
            signer_info.digest_alg.oid
        )));
    }
    let attributes = signer_info.signed_attrs.as_ref().ok_or_else(|| {
        SignerError::new("the SignerInfo has no signed attributes (they are required)")
    })?;
    let content_type: ObjectIdentifier = single_value(attributes, ID_CONTENT_TYPE, "contentType")?
        .decode_as()
        .map_err(|e| SignerError::caused("malformed contentType attribute", e))?;
    if content_type != econtent_type {
        return Err(SignerError::new(format!(
            "the contentType attribute ({content_type}) differs from eContentType ({econtent_type})"
        )));
    }
    let message_digest: OctetString = single_value(attributes, ID_MESSAGE_DIGEST, "messageDigest")?
        .decode_as()
        .map_err(|e| SignerError::caused("malformed messageDigest attribute", e))?;
    if message_digest.as_bytes() != digest {
        return Err(SignerError::new(
            "the messageDigest attribute does not match the SHA-256 of the content: \
             the content is not the one that was signed",
        ));
    }
    let signed = attributes
        .to_der()
        .map_err(|e| SignerError::caused("cannot encode the signed attributes", e))?;
    PublicKey::from_spki(certificate.tbs_certificate().subject_public_key_info())?.verify(
        signer_info.signature_algorithm.oid,
        &signed,
        signer_info.signature.as_bytes(),
    )
}

/// RFC 5652 §5.3: contentType and messageDigest appear once, with exactly one value.
fn single_value<'a>(
    attributes: &'a Attributes,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<&'a Any> {
    let once =
        || SignerError::new(format!("the {name} signed attribute must appear once with one value"));
    let mut matching = attributes.iter().filter(|attribute| attribute.oid == oid);
    let attribute = matching
        .next()
        .ok_or_else(|| SignerError::new(format!("the {name} signed attribute is missing")))?;
    if matching.next().is_some() {
        return Err(once());
    }
    let mut values = attribute.values.iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(once()),
    }
}
