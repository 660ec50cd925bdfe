//! Comparing what a sender presents with the configured secrets, in constant time.
//!
//! Both sides are hashed to SHA-256 first, so neither the length nor the first differing byte
//! of a secret shows in the time taken (`sintegre.md` §7: "Hash both sides to fixed-length
//! digests first so that length does not leak, then compare with a constant-time equality").
//! Every configured secret is compared, without stopping at a match.

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq as _};

use crate::transport::Secret;

/// Whether `given` equals `expected`, in time independent of both.
pub(crate) fn equal(given: &[u8], expected: &[u8]) -> Choice {
    Sha256::digest(given).ct_eq(&Sha256::digest(expected))
}

/// Whether `given` equals any of `secrets` (all are compared).
pub(crate) fn any(given: &[u8], secrets: &[Secret]) -> bool {
    let mut found = Choice::from(0);
    for secret in secrets {
        found |= equal(given, secret.expose().as_bytes());
    }
    found.into()
}

/// The user and password of a `Basic` authorization (RFC 7617: split at the first colon).
pub(crate) fn basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Whether `signature` (base64, or hex, of the raw 32-byte HMAC-SHA256 of `body`) was made
/// with one of `keys`.
pub(crate) fn hmac_any(signature: &str, body: &[u8], keys: &[Secret]) -> bool {
    let signature = signature.trim();
    let Some(given) = decode_digest(signature) else {
        return false;
    };
    let mut found = Choice::from(0);
    for key in keys {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) else {
            continue;
        };
        mac.update(body);
        found |= mac.finalize().into_bytes().as_slice().ct_eq(&given);
    }
    found.into()
}

/// A 32-byte digest written as base64 (44 characters) or hex (64): the two never overlap.
fn decode_digest(text: &str) -> Option<Vec<u8>> {
    let bytes = if text.len() == 64 {
        (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()?
    };
    (bytes.len() == 32).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_splits_at_the_first_colon() {
        let header =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ons:a:b"));
        assert_eq!(basic(&header), Some(("ons".into(), "a:b".into())));
        assert_eq!(basic("basic b25zOng="), Some(("ons".into(), "x".into())));
        assert_eq!(basic("Bearer b25zOng="), None);
        assert_eq!(basic("Basic !!"), None);
    }

    #[test]
    fn any_of_several_secrets() {
        let secrets = [Secret::new("old"), Secret::new("new")];
        assert!(any(b"new", &secrets) && any(b"old", &secrets));
        assert!(!any(b"ne", &secrets) && !any(b"", &secrets) && !any(b"x", &[]));
    }

    #[test]
    fn hmac_in_base64_or_hex() {
        let keys = [Secret::new("k1"), Secret::new("k2")];
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k2").unwrap();
        mac.update(b"{}");
        let raw = mac.finalize().into_bytes();
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        assert!(hmac_any(&b64, b"{}", &keys));
        assert!(hmac_any(&crate::webhooks::hex(&raw), b"{}", &keys));
        assert!(!hmac_any(&b64, b"{ }", &keys), "another body");
        assert!(!hmac_any(&b64, b"{}", &keys[..1]), "another key");
        assert!(!hmac_any("", b"{}", &keys) && !hmac_any("zz", b"{}", &keys));
    }
}
