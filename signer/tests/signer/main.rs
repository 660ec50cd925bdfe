//! Signs with keys made at test time and checks the CMS with `verify`, with the `cms` crate's
//! own parser and, in `openssl.rs`, with the OpenSSL command line.

mod openssl;

use std::sync::OnceLock;

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{
    ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME,
};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_SHA_256, SHA_256_WITH_RSA_ENCRYPTION};
use der::asn1::OctetString;
use der::pem::LineEnding;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use signbridge_signer::{CmsForm, SignerError, SoftwareSigner, testkeys, verify};

/// A stand-in for iDocs' "content to sign" ZIP; distinctive enough to find inside the CMS.
const CONTENT: &[u8] = b"PK\x03\x04 signbridge content-to-sign test bytes \xd0\x94\xd0\xbe\xd0\xba";

/// RSA keys take about a second each in debug builds, so every key is made once per run.
fn rsa_keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| testkeys::rsa("Signbridge RSA Test"))
}

fn other_rsa_keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| testkeys::rsa("Signbridge Other RSA"))
}

fn ecdsa_keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| testkeys::ecdsa_p256("Тестов Тест, ТОО «Пример»"))
}

fn both_keys() -> [(&'static str, &'static (String, String)); 2] {
    [("RSA", rsa_keys()), ("ECDSA", ecdsa_keys())]
}

fn signer(keys: &(String, String)) -> SoftwareSigner {
    SoftwareSigner::from_pem(keys.0.as_bytes(), keys.1.as_bytes()).unwrap()
}

fn flip_byte_inside(haystack: &[u8], needle: &[u8], offset: usize) -> Vec<u8> {
    let at = haystack.windows(needle.len()).position(|w| w == needle).expect("needle present");
    let mut changed = haystack.to_vec();
    changed[at + offset] ^= 0x01;
    changed
}

fn assert_error_mentions(result: Result<impl std::fmt::Debug, SignerError>, expected: &str) {
    let error = result.expect_err("expected an error");
    assert!(error.to_string().contains(expected), "{error:?} should mention {expected:?}");
}

#[test]
fn attached_signatures_verify_and_carry_the_content() {
    for (kind, keys) in both_keys() {
        let signer = signer(keys);
        let cms = signer.sign(CONTENT, CmsForm::Attached).unwrap();
        let verified = verify(&cms, None).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(verified.attached_content.as_deref(), Some(CONTENT), "{kind}");
        assert_eq!(verified.certificate_der, signer.certificate_der(), "{kind}");
        // Passing the expected content as well is accepted when it matches.
        assert_eq!(verify(&cms, Some(CONTENT)).unwrap(), verified, "{kind}");
    }
}

#[test]
fn detached_signatures_verify_against_the_content() {
    for (kind, keys) in both_keys() {
        let cms = signer(keys).sign(CONTENT, CmsForm::Detached).unwrap();
        let verified = verify(&cms, Some(CONTENT)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(verified.attached_content, None, "{kind}");
        assert!(!cms.windows(CONTENT.len()).any(|w| w == CONTENT), "{kind}: content leaked in");
        assert_error_mentions(verify(&cms, None), "pass the signed content");
    }
}

#[test]
fn the_signer_subject_is_reported_in_rfc4514_form() {
    assert_eq!(verify_attached(rsa_keys()).signer_subject, "CN=Signbridge RSA Test");
    // Non-ASCII survives; the comma inside the common name is escaped.
    assert_eq!(verify_attached(ecdsa_keys()).signer_subject, "CN=Тестов Тест\\, ТОО «Пример»");
}

fn verify_attached(keys: &(String, String)) -> signbridge_signer::Verified {
    verify(&signer(keys).sign(CONTENT, CmsForm::Attached).unwrap(), None).unwrap()
}

#[test]
fn empty_content_signs_and_verifies() {
    let signer = signer(ecdsa_keys());
    let attached = signer.sign(b"", CmsForm::Attached).unwrap();
    assert_eq!(verify(&attached, None).unwrap().attached_content.as_deref(), Some(&b""[..]));
    let detached = signer.sign(b"", CmsForm::Detached).unwrap();
    assert!(verify(&detached, Some(b"")).is_ok());
}

#[test]
fn tampered_attached_content_is_rejected() {
    for (kind, keys) in both_keys() {
        let cms = signer(keys).sign(CONTENT, CmsForm::Attached).unwrap();
        let tampered = flip_byte_inside(&cms, CONTENT, 10);
        let error = verify(&tampered, None).unwrap_err().to_string();
        assert!(error.contains("messageDigest attribute does not match"), "{kind}: {error}");
    }
}

#[test]
fn wrong_detached_content_is_rejected() {
    for (kind, keys) in both_keys() {
        let cms = signer(keys).sign(CONTENT, CmsForm::Detached).unwrap();
        let error = verify(&cms, Some(b"other bytes")).unwrap_err().to_string();
        assert!(error.contains("messageDigest attribute does not match"), "{kind}: {error}");
    }
}

#[test]
fn attached_content_must_equal_the_expected_content_when_given() {
    let cms = signer(ecdsa_keys()).sign(CONTENT, CmsForm::Attached).unwrap();
    assert_error_mentions(verify(&cms, Some(b"other bytes")), "differs from the expected content");
}

#[test]
fn a_flipped_signature_byte_is_rejected() {
    for (kind, keys) in both_keys() {
        let cms = signer(keys).sign(CONTENT, CmsForm::Attached).unwrap();
        let signature = parse(&cms).signer_infos.0.get(0).unwrap().signature.as_bytes().to_vec();
        // The last byte: for ECDSA that is inside `s`, so the DER framing stays intact.
        let tampered = flip_byte_inside(&cms, &signature, signature.len() - 1);
        let error = verify(&tampered, None).unwrap_err().to_string();
        assert!(error.contains("signature does not verify"), "{kind}: {error}");
    }
}

#[test]
fn malformed_input_is_rejected_with_a_message() {
    assert_error_mentions(verify(b"", None), "not a CMS ContentInfo");
    assert_error_mentions(verify(b"definitely not DER", None), "not a CMS ContentInfo");
    let cms = signer(ecdsa_keys()).sign(CONTENT, CmsForm::Attached).unwrap();
    assert_error_mentions(verify(&cms[..cms.len() - 1], None), "not a CMS ContentInfo");
    // A ContentInfo of another type (plain id-data).
    let data = ContentInfo {
        content_type: ID_DATA,
        content: der::Any::encode_from(&OctetString::new(CONTENT).unwrap()).unwrap(),
    };
    assert_error_mentions(verify(&data.to_der().unwrap(), None), "not SignedData");
}

/// Re-encodes `cms` after `change` edits its SignedData (outside the signed attributes).
fn edited(cms: &[u8], change: impl FnOnce(&mut SignedData)) -> Vec<u8> {
    let mut signed_data = parse(cms);
    change(&mut signed_data);
    let content = der::Any::encode_from(&signed_data).unwrap();
    ContentInfo { content_type: ID_SIGNED_DATA, content }.to_der().unwrap()
}

#[test]
fn a_cms_without_the_signer_certificate_or_signer_is_rejected() {
    let cms = signer(rsa_keys()).sign(CONTENT, CmsForm::Attached).unwrap();
    let without_certificates = edited(&cms, |signed_data| signed_data.certificates = None);
    assert_error_mentions(
        verify(&without_certificates, None),
        "does not include the signer's certificate",
    );
    // Another certificate in place of the signer's does not help either.
    let other = signer(other_rsa_keys()).sign(CONTENT, CmsForm::Attached).unwrap();
    let swapped = edited(&cms, |signed_data| signed_data.certificates = parse(&other).certificates);
    assert_error_mentions(verify(&swapped, None), "does not include the signer's certificate");
    let without_signers = edited(&cms, |signed_data| {
        signed_data.signer_infos = cms::signed_data::SignerInfos::try_from(vec![]).unwrap()
    });
    assert_error_mentions(verify(&without_signers, None), "no SignerInfo");
}

#[test]
fn the_signer_can_be_shared_across_threads() {
    // Core keeps host signers as `Arc<dyn HostSigner>`, which must be `Send + Sync`.
    fn shareable<T: Send + Sync>() {}
    shareable::<SoftwareSigner>();
}

fn parse(cms: &[u8]) -> SignedData {
    // Strict DER: the output must be canonical, not merely BER.
    let content_info = ContentInfo::from_der(cms).unwrap();
    assert_eq!(content_info.content_type, ID_SIGNED_DATA);
    assert_eq!(content_info.to_der().unwrap(), cms, "re-encoding changes the CMS: not DER");
    content_info.content.decode_as::<SignedData>().unwrap()
}

#[test]
fn the_output_is_the_documented_signed_data() {
    for (keys, algorithm) in
        [(rsa_keys(), SHA_256_WITH_RSA_ENCRYPTION), (ecdsa_keys(), ECDSA_WITH_SHA_256)]
    {
        let signer = signer(keys);
        for form in [CmsForm::Attached, CmsForm::Detached] {
            let signed_data = parse(&signer.sign(CONTENT, form).unwrap());
            assert_eq!(signed_data.version, CmsVersion::V1);
            let digests: Vec<ObjectIdentifier> =
                signed_data.digest_algorithms.iter().map(|a| a.oid).collect();
            assert_eq!(digests, [ID_SHA_256]);
            let encapsulated = &signed_data.encap_content_info;
            assert_eq!(encapsulated.econtent_type, ID_DATA);
            match form {
                CmsForm::Attached => {
                    let econtent = encapsulated.econtent.as_ref().expect("eContent when attached");
                    assert_eq!(econtent.decode_as::<OctetString>().unwrap().as_bytes(), CONTENT);
                }
                CmsForm::Detached => assert!(encapsulated.econtent.is_none()),
            }
            let certificates = signed_data.certificates.as_ref().unwrap();
            let included: Vec<Vec<u8>> = certificates
                .0
                .iter()
                .map(|choice| match choice {
                    CertificateChoices::Certificate(c) => c.to_der().unwrap(),
                    CertificateChoices::Other(_) => panic!("unexpected certificate format"),
                })
                .collect();
            assert_eq!(included, [signer.certificate_der().to_vec()]);

            let signer_infos: Vec<_> = signed_data.signer_infos.0.iter().collect();
            assert_eq!(signer_infos.len(), 1);
            let info = signer_infos[0];
            assert_eq!(info.version, CmsVersion::V1);
            assert_eq!(info.digest_alg.oid, ID_SHA_256);
            assert_eq!(info.signature_algorithm.oid, algorithm);
            let attributes = info.signed_attrs.as_ref().unwrap();
            let value = |oid| {
                let attribute = attributes.iter().find(|a| a.oid == oid).unwrap();
                attribute.values.iter().next().unwrap().clone()
            };
            assert_eq!(attributes.len(), 3);
            assert_eq!(value(ID_CONTENT_TYPE).decode_as::<ObjectIdentifier>().unwrap(), ID_DATA);
            let digest = value(ID_MESSAGE_DIGEST).decode_as::<OctetString>().unwrap();
            assert_eq!(digest.as_bytes(), Sha256::digest(CONTENT).as_slice());
            let signing_time = value(ID_SIGNING_TIME).decode_as::<der::asn1::UtcTime>().unwrap();
            let age =
                std::time::SystemTime::now().duration_since(signing_time.to_system_time()).unwrap();
            assert!(age.as_secs() < 600, "signingTime is {age:?} old");
        }
    }
}

#[test]
fn chain_certificates_from_the_pem_are_included() {
    let (certificate, key) = rsa_keys();
    let bundle = format!("{certificate}{}", ecdsa_keys().0);
    let signer = SoftwareSigner::from_pem(bundle.as_bytes(), key.as_bytes()).unwrap();
    let cms = signer.sign(CONTENT, CmsForm::Attached).unwrap();
    assert_eq!(parse(&cms).certificates.unwrap().0.len(), 2);
    // The signer is still the first certificate of the bundle.
    assert_eq!(verify(&cms, None).unwrap().signer_subject, "CN=Signbridge RSA Test");
}

#[test]
fn pkcs8_pkcs1_and_sec1_keys_load() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let (rsa_certificate, rsa_pkcs8) = rsa_keys();
    let rsa_pkcs1 = rsa::PrivateKey::from_pkcs8_pem(rsa_pkcs8)
        .unwrap()
        .to_pkcs1_pem(LineEnding::LF)
        .unwrap()
        .to_string();
    assert!(rsa_pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));

    let (ec_certificate, ec_pkcs8) = ecdsa_keys();
    let ec_sec1 = p256::SecretKey::from_pkcs8_pem(ec_pkcs8)
        .unwrap()
        .to_sec1_pem(LineEnding::LF)
        .unwrap()
        .to_string();
    assert!(ec_sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    // `openssl ecparam -genkey` writes the curve first; that block is skipped.
    let ec_with_parameters = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{ec_sec1}"
    );

    for (certificate, key) in [
        (rsa_certificate, rsa_pkcs8),
        (rsa_certificate, &rsa_pkcs1),
        (ec_certificate, ec_pkcs8),
        (ec_certificate, &ec_sec1),
        (ec_certificate, &ec_with_parameters),
    ] {
        let signer = SoftwareSigner::from_pem(certificate.as_bytes(), key.as_bytes())
            .unwrap_or_else(|e| panic!("{e}\n{}", key.lines().next().unwrap()));
        assert!(verify(&signer.sign(CONTENT, CmsForm::Detached).unwrap(), Some(CONTENT)).is_ok());
    }
}

#[test]
fn one_file_with_certificate_and_key_serves_as_both() {
    let (certificate, key) = ecdsa_keys();
    let combined = format!("subject=CN = whoever\n{certificate}\n{key}");
    let signer = SoftwareSigner::from_pem(combined.as_bytes(), combined.as_bytes()).unwrap();
    assert!(verify(&signer.sign(CONTENT, CmsForm::Attached).unwrap(), None).is_ok());
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    for (certificate, key) in [
        (&rsa_keys().0, &other_rsa_keys().1),
        (&rsa_keys().0, &ecdsa_keys().1),
        (&ecdsa_keys().0, &rsa_keys().1),
    ] {
        assert_error_mentions(
            SoftwareSigner::from_pem(certificate.as_bytes(), key.as_bytes()),
            "does not belong to the private key",
        );
    }
}

#[test]
fn bad_pem_inputs_are_refused_with_a_message() {
    let (certificate, key) = ecdsa_keys();
    assert_error_mentions(
        SoftwareSigner::from_pem(b"no pem here", key.as_bytes()),
        "no \"CERTIFICATE\" block",
    );
    assert_error_mentions(
        SoftwareSigner::from_pem(certificate.as_bytes(), certificate.as_bytes()),
        "no private key",
    );
    let two_keys = format!("{key}{}", rsa_keys().1);
    assert_error_mentions(
        SoftwareSigner::from_pem(certificate.as_bytes(), two_keys.as_bytes()),
        "holds 2 private keys",
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_error_mentions(
        SoftwareSigner::from_pem(certificate.as_bytes(), encrypted.as_bytes()),
        "encrypted",
    );
}

#[test]
fn unsupported_key_algorithms_are_named() {
    // A PKCS#8 key labelled GOST R 34.10-2012 (256-bit), as НУЦ РК keys are: random bytes
    // under the algorithm OID are enough to reach the algorithm check.
    let oid = ObjectIdentifier::new_unwrap("1.2.643.7.1.1.1.1");
    let secret = [7u8; 32];
    let info = pkcs8::PrivateKeyInfoRef::new(
        pkcs8::AlgorithmIdentifierRef { oid, parameters: None },
        der::asn1::OctetStringRef::new(&secret).unwrap(),
    );
    let pem =
        der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &info.to_der().unwrap()).unwrap();
    assert_error_mentions(
        SoftwareSigner::from_pem(rsa_keys().0.as_bytes(), pem.as_bytes()),
        "unsupported key algorithm 1.2.643.7.1.1.1.1",
    );
}

#[test]
fn pkcs12_round_trips() {
    for (kind, (certificate, key)) in both_keys() {
        let p12 = testkeys::pkcs12(certificate, key, "correct horse").unwrap();
        let from_p12 = SoftwareSigner::from_pkcs12(&p12, "correct horse")
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let from_pem = signer(&(certificate.clone(), key.clone()));
        assert_eq!(from_p12.certificate_der(), from_pem.certificate_der(), "{kind}");
        let cms = from_p12.sign(CONTENT, CmsForm::Attached).unwrap();
        assert_eq!(verify(&cms, None).unwrap().certificate_der, from_pem.certificate_der());
    }
}

#[test]
fn a_wrong_pkcs12_password_is_refused() {
    let (certificate, key) = ecdsa_keys();
    let p12 = testkeys::pkcs12(certificate, key, "correct horse").unwrap();
    assert_error_mentions(SoftwareSigner::from_pkcs12(&p12, "battery staple"), "wrong password");
    assert_error_mentions(SoftwareSigner::from_pkcs12(b"not a p12", "x"), "PKCS#12");
}

/// Each base64 line of a PEM key; no error or `Debug` output may contain any of them.
fn key_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|line| !line.starts_with("-----") && line.len() > 16).collect()
}

#[test]
fn errors_and_debug_output_never_show_the_key_or_password() {
    let password = "s3cret-Пароль";
    let (certificate, key) = rsa_keys();
    let p12 = testkeys::pkcs12(certificate, key, password).unwrap();
    let mut damaged_key = key.replace('A', "!");
    damaged_key
        .push_str("\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n");
    let messages = [
        SoftwareSigner::from_pkcs12(&p12, "wrong").unwrap_err().to_string(),
        SoftwareSigner::from_pkcs12(&p12[..p12.len() / 2], password).unwrap_err().to_string(),
        SoftwareSigner::from_pem(certificate.as_bytes(), damaged_key.as_bytes())
            .unwrap_err()
            .to_string(),
        SoftwareSigner::from_pem(ecdsa_keys().0.as_bytes(), key.as_bytes())
            .unwrap_err()
            .to_string(),
        format!("{:?}", SoftwareSigner::from_pkcs12(&p12, password).unwrap()),
        format!("{:?}", signer(rsa_keys())),
    ];
    for message in &messages {
        assert!(!message.contains(password), "{message}");
        assert!(!message.contains("Пароль"), "{message}");
        for line in key_lines(key).into_iter().chain(key_lines(&damaged_key)) {
            assert!(!message.contains(line), "{message} shows key material");
        }
    }
    assert!(messages[4].contains("RSA") && messages[4].contains("CN=Signbridge RSA Test"));
}
