//! The two key types the reference signer supports: RSA (PKCS#1 v1.5 signatures) and ECDSA on
//! P-256, both with SHA-256. Kazakh national (НУЦ РК) GOST keys are out of scope: hosts with
//! those sign through their own crypto provider.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SHA_256_WITH_RSA_ENCRYPTION,
};
use der::Any;
use p256::ecdsa::DerSignature;
use pkcs8::PrivateKeyInfoRef;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::Sha256;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::{Result, SignerError};
use crate::pem;

pub(crate) enum PrivateKey {
    Rsa(rsa::pkcs1v15::SigningKey<Sha256>),
    EcdsaP256(p256::ecdsa::SigningKey),
}

impl PrivateKey {
    /// The one private key in a PEM file: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1). Other blocks (certificates, `EC PARAMETERS`) are skipped.
    pub(crate) fn from_pem(input: &[u8]) -> Result<PrivateKey> {
        let mut keys = Vec::new();
        for block in pem::blocks(input, "private key PEM")? {
            let key = match block.label.as_str() {
                "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der)?,
                "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&block.der)
                    .map(|key| PrivateKey::Rsa(rsa::pkcs1v15::SigningKey::new(key)))
                    .map_err(|e| SignerError::caused("invalid PKCS#1 RSA private key", e))?,
                "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.der)?,
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(SignerError::new(
                        "the private key PEM is encrypted; decrypt it \
                         (`openssl pkey -in key.pem -out plain.pem`) or use a PKCS#12 file",
                    ));
                }
                _ => continue,
            };
            keys.push(key);
        }
        match keys.len() {
            1 => Ok(keys.remove(0)),
            0 => Err(SignerError::new(
                "no private key in the private key PEM (expected a \"PRIVATE KEY\", \
                 \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)",
            )),
            n => Err(SignerError::new(format!(
                "the private key PEM holds {n} private keys; pass exactly one"
            ))),
        }
    }

    /// A PKCS#8 `PrivateKeyInfo`, as in PEM "PRIVATE KEY" blocks and PKCS#12 key bags.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey> {
        let info = PrivateKeyInfoRef::try_from(der)
            .map_err(|e| SignerError::caused("invalid PKCS#8 private key", e))?;
        match info.algorithm.oid {
            RSA_ENCRYPTION => rsa::PrivateKey::from_pkcs8_der(der)
                .map(|key| PrivateKey::Rsa(rsa::pkcs1v15::SigningKey::new(key)))
                .map_err(|e| SignerError::caused("invalid PKCS#8 RSA private key", e)),
            ID_EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().ok();
                require_p256(curve)?;
                p256::SecretKey::from_pkcs8_der(der)
                    .map(|key| PrivateKey::EcdsaP256(key.into()))
                    .map_err(|e| SignerError::caused("invalid PKCS#8 P-256 private key", e))
            }
            other => Err(unsupported_key(other)),
        }
    }

    fn from_sec1_der(der: &[u8]) -> Result<PrivateKey> {
        let parsed = sec1::EcPrivateKey::try_from(der)
            .map_err(|e| SignerError::caused("invalid SEC1 EC private key", e))?;
        // SEC1 keys may omit the curve (it then comes from the context); assume P-256 then.
        if let Some(curve) = parsed.parameters.and_then(|p| p.named_curve()) {
            require_p256(Some(curve))?;
        }
        p256::SecretKey::from_sec1_der(der)
            .map(|key| PrivateKey::EcdsaP256(key.into()))
            .map_err(|e| SignerError::caused("invalid SEC1 P-256 private key", e))
    }

    pub(crate) fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(key) => PublicKey::Rsa(rsa::signature::Keypair::verifying_key(key)),
            PrivateKey::EcdsaP256(key) => PublicKey::EcdsaP256(*key.verifying_key()),
        }
    }

    /// Short name for `Debug` output.
    pub(crate) fn algorithm(&self) -> &'static str {
        match self {
            PrivateKey::Rsa(_) => "RSA",
            PrivateKey::EcdsaP256(_) => "ECDSA P-256",
        }
    }

    /// `SignerInfo.signatureAlgorithm`: sha256WithRSAEncryption with NULL parameters (RFC 4055
    /// requires the NULL), or ecdsa-with-SHA256 with none (RFC 5758).
    pub(crate) fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self {
            PrivateKey::Rsa(_) => AlgorithmIdentifierOwned {
                oid: SHA_256_WITH_RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            },
            PrivateKey::EcdsaP256(_) => {
                AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA_256, parameters: None }
            }
        }
    }

    /// Hashes `message` with SHA-256 and signs it; ECDSA signatures come DER-encoded
    /// (`Ecdsa-Sig-Value`), as CMS wants them.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            PrivateKey::Rsa(key) => key
                .try_sign(message)
                .map(|signature| signature.to_vec())
                .map_err(|e| SignerError::caused("RSA signing failed", e)),
            PrivateKey::EcdsaP256(key) => Signer::<DerSignature>::try_sign(key, message)
                .map(|signature| signature.to_vec())
                .map_err(|e| SignerError::caused("ECDSA signing failed", e)),
        }
    }
}

#[derive(PartialEq)]
pub(crate) enum PublicKey {
    Rsa(rsa::pkcs1v15::VerifyingKey<Sha256>),
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey> {
        let der = der::Encode::to_der(spki)
            .map_err(|e| SignerError::caused("cannot encode the certificate's public key", e))?;
        match spki.algorithm.oid {
            RSA_ENCRYPTION => {
                let key = <rsa::PublicKey as pkcs8::DecodePublicKey>::from_public_key_der(&der)
                    .map_err(|e| {
                        SignerError::caused("invalid RSA public key in the certificate", e)
                    })?;
                Ok(PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            ID_EC_PUBLIC_KEY => {
                let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as().ok());
                require_p256(curve)?;
                let key =
                    <p256::ecdsa::VerifyingKey as pkcs8::DecodePublicKey>::from_public_key_der(
                        &der,
                    )
                    .map_err(|e| {
                        SignerError::caused("invalid P-256 public key in the certificate", e)
                    })?;
                Ok(PublicKey::EcdsaP256(key))
            }
            other => Err(unsupported_key(other)),
        }
    }

    /// Checks `signature` over `message` under the named algorithm, which must fit the key:
    /// RSA takes rsaEncryption (what OpenSSL writes) or sha256WithRSAEncryption, P-256 takes
    /// ecdsa-with-SHA256.
    pub(crate) fn verify(
        &self,
        algorithm: ObjectIdentifier,
        message: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let bad =
            || SignerError::new("the signature does not verify with the signer's certificate");
        match self {
            PublicKey::Rsa(key) => {
                if algorithm != RSA_ENCRYPTION && algorithm != SHA_256_WITH_RSA_ENCRYPTION {
                    return Err(mismatched_algorithm(algorithm, "an RSA"));
                }
                let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| bad())?;
                key.verify(message, &signature).map_err(|_| bad())
            }
            PublicKey::EcdsaP256(key) => {
                if algorithm != ECDSA_WITH_SHA_256 {
                    return Err(mismatched_algorithm(algorithm, "a P-256"));
                }
                let signature = DerSignature::try_from(signature).map_err(|_| bad())?;
                key.verify(message, &signature).map_err(|_| bad())
            }
        }
    }
}

fn require_p256(curve: Option<ObjectIdentifier>) -> Result<()> {
    match curve {
        Some(SECP_256_R_1) => Ok(()),
        Some(other) => Err(SignerError::new(format!(
            "unsupported elliptic curve {other}: only P-256 (secp256r1) is supported"
        ))),
        None => Err(SignerError::new("the EC key does not name its curve (expected P-256)")),
    }
}

fn unsupported_key(oid: ObjectIdentifier) -> SignerError {
    SignerError::new(format!(
        "unsupported key algorithm {oid}: only RSA and ECDSA P-256 are supported \
         (GOST keys need the host's own crypto provider)"
    ))
}

fn mismatched_algorithm(oid: ObjectIdentifier, key: &str) -> SignerError {
    SignerError::new(format!(
        "signature algorithm {oid} is not supported with {key} key \
         (expected PKCS#1 v1.5 or ECDSA, with SHA-256)"
    ))
}
