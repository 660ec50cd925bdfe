//! Checks of a CMS signature over the content a simulator handed out to be signed, shared by
//! the simulators whose hosts sign (iDocs contract §4.2, SBIS contract §5.5).
//!
//! * [`inspect`]: the file must be a CMS `ContentInfo` (DER, or BER as `openssl cms -stream`
//!   writes it) holding a `SignedData` with at least one `SignerInfo`.
//! * [`check_signature`]: by default cryptographically, with [`signbridge_signer::verify`] over
//!   the content handed out: attached or detached, SHA-256 `messageDigest` of that content,
//!   signature by the certificate in the CMS (RSA PKCS#1 v1.5 or ECDSA P-256). The certificate
//!   is not judged (no chain, no revocation, no tax-id match). Kazakh and Russian GOST
//!   signatures cannot be verified here, so `verify: false` falls back to a structural check:
//!   an attached `eContent` must be exactly the content, a detached CMS is accepted as it is.

use cms::cert::CertificateChoices;
use cms::cert::x509::der::asn1::OctetString;
use cms::cert::x509::der::oid::ObjectIdentifier;
use cms::cert::x509::der::{Decode, EncodingRules};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};

/// `id-signedData` (RFC 5652 §5.1).
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Whether the signed content travels inside the CMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Attached,
    Detached,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Attached => "attached",
            Form::Detached => "detached",
        }
    }
}

/// What a CMS says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspected {
    pub form: Form,
    /// The signing certificate's subject (RFC 4514), when the CMS carries the certificate.
    pub signer_subject: Option<String>,
    /// The attached content, for [`Form::Attached`].
    content: Option<Box<[u8]>>,
}

/// Parses a CMS far enough to know it is a signature; the error says why it is not.
pub(crate) fn inspect(cms: &[u8]) -> Result<Inspected, String> {
    let info = ContentInfo::from_ber(cms)
        .map_err(|e| format!("the file is not a CMS ContentInfo: {e}"))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(format!("the CMS holds {}, not SignedData", info.content_type));
    }
    let signed: SignedData = info
        .content
        .decode_as_encoding(EncodingRules::Ber)
        .map_err(|e| format!("the CMS SignedData cannot be read: {e}"))?;
    let Some(signer) = signed.signer_infos.0.iter().next() else {
        return Err("the CMS SignedData has no SignerInfo: it signs nothing".into());
    };
    let content = match &signed.encap_content_info.econtent {
        Some(any) => Some(
            any.decode_as::<OctetString>()
                .map_err(|e| format!("the CMS eContent is not an OCTET STRING: {e}"))?
                .into_bytes(),
        ),
        None => None,
    };
    // The certificate the signer names, else the first one (a key-id match needs extensions).
    let certificates: Vec<_> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let named = match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => certificates.iter().find(|c| {
            let tbs = c.tbs_certificate();
            *tbs.issuer() == id.issuer && *tbs.serial_number() == id.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(_) => None,
    };
    let signer_subject =
        named.or(certificates.first()).map(|c| c.tbs_certificate().subject().to_string());
    Ok(Inspected {
        form: if content.is_some() { Form::Attached } else { Form::Detached },
        signer_subject,
        content,
    })
}

/// The subject (RFC 4514) of a DER certificate.
pub(crate) fn certificate_subject(der: &[u8]) -> Result<String, String> {
    let certificate = cms::cert::x509::Certificate::from_der(der)
        .map_err(|e| format!("the certificate cannot be read as DER X.509: {e}"))?;
    Ok(certificate.tbs_certificate().subject().to_string())
}

/// Checks `cms` signs `content` (what the simulator handed out to sign): cryptographically when
/// `verify`, else structurally (see the module documentation).
pub(crate) fn check_signature(
    cms: &[u8],
    content: &[u8],
    verify: bool,
) -> Result<Inspected, String> {
    if verify {
        let verified = signbridge_signer::verify(cms, Some(content))
            .map_err(|e| format!("the signature does not verify over the content to sign: {e}"))?;
        let form =
            if verified.attached_content.is_some() { Form::Attached } else { Form::Detached };
        return Ok(Inspected {
            form,
            signer_subject: Some(verified.signer_subject),
            content: None,
        });
    }
    let inspected = inspect(cms)?;
    if let Some(signed) = &inspected.content {
        if **signed != *content {
            return Err(format!(
                "the attached content ({} bytes) is not the content to sign \
                 ({} bytes): sign the content handed out for signing, not the original file",
                signed.len(),
                content.len()
            ));
        }
    }
    Ok(inspected)
}

/// Signatures for tests, made with a throw-away P-256 key (fast to generate, unlike RSA).
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::OnceLock;

    use signbridge_signer::{CmsForm, SoftwareSigner, testkeys};

    /// A CMS by `CN=Sandbox Test Signer` over `content`.
    pub(crate) fn cms(content: &[u8], attached: bool) -> Vec<u8> {
        static KEY: OnceLock<(String, String)> = OnceLock::new();
        let (certificate, key) = KEY.get_or_init(|| testkeys::ecdsa_p256("Sandbox Test Signer"));
        let signer = SoftwareSigner::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
        let form = if attached { CmsForm::Attached } else { CmsForm::Detached };
        signer.sign(content, form).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::cms;
    use super::*;

    #[test]
    fn signatures_are_verified_over_the_content_to_sign() {
        for attached in [true, false] {
            let signature = cms(b"PK zip", attached);
            let checked = check_signature(&signature, b"PK zip", true).unwrap();
            assert_eq!(checked.form == Form::Attached, attached);
            assert_eq!(checked.signer_subject.as_deref(), Some("CN=Sandbox Test Signer"));
            assert!(check_signature(&signature, b"PK other", true).is_err());
        }
    }

    #[test]
    fn the_structural_check_compares_attached_content_only() {
        let attached = cms(b"PK zip", true);
        let inspected = check_signature(&attached, b"PK zip", false).unwrap();
        assert_eq!(inspected.signer_subject.as_deref(), Some("CN=Sandbox Test Signer"));
        let refused = check_signature(&attached, b"PK other", false).unwrap_err();
        assert!(refused.contains("not the content to sign"), "{refused}");
        let detached = cms(b"PK zip", false);
        assert_eq!(check_signature(&detached, b"PK other", false).unwrap().form, Form::Detached);
    }

    #[test]
    fn anything_else_is_not_a_signature() {
        assert!(inspect(b"").is_err());
        assert!(inspect(b"%PDF-1.7").is_err());
        // A ContentInfo of another type: id-data (06 09 2A864886F70D010701) with an OCTET STRING.
        let data = [
            0x30, 0x14, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0,
            0x07, 0x04, 0x05, b'h', b'e', b'l', b'l', b'o',
        ];
        assert!(inspect(&data).unwrap_err().contains("not SignedData"));
    }
}
