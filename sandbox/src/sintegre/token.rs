//! The HS256 token in each notification's `url` (contract §1.7): minted at send time, valid
//! from `nbf` to `exp`, naming the underlying file in its `URL` claim. The simulator signs with
//! a key of its own, as ONS does, so a receiver can decode it but not verify it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// §1.7: `{"typ":"JWT","alg":"HS256"}`, in that order.
const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;
/// §1.7: `iss` and `aud` are constant.
pub(crate) const ISSUER: &str = "http://local.ons.org.br";

/// The claims, with the exact names of §1.7 (`IsFile` is a string, not a boolean).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(rename = "URL")]
    pub url: String,
    pub username: String,
    #[serde(rename = "nomeProduto")]
    pub nome_produto: String,
    #[serde(rename = "IsFile")]
    pub is_file: String,
    pub iss: String,
    pub aud: String,
    pub nbf: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not three base64url parts of JSON, or a signature that is not ours.
    Invalid,
    NotYetValid,
    Expired,
}

pub(crate) fn mint(claims: &Claims, key: &[u8]) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(sign(signing_input.as_bytes(), key));
    format!("{signing_input}.{signature}")
}

/// The claims of `token` if we signed it and `now` (Unix seconds) is within `nbf..exp`.
pub(crate) fn verify(token: &str, key: &[u8], now: i64) -> Result<Claims, Refused> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Refused::Invalid)?;
    let (_, payload) = signing_input.split_once('.').ok_or(Refused::Invalid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Refused::Invalid)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| Refused::Invalid)?;
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature).map_err(|_| Refused::Invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Refused::Invalid)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| Refused::Invalid)?;
    if now < claims.nbf {
        return Err(Refused::NotYetValid);
    }
    if now >= claims.exp {
        return Err(Refused::Expired);
    }
    Ok(claims)
}

fn sign(input: &[u8], key: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(nbf: i64) -> Claims {
        Claims {
            url: "https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO-20-02-2025.pdf".into(),
            username: "agente@signbridge.test".into(),
            nome_produto: "IPDO".into(),
            is_file: "True".into(),
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            nbf,
            exp: nbf + 86_640,
        }
    }

    #[test]
    fn a_token_has_the_contract_header_and_claim_names() {
        let token = mint(&claims(1_740_142_253), b"k");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[0]).unwrap(), HEADER.as_bytes());
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        for name in ["URL", "username", "nomeProduto", "IsFile", "iss", "aud", "nbf", "exp"] {
            assert!(payload.get(name).is_some(), "{name} missing in {payload}");
        }
        assert_eq!(payload["IsFile"], "True", "a string, as §1.7 says");
        assert_eq!(payload["exp"].as_i64().unwrap() - payload["nbf"].as_i64().unwrap(), 86_640);
    }

    #[test]
    fn tokens_verify_only_with_our_key_and_within_their_lifetime() {
        let token = mint(&claims(1000), b"key");
        assert_eq!(verify(&token, b"key", 1000).unwrap(), claims(1000));
        assert_eq!(verify(&token, b"key", 999), Err(Refused::NotYetValid));
        assert_eq!(verify(&token, b"key", 1000 + 86_639).map(|c| c.nbf), Ok(1000));
        assert_eq!(verify(&token, b"key", 1000 + 86_640), Err(Refused::Expired));
        assert_eq!(verify(&token, b"other", 1000), Err(Refused::Invalid));
        let tampered = token.replacen('.', ".e30", 1);
        assert_eq!(verify(&tampered, b"key", 1000), Err(Refused::Invalid));
        assert_eq!(verify("not-a-token", b"key", 1000), Err(Refused::Invalid));
    }
}
