//! Throw-away keys with self-signed certificates, made on the fly for tests, the demo and the
//! sandbox's fixtures, so no key is ever committed. Never use them to sign anything real.
//!
//! Certificates: X.509 v3, subject = issuer = `CN=<common name>` (UTF8String), a random
//! 16-octet serial, valid from now for one year, basicConstraints cA=false and keyUsage
//! digitalSignature + nonRepudiation, signed with the key itself (sha256WithRSAEncryption or
//! ecdsa-with-SHA256). Keys come as PKCS#8 PEM (`PRIVATE KEY`).

use std::time::Duration;

use der::asn1::{Any, SetOfVec};
use der::pem::LineEnding;
use der::{Decode, Encode, EncodePem, Tag};
use getrandom::SysRng;
use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
use p256::elliptic_curve::Generate;
use pkcs8::EncodePrivateKey;
use rsa::signature::{Keypair, SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureBitStringEncoding,
    SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use x509_cert::time::Validity;

use crate::error::{Result, SignerError};
use crate::key::PrivateKey;
use crate::pem;

const VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A fresh RSA-2048 key and a self-signed certificate for it: (certificate PEM, PKCS#8 key PEM).
///
/// # Panics
/// Only if the operating system's random number generator fails.
pub fn rsa(common_name: &str) -> (String, String) {
    let key = rsa::PrivateKey::new(&mut SysRng, 2048)
        .expect("RSA key generation needs the OS random number generator");
    let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
    let certificate = self_signed::<_, rsa::pkcs1v15::Signature>(common_name, &key);
    (certificate, key_pem(&key))
}

/// A fresh ECDSA P-256 key and a self-signed certificate for it: (certificate PEM, PKCS#8 key
/// PEM).
///
/// # Panics
/// Only if the operating system's random number generator fails.
pub fn ecdsa_p256(common_name: &str) -> (String, String) {
    let key = p256::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng)
        .expect("P-256 key generation needs the OS random number generator");
    let certificate = self_signed::<_, p256::ecdsa::DerSignature>(common_name, &key);
    (certificate, key_pem(&key))
}

/// Packs a certificate and its key (any PEM form [`crate::SoftwareSigner::from_pem`] reads)
/// into a PKCS#12 file as OpenSSL 3 writes by default: PBES2 (PBKDF2-SHA256, AES-256-CBC)
/// for key and certificate, HMAC-SHA256 MAC.
pub fn pkcs12(certificate_pem: &str, private_key_pem: &str, password: &str) -> Result<Vec<u8>> {
    let certificate = pem::blocks(certificate_pem.as_bytes(), "certificate PEM")?
        .into_iter()
        .find(|block| block.label == "CERTIFICATE")
        .ok_or_else(|| SignerError::new("no \"CERTIFICATE\" block in the certificate PEM"))?;
    let key_der = match PrivateKey::from_pem(private_key_pem.as_bytes())? {
        PrivateKey::Rsa(key) => key.to_pkcs8_der(),
        PrivateKey::EcdsaP256(key) => key.to_pkcs8_der(),
    }
    .map_err(|e| SignerError::caused("cannot encode the key as PKCS#8", e))?;
    let failed = |e: p12_keystore::error::Error| SignerError::caused("cannot write PKCS#12", e);
    let chain = PrivateKeyChain::new(
        Sha256::digest(certificate.der.as_slice()).to_vec(),
        p12_keystore::PrivateKey::from_der(key_der.as_bytes()).map_err(failed)?,
        [p12_keystore::Certificate::from_der(&certificate.der).map_err(failed)?],
    );
    let mut store = KeyStore::new();
    store.add_entry("signbridge test key", KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().map_err(failed)
}

fn self_signed<S, Signature>(common_name: &str, key: &S) -> String
where
    S: Signer<Signature> + Keypair + DynSignatureAlgorithmIdentifier,
    S::VerifyingKey: EncodePublicKey,
    Signature: SignatureBitStringEncoding + SignatureEncoding,
{
    let subject = name(common_name).expect("a UTF8String common name always encodes");
    let spki = SubjectPublicKeyInfoOwned::from_key(&key.verifying_key())
        .expect("a freshly generated public key always encodes");
    let validity = Validity::from_now(VALIDITY).expect("one year from now is a valid time");
    let builder = CertificateBuilder::new(SelfSigned { subject }, serial(), validity, spki)
        .expect("the profile accepts any subject");
    builder
        .build::<S, Signature>(key)
        .and_then(|certificate| Ok(certificate.to_pem(LineEnding::LF)?))
        .expect("a freshly generated key signs and the certificate encodes")
}

fn key_pem(key: &impl EncodePrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).expect("a freshly generated key always encodes").to_string()
}

/// `CN=<common_name>` built from its parts, so commas or plus signs in the name need no
/// RFC 4514 escaping.
fn name(common_name: &str) -> der::Result<Name> {
    let common_name = AttributeTypeAndValue {
        oid: const_oid::db::rfc4519::CN,
        value: Any::new(Tag::Utf8String, common_name.as_bytes())?,
    };
    let rdn = RelativeDistinguishedName::from(SetOfVec::try_from(vec![common_name])?);
    Name::from_der(&RdnSequence::from(vec![rdn]).to_der()?)
}

/// A random 16-octet serial number (RFC 5280: positive, at most 20 octets). Two test
/// certificates with one serial would look like one signer to `verify`.
fn serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("serial numbers need the OS random number generator");
    // Top bit clear keeps it positive; the next bit set keeps the DER INTEGER at 16 octets.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).expect("16 positive bytes are a valid serial number")
}

/// An end-entity certificate signed by its own key, for signing documents.
struct SelfSigned {
    subject: Name,
}

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _subject_key: SubjectPublicKeyInfoRef<'_>,
        _issuer_key: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = Vec::new();
        let constraints = BasicConstraints { ca: false, path_len_constraint: None };
        extensions.push(constraints.to_extension(tbs.subject(), &extensions)?);
        let usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        extensions.push(usage.to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}
