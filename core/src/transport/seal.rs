//! Sessions shared through the journal are sealed: the journal (a file on disk, and SQLite's
//! pages in memory, which it frees without overwriting) only ever holds a token encrypted with
//! a key derived from the account's own credentials (AES-256-GCM, the account as associated
//! data). Every process configured with those credentials opens it; a journal file copied
//! elsewhere gives no usable token. A session that does not open (the password changed) is
//! treated as none: the next call logs in again.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::Secret;

const VERSION: &str = "v1:";
const NONCE_BYTES: usize = 12;

/// The key sessions of one account are sealed with; wiped on drop.
pub struct SessionKey {
    key: Zeroizing<[u8; 32]>,
    /// Binds a sealed session to its provider and account.
    context: Vec<u8>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

impl SessionKey {
    /// Derives the key from the account's credentials (`secrets`: e.g. the user and the
    /// password), for `provider` and `account`.
    pub fn derive(provider: &str, account: &str, secrets: &[&str]) -> SessionKey {
        let context = format!("signbridge session\0{provider}\0{account}").into_bytes();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"signbridge session key v1")
            .expect("HMAC takes a key of any length");
        for secret in secrets {
            mac.update(&(secret.len() as u64).to_be_bytes());
            mac.update(secret.as_bytes());
        }
        mac.update(&context);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        SessionKey { key, context }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.key))
    }

    /// `token` sealed, as text for the journal; None if the system has no randomness to give.
    pub fn seal(&self, token: &Secret) -> Option<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).ok()?;
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload { msg: token.expose().as_bytes(), aad: &self.context },
            )
            .ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Some(format!("{VERSION}{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// The token inside `sealed`, or None when it does not open with this key.
    pub fn open(&self, sealed: &str) -> Option<Secret> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: &self.context })
                .ok()?,
        );
        std::str::from_utf8(&plain).ok().map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sessions_open_only_with_the_same_credentials_and_account() {
        let key = SessionKey::derive("tae", "rm", &["svc@x", "senha"]);
        let sealed = key.seal(&Secret::new("token-123")).unwrap();
        assert!(sealed.starts_with(VERSION) && !sealed.contains("token-123"));
        assert_eq!(key.open(&sealed).unwrap().expose(), "token-123");
        assert_ne!(key.seal(&Secret::new("token-123")).unwrap(), sealed, "a fresh nonce each time");
        for other in [
            SessionKey::derive("tae", "rm", &["svc@x", "outra"]),
            SessionKey::derive("tae", "other", &["svc@x", "senha"]),
            SessionKey::derive("tae", "rm", &["svc@xsenha"]),
        ] {
            assert!(other.open(&sealed).is_none());
        }
        for broken in ["", "v1:", "v1:!!", "token-123", &sealed[..sealed.len() - 4]] {
            assert!(key.open(broken).is_none(), "{broken}");
        }
        assert_eq!(format!("{key:?}"), "SessionKey(***)");
    }
}
